package main

import (
	"fmt"
	"io"
)

func cmdLab(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "vpnos lab: the lab runner is not part of this build yet")
	return 2
}
