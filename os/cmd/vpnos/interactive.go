package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"vpnos/cli/proto"
	"vpnos/os/mgmt"
)

// runInteractive is a plain line-mode terminal session; the go-prompt front
// end (with ? and Tab) replaces it.
func runInteractive(cl *mgmt.Client, open proto.Response, stdin io.Reader, stdout, stderr io.Writer) int {
	prompt := open.Prompt
	r := bufio.NewReader(stdin)
	for {
		fmt.Fprint(stdout, prompt)
		line, err := r.ReadString('\n')
		if err != nil {
			return 0
		}
		resp, err := cl.Do(proto.Request{Op: proto.OpExec, Line: strings.TrimRight(line, "\r\n")})
		if err != nil {
			fmt.Fprintln(stderr, "vpnos cli:", err)
			return 1
		}
		fmt.Fprint(stdout, resp.Output)
		if resp.Exit {
			return 0
		}
		prompt = resp.Prompt
	}
}
