package bgp

import (
	"net/netip"
	"testing"

	"vpnos/services/bgp/packet"
)

// rrConfig: a route reflector 10.255.0.10 with clients .1 .2 .3 and
// non-clients .5 .6, in IPv4 unicast and VPNv4 (keeping every VPN route).
func rrConfig(mod func(*Config)) Config {
	c := Config{AS: 65000, RouterID: netip.MustParseAddr("10.255.0.10"), VPNv4: &VPNv4AF{NoPolicyVPNTarget: true}}
	for _, a := range []string{"10.255.0.1", "10.255.0.2", "10.255.0.3", "10.255.0.5", "10.255.0.6"} {
		client := a < "10.255.0.4"
		c.Peers = append(c.Peers, Peer{Addr: netip.MustParseAddr(a), AS: 65000, AF: map[packet.Family]PeerAF{
			packet.IPv4Unicast: {Enabled: true, ReflectClient: client},
			packet.VPNv4:       {Enabled: true, ReflectClient: client},
		}})
	}
	if mod != nil {
		mod(&c)
	}
	return c
}

var (
	c1, c2, c3 = key("", "10.255.0.1"), key("", "10.255.0.2"), key("", "10.255.0.3")
	n1, n2     = key("", "10.255.0.5"), key("", "10.255.0.6")
)

func upRR(t *testing.T, mod func(*Config)) *harness {
	h := newHarness(t, rrConfig(mod))
	for i, k := range []PeerKey{c1, c2, c3, n1, n2} {
		h.establish(k, "10.255.0.10", 65000, []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "5.5.5.5", "6.6.6.6"}[i], packet.IPv4Unicast, packet.VPNv4)
	}
	for _, nh := range []string{"10.255.0.1", "10.255.0.2", "10.255.0.3", "10.255.0.5", "10.255.0.6"} {
		h.reach[netip.MustParseAddr(nh)] = reach("", nh, 10, false)
	}
	for _, k := range []PeerKey{c1, c2, c3, n1, n2} {
		h.takeSent(k)
	}
	h.takeActions()
	return h
}

