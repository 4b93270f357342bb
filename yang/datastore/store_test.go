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

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	return New(s, nil)
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
	name    string
	fail    error
	calls   []string
	applied [][]string
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
		{"vpn-target needs rd", func(t *Tree) {
			t.SetPresence(redAF)
			t.SetPresence(redAF.Child("vpn-target", "65000:100", "export-extcommunity"))
		}, "must be configured before vpn-target"},
		{"rd unique", func(t *Tree) {
			t.SetPresence(redAF)
			t.SetPresence(blueAF)
			t.Set(redAF.Child("route-distinguisher"), "1:1")
			t.Set(blueAF.Child("route-distinguisher"), "1:1")
		}, "already used by VPN instance red"},
		{"rd 0:0", func(t *Tree) { t.SetPresence(redAF); t.Set(redAF.Child("route-distinguisher"), "0:0") }, "not a valid route distinguisher"},
		{"rd big", func(t *Tree) { t.SetPresence(redAF); t.Set(redAF.Child("route-distinguisher"), "70000:70000") }, "not a valid route distinguisher"},
		{"binding needs instance", func(t *Tree) { t.Set(ge1.Child("vpn-instance"), "green") }, "vpn instance green does not exist"},
		{"binding ok", func(t *Tree) { t.SetPresence(red); t.Set(ge1.Child("vpn-instance"), "red") }, ""},
		{"/32 on GE", func(t *Tree) {
			t.Set(ge1.Child("ipv4").Child("address", "192.0.2.1").Child("mask"), "255.255.255.255")
		}, "LoopBack interfaces only"},
		{"/32 on loopback", func(t *Tree) {
			t.Set(lo0.Child("ipv4").Child("address", "10.255.0.1").Child("mask"), "255.255.255.255")
		}, ""},
		{"mask missing", func(t *Tree) { t.SetPresence(lo0.Child("ipv4").Child("address", "10.255.0.1")) }, "mandatory mask is missing"},
		{"bad mask", func(t *Tree) { t.Set(ge1.Child("ipv4").Child("address", "192.0.2.1").Child("mask"), "255.0.255.0") }, "not a contiguous mask"},
		{"overlap", func(t *Tree) {
			t.Set(ge1.Child("ipv4").Child("address", "192.0.2.1").Child("mask"), "255.255.255.252")
			t.Set(lo0.Child("ipv4").Child("address", "192.0.2.2").Child("mask"), "255.255.255.0")
		}, "conflicts with"},
		{"mpls needs lsr-id", func(t *Tree) { t.SetPresence(P("mpls", "enable")) }, "LSR ID must be configured"},
		{"ldp needs mpls", func(t *Tree) { t.SetPresence(P("mpls", "ldp")) }, "before MPLS LDP"},
		{"mpls ok", func(t *Tree) { t.Set(P("mpls", "lsr-id"), "1.1.1.1"); t.SetPresence(P("mpls", "enable")) }, ""},
		{"if mpls needs global", func(t *Tree) { t.Set(ge1.Child("mpls"), "") }, "enabled globally before it is enabled on"},
		{"bad type", func(t *Tree) { t.Set(P("mpls", "lsr-id"), "1.2.3") }, "does not match"},
		{"range", func(t *Tree) {
			t.Set(P("mpls", "lsr-id"), "1.1.1.1")
			t.SetPresence(P("mpls", "enable"))
			tr := P("static-lsps", "transit", K("t1"))
			t.Set(tr.Child("in-label"), "5")
			t.Set(tr.Child("out-label"), "3")
			t.Set(tr.Child("nexthop"), "1.1.1.2")
		}, "5 is not in 16..32783"},
		{"unknown node", func(t *Tree) { t.Set(P("nonsense"), "1") }, "unknown configuration node"},
		{"static vpn label ok", func(t *Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("route-distinguisher"), "1:1")
			t.Set(redAF.Child("apply-label-static"), "100")
		}, ""},
		{"static vpn label needs per-instance", func(t *Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("route-distinguisher"), "1:1")
			t.Set(redAF.Child("apply-label"), "per-route")
			t.Set(redAF.Child("apply-label-static"), "100")
		}, "A static label needs apply-label per-instance (VPN instance red)"},
		{"static vpn label needs rd", func(t *Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("apply-label-static"), "100")
		}, "must be configured before apply-label-static"},
		{"static vpn label range", func(t *Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("route-distinguisher"), "1:1")
			t.Set(redAF.Child("apply-label-static"), "32784")
		}, "not in 16..32783"},
		{"static vpn label twice", func(t *Tree) {
			for i, af := range []Path{redAF, blueAF} {
				t.SetPresence(af)
				t.Set(af.Child("route-distinguisher"), fmt.Sprintf("1:%d", i))
				t.Set(af.Child("apply-label-static"), "100")
			}
		}, "VPN instance blue cannot use the static label 100: VPN instance red uses it"},
		{"static vpn label of a static lsp", func(t *Tree) {
			t.Set(P("mpls", "lsr-id"), "1.1.1.1")
			t.SetPresence(P("mpls", "enable"))
			t.Set(P("static-lsps", "egress", K("e1"), "in-label"), "100")
			t.SetPresence(redAF)
			t.Set(redAF.Child("route-distinguisher"), "1:1")
			t.Set(redAF.Child("apply-label-static"), "100")
		}, "VPN instance red cannot use the static label 100: static LSP e1 uses it"},
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
	s := newStore(t)
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
	c.Tree().Set(ge1.Child("vpn-instance"), "red")
	id2, err := c.Commit(ctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs.calls) != 2 || len(vrf.calls) != 4 {
		t.Fatalf("both owners must see the binding: %v %v", ifs.calls, vrf.calls)
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
	// Rollback to commit 2 (state before it): binding gone, vrf kept.
	id3, err := s.Rollback(ctx, id2, "bob")
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

func TestRDInPlace(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	c := s.NewCandidate()
	c.Tree().SetPresence(redAF)
	c.Tree().Set(redAF.Child("route-distinguisher"), "1:1")
	id1, err := c.Commit(ctx, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	c.Tree().Set(redAF.Child("route-distinguisher"), "1:2")
	if _, err := c.Commit(ctx, "a", ""); err == nil || !strings.Contains(err.Error(), "cannot be changed from 1:1 to 1:2") {
		t.Fatalf("in-place change: %v", err)
	}
	c.Tree().Delete(redAF.Child("route-distinguisher"))
	if _, err := c.Commit(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	c.Tree().Set(redAF.Child("route-distinguisher"), "1:2")
	if _, err := c.Commit(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	// Rolling back to the state before the first commit and again to 1:1
	// jumps across the rule.
	if _, err := s.Rollback(ctx, id1+1, "a"); err != nil {
		t.Fatalf("rollback across an RD change: %v", err)
	}
}

func TestConcurrentCandidates(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a, b := s.NewCandidate(), s.NewCandidate()
	a.Tree().Set(ge1.Child("description"), "from a")
	a.Tree().Set(lo0.Child("description"), "lo from a")
	b.Tree().Set(ge1.Child("description"), "from b")
	if _, err := a.Commit(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	// b has not synced; its commit merges its own changes on top of a's.
	if _, err := b.Commit(ctx, "b", ""); err != nil {
		t.Fatal(err)
	}
	r := s.Running()
	if v, _ := r.Get(ge1.Child("description")); v != "from b" {
		t.Fatalf("last committer should win: %q", v)
	}
	if v, _ := r.Get(lo0.Child("description")); v != "lo from a" {
		t.Fatalf("a's other change lost: %q", v)
	}
	// A candidate that deleted an entry removes it even if another session
	// added below it meanwhile.
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

func TestCheckRD(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"65000:100", true}, {"10.255.0.1:1", true}, {"4200000000:1", true}, {"4200000000:70000", false},
		{"1.2:3", true}, {"0:0", false}, {"0.0:0", false}, {"1:", false}, {"a:1", false}, {"1.2.3:4", false},
		{"65535:4294967295", true}, {"65535:4294967296", false},
	} {
		if err := CheckRD(tc.in); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.in, err)
		}
	}
}
