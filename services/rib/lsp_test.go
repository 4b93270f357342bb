package rib

import (
	"errors"
	"slices"
	"testing"

	"vpnos/services/fibapi"
	"vpnos/services/label"
)

// vpnRoute is a BGP VPN route in red learned from PE2 (10.255.0.3) with VPN label 48130.
func vpnRoute(prefix string) Route {
	return Route{Prefix: pfx(prefix), Protocol: IBGP, NextHops: []NextHop{{
		Gateway: ip("10.255.0.3"), Instance: fibapi.Public, Labels: []uint32{48130}, Tunnel: true,
	}}}
}

func ingress(name, fec, nh string, out uint32) StaticLSP {
	return StaticLSP{Name: name, Role: Ingress, FEC: pfx(fec), NextHop: ip(nh), OutLabel: out}
}

func TestVPNRouteOverStaticLSP(t *testing.T) {
	tests := []struct {
		name     string
		outLabel uint32
		want     string
	}{
		{"ordinary label", 100, "fwd eth3>198.51.100.2[100,48130]"},
		{"implicit null", 3, "fwd eth3>198.51.100.2[48130]"},
		{"explicit null", 0, "fwd eth3>198.51.100.2[0,48130]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := pe1(t)
			e.must(e.r.AddRoute("red", vpnRoute("172.16.3.0/24")))
			e.flush()
			if got := e.fib.get("red", "172.16.3.0/24"); got != "" {
				t.Fatalf("VPN route without a route to the PE: %q", got)
			}
			// A route to the PE loopback, but no LSP: still no tunnel.
			e.must(e.r.AddRoute("", static("10.255.0.3/32", "198.51.100.2", 0)))
			e.flush()
			if got := e.fib.get("red", "172.16.3.0/24"); got != "" {
				t.Fatalf("VPN route without an LSP: %q", got)
			}
			if got := e.fib.get(fibapi.Public, "10.255.0.3/32"); got != "fwd eth3>198.51.100.2" {
				t.Fatalf("loopback route: %q", got)
			}
			// The LSP: the loopback route takes it, the VPN route gets [LSP, VPN].
			e.must(e.r.SetStaticLSPs([]StaticLSP{ingress("to-pe2", "10.255.0.3/32", "198.51.100.2", tc.outLabel)}))
			b := e.flush()
			if got := e.fib.get("red", "172.16.3.0/24"); got != tc.want {
				t.Errorf("VPN route: %q, want %q", got, tc.want)
			}
			wantLoop := "fwd eth3>198.51.100.2"
			if tc.outLabel != 3 {
				wantLoop += "[" + map[uint32]string{0: "0", 100: "100"}[tc.outLabel] + "]"
			}
			if got := e.fib.get(fibapi.Public, "10.255.0.3/32"); got != wantLoop {
				t.Errorf("FEC route: %q, want %q", got, wantLoop)
			}
			wantN := 2
			if tc.outLabel == 3 {
				wantN = 1 // the FEC route's FIB entry does not change
			}
			if len(b.Routes) != wantN || len(b.DeleteRoutes) != 0 {
				t.Errorf("LSP batch %q", batchString(b))
			}
			st, _ := e.r.StaticLSPs("")
			if len(st) != 1 || !st[0].Up || st[0].OutInterface != "GigabitEthernet0/3/0" {
				t.Errorf("LSP status %+v", st)
			}
			// The core link goes down: LSP down, VPN route withdrawn.
			e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", "", false, "198.51.100.1/30")))
			e.flush()
			if got := e.fib.get("red", "172.16.3.0/24"); got != "" {
				t.Errorf("VPN route with core down: %q", got)
			}
			st, _ = e.r.StaticLSPs("to-pe2")
			if st[0].Up {
				t.Error("LSP up with its interface down")
			}
			// Back up.
			e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", "", true, "198.51.100.1/30")))
			e.flush()
			if got := e.fib.get("red", "172.16.3.0/24"); got != tc.want {
				t.Errorf("VPN route after core up: %q, want %q", got, tc.want)
			}
			// The FEC route withdrawn: LSP down (no matching route), VPN route gone.
			e.must(e.r.DelRoute("", static("10.255.0.3/32", "198.51.100.2", 0).ID()))
			e.flush()
			st, _ = e.r.StaticLSPs("to-pe2")
			if st[0].Up || e.fib.get("red", "172.16.3.0/24") != "" {
				t.Errorf("FEC route withdrawn: LSP %+v, VPN route %q", st[0], e.fib.get("red", "172.16.3.0/24"))
			}
		})
	}
}

