package core

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"vpnos/services/ospf/packet"
)

func pair(t *testing.T) (*sim, *simRouter, *simRouter) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	s.loopback(r1, "1.1.1.1", 0)
	s.loopback(r2, "2.2.2.2", 0)
	s.p2p(r1, r2, "10.0.12.0/30", 0, 1)
	s.start()
	s.until(20*time.Second, "adjacency", func() bool {
		return r1.route("2.2.2.2/32") != nil && r2.route("1.1.1.1/32") != nil
	})
	s.advance(6 * time.Second) // quiet: acks in, MinLSInterval over
	return s, r1, r2
}

func extLSA(r *simRouter, now time.Time, id string) *LSASnapshot {
	for _, l := range r.core.Snapshot(now).External {
		if l.ID == rid(id) {
			return &l
		}
	}
	return nil
}

// A lost update is retransmitted after RxmtInterval until acknowledged.
func TestRetransmission(t *testing.T) {
	s, r1, r2 := pair(t)
	lost := 0
	s.drop = func(from, to *simPort, p *packet.Packet) bool {
		if from.r == r2 && p.Type == packet.TypeLSUpdate && lost < 2 {
			lost++
			return true
		}
		return false
	}
	s.step(r2, SetExternal{Routes: []External{{Prefix: pfx("172.16.0.0/24"), Metric: 1}}})
	s.drain()
	if lost != 1 || r1.route("172.16.0.0/24") != nil {
		t.Fatalf("lost %d", lost)
	}
	s.advance(4900 * time.Millisecond)
	if lost != 1 {
		t.Fatalf("retransmitted before RxmtInterval (lost %d)", lost)
	}
	s.advance(200 * time.Millisecond) // the first retransmission, lost too
	if lost != 2 {
		t.Fatalf("no retransmission at RxmtInterval (lost %d)", lost)
	}
	s.until(6*time.Second, "second retransmission arrives", func() bool { return r1.route("172.16.0.0/24") != nil })
	s.until(2*time.Second, "acknowledged", func() bool {
		return ifSnap(t, r2.core.Snapshot(s.now), "eth1").Neighbors[0].Retransmit == 0
	})
	// Nothing more is sent for it once acknowledged.
	before := s.sent[packet.TypeLSUpdate]
	s.advance(20 * time.Second)
	if s.sent[packet.TypeLSUpdate] != before {
		t.Errorf("%d more updates after the acknowledgement", s.sent[packet.TypeLSUpdate]-before)
	}
}

// Own LSAs are refreshed every LSRefreshTime with a new sequence number and
// never reach MaxAge; an LSA whose originator vanished ages out and goes.
func TestRefreshAndAging(t *testing.T) {
	s, r1, r2 := pair(t)
	s.step(r2, SetExternal{Routes: []External{{Prefix: pfx("172.16.0.0/24"), Metric: 1}}})
	s.drain()
	s.until(5*time.Second, "external", func() bool { return extLSA(r1, s.now, "172.16.0.0") != nil })
	seq := extLSA(r1, s.now, "172.16.0.0").Seq
	s.advance(1790 * time.Second)
	if l := extLSA(r1, s.now, "172.16.0.0"); l.Seq != seq || l.Age < 1790 {
		t.Fatalf("refreshed early: seq %#x age %d", uint32(l.Seq), l.Age)
	}
	s.advance(15 * time.Second)
	if l := extLSA(r1, s.now, "172.16.0.0"); l.Seq != seq+1 || l.Age > 15 {
		t.Fatalf("not refreshed at LSRefreshTime: seq %#x age %d", uint32(l.Seq), l.Age)
	}
	// r2 goes silent for good but its LSAs stay until MaxAge (r1 keeps
	// the link up: it does not know).
	r2.core = New(Config{RouterID: rid("9.9.9.9")}) // a stranger
	s.drop = func(from, to *simPort, p *packet.Packet) bool { return from.r == r2 }
	s.advance(time.Minute)
	if extLSA(r1, s.now, "172.16.0.0") == nil {
		t.Fatal("LSA gone before MaxAge")
	}
	if r1.route("172.16.0.0/24") != nil {
		t.Error("route kept without the ASBR")
	}
	s.advance(3600 * time.Second)
	if l := extLSA(r1, s.now, "172.16.0.0"); l != nil {
		t.Fatalf("LSA still there after MaxAge: age %d", l.Age)
	}
}

