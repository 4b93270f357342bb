package ldp

import (
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/label"
)

// TestManagerAllocator runs the line on the real label manager: every
// router's labels come from the dynamic range under the LDP owner and go
// back when LDP stops.
func TestManagerAllocator(t *testing.T) {
	s := newSim(t)
	n := line(s, 3)
	owner := label.Owner(label.KindLDP, fibapi.Public)
	mgr := label.New()
	n[1].core = New(ManagerAllocator(mgr, owner, nil))
	s.enableAll(nil)
	s.installRoutes()
	if !s.runUntil(time.Minute, s.fullLSPs) {
		t.Fatal("no convergence")
	}
	// r1 is transit for r0's and r2's loopbacks; its own is implicit null.
	held := mgr.InUse()
	if len(held) != 2 {
		t.Fatalf("labels held %+v", held)
	}
	for _, a := range held {
		if a.Owner != owner || a.Static || a.Label < label.DynamicMin {
			t.Fatalf("allocation %+v", a)
		}
	}
	s.step(n[1], Stop{})
	s.drain()
	if left := mgr.InUse(); len(left) != 0 {
		t.Fatalf("labels left after stop %+v", left)
	}
}
