package bgp

import (
	"net/netip"
	"testing"
	"time"

	"vpnos/services/bgp/packet"
	"vpnos/yang/datastore"
)

// Without router-id, BGP takes the system router ID: `router id` first,
// then the highest public LoopBack address, then the highest interface
// address.
func TestFromTreeRouterID(t *testing.T) {
	sysRID := datastore.P("system", "router-id")
	for _, tc := range []struct {
		name       string
		mod        func(*tree)
		want       string
		fromSystem bool
	}{
		{"highest LoopBack", func(*tree) {}, "10.255.0.9", true},
		{"system router id", func(b *tree) { b.t.Set(sysRID, "192.0.2.77") }, "192.0.2.77", true},
		{"bgp router-id beats router id", func(b *tree) {
			b.t.Set(sysRID, "192.0.2.77")
			b.t.Set(bgpInst.Child("router-id"), "10.1.1.1")
		}, "10.1.1.1", false},
		{"router id without any address", func(b *tree) {
			for _, ifc := range []string{"LoopBack0", "LoopBack5", "GigabitEthernet0/1/0"} {
				b.t.Delete(datastore.P("interfaces", "interface", datastore.K(ifc)))
			}
			b.t.Delete(bgpInst.Child("peer", "rr").Child("connect-interface"))
			b.t.Delete(bgpInst.Child("peer", "10.255.0.3").Child("connect-interface"))
			b.t.Set(sysRID, "192.0.2.77")
		}, "192.0.2.77", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := pe1Tree()
			tc.mod(b)
			c, errs := FromTree(b.t)
			if len(errs) > 0 {
				t.Fatalf("refused: %v", errs)
			}
			if c.RouterID.String() != tc.want || c.RouterIDFromSystem != tc.fromSystem {
				t.Fatalf("router ID %v (from the system: %v), want %s (%v)", c.RouterID, c.RouterIDFromSystem, tc.want, tc.fromSystem)
			}
		})
	}
}

// opensSent decodes the OPENs sent to a peer since the last take.
func (h *harness) opensSent(k PeerKey) []*packet.Open {
	h.t.Helper()
	var out []*packet.Open
	for _, b := range h.sent[k] {
		m, err := packet.Decode(b, packet.Options{AS4: true, MultiFamily: true})
		if err != nil {
			h.t.Fatalf("undecodable message to %s: %v", k, err)
		}
		if o, ok := m.(*packet.Open); ok {
			out = append(out, o)
		}
	}
	h.sent[k] = nil
	return out
}

// notificationsSent lists the NOTIFICATIONs sent to a peer as code/subcode.
func notifications(t *testing.T, h *harness, k PeerKey) []string {
	t.Helper()
	var out []string
	for _, b := range h.sent[k] {
		m, err := packet.Decode(b, packet.Options{AS4: true, MultiFamily: true})
		if err != nil {
			t.Fatalf("undecodable message to %s: %v", k, err)
		}
		if n, ok := m.(*packet.Notification); ok {
			out = append(out, packet.CodeString(n.Code, n.Subcode))
		}
	}
	return out
}

// A running speaker keeps its router ID when the system router ID changes,
// until `reset bgp all`; resetting one peer does not take it. A change of
// its own router-id restarts every session at once.
func TestSystemRouterIDWaitsForReset(t *testing.T) {
	cfg := func(id string, fromSystem bool) Config {
		return Config{AS: 65000, RouterID: netip.MustParseAddr(id), RouterIDFromSystem: fromSystem, Peers: []Peer{
			{Addr: netip.MustParseAddr("10.255.0.3"), AS: 65000},
		}}
	}
	pe := key("", "10.255.0.3")
	h := newHarness(t, cfg("10.255.0.1", true))
	h.establish(pe, "10.255.0.1", 65000, "10.255.0.3", packet.IPv4Unicast)
	if o := h.opensSent(pe); len(o) != 1 || o[0].RouterID.String() != "10.255.0.1" {
		t.Fatalf("OPEN %+v", o)
	}
	running := func(want string) {
		t.Helper()
		if got := h.s.Summary().RouterID.String(); got != want {
			t.Fatalf("running router ID %s, want %s", got, want)
		}
	}

	// `router id 10.255.0.7`: the session stays up with the old ID.
	h.step(SetConfig{Config: cfg("10.255.0.7", true)})
	if n := notifications(t, h, pe); len(n) != 0 || !h.s.peers[pe].up {
		t.Fatalf("the session went down on a new system router ID: %v", n)
	}
	running("10.255.0.1")
	// Another change of the configuration keeps it back too.
	c := cfg("10.255.0.7", true)
	c.Timers = Timers{Keepalive: 30, Hold: 90, Set: true}
	h.step(SetConfig{Config: c})
	running("10.255.0.1")

	// reset bgp 10.255.0.3: the peer restarts, the router ID stays.
	h.step(ResetPeers{Peers: []PeerKey{pe}})
	if n := notifications(t, h, pe); len(n) != 1 || n[0] != packet.CodeString(packet.ErrCease, packet.SubAdminReset) {
		t.Fatalf("reset of one peer sent %v", n)
	}
	running("10.255.0.1")
	h.advance(time.Minute)
	h.sent[pe] = nil
	h.establish(pe, "10.255.0.1", 65000, "10.255.0.3", packet.IPv4Unicast)
	if o := h.opensSent(pe); len(o) != 1 || o[0].RouterID.String() != "10.255.0.1" {
		t.Fatalf("OPEN after a peer reset %+v", o)
	}

	// reset bgp all: every session restarts with the new ID.
	h.step(ResetPeers{})
	if n := notifications(t, h, pe); len(n) != 1 || n[0] != packet.CodeString(packet.ErrCease, packet.SubAdminReset) {
		t.Fatalf("reset bgp all sent %v", n)
	}
	running("10.255.0.7")
	h.sent[pe] = nil
	h.advance(time.Minute)
	h.establish(pe, "10.255.0.1", 65000, "10.255.0.3", packet.IPv4Unicast)
	if o := h.opensSent(pe); len(o) != 1 || o[0].RouterID.String() != "10.255.0.7" {
		t.Fatalf("OPEN after reset bgp all %+v", o)
	}
	// Nothing waits any more: a second reset keeps it.
	h.step(ResetPeers{})
	running("10.255.0.7")

	// The system router ID goes back and forth before a reset: nothing
	// waits.
	h.step(SetConfig{Config: cfg("10.255.0.8", true)})
	h.step(SetConfig{Config: cfg("10.255.0.7", true)})
	h.step(ResetPeers{})
	running("10.255.0.7")

	// router-id in the bgp view takes effect at once, and so does its
	// undo (back to the system's).
	h.sent[pe] = nil
	h.advance(time.Minute)
	h.establish(pe, "10.255.0.1", 65000, "10.255.0.3", packet.IPv4Unicast)
	h.sent[pe] = nil
	h.step(SetConfig{Config: cfg("10.1.1.1", false)})
	running("10.1.1.1")
	if n := notifications(t, h, pe); len(n) != 1 || n[0] != packet.CodeString(packet.ErrCease, packet.SubOtherConfigChange) {
		t.Fatalf("router-id change sent %v", n)
	}
	h.step(SetConfig{Config: cfg("10.255.0.7", true)})
	running("10.255.0.7")
}