// An instance arriving less than MinLSArrival after the previous one is
// dropped (not installed, not acknowledged); after that it is accepted.
func TestMinLSArrival(t *testing.T) {
	s, r1, r2 := pair(t)
	inject := func(seq int32, metric uint32) {
		l := packet.NewLSA(packet.LSAHeader{Options: packet.OptE, Type: packet.LSAExternal, ID: rid("172.16.9.0"), AdvRouter: rid("2.2.2.2"), Seq: seq},
			&packet.ExternalLSA{Mask: packet.MaskID(24), Type2: true, Metric: metric})
		p := &packet.Packet{Header: packet.Header{Type: packet.TypeLSUpdate, RouterID: rid("2.2.2.2")}, Body: &packet.LSUpdate{LSAs: []*packet.LSA{l}}}
		s.step(r1, Receive{Iface: "eth1", Src: addr("10.0.12.2"), Dst: packet.AllSPFRouters, Data: p.Marshal()})
	}
	_ = r2
	base := packet.InitialSequenceNumber + 100
	inject(base, 1)
	if l := extLSA(r1, s.now, "172.16.9.0"); l == nil || l.Seq != base {
		t.Fatal("first instance not installed")
	}
	s.advance(500 * time.Millisecond)
	inject(base+1, 2)
	if l := extLSA(r1, s.now, "172.16.9.0"); l.Seq != base {
		t.Fatalf("instance within MinLSArrival installed: %#x", uint32(l.Seq))
	}
	s.advance(600 * time.Millisecond)
	inject(base+2, 3)
	if l := extLSA(r1, s.now, "172.16.9.0"); l.Seq != base+2 {
		t.Fatalf("instance after MinLSArrival not installed: %#x", uint32(l.Seq))
	}
}

// Own LSAs are originated at most once per MinLSInterval; the change that
// came too early goes out when the interval ends.
func TestMinLSInterval(t *testing.T) {
	s, r1, r2 := pair(t)
	s.step(r2, SetExternal{Routes: []External{{Prefix: pfx("172.16.0.0/24"), Type2: true, Metric: 1}}})
	s.drain()
	s.until(time.Second, "first", func() bool { return r1.route("172.16.0.0/24") != nil })
	s.advance(time.Second)
	s.step(r2, SetExternal{Routes: []External{{Prefix: pfx("172.16.0.0/24"), Type2: true, Metric: 9}}})
	s.drain()
	s.advance(3 * time.Second)
	if rt := r1.route("172.16.0.0/24"); rt.Cost != 1 {
		t.Fatalf("re-originated within MinLSInterval: cost %d", rt.Cost)
	}
	s.until(2*time.Second, "second", func() bool { return r1.route("172.16.0.0/24").Cost == 9 })
}

// A router that restarts finds its old LSAs, with higher sequence numbers,
// at its neighbour: it originates above them (RFC 2328 13.4), and flushes
// those it no longer wants.
func TestRestartSelfOriginated(t *testing.T) {
	s, r1, r2 := pair(t)
	s.step(r2, SetExternal{Routes: []External{{Prefix: pfx("172.16.0.0/24"), Metric: 1}, {Prefix: pfx("172.16.1.0/24"), Metric: 1}}})
	s.drain()
	s.advance(7 * time.Second)
	// Push r2's router LSA sequence up a few times.
	for k := range 3 {
		r2.ports["eth1"].cfg.Cost = uint16(2 + k)
		s.apply(r2)
		s.advance(6 * time.Second)
	}
	var oldSeq int32
	for _, l := range r1.core.Snapshot(s.now).Areas[0].LSAs {
		if l.Type == packet.LSARouter && l.AdvRouter == rid("2.2.2.2") {
			oldSeq = l.Seq
		}
	}
	if oldSeq < packet.InitialSequenceNumber+3 {
		t.Fatalf("old sequence %#x", uint32(oldSeq))
	}
	// Restart r2 with only one of the two externals.
	r2.core = New(Config{RouterID: rid("2.2.2.2"), MinLSInterval: 5 * time.Second})
	for _, p := range r2.ports {
		p.groups = map[netip.Addr]bool{}
	}
	s.apply(r2)
	s.step(r2, SetExternal{Routes: []External{{Prefix: pfx("172.16.0.0/24"), Metric: 1}}})
	s.drain()
	s.until(60*time.Second, "r2's new router LSA above the old one", func() bool {
		for _, l := range r1.core.Snapshot(s.now).Areas[0].LSAs {
			if l.Type == packet.LSARouter && l.AdvRouter == rid("2.2.2.2") && l.Seq > oldSeq && l.Age < packet.MaxAge {
				return r1.route("2.2.2.2/32") != nil
			}
		}
		return false
	})
	s.until(20*time.Second, "the unwanted external flushed", func() bool {
		return r1.route("172.16.1.0/24") == nil && extLSA(r1, s.now, "172.16.1.0") == nil && r1.route("172.16.0.0/24") != nil
	})
}

