package core

import (
	"testing"
	"time"

	"vpnos/services/ospf/packet"
)

// A square r1-r2-r4 / r1-r3-r4 with equal costs: r1 reaches r4's loopback
// over both paths.
func TestECMP(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	r3 := s.router("r3", "3.3.3.3")
	r4 := s.router("r4", "4.4.4.4")
	for _, r := range []*simRouter{r1, r2, r3, r4} {
		s.loopback(r, r.core.RouterID().String(), 0)
	}
	s.p2p(r1, r2, "10.0.12.0/30", 0, 10)
	s.p2p(r1, r3, "10.0.13.0/30", 0, 10)
	s.p2p(r2, r4, "10.0.24.0/30", 0, 10)
	s.p2p(r3, r4, "10.0.34.0/30", 0, 10)
	s.start()
	s.until(30*time.Second, "ECMP to r4", func() bool { return r1.routeVia("4.4.4.4/32", "10.0.12.2", "10.0.13.2") })
	rt := r1.route("4.4.4.4/32")
	if rt.Cost != 20 || rt.NextHops[0].Iface != "eth1" || rt.NextHops[1].Iface != "eth2" {
		t.Errorf("route %+v", rt)
	}
	// The far links too: 10.0.24.0/30 is one hop via r2 only.
	if !r1.routeVia("10.0.24.0/30", "10.0.12.2") || !r1.routeVia("10.0.34.0/30", "10.0.13.2") {
		t.Errorf("routes:\n%s", fmtRoutes(r1.routes))
	}
	// A higher cost on one path leaves the other alone.
	r3.ports["eth2"].cfg.Cost = 50
	s.apply(r3)
	s.drain()
	s.until(20*time.Second, "single path", func() bool { return r1.routeVia("4.4.4.4/32", "10.0.12.2") })
}

// A triangle: when a link goes down, the routes over it move to the
// remaining path in the same step, before any packet is exchanged.
func TestTriangleLinkDown(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	r3 := s.router("r3", "3.3.3.3")
	for _, r := range []*simRouter{r1, r2, r3} {
		s.loopback(r, r.core.RouterID().String(), 0)
	}
	p12, p21 := s.p2p(r1, r2, "10.0.12.0/30", 0, 1)
	s.p2p(r1, r3, "10.0.13.0/30", 0, 1)
	s.p2p(r2, r3, "10.0.23.0/30", 0, 1)
	s.start()
	s.until(30*time.Second, "converged", func() bool {
		return r1.routeVia("2.2.2.2/32", "10.0.12.2") && r2.routeVia("1.1.1.1/32", "10.0.12.1") && r3.routeVia("1.1.1.1/32", "10.0.13.1")
	})
	// Both ends see the carrier go (a cable pulled); no time passes.
	p12.cfg.Up = false
	p21.cfg.Up = false
	s.apply(r1)
	s.apply(r2)
	if !r1.routeVia("2.2.2.2/32", "10.0.13.2") {
		t.Errorf("r1 did not move its route at once:\n%s", fmtRoutes(r1.routes))
	}
	if !r2.routeVia("1.1.1.1/32", "10.0.23.2") {
		t.Errorf("r2 did not move its route at once:\n%s", fmtRoutes(r2.routes))
	}
	s.drain()
	if r1.route("10.0.12.0/30") != nil && r1.route("10.0.12.0/30").Direct {
		t.Errorf("r1 still has the down link as attached")
	}
	// The link back: the direct path returns.
	p12.cfg.Up = true
	p21.cfg.Up = true
	s.apply(r1)
	s.apply(r2)
	s.drain()
	s.until(30*time.Second, "back", func() bool { return r1.routeVia("2.2.2.2/32", "10.0.12.2") })
}

