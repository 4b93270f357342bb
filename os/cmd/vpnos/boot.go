package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"vpnos/os/daemon"
	"vpnos/os/supervisor"
)

func cmdBoot(args []string, stderr io.Writer) int {
	var c commonFlags
	if !c.parse("boot", args, stderr, nil) {
		return 2
	}
	log := newLogger(stderr, os.Getenv("VPNOS_LOG_LEVEL")).With("proc", "boot")
	// One supervisor per root: a second one would start a second daemon.
	if s, ok := c.settings("boot", stderr); ok {
		release, err := daemon.LockState(s.StateDir, "boot.lock")
		if err != nil {
			fmt.Fprintln(stderr, "vpnos boot: another vpnos boot runs on this root:", err)
			return 1
		}
		defer release()
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "vpnos boot:", err)
		return 1
	}
	// Stop on SIGTERM/SIGINT is handled inside the supervisor: it forwards
	// the signal to the daemon, waits, then returns.
	_ = supervisor.Run(context.Background(), supervisor.Config{
		Path: self,
		Args: append([]string{"daemon"}, c.args()...),
		Env:  os.Environ(),
		Log:  log,
	})
	return 0
}

func cmdDaemon(args []string, stderr io.Writer) int {
	var c commonFlags
	if !c.parse("daemon", args, stderr, nil) {
		return 2
	}
	s, ok := c.settings("daemon", stderr)
	if !ok {
		return 1
	}
	log := newLogger(stderr, s.LogLevel).With("proc", "daemon")
	d, err := daemon.New(s, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	ctx, cancel := signalContext()
	defer cancel()
	if err := d.Run(ctx); err != nil {
		log.Error("daemon failed", "err", err)
		return 1
	}
	log.Info("daemon stopped")
	return 0
}