func TestIngressLSPNeedsExactRoute(t *testing.T) {
	e := pe1(t)
	e.must(e.r.AddRoute("", static("10.255.0.0/24", "198.51.100.2", 0)))
	e.must(e.r.SetStaticLSPs([]StaticLSP{ingress("to-pe2", "10.255.0.3/32", "198.51.100.2", 100)}))
	e.flush()
	st, _ := e.r.StaticLSPs("")
	if st[0].Up {
		t.Error("ingress LSP up with only a covering route")
	}
	// Plain IP traffic and recursive routes through an LSP's FEC are labelled.
	e.must(e.r.AddRoute("", static("10.255.0.3/32", "198.51.100.2", 0)))
	e.must(e.r.AddRoute("", static("172.20.0.0/16", "10.255.0.3", 0)))
	e.flush()
	if got := e.fib.get(fibapi.Public, "172.20.0.0/16"); got != "fwd eth3>198.51.100.2[100]" {
		t.Errorf("recursive route over the FEC: %q", got)
	}
	// The display keeps the IP route's own next hop and names the tunnel.
	s, _ := e.r.Snapshot("")
	for _, r := range s.Routes {
		if r.Prefix == pfx("10.255.0.3/32") {
			if r.NextHop != ip("198.51.100.2") || r.Tunnel != "static-lsp to-pe2" || !slices.Equal(r.OutLabels, []uint32{100}) {
				t.Errorf("FEC route entry %+v", r)
			}
		}
	}
	// Replacing the LSP (same name, new out-label) changes the FIB in place.
	e.must(e.r.SetStaticLSPs([]StaticLSP{ingress("to-pe2", "10.255.0.3/32", "198.51.100.2", 200)}))
	if got, want := batchString(e.flush()), []string{
		"+_public_ 10.255.0.3/32 fwd eth3>198.51.100.2[200]",
		"+_public_ 172.20.0.0/16 fwd eth3>198.51.100.2[200]",
	}; !slices.Equal(got, want) {
		t.Errorf("replace: %q, want %q", got, want)
	}
	// Removing it returns the plain IP route.
	e.must(e.r.SetStaticLSPs(nil))
	e.flush()
	if got := e.fib.get(fibapi.Public, "10.255.0.3/32"); got != "fwd eth3>198.51.100.2" {
		t.Errorf("after undo: %q", got)
	}
}

