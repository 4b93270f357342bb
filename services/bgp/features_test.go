package bgp

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
	"time"

	"vpnos/services/bgp/packet"
)

// pubConfig: a router in AS 65000 with IBGP peer .2, EBGP peers .9 (AS
// 64509) and .10 (AS 64510) in IPv4 unicast.
func pubConfig(mod func(*Config)) Config {
	c := Config{AS: 65000, RouterID: netip.MustParseAddr("10.255.0.1"), Peers: []Peer{
		{Addr: netip.MustParseAddr("10.0.0.2"), AS: 65000, AF: map[packet.Family]PeerAF{}},
		{Addr: netip.MustParseAddr("10.0.0.9"), AS: 64509, AF: map[packet.Family]PeerAF{}},
		{Addr: netip.MustParseAddr("10.0.0.10"), AS: 64510, AF: map[packet.Family]PeerAF{}},
	}}
	if mod != nil {
		mod(&c)
	}
	return c
}

var (
	ib   = key("", "10.0.0.2")
	eb9  = key("", "10.0.0.9")
	eb10 = key("", "10.0.0.10")
)

func upPub(t *testing.T, mod func(*Config)) *harness {
	h := newHarness(t, pubConfig(mod))
	for _, a := range []string{"10.0.0.2", "10.0.0.9", "10.0.0.10", "10.9.9.9"} {
		h.reach[netip.MustParseAddr(a)] = NextHopState{Reachable: true, Cost: 1}
	}
	h.establish(ib, "10.0.0.1", 65000, "2.2.2.2", packet.IPv4Unicast)
	h.establish(eb9, "10.0.0.1", 64509, "9.9.9.9", packet.IPv4Unicast)
	h.establish(eb10, "10.0.1.1", 64510, "10.10.10.10", packet.IPv4Unicast)
	for _, k := range []PeerKey{ib, eb9, eb10} {
		h.takeSent(k)
	}
	h.takeActions()
	return h
}

func setAF(c *Config, addr string, f func(*PeerAF)) {
	for i := range c.Peers {
		if c.Peers[i].Addr.String() == addr {
			a := c.Peers[i].AF[packet.IPv4Unicast]
			f(&a)
			c.Peers[i].AF[packet.IPv4Unicast] = a
		}
	}
}

