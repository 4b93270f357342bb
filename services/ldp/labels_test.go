package ldp

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/ldp/packet"
	"vpnos/services/rib"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// lineOf3 is PE1 - P - PE2 with loopbacks .1 .2 .3, converged.
func lineOf3(t *testing.T, mod func(n *simNode, c *Config)) (*sim, []*simNode) {
	t.Helper()
	s := newSim(t)
	nodes := line(s, 3)
	s.enableAll(mod)
	s.installRoutes()
	if !s.runUntil(time.Minute, s.allOperational) {
		t.Fatalf("sessions not operational: %v %v %v", nodes[0].states, nodes[1].states, nodes[2].states)
	}
	s.run(time.Second)
	return s, nodes
}

func TestLineConverges(t *testing.T) {
	s, n := lineOf3(t, nil)
	if !s.fullLSPs() {
		t.Fatalf("LSPs missing: %v / %v / %v", n[0].lsps, n[1].lsps, n[2].lsps)
	}
	lo := func(i int) netip.Prefix { return netip.PrefixFrom(n[i].lsrID, 32) }
	// PE1 -> PE2: ingress at r0 with r1's label, transit at r1 popping
	// (r2 advertised implicit null), egress at r2 with nothing to program.
	in := n[0].lsps[lo(2)]
	transit := n[1].lsps[lo(2)]
	eg := n[2].lsps[lo(2)]
	if !eg.Egress || eg.Local != packet.LabelImplicitNull || len(eg.NextHops) != 0 {
		t.Errorf("egress %+v", eg)
	}
	if r := eg.RIBLSPs(); len(r) != 0 {
		t.Errorf("implicit-null egress programs %+v", r)
	}
	if !transit.Ingress || !transit.Transit() || len(transit.NextHops) != 1 || transit.NextHops[0].Out != packet.LabelImplicitNull ||
		transit.NextHops[0].Gateway != addr("10.0.0.6") || transit.NextHops[0].Interface != "east" || transit.NextHops[0].Peer != n[2].lsrID {
		t.Errorf("transit %+v", transit)
	}
	// r1 is ingress and transit: two RIB LSPs, the transit one popping
	// (PHP: r2 advertised implicit null).
	wantOut := []rib.LSPOut{{Gateway: addr("10.0.0.6"), Label: 3}}
	if r := transit.RIBLSPs(); len(r) != 2 || r[0].Role != rib.Ingress || r[1].Role != rib.Transit ||
		r[1].InLabel != transit.Local || r[1].Name != "transit 10.255.0.3/32" || !slices.Equal(r[1].Out, wantOut) ||
		!slices.Equal(r[0].Out, wantOut) || r[0].Instance != fibapi.Public || rib.ValidateLSPs(rib.OwnerLDP, r) != nil {
		t.Errorf("r1 RIB LSPs %+v", r)
	}
	if !in.Ingress || in.Transit() != true || len(in.NextHops) != 1 || in.NextHops[0].Out != transit.Local || in.NextHops[0].Gateway != addr("10.0.0.2") {
		t.Errorf("ingress %+v (transit label %d)", in, transit.Local)
	}
	if r := in.RIBLSPs(); len(r) != 2 || r[0].Role != rib.Ingress || r[0].Out[0].Label != transit.Local || r[0].Out[0].Gateway != addr("10.0.0.2") {
		t.Errorf("r0 RIB LSPs %+v", r)
	}
	// r1's loopback seen from r0: implicit null, nothing pushed.
	if l := n[0].lsps[lo(1)]; len(l.NextHops) != 1 || l.NextHops[0].Out != packet.LabelImplicitNull || l.RIBLSPs()[0].Out[0].Label != 3 {
		t.Errorf("r0 -> r1 %+v", l)
	}
	// Host trigger: the /30 link subnets get no LSP.
	for _, node := range n {
		for p := range node.lsps {
			if p.Bits() != 32 {
				t.Errorf("%s has an LSP for %v with lsp-trigger host", node.name, p)
			}
		}
	}
}