func TestTransitAndEgressLSPs(t *testing.T) {
	// P router: GE0/1/0 to PE1, GE0/2/0 to PE2.
	e := newEnv(t)
	e.must(e.r.SetInterface(port("eth1", "GigabitEthernet0/1/0", "", true, "198.51.100.2/30")))
	e.must(e.r.SetInterface(port("eth2", "GigabitEthernet0/2/0", "", true, "198.51.100.5/30")))
	b := e.flush()
	if len(b.Labels) != 0 {
		t.Errorf("labels without LSPs: %q", batchString(b))
	}
	lsps := []StaticLSP{
		{Name: "t1", Role: Transit, InLabel: 100, NextHop: ip("198.51.100.6"), OutLabel: 200},
		{Name: "t-php", Role: Transit, InLabel: 101, NextHop: ip("198.51.100.6"), OutLabel: 3},
		{Name: "t-enull", Role: Transit, InLabel: 102, OutInterface: "GigabitEthernet0/2/0", NextHop: ip("198.51.100.6"), OutLabel: 0},
		{Name: "t-in", Role: Transit, InLabel: 103, InInterface: "GigabitEthernet0/1/0", OutInterface: "eth2", NextHop: ip("198.51.100.6"), OutLabel: 300},
		{Name: "e1", Role: Egress, InLabel: 200},
		{Name: "e-in", Role: Egress, InLabel: 201, InInterface: "GigabitEthernet0/2/0"},
	}
	e.must(e.r.SetStaticLSPs(lsps))
	want := []string{
		"+L100 swap eth2>198.51.100.6[200]",
		"+L101 swap eth2>198.51.100.6",
		"+L102 swap eth2>198.51.100.6[0]",
		"+L103 swap eth2>198.51.100.6[300]",
		"+L200 pop _public_",
		"+L201 pop _public_",
	}
	if got := batchString(e.flush()); !slices.Equal(got, want) {
		t.Errorf("label batch %q, want %q", got, want)
	}
	for _, l := range []uint32{100, 101, 102, 103, 200, 201} {
		if o, ok := e.lm.Owner(l); !ok || o[:11] != "static-lsp:" {
			t.Errorf("label %d not reserved: %q", l, o)
		}
	}
	// eth2 down: every transit LSP (all leave through eth2) and e-in go down; e1 stays up.
	e.must(e.r.SetInterface(port("eth2", "GigabitEthernet0/2/0", "", false, "198.51.100.5/30")))
	if got, want := batchString(e.flush()), []string{
		"-L100", "-L101", "-L102", "-L103", "-L201",
		"-_public_ 198.51.100.4/30", "-_public_ 198.51.100.5/32", "-_public_ 198.51.100.7/32",
	}; !slices.Equal(got, want) {
		t.Errorf("eth2 down: %q, want %q", got, want)
	}
	st, _ := e.r.StaticLSPs("")
	up := map[string]bool{}
	for _, s := range st {
		up[s.Name] = s.Up
	}
	if !slices.Equal(sortedKeys(up), []string{"e-in", "e1", "t-enull", "t-in", "t-php", "t1"}) || !up["e1"] || up["t1"] || up["e-in"] {
		t.Errorf("status %v", up)
	}
	// Removing LSPs frees their labels; an in-label another owner holds is refused.
	e.must(e.r.SetStaticLSPs(lsps[:1]))
	if _, ok := e.lm.Owner(200); ok {
		t.Error("label 200 still reserved after removing e1")
	}
	e.must(e.lm.Reserve(500, "someone-else"))
	err := e.r.SetStaticLSPs([]StaticLSP{lsps[0], {Name: "e2", Role: Egress, InLabel: 500}})
	if !errors.Is(err, label.ErrInUse) {
		t.Errorf("taken in-label: %v", err)
	}
	if st, _ := e.r.StaticLSPs(""); len(st) != 1 || st[0].Name != "t1" {
		t.Errorf("a refused set changed the LSPs: %+v", st)
	}
	if o, _ := e.lm.Owner(100); o != "static-lsp:t1" {
		t.Errorf("refused set lost t1's label: %q", o)
	}
	// Moving a label from one LSP to another in one set works.
	e.must(e.r.SetStaticLSPs([]StaticLSP{{Name: "t9", Role: Transit, InLabel: 100, NextHop: ip("198.51.100.6"), OutLabel: 200}}))
	if o, _ := e.lm.Owner(100); o != "static-lsp:t9" {
		t.Errorf("label 100 owner %q", o)
	}
}