// A dead neighbour (no more hellos, link still up) goes after the dead
// interval and its routes with it.
func TestInactivityTimer(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	s.loopback(r1, "1.1.1.1", 0)
	s.loopback(r2, "2.2.2.2", 0)
	s.p2p(r1, r2, "10.0.0.0/30", 0, 1)
	s.start()
	s.until(20*time.Second, "route", func() bool { return r1.route("2.2.2.2/32") != nil })
	silent := true
	s.drop = func(from, to *simPort, p *packet.Packet) bool { return silent && from.r == r2 }
	s.advance(30 * time.Second)
	if r1.nbrState("2.2.2.2") != NbrFull {
		t.Fatal("neighbour dropped before the dead interval")
	}
	s.until(15*time.Second, "neighbour down", func() bool { return r1.nbrState("2.2.2.2") == NbrDown && r1.route("2.2.2.2/32") == nil })
}

// Two areas: r1 (area 1) - r2 (ABR) - r3 (area 0). Loopbacks cross as
// inter-area routes; an external route of r1 reaches r3 through r2's ASBR
// summary.
func TestTwoAreas(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	r3 := s.router("r3", "3.3.3.3")
	s.loopback(r1, "1.1.1.1", 1)
	s.loopback(r2, "2.2.2.2", 0)
	s.loopback(r3, "3.3.3.3", 0)
	s.p2p(r1, r2, "10.0.12.0/30", 1, 10)
	s.p2p(r2, r3, "10.0.23.0/30", 0, 5)
	s.start()
	s.step(r1, SetExternal{Routes: []External{{Prefix: pfx("172.16.1.0/24"), Type2: true, Metric: 20, Tag: 7}}})
	s.drain()
	s.until(40*time.Second, "inter-area routes", func() bool {
		return r3.routeVia("1.1.1.1/32", "10.0.23.1") && r1.routeVia("3.3.3.3/32", "10.0.12.2") && r3.route("172.16.1.0/24") != nil
	})
	if rt := r3.route("1.1.1.1/32"); rt.Type != InterArea || rt.Cost != 15 || rt.Area != 0 {
		t.Errorf("r3 to r1: %+v", rt)
	}
	if rt := r1.route("3.3.3.3/32"); rt.Type != InterArea || rt.Cost != 15 || rt.Area != 1 {
		t.Errorf("r1 to r3: %+v", rt)
	}
	if rt := r1.route("10.0.23.0/30"); rt == nil || rt.Type != InterArea || rt.Cost != 15 {
		t.Errorf("r1 to the backbone link: %+v", rt)
	}
	ext := r3.route("172.16.1.0/24")
	if ext.Type != External2 || ext.Cost != 20 || ext.ForwardCost != 15 || ext.Tag != 7 || !r3.routeVia("172.16.1.0/24", "10.0.23.1") {
		t.Errorf("r3 external: %+v", ext)
	}
	snap := r2.core.Snapshot(s.now)
	if !snap.ABR || snap.ASBR {
		t.Errorf("r2 ABR %v ASBR %v", snap.ABR, snap.ASBR)
	}
	if !r1.core.Snapshot(s.now).ASBR {
		t.Error("r1 is not ASBR")
	}
	// r2 originated into area 0: type 3 for r1's loopback and the area 1
	// link, type 4 for r1.
	var sum3, sum4 int
	for _, a := range snap.Areas {
		if a.ID != 0 {
			continue
		}
		for _, l := range a.LSAs {
			if l.AdvRouter != rid("2.2.2.2") {
				continue
			}
			switch l.Type {
			case packet.LSASummary:
				sum3++
			case packet.LSAASBRSummary:
				sum4++
				if l.ID != rid("1.1.1.1") || l.Body.(*packet.SummaryLSA).Metric != 10 {
					t.Errorf("ASBR summary %v metric %d", l.ID, l.Body.(*packet.SummaryLSA).Metric)
				}
			}
		}
	}
	if sum3 != 2 || sum4 != 1 {
		t.Errorf("r2 summaries into area 0: %d type 3, %d type 4", sum3, sum4)
	}
	// The backbone's routes go into area 1 but not back: r2 does not
	// announce area 1's own networks into area 1.
	for _, a := range snap.Areas {
		if a.ID != 1 {
			continue
		}
		for _, l := range a.LSAs {
			if l.Type == packet.LSASummary && l.AdvRouter == rid("2.2.2.2") && (l.ID == rid("1.1.1.1") || l.ID == rid("10.0.12.0")) {
				t.Errorf("r2 announces area 1's %v into area 1", l.ID)
			}
		}
	}
	// Withdrawing the external flushes it everywhere.
	s.step(r1, SetExternal{})
	s.drain()
	s.until(10*time.Second, "external gone", func() bool { return r3.route("172.16.1.0/24") == nil })
	s.until(10*time.Second, "flushed from the database", func() bool {
		return len(r3.core.Snapshot(s.now).External) == 0 && len(r1.core.Snapshot(s.now).External) == 0
	})
}

