package rib

import (
	"errors"
	"slices"
	"testing"

	"vpnos/services/fibapi"
)

const (
	ge1 = "GigabitEthernet0/1/0"
	ge2 = "GigabitEthernet0/2/0"
	ge3 = "GigabitEthernet0/3/0"
	ge4 = "GigabitEthernet0/4/0"
)

// vpnRoute is a BGP VPN route in red learned from PE2 (10.255.0.3) with VPN label 48130.
func vpnRoute(prefix string) Route {
	return Route{Prefix: pfx(prefix), Protocol: IBGP, NextHops: []NextHop{{
		Gateway: ip("10.255.0.3"), Instance: fibapi.Public, Labels: []uint32{48130}, Tunnel: true,
	}}}
}

// ingress is a static ingress LSP (explicit next hop).
func ingress(name, fec, nh string, out uint32) LSP {
	return LSP{Name: name, Role: Ingress, Instance: pub, FEC: pfx(fec), Explicit: true, Out: []LSPOut{{Gateway: ip(nh), Label: out}}}
}

// transit is a static transit LSP to a next hop.
func transit(name string, in uint32, nh string, out uint32) LSP {
	return LSP{Name: name, Role: Transit, Instance: pub, InLabel: in, Explicit: true, Out: []LSPOut{{Gateway: ip(nh), Label: out}}}
}

// egress is a static egress LSP.
func egress(name string, in uint32) LSP {
	return LSP{Name: name, Role: Egress, Instance: pub, InLabel: in, Explicit: true}
}

func ospf(prefix, gw, ifname string, cost uint32) Route {
	return Route{Prefix: pfx(prefix), Protocol: OSPF, Cost: cost, Key: gw, NextHops: []NextHop{{Gateway: ip(gw), Interface: ifname}}}
}

// status returns one LSP's status.
func (e *env) status(owner, name string) LSPStatus {
	e.t.Helper()
	st, err := e.r.LSP(owner, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
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
			e.must(e.r.AddRoute(pub, static("10.255.0.3/32", "198.51.100.2", 0)))
			e.flush()
			if got := e.fib.get("red", "172.16.3.0/24"); got != "" {
				t.Fatalf("VPN route without an LSP: %q", got)
			}
			if _, ok := e.r.TunnelTo(pub, ip("10.255.0.3")); ok {
				t.Fatal("TunnelTo without an LSP")
			}
			if got := e.fib.get(fibapi.Public, "10.255.0.3/32"); got != "fwd eth3>198.51.100.2" {
				t.Fatalf("loopback route: %q", got)
			}
			// The LSP: the loopback route takes it, the VPN route gets [LSP, VPN].
			e.must(e.r.SetLSPs(OwnerStatic, []LSP{ingress("to-pe2", "10.255.0.3/32", "198.51.100.2", tc.outLabel)}))
			b := e.flush()
			if got := e.fib.get("red", "172.16.3.0/24"); got != tc.want {
				t.Errorf("VPN route: %q, want %q", got, tc.want)
			}
			if st, ok := e.r.TunnelTo(pub, ip("10.255.0.3")); !ok || st.Owner != OwnerStatic || st.Name != "to-pe2" {
				t.Errorf("TunnelTo = %+v, %v", st, ok)
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
			if st := e.status(OwnerStatic, "to-pe2"); !st.Up || !st.Carrying || len(st.Hops) != 1 || st.Hops[0].Interface != ge3 {
				t.Errorf("LSP status %+v", st)
			}
			// The core link goes down: LSP down, VPN route withdrawn.
			e.must(e.r.SetInterface(port("eth3", ge3, pub, false, "198.51.100.1/30")))
			e.flush()
			if got := e.fib.get("red", "172.16.3.0/24"); got != "" {
				t.Errorf("VPN route with core down: %q", got)
			}
			if e.status(OwnerStatic, "to-pe2").Up {
				t.Error("LSP up with its interface down")
			}
			// Back up.
			e.must(e.r.SetInterface(port("eth3", ge3, pub, true, "198.51.100.1/30")))
			e.flush()
			if got := e.fib.get("red", "172.16.3.0/24"); got != tc.want {
				t.Errorf("VPN route after core up: %q, want %q", got, tc.want)
			}
			// The FEC route withdrawn: LSP down (no matching route), VPN route gone.
			e.must(e.r.DelRoute(pub, static("10.255.0.3/32", "198.51.100.2", 0).ID()))
			e.flush()
			if st := e.status(OwnerStatic, "to-pe2"); st.Up || e.fib.get("red", "172.16.3.0/24") != "" {
				t.Errorf("FEC route withdrawn: LSP %+v, VPN route %q", st, e.fib.get("red", "172.16.3.0/24"))
			}
		})
	}
}

