package datastore

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"testing"
)

// TestLogGivesEveryConfiguration: after random commits (and rollbacks,
// which are commits too), the log gives back the configuration of every
// kept commit, creation order included, and rollbacks restore them.
func TestLogGivesEveryConfiguration(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(7))
	s := newStore(t)
	var ids []int
	want := map[int]*Tree{}
	for i := 0; i < MaxLog+30; i++ {
		var id int
		var err error
		if i > 5 && rng.Intn(5) == 0 {
			// A rollback to a random kept commit.
			log := s.Commits()
			to := log[rng.Intn(len(log))].ID
			id, err = s.RollbackTo(ctx, to, "r")
			if errors.Is(err, ErrNoChange) {
				continue
			}
			if err == nil && !s.Running().Equal(want[to]) {
				t.Fatalf("rollback to %d gave another configuration", to)
			}
		} else {
			c := s.NewCandidate()
			c.Replace(mutate(rng, s.Running().Clone()))
			id, err = c.Commit(ctx, "u", "")
			if errors.Is(err, ErrNoChange) {
				continue
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		want[id] = s.Running()
	}
	log := s.Commits()
	if len(log) != MaxLog {
		t.Fatalf("log holds %d", len(log))
	}
	for _, r := range log {
		got, err := s.TreeAt(r.ID)
		if err != nil || !got.Equal(want[r.ID]) {
			t.Fatalf("commit %d: %v", r.ID, err)
		}
		for _, it := range want[r.ID].Items() {
			if g := got.Item(it.Path); g.Seq != it.Seq {
				t.Fatalf("commit %d: creation order of %s: %d, want %d", r.ID, it.Path, g.Seq, it.Seq)
			}
		}
	}
	// Rolling back to the oldest kept commit, and the last n.
	oldest := log[len(log)-1].ID
	if _, err := s.RollbackTo(ctx, oldest, "r"); err != nil && !errors.Is(err, ErrNoChange) {
		t.Fatal(err)
	}
	if !s.Running().Equal(want[oldest]) {
		t.Fatal("rollback to the oldest kept commit")
	}
	if _, err := s.RollbackTo(ctx, ids[0], "r"); !errors.Is(err, ErrNoCommit) {
		t.Fatalf("a commit that fell out of the log: %v", err)
	}
}

func mutate(rng *rand.Rand, t *Tree) *Tree {
	for i := 0; i < 1+rng.Intn(3); i++ {
		ifc := P("interfaces", "interface", K(fmt.Sprintf("LoopBack%d", rng.Intn(6))))
		switch rng.Intn(4) {
		case 0:
			t.Set(ifc.Child("description"), fmt.Sprint(rng.Intn(5)))
		case 1:
			t.Set(ifc.Child("ipv4").Child("address", fmt.Sprintf("10.0.0.%d", rng.Intn(4))).Child("mask"), "255.255.255.255")
		case 2:
			t.SetPresence(ifc)
		case 3:
			t.Delete(ifc)
		}
	}
	return t
}

func TestRollbackForms(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	sys := P("system", "sysname")
	commit := func(name, label string) int {
		c := s.NewCandidate()
		c.Tree().Set(sys, name)
		r, err := c.CommitWith(ctx, CommitOptions{User: "u", Label: label})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	sysname := func() string { v, _ := s.Running().Get(sys); return v }
	a := commit("A", "")
	commit("B", "before-c")
	commit("C", "")
	// The configuration as commit A made it, not as before it.
	if _, err := s.RollbackTo(ctx, a, "u"); err != nil || sysname() != "A" {
		t.Fatalf("to commit-id: %v %q", err, sysname())
	}
	// last 1 undoes the rollback itself.
	if _, err := s.RollbackLast(ctx, 1, "u"); err != nil || sysname() != "C" {
		t.Fatalf("last 1: %v %q", err, sysname())
	}
	if _, err := s.RollbackLabel(ctx, "before-c", "u"); err != nil || sysname() != "B" {
		t.Fatalf("to label: %v %q", err, sysname())
	}
	// last N reaching before the first commit: the empty configuration.
	if _, err := s.RollbackLast(ctx, len(s.Commits()), "u"); err != nil || sysname() != "" {
		t.Fatalf("last all: %v %q", err, sysname())
	}
	var ce *CommitError
	if _, err := s.RollbackLast(ctx, 100, "u"); !errors.As(err, &ce) || ce.Error() != "only 7 commits can be rolled back" {
		t.Fatalf("last too many: %v", err)
	}
	if _, err := s.RollbackLabel(ctx, "nope", "u"); !errors.As(err, &ce) || ce.Error() != "the label nope does not exist" {
		t.Fatalf("unknown label: %v", err)
	}
	if _, err := s.RollbackTo(ctx, a, "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RollbackTo(ctx, a, "u"); !errors.Is(err, ErrNoChange) {
		t.Fatalf("rollback to the current configuration: %v", err)
	}

	// Labels: unique, VRP's form, set and cleared later.
	var le *LabelError
	c := s.NewCandidate()
	c.Tree().Set(sys, "D")
	if _, err := c.CommitWith(ctx, CommitOptions{User: "u", Label: "before-c"}); !errors.As(err, &le) || le.Error() != fmt.Sprintf("the label before-c is already used by commit %d", a+1) {
		t.Fatalf("duplicate label: %v", err)
	}
	if !c.Dirty() || sysname() != "A" {
		t.Fatal("a refused label committed")
	}
	for _, bad := range []string{"1abc", "-", "a b", "é"} {
		if err := CheckLabel(bad); err == nil {
			t.Errorf("label %q accepted", bad)
		}
	}
	if err := s.SetLabel(a, "before-c"); !errors.As(err, &le) {
		t.Fatalf("SetLabel duplicate: %v", err)
	}
	if err := s.SetLabel(a+1, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLabel(a, "before-c"); err != nil {
		t.Fatal(err)
	}
	if id, ok := s.LabelID("before-c"); !ok || id != a {
		t.Fatalf("label moved: %d %v", id, ok)
	}
}

// BenchmarkCommitLogMemory: the heap a store holds after 1,000 small
// commits on a large configuration (the log keeps MaxLog of them), beside
// the reference of keeping the running tree of each kept commit, as the
// log did before it kept changes.
func BenchmarkCommitLogMemory(b *testing.B) {
	commits := 1000
	if testing.Short() {
		commits = 50
	}
	ctx := context.Background()
	build := func() *Store {
		s := newStore(b)
		c := s.NewCandidate()
		for i := 0; i < 100; i++ {
			vi := P("vpn-instances", "vpn-instance", K(fmt.Sprintf("vpn%d", i)), "ipv4-family")
			c.Tree().SetPresence(vi)
			c.Tree().Set(vi.Child("route-distinguisher"), fmt.Sprintf("65000:%d", i))
			c.Tree().SetPresence(vi.Child("vpn-target", fmt.Sprintf("65000:%d", i), "export-extcommunity"))
			c.Tree().SetPresence(vi.Child("vpn-target", fmt.Sprintf("65000:%d", i), "import-extcommunity"))
			lo := P("interfaces", "interface", K(fmt.Sprintf("LoopBack%d", i)))
			c.Tree().Set(lo.Child("description"), fmt.Sprintf("loopback number %d of the benchmark", i))
			c.Tree().Set(lo.Child("ipv4").Child("address", fmt.Sprintf("10.%d.%d.1", i/250, i%250)).Child("mask"), "255.255.255.255")
		}
		if _, err := c.Commit(ctx, "u", ""); err != nil {
			b.Fatal(err)
		}
		return s
	}
	heap := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc) / (1 << 20)
	}
	var logMB, refMB float64
	for i := 0; i < b.N; i++ {
		base := heap()
		s := build()
		c := s.NewCandidate()
		for n := 0; n < commits; n++ {
			c.Tree().Set(P("interfaces", "interface", K(fmt.Sprintf("LoopBack%d", n%100)), "description"), fmt.Sprintf("change %d", n))
			if _, err := c.Commit(ctx, "u", ""); err != nil {
				b.Fatal(err)
			}
		}
		logMB = heap() - base
		runtime.KeepAlive(s)

		// Reference: the same store and commits, and the running tree of
		// each kept commit held beside it.
		base = heap()
		s = build()
		c = s.NewCandidate()
		trees := make([]*Tree, 0, MaxLog)
		for n := 0; n < commits; n++ {
			c.Tree().Set(P("interfaces", "interface", K(fmt.Sprintf("LoopBack%d", n%100)), "description"), fmt.Sprintf("change %d", n))
			if _, err := c.Commit(ctx, "u", ""); err != nil {
				b.Fatal(err)
			}
			if len(trees) == MaxLog {
				trees = trees[1:]
			}
			trees = append(trees, s.Running())
		}
		refMB = heap() - base
		runtime.KeepAlive(s)
		runtime.KeepAlive(trees)
	}
	b.ReportMetric(logMB, "MB-store")
	b.ReportMetric(refMB, "MB-ref-trees")
	b.ReportMetric(logMB/refMB, "ratio")
}