// A stub area: no AS-external LSAs inside, a default summary from the ABR
// instead; with no-summary only that default.
func TestStubArea(t *testing.T) {
	for _, noSummary := range []bool{false, true} {
		name := "stub"
		if noSummary {
			name = "totally stubby"
		}
		t.Run(name, func(t *testing.T) {
			s := newSim(t)
			stub := AreaConfig{ID: 1, Stub: true, NoSummary: noSummary, DefaultCost: 3}
			r1 := s.router("r1", "1.1.1.1", AreaConfig{ID: 1, Stub: true})
			r2 := s.router("r2", "2.2.2.2", stub)
			r3 := s.router("r3", "3.3.3.3")
			s.loopback(r1, "1.1.1.1", 1)
			s.loopback(r2, "2.2.2.2", 0)
			s.loopback(r3, "3.3.3.3", 0)
			s.p2p(r1, r2, "10.0.12.0/30", 1, 10)
			s.p2p(r2, r3, "10.0.23.0/30", 0, 10)
			s.start()
			s.step(r3, SetExternal{Routes: []External{{Prefix: pfx("172.16.3.0/24"), Type2: true, Metric: 1}}})
			s.drain()
			s.until(40*time.Second, "default route in the stub area", func() bool {
				return r1.routeVia("0.0.0.0/0", "10.0.12.2") && r3.route("1.1.1.1/32") != nil && r2.route("172.16.3.0/24") != nil
			})
			if rt := r1.route("0.0.0.0/0"); rt.Type != InterArea || rt.Cost != 13 {
				t.Errorf("default %+v", rt)
			}
			s.advance(5 * time.Second)
			if r1.route("172.16.3.0/24") != nil || len(r1.core.Snapshot(s.now).External) != 0 {
				t.Error("an AS-external LSA entered the stub area")
			}
			if got := r1.route("3.3.3.3/32") != nil; got == noSummary {
				t.Errorf("inter-area route to r3 present=%v with no-summary=%v", got, noSummary)
			}
			// The E bit is clear in the stub area's LSAs.
			for _, a := range r1.core.Snapshot(s.now).Areas {
				for _, l := range a.LSAs {
					if l.Options&packet.OptE != 0 {
						t.Errorf("%v with the E bit in a stub area", l.LSAHeader.Key())
					}
				}
			}
		})
	}
}

// Type 1 and type 2 external metrics: E1 adds the distance to the ASBR, E2
// does not; E1 beats E2 whatever the costs; equal E2 metrics tie-break on
// the distance to the ASBR.
func TestExternalMetrics(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	r3 := s.router("r3", "3.3.3.3")
	for _, r := range []*simRouter{r1, r2, r3} {
		s.loopback(r, r.core.RouterID().String(), 0)
	}
	s.p2p(r1, r2, "10.0.12.0/30", 0, 10)
	s.p2p(r1, r3, "10.0.13.0/30", 0, 30)
	s.start()
	s.step(r2, SetExternal{Routes: []External{
		{Prefix: pfx("192.168.1.0/24"), Type2: false, Metric: 100},
		{Prefix: pfx("192.168.2.0/24"), Type2: true, Metric: 100},
		{Prefix: pfx("192.168.3.0/24"), Type2: true, Metric: 50},
	}})
	s.step(r3, SetExternal{Routes: []External{
		{Prefix: pfx("192.168.1.0/24"), Type2: true, Metric: 1},
		{Prefix: pfx("192.168.2.0/24"), Type2: true, Metric: 100},
		{Prefix: pfx("192.168.3.0/24"), Type2: false, Metric: 500},
	}})
	s.drain()
	s.until(40*time.Second, "externals", func() bool {
		return r1.route("192.168.1.0/24") != nil && r1.route("192.168.2.0/24") != nil && r1.route("192.168.3.0/24") != nil &&
			r1.route("3.3.3.3/32") != nil && r1.route("2.2.2.2/32") != nil
	})
	s.advance(10 * time.Second)
	check := func(p string, typ RouteType, cost uint32, gw string) {
		t.Helper()
		rt := r1.route(p)
		if rt == nil || rt.Type != typ || rt.Cost != cost || !r1.routeVia(p, gw) {
			t.Errorf("%s: %+v, want %v cost %d via %s", p, rt, typ, cost, gw)
		}
	}
	check("192.168.1.0/24", External1, 110, "10.0.12.2") // E1 beats a cheaper E2
	check("192.168.2.0/24", External2, 100, "10.0.12.2") // equal E2: the nearer ASBR
	check("192.168.3.0/24", External1, 530, "10.0.13.2") // E1 beats E2 of 50
}