func TestIngressLSPNeedsExactRoute(t *testing.T) {
	e := pe1(t)
	e.must(e.r.AddRoute(pub, static("10.255.0.0/24", "198.51.100.2", 0)))
	e.must(e.r.SetLSPs(OwnerStatic, []LSP{ingress("to-pe2", "10.255.0.3/32", "198.51.100.2", 100)}))
	e.flush()
	if e.status(OwnerStatic, "to-pe2").Up {
		t.Error("ingress LSP up with only a covering route")
	}
	// Plain IP traffic and recursive routes through an LSP's FEC are labelled.
	e.must(e.r.AddRoute(pub, static("10.255.0.3/32", "198.51.100.2", 0)))
	e.must(e.r.AddRoute(pub, static("172.20.0.0/16", "10.255.0.3", 0)))
	e.flush()
	if got := e.fib.get(fibapi.Public, "172.20.0.0/16"); got != "fwd eth3>198.51.100.2[100]" {
		t.Errorf("recursive route over the FEC: %q", got)
	}
	// The display keeps the IP route's own next hop and names the tunnel.
	s, _ := e.r.Snapshot(pub)
	for _, r := range s.Routes {
		if r.Prefix == pfx("10.255.0.3/32") {
			if r.NextHop != ip("198.51.100.2") || r.TunnelOwner != OwnerStatic || r.TunnelName != "to-pe2" || !slices.Equal(r.OutLabels, []uint32{100}) {
				t.Errorf("FEC route entry %+v", r)
			}
		}
	}
	// Replacing the LSP (same name, new out-label) changes the FIB in place.
	e.must(e.r.SetLSPs(OwnerStatic, []LSP{ingress("to-pe2", "10.255.0.3/32", "198.51.100.2", 200)}))
	if got, want := batchString(e.flush()), []string{
		"+_public_ 10.255.0.3/32 fwd eth3>198.51.100.2[200]",
		"+_public_ 172.20.0.0/16 fwd eth3>198.51.100.2[200]",
	}; !slices.Equal(got, want) {
		t.Errorf("replace: %q, want %q", got, want)
	}
	// Removing it returns the plain IP route.
	e.must(e.r.SetLSPs(OwnerStatic, nil))
	e.flush()
	if got := e.fib.get(fibapi.Public, "10.255.0.3/32"); got != "fwd eth3>198.51.100.2" {
		t.Errorf("after undo: %q", got)
	}
}

