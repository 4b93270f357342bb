package core

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"vpnos/services/ospf/packet"
)

// Two routers on a point-to-point link: Full, and each one's loopback
// through the other.
func TestPointToPointAdjacency(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "10.255.0.1")
	r2 := s.router("r2", "10.255.0.2")
	s.loopback(r1, "10.255.0.1", 0)
	s.loopback(r2, "10.255.0.2", 0)
	s.p2p(r1, r2, "10.0.12.0/30", 0, 10)
	s.start()
	s.until(5*time.Second, "adjacency Full", func() bool {
		return r1.nbrState("10.255.0.2") == NbrFull && r2.nbrState("10.255.0.1") == NbrFull
	})
	s.until(12*time.Second, "loopback routes", func() bool {
		return r1.routeVia("10.255.0.2/32", "10.0.12.2") && r2.routeVia("10.255.0.1/32", "10.0.12.1")
	})
	rt := r1.route("10.255.0.2/32")
	if rt.Cost != 10 || rt.Type != IntraArea || rt.NextHops[0].Iface != "eth1" {
		t.Errorf("route %+v", rt)
	}
	// The link itself is a stub network, attached on both sides.
	if rt := r1.route("10.0.12.0/30"); rt == nil || !rt.Direct || rt.Cost != 10 {
		t.Errorf("link route %+v", rt)
	}
	// r2 (higher ID) was master: r1 saw it as such. Once the delayed
	// acknowledgements are in, nothing waits for retransmission.
	s.advance(3 * time.Second)
	snap := r1.core.Snapshot(s.now)
	nbrs := ifSnap(t, snap, "eth1").Neighbors
	if len(nbrs) != 1 {
		t.Fatalf("neighbours %+v", nbrs)
	}
	n := nbrs[0]
	if !n.Master || n.State != NbrFull || n.Retransmit != 0 {
		t.Errorf("neighbour %+v", n)
	}
	// The router LSA of r1: its loopback as a host stub, the p2p link to
	// r2 and the link's subnet.
	var rl *packet.RouterLSA
	for _, l := range snap.Areas[0].LSAs {
		if l.Type == packet.LSARouter && l.AdvRouter == rid("10.255.0.1") {
			rl = l.Body.(*packet.RouterLSA)
		}
	}
	want := []packet.RouterLink{
		{ID: rid("10.255.0.1"), Data: rid("255.255.255.255"), Type: packet.LinkStub, Metric: 0},
		{ID: rid("10.255.0.2"), Data: rid("10.0.12.1"), Type: packet.LinkPointToPoint, Metric: 10},
		{ID: rid("10.0.12.0"), Data: rid("255.255.255.252"), Type: packet.LinkStub, Metric: 10},
	}
	if rl == nil || len(rl.Links) != len(want) {
		t.Fatalf("router LSA %+v", rl)
	}
	for k := range want {
		if rl.Links[k].ID != want[k].ID || rl.Links[k].Data != want[k].Data || rl.Links[k].Type != want[k].Type || rl.Links[k].Metric != want[k].Metric {
			t.Errorf("link %d: %+v, want %+v", k, rl.Links[k], want[k])
		}
	}
}

// The neighbour goes through every state of RFC 2328 10.3 in order.
func TestNeighborStates(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	s.loopback(r1, "1.1.1.1", 0)
	s.loopback(r2, "2.2.2.2", 0)
	s.p2p(r1, r2, "10.0.0.0/30", 0, 1)
	s.start()
	s.until(5*time.Second, "Full", func() bool { return r1.nbrState("2.2.2.2") == NbrFull })
	var got []NbrState
	for _, c := range r1.changes {
		got = append(got, c.To)
	}
	want := []NbrState{NbrInit, NbrExStart, NbrExchange, NbrLoading, NbrFull}
	if len(got) != len(want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("states %v, want %v", got, want)
		}
	}
}