// A forwarding address on an attached network: the next hop is that
// address, not the ASBR.
func TestExternalForwardingAddress(t *testing.T) {
	s, rs := broadcastSegment(t, 1, 1, 1)
	r1, r2 := rs[0], rs[1]
	s.start()
	s.step(r2, SetExternal{Routes: []External{{Prefix: pfx("172.20.0.0/16"), Type2: true, Metric: 5, Forward: addr("10.0.0.3")}}})
	s.drain()
	s.until(80*time.Second, "external", func() bool { return r1.route("172.20.0.0/16") != nil })
	if !r1.routeVia("172.20.0.0/16", "10.0.0.3") {
		t.Errorf("route:\n%s", fmtRoutes(r1.routes))
	}
}

// Two prefixes with one network address get distinct link state IDs
// (RFC 2328 appendix E) and both arrive.
func TestLinkStateIDCollision(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	s.loopback(r1, "1.1.1.1", 0)
	s.loopback(r2, "2.2.2.2", 0)
	s.p2p(r1, r2, "10.0.12.0/30", 0, 1)
	s.start()
	s.step(r2, SetExternal{Routes: []External{
		{Prefix: pfx("172.16.0.0/16"), Metric: 1},
		{Prefix: pfx("172.16.0.0/24"), Metric: 2},
	}})
	s.drain()
	s.until(40*time.Second, "both externals", func() bool {
		return r1.route("172.16.0.0/16") != nil && r1.route("172.16.0.0/24") != nil
	})
	ids := map[packet.ID]bool{}
	for _, l := range r1.core.Snapshot(s.now).External {
		ids[l.ID] = true
	}
	if !ids[rid("172.16.0.0")] || !ids[rid("172.16.0.255")] {
		t.Errorf("IDs %v", ids)
	}
}

// Loopbacks are /32 stub links of cost 0 whatever their configured mask,
// and a silent interface advertises its network without any packet.
func TestLoopbackAndSilentInterfaces(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	s.port(r1, "", IfaceConfig{Name: "LoopBack1", Prefix: pfx("1.1.1.1/24"), Loopback: true, Cost: 50})
	silent := s.port(r1, "lan-r1", IfaceConfig{Name: "eth9", Prefix: pfx("192.0.2.1/24"), Type: Broadcast, Cost: 7, Passive: true, Priority: 1})
	s.loopback(r2, "2.2.2.2", 0)
	s.p2p(r1, r2, "10.0.12.0/30", 0, 1)
	s.start()
	s.until(40*time.Second, "routes", func() bool { return r2.route("1.1.1.1/32") != nil && r2.route("192.0.2.0/24") != nil })
	if rt := r2.route("1.1.1.1/32"); rt.Cost != 1 {
		t.Errorf("loopback %+v", rt)
	}
	if rt := r2.route("192.0.2.0/24"); rt.Cost != 8 {
		t.Errorf("silent network %+v", rt)
	}
	if st := ifSnap(t, r1.core.Snapshot(s.now), "eth9").Stats; st.HelloOut != 0 || silent.groups[packet.AllSPFRouters] {
		t.Errorf("silent interface sent %d hellos (joined %v)", st.HelloOut, silent.groups)
	}
}