func TestReflectionRules(t *testing.T) {
	lp := packet.Attrs{Origin: packet.OriginIGP, LocalPref: 100, HasLocalPref: true}
	t.Run("from a client to clients and non-clients", func(t *testing.T) {
		h := upRR(t, nil)
		h.recv(c1, ipv4Update(t, lp, "10.255.0.1", "10.1.0.0/16"))
		want := []string{"+ 10.1.0.0/16 nh 10.255.0.1 path [] i lp 100 originator 1.1.1.1 clusters [10.255.0.10]"}
		for _, k := range []PeerKey{c2, c3, n1, n2} {
			checkLines(t, k.String(), routesSent(h.takeSent(k)), want)
		}
		checkLines(t, "back to the client", routesSent(h.takeSent(c1)), nil)
	})
	t.Run("from a non-client to clients only", func(t *testing.T) {
		h := upRR(t, nil)
		h.recv(n1, ipv4Update(t, lp, "10.255.0.5", "10.5.0.0/16"))
		want := []string{"+ 10.5.0.0/16 nh 10.255.0.5 path [] i lp 100 originator 5.5.5.5 clusters [10.255.0.10]"}
		for _, k := range []PeerKey{c1, c2, c3} {
			checkLines(t, k.String(), routesSent(h.takeSent(k)), want)
		}
		checkLines(t, "other non-client", routesSent(h.takeSent(n2)), nil)
	})
	t.Run("undo reflect between-clients", func(t *testing.T) {
		h := upRR(t, func(c *Config) { c.Unicast.NoReflectBetweenClients = true })
		h.recv(c1, ipv4Update(t, lp, "10.255.0.1", "10.1.0.0/16"))
		checkLines(t, "client", routesSent(h.takeSent(c2)), nil)
		checkLines(t, "non-client", routesSent(h.takeSent(n1)), []string{"+ 10.1.0.0/16 nh 10.255.0.1 path [] i lp 100 originator 1.1.1.1 clusters [10.255.0.10]"})
	})
	t.Run("VPNv4 reflected with next hop and label unchanged, cluster-id configured", func(t *testing.T) {
		h := upRR(t, func(c *Config) { c.VPNv4.ClusterID = 7 })
		a := ibgpAttrs("65000:100")
		a.OriginatorID = packet.Addr32(netip.MustParseAddr("9.9.9.9"))
		a.ClusterList = []uint32{99}
		h.recv(c1, vpnUpdate(t, a, "10.255.0.1", vpnR("10.255.0.1:1", "172.16.1.0/24", 48123)))
		checkLines(t, "client", routesSent(h.takeSent(c2)), []string{
			"+ 10.255.0.1:1:172.16.1.0/24 nh 10.255.0.1 label 48123 path [] i lp 100 originator 9.9.9.9 clusters [0.0.0.7 0.0.0.99] ext [65000:100]"})
		checkLines(t, "RIB of an RR without instances", ribChanges(h.takeActions()), []string{"watch _public_ 10.255.0.1"})
	})
	t.Run("loops dropped on receipt", func(t *testing.T) {
		h := upRR(t, nil)
		// c2 announces a prefix validly, then with our router ID as
		// originator: the second is a withdrawal.
		h.recv(c2, ipv4Update(t, lp, "10.255.0.2", "10.2.0.0/16"))
		checkLines(t, "first", routesSent(h.takeSent(n1)), []string{"+ 10.2.0.0/16 nh 10.255.0.2 path [] i lp 100 originator 2.2.2.2 clusters [10.255.0.10]"})
		loop := lp
		loop.OriginatorID = packet.Addr32(netip.MustParseAddr("10.255.0.10"))
		h.recv(c2, ipv4Update(t, loop, "10.255.0.2", "10.2.0.0/16"))
		checkLines(t, "originator loop", routesSent(h.takeSent(n1)), []string{"- 10.2.0.0/16"})
		// Our cluster ID in the list.
		cl := lp
		cl.ClusterList = []uint32{1, packet.Addr32(netip.MustParseAddr("10.255.0.10"))}
		h.recv(c3, ipv4Update(t, cl, "10.255.0.3", "10.3.0.0/16"))
		checkLines(t, "cluster loop", routesSent(h.takeSent(n1)), nil)
		if got := len(h.s.insts[PublicInstance].routes.dests); got != 0 {
			t.Errorf("%d destinations kept", got)
		}
		// Our AS in the path.
		as := lp
		as.ASPath = seq(65001, 65000)
		h.recv(c3, ipv4Update(t, as, "10.255.0.3", "10.3.0.0/16"))
		checkLines(t, "AS loop", routesSent(h.takeSent(n1)), nil)
	})
}

