package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"vpnos/lab/runner"
	"vpnos/lab/topology"
	"vpnos/os/settings"
)

const labUsage = `usage: vpnos lab <command> [flags] FILE.clab.yml [args]

Runs containerlab topology files (kind linux nodes, veth links).

commands:
  up FILE                 bring the lab up; waits until every node's CLI answers
  down FILE               remove everything up created (also after a failed up)
  inspect FILE            nodes, state, management address and links
  cli FILE NODE           open NODE's CLI
  exec FILE NODE CMD...   run CLI command(s) on NODE ("cmd; cmd") and print the output
  generate l3vpn DIR      write a generated L3VPN lab into DIR (vpnos lab generate -h)

flags:
  --runtime netns|docker  (up) netns: a network namespace and a vpnos process per
                          node, no Docker needed (default); docker: containers
                          clab-LAB-NODE from the node image
  --workdir DIR           parent of the lab folders (default /run/vpnos/lab)
  --timeout D             (up) how long a node may take to answer once started
                          (default 2m)
  --format table|json     (inspect) output format
  -t FILE                 the topology file, as with containerlab
`

func cmdLab(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, labUsage)
		return 0
	case "up", "deploy", "down", "destroy", "inspect", "cli", "exec":
	case "generate":
		return cmdLabGenerate(rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "vpnos lab: unknown command %q\n%s", sub, labUsage)
		return 2
	}
	fs := flag.NewFlagSet("lab "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	rt := fs.String("runtime", runner.RuntimeNetns, "netns or docker")
	workdir := fs.String("workdir", os.Getenv("VPNOS_LAB_WORKDIR"), "parent of the lab folders")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long a node may take to answer once started")
	topo := fs.String("t", "", "topology file")
	format := fs.String("format", "table", "inspect output: table or json")
	fs.Usage = func() { fmt.Fprint(stderr, labUsage) }
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	pos := fs.Args()
	if *topo == "" {
		if len(pos) == 0 {
			fmt.Fprintf(stderr, "vpnos lab %s: which topology file?\n", sub)
			return 2
		}
		*topo, pos = pos[0], pos[1:]
	}
	if *format != "table" && *format != "json" {
		fmt.Fprintf(stderr, "vpnos lab %s: --format must be table or json\n", sub)
		return 2
	}
	l := &labCmd{
		file: *topo, format: *format, stdin: stdin, stdout: stdout, stderr: stderr,
		opts: runner.Options{
			Runtime: *rt, Workdir: *workdir, ReadyTimeout: *timeout,
			Log: newLogger(stderr, "warn").With("proc", "lab"), Out: stdout,
			Terminal:   isTerminalOut(stdout),
			NodeSocket: nodeSocket,
		},
	}
	ctx, cancel := signalContext()
	defer cancel()
	var err error
	switch sub {
	case "up", "deploy":
		err = l.up(ctx, pos)
	case "down", "destroy":
		err = l.down(ctx, pos)
	case "inspect":
		err = l.inspect(ctx, pos)
	case "cli":
		return l.cli(pos)
	case "exec":
		return l.exec(pos)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vpnos lab %s: %v\n", sub, err)
		return 1
	}
	return 0
}

type labCmd struct {
	file           string
	format         string
	opts           runner.Options
	stdin          io.Reader
	stdout, stderr io.Writer
}

func noExtra(pos []string) error {
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	return nil
}

// hint is how to repeat a lab command on this lab.
func (l *labCmd) hint(sub string, rest ...string) string {
	parts := []string{os.Args[0], "lab", sub}
	if l.opts.Workdir != "" && os.Getenv("VPNOS_LAB_WORKDIR") == "" {
		parts = append(parts, "--workdir", l.opts.Workdir)
	}
	parts = append(parts, l.file)
	for _, r := range rest {
		if strings.ContainsAny(r, " ;'\"") {
			r = "'" + r + "'"
		}
		parts = append(parts, r)
	}
	return strings.Join(parts, " ")
}

func (l *labCmd) up(ctx context.Context, pos []string) error {
	if err := noExtra(pos); err != nil {
		return err
	}
	t, err := topology.Load(l.file)
	if err != nil {
		return err
	}
	st, err := runner.Up(ctx, t, l.opts)
	if err != nil {
		return err
	}
	if err := l.table(ctx, st, runner.InspectUp); err != nil {
		return err
	}
	fmt.Fprintln(l.stdout)
	if len(st.Nodes) <= 16 {
		fmt.Fprintln(l.stdout, "CLI of each node:")
		tw := tabwriter.NewWriter(l.stdout, 0, 0, 2, ' ', 0)
		for _, n := range st.Nodes {
			alt := ""
			if st.Runtime == runner.RuntimeDocker {
				alt = "\tor: docker exec -it " + n.Runtime + " cli"
			}
			fmt.Fprintf(tw, "  %s\t%s%s\n", n.Name, l.hint("cli", n.Name), alt)
		}
		tw.Flush()
	} else {
		fmt.Fprintf(l.stdout, "CLI of a node:      %s\n", l.hint("cli", "NODE"))
	}
	fmt.Fprintf(l.stdout, "one command:        %s\n", l.hint("exec", st.Nodes[0].Name, "display interface brief"))
	if st.Runtime == runner.RuntimeNetns {
		fmt.Fprintf(l.stdout, "node logs:          %s/NODE/boot.log\n", st.Dir)
	}
	fmt.Fprintf(l.stdout, "tear down:          %s\n", l.hint("down"))
	return nil
}

