package main

import (
	"fmt"
	"io"

	"vpnos/cli/proto"
	"vpnos/cli/term"
)

// runInteractive runs the interactive front end (cli/term) on the terminal.
func runInteractive(tty *term.Terminal, cl *proto.Client, open proto.Response, stderr io.Writer) int {
	if err := tty.Run(cl, open); err != nil {
		fmt.Fprintln(stderr, "\nvpnos cli:", err)
		return 1
	}
	return 0
}