func TestPeerOptions(t *testing.T) {
	ebgp := packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64509, 64999), MED: 50, HasMED: true, Communities: []uint32{0xfde80001}}
	t.Run("EBGP-learned: IBGP keeps the next hop, EBGP gets the session address and no MED", func(t *testing.T) {
		h := upPub(t, nil)
		h.recv(eb9, ipv4Update(t, ebgp, "10.0.0.9", "10.50.0.0/16"))
		checkLines(t, "IBGP", routesSent(h.takeSent(ib)), []string{"+ 10.50.0.0/16 nh 10.0.0.9 path [64509 64999] i lp 100 med 50"})
		checkLines(t, "EBGP", routesSent(h.takeSent(eb10)), []string{"+ 10.50.0.0/16 nh 10.0.1.1 path [65000 64509 64999] i"})
		checkLines(t, "RIB", ribChanges(h.takeActions()), []string{"install _public_ 10.50.0.0/16 EBGP med 50 via 10.0.0.9", "watch _public_ 10.0.0.9"})
	})
	t.Run("next-hop-local and advertise-community", func(t *testing.T) {
		h := upPub(t, func(c *Config) {
			setAF(c, "10.0.0.2", func(a *PeerAF) { a.NextHopLocal = true })
			c.Peers[0].AdvertiseCommunity = true
		})
		h.recv(eb9, ipv4Update(t, ebgp, "10.0.0.9", "10.50.0.0/16"))
		checkLines(t, "IBGP", routesSent(h.takeSent(ib)), []string{"+ 10.50.0.0/16 nh 10.0.0.1 path [64509 64999] i lp 100 med 50 comm [4259840001]"})
	})
	t.Run("an IBGP-learned route is not sent to IBGP without reflection", func(t *testing.T) {
		h := upPub(t, func(c *Config) {
			c.Peers = append(c.Peers, Peer{Addr: netip.MustParseAddr("10.0.0.3"), AS: 65000, AF: map[packet.Family]PeerAF{}})
		})
		ib3 := key("", "10.0.0.3")
		h.establish(ib3, "10.0.0.1", 65000, "3.3.3.3", packet.IPv4Unicast)
		h.takeSent(ib3)
		h.recv(ib, ipv4Update(t, packet.Attrs{Origin: packet.OriginIGP, LocalPref: 100, HasLocalPref: true}, "10.9.9.9", "10.60.0.0/16"))
		checkLines(t, "other IBGP", routesSent(h.takeSent(ib3)), nil)
		checkLines(t, "EBGP", routesSent(h.takeSent(eb9)), []string{"+ 10.60.0.0/16 nh 10.0.0.1 path [65000] i"})
	})
	t.Run("allow-as-loop", func(t *testing.T) {
		looped := packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64509, 65000)}
		h := upPub(t, nil)
		h.recv(eb9, ipv4Update(t, looped, "10.0.0.9", "10.51.0.0/16"))
		checkLines(t, "refused", routesSent(h.takeSent(ib)), nil)
		h = upPub(t, func(c *Config) { setAF(c, "10.0.0.9", func(a *PeerAF) { a.AllowASLoop = 1 }) })
		h.recv(eb9, ipv4Update(t, looped, "10.0.0.9", "10.51.0.0/16"))
		checkLines(t, "accepted", routesSent(h.takeSent(ib)), []string{"+ 10.51.0.0/16 nh 10.0.0.9 path [64509 65000] i lp 100"})
	})
	t.Run("substitute-as", func(t *testing.T) {
		h := upPub(t, func(c *Config) { setAF(c, "10.0.0.10", func(a *PeerAF) { a.SubstituteAS = true }) })
		h.recv(eb9, ipv4Update(t, packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64509, 64510)}, "10.0.0.9", "10.52.0.0/16"))
		checkLines(t, "to AS 64510", routesSent(h.takeSent(eb10)), []string{"+ 10.52.0.0/16 nh 10.0.1.1 path [65000 64509 65000] i"})
	})
	t.Run("first AS must be the peer's", func(t *testing.T) {
		h := upPub(t, nil)
		h.recv(eb9, ipv4Update(t, packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64999)}, "10.0.0.9", "10.53.0.0/16"))
		checkLines(t, "refused", routesSent(h.takeSent(ib)), nil)
	})
	t.Run("default-route-advertise", func(t *testing.T) {
		h := newHarness(t, pubConfig(func(c *Config) { setAF(c, "10.0.0.9", func(a *PeerAF) { a.DefaultRouteAdvertise = true }) }))
		h.establish(eb9, "10.0.0.1", 64509, "9.9.9.9", packet.IPv4Unicast)
		checkLines(t, "default", routesSent(h.takeSent(eb9)), []string{"+ 0.0.0.0/0 nh 10.0.0.1 path [65000] i"})
	})
	t.Run("network and import-route", func(t *testing.T) {
		h := upPub(t, func(c *Config) {
			c.Unicast.Networks = []Network{{Prefix: netip.MustParsePrefix("10.255.0.1/32")}}
			c.Unicast.Imports = []ImportRoute{{Protocol: ProtoStatic, MED: 30, HasMED: true}}
		})
		h.step(
			RIBRoute{Prefix: netip.MustParsePrefix("10.255.0.1/32"), Protocol: ProtoDirect, NextHops: []NextHop{{Interface: "lo1"}}},
			RIBRoute{Prefix: netip.MustParsePrefix("192.168.0.0/16"), Protocol: ProtoStatic, Cost: 0, NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.0.0.9")}}},
			RIBRoute{Prefix: netip.MustParsePrefix("172.31.0.0/16"), Protocol: ProtoDirect},
		)
		checkLines(t, "IBGP", routesSent(h.takeSent(ib)), []string{
			"+ 10.255.0.1/32 nh 10.0.0.1 path [] i lp 100 med 0",
			"+ 192.168.0.0/16 nh 10.0.0.1 path [] ? lp 100 med 30",
		})
		checkLines(t, "EBGP", routesSent(h.takeSent(eb9)), []string{
			"+ 10.255.0.1/32 nh 10.0.0.1 path [65000] i med 0",
			"+ 192.168.0.0/16 nh 10.0.0.1 path [65000] ? med 30",
		})
		checkLines(t, "nothing installed for local routes", ribChanges(h.takeActions()), nil)
	})
	t.Run("2-octet peer gets AS_TRANS and AS4_PATH", func(t *testing.T) {
		h := newHarness(t, pubConfig(func(c *Config) { c.AS = 4200000001; c.Peers[0].AS = 4200000001 }))
		h.reach[netip.MustParseAddr("10.0.0.2")] = NextHopState{Reachable: true}
		h.establish(ib, "10.0.0.1", 4200000001, "2.2.2.2", packet.IPv4Unicast)
		h.establishAS4(eb9, "10.0.0.1", 64509, "9.9.9.9", false, packet.IPv4Unicast)
		h.takeSent(eb9)
		h.recv(ib, ipv4Update(t, packet.Attrs{Origin: packet.OriginIGP, LocalPref: 100, HasLocalPref: true}, "10.0.0.2", "10.70.0.0/16"))
		sent := h.sent[eb9]
		if len(sent) != 1 {
			t.Fatalf("%d messages", len(sent))
		}
		// AS_PATH 23456, AS4_PATH 4200000001.
		if x := hex.EncodeToString(sent[0]); !strings.Contains(x, "40020402015ba0") || !strings.Contains(x, "c011060201fa56ea01") {
			t.Errorf("no AS_TRANS and AS4_PATH in %x", sent[0])
		}
		checkLines(t, "merged back", routesSent(h.takeSent(eb9)), []string{"+ 10.70.0.0/16 nh 10.0.0.1 path [4200000001] i"})
	})
}