// Hello parameter checks (RFC 2328 10.5): no neighbour forms when they
// disagree.
func TestHelloParameterChecks(t *testing.T) {
	cases := []struct {
		name string
		mod  func(a, b *IfaceConfig, ca, cb *[]AreaConfig)
		ok   bool
	}{
		{"equal", func(a, b *IfaceConfig, _, _ *[]AreaConfig) {}, true},
		{"hello interval", func(a, b *IfaceConfig, _, _ *[]AreaConfig) { b.HelloInterval = 5; b.DeadInterval = 40 }, false},
		{"dead interval", func(a, b *IfaceConfig, _, _ *[]AreaConfig) { b.DeadInterval = 30 }, false},
		{"mask on broadcast", func(a, b *IfaceConfig, _, _ *[]AreaConfig) {
			a.Type, b.Type = Broadcast, Broadcast
			b.Prefix = pfx("10.0.0.2/29")
		}, false},
		{"mask on point-to-point is ignored", func(a, b *IfaceConfig, _, _ *[]AreaConfig) { b.Prefix = pfx("10.0.0.2/29") }, true},
		{"area", func(a, b *IfaceConfig, _, _ *[]AreaConfig) { b.Area = 1 }, false},
		{"stub on one side only (E bit)", func(a, b *IfaceConfig, ca, cb *[]AreaConfig) {
			a.Area, b.Area = 1, 1
			*cb = []AreaConfig{{ID: 1, Stub: true}}
		}, false},
		{"stub on both sides", func(a, b *IfaceConfig, ca, cb *[]AreaConfig) {
			a.Area, b.Area = 1, 1
			*ca = []AreaConfig{{ID: 1, Stub: true}}
			*cb = []AreaConfig{{ID: 1, Stub: true}}
		}, true},
		{"authentication type", func(a, b *IfaceConfig, _, _ *[]AreaConfig) { b.AuthType = packet.AuthSimple }, false},
		{"password", func(a, b *IfaceConfig, _, _ *[]AreaConfig) {
			a.AuthType, b.AuthType = packet.AuthSimple, packet.AuthSimple
			a.AuthKey = [8]byte{'a'}
			b.AuthKey = [8]byte{'b'}
		}, false},
		{"same password", func(a, b *IfaceConfig, _, _ *[]AreaConfig) {
			a.AuthType, b.AuthType = packet.AuthSimple, packet.AuthSimple
			a.AuthKey = [8]byte{'a'}
			b.AuthKey = [8]byte{'a'}
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := IfaceConfig{Name: "eth1", Prefix: pfx("10.0.0.1/30"), Type: PointToPoint, Priority: 1}
			b := IfaceConfig{Name: "eth1", Prefix: pfx("10.0.0.2/30"), Type: PointToPoint, Priority: 1}
			var ca, cb []AreaConfig
			c.mod(&a, &b, &ca, &cb)
			s := newSim(t)
			r1 := s.router("r1", "1.1.1.1", ca...)
			r2 := s.router("r2", "2.2.2.2", cb...)
			s.port(r1, "seg", a)
			s.port(r2, "seg", b)
			s.start()
			s.advance(50 * time.Second)
			full := r1.nbrState("2.2.2.2") == NbrFull && r2.nbrState("1.1.1.1") == NbrFull
			if full != c.ok {
				s.dump()
				t.Fatalf("full=%v, want %v", full, c.ok)
			}
			if !c.ok && r1.nbrState("2.2.2.2") != NbrDown && r2.nbrState("1.1.1.1") != NbrDown {
				t.Errorf("a neighbour formed: %v %v", r1.nbrState("2.2.2.2"), r2.nbrState("1.1.1.1"))
			}
			if !c.ok && r1.core.Counters().Rejected == 0 && r2.core.Counters().Rejected == 0 {
				t.Error("nothing counted as rejected")
			}
		})
	}
}

// broadcastSegment puts n routers on one Ethernet segment 10.0.0.0/24
// with the given priorities; router k has ID k.k.k.k and address .k.
func broadcastSegment(t *testing.T, prios ...uint8) (*sim, []*simRouter) {
	s := newSim(t)
	var rs []*simRouter
	for k, p := range prios {
		n := k + 1
		id := ipN(n)
		r := s.router("r"+itoa(n), id)
		s.loopback(r, id, 0)
		s.port(r, "lan", IfaceConfig{Name: "eth1", Prefix: pfx(fmt.Sprintf("10.0.0.%d/24", n)), Type: Broadcast, Cost: 1, Priority: p})
		rs = append(rs, r)
	}
	return s, rs
}

func itoa(n int) string { return strconv.Itoa(n) }
func ipN(n int) string  { return fmt.Sprintf("%d.%d.%d.%d", n, n, n, n) }

