package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"vpnos/os/daemon"
	"vpnos/os/settings"
	"vpnos/os/supervisor"
)

func cmdBoot(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("boot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := newLogger(stderr, os.Getenv("VPNOS_LOG_LEVEL")).With("proc", "boot")
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
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s, err := settings.Load(settings.Options{Root: c.root, ConfigDir: c.configDir})
	if err != nil {
		fmt.Fprintln(stderr, "vpnos daemon:", err)
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
