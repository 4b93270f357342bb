// pause is the reference container for the image benchmarks: a static
// process that waits for a signal. `pause true` exits at once, so it can
// stand in for `cli` when timing docker exec.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "true" {
		return
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