func TestTransitAndEgressLSPs(t *testing.T) {
	// P router: GE0/1/0 to PE1, GE0/2/0 to PE2.
	e := newEnv(t)
	e.must(e.r.SetInterface(port("eth1", ge1, pub, true, "198.51.100.2/30")))
	e.must(e.r.SetInterface(port("eth2", ge2, pub, true, "198.51.100.5/30")))
	b := e.flush()
	if len(b.Labels) != 0 {
		t.Errorf("labels without LSPs: %q", batchString(b))
	}
	tin := transit("t-in", 103, "198.51.100.6", 300)
	tin.InInterface, tin.Out[0].Interface = ge1, "gigabitethernet0/2/0" // case is ignored
	tenull := transit("t-enull", 102, "198.51.100.6", 0)
	tenull.Out[0].Interface = ge2
	ein := egress("e-in", 201)
	ein.InInterface = ge2
	lsps := []LSP{
		transit("t1", 100, "198.51.100.6", 200),
		transit("t-php", 101, "198.51.100.6", 3),
		tenull, tin, egress("e1", 200), ein,
	}
	e.must(e.r.SetLSPs(OwnerStatic, lsps))
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
	// eth2 down: every transit LSP (all leave through eth2) and e-in go down; e1 stays up.
	e.must(e.r.SetInterface(port("eth2", ge2, pub, false, "198.51.100.5/30")))
	if got, want := batchString(e.flush()), []string{
		"-L100", "-L101", "-L102", "-L103", "-L201",
		"-_public_ 198.51.100.4/30", "-_public_ 198.51.100.5/32", "-_public_ 198.51.100.7/32",
	}; !slices.Equal(got, want) {
		t.Errorf("eth2 down: %q, want %q", got, want)
	}
	up := map[string]bool{}
	for _, s := range e.r.LSPs(OwnerStatic) {
		up[s.Name] = s.Up
	}
	if !slices.Equal(sortedKeys(up), []string{"e-in", "e1", "t-enull", "t-in", "t-php", "t1"}) || !up["e1"] || up["t1"] || up["e-in"] {
		t.Errorf("status %v", up)
	}
	// Removing LSPs removes their label entries.
	e.must(e.r.SetInterface(port("eth2", ge2, pub, true, "198.51.100.5/30")))
	e.flush()
	e.must(e.r.SetLSPs(OwnerStatic, lsps[:1]))
	if got, want := batchString(e.flush()), []string{"-L101", "-L102", "-L103", "-L200", "-L201"}; !slices.Equal(got, want) {
		t.Errorf("after removing LSPs: %q, want %q", got, want)
	}
	// Moving a label from one LSP to another in one set works.
	e.must(e.r.SetLSPs(OwnerStatic, []LSP{transit("t9", 100, "198.51.100.6", 201)}))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+L100 swap eth2>198.51.100.6[201]"}) {
		t.Errorf("label moved: %q", got)
	}
	if _, err := e.r.LSP(OwnerStatic, "t1"); !errors.Is(err, ErrNoLSP) {
		t.Errorf("removed LSP: %v", err)
	}
}

func TestValidateLSPs(t *testing.T) {
	bad := [][]LSP{
		{{Name: "", Role: Egress, Instance: pub, InLabel: 100}},
		{egress("a", 100), egress("a", 101)},
		{egress("a", 3)},
		{{Name: "a", Role: Egress, InLabel: 100}}, // no instance
		{egress("a", 100), egress("b", 100)},
		{{Name: "a", Role: Transit, Instance: pub, InLabel: 100, Explicit: true, Out: []LSPOut{{Label: 200}}}},
		{transit("a", 100, "1.1.1.1", 7)},
		{{Name: "a", Role: Transit, Instance: pub, InLabel: 100, Out: []LSPOut{{Gateway: ip("1.1.1.1"), Label: 200}}}}, // follows no FEC
		{{Name: "a", Role: Ingress, Instance: pub, Explicit: true, Out: []LSPOut{{Gateway: ip("1.1.1.1"), Label: 100}}}},
		{ingress("a", "1.1.1.1/32", "2.2.2.2", 100), ingress("b", "1.1.1.1/32", "2.2.2.2", 101)},
		{{Name: "a", Role: LSPRole(9), Instance: pub}},
		{{Name: "a", Role: Egress, Instance: pub, InLabel: 100, Out: []LSPOut{{Label: 3}}}},
		{{Name: "a", Role: Ingress, Instance: pub, FEC: pfx("1.1.1.1/32")}}, // no out-label
	}
	for i, set := range bad {
		if err := ValidateLSPs(OwnerLDP, set); !errors.Is(err, ErrBadLSP) {
			t.Errorf("set %d: %v, want ErrBadLSP", i, err)
		}
		if err := New(Options{}).SetLSPs(OwnerLDP, set); !errors.Is(err, ErrBadLSP) {
			t.Errorf("set %d: SetLSPs: %v, want ErrBadLSP", i, err)
		}
	}
	if err := ValidateLSPs("", nil); !errors.Is(err, ErrBadLSP) {
		t.Errorf("no owner: %v", err)
	}
	if err := ValidateLSPs(OwnerStatic, []LSP{ingress("a", "1.1.1.1/32", "2.2.2.2", 3)}); err != nil {
		t.Error(err)
	}
	if _, err := New(Options{}).LSP(OwnerStatic, "nope"); !errors.Is(err, ErrNoLSP) {
		t.Errorf("unknown LSP: %v", err)
	}
}