func TestUpdateGroupsShareEncodedUpdates(t *testing.T) {
	h := upRR(t, nil)
	h.takeActions()
	lp := packet.Attrs{Origin: packet.OriginIGP, LocalPref: 100, HasLocalPref: true}
	var prefixes []string
	for i := 0; i < 600; i++ {
		prefixes = append(prefixes, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24).String())
	}
	// 600 routes in two messages from a non-client: the three clients
	// are one group and receive the same packed bytes.
	h.recv(n1, ipv4Update(t, lp, "10.255.0.5", prefixes[:300]...), ipv4Update(t, lp, "10.255.0.5", prefixes[300:]...))
	sends := map[PeerKey]Send{}
	for _, a := range h.takeActions() {
		if s, ok := a.(Send); ok {
			if _, dup := sends[s.Peer]; dup {
				t.Errorf("two Sends to %s in one step", s.Peer)
			}
			sends[s.Peer] = s
		}
	}
	if len(sends) != 3 {
		t.Fatalf("sent to %d peers, want the 3 clients", len(sends))
	}
	first := sends[c1].Msgs
	if len(first) != 1 {
		t.Errorf("%d messages for 600 /24s, want 1 (packed)", len(first))
	}
	for _, k := range []PeerKey{c2, c3} {
		if len(sends[k].Msgs) != len(first) || &sends[k].Msgs[0][0] != &first[0][0] {
			t.Errorf("%s does not share the group's encoded UPDATE", k)
		}
	}
	// From a client: the other clients share, the client gets nothing.
	h.recv(c1, ipv4Update(t, lp, "10.255.0.1", "192.168.0.0/16"))
	sends = map[PeerKey]Send{}
	for _, a := range h.takeActions() {
		if s, ok := a.(Send); ok {
			sends[s.Peer] = s
		}
	}
	if _, ok := sends[c1]; ok {
		t.Error("route sent back to its client")
	}
	if &sends[c2].Msgs[0][0] != &sends[c3].Msgs[0][0] {
		t.Error("c2 and c3 do not share the update")
	}
	if &sends[n1].Msgs[0][0] == &sends[c2].Msgs[0][0] {
		t.Error("non-clients share the clients' group")
	}
	// A route moving from c2's path to c1's: c1 must be told to withdraw
	// what it had from c2.
	for _, k := range []PeerKey{c1, c2, c3, n1, n2} {
		h.takeSent(k)
	}
	h.recv(c2, ipv4Update(t, lp, "10.255.0.2", "172.20.0.0/16"))
	checkLines(t, "c1 learns c2's route", routesSent(h.takeSent(c1)), []string{
		"+ 172.20.0.0/16 nh 10.255.0.2 path [] i lp 100 originator 2.2.2.2 clusters [10.255.0.10]"})
	checkLines(t, "c3 learns c2's route", routesSent(h.takeSent(c3)), []string{
		"+ 172.20.0.0/16 nh 10.255.0.2 path [] i lp 100 originator 2.2.2.2 clusters [10.255.0.10]"})
	checkLines(t, "c2 is not sent its own route", routesSent(h.takeSent(c2)), nil)
	better := lp
	better.LocalPref = 200
	h.recv(c1, ipv4Update(t, better, "10.255.0.1", "172.20.0.0/16"))
	checkLines(t, "c1 gets a withdrawal", routesSent(h.takeSent(c1)), []string{"- 172.20.0.0/16"})
	checkLines(t, "c3 gets c1's route", routesSent(h.takeSent(c3)), []string{
		"+ 172.20.0.0/16 nh 10.255.0.1 path [] i lp 200 originator 1.1.1.1 clusters [10.255.0.10]"})
	checkLines(t, "c2 gets c1's route", routesSent(h.takeSent(c2)), []string{
		"+ 172.20.0.0/16 nh 10.255.0.1 path [] i lp 200 originator 1.1.1.1 clusters [10.255.0.10]"})
}

