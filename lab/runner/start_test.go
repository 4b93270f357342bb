package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"vpnos/lab/topology"
)

// fakeBackend answers probes from a script: a node is ready after a number
// of probes, never (-1), or fails for good.
type fakeBackend struct {
	mu          sync.Mutex
	readyAfter  map[string]int
	fatal       map[string]error
	probes      map[string]int
	starting    int // started, not ready
	maxStarting int
	log         string
}

func (f *fakeBackend) check(context.Context, *topology.Topology) error                  { return nil }
func (f *fakeBackend) prepare(context.Context, *State, *topology.Topology) error        { return nil }
func (f *fakeBackend) create(context.Context, *State, *topology.Node, *NodeState) error { return nil }
func (f *fakeBackend) handle(*NodeState) (netns.NsHandle, error)                        { return netns.None(), nil }
func (f *fakeBackend) cli(*NodeState, bool, []string) *exec.Cmd                         { return nil }
func (f *fakeBackend) execCmd(*NodeState, []string) *exec.Cmd                           { return nil }
func (f *fakeBackend) startCmd(*NodeState, *exec.Cmd) error                             { return nil }
func (f *fakeBackend) remove(context.Context, *State, Step) error                       { return nil }
func (f *fakeBackend) status(context.Context, *State, *NodeState, bool) (string, string) {
	return "", ""
}
func (f *fakeBackend) logs(context.Context, *NodeState) string     { return f.log }
func (f *fakeBackend) startLog(context.Context, *NodeState) string { return f.log }
func (f *fakeBackend) createParallelism() int                      { return 1 }
func (f *fakeBackend) nodeStep(ns *NodeState) Step                 { return Step{Kind: StepNetns, Name: ns.Runtime} }

func (f *fakeBackend) start(ctx context.Context, st *State, n *topology.Node, ns *NodeState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starting++
	f.maxStarting = max(f.maxStarting, f.starting)
	return nil
}

func (f *fakeBackend) probe(ctx context.Context, ns *NodeState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fatal[ns.Name]; err != nil {
		return fatalError{err}
	}
	f.probes[ns.Name]++
	if n := f.readyAfter[ns.Name]; n >= 0 && f.probes[ns.Name] > n {
		f.starting--
		return nil
	}
	return errors.New("not listening yet")
}

func fakeLab(t *testing.T, n int) *State {
	st := &State{Lab: "x", Dir: t.TempDir()}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("r%d", i)
		st.Nodes = append(st.Nodes, NodeState{Name: name, Runtime: NodeName("x", name)})
	}
	return st
}

func runStartAll(t *testing.T, be *fakeBackend, st *State, o Options) (string, error) {
	t.Helper()
	var out bytes.Buffer
	o.Out = &out
	o.defaults()
	err := startAll(context.Background(), be, st, &o, func(ns *NodeState) error {
		return be.start(context.Background(), st, nil, ns)
	})
	return out.String(), err
}

func TestStartAllWindow(t *testing.T) {
	be := &fakeBackend{readyAfter: map[string]int{}, probes: map[string]int{}}
	st := fakeLab(t, 20)
	for i, n := range st.Nodes {
		be.readyAfter[n.Name] = 1 + i%3
	}
	out, err := runStartAll(t, be, st, Options{StartWindow: 3})
	if err != nil {
		t.Fatal(err)
	}
	if be.maxStarting > 3 {
		t.Errorf("%d nodes were starting at once, window 3", be.maxStarting)
	}
	// Not a terminal: one line for the phase.
	if !regexp.MustCompile(`^nodes ready 20/20 in [0-9.]+s \(slowest r[0-9]+: [0-9.]+s\)\n$`).MatchString(out) {
		t.Errorf("output %q", out)
	}
}

func TestStartAllLate(t *testing.T) {
	be := &fakeBackend{readyAfter: map[string]int{"r1": 0, "r2": -1, "r3": 1}, probes: map[string]int{},
		log: "level=INFO msg=one\nlevel=WARN msg=\"timed out waiting for data links\"\n"}
	st := fakeLab(t, 3)
	out, err := runStartAll(t, be, st, Options{ReadyTimeout: 300 * time.Millisecond})
	if err == nil {
		t.Fatal("a node that never answers is ready")
	}
	for _, want := range []string{
		"1 of 3 nodes not ready (each has 300ms from its start to answer):",
		"r2: CLI does not answer after 0.",
		"(last: not listening yet)",
		`log: level=WARN msg="timed out waiting for data links"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "r1:") || strings.Contains(err.Error(), "r3:") {
		t.Errorf("error names ready nodes:\n%v", err)
	}
	if !strings.HasPrefix(out, "nodes ready 2/3 in ") {
		t.Errorf("output %q", out)
	}
}

func TestStartAllFatal(t *testing.T) {
	be := &fakeBackend{readyAfter: map[string]int{"r1": -1, "r2": -1}, probes: map[string]int{},
		fatal: map[string]error{"r2": errors.New("vpnos boot exited")}}
	st := fakeLab(t, 2)
	start := time.Now()
	_, err := runStartAll(t, be, st, Options{ReadyTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "node r2: vpnos boot exited") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("a node that died was waited for %s", time.Since(start))
	}
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, false, "links wired", 3)
	p.add(1)
	p.add(2)
	p.done("")
	if !regexp.MustCompile(`^links wired 3/3 in [0-9.]+s\n$`).MatchString(b.String()) {
		t.Errorf("not a terminal: %q", b.String())
	}
	b.Reset()
	p = newProgress(&b, true, "nodes created", 2)
	p.add(1)
	p.add(1)
	p.done("")
	s := b.String()
	if !strings.HasPrefix(s, "\r\033[Knodes created 0/2") || !strings.Contains(s, "\r\033[Knodes created 2/2 (") ||
		!regexp.MustCompile(`\r\033\[Knodes created 2/2 in [0-9.]+s\n$`).MatchString(s) {
		t.Errorf("terminal: %q", s)
	}
}
