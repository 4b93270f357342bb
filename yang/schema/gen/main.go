// Command gen writes yang/schema/compiled.go, the compiled form of the
// embedded YANG modules (run by `go generate ./yang/schema`).
package main

import (
	"fmt"
	"os"

	"vpnos/yang/modules"
	"vpnos/yang/schema"
)

func main() {
	s, err := schema.LoadFS(modules.FS)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	src, err := schema.Generate(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile("compiled.go", src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