func TestMalformedUpdatesThroughTheSpeaker(t *testing.T) {
	good := packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64509)}
	t.Run("treat-as-withdraw removes the earlier route, the session stays", func(t *testing.T) {
		h := upPub(t, nil)
		h.recv(eb9, ipv4Update(t, good, "10.0.0.9", "10.80.0.0/16"))
		checkLines(t, "learned", ribChanges(h.takeActions()), []string{"install _public_ 10.80.0.0/16 EBGP med 0 via 10.0.0.9", "watch _public_ 10.0.0.9"})
		// The same prefix with ORIGIN 5.
		bad := ipv4Update(t, good, "10.0.0.9", "10.80.0.0/16")
		i := strings.Index(hex.EncodeToString(bad), "40010100") / 2
		bad[i+3] = 5
		acts := h.recv(eb9, bad)
		checkLines(t, "withdrawn", ribChanges(acts), []string{"remove _public_ 10.80.0.0/16", "unwatch _public_ 10.0.0.9"})
		checkLines(t, "to IBGP", routesSent(h.takeSent(ib)), []string{"+ 10.80.0.0/16 nh 10.0.0.9 path [64509] i lp 100", "- 10.80.0.0/16"})
		if !h.s.peers[eb9].up {
			t.Error("session reset for a treat-as-withdraw error")
		}
		var logged bool
		for _, a := range acts {
			if l, ok := a.(Log); ok && strings.Contains(l.Msg, "treat-as-withdraw") {
				logged = true
			}
		}
		if !logged {
			t.Error("the RFC 7606 decision was not logged")
		}
	})
	t.Run("an unrecognised well-known attribute resets the session", func(t *testing.T) {
		h := upPub(t, nil)
		h.recv(eb9, ipv4Update(t, good, "10.0.0.9", "10.80.0.0/16"))
		h.takeActions()
		h.takeSent(eb9)
		a := good
		a.Unknown = []packet.RawAttr{{Flags: packet.FlagOptional | packet.FlagTransitive, Type: 99, Value: []byte{1}}}
		bad := ipv4Update(t, a, "10.0.0.9", "10.81.0.0/16")
		// Clear the optional bit of attribute 99: well-known, unknown.
		i := strings.Index(hex.EncodeToString(bad), "e06301") / 2
		bad[i] = packet.FlagTransitive
		acts := h.recv(eb9, bad)
		var note *packet.Notification
		for _, m := range h.sent[eb9] {
			if d, err := packet.Decode(m, packet.Options{AS4: true}); err == nil {
				if n, ok := d.(*packet.Notification); ok {
					note = n
				}
			}
		}
		if note == nil || note.Code != 3 || note.Subcode != 2 {
			t.Fatalf("sent %v, want NOTIFICATION 3/2", note)
		}
		checkLines(t, "withdrawn", ribChanges(acts), []string{"remove _public_ 10.80.0.0/16", "unwatch _public_ 10.0.0.9"})
		if h.s.peers[eb9].up {
			t.Error("session still up")
		}
		// It comes back after the idle hold time.
		acts = h.advance(3 * time.Second)
		dial := false
		for _, a := range acts {
			if d, ok := a.(Dial); ok && d.Peer == eb9 {
				dial = true
			}
		}
		if !dial {
			t.Error("no reconnection after the idle hold time")
		}
	})
	t.Run("route refresh re-sends the table", func(t *testing.T) {
		h := upPub(t, nil)
		h.recv(eb9, ipv4Update(t, good, "10.0.0.9", "10.80.0.0/16"))
		h.takeSent(eb10)
		h.recv(eb10, packet.EncodeRouteRefresh(packet.IPv4Unicast))
		checkLines(t, "again", routesSent(h.takeSent(eb10)), []string{"+ 10.80.0.0/16 nh 10.0.1.1 path [65000 64509] i"})
	})
	t.Run("a removed peer gets Cease/Peer De-configured and its routes go", func(t *testing.T) {
		h := upPub(t, nil)
		h.recv(eb9, ipv4Update(t, good, "10.0.0.9", "10.80.0.0/16"))
		h.takeActions()
		h.takeSent(ib)
		h.step(SetConfig{Config: pubConfig(func(c *Config) { c.Peers = append(c.Peers[:1], c.Peers[2]) })})
		var note *packet.Notification
		for _, m := range h.sent[eb9] {
			if d, err := packet.Decode(m, packet.Options{AS4: true}); err == nil {
				if n, ok := d.(*packet.Notification); ok {
					note = n
				}
			}
		}
		if note == nil || note.Code != 6 || note.Subcode != 3 {
			t.Errorf("sent %v, want Cease/3", note)
		}
		checkLines(t, "to IBGP", routesSent(h.takeSent(ib)), []string{"- 10.80.0.0/16"})
	})
}

