package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"time"

	"vpnos/cli/proto"
	"vpnos/cli/script"
	"vpnos/cli/term"
)

func cmdCLI(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var c commonFlags
	var command, socket, user, via *string
	var echo *bool
	if !c.parse("cli", args, stderr, func(fs *flag.FlagSet) {
		command = fs.String("c", "", "commands to run, separated by ';'")
		socket = fs.String("socket", "", "management socket (default <state-dir>/mgmt.sock)")
		user = fs.String("user", "admin", "user name recorded for this session")
		via = fs.String("via", "", "how the user came in (ssh: the SSH server runs the CLI)")
		echo = fs.Bool("echo", false, "print each command after its prompt, as a terminal log")
	}) {
		return 2
	}
	interactive := *command == "" && isTerminal(stdin)
	if *via == "ssh" {
		// A crash must not show the client the program's insides.
		debug.SetTraceback("none")
	}
	var tty *term.Terminal
	if interactive {
		// Raw mode first: a key typed while the daemon is reached stays a
		// key (Ctrl+C, Ctrl+\ would otherwise kill the session).
		t, err := term.Open(stdin.(*os.File), stdout)
		if err != nil {
			fmt.Fprintln(stderr, "vpnos cli:", err)
			return 1
		}
		tty = t
		defer tty.Close()
	}
	path := *socket
	if path == "" {
		s, ok := c.settings("cli", stderr)
		if !ok {
			if tty != nil {
				tty.Close()
			}
			return 1
		}
		path = s.SocketPath()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	source := "script"
	switch {
	case *via == "ssh":
		source = "ssh"
	case interactive:
		source = "console"
	}
	// An SSH server names the client's address in SSH_CLIENT ("addr port
	// port"), for display users.
	var remote string
	if source == "ssh" {
		if f := strings.Fields(os.Getenv("SSH_CLIENT")); len(f) > 0 {
			remote = f[0]
		}
	}
	cl, open, err := proto.Dial(ctx, path, proto.Request{User: *user, Interactive: interactive, Source: source, Remote: remote})
	if err != nil {
		if tty != nil {
			tty.Close()
		}
		fmt.Fprintln(stderr, "Error: The routing daemon does not answer:", err)
		fmt.Fprintln(stderr, "Info: It may still be starting (it waits for the CLAB_INTFS links); its log tells why otherwise (docker logs NODE).")
		return 1
	}
	defer cl.Close()
	if open.Output != "" {
		fmt.Fprint(stdout, open.Output)
	}
	if open.Exit {
		return 1
	}
	if interactive {
		return runInteractive(tty, cl, open, stderr)
	}
	var lines []string
	if *command != "" {
		lines = script.SplitCommands(*command)
	} else {
		if lines, err = script.ReadLines(stdin); err != nil {
			fmt.Fprintln(stderr, "vpnos cli:", err)
			return 1
		}
	}
	// Ctrl+C stops the running command (ping), as on the router.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		for range sigs {
			_ = cl.Interrupt()
		}
	}()
	failed, err := script.Run(cl, open.Prompt, lines, stdout, script.Options{Echo: *echo || (*command == "" && len(lines) > 1)})
	if err != nil {
		fmt.Fprintln(stderr, "vpnos cli:", err)
		return 1
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// isTerminalOut tells whether w is a terminal.
func isTerminalOut(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// cmdHealth opens and closes a session: the daemon is healthy when its
// management socket answers.
func cmdHealth(args []string, stderr io.Writer) int {
	var c commonFlags
	if !c.parse("health", args, stderr, nil) {
		return 2
	}
	s, ok := c.settings("health", stderr)
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl, _, err := proto.Dial(ctx, s.SocketPath(), proto.Request{User: "health", Source: "health"})
	if err != nil {
		fmt.Fprintln(stderr, "vpnos health:", err)
		return 1
	}
	cl.Close()
	return 0
}