// With a small MTU the database exchange takes many DD packets, the
// requests several LSR packets; everything arrives.
func TestLargeDatabaseSmallMTU(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	s.loopback(r1, "1.1.1.1", 0)
	s.loopback(r2, "2.2.2.2", 0)
	a, b := s.p2p(r1, r2, "10.0.12.0/30", 0, 1)
	a.cfg.MTU, b.cfg.MTU = 256, 256
	var ext []External
	for k := range 100 {
		ext = append(ext, External{Prefix: pfx(fmt.Sprintf("172.16.%d.0/24", k)), Type2: true, Metric: uint32(k + 1)})
	}
	s.step(r2, SetExternal{Routes: ext})
	s.start()
	s.until(60*time.Second, "all externals", func() bool {
		n := 0
		for _, r := range r1.routes {
			if r.Type == External2 {
				n++
			}
		}
		return n == 100 && r1.nbrState("2.2.2.2") == NbrFull
	})
	if s.sent[packet.TypeDBDesc] < 10 || s.sent[packet.TypeLSRequest] < 3 {
		t.Errorf("%d DD and %d LSR packets", s.sent[packet.TypeDBDesc], s.sent[packet.TypeLSRequest])
	}
}

// A neighbour announcing a larger MTU in its DD packets is refused: the
// adjacency stays in ExStart.
func TestMTUMismatch(t *testing.T) {
	s := newSim(t)
	r1 := s.router("r1", "1.1.1.1")
	r2 := s.router("r2", "2.2.2.2")
	a, b := s.p2p(r1, r2, "10.0.12.0/30", 0, 1)
	a.cfg.MTU, b.cfg.MTU = 1400, 1500
	s.start()
	s.advance(40 * time.Second)
	if st := r1.nbrState("2.2.2.2"); st != NbrExStart {
		t.Fatalf("r1: %v", st)
	}
}

// Reset restarts every adjacency, which comes back.
func TestReset(t *testing.T) {
	s, r1, r2 := pair(t)
	r1.changes = nil
	s.step(r1, Reset{})
	s.drain()
	if len(r1.changes) == 0 || r1.changes[0].To != NbrDown {
		t.Fatalf("changes %+v", r1.changes)
	}
	s.until(20*time.Second, "back", func() bool {
		return r1.nbrState("2.2.2.2") == NbrFull && r1.route("2.2.2.2/32") != nil && r2.route("1.1.1.1/32") != nil
	})
}