func TestUnicastLoadBalancing(t *testing.T) {
	h := newHarness(t, pubConfig(func(c *Config) { c.Unicast.MaxLoadBalancing = 2; c.Peers[2].AS = 64509 }))
	h.reach[netip.MustParseAddr("10.0.0.9")] = NextHopState{Reachable: true, Cost: 1}
	h.reach[netip.MustParseAddr("10.0.0.10")] = NextHopState{Reachable: true, Cost: 1}
	h.establish(eb9, "10.0.0.1", 64509, "9.9.9.9", packet.IPv4Unicast)
	h.establish(eb10, "10.0.1.1", 64509, "10.10.10.10", packet.IPv4Unicast)
	a := packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64509)}
	h.recv(eb9, ipv4Update(t, a, "10.0.0.9", "10.90.0.0/16"))
	h.recv(eb10, ipv4Update(t, a, "10.0.0.10", "10.90.0.0/16"))
	checkLines(t, "both", ribChanges(h.takeActions()), []string{
		"install _public_ 10.90.0.0/16 EBGP med 0 via 10.0.0.9",
		"install _public_ 10.90.0.0/16 EBGP med 0 via 10.0.0.9, 10.0.0.10",
		"watch _public_ 10.0.0.10",
		"watch _public_ 10.0.0.9",
	})
	h.recv(eb9, ipv4Withdraw("10.90.0.0/16"))
	checkLines(t, "one left", ribChanges(h.takeActions()), []string{"install _public_ 10.90.0.0/16 EBGP med 0 via 10.0.0.10", "unwatch _public_ 10.0.0.9"})
}
