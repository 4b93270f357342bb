// Command vpnos is the whole network OS in one static binary:
//
//	vpnos boot      PID 1 of the image: supervises the daemon
//	vpnos daemon    the routing daemon
//	vpnos cli       a CLI session (-c "cmd; cmd", or commands on stdin)
//	vpnos lab ...   runs containerlab topology files
//	vpnos version   prints the version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"vpnos/os/settings"
	"vpnos/os/version"
)

func main() {
	args := os.Args[1:]
	// Installed as `cli` (a link to vpnos in the image): docker exec NODE cli.
	if filepath.Base(os.Args[0]) == "cli" {
		args = append([]string{"cli"}, args...)
	}
	os.Exit(run(args, os.Stdin, os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: vpnos <command> [flags]

commands:
  boot      run as PID 1: supervise the routing daemon
  daemon    run the routing daemon
  cli       open a CLI session (-c "cmd; cmd", or commands on stdin)
  lab       run containerlab topology files (vpnos lab help)
  health    exit 0 when the daemon answers on its socket (image HEALTHCHECK)
  version   print the version
`)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "boot":
		return cmdBoot(rest, stderr)
	case "daemon":
		return cmdDaemon(rest, stderr)
	case "cli":
		return cmdCLI(rest, stdin, stdout, stderr)
	case "lab":
		return cmdLab(rest, stdin, stdout, stderr)
	case "health":
		return cmdHealth(rest, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "vpnos %s (revision %s)\n", version.Version, version.Revision())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "vpnos: unknown command %q\n", cmd)
	usage(stderr)
	return 2
}

// commonFlags are shared by boot, daemon and cli.
type commonFlags struct {
	root      string
	configDir string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.root, "root", os.Getenv("VPNOS_ROOT"), "prefix for every default path (run many daemons side by side)")
	fs.StringVar(&c.configDir, "config-dir", "", "directory of vpnos.yaml and startup.cfg (default <root>/etc/vpnos)")
}

func (c *commonFlags) args() []string {
	var a []string
	if c.root != "" {
		a = append(a, "--root", c.root)
	}
	if c.configDir != "" {
		a = append(a, "--config-dir", c.configDir)
	}
	return a
}

// parse parses a subcommand's flags: the shared ones, plus those extra
// registers. ok is false after a usage error (exit status 2).
func (c *commonFlags) parse(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) bool {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	if extra != nil {
		extra(fs)
	}
	return fs.Parse(args) == nil
}

// settings loads the daemon settings these flags point at; errors are
// printed as "vpnos NAME: ...".
func (c *commonFlags) settings(name string, stderr io.Writer) (*settings.Settings, bool) {
	s, err := settings.Load(settings.Options{Root: c.root, ConfigDir: c.configDir})
	if err != nil {
		fmt.Fprintf(stderr, "vpnos %s: %v\n", name, err)
		return nil, false
	}
	return s, true
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
