package ldp

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestSnapshot(t *testing.T) {
	s, n := lineOf3(t, nil)
	s.run(10 * time.Second)
	snap := n[1].core.Snapshot(s.now)
	if !snap.Enabled || snap.LSRID != n[1].lsrID || snap.HelloHold != 15*time.Second || snap.KeepaliveHold != 45*time.Second {
		t.Fatalf("global %+v", snap)
	}
	if len(snap.Interfaces) != 2 || snap.Interfaces[0].Name != "east" || !snap.Interfaces[0].Running ||
		snap.Interfaces[0].Adjacencies != 1 || snap.Interfaces[0].HelloSend != 5*time.Second {
		t.Fatalf("interfaces %+v", snap.Interfaces)
	}
	// r1 is transit for r0's and r2's loopbacks and ingress for both:
	// one next hop out of each interface.
	if snap.Interfaces[0].LSPs != 1 || snap.Interfaces[1].LSPs != 1 {
		t.Fatalf("LSP counts %+v", snap.Interfaces)
	}
	if len(snap.Adjacencies) != 2 || snap.Adjacencies[0].Source != addr("10.0.0.1") || snap.Adjacencies[0].Hold != 15*time.Second ||
		snap.Adjacencies[0].HellosReceived < 2 || snap.Adjacencies[0].Remaining <= 0 {
		t.Fatalf("adjacencies %+v", snap.Adjacencies)
	}
	if len(snap.Sessions) != 2 {
		t.Fatalf("sessions %+v", snap.Sessions)
	}
	s0, s2 := snap.Sessions[0], snap.Sessions[1]
	// r1 (10.255.0.2) is active towards r0 (.1) and passive towards r2 (.3).
	if s0.State != Operational || s0.Role() != "Active" || s2.Role() != "Passive" || s0.Age < 10*time.Second ||
		s0.KeepaliveHold != 45*time.Second || s0.KeepAliveSent == 0 || !s0.Remote.IsValid() ||
		!slices.Equal(s0.Discovery, []string{"west"}) || !slices.Contains(s0.Addresses, n[0].lsrID) {
		t.Fatalf("session %+v", s0)
	}
	var lo0 FECState
	for _, f := range snap.FECs {
		if f.FEC == netip.PrefixFrom(n[0].lsrID, 32) {
			lo0 = f
		}
	}
	// r0's loopback: next hop r0 (implicit null, in use), a retained label
	// from r2, the local label sent to both peers.
	if !lo0.Ingress || lo0.Local < 48000 || len(lo0.Upstream) != 2 || len(lo0.NextHops) != 1 || lo0.NextHops[0].Out != 3 ||
		len(lo0.Received) != 2 || !lo0.Received[0].InUse || lo0.Received[1].InUse {
		t.Fatalf("FEC %+v", lo0)
	}
}