func (l *labCmd) state() (*runner.State, error) {
	name, err := topology.LabName(l.file)
	if err != nil {
		return nil, err
	}
	return runner.Load(l.opts.Workdir, name)
}

func (l *labCmd) down(ctx context.Context, pos []string) error {
	if err := noExtra(pos); err != nil {
		return err
	}
	st, err := l.state()
	if errors.Is(err, runner.ErrNotUp) {
		fmt.Fprintf(l.stdout, "nothing to remove: %v\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	if err := runner.Down(ctx, st, l.opts); err != nil {
		return err
	}
	fmt.Fprintf(l.stdout, "lab %s removed (%d nodes, %d links)\n", st.Lab, len(st.Nodes), len(st.Links))
	return nil
}

func (l *labCmd) inspect(ctx context.Context, pos []string) error {
	if err := noExtra(pos); err != nil {
		return err
	}
	st, err := l.state()
	if err != nil {
		return err
	}
	if l.format == "json" {
		rows, err := runner.Inspect(ctx, st, l.opts)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(l.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(struct {
			Lab      string              `json:"lab"`
			Runtime  string              `json:"runtime"`
			Dir      string              `json:"dir"`
			Complete bool                `json:"complete"`
			Nodes    []runner.NodeStatus `json:"nodes"`
		}{st.Lab, st.Runtime, st.Dir, st.Complete, rows})
	}
	return l.table(ctx, st, runner.Inspect)
}

// table prints the lab's nodes as inspect finds them.
func (l *labCmd) table(ctx context.Context, st *runner.State, inspect func(context.Context, *runner.State, runner.Options) ([]runner.NodeStatus, error)) error {
	rows, err := inspect(ctx, st, l.opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(l.stdout, "lab %s (%s runtime, folder %s)", st.Lab, st.Runtime, st.Dir)
	if !st.Complete {
		fmt.Fprint(l.stdout, " -- up did not finish; run down")
	}
	fmt.Fprintln(l.stdout)
	tw := tabwriter.NewWriter(l.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tNAME\tSTATE\tMGMT\tLINKS")
	for _, r := range rows {
		links := strings.Join(r.Links, " ")
		if links == "" {
			links = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Node, r.Name, r.State, r.Mgmt, links)
	}
	return tw.Flush()
}

// run starts a node command with the caller's stdio and returns its exit code.
func (l *labCmd) run(node string, tty bool, args []string) int {
	st, err := l.state()
	if err != nil {
		fmt.Fprintln(l.stderr, "vpnos lab:", err)
		return 1
	}
	cmd, start, err := runner.Command(st, node, tty, args, l.opts)
	if err != nil {
		fmt.Fprintln(l.stderr, "vpnos lab:", err)
		return 1
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = l.stdin, l.stdout, l.stderr
	// The terminal's ^C belongs to the CLI session.
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Reset(syscall.SIGINT, syscall.SIGQUIT)
	if err := start(); err != nil {
		fmt.Fprintln(l.stderr, "vpnos lab:", err)
		return 1
	}
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintln(l.stderr, "vpnos lab:", err)
		return 1
	}
	return 0
}

func (l *labCmd) cli(pos []string) int {
	if len(pos) != 1 {
		fmt.Fprintln(l.stderr, "usage: vpnos lab cli FILE NODE")
		return 2
	}
	return l.run(pos[0], isTerminal(l.stdin), nil)
}

func (l *labCmd) exec(pos []string) int {
	if len(pos) < 2 {
		fmt.Fprintln(l.stderr, "usage: vpnos lab exec FILE NODE CMD...")
		return 2
	}
	return l.run(pos[0], false, []string{"-c", strings.Join(pos[1:], " ")})
}

// nodeSocket reads a netns node's settings as its daemon will, for the lab
// runner: the node's management socket, or why its settings are unusable.
func nodeSocket(root, configDir string, env []string) (string, error) {
	s, err := settings.Load(settings.Options{Root: root, ConfigDir: configDir, Env: env})
	if err != nil {
		return "", err
	}
	return s.SocketPath(), nil
}
