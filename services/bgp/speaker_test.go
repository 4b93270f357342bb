package bgp

import (
	"net/netip"
	"testing"

	"vpnos/services/bgp/packet"
)

// peConfig is PE1 of the reference lab: VPN instance red with a CE over
// EBGP, PE2 over IBGP in VPNv4.
func peConfig() Config {
	return Config{
		AS:       65000,
		RouterID: netip.MustParseAddr("10.255.0.1"),
		Peers: []Peer{
			{Addr: netip.MustParseAddr("10.255.0.3"), AS: 65000,
				PeerOptions: PeerOptions{ConnectInterface: "LoopBack0", SourceAddr: netip.MustParseAddr("10.255.0.1")},
				AF:          map[packet.Family]PeerAF{packet.VPNv4: {Enabled: true}}},
			{Addr: netip.MustParseAddr("192.0.2.2"), Instance: "red", AS: 64501},
		},
		VPNv4: &VPNv4AF{},
		Instances: []Instance{{
			Name: "red", RD: mustRD("10.255.0.1:1"),
			ImportRTs: []packet.ExtCommunity{mustRT("65000:100")}, ExportRTs: []packet.ExtCommunity{mustRT("65000:100")},
			BGP: &UnicastAF{Imports: []ImportRoute{{Protocol: ProtoDirect}}},
		}},
	}
}

var (
	pe2 = key("", "10.255.0.3")
	ceA = key("red", "192.0.2.2")
)

func TestPEExchangesVPNRoutes(t *testing.T) {
	h := newHarness(t, peConfig())
	acts := h.takeActions()
	dials := 0
	for _, a := range acts {
		if d, ok := a.(Dial); ok {
			dials++
			if d.Peer == ceA && (d.TTL != 1 || d.Instance != "red") {
				t.Errorf("CE dial %+v: want TTL 1 in red", d)
			}
			if d.Peer == pe2 && (d.TTL != 255 || d.Source != netip.MustParseAddr("10.255.0.1")) {
				t.Errorf("PE dial %+v: want TTL 255 from the loopback", d)
			}
		}
	}
	if dials != 2 {
		t.Fatalf("%d dials, want 2", dials)
	}
	h.establish(pe2, "10.255.0.1", 65000, "10.255.0.3", packet.IPv4Unicast, packet.VPNv4)
	h.establish(ceA, "192.0.2.1", 64501, "172.16.1.1", packet.IPv4Unicast)
	h.takeSent(pe2)
	h.takeSent(ceA)
	h.takeActions()

	// The CE announces a route: it waits for its next hop, then goes
	// into red and leaves as VPNv4 with RD, target and label.
	h.recv(ceA, ipv4Update(t, packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64501), MED: 5, HasMED: true}, "192.0.2.2", "172.16.1.0/24"))
	checkLines(t, "before the next hop resolves", ribChanges(h.takeActions()), []string{"watch red 192.0.2.2"})
	checkLines(t, "PE2 before the next hop resolves", routesSent(h.takeSent(pe2)), nil)
	h.step(reach("red", "192.0.2.2", 0, false))
	checkLines(t, "RIB", ribChanges(h.takeActions()), []string{
		"install red 172.16.1.0/24 EBGP med 5 via 192.0.2.2",
		"label 48000 -> red",
	})
	checkLines(t, "to PE2", routesSent(h.takeSent(pe2)), []string{
		"+ 10.255.0.1:1:172.16.1.0/24 nh 10.255.0.1 label 48000 path [64501] i lp 100 med 5 ext [65000:100]",
	})

	// A local route imported with import-route direct leaves too, with
	// the same per-instance label.
	h.step(RIBRoute{Instance: "red", Prefix: netip.MustParsePrefix("192.0.2.0/30"), Protocol: ProtoDirect,
		NextHops: []NextHop{{Gateway: netip.MustParseAddr("192.0.2.1"), Interface: "eth1"}}})
	checkLines(t, "to PE2", routesSent(h.takeSent(pe2)), []string{
		"+ 10.255.0.1:1:192.0.2.0/30 nh 10.255.0.1 label 48000 path [] ? lp 100 med 0 ext [65000:100]",
	})
	checkLines(t, "to the CE", routesSent(h.takeSent(ceA)), []string{
		"+ 192.0.2.0/30 nh 192.0.2.1 path [65000] ? med 0",
	})

	// PE2's route: imported by target, installed only with a tunnel.
	r3 := vpnR("10.255.0.3:1", "172.16.3.0/24", 1234)
	h.recv(pe2, vpnUpdate(t, packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64503), LocalPref: 100, HasLocalPref: true,
		ExtCommunities: []packet.ExtCommunity{mustRT("65000:100")}}, "10.255.0.3", r3))
	checkLines(t, "next hop watched", ribChanges(h.takeActions()), []string{"watch _public_ 10.255.0.3"})
	h.step(reach("", "10.255.0.3", 2, false))
	checkLines(t, "reachable without an LSP", ribChanges(h.takeActions()), nil)
	checkLines(t, "nothing for the CE without an LSP", routesSent(h.takeSent(ceA)), nil)
	h.step(reach("", "10.255.0.3", 2, true))
	checkLines(t, "with an LSP", ribChanges(h.takeActions()), []string{
		"install red 172.16.3.0/24 IBGP med 0 via 10.255.0.3@_public_ label 1234 tunnel",
	})
	checkLines(t, "to the CE", routesSent(h.takeSent(ceA)), []string{
		"+ 172.16.3.0/24 nh 192.0.2.1 path [65000 64503] i",
	})
	checkLines(t, "never back to PE2", routesSent(h.takeSent(pe2)), nil)

	// PE2 withdraws: gone from red and from the CE.
	h.recv(pe2, vpnWithdraw(r3))
	checkLines(t, "withdrawn", ribChanges(h.takeActions()), []string{"remove red 172.16.3.0/24", "unwatch _public_ 10.255.0.3"})
	checkLines(t, "to the CE", routesSent(h.takeSent(ceA)), []string{"- 172.16.3.0/24"})

	// The CE session drops: its route is withdrawn from PE2, red and the
	// RIB.
	h.recv(ceA, packet.EncodeNotification(&packet.Notification{Code: 6, Subcode: 2}))
	checkLines(t, "after the CE left", ribChanges(h.takeActions()), []string{"remove red 172.16.1.0/24", "unwatch red 192.0.2.2"})
	checkLines(t, "to PE2", routesSent(h.takeSent(pe2)), []string{"- 10.255.0.1:1:172.16.1.0/24"})

	// The direct route goes: nothing is exported, the label is released.
	h.step(RIBRoute{Instance: "red", Prefix: netip.MustParsePrefix("192.0.2.0/30"), Protocol: ProtoDirect, Delete: true})
	checkLines(t, "label freed", ribChanges(h.takeActions()), []string{"unlabel 48000 red"})
	checkLines(t, "to PE2", routesSent(h.takeSent(pe2)), []string{"- 10.255.0.1:1:192.0.2.0/30"})
	if n := len(h.labels.InUse()); n != 0 {
		t.Errorf("%d labels still allocated", n)
	}
}