func TestVPNRouteECMPUnderlay(t *testing.T) {
	// A labelled route resolved over an ECMP route gets the label on every path.
	e := pe1(t)
	e.must(e.r.SetInterface(port("eth4", ge4, pub, true, "198.51.100.9/30")))
	e.must(e.r.AddRoute(pub, static("10.255.0.0/24", "198.51.100.2", 0)))
	e.must(e.r.AddRoute(pub, static("10.255.0.0/24", "198.51.100.10", 0)))
	r := vpnRoute("172.16.3.0/24")
	r.NextHops[0].Tunnel = false
	r.Protocol = EBGP
	e.must(e.r.AddRoute("red", r))
	e.flush()
	if got := e.fib.get("red", "172.16.3.0/24"); got != "fwd eth3>198.51.100.2[48130] eth4>198.51.100.10[48130]" {
		t.Errorf("labelled route over ECMP: %q", got)
	}
}

// ldpPE1 is PE1 with two core links (GE0/3/0 to P1, GE0/4/0 to P2) and
// OSPF routes to PE2's loopback over both, of equal cost.
func ldpPE1(t *testing.T) *env {
	e := pe1(t)
	e.must(e.r.SetInterface(port("eth4", ge4, pub, true, "198.51.100.9/30")))
	e.must(e.r.AddRoute(pub, ospf("10.255.0.3/32", "198.51.100.2", ge3, 20)))
	e.must(e.r.AddRoute(pub, ospf("10.255.0.3/32", "198.51.100.10", ge4, 20)))
	e.flush()
	return e
}

// An LDP LSP follows its FEC's route: ECMP routes give an ECMP LSP with the
// label each neighbour advertised, an IGP change moves it, a next hop
// without a label is left out, and transit entries swap per next hop.
func TestLDPLSPFollowsIGP(t *testing.T) {
	e := ldpPE1(t)
	fec := pfx("10.255.0.3/32")
	ldp := []LSP{
		{Name: "10.255.0.3/32", Role: Ingress, Instance: pub, FEC: fec, Out: []LSPOut{
			{Gateway: ip("198.51.100.2"), Label: 48001}, {Gateway: ip("198.51.100.10"), Label: 48101}}},
		{Name: "10.255.0.3/32 transit", Role: Transit, Instance: pub, FEC: fec, InLabel: 48500, Out: []LSPOut{
			{Gateway: ip("198.51.100.2"), Label: 48001}, {Gateway: ip("198.51.100.10"), Label: 3}}},
	}
	e.must(e.r.SetLSPs(OwnerLDP, ldp))
	e.must(e.r.AddRoute("red", vpnRoute("172.16.3.0/24")))
	if got, want := batchString(e.flush()), []string{
		"+L48500 swap eth3>198.51.100.2[48001] eth4>198.51.100.10",
		"+_public_ 10.255.0.3/32 fwd eth3>198.51.100.2[48001] eth4>198.51.100.10[48101]",
		"+red 172.16.3.0/24 fwd eth3>198.51.100.2[48001,48130] eth4>198.51.100.10[48101,48130]",
	}; !slices.Equal(got, want) {
		t.Errorf("ECMP LSP: %q, want %q", got, want)
	}
	if st := e.status(OwnerLDP, "10.255.0.3/32"); !st.Up || !st.Carrying || len(st.Hops) != 2 {
		t.Errorf("status %+v", st)
	}
	// The IGP moves: the path through P2 gets cheaper, the LSP follows.
	e.must(e.r.AddRoute(pub, ospf("10.255.0.3/32", "198.51.100.10", ge4, 10)))
	if got, want := batchString(e.flush()), []string{
		"+L48500 swap eth4>198.51.100.10",
		"+_public_ 10.255.0.3/32 fwd eth4>198.51.100.10[48101]",
		"+red 172.16.3.0/24 fwd eth4>198.51.100.10[48101,48130]",
	}; !slices.Equal(got, want) {
		t.Errorf("IGP change: %q, want %q", got, want)
	}
	// P2 withdraws its label: no next hop of the route has one, the LSP is
	// down, the FEC route is plain IP again and the VPN route has no tunnel.
	ldp[0].Out, ldp[1].Out = ldp[0].Out[:1], ldp[1].Out[:1]
	e.must(e.r.UpdateLSPs(OwnerLDP, ldp, nil))
	if got, want := batchString(e.flush()), []string{
		"+_public_ 10.255.0.3/32 fwd eth4>198.51.100.10",
		"-L48500",
		"-red 172.16.3.0/24",
	}; !slices.Equal(got, want) {
		t.Errorf("label withdrawn: %q, want %q", got, want)
	}
	if st := e.status(OwnerLDP, "10.255.0.3/32"); st.Up || st.Carrying {
		t.Errorf("status %+v", st)
	}
	// The IGP goes back to ECMP: the LSP takes the path that has a label.
	e.must(e.r.AddRoute(pub, ospf("10.255.0.3/32", "198.51.100.10", ge4, 20)))
	if got, want := batchString(e.flush()), []string{
		"+L48500 swap eth3>198.51.100.2[48001]",
		"+_public_ 10.255.0.3/32 fwd eth3>198.51.100.2[48001]",
		"+red 172.16.3.0/24 fwd eth3>198.51.100.2[48001,48130]",
	}; !slices.Equal(got, want) {
		t.Errorf("back to ECMP: %q, want %q", got, want)
	}
	// The route goes: everything goes.
	if _, err := e.r.DelRoutes(pub, OSPF, fec); err != nil {
		t.Fatal(err)
	}
	if got, want := batchString(e.flush()), []string{"-L48500", "-_public_ 10.255.0.3/32", "-red 172.16.3.0/24"}; !slices.Equal(got, want) {
		t.Errorf("route gone: %q, want %q", got, want)
	}
	// Deleting one LSP of the owner keeps the other.
	e.must(e.r.AddRoute(pub, ospf("10.255.0.3/32", "198.51.100.2", ge3, 20)))
	e.must(e.r.UpdateLSPs(OwnerLDP, nil, []string{"10.255.0.3/32"}))
	if got, want := batchString(e.flush()), []string{
		"+L48500 swap eth3>198.51.100.2[48001]",
		"+_public_ 10.255.0.3/32 fwd eth3>198.51.100.2",
	}; !slices.Equal(got, want) {
		t.Errorf("one LSP deleted: %q, want %q", got, want)
	}
	if n := len(e.r.LSPs(OwnerLDP)); n != 1 {
		t.Errorf("%d LDP LSPs left", n)
	}
}

