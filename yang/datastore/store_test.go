package datastore

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"vpnos/yang/schema"
)

// newStore is a store on the embedded schema where an owner that accepts
// everything owns every top-level node.
func newStore(t testing.TB) *Store {
	t.Helper()
	sc, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := New(sc, nil)
	var tops []string
	for _, e := range sc.Children(sc.Root) {
		tops = append(tops, "/"+e.Name)
	}
	s.Register(ValidateFunc(func(*Change) []*RuleError { return nil }), tops...)
	return s
}

var (
	red    = P("vpn-instances", "vpn-instance", K("red"))
	blue   = P("vpn-instances", "vpn-instance", K("blue"))
	redAF  = red.Child("ipv4-family")
	blueAF = blue.Child("ipv4-family")
	ge1    = P("interfaces", "interface", K("GigabitEthernet0/1/0"))
	lo0    = P("interfaces", "interface", K("LoopBack0"))
)

type recorder struct {
	name      string
	fail      error
	refuse    *RuleError // Validate's answer
	calls     []string
	applied   [][]string
	validated []*Change
}

func (r *recorder) Validate(c *Change) []*RuleError {
	r.validated = append(r.validated, c)
	if r.refuse != nil {
		return []*RuleError{r.refuse}
	}
	return nil
}

func (r *recorder) Prepare(_ context.Context, c *Change) error {
	r.calls = append(r.calls, "prepare")
	return r.fail
}
func (r *recorder) Apply(_ context.Context, c *Change) {
	r.calls = append(r.calls, "apply")
	var ps []string
	for _, p := range c.Paths {
		ps = append(ps, p.String())
	}
	r.applied = append(r.applied, ps)
}
func (r *recorder) Abort(_ context.Context, c *Change) { r.calls = append(r.calls, "abort") }

func TestValidation(t *testing.T) {
	// The generic datastore checks the schema only: types, ranges,
	// patterns, keys, leafrefs, mandatory leaves and presence. The rules
	// of services live with their owners (services/vrf, static, mpls).
	tests := []struct {
		name string
		edit func(*Tree)
		want string // substring of the error; "" = valid
	}{
		{"presence missing", func(t *Tree) { t.Set(redAF.Child("tnl-policy"), "x") }, "does not exist"},
		{"vrf ok", func(t *Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("route-distinguisher"), "10.255.0.1:1")
			t.SetPresence(redAF.Child("vpn-target", "65000:100", "export-extcommunity"))
		}, ""},
		{"rd 0:0", func(t *Tree) { t.SetPresence(redAF); t.Set(redAF.Child("route-distinguisher"), "0:0") }, "not a valid route distinguisher"},
		{"rd big", func(t *Tree) { t.SetPresence(redAF); t.Set(redAF.Child("route-distinguisher"), "70000:70000") }, "not a valid route distinguisher"},
		{"rt 0:0", func(t *Tree) {
			t.SetPresence(redAF)
			t.SetPresence(redAF.Child("vpn-target", "0:0", "export-extcommunity"))
		}, "not a valid route distinguisher"},
		{"binding needs instance", func(t *Tree) { t.Set(ge1.Child("vpn-instance"), "green") }, "vpn instance green does not exist"},
		{"binding ok", func(t *Tree) { t.SetPresence(red); t.Set(ge1.Child("vpn-instance"), "red") }, ""},
		{"mask missing", func(t *Tree) { t.SetPresence(lo0.Child("ipv4").Child("address", "10.255.0.1")) }, "mandatory mask is missing"},
		{"bad mask", func(t *Tree) { t.Set(ge1.Child("ipv4").Child("address", "192.0.2.1").Child("mask"), "255.0.255.0") }, "not a contiguous mask"},
		{"bad type", func(t *Tree) { t.Set(P("mpls", "lsr-id"), "1.2.3") }, "does not match"},
		{"range", func(t *Tree) {
			tr := P("static-lsps", "transit", K("t1"))
			t.Set(tr.Child("in-label"), "5")
			t.Set(tr.Child("out-label"), "3")
			t.Set(tr.Child("nexthop"), "1.1.1.2")
		}, "5 is not in 16..32783"},
		{"unknown node", func(t *Tree) { t.Set(P("nonsense"), "1") }, "unknown configuration node"},
		{"static vpn label range", func(t *Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("apply-label-static"), "32784")
		}, "not in 16..32783"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			c := s.NewCandidate()
			tc.edit(c.Tree())
			_, err := c.Commit(context.Background(), "admin", "")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("commit: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if s.Running().Len() != 0 {
				t.Fatal("a refused commit changed running")
			}
		})
	}
}

