// Package runner runs containerlab topology files with vpnos nodes, on one of
// two runtimes:
//
//   - netns: each node is a network namespace clab-LAB-NODE running its own
//     `vpnos boot` with a root folder of its own; no Docker needed.
//   - docker: each node is a container clab-LAB-NODE from the node image,
//     its eth0 on the management network (containerlab's `clab` bridge
//     network, 172.20.20.0/24, unless the file's mgmt section says otherwise).
//
// Links are veth pairs created directly inside the two nodes' namespaces,
// named as in the file, MTU 9500, TX checksum offload off, up.
//
// Everything `up` creates is journalled in <labdir>/state.json before it is
// created; `down` removes exactly the journalled objects, so it also cleans
// up after an `up` that died halfway.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"

	"vpnos/lab/topology"
)

// DefaultWorkdir holds one folder per running lab.
const DefaultWorkdir = "/run/vpnos/lab"

// Runtimes.
const (
	RuntimeNetns  = "netns"
	RuntimeDocker = "docker"
)

// Options configure the runner.
type Options struct {
	Runtime string // netns (default) or docker; down/inspect/cli/exec read it from the state
	// Workdir is the parent of lab folders (default DefaultWorkdir); a lab's
	// folder is <Workdir>/<lab>.
	Workdir string
	// Binary is the vpnos executable the netns runtime runs (default: this one).
	Binary string
	// Docker is the docker CLI (default "docker").
	Docker string
	// ReadyTimeout bounds the wait for every node's CLI to answer (default 120 s).
	ReadyTimeout time.Duration
	Log          *slog.Logger
	// Out receives progress lines for the user (default: discarded).
	Out io.Writer
	// NodeSocket, when set, reads the settings of a netns node (its root,
	// config folder and environment) and returns its management socket, or
	// why the settings are unusable: the node then fails at once with that
	// reason. vpnos lab sets it to the daemon's settings loader. By default
	// the socket is the one in the state directory under the node's root.
	NodeSocket func(root, configDir string, env []string) (string, error)
}