// A recursive FEC route (a BGP route over the IGP) matches out-labels by the
// next hop it names, below the labels of its own path.
func TestFollowLSPOverRecursiveRoute(t *testing.T) {
	e := ldpPE1(t)
	e.must(e.r.SetLSPs(OwnerLDP, []LSP{{Name: "pe2", Role: Ingress, Instance: pub, FEC: pfx("10.255.0.3/32"), Out: []LSPOut{
		{Gateway: ip("198.51.100.2"), Label: 48001}, {Gateway: ip("198.51.100.10"), Label: 48101}}}}))
	e.must(e.r.AddRoute(pub, Route{Prefix: pfx("10.9.9.9/32"), Protocol: IBGP, NextHops: []NextHop{{Gateway: ip("10.255.0.3")}}}))
	e.must(e.r.SetLSPs(OwnerBGP, []LSP{{Name: "lu", Role: Ingress, Instance: pub, FEC: pfx("10.9.9.9/32"), Out: []LSPOut{
		{Gateway: ip("10.255.0.3"), Label: 60000}}}}))
	e.flush()
	if got := e.fib.get(pub, "10.9.9.9/32"); got != "fwd eth3>198.51.100.2[48001,60000] eth4>198.51.100.10[48101,60000]" {
		t.Errorf("labelled route over an LDP LSP: %q", got)
	}
}