func TestCommitParticipantsAndRollback(t *testing.T) {
	ctx := context.Background()
	sc, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := New(sc, nil)
	ifs := &recorder{name: "iface"}
	vrf := &recorder{name: "vrf"}
	s.Register(ifs, "/interfaces")
	s.Register(vrf, "/vpn-instances", "/interfaces/interface/vpn-instance")

	c := s.NewCandidate()
	c.Tree().SetPresence(redAF)
	c.Tree().Set(redAF.Child("route-distinguisher"), "1:1")
	id1, err := c.Commit(ctx, "alice", "vrf")
	if err != nil || id1 != FirstCommitID {
		t.Fatalf("commit 1: %d %v", id1, err)
	}
	if len(ifs.calls) != 0 || strings.Join(vrf.calls, ",") != "prepare,apply" {
		t.Fatalf("routing: ifs %v vrf %v", ifs.calls, vrf.calls)
	}
	// Every participant validates every change, with the changed paths it
	// owns (none for iface here).
	if len(ifs.validated) != 1 || len(ifs.validated[0].Paths) != 0 || len(vrf.validated) != 1 || len(vrf.validated[0].Paths) != 3 {
		t.Fatalf("validate calls: ifs %+v vrf %+v", ifs.validated, vrf.validated)
	}
	// The longest registered prefix owns a node: the binding belongs to
	// vrf, the interface entry to iface.
	c.Tree().Set(ge1.Child("vpn-instance"), "red")
	id2, err := c.Commit(ctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs.calls) != 2 || len(vrf.calls) != 4 {
		t.Fatalf("both owners must see their part: %v %v", ifs.calls, vrf.calls)
	}
	if got := strings.Join(ifs.applied[0], " "); got != ge1.String() {
		t.Fatalf("iface applied %q", got)
	}
	if got := strings.Join(vrf.applied[1], " "); got != ge1.Child("vpn-instance").String() {
		t.Fatalf("vrf applied %q", got)
	}
	// A failing prepare aborts everyone and changes nothing.
	before := s.Running()
	vrf.fail = errors.New("no more instances")
	c.Tree().SetPresence(blue)
	c.Tree().Set(ge1.Child("description"), "x")
	if _, err := c.Commit(ctx, "alice", ""); err == nil || !strings.Contains(err.Error(), "no more instances") {
		t.Fatalf("want refusal, got %v", err)
	}
	if s.Running() != before || !c.Dirty() {
		t.Fatal("refused commit changed running or lost the candidate")
	}
	if got := ifs.calls[len(ifs.calls)-2:]; strings.Join(got, ",") != "prepare,abort" {
		t.Fatalf("iface not aborted: %v", ifs.calls)
	}
	vrf.fail = nil
	c.Discard()
	// Rollback to commit 1 (the configuration it made): binding gone, vrf
	// kept.
	id3, err := s.RollbackTo(ctx, id1, "bob")
	if err != nil || id3 != id2+1 {
		t.Fatalf("rollback: %d %v", id3, err)
	}
	if _, ok := s.Running().Get(ge1.Child("vpn-instance")); ok {
		t.Fatal("rollback kept the binding")
	}
	if _, ok := s.Running().Get(redAF.Child("route-distinguisher")); !ok {
		t.Fatal("rollback lost the RD")
	}
	log := s.Commits()
	if len(log) != 3 || log[0].ID != id3 || log[0].User != "bob" || log[2].Description != "vrf" {
		t.Fatalf("log: %+v", log)
	}
	if _, err := s.Rollback(ctx, 5, "bob"); err == nil {
		t.Fatal("rollback to unknown id")
	}
}