// A DD packet out of sequence in Full restarts the exchange
// (SeqNumberMismatch), and an LSR for an unknown LSA too (BadLSReq); the
// adjacency recovers.
func TestExchangeErrors(t *testing.T) {
	s, r1, _ := pair(t)
	dd := &packet.Packet{Header: packet.Header{Type: packet.TypeDBDesc, RouterID: rid("2.2.2.2")},
		Body: &packet.DBDesc{MTU: 1500, Options: packet.OptE, Seq: 12345}}
	s.step(r1, Receive{Iface: "eth1", Src: addr("10.0.12.2"), Dst: addr("10.0.12.1"), Data: dd.Marshal()})
	if st := r1.nbrState("2.2.2.2"); st != NbrExStart {
		t.Fatalf("after a stray DD: %v", st)
	}
	s.drain()
	s.until(20*time.Second, "Full again", func() bool { return r1.nbrState("2.2.2.2") == NbrFull })
	lsr := &packet.Packet{Header: packet.Header{Type: packet.TypeLSRequest, RouterID: rid("2.2.2.2")},
		Body: &packet.LSRequest{Requests: []packet.LSAKey{{Type: packet.LSARouter, ID: rid("7.7.7.7"), AdvRouter: rid("7.7.7.7")}}}}
	s.step(r1, Receive{Iface: "eth1", Src: addr("10.0.12.2"), Dst: addr("10.0.12.1"), Data: lsr.Marshal()})
	if st := r1.nbrState("2.2.2.2"); st != NbrExStart {
		t.Fatalf("after a bad LSR: %v", st)
	}
	s.drain()
	s.until(20*time.Second, "Full again", func() bool { return r1.nbrState("2.2.2.2") == NbrFull })
}

// A corrupted LSA inside a valid packet is dropped alone.
func TestBadLSAChecksum(t *testing.T) {
	s, r1, _ := pair(t)
	good := packet.NewLSA(packet.LSAHeader{Options: packet.OptE, Type: packet.LSAExternal, ID: rid("172.16.5.0"), AdvRouter: rid("2.2.2.2"), Seq: packet.InitialSequenceNumber + 50},
		&packet.ExternalLSA{Mask: packet.MaskID(24), Metric: 1})
	bad := packet.NewLSA(packet.LSAHeader{Options: packet.OptE, Type: packet.LSAExternal, ID: rid("172.16.6.0"), AdvRouter: rid("2.2.2.2"), Seq: packet.InitialSequenceNumber + 50},
		&packet.ExternalLSA{Mask: packet.MaskID(24), Metric: 1})
	bad.Raw[30] ^= 0x01 // (0x00 and 0xff are the same modulo 255)
	p := &packet.Packet{Header: packet.Header{Type: packet.TypeLSUpdate, RouterID: rid("2.2.2.2")}, Body: &packet.LSUpdate{LSAs: []*packet.LSA{bad, good}}}
	before := r1.core.Counters().BadLSA
	s.step(r1, Receive{Iface: "eth1", Src: addr("10.0.12.2"), Dst: packet.AllSPFRouters, Data: p.Marshal()})
	if extLSA(r1, s.now, "172.16.6.0") != nil || extLSA(r1, s.now, "172.16.5.0") == nil {
		t.Fatal("the corrupted LSA was installed or the good one was not")
	}
	if r1.core.Counters().BadLSA != before+1 {
		t.Errorf("BadLSA %d", r1.core.Counters().BadLSA)
	}
}

// An update answering our request is not held back by MinLSArrival, even
// when a flooded copy came in just before, and a newer instance right
// behind it in the same update is taken too (FRR sends both when it
// re-originates while answering): Loading ends at once.
func TestRequestAnswerBypassesMinLSArrival(t *testing.T) {
	s, r1, _ := pair(t)
	mk := func(seq int32, metric uint32) *packet.LSA {
		return packet.NewLSA(packet.LSAHeader{Options: packet.OptE, Type: packet.LSAExternal, ID: rid("172.16.7.0"), AdvRouter: rid("9.9.9.9"), Seq: seq},
			&packet.ExternalLSA{Mask: packet.MaskID(24), Metric: metric})
	}
	recv := func(ls ...*packet.LSA) {
		p := &packet.Packet{Header: packet.Header{Type: packet.TypeLSUpdate, RouterID: rid("2.2.2.2")}, Body: &packet.LSUpdate{LSAs: ls}}
		s.step(r1, Receive{Iface: "eth1", Src: addr("10.0.12.2"), Dst: packet.AllSPFRouters, Data: p.Marshal()})
	}
	base := packet.InitialSequenceNumber + 10
	recv(mk(base, 1)) // flooded just now
	n := r1.core.ifaces["eth1"].nbrs[addr("10.0.12.2")]
	n.state = NbrLoading
	c := r1.core
	c.addRequest(n, mk(base+1, 2).LSAHeader)
	s.advance(100 * time.Millisecond)
	recv(mk(base+1, 2), mk(base+2, 3))
	if l := extLSA(r1, s.now, "172.16.7.0"); l == nil || l.Seq != base+2 {
		t.Fatalf("database has %+v", l)
	}
	if n.state != NbrFull {
		t.Fatalf("neighbour %v", n.state)
	}
}