// Two owners' ingress LSPs for one FEC: the first Up one in owner order
// carries the traffic; when it goes, the next one does.
func TestOwnersShareFEC(t *testing.T) {
	e := ldpPE1(t)
	e.must(e.r.SetLSPs(OwnerLDP, []LSP{{Name: "pe2", Role: Ingress, Instance: pub, FEC: pfx("10.255.0.3/32"), Out: []LSPOut{
		{Gateway: ip("198.51.100.10"), Label: 48101}}}}))
	e.must(e.r.SetLSPs(OwnerStatic, []LSP{ingress("to-pe2", "10.255.0.3/32", "198.51.100.2", 100)}))
	e.flush()
	if got := e.fib.get(pub, "10.255.0.3/32"); got != "fwd eth3>198.51.100.2[100]" {
		t.Errorf("static and LDP: %q", got)
	}
	if st, ok := e.r.TunnelTo(pub, ip("10.255.0.3")); !ok || st.Owner != OwnerStatic {
		t.Errorf("TunnelTo = %+v, %v", st, ok)
	}
	if st := e.status(OwnerLDP, "pe2"); !st.Up || st.Carrying {
		t.Errorf("LDP LSP %+v: up, not carrying", st)
	}
	e.must(e.r.SetLSPs(OwnerStatic, nil))
	e.flush()
	if got := e.fib.get(pub, "10.255.0.3/32"); got != "fwd eth4>198.51.100.10[48101]" {
		t.Errorf("LDP alone: %q", got)
	}
	if st, ok := e.r.TunnelTo(pub, ip("10.255.0.3")); !ok || st.Owner != OwnerLDP {
		t.Errorf("TunnelTo = %+v, %v", st, ok)
	}
	// Display of the FEC route names the LDP LSP.
	s, _ := e.r.Snapshot(pub)
	for _, r := range s.Exact(pfx("10.255.0.3/32")).Routes {
		if r.Active && (r.TunnelOwner != OwnerLDP || r.TunnelName != "pe2") {
			t.Errorf("route entry %+v", r)
		}
	}
}

// An in-label programmed by one owner is not taken by another: the second
// LSP waits, down, and gets the label when the first goes.
func TestInLabelConflictWaits(t *testing.T) {
	e := pe1(t)
	e.must(e.r.SetLSPs(OwnerVPNInstance, []LSP{{Name: "red", Role: Egress, Instance: "red", InLabel: 500}}))
	e.must(e.r.SetLSPs(OwnerStatic, []LSP{egress("e", 500)}))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+L500 pop red"}) {
		t.Errorf("batch %q", got)
	}
	if e.status(OwnerStatic, "e").Up || !e.status(OwnerVPNInstance, "red").Up {
		t.Error("the second LSP of label 500 is up")
	}
	e.must(e.r.SetLSPs(OwnerVPNInstance, nil))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+L500 pop _public_"}) {
		t.Errorf("batch %q", got)
	}
	if !e.status(OwnerStatic, "e").Up {
		t.Error("the waiting LSP did not get the label")
	}
}

// Egress LSPs: without a FEC they pop into their instance (a per-instance
// VPN label) while it exists; with a FEC that has a forwarding route they
// send the packet along it (a per-route VPN label towards a CE); with a
// FEC that is an own address they pop into the instance.
func TestEgressLSPs(t *testing.T) {
	e := pe1(t)
	e.must(e.r.AddRoute("red", static("172.16.1.0/24", "192.0.2.2", 0)))
	e.must(e.r.SetLSPs(OwnerVPNInstance, []LSP{{Name: "red", Role: Egress, Instance: "red", InLabel: 48000}}))
	e.must(e.r.SetLSPs(OwnerBGP, []LSP{
		{Name: "172.16.1.0/24", Role: Egress, Instance: "red", FEC: pfx("172.16.1.0/24"), InLabel: 48001},
		{Name: "192.0.2.1/32", Role: Egress, Instance: "red", FEC: pfx("192.0.2.1/32"), InLabel: 48002},
		{Name: "172.16.9.0/24", Role: Egress, Instance: "red", FEC: pfx("172.16.9.0/24"), InLabel: 48003},
	}))
	if got, want := batchString(e.flush()), []string{
		"+L48000 pop red",
		"+L48001 swap eth1>192.0.2.2",
		"+L48002 pop red",
		"+red 172.16.1.0/24 fwd eth1>192.0.2.2",
	}; !slices.Equal(got, want) {
		t.Errorf("egress entries %q, want %q", got, want)
	}
	if e.status(OwnerBGP, "172.16.9.0/24").Up {
		t.Error("egress LSP up without a route to its FEC")
	}
	// The CE route appears: the third one comes up.
	e.must(e.r.AddRoute("red", static("172.16.9.0/24", "192.0.2.2", 0)))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+L48003 swap eth1>192.0.2.2", "+red 172.16.9.0/24 fwd eth1>192.0.2.2"}) {
		t.Errorf("route appears: %q", got)
	}
	// The instance goes: every entry goes; it comes back with it.
	e.must(e.r.DelInstance("red"))
	b := e.flush()
	for _, l := range []string{"-L48000", "-L48001", "-L48002", "-L48003"} {
		if !slices.Contains(batchString(b), l) {
			t.Errorf("instance deleted: %s missing from %q", l, batchString(b))
		}
	}
	e.must(e.r.AddInstance("red"))
	if got := batchString(e.flush()); !slices.Contains(got, "+L48000 pop red") {
		t.Errorf("instance back: %q", got)
	}
}

