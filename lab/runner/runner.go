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
	"runtime"
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
	// ReadyTimeout bounds the wait for a node's CLI to answer, from the
	// node's start (default 120 s).
	ReadyTimeout time.Duration
	// StartWindow is how many nodes may be starting (started, not ready)
	// at once (default 4 per CPU).
	StartWindow int
	Log         *slog.Logger
	// Out receives progress lines for the user (default: discarded).
	Out io.Writer
	// Terminal says Out is a terminal: progress lines are rewritten in
	// place as nodes come up; otherwise each phase prints one line.
	Terminal bool
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
	if o.StartWindow <= 0 {
		o.StartWindow = 4 * runtime.NumCPU()
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
	// status reports a node's state and management address; a running
	// node is "ready" if its CLI answers (probe), or without asking.
	status(ctx context.Context, st *State, ns *NodeState, probe bool) (state, mgmt string)
	// logs returns the node's log (tail) for dumps.
	logs(ctx context.Context, ns *NodeState) string
	// createParallelism is how many nodes create may make at once.
	createParallelism() int
	// nodeStep is the journal step of the node create makes.
	nodeStep(ns *NodeState) Step
	// startLog is the end of the node's log, short, read while it starts.
	startLog(ctx context.Context, ns *NodeState) string
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
	// 2. nodes, journalled together before the first is made (one write of
	// the state, not one per node; down skips what was never made)
	steps := make([]Step, len(st.Nodes))
	for i := range st.Nodes {
		steps[i] = be.nodeStep(&st.Nodes[i])
	}
	if err := st.record(steps...); err != nil {
		return fail(err)
	}
	prog := newProgress(o.Out, o.Terminal, "nodes created", len(t.Nodes))
	if err := forEachNode(ctx, t, st, be.createParallelism(), func(n *topology.Node, ns *NodeState) error {
		err := be.create(ctx, st, n, ns)
		if err == nil {
			prog.add(1)
		}
		return err
	}); err != nil {
		return fail(err)
	}
	prog.done("")
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
	prog = newProgress(o.Out, o.Terminal, "links wired", len(t.Links))
	w := newWirer(handles)
	defer w.close()
	for _, l := range t.Links {
		if err := w.wire(l.A, l.B); err != nil {
			return fail(fmt.Errorf("link %s <-> %s: %w", l.A, l.B, err))
		}
		st.Links = append(st.Links, LinkState{A: l.A.String(), B: l.B.String()})
		prog.add(1)
	}
	if err := st.save(); err != nil {
		return fail(err)
	}
	// The kernel reports carrier a moment after both ends are up (linkwatch);
	// wait for it so that the nodes find their ports up.
	if err := w.waitUp(ctx, t.Links, 5*time.Second); err != nil {
		fmt.Fprintf(o.Out, "warning: %v\n", err)
	}
	prog.done("")
	// 4. start the nodes and wait until every CLI answers
	nodes := map[string]*topology.Node{}
	for _, n := range t.Nodes {
		nodes[n.Name] = n
	}
	if err := startAll(ctx, be, st, &o, func(ns *NodeState) error {
		return be.start(ctx, st, nodes[ns.Name], ns)
	}); err != nil {
		return fail(err)
	}
	if err := st.save(); err != nil {
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

// nodeWait is what startAll knows about one node.
type nodeWait struct {
	ns      *NodeState
	started time.Time     // zero until started
	ready   time.Duration // from start to the first answer; 0 while not ready
	last    error         // the last probe's answer
}

// startAll starts the nodes in order and waits until every CLI answers,
// counting ready nodes as it goes. At most o.StartWindow nodes are starting
// at once (started, not ready yet): hundreds of daemons starting together
// only contend for the CPU and the kernel's locks, so each took longer the
// more there were. Each node has o.ReadyTimeout from its start to answer;
// it is polled on its own, with a delay growing to 200 ms, and a probe of a
// node not listening yet costs a file lookup. When a node's deadline
// passes, the error names the nodes still not ready, the slowest first,
// with what their last probe and log said.
func startAll(ctx context.Context, be backend, st *State, o *Options, start func(*NodeState) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prog := newProgress(o.Out, o.Terminal, "nodes ready", len(st.Nodes))
	waits := make([]nodeWait, len(st.Nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed []error
	var lastSave time.Time
	fail := func(err error) {
		mu.Lock()
		failed = append(failed, err)
		mu.Unlock()
		cancel()
	}
	window := make(chan struct{}, o.StartWindow)
	for i := range st.Nodes {
		ns := &st.Nodes[i]
		waits[i].ns = ns
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if err := start(ns); err != nil {
			fail(err)
			break
		}
		begin := time.Now()
		mu.Lock()
		waits[i].started = begin
		if time.Since(lastSave) > 200*time.Millisecond {
			// The started processes are in the journal soon, not once per node.
			lastSave = time.Now()
			if err := st.save(); err != nil {
				mu.Unlock()
				fail(err)
				break
			}
		}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, rcancel := context.WithTimeout(ctx, o.ReadyTimeout)
			defer rcancel()
			err := waitReady(rctx, be, ns, func(err error) {
				mu.Lock()
				waits[i].last = err
				mu.Unlock()
			})
			<-window
			switch {
			case err == nil:
				mu.Lock()
				waits[i].ready = time.Since(begin)
				mu.Unlock()
				prog.add(1)
			case ctx.Err() != nil: // another node failed
			case rctx.Err() != nil:
				fail(errNodeLate)
			default:
				fail(err)
			}
		}()
	}
	if ctx.Err() == nil {
		// Every node is started: the journal shows all their processes.
		mu.Lock()
		err := st.save()
		mu.Unlock()
		if err != nil {
			fail(err)
		}
	}
	wg.Wait()
	if len(failed) == 0 && ctx.Err() == nil {
		slow := waits[0]
		for _, w := range waits[1:] {
			if w.ready > slow.ready {
				slow = w
			}
		}
		prog.done(fmt.Sprintf("(slowest %s: %.1fs)", slow.ns.Name, slow.ready.Seconds()))
		return nil
	}
	prog.done("")
	var errs []error
	late := false
	for _, err := range failed {
		if err == errNodeLate {
			late = true
		} else {
			errs = append(errs, err)
		}
	}
	if late {
		errs = append(errs, notReadyError(ctx, be, waits, o.ReadyTimeout))
	}
	if len(errs) == 0 {
		return context.Cause(ctx)
	}
	return errors.Join(errs...)
}

// errNodeLate: a node did not answer within ReadyTimeout of its start.
var errNodeLate = errors.New("node not ready in time")

// notReadyError names the started nodes not ready when one's deadline
// passed, the longest started first: up to 5, with the answer of their last
// probe and the last line of their log.
func notReadyError(ctx context.Context, be backend, waits []nodeWait, timeout time.Duration) error {
	var late []nodeWait
	for _, w := range waits {
		if w.ready == 0 && !w.started.IsZero() {
			late = append(late, w)
		}
	}
	sort.SliceStable(late, func(i, j int) bool { return late[i].started.Before(late[j].started) })
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d nodes not ready (each has %s from its start to answer):", len(late), len(waits), timeout)
	for i, w := range late {
		if i == 5 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(late)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %s: CLI does not answer after %.1fs (last: %v)", w.ns.Name, time.Since(w.started).Seconds(), w.last)
		if line := lastLine(be.logs(context.WithoutCancel(ctx), w.ns)); line != "" {
			fmt.Fprintf(&b, "; log: %s", line)
		}
	}
	return errors.New(b.String())
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// waitReady polls one node until its CLI answers, it fails for good, or ctx
// ends; seen gets every probe's answer.
func waitReady(ctx context.Context, be backend, ns *NodeState, seen func(error)) error {
	delay := 20 * time.Millisecond
	nextLog := time.Now().Add(2 * time.Second)
	for {
		err := be.probe(ctx, ns)
		if err == nil {
			return nil
		}
		seen(err)
		var fatal fatalError
		if errors.As(err, &fatal) {
			return fatalError{fmt.Errorf("node %s: %w", ns.Name, err)}
		}
		if time.Now().After(nextLog) {
			// A daemon that refuses to start (missing capabilities) is
			// restarted by its supervisor for ever: say why at once
			// instead of waiting for the deadline.
			nextLog = time.Now().Add(2 * time.Second)
			if why := startRefusal(be.startLog(ctx, ns)); why != "" {
				return fatalError{fmt.Errorf("node %s: the daemon refuses to start: %s", ns.Name, why)}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
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
	for i, phase := range removalPhases(st.Steps) {
		if r, ok := be.(nodeRemover); ok && i == 0 {
			prog := newProgress(o.Out, o.Terminal, "nodes removed", len(phase))
			if err := r.removeNodes(ctx, st, phase, prog); err != nil {
				errs = append(errs, err)
			}
			prog.done("")
			continue
		}
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

// nodeRemover is a backend that removes all of a lab's nodes at once
// (cheaper than one at a time); prog counts the nodes removed.
type nodeRemover interface {
	removeNodes(ctx context.Context, st *State, steps []Step, prog *progress) error
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
	return inspect(ctx, st, o, true)
}

// InspectUp reports every node of a lab Up has just brought up: a running
// node is ready (Up saw its CLI answer), without asking it again.
func InspectUp(ctx context.Context, st *State, o Options) ([]NodeStatus, error) {
	return inspect(ctx, st, o, false)
}

func inspect(ctx context.Context, st *State, o Options, probe bool) ([]NodeStatus, error) {
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
			state, mgmt := be.status(ctx, st, ns, probe)
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