func TestConcurrentCandidates(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a, b := s.NewCandidate(), s.NewCandidate()
	a.Tree().Set(ge1.Child("description"), "from a")
	a.Tree().Set(lo0.Child("description"), "lo from a")
	b.Tree().Set(ge1.Child("description"), "from b")
	b.Tree().Set(ge1.Child("shutdown"), "true")
	idA, err := a.Commit(ctx, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	// b has not synced; both changed ge1's description: a conflict, named.
	var ce *ConflictError
	if _, err := b.Commit(ctx, "b", ""); !errors.As(err, &ce) || len(ce.Conflicts) != 1 ||
		!ce.Conflicts[0].Path.Equal(ge1.Child("description")) || ce.Conflicts[0].ID != idA || ce.Conflicts[0].User != "a" {
		t.Fatalf("want a conflict on ge1's description, got %v", err)
	}
	if !b.Dirty() {
		t.Fatal("a refused commit lost the candidate")
	}
	// Refreshed, b's own values stand; a's other change is kept.
	if got := b.Refresh(); len(got) != 1 {
		t.Fatalf("refresh accepted %v", got)
	}
	if _, err := b.Commit(ctx, "b", ""); err != nil {
		t.Fatal(err)
	}
	r := s.Running()
	if v, _ := r.Get(ge1.Child("description")); v != "from b" {
		t.Fatalf("refreshed candidate's value: %q", v)
	}
	if v, _ := r.Get(lo0.Child("description")); v != "lo from a" {
		t.Fatalf("a's other change lost: %q", v)
	}
	// A conflict the session undid itself (its value back to running's)
	// no longer holds its commit back.
	g, h := s.NewCandidate(), s.NewCandidate()
	g.Tree().Set(ge1.Child("description"), "g")
	g.Tree().Set(lo0.Child("description"), "lo from g")
	h.Tree().Set(ge1.Child("description"), "h")
	if _, err := h.Commit(ctx, "h", ""); err != nil {
		t.Fatal(err)
	}
	g.Sync()
	g.Tree().Set(ge1.Child("description"), "h")
	if _, err := g.Commit(ctx, "g", ""); err != nil {
		t.Fatalf("a conflict undone by its session: %v", err)
	}
	// A node another session changed twice is one conflict, named with
	// the newest of its commits.
	m, n := s.NewCandidate(), s.NewCandidate()
	m.Tree().Set(ge1.Child("description"), "m")
	n.Tree().Set(ge1.Child("description"), "n1")
	if _, err := n.Commit(ctx, "n", ""); err != nil {
		t.Fatal(err)
	}
	m.Sync()
	n.Tree().Set(ge1.Child("description"), "n2")
	idN2, err := n.Commit(ctx, "n2", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Commit(ctx, "m", ""); !errors.As(err, &ce) || len(ce.Conflicts) != 1 ||
		ce.Conflicts[0].ID != idN2 || ce.Conflicts[0].User != "n2" {
		t.Fatalf("want one conflict on ge1's description from commit %d, got %v", idN2, err)
	}
	m.Discard()
	// Changes to different nodes do not conflict.
	e, f := s.NewCandidate(), s.NewCandidate()
	e.Tree().Set(ge1.Child("description"), "e")
	f.Tree().Set(lo0.Child("description"), "f")
	if _, err := e.Commit(ctx, "e", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Commit(ctx, "f", ""); err != nil {
		t.Fatalf("unrelated changes conflicted: %v", err)
	}
	// A candidate that deleted an entry below which another session added
	// something conflicts; refreshed, it deletes the entry.
	c, d := s.NewCandidate(), s.NewCandidate()
	c.Tree().Delete(lo0)
	d.Tree().Set(lo0.Child("shutdown"), "true")
	if _, err := d.Commit(ctx, "d", ""); err != nil {
		t.Fatal(err)
	}
	c.Sync()
	if c.Tree().Exists(lo0) {
		t.Fatal("rebase resurrected a deleted entry")
	}
	if cs := c.Conflicts(); len(cs) != 1 || !cs[0].Path.Equal(lo0.Child("shutdown")) {
		t.Fatalf("conflicts %v", cs)
	}
	c.Refresh()
	if _, err := c.Commit(ctx, "c", ""); err != nil || s.Running().Exists(lo0) {
		t.Fatalf("refreshed delete: %v", err)
	}
}

// A commit that breaks a rule only because of what another session
// committed meanwhile is refused as a conflict, with the rule it breaks.
func TestConflictByRule(t *testing.T) {
	ctx := context.Background()
	sc, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := New(sc, nil)
	// One RD per instance, as the vrf service's rule.
	s.Register(ValidateFunc(func(c *Change) []*RuleError {
		seen := map[string]bool{}
		var errs []*RuleError
		for _, vi := range c.New.Entries(P("vpn-instances"), "vpn-instance") {
			rd, ok := c.New.Get(vi.Path.Child("ipv4-family").Child("route-distinguisher"))
			if ok && seen[rd] {
				errs = append(errs, Refuse(vi.Path, "The RD %s is used twice", rd))
			}
			seen[rd] = true
		}
		return errs
	}), "/vpn-instances")
	a, b := s.NewCandidate(), s.NewCandidate()
	a.Tree().SetPresence(redAF)
	a.Tree().Set(redAF.Child("route-distinguisher"), "1:1")
	b.Tree().SetPresence(blueAF)
	b.Tree().Set(blueAF.Child("route-distinguisher"), "1:1")
	if _, err := a.Commit(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	var ce *ConflictError
	if _, err := b.Commit(ctx, "b", ""); !errors.As(err, &ce) || len(ce.Errs) != 1 || ce.Errs[0].Error() != "The RD 1:1 is used twice" {
		t.Fatalf("want a conflict by rule, got %v", err)
	}
	// The same refusal without a concurrent commit is a plain one.
	c := s.NewCandidate()
	c.Tree().SetPresence(blue)
	c.Tree().SetPresence(blueAF)
	c.Tree().Set(blueAF.Child("route-distinguisher"), "1:1")
	var ve *ValidationError
	if _, err := c.Commit(ctx, "c", ""); !errors.As(err, &ve) || errors.As(err, &ce) {
		t.Fatalf("want a plain refusal, got %v", err)
	}
}

// TestDiffApply: applying Diff(a, b) to a yields b, for random trees.
func TestDiffApply(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		a, b := randomTree(rng), randomTree(rng)
		c := a.Clone()
		c.Apply(Diff(a, b))
		if !c.Equal(b) {
			t.Fatalf("iteration %d: diff/apply mismatch", i)
		}
	}
}

func randomTree(rng *rand.Rand) *Tree {
	t := NewTree()
	for i := 0; i < rng.Intn(12); i++ {
		ifc := P("interfaces", "interface", K(fmt.Sprintf("LoopBack%d", rng.Intn(4))))
		switch rng.Intn(3) {
		case 0:
			t.Set(ifc.Child("description"), fmt.Sprint(rng.Intn(3)))
		case 1:
			t.Set(ifc.Child("ipv4").Child("address", fmt.Sprintf("10.0.0.%d", rng.Intn(3))).Child("mask"), "255.255.255.255")
		case 2:
			t.SetPresence(ifc)
		}
	}
	return t
}
