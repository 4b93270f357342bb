package core

import (
	"testing"
	"time"

	"vpnos/services/ospf/packet"
)

// FuzzReceive feeds arbitrary packets to the receive path of a router with
// a Full adjacency (point-to-point) and one on a broadcast segment, from
// the neighbours' addresses, unicast and multicast. Nothing may panic, and
// the router must keep working: its state stays consistent and it still
// has a timer running.
func FuzzReceive(f *testing.F) {
	s := newSim(f)
	s.record = true
	r1 := s.router("r1", "1.1.1.1")
	s.inputsOf = r1
	r2 := s.router("r2", "2.2.2.2")
	r3 := s.router("r3", "3.3.3.3")
	s.loopback(r1, "1.1.1.1", 0)
	s.p2p(r1, r2, "10.0.12.0/30", 0, 1)
	s.port(r1, "lan", IfaceConfig{Name: "eth5", Prefix: pfx("10.0.0.1/24"), Type: Broadcast, Priority: 1})
	s.port(r3, "lan", IfaceConfig{Name: "eth1", Prefix: pfx("10.0.0.3/24"), Type: Broadcast, Priority: 1})
	s.step(r2, SetExternal{Routes: []External{{Prefix: pfx("172.16.0.0/24"), Metric: 1}}})
	s.start()
	s.advance(60 * time.Second)
	inputs := s.inputs
	final := r1.core.Snapshot(s.now)
	if len(final.Routes) == 0 || ifSnap(f, final, "eth1").Neighbors[0].State != NbrFull {
		f.Fatal("setup did not converge")
	}
	for _, p := range s.packets {
		f.Add(p, uint8(0))
		f.Add(p, uint8(1))
		f.Add(p, uint8(2))
		f.Add(p, uint8(5))
	}
	f.Fuzz(func(t *testing.T, data []byte, how uint8) {
		// A fresh copy of r1 for each input: replay its inputs.
		c := New(Config{RouterID: rid("1.1.1.1"), MinLSInterval: 5 * time.Second})
		for _, in := range inputs {
			c.Step(in.at, in.ev)
		}
		ev := Receive{Iface: "eth1", Src: addr("10.0.12.2"), Dst: packet.AllSPFRouters, Data: data}
		switch how % 4 {
		case 1:
			ev.Dst = addr("10.0.12.1")
		case 2:
			ev = Receive{Iface: "eth5", Src: addr("10.0.0.3"), Dst: packet.AllSPFRouters, Data: data}
		case 3:
			ev = Receive{Iface: "eth5", Src: addr("10.0.0.3"), Dst: packet.AllDRouters, Data: data}
		}
		if how&4 != 0 && len(data) >= packet.HeaderLen && len(data) < 1<<16 {
			// Make the header valid so the input reaches the protocol.
			data = append([]byte(nil), data...)
			data[0] = packet.Version
			data[2], data[3] = byte(len(data)>>8), byte(len(data))
			data[14], data[15] = 0, 0
			sum := packet.Checksum(data)
			data[12], data[13] = byte(sum>>8), byte(sum)
			ev.Data = data
		}
		now := t0.Add(61 * time.Second)
		c.Step(now, ev)
		c.Step(now.Add(time.Second), Tick{})
		if c.NextDeadline().IsZero() {
			t.Fatal("no timer left")
		}
		_ = c.Snapshot(now)
	})
}