func TestValidateStaticLSPs(t *testing.T) {
	bad := [][]StaticLSP{
		{{Name: "", Role: Egress, InLabel: 100}},
		{{Name: "a", Role: Egress, InLabel: 100}, {Name: "a", Role: Egress, InLabel: 101}},
		{{Name: "a", Role: Egress, InLabel: 3}},
		{{Name: "a", Role: Egress, InLabel: 100}, {Name: "b", Role: Egress, InLabel: 100}},
		{{Name: "a", Role: Transit, InLabel: 100, OutLabel: 200}},
		{{Name: "a", Role: Transit, InLabel: 100, NextHop: ip("1.1.1.1"), OutLabel: 7}},
		{{Name: "a", Role: Ingress, NextHop: ip("1.1.1.1"), OutLabel: 100}},
		{ingress("a", "1.1.1.1/32", "2.2.2.2", 100), ingress("b", "1.1.1.1/32", "2.2.2.2", 101)},
		{{Name: "a", Role: LSPRole(9)}},
	}
	for i, set := range bad {
		if err := ValidateStaticLSPs(set); !errors.Is(err, ErrBadLSP) {
			t.Errorf("set %d: %v, want ErrBadLSP", i, err)
		}
	}
	if err := ValidateStaticLSPs([]StaticLSP{ingress("a", "1.1.1.1/32", "2.2.2.2", 3)}); err != nil {
		t.Error(err)
	}
	if _, err := New(Options{}).StaticLSPs("nope"); !errors.Is(err, ErrNoLSP) {
		t.Errorf("unknown LSP: %v", err)
	}
}

func TestVPNRouteECMPUnderlay(t *testing.T) {
	// A labelled route resolved over an ECMP route gets the label on every path.
	e := pe1(t)
	e.must(e.r.SetInterface(port("eth4", "GigabitEthernet0/4/0", "", true, "198.51.100.9/30")))
	e.must(e.r.AddRoute("", static("10.255.0.0/24", "198.51.100.2", 0)))
	e.must(e.r.AddRoute("", static("10.255.0.0/24", "198.51.100.10", 0)))
	r := vpnRoute("172.16.3.0/24")
	r.NextHops[0].Tunnel = false
	r.Protocol = EBGP
	e.must(e.r.AddRoute("red", r))
	e.flush()
	if got := e.fib.get("red", "172.16.3.0/24"); got != "fwd eth3>198.51.100.2[48130] eth4>198.51.100.10[48130]" {
		t.Errorf("labelled route over ECMP: %q", got)
	}
}

func TestSetLabelEntries(t *testing.T) {
	e := pe1(t)
	vpn := fibapi.LabelEntry{InLabel: 48000, Op: fibapi.PopLookup, Instance: "red"}
	e.must(e.r.SetLabelEntries("bgp", []fibapi.LabelEntry{vpn}))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+L48000 pop red"}) {
		t.Errorf("batch %q", got)
	}
	bad := []fibapi.LabelEntry{
		{InLabel: 3, Op: fibapi.PopLookup, Instance: "red"},
		{InLabel: 48001, Op: fibapi.PopLookup},
		{InLabel: 48001, Op: fibapi.Swap},
		{InLabel: 48001, Op: fibapi.Swap, NextHops: []fibapi.NextHop{{Port: "eth3", Labels: []uint32{3}}}},
		{InLabel: 48001, Op: fibapi.LabelOp(7)},
	}
	for _, b := range bad {
		if err := e.r.SetLabelEntries("ldp", []fibapi.LabelEntry{b}); !errors.Is(err, ErrBadLSP) {
			t.Errorf("SetLabelEntries(%+v) = %v", b, err)
		}
	}
	if err := e.r.SetLabelEntries("ldp", []fibapi.LabelEntry{vpn}); !errors.Is(err, ErrExists) {
		t.Errorf("label of another owner: %v", err)
	}
	if err := e.r.SetStaticLSPs([]StaticLSP{{Name: "e", Role: Egress, InLabel: 48000}}); err == nil {
		t.Error("static LSP took a label of another owner")
	}
	e.must(e.r.SetStaticLSPs([]StaticLSP{{Name: "e", Role: Egress, InLabel: 100}}))
	if err := e.r.SetLabelEntries("ldp", []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.PopLookup, Instance: "red"}}); !errors.Is(err, ErrExists) {
		t.Errorf("label of a static LSP: %v", err)
	}
	e.flush()
	e.must(e.r.SetLabelEntries("bgp", nil))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"-L48000"}) {
		t.Errorf("batch %q", got)
	}
}