// TestOrderedControl: the transit router advertises a label for a remote
// FEC only once its downstream next hop mapped it.
func TestOrderedControl(t *testing.T) {
	s := newSim(t)
	n := line(s, 3)
	// r2 does not run LDP yet.
	s.enableAll(func(node *simNode, c *Config) {
		if node == n[2] {
			c.Enabled = false
		}
	})
	s.installRoutes()
	s.run(30 * time.Second)
	lo2 := netip.PrefixFrom(n[2].lsrID, 32)
	if _, ok := n[1].lsps[lo2]; ok {
		t.Fatalf("r1 has an LSP to r2 without r2's mapping")
	}
	if _, ok := n[0].core.peers[n[1].lsrID].recv[lo2]; ok {
		t.Fatalf("r1 advertised r2's loopback before r2 did")
	}
	if _, ok := n[0].core.peers[n[1].lsrID].recv[netip.PrefixFrom(n[1].lsrID, 32)]; !ok {
		t.Fatalf("r1 did not advertise its own loopback")
	}
	s.step(n[2], ConfigChanged{Config: Config{Enabled: true, LSRID: n[2].lsrID, Interfaces: []InterfaceConfig{{Name: "west"}}}})
	if !s.runUntil(time.Minute, s.fullLSPs) {
		t.Fatalf("no full mesh after r2 joined: %v", n[0].lsps)
	}
}

// TestRouteWithdrawal: a route that goes withdraws its label upstream; the
// upstream peer releases it and the label returns to the allocator.
func TestRouteWithdrawal(t *testing.T) {
	s, n := lineOf3(t, nil)
	lo2 := netip.PrefixFrom(n[2].lsrID, 32)
	label := n[1].lsps[lo2].Local
	if label < 48000 {
		t.Fatalf("transit label %d", label)
	}
	n[1].actions = nil
	s.step(n[1], RoutesChanged{Delete: []netip.Prefix{lo2}})
	s.drain()
	if _, ok := n[1].lsps[lo2]; ok {
		t.Fatal("r1 still has the LSP")
	}
	if _, ok := n[0].lsps[lo2]; ok {
		t.Fatal("r0 still has the LSP")
	}
	// The withdraw went to both peers (both had been sent the label).
	sent := sentMessages(t, n[1].actions)
	if w := filterType[*packet.LabelWithdraw](sent); len(w) != 2 || w[0].Label != label || w[0].FEC.Prefixes[0] != lo2 {
		t.Fatalf("withdraws %+v", w)
	}
	if !slices.Contains(n[1].alloc.freed, label) || n[1].alloc.used[label] {
		t.Fatalf("label %d not freed after the releases (freed %v)", label, n[1].alloc.freed)
	}
	// r0 keeps r2's (liberal) mapping? It came from r1, which withdrew it.
	if _, ok := n[0].core.peers[n[1].lsrID].recv[lo2]; ok {
		t.Fatal("r0 kept a withdrawn label")
	}
	// The route comes back: a new label is advertised and the LSP returns.
	s.installRoutes()
	s.drain()
	if !s.fullLSPs() {
		t.Fatal("LSPs did not come back")
	}
	if nl := n[1].lsps[lo2].Local; nl == label {
		t.Fatalf("label %d reused at once", nl)
	}
}