// DR/BDR election on a segment of three: the highest priority is DR, the
// next BDR; the DROther is Full with both and 2-Way with nobody else; the DR
// originates the network LSA; everyone reaches every loopback.
func TestBroadcastElection(t *testing.T) {
	s, rs := broadcastSegment(t, 1, 1, 1)
	r1, r2, r3 := rs[0], rs[1], rs[2]
	s.start()
	// The wait timer (40s) runs before anyone is elected.
	s.advance(30 * time.Second)
	if st := r3.core.ifaces["eth1"].state; st != IfWaiting {
		t.Fatalf("r3 eth1 %v before the wait timer", st)
	}
	s.until(60*time.Second, "adjacencies", func() bool { return s.allFull() && len(r1.routes) > 0 && r1.route("3.3.3.3/32") != nil })
	// Equal priorities: the highest router ID wins.
	wantState := map[*simRouter]IfState{r1: IfDROther, r2: IfBackup, r3: IfDR}
	for r, st := range wantState {
		i := r.core.ifaces["eth1"]
		if i.state != st || i.dr != rid("10.0.0.3") || i.bdr != rid("10.0.0.2") {
			t.Errorf("%s: state %v DR %v BDR %v", r.name, i.state, i.dr, i.bdr)
		}
	}
	if r1.nbrState("2.2.2.2") != NbrFull || r1.nbrState("3.3.3.3") != NbrFull {
		t.Errorf("r1 (DROther) with BDR %v, DR %v", r1.nbrState("2.2.2.2"), r1.nbrState("3.3.3.3"))
	}
	s.until(20*time.Second, "routes", func() bool {
		return r1.routeVia("2.2.2.2/32", "10.0.0.2") && r1.routeVia("3.3.3.3/32", "10.0.0.3") &&
			r3.routeVia("1.1.1.1/32", "10.0.0.1") && r2.routeVia("1.1.1.1/32", "10.0.0.1")
	})
	snap := r1.core.Snapshot(s.now)
	var nl *packet.NetworkLSA
	for _, l := range snap.Areas[0].LSAs {
		if l.Type == packet.LSANetwork {
			if l.ID != rid("10.0.0.3") || l.AdvRouter != rid("3.3.3.3") {
				t.Errorf("network LSA %v from %v", l.ID, l.AdvRouter)
			}
			nl = l.Body.(*packet.NetworkLSA)
		}
	}
	if nl == nil || len(nl.Routers) != 3 || nl.Mask != packet.MaskID(24) {
		t.Fatalf("network LSA %+v", nl)
	}
	if rt := r1.route("10.0.0.0/24"); rt == nil || !rt.Transit || !rt.Direct {
		t.Errorf("segment route %+v", rt)
	}
	// A fourth router with priority 0 never becomes DR or BDR, and two
	// DROthers stay 2-Way.
	r4 := s.router("r4", "4.4.4.4")
	s.loopback(r4, "4.4.4.4", 0)
	s.port(r4, "lan", IfaceConfig{Name: "eth1", Prefix: pfx("10.0.0.4/24"), Type: Broadcast, Cost: 1, Priority: 0})
	s.apply(r4)
	s.drain()
	s.until(20*time.Second, "r4 adjacencies", func() bool {
		return r4.nbrState("3.3.3.3") == NbrFull && r4.nbrState("2.2.2.2") == NbrFull && r4.route("1.1.1.1/32") != nil
	})
	if st := r4.nbrState("1.1.1.1"); st != Nbr2Way {
		t.Errorf("r4 with DROther r1: %v", st)
	}
	if i := r4.core.ifaces["eth1"]; i.state != IfDROther || i.dr != rid("10.0.0.3") {
		t.Errorf("r4: %v DR %v", i.state, i.dr)
	}
}

// Priorities decide before router IDs, and a new router with a higher
// priority does not preempt the DR.
func TestElectionPriorityNoPreemption(t *testing.T) {
	s, rs := broadcastSegment(t, 10, 5, 1)
	r1, r2, r3 := rs[0], rs[1], rs[2]
	s.start()
	s.until(60*time.Second, "adjacencies", func() bool { return s.allFull() && r3.route("1.1.1.1/32") != nil })
	if i := r1.core.ifaces["eth1"]; i.state != IfDR {
		t.Fatalf("r1 with priority 10: %v", i.state)
	}
	if i := r2.core.ifaces["eth1"]; i.state != IfBackup {
		t.Fatalf("r2 with priority 5: %v", i.state)
	}
	r9 := s.router("r9", "9.9.9.9")
	s.loopback(r9, "9.9.9.9", 0)
	s.port(r9, "lan", IfaceConfig{Name: "eth1", Prefix: pfx("10.0.0.9/24"), Type: Broadcast, Cost: 1, Priority: 100})
	s.apply(r9)
	s.drain()
	s.until(60*time.Second, "r9 adjacencies", func() bool { return r9.nbrState("1.1.1.1") == NbrFull && r9.nbrState("2.2.2.2") == NbrFull })
	if i := r9.core.ifaces["eth1"]; i.state != IfDROther || i.dr != rid("10.0.0.1") {
		t.Fatalf("r9 took over: %v DR %v", i.state, i.dr)
	}
	// The DR fails: the BDR takes over and r9 becomes BDR.
	s.setUp(r1.ports["eth1"], false)
	s.until(60*time.Second, "new DR", func() bool {
		i2, i9 := r2.core.ifaces["eth1"], r9.core.ifaces["eth1"]
		return i2.state == IfDR && i9.state == IfBackup && r3.route("9.9.9.9/32") != nil && r3.route("1.1.1.1/32") == nil
	})
}