func (o *Options) defaults() {
	if o.Runtime == "" {
		o.Runtime = RuntimeNetns
	}
	if o.Workdir == "" {
		o.Workdir = DefaultWorkdir
	}
	if o.Binary == "" {
		if exe, err := os.Executable(); err == nil {
			o.Binary = exe
		}
	}
	if o.Docker == "" {
		o.Docker = "docker"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 120 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

// LabDir is the folder of lab `lab` under workdir.
func LabDir(workdir, lab string) string {
	if workdir == "" {
		workdir = DefaultWorkdir
	}
	abs, err := filepath.Abs(workdir)
	if err == nil {
		workdir = abs
	}
	return filepath.Join(workdir, lab)
}

// NodeName is the namespace or container name of a node, as containerlab
// names containers.
func NodeName(lab, node string) string { return "clab-" + lab + "-" + node }

// backend is one runtime.
type backend interface {
	// check refuses a topology the runtime cannot run, before anything exists.
	check(ctx context.Context, t *topology.Topology) error
	// prepare makes what the nodes share (journalled first), before create.
	prepare(ctx context.Context, st *State, t *topology.Topology) error
	// create makes the node's namespace or container (journalled first).
	create(ctx context.Context, st *State, n *topology.Node, ns *NodeState) error
	// handle opens the node's network namespace.
	handle(ns *NodeState) (netns.NsHandle, error)
	// start starts vpnos in a created node whose links are wired.
	start(ctx context.Context, st *State, n *topology.Node, ns *NodeState) error
	// probe returns nil once the node's CLI answers.
	probe(ctx context.Context, ns *NodeState) error
	// cli builds a command running the node's CLI with args.
	cli(ns *NodeState, tty bool, args []string) *exec.Cmd
	// execCmd builds a command for a topology `exec` entry.
	execCmd(ns *NodeState, words []string) *exec.Cmd
	// startCmd starts a command built by cli or execCmd.
	startCmd(ns *NodeState, cmd *exec.Cmd) error
	// remove deletes one journalled object if it still exists.
	remove(ctx context.Context, st *State, s Step) error
	// status reports a node's state and management address.
	status(ctx context.Context, st *State, ns *NodeState) (state, mgmt string)
	// logs returns the node's log (tail) for dumps.
	logs(ctx context.Context, ns *NodeState) string
	// createParallelism is how many nodes create may make at once.
	createParallelism() int
}

func newBackend(runtime string, o *Options) (backend, error) {
	switch runtime {
	case RuntimeNetns:
		return &netnsBackend{o: o}, nil
	case RuntimeDocker:
		return &dockerBackend{o: o}, nil
	}
	return nil, fmt.Errorf("unknown runtime %q (netns or docker)", runtime)
}

// Up brings a topology up and waits until every node's CLI answers; then it
// runs the nodes' exec entries. On failure it removes what it created.
func Up(ctx context.Context, t *topology.Topology, o Options) (*State, error) {
	o.defaults()
	be, err := newBackend(o.Runtime, &o)
	if err != nil {
		return nil, err
	}
	if err := be.check(ctx, t); err != nil {
		return nil, err
	}
	dir := LabDir(o.Workdir, t.Name)
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err == nil {
		return nil, fmt.Errorf("lab %s is already up (state in %s); run `vpnos lab down` first", t.Name, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab folder: %w", err)
	}
	st := &State{Lab: t.Name, Runtime: o.Runtime, Topology: t.File, Dir: dir, Created: time.Now().UTC()}
	for _, n := range t.Nodes {
		st.Nodes = append(st.Nodes, NodeState{Name: n.Name, Runtime: NodeName(t.Name, n.Name), Intfs: n.Intfs})
	}
	if err := st.save(); err != nil {
		return nil, err
	}
	fail := func(err error) (*State, error) {
		o.Log.Error("lab up failed; removing what was created", "lab", t.Name, "err", err)
		fmt.Fprintf(o.Out, "error: %v\nremoving what was created...\n", err)
		if derr := down(context.WithoutCancel(ctx), st, be, &o); derr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", derr))
		}
		return nil, err
	}
	start := time.Now()
	fmt.Fprintf(o.Out, "lab %s: %d nodes, %d links, runtime %s\n", t.Name, len(t.Nodes), len(t.Links), o.Runtime)

	// 1. what the nodes share (the docker management network)
	if err := be.prepare(ctx, st, t); err != nil {
		return fail(err)
	}
	// 2. nodes
	if err := forEachNode(ctx, t, st, be.createParallelism(), func(n *topology.Node, ns *NodeState) error {
		return be.create(ctx, st, n, ns)
	}); err != nil {
		return fail(err)
	}
	if err := st.save(); err != nil {
		return fail(err)
	}
	// 3. links
	handles := map[string]netns.NsHandle{}
	defer func() {
		for _, h := range handles {
			h.Close()
		}
	}()
	for i := range st.Nodes {
		h, err := be.handle(&st.Nodes[i])
		if err != nil {
			return fail(fmt.Errorf("node %s: %w", st.Nodes[i].Name, err))
		}
		handles[st.Nodes[i].Name] = h
	}
	for _, l := range t.Links {
		if err := wireVeth(handles[l.A.Node], l.A.Iface, handles[l.B.Node], l.B.Iface); err != nil {
			return fail(fmt.Errorf("link %s <-> %s: %w", l.A, l.B, err))
		}
		st.Links = append(st.Links, LinkState{A: l.A.String(), B: l.B.String()})
	}
	if err := st.save(); err != nil {
		return fail(err)
	}
	// The kernel reports carrier a moment after both ends are up (linkwatch);
	// wait for it so that the nodes find their ports up.
	if err := waitLinksUp(ctx, handles, t.Links, 5*time.Second); err != nil {
		fmt.Fprintf(o.Out, "warning: %v\n", err)
	}
	// 4. start
	if err := forEachNode(ctx, t, st, 1, func(n *topology.Node, ns *NodeState) error {
		return be.start(ctx, st, n, ns)
	}); err != nil {
		return fail(err)
	}
	if err := st.save(); err != nil {
		return fail(err)
	}
	// 5. wait until every CLI answers
	rctx, cancel := context.WithTimeout(ctx, o.ReadyTimeout)
	defer cancel()
	if err := forEachNode(rctx, t, st, len(t.Nodes), func(n *topology.Node, ns *NodeState) error {
		return waitReady(rctx, be, ns)
	}); err != nil {
		return fail(err)
	}
	fmt.Fprintf(o.Out, "all %d nodes ready in %.1fs\n", len(t.Nodes), time.Since(start).Seconds())
	// 6. exec entries
	for _, n := range t.Nodes {
		ns, _ := st.Node(n.Name)
		for _, e := range n.Exec {
			words, err := SplitWords(e)
			if err != nil {
				return fail(fmt.Errorf("node %s: exec %q: %w", n.Name, e, err))
			}
			cmd := be.execCmd(ns, words)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			err = be.startCmd(ns, cmd)
			if err == nil {
				err = cmd.Wait()
			}
			fmt.Fprintf(o.Out, "%s: exec %s\n%s", n.Name, e, indent(out.String()))
			if err != nil {
				return fail(fmt.Errorf("node %s: exec %q: %w", n.Name, e, err))
			}
		}
	}
	st.Complete = true
	if err := st.save(); err != nil {
		return fail(err)
	}
	return st, nil
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("  " + l)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

func waitReady(ctx context.Context, be backend, ns *NodeState) error {
	delay := 20 * time.Millisecond
	var last error
	nextLog := time.Now().Add(time.Second)
	for {
		err := be.probe(ctx, ns)
		if err == nil {
			return nil
		}
		var fatal fatalError
		if errors.As(err, &fatal) {
			return fmt.Errorf("node %s: %w", ns.Name, err)
		}
		last = err
		if time.Now().After(nextLog) {
			// A daemon that refuses to start (missing capabilities) is
			// restarted by its supervisor for ever: say why at once
			// instead of waiting for the deadline.
			nextLog = time.Now().Add(time.Second)
			if why := startRefusal(be.logs(ctx, ns)); why != "" {
				return fmt.Errorf("node %s: the daemon refuses to start: %s", ns.Name, why)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s: CLI does not answer: %w (last: %v)", ns.Name, ctx.Err(), last)
		case <-time.After(delay):
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// startRefusal finds, in a node's log, the reason its daemon gives for not
// starting at all (os/probe's Usable), or "".
func startRefusal(log string) string {
	const mark = "vpnos needs the capabilities"
	i := strings.LastIndex(log, mark)
	if i < 0 {
		return ""
	}
	line := log[i:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	return strings.TrimRight(strings.TrimSpace(line), `"`)
}

// fatalError stops waiting for a node (its process died).
type fatalError struct{ error }

func (f fatalError) Unwrap() error { return f.error }

func forEachNode(ctx context.Context, t *topology.Topology, st *State, par int, fn func(n *topology.Node, ns *NodeState) error) error {
	if par < 1 {
		par = 1
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, n := range t.Nodes {
		ns, err := st.Node(n.Name)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(n, ns); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return ctx.Err()
}

// Load reads the state of lab `lab` under workdir.
func Load(workdir, lab string) (*State, error) {
	return LoadState(LabDir(workdir, lab))
}

// Down removes everything the lab's state records, in reverse order, then the
// lab folder.
func Down(ctx context.Context, st *State, o Options) error {
	o.defaults()
	be, err := newBackend(st.Runtime, &o)
	if err != nil {
		return err
	}
	return down(ctx, st, be, &o)
}

func down(ctx context.Context, st *State, be backend, o *Options) error {
	var errs []error
	var mu sync.Mutex
	for _, phase := range removalPhases(st.Steps) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, s := range phase {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := be.remove(ctx, st, s); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s %s: %w", s.Kind, s.Name, err))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	if len(errs) > 0 {
		// Keep the state so that another `down` can retry.
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(st.Dir); err != nil {
		return fmt.Errorf("remove lab folder: %w", err)
	}
	o.Log.Info("lab down", "lab", st.Lab)
	return nil
}

// removalPhases orders journalled steps for down: newest first, nodes
// (removed in parallel) before the networks they were attached to.
func removalPhases(steps []Step) [][]Step {
	var nodes, shared []Step
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Kind == StepNetwork {
			shared = append(shared, steps[i])
		} else {
			nodes = append(nodes, steps[i])
		}
	}
	return [][]Step{nodes, shared}
}

// NodeStatus is one row of `inspect`.
type NodeStatus struct {
	Node    string   `json:"node"`
	Name    string   `json:"name"`  // namespace or container
	State   string   `json:"state"` // ready, running, stopped, missing
	Mgmt    string   `json:"mgmt"`  // management address with prefix length ("-" when none)
	Links   []string `json:"links"` // "eth1->PE1:eth3"
	Runtime string   `json:"runtime"`
}

// Inspect reports every node of a lab.
func Inspect(ctx context.Context, st *State, o Options) ([]NodeStatus, error) {
	o.defaults()
	be, err := newBackend(st.Runtime, &o)
	if err != nil {
		return nil, err
	}
	peers := map[string][]string{}
	for _, l := range st.Links {
		a, b := l.A, l.B
		an, ai, _ := strings.Cut(a, ":")
		bn, bi, _ := strings.Cut(b, ":")
		peers[an] = append(peers[an], ai+"->"+b)
		peers[bn] = append(peers[bn], bi+"->"+a)
	}
	out := make([]NodeStatus, len(st.Nodes))
	var wg sync.WaitGroup
	for i := range st.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns := &st.Nodes[i]
			state, mgmt := be.status(ctx, st, ns)
			links := peers[ns.Name]
			sort.Strings(links)
			out[i] = NodeStatus{Node: ns.Name, Name: ns.Runtime, State: state, Mgmt: mgmt, Links: links, Runtime: st.Runtime}
		}()
	}
	wg.Wait()
	return out, nil
}

// Command builds the command running a node's CLI with args (for example
// "-c", "display version"), ready for Start; tty asks for an interactive
// terminal (docker exec -it).
func Command(st *State, node string, tty bool, args []string, o Options) (*exec.Cmd, func() error, error) {
	o.defaults()
	be, err := newBackend(st.Runtime, &o)
	if err != nil {
		return nil, nil, err
	}
	ns, err := st.Node(node)
	if err != nil {
		return nil, nil, err
	}
	cmd := be.cli(ns, tty, args)
	return cmd, func() error { return be.startCmd(ns, cmd) }, nil
}

// Logs returns a node's log.
func Logs(ctx context.Context, st *State, node string, o Options) (string, error) {
	o.defaults()
	be, err := newBackend(st.Runtime, &o)
	if err != nil {
		return "", err
	}
	ns, err := st.Node(node)
	if err != nil {
		return "", err
	}
	return be.logs(ctx, ns), nil
}

// SplitWords splits a command line into words the way a POSIX shell does for
// plain words, single and double quotes and backslashes (no expansions).
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	return words, nil
}

// tail returns the last n bytes of a file.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	b := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(b, off)
	return string(b)
}