// TestSessionLossWithdraws: when the session to the downstream peer goes,
// the LSP goes and the label is withdrawn from the upstream peer.
func TestSessionLossWithdraws(t *testing.T) {
	s, n := lineOf3(t, nil)
	lo2 := netip.PrefixFrom(n[2].lsrID, 32)
	// r2 disables LDP: a Shutdown Notification ends the session with r1.
	n[2].actions = nil
	s.step(n[2], ConfigChanged{Config: Config{LSRID: n[2].lsrID}})
	s.drain()
	sent := sentMessages(t, n[2].actions)
	if nt := filterType[*packet.Notification](sent); len(nt) != 1 || nt[0].Status.Code != packet.StatusShutdown {
		t.Fatalf("notifications %+v", nt)
	}
	if !hasClose(n[2].actions) {
		t.Fatal("r2 did not close the connection")
	}
	if len(n[2].lsps) != 0 {
		t.Fatalf("r2 keeps LSPs %v", n[2].lsps)
	}
	if n[1].states[n[2].lsrID] != NonExistent {
		t.Fatalf("r1's session with r2 is %v", n[1].states[n[2].lsrID])
	}
	if _, ok := n[1].lsps[lo2]; ok {
		t.Fatal("r1 kept the LSP to r2")
	}
	if _, ok := n[0].lsps[lo2]; ok {
		t.Fatal("r0 kept the LSP to r2")
	}
	if len(n[2].alloc.used) != 0 {
		t.Fatalf("r2 holds labels %v", n[2].alloc.used)
	}
}

// TestRouteChangeMovesLSP: a square r0-r1-r3, r0-r2-r3; the route to r3
// moves from r1 to r2 and the LSP follows at once (liberal retention: r2's
// label is already there); ECMP gives two next hops.
func TestRouteChangeMovesLSP(t *testing.T) {
	s := newSim(t)
	r0 := s.node("r0", "10.255.0.1")
	r1 := s.node("r1", "10.255.0.2")
	r2 := s.node("r2", "10.255.0.3")
	r3 := s.node("r3", "10.255.0.4")
	s.link(r0, "e1", "10.0.1.1/30", r1, "e1", "10.0.1.2/30")
	s.link(r0, "e2", "10.0.2.1/30", r2, "e1", "10.0.2.2/30")
	s.link(r1, "e2", "10.0.3.1/30", r3, "e1", "10.0.3.2/30")
	s.link(r2, "e2", "10.0.4.1/30", r3, "e2", "10.0.4.2/30")
	s.enableAll(nil)
	s.installRoutes()
	if !s.runUntil(time.Minute, s.fullLSPs) {
		t.Fatalf("no full mesh: %v", r0.lsps)
	}
	lo3 := pfx("10.255.0.4/32")
	l := r0.lsps[lo3]
	if len(l.NextHops) != 2 || l.NextHops[0].Peer != r1.lsrID || l.NextHops[1].Peer != r2.lsrID {
		t.Fatalf("ECMP LSP %+v", l)
	}
	if l.NextHops[0].Out != r1.lsps[lo3].Local || l.NextHops[1].Out != r2.lsps[lo3].Local {
		t.Fatalf("out labels %+v, want r1 %d and r2 %d", l.NextHops, r1.lsps[lo3].Local, r2.lsps[lo3].Local)
	}
	if r := r1.lsps[lo3].RIBLSPs(); len(r) != 2 || len(r[1].Out) != 1 || r[1].Role != rib.Transit {
		t.Fatalf("r1 transit %+v", r)
	}
	// The IGP now prefers r2 alone.
	r0.actions = nil
	s.step(r0, RoutesChanged{Set: []Route{{Prefix: lo3, NextHops: []NextHop{{Gateway: addr("10.0.2.2"), Interface: "e2"}}}}})
	l = r0.lsps[lo3]
	if len(l.NextHops) != 1 || l.NextHops[0].Peer != r2.lsrID || l.NextHops[0].Out != r2.lsps[lo3].Local {
		t.Fatalf("LSP did not move: %+v", l)
	}
	// The local label stays: nothing is withdrawn upstream.
	if w := filterType[*packet.LabelWithdraw](sentMessages(t, r0.actions)); len(w) != 0 {
		t.Fatalf("withdraws on a path change: %+v", w)
	}
	// A next hop through an interface without LDP is not used.
	s.step(r0, ConfigChanged{Config: Config{Enabled: true, LSRID: r0.lsrID, Interfaces: []InterfaceConfig{{Name: "e1"}}}})
	s.drain()
	if _, ok := r0.lsps[lo3]; ok {
		t.Fatalf("LSP through e2 after `undo mpls ldp` there: %+v", r0.lsps[lo3])
	}
}