// Acknowledgements of flooded LSAs are delayed (about a second) and
// several go in one packet.
func TestDelayedAcks(t *testing.T) {
	s, r1, r2 := pair(t)
	var acks []*packet.LSAck
	var ackTimes []time.Duration
	start := s.now
	s.drop = func(from, to *simPort, p *packet.Packet) bool {
		if from.r == r1 && p.Type == packet.TypeLSAck {
			acks = append(acks, p.Body.(*packet.LSAck))
			ackTimes = append(ackTimes, s.now.Sub(start))
		}
		return false
	}
	s.step(r2, SetExternal{Routes: []External{{Prefix: pfx("172.16.0.0/24"), Metric: 1}, {Prefix: pfx("172.16.1.0/24"), Metric: 1}}})
	s.drain()
	if len(acks) != 0 {
		t.Fatal("acknowledged at once")
	}
	s.advance(1500 * time.Millisecond)
	if len(acks) != 1 || len(acks[0].LSAs) < 2 || ackTimes[0] < time.Second {
		t.Fatalf("%d acks at %v", len(acks), ackTimes)
	}
}

// The DR flushes its network LSA when its last adjacency goes
// (premature aging): it disappears from the other routers' databases.
func TestNetworkLSAFlushed(t *testing.T) {
	s, rs := broadcastSegment(t, 1, 1, 1)
	r1, r2, r3 := rs[0], rs[1], rs[2]
	s.start()
	s.until(80*time.Second, "adjacencies", func() bool { return s.allFull() && r1.route("3.3.3.3/32") != nil })
	hasNet := func(r *simRouter) bool {
		for _, l := range r.core.Snapshot(s.now).Areas[0].LSAs {
			if l.Type == packet.LSANetwork && l.AdvRouter == rid("3.3.3.3") {
				return true
			}
		}
		return false
	}
	if !hasNet(r1) {
		t.Fatal("no network LSA from the DR")
	}
	// r1 and r2 leave the segment: r3 stays DR alone and flushes.
	s.setUp(r1.ports["eth1"], false)
	s.setUp(r2.ports["eth1"], false)
	s.until(60*time.Second, "network LSA flushed at the DR", func() bool { return !hasNet(r3) })
}

// An own LSA found at MaxSequenceNumber (from an earlier life) is flushed
// first, then originated again from InitialSequenceNumber (RFC 2328
// 12.1.6).
func TestSequenceWrap(t *testing.T) {
	s, r1, r2 := pair(t)
	// r2 pretends r1 once originated this external with the last number.
	l := packet.NewLSA(packet.LSAHeader{Options: packet.OptE, Type: packet.LSAExternal, ID: rid("172.16.8.0"), AdvRouter: rid("1.1.1.1"), Seq: packet.MaxSequenceNumber},
		&packet.ExternalLSA{Mask: packet.MaskID(24), Metric: 1})
	p := &packet.Packet{Header: packet.Header{Type: packet.TypeLSUpdate, RouterID: rid("2.2.2.2")}, Body: &packet.LSUpdate{LSAs: []*packet.LSA{l}}}
	s.step(r1, SetExternal{Routes: []External{{Prefix: pfx("172.16.8.0/24"), Metric: 5}}})
	s.drain()
	s.advance(6 * time.Second)
	s.step(r1, Receive{Iface: "eth1", Src: addr("10.0.12.2"), Dst: packet.AllSPFRouters, Data: p.Marshal()})
	s.drain()
	s.until(30*time.Second, "originated again from the initial number", func() bool {
		l := extLSA(r2, s.now, "172.16.8.0")
		return l != nil && l.Seq == packet.InitialSequenceNumber && l.Age < packet.MaxAge && r2.route("172.16.8.0/24") != nil
	})
	if rt := r2.route("172.16.8.0/24"); rt.Cost != 6 {
		t.Errorf("route %+v", rt)
	}
}
