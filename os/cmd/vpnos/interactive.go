package main

import (
	"fmt"
	"io"

	"vpnos/cli/proto"
	"vpnos/cli/term"
)

// runInteractive runs the go-prompt front end (cli/term) on the terminal.
func runInteractive(cl *proto.Client, open proto.Response, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := term.Run(cl, open); err != nil {
		fmt.Fprintln(stderr, "\nvpnos cli:", err)
		return 1
	}
	return 0
}