func TestTriggerAndAdvertise(t *testing.T) {
	tests := []struct {
		name      string
		trigger   Trigger
		advertise Advertise
		// wantSubnet: r0 has an ingress LSP to the r1-r2 link subnet.
		wantSubnet bool
		wantHost   bool
		egress     func(l uint32) bool
	}{
		{"host, implicit null", TriggerHost, AdvertiseImplicitNull, false, true, func(l uint32) bool { return l == 3 }},
		{"all, explicit null", TriggerAll, AdvertiseExplicitNull, true, true, func(l uint32) bool { return l == 0 }},
		{"all, non-null", TriggerAll, AdvertiseNonNull, true, true, func(l uint32) bool { return l >= 48000 }},
		{"none", TriggerNone, AdvertiseImplicitNull, false, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t)
			n := line(s, 3)
			s.enableAll(func(_ *simNode, c *Config) { c.Trigger, c.Advertise = tc.trigger, tc.advertise })
			s.installRoutes()
			s.run(time.Minute)
			subnet := pfx("10.0.0.4/30")
			lo2 := netip.PrefixFrom(n[2].lsrID, 32)
			_, gotSubnet := n[0].lsps[subnet]
			if gotSubnet != tc.wantSubnet {
				t.Errorf("LSP to the subnet: %v", gotSubnet)
			}
			l, gotHost := n[0].lsps[lo2]
			if gotHost != tc.wantHost || (gotHost && !l.Ingress) {
				t.Errorf("ingress LSP to r2: %+v %v", l, gotHost)
			}
			eg, ok := n[2].lsps[lo2]
			if tc.egress == nil {
				if ok {
					t.Errorf("egress LSP with trigger none: %+v", eg)
				}
				// Transit still follows mappings (VRP's propagate
				// mapping): none here since nobody is egress.
				return
			}
			if !ok || !eg.Egress || !tc.egress(eg.Local) {
				t.Fatalf("egress %+v", eg)
			}
			r := eg.RIBLSPs()
			if tc.advertise == AdvertiseNonNull {
				if len(r) != 1 || r[0].Role != rib.Egress || r[0].InLabel != eg.Local || r[0].Name != "egress 10.255.0.3/32" ||
					rib.ValidateLSPs(rib.OwnerLDP, r) != nil {
					t.Errorf("non-null egress %+v", r)
				}
			} else if len(r) != 0 {
				t.Errorf("null egress programs %+v", r)
			}
			// The penultimate hop swaps to what the egress advertised.
			if tr := n[1].lsps[lo2]; len(tr.NextHops) != 1 || tr.NextHops[0].Out != eg.Local {
				t.Errorf("r1 -> r2 %+v, egress label %d", tr, eg.Local)
			}
		})
	}
}

// TestAdvertiseModeChange: switching `label advertise` replaces the
// egress label at the upstream peers (withdraw, then the new mapping).
func TestAdvertiseModeChange(t *testing.T) {
	s, n := lineOf3(t, nil)
	lo2 := netip.PrefixFrom(n[2].lsrID, 32)
	cfg := n[2].core.Config()
	cfg.Advertise = AdvertiseNonNull
	s.step(n[2], ConfigChanged{Config: cfg})
	s.drain()
	eg := n[2].lsps[lo2]
	if eg.Local < 48000 {
		t.Fatalf("egress label %d", eg.Local)
	}
	if got := n[1].lsps[lo2].NextHops[0].Out; got != eg.Local {
		t.Fatalf("r1 out label %d, want %d", got, eg.Local)
	}
	cfg.Advertise = AdvertiseImplicitNull
	s.step(n[2], ConfigChanged{Config: cfg})
	s.drain()
	if got := n[1].lsps[lo2].NextHops[0].Out; got != 3 {
		t.Fatalf("r1 out label %d after implicit null", got)
	}
	if !slices.Contains(n[2].alloc.freed, eg.Local) {
		t.Fatalf("non-null label %d not freed", eg.Local)
	}
}

