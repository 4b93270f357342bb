package bgp

import (
	"fmt"
	"net/netip"
	"testing"

	"vpnos/services/bgp/packet"
)

// checkInvariants verifies the speaker's bookkeeping: reference counts of
// attribute sets and next hops match the paths holding them, prefix
// counters match the tables, nothing is left dirty.
func checkInvariants(s *Speaker) error {
	attrRefs := map[*attrSet]int{}
	nhRefs := map[*nexthop]int{}
	counts := map[*peer][2]int{}
	count := func(p *path, fam int) {
		attrRefs[p.attrs]++
		if p.nh != nil {
			nhRefs[p.nh]++
		}
		if p.kind == kindPeer {
			c := counts[p.src]
			c[fam]++
			counts[p.src] = c
		}
	}
	for _, in := range s.insts {
		if len(in.routes.dirty) != 0 || len(in.routes.pending) != 0 {
			return fmt.Errorf("instance %s left dirty", in.name)
		}
		for k, d := range in.routes.dests {
			if d.mark != 0 {
				return fmt.Errorf("destination %s of %s still marked", k, in.name)
			}
			if len(d.paths) == 0 {
				return fmt.Errorf("empty destination %s kept in %s", k, in.name)
			}
			for i := range d.paths {
				count(&d.paths[i], 0)
			}
		}
	}
	for k, d := range s.vpn.dests {
		if len(d.paths) == 0 {
			return fmt.Errorf("empty VPN destination %s kept", k)
		}
		for i := range d.paths {
			count(&d.paths[i], 1)
		}
	}
	for _, set := range s.attrs.sets {
		if set.refs != attrRefs[set] {
			return fmt.Errorf("attribute set with %d references held by %d paths", set.refs, attrRefs[set])
		}
	}
	for set := range attrRefs {
		if s.attrs.sets[set.key] != set {
			return fmt.Errorf("a path holds a released attribute set")
		}
	}
	for _, n := range s.nhs {
		if n.refs != nhRefs[n] {
			return fmt.Errorf("next hop %v with %d references held by %d paths", n.key, n.refs, nhRefs[n])
		}
	}
	for n := range nhRefs {
		if s.nhs[n.key] != n {
			return fmt.Errorf("a path holds an untracked next hop %v", n.key)
		}
	}
	for _, p := range s.peers {
		if p.prefixes != counts[p] {
			return fmt.Errorf("peer %s counts %v prefixes, tables hold %v", p.key, p.prefixes, counts[p])
		}
	}
	return nil
}

func TestInvariantsAfterScenarios(t *testing.T) {
	h := upTwoVPN(t, nil)
	h.recv(ceRed, ipv4Update(t, ceAttrs(64501), "10.1.1.1", "172.16.1.0/24", "172.16.2.0/24"))
	h.recv(pe2, vpnUpdate(t, ibgpAttrs("65000:100", "65000:200"), "10.255.0.3", vpnR("10.255.0.3:1", "172.16.9.0/24", 700)))
	if err := checkInvariants(h.s); err != nil {
		t.Fatal(err)
	}
	h.recv(ceRed, packet.EncodeNotification(&packet.Notification{Code: 6, Subcode: 4}))
	h.recv(pe2, vpnWithdraw(vpnR("10.255.0.3:1", "172.16.9.0/24", 0)))
	if err := checkInvariants(h.s); err != nil {
		t.Fatal(err)
	}
	if len(h.s.attrs.sets) != 0 || len(h.s.nhs) != 0 {
		t.Errorf("%d attribute sets and %d next hops left with no route", len(h.s.attrs.sets), len(h.s.nhs))
	}
}

// FuzzSpeakerReceive feeds arbitrary messages through the speaker's receive
// path (decode, FSM, tables, exports, advertisement) on an Established
// EBGP CE session, an Established IBGP VPNv4 session, or a session waiting
// for the peer's OPEN. Nothing may panic, the bookkeeping must stay
// consistent, and a session that ends must have been sent a NOTIFICATION
// or have received one.
func FuzzSpeakerReceive(f *testing.F) {
	seeds := [][]byte{
		ipv4Update(f, ceAttrs(64501), "10.1.1.1", "172.16.1.0/24"),
		vpnUpdate(f, ibgpAttrs("65000:100"), "10.255.0.3", vpnR("10.255.0.3:1", "172.16.9.0/24", 700)),
		vpnWithdraw(vpnR("10.255.0.3:1", "172.16.9.0/24", 0)),
		packet.EncodeOpen(peerOpen(64501, "10.1.1.1", 90, packet.IPv4Unicast)),
		packet.EncodeNotification(&packet.Notification{Code: 6, Subcode: 2}),
		packet.EncodeKeepalive(),
		packet.EncodeRouteRefresh(packet.VPNv4),
		packet.EncodeEndOfRIB(packet.VPNv4),
	}
	for _, s := range seeds {
		for stage := uint8(0); stage < 3; stage++ {
			f.Add(s, s, stage)
		}
	}
	f.Fuzz(func(t *testing.T, msg1, msg2 []byte, stage uint8) {
		h := upTwoVPN(t, nil)
		k := ceRed
		switch stage % 3 {
		case 1:
			k = pe2
		case 2:
			// A new connection on the blue CE, waiting for OPEN.
			h.recv(ceBlue, packet.EncodeNotification(&packet.Notification{Code: 6, Subcode: 4}))
			h.advance(3 * 1e9)
			h.conns[ceBlue] = 99
			h.step(Connected{Peer: ceBlue, Conn: 99, Outgoing: true, Local: netip.MustParseAddr("10.1.1.2"), Remote: netip.MustParseAddr("10.1.1.1")})
			k = ceBlue
		}
		h.sent[k] = nil
		h.recv(k, msg1)
		h.recv(k, msg2)
		if err := checkInvariants(h.s); err != nil {
			t.Fatal(err)
		}
		p := h.s.peers[k]
		if stage%3 != 2 && !p.up {
			notified := false
			for _, m := range h.sent[k] {
				if len(m) > packet.HeaderLen && packet.Type(m[18]) == packet.TypeNotification {
					notified = true
				}
			}
			for _, m := range [][]byte{msg1, msg2} {
				if d, err := packet.Decode(m, packet.Options{AS4: true}); err == nil && d.Type() == packet.TypeNotification {
					notified = true
				}
			}
			if !notified {
				t.Fatalf("session ended without a NOTIFICATION (%s)", p.sess.lastError)
			}
		}
	})
}
