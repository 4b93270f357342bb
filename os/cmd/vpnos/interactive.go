package main

import (
	"fmt"
	"io"

	"vpnos/cli/proto"
	"vpnos/cli/term"
	"vpnos/os/mgmt"
)

// runInteractive runs the interactive front end (cli/term) on the terminal.
func runInteractive(tty *term.Terminal, cl *mgmt.Client, open proto.Response, stderr io.Writer) int {
	if err := tty.Run(cl, open); err != nil {
		fmt.Fprintln(stderr, "\nvpnos cli:", err)
		return 1
	}
	return 0
}