// Two RRs of one cluster, each a client of the other, with two PEs as
// clients of both. A withdrawn route must leave both RRs (GoBGP's server
// keeps it: it lacks the CLUSTER_LIST check on receipt).
func TestRedundantReflectorsDropWithdrawnRoutes(t *testing.T) {
	m := newSim(t)
	for _, a := range []string{"10.255.0.1", "10.255.0.2", "10.255.0.11", "10.255.0.12"} {
		m.reach[netip.MustParseAddr(a)] = NextHopState{Reachable: true, Tunnel: true, Cost: 10}
	}
	rr := func(id, other string) Config {
		c := Config{AS: 65000, RouterID: netip.MustParseAddr(id), VPNv4: &VPNv4AF{NoPolicyVPNTarget: true, ClusterID: 1}}
		for _, a := range []string{"10.255.0.1", "10.255.0.2", other} {
			c.Peers = append(c.Peers, Peer{Addr: netip.MustParseAddr(a), AS: 65000, AF: map[packet.Family]PeerAF{
				packet.VPNv4: {Enabled: true, ReflectClient: true}}})
		}
		return c
	}
	pe := func(id string) Config {
		c := Config{AS: 65000, RouterID: netip.MustParseAddr(id), VPNv4: &VPNv4AF{NoPolicyVPNTarget: true}}
		for _, a := range []string{"10.255.0.11", "10.255.0.12"} {
			c.Peers = append(c.Peers, Peer{Addr: netip.MustParseAddr(a), AS: 65000, AF: map[packet.Family]PeerAF{packet.VPNv4: {Enabled: true}}})
		}
		return c
	}
	rr1 := m.add("rr1", rr("10.255.0.11", "10.255.0.12"))
	rr2 := m.add("rr2", rr("10.255.0.12", "10.255.0.11"))
	peA := m.add("peA", pe("10.255.0.1"))
	peB := m.add("peB", pe("10.255.0.2"))
	for _, l := range []*simLink{
		m.link(rr1, "10.255.0.11", rr2, "10.255.0.12"),
		m.link(peA, "10.255.0.1", rr1, "10.255.0.11"), m.link(peA, "10.255.0.1", rr2, "10.255.0.12"),
		m.link(peB, "10.255.0.2", rr1, "10.255.0.11"), m.link(peB, "10.255.0.2", rr2, "10.255.0.12"),
	} {
		m.connect(l)
	}
	for _, n := range m.order {
		for _, p := range n.s.peers {
			if !p.up {
				t.Fatalf("%s: %s not established", n.name, p.key)
			}
		}
	}
	// PE A announces a VPN route (as a remote PE would: a fake peer is
	// enough, so inject it with a VPN instance-less PE through its RR
	// sessions).
	r := vpnR("10.255.0.1:1", "172.16.1.0/24", 48000)
	upd := vpnUpdate(t, ibgpAttrs("65000:100"), "10.255.0.1", r)
	wd := vpnWithdraw(r)
	for _, l := range m.links {
		if l.a == peA {
			l.b.inbox = append(l.b.inbox, Received{Conn: l.bConn, Data: upd})
		}
	}
	m.pump()
	checkLines(t, "rr1", rr1.vpnRoutes(), []string{"10.255.0.1:1:172.16.1.0/24 from 10.255.0.1"})
	checkLines(t, "rr2", rr2.vpnRoutes(), []string{"10.255.0.1:1:172.16.1.0/24 from 10.255.0.1"})
	checkLines(t, "peB", peB.vpnRoutes(), []string{
		"10.255.0.1:1:172.16.1.0/24 from 10.255.0.11", "10.255.0.1:1:172.16.1.0/24 from 10.255.0.12"})
	for _, l := range m.links {
		if l.a == peA {
			l.b.inbox = append(l.b.inbox, Received{Conn: l.bConn, Data: wd})
		}
	}
	m.pump()
	for _, n := range []*simNode{rr1, rr2, peB} {
		checkLines(t, n.name+" after the withdrawal", n.vpnRoutes(), nil)
	}
}

func TestReflectionSettingsResetInternalSessions(t *testing.T) {
	h := upRR(t, nil)
	h.step(SetConfig{Config: rrConfig(func(c *Config) { c.VPNv4.ClusterID = 9 })})
	for _, k := range []PeerKey{c1, c2, c3, n1, n2} {
		var note *packet.Notification
		for _, m := range h.sent[k] {
			if d, err := packet.Decode(m, packet.Options{AS4: true}); err == nil {
				if n, ok := d.(*packet.Notification); ok {
					note = n
				}
			}
		}
		if note == nil || note.Code != packet.ErrCease || note.Subcode != packet.SubOtherConfigChange {
			t.Errorf("%s: sent %v, want Cease / Other Configuration Change", k, note)
		}
		if h.s.peers[k] == nil {
			t.Errorf("%s: peer lost", k)
		}
	}
}