// TestLiberalRetention: labels from a peer that is not the next hop are
// kept (and shown as liberal), not released.
func TestLiberalRetention(t *testing.T) {
	_, n := lineOf3(t, nil)
	lo0 := netip.PrefixFrom(n[0].lsrID, 32)
	// r1 receives r2's label for r0's loopback although r2 is upstream.
	p2 := n[1].core.peers[n[2].lsrID]
	if _, ok := p2.recv[lo0]; !ok {
		t.Fatalf("r1 did not keep r2's mapping for r0: %v", p2.recv)
	}
	if rel := filterType[*packet.LabelRelease](sentMessages(t, n[1].actions)); len(rel) != 0 {
		t.Fatalf("r1 released labels: %+v", rel)
	}
}

func TestAllocatorExhausted(t *testing.T) {
	s := newSim(t)
	n := line(s, 3)
	n[1].alloc.fail = true
	s.enableAll(nil)
	s.installRoutes()
	s.run(time.Minute)
	lo2 := netip.PrefixFrom(n[2].lsrID, 32)
	// r1 has no label to give: it is still an ingress, but r0 gets no LSP.
	if l := n[1].lsps[lo2]; !l.Ingress || l.Local != NoLabel || l.Transit() {
		t.Fatalf("r1 %+v", l)
	}
	if _, ok := n[0].lsps[lo2]; ok {
		t.Fatal("r0 has an LSP through r1 without a label")
	}
}

// TestLine200 is the benchmark's topology, checked once.
func TestLine200(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := newSim(t)
	s.record = false
	line(s, 200)
	s.enableAll(nil)
	s.installRoutes()
	if !s.runUntil(10*time.Minute, s.fullLSPs) {
		t.Fatal("200-router line did not converge")
	}
}

// TestRIBUpdate: a change becomes UpdateLSPs arguments the RIB accepts,
// and roles a FEC loses are deleted by name.
func TestRIBUpdate(t *testing.T) {
	ch := LSPsChanged{
		Set: []LSP{
			{FEC: pfx("10.255.0.3/32"), Local: 48000, Ingress: true, NextHops: []Hop{{Gateway: addr("10.0.0.2"), Interface: "GigabitEthernet0/1/0", Out: 48100}}},
			{FEC: pfx("10.0.9.0/24"), Local: 48001, NextHops: []Hop{{Gateway: addr("10.0.0.2"), Out: 3}, {Gateway: addr("10.0.1.2"), Out: 48200}}},
			{FEC: pfx("10.255.0.1/32"), Local: 3, Egress: true},
		},
		Delete: []netip.Prefix{pfx("10.255.0.7/32")},
	}
	set, del := ch.RIBUpdate()
	if err := rib.ValidateLSPs(rib.OwnerLDP, set); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range set {
		names = append(names, l.Name)
	}
	wantSet := []string{"ingress 10.255.0.3/32", "transit 10.255.0.3/32", "transit 10.0.9.0/24"}
	wantDel := []string{"egress 10.255.0.3/32", "ingress 10.0.9.0/24", "egress 10.0.9.0/24",
		"ingress 10.255.0.1/32", "transit 10.255.0.1/32", "egress 10.255.0.1/32",
		"ingress 10.255.0.7/32", "transit 10.255.0.7/32", "egress 10.255.0.7/32"}
	if !slices.Equal(names, wantSet) || !slices.Equal(del, wantDel) {
		t.Fatalf("set %v\ndel %v", names, del)
	}
	if len(set[2].Out) != 2 || set[2].Out[1] != (rib.LSPOut{Gateway: addr("10.0.1.2"), Label: 48200}) {
		t.Fatalf("ECMP out %+v", set[2].Out)
	}
}