func TestUpdateLSPsRefusesTwoIngressPerFEC(t *testing.T) {
	e := pe1(t)
	e.must(e.r.SetLSPs(OwnerLDP, []LSP{{Name: "a", Role: Ingress, Instance: pub, FEC: pfx("10.255.0.3/32"), Out: []LSPOut{{Gateway: ip("198.51.100.2"), Label: 48001}}}}))
	err := e.r.UpdateLSPs(OwnerLDP, []LSP{{Name: "b", Role: Ingress, Instance: pub, FEC: pfx("10.255.0.3/32"), Out: []LSPOut{{Gateway: ip("198.51.100.2"), Label: 48002}}}}, nil)
	if !errors.Is(err, ErrBadLSP) {
		t.Errorf("second ingress LSP of a FEC: %v", err)
	}
	// Replacing a with b in one update is fine.
	e.must(e.r.UpdateLSPs(OwnerLDP, []LSP{{Name: "b", Role: Ingress, Instance: pub, FEC: pfx("10.255.0.3/32"), Out: []LSPOut{{Gateway: ip("198.51.100.2"), Label: 48002}}}}, []string{"a"}))
	if got := e.r.LSPs(OwnerLDP); len(got) != 1 || got[0].Name != "b" {
		t.Errorf("LSPs %+v", got)
	}
}

// TestTunnelToConnectedNeighbourHostRoute: a host route to a directly
// connected neighbour through itself (ip route-static 198.51.100.2 32
// 198.51.100.2) resolves over the connected subnet, is the FEC of an ingress
// LSP (static or LDP, out-label 3 or a real one), and gives a VPN route with
// that next hop its tunnel.
func TestTunnelToConnectedNeighbourHostRoute(t *testing.T) {
	nb := "198.51.100.2"
	nbRoute := func(prefix string) Route {
		r := vpnRoute(prefix)
		r.NextHops[0].Gateway = ip(nb)
		return r
	}
	tests := []struct {
		name  string
		owner string
		lsp   LSP
		want  string
	}{
		{"static, implicit null", OwnerStatic, ingress("to-nb", nb+"/32", nb, 3), "fwd eth3>198.51.100.2[48130]"},
		{"static, label", OwnerStatic, ingress("to-nb", nb+"/32", nb, 100), "fwd eth3>198.51.100.2[100,48130]"},
		{"ldp, implicit null", OwnerLDP, LSP{Name: nb + "/32", Role: Ingress, Instance: pub, FEC: pfx(nb + "/32"),
			Out: []LSPOut{{Gateway: ip(nb), Label: 3}}}, "fwd eth3>198.51.100.2[48130]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := pe1(t)
			e.must(e.r.AddRoute(pub, static(nb+"/32", nb, 0)))
			e.must(e.r.AddRoute("red", nbRoute("172.16.3.0/24")))
			e.flush()
			if got := e.fib.get(fibapi.Public, nb+"/32"); got != "fwd eth3>198.51.100.2" {
				t.Fatalf("host route through itself: %q", got)
			}
			if got := e.fib.get("red", "172.16.3.0/24"); got != "" {
				t.Fatalf("VPN route without an LSP: %q", got)
			}
			e.must(e.r.SetLSPs(tc.owner, []LSP{tc.lsp}))
			e.flush()
			if st, ok := e.r.TunnelTo(pub, ip(nb)); !ok || st.Owner != tc.owner {
				t.Fatalf("TunnelTo = %+v, %v", st, ok)
			}
			if got := e.fib.get("red", "172.16.3.0/24"); got != tc.want {
				t.Errorf("VPN route: %q, want %q", got, tc.want)
			}
		})
	}
}
