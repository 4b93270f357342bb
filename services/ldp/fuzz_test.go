package ldp

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"vpnos/services/ldp/packet"
)

// fuzzSeeds are PDUs from the peer 10.255.0.9 of the rig: what FRR sends,
// and label traffic.
func fuzzSeeds() [][]byte {
	from := func(msgs ...packet.Message) []byte { return pduFrom("10.255.0.9", msgs...) }
	return [][]byte{
		from(&packet.KeepAlive{MsgID: 1}),
		from(&packet.Address{MsgID: 2, Family: packet.AFIPv4, Addrs: []netip.Addr{addr("10.0.12.2"), addr("10.255.0.9")}}),
		from(&packet.LabelMapping{MsgID: 3, FEC: packet.FECOf(pfx("10.255.0.1/32")), Label: 16},
			&packet.LabelMapping{MsgID: 4, FEC: packet.FECOf(pfx("10.255.0.9/32")), Label: 3}),
		from(&packet.LabelWithdraw{MsgID: 5, FEC: packet.WildcardFEC}),
		from(&packet.LabelRelease{MsgID: 6, FEC: packet.FECOf(pfx("10.255.0.5/32")), Label: 3, HasLabel: true}),
		from(&packet.LabelRequest{MsgID: 7, FEC: packet.FECOf(pfx("10.255.0.5/32"))}),
		from(&packet.Notification{MsgID: 8, Status: packet.Status{Code: packet.StatusUnknownFEC}}),
		from(&packet.Address{MsgID: 9, Withdraw: true, Family: packet.AFIPv4, Addrs: []netip.Addr{addr("10.0.12.2")}}),
		from(&packet.Init{MsgID: 10, Params: packet.SessionParams{Version: 1, KeepAlive: 45, Receiver: rigID}}),
	}
}

// checkInvariants: every LSP next hop leads to an operational peer that
// mapped the label; labels the allocator holds are in use or awaited.
func checkInvariants(t *testing.T, r *rig) {
	t.Helper()
	for _, l := range r.c.LSPs() {
		for _, h := range l.NextHops {
			p := r.c.peers[h.Peer]
			if p == nil || p.state != Operational || p.recv[l.FEC] != h.Out {
				t.Fatalf("LSP %v next hop %+v without an operational mapping", l.FEC, h)
			}
		}
	}
	held := map[uint32]bool{}
	for _, f := range r.c.fecs {
		if f.allocated {
			held[f.local] = true
		}
	}
	for l := range r.c.pendingFree {
		held[l] = true
	}
	for l := range r.alloc.used {
		if !held[l] {
			t.Fatalf("label %d leaked", l)
		}
	}
}

// FuzzReceive feeds PDUs through the receive path of an operational
// session (Step with PDUReceived): nothing may panic, the session ends only
// with a Notification, and the label state stays consistent.
func FuzzReceive(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newRig(t, func(c *Config) { c.Advertise = AdvertiseNonNull })
		r.passive()
		// The fuzzer's bytes are cut into PDUs the way the TCP reader
		// frames them.
		for len(data) > 0 {
			n := len(data)
			if len(data) >= 4 {
				if l := int(binary.BigEndian.Uint16(data[2:4])) + 4; l < n {
					n = l
				}
			}
			acts := r.step(PDUReceived{Conn: 7, Data: data[:n]})
			data = data[n:]
			sentTo(t, acts, 7) // every PDU the core sends must decode
			if closes(acts, 7) {
				if len(filterType[*packet.Notification](sentTo(t, acts, 7))) == 0 && r.state("10.255.0.9") != NonExistent {
					t.Fatal("closed without a Notification")
				}
				break
			}
		}
		checkInvariants(t, r)
		r.step(Stop{})
		if len(r.alloc.used) != 0 {
			t.Fatalf("labels held after Stop: %v", r.alloc.used)
		}
	})
}

// FuzzAccept feeds the first PDU of an accepted connection.
func FuzzAccept(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newRig(t, nil)
		r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")})
		r.step(ConnAccepted{Conn: 7, Remote: netip.MustParseAddrPort("10.255.0.9:1")})
		acts := r.step(PDUReceived{Conn: 7, Data: data})
		sentTo(t, acts, 7)
		checkInvariants(t, r)
	})
}

// FuzzHello feeds UDP datagrams to the discovery.
func FuzzHello(f *testing.F) {
	f.Add(helloPDU("10.255.0.9", 15, "10.255.0.9"))
	f.Add(helloPDU("10.255.0.1", 0, ""))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newRig(t, nil)
		r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: data})
		for _, p := range r.c.peers {
			if !p.transport.Is4() || p.id == rigID.LSRID || len(p.adjs) != 1 {
				t.Fatalf("peer %+v", p)
			}
		}
	})
}
