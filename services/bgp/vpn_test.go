package bgp

import (
	"net/netip"
	"testing"

	"vpnos/services/bgp/packet"
)

func vpnInstance(name, rd string, imp, exp []string, mod func(*Instance)) Instance {
	in := Instance{Name: name, RD: mustRD(rd), BGP: &UnicastAF{}}
	for _, r := range imp {
		in.ImportRTs = append(in.ImportRTs, mustRT(r))
	}
	for _, r := range exp {
		in.ExportRTs = append(in.ExportRTs, mustRT(r))
	}
	if mod != nil {
		mod(&in)
	}
	return in
}

// twoVPNConfig: PE1 with instances red and blue, each with a CE at
// 10.1.1.1 (the same address), and PE2 in VPNv4.
func twoVPNConfig(mod func(*Config)) Config {
	c := Config{
		AS: 65000, RouterID: netip.MustParseAddr("10.255.0.1"), VPNv4: &VPNv4AF{},
		Peers: []Peer{
			{Addr: netip.MustParseAddr("10.255.0.3"), AS: 65000, PeerOptions: PeerOptions{SourceAddr: netip.MustParseAddr("10.255.0.1")},
				AF: map[packet.Family]PeerAF{packet.VPNv4: {Enabled: true}}, NoUnicast: true},
			{Addr: netip.MustParseAddr("10.1.1.1"), Instance: "red", AS: 64501},
			{Addr: netip.MustParseAddr("10.1.1.1"), Instance: "blue", AS: 64502},
		},
		Instances: []Instance{
			vpnInstance("blue", "10.255.0.1:2", []string{"65000:200"}, []string{"65000:200"}, nil),
			vpnInstance("red", "10.255.0.1:1", []string{"65000:100"}, []string{"65000:100"}, nil),
		},
	}
	if mod != nil {
		mod(&c)
	}
	return c
}

var (
	ceRed  = key("red", "10.1.1.1")
	ceBlue = key("blue", "10.1.1.1")
)

func upTwoVPN(t *testing.T, mod func(*Config)) *harness {
	h := newHarness(t, twoVPNConfig(mod))
	h.reach[netip.MustParseAddr("10.1.1.1")] = NextHopState{Reachable: true}
	h.reach[netip.MustParseAddr("10.255.0.3")] = NextHopState{Reachable: true, Tunnel: true, Cost: 2}
	h.reach[netip.MustParseAddr("10.255.0.4")] = NextHopState{Reachable: true, Tunnel: true, Cost: 1}
	h.establish(pe2, "10.255.0.1", 65000, "10.255.0.3", packet.VPNv4)
	h.establish(ceRed, "10.1.1.2", 64501, "10.1.1.1", packet.IPv4Unicast)
	h.establish(ceBlue, "10.1.1.2", 64502, "10.1.1.1", packet.IPv4Unicast)
	for _, k := range []PeerKey{pe2, ceRed, ceBlue} {
		h.takeSent(k)
	}
	h.takeActions()
	return h
}

func ceAttrs(as uint32) packet.Attrs {
	return packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(as)}
}

func TestTwoCEsAtOneAddressInTwoVPNs(t *testing.T) {
	h := upTwoVPN(t, nil)
	h.recv(ceRed, ipv4Update(t, ceAttrs(64501), "10.1.1.1", "172.16.0.0/24"))
	h.recv(ceBlue, ipv4Update(t, ceAttrs(64502), "10.1.1.1", "172.16.0.0/24"))
	checkLines(t, "RIB", ribChanges(h.takeActions()), []string{
		"install blue 172.16.0.0/24 EBGP med 0 via 10.1.1.1",
		"install red 172.16.0.0/24 EBGP med 0 via 10.1.1.1",
		"label 48000 -> red",
		"label 48001 -> blue",
		"watch blue 10.1.1.1",
		"watch red 10.1.1.1",
	})
	checkLines(t, "to PE2", routesSent(h.takeSent(pe2)), []string{
		"+ 10.255.0.1:1:172.16.0.0/24 nh 10.255.0.1 label 48000 path [64501] i lp 100 ext [65000:100]",
		"+ 10.255.0.1:2:172.16.0.0/24 nh 10.255.0.1 label 48001 path [64502] i lp 100 ext [65000:200]",
	})
	// Isolation: neither CE hears the other's route.
	checkLines(t, "red CE", routesSent(h.takeSent(ceRed)), nil)
	checkLines(t, "blue CE", routesSent(h.takeSent(ceBlue)), nil)
	// A remote red route reaches the red CE only.
	h.recv(pe2, vpnUpdate(t, ibgpAttrs("65000:100"), "10.255.0.3", vpnR("10.255.0.3:1", "172.16.9.0/24", 700)))
	checkLines(t, "red CE", routesSent(h.takeSent(ceRed)), []string{"+ 172.16.9.0/24 nh 10.1.1.2 path [65000] i"})
	checkLines(t, "blue CE", routesSent(h.takeSent(ceBlue)), nil)
}

func TestLocalCrossingBetweenInstances(t *testing.T) {
	// blue also imports red's target: red's routes cross into blue on
	// this PE, with red as the next hop's instance and no label.
	h := upTwoVPN(t, func(c *Config) {
		c.Instances[0].ImportRTs = append(c.Instances[0].ImportRTs, mustRT("65000:100"))
		c.Instances[1].BGP.Imports = []ImportRoute{{Protocol: ProtoStatic, MED: 7, HasMED: true}}
	})
	h.recv(ceRed, ipv4Update(t, ceAttrs(64501), "10.1.1.1", "172.16.1.0/24"))
	h.step(RIBRoute{Instance: "red", Prefix: netip.MustParsePrefix("172.16.11.0/24"), Protocol: ProtoStatic, Cost: 0,
		NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.1.1.1")}}})
	checkLines(t, "RIB", ribChanges(h.takeActions()), []string{
		"install blue 172.16.1.0/24 IBGP med 0 via 10.1.1.1@red",
		"install blue 172.16.11.0/24 IBGP med 7 via 10.1.1.1@red",
		"install red 172.16.1.0/24 EBGP med 0 via 10.1.1.1",
		"label 48000 -> red",
		"watch red 10.1.1.1",
	})
	checkLines(t, "blue CE hears red's routes", routesSent(h.takeSent(ceBlue)), []string{
		"+ 172.16.1.0/24 nh 10.1.1.2 path [65000 64501] i",
		"+ 172.16.11.0/24 nh 10.1.1.2 path [65000] ?",
	})
	// Crossed routes are not exported again from blue.
	checkLines(t, "to PE2", routesSent(h.takeSent(pe2)), []string{
		"+ 10.255.0.1:1:172.16.1.0/24 nh 10.255.0.1 label 48000 path [64501] i lp 100 ext [65000:100]",
		"+ 10.255.0.1:1:172.16.11.0/24 nh 10.255.0.1 label 48000 path [] ? lp 100 med 7 ext [65000:100]",
	})
	// The red CE route goes: it leaves blue too.
	h.recv(ceRed, ipv4Withdraw("172.16.1.0/24"))
	checkLines(t, "RIB", ribChanges(h.takeActions()), []string{"remove blue 172.16.1.0/24", "remove red 172.16.1.0/24", "unwatch red 10.1.1.1"})
	checkLines(t, "blue CE", routesSent(h.takeSent(ceBlue)), []string{"- 172.16.1.0/24"})
}

func TestBestPathPerInstanceAcrossRDs(t *testing.T) {
	// Two PEs announce one prefix under two RDs; red picks by IGP cost
	// (not arrival order), and with maximum load-balancing 2 uses both.
	for _, lb := range []int{1, 2} {
		h := upTwoVPN(t, func(c *Config) {
			c.Peers = append(c.Peers, Peer{Addr: netip.MustParseAddr("10.255.0.4"), AS: 65000,
				AF: map[packet.Family]PeerAF{packet.VPNv4: {Enabled: true}}, NoUnicast: true})
			c.Instances[1].BGP.MaxLoadBalancing = lb
		})
		pe4 := key("", "10.255.0.4")
		h.establish(pe4, "10.255.0.1", 65000, "10.255.0.4", packet.VPNv4)
		h.takeActions()
		h.recv(pe2, vpnUpdate(t, ibgpAttrs("65000:100"), "10.255.0.3", vpnR("10.255.0.3:1", "172.16.5.0/24", 300)))
		h.recv(pe4, vpnUpdate(t, ibgpAttrs("65000:100"), "10.255.0.4", vpnR("10.255.0.4:1", "172.16.5.0/24", 400)))
		// .4 is nearer (IGP cost 1 against 2): it wins whatever the
		// arrival order.
		checkLines(t, "installs", ribChanges(h.takeActions()), []string{
			"install red 172.16.5.0/24 IBGP med 0 via 10.255.0.3@_public_ label 300 tunnel",
			"install red 172.16.5.0/24 IBGP med 0 via 10.255.0.4@_public_ label 400 tunnel",
			"watch _public_ 10.255.0.3",
			"watch _public_ 10.255.0.4",
		})
		if lb == 2 {
			// Equal costs: both PEs carry the traffic.
			h.step(NextHopState{Instance: PublicInstance, Addr: netip.MustParseAddr("10.255.0.3"), Reachable: true, Tunnel: true, Cost: 1})
			checkLines(t, "load balanced", ribChanges(h.takeActions()), []string{
				"install red 172.16.5.0/24 IBGP med 0 via 10.255.0.3@_public_ label 300 tunnel, 10.255.0.4@_public_ label 400 tunnel"})
		}
		// The further PE's path gets cheaper: red follows at once.
		h.step(NextHopState{Instance: PublicInstance, Addr: netip.MustParseAddr("10.255.0.3"), Reachable: true, Tunnel: true, Cost: 0})
		checkLines(t, "after the IGP change", ribChanges(h.takeActions()), []string{
			"install red 172.16.5.0/24 IBGP med 0 via 10.255.0.3@_public_ label 300 tunnel"})
		// The LSP to it goes: back to the other.
		h.step(NextHopState{Instance: PublicInstance, Addr: netip.MustParseAddr("10.255.0.3"), Reachable: true, Tunnel: false, Cost: 0})
		checkLines(t, "without a tunnel", ribChanges(h.takeActions()), []string{
			"install red 172.16.5.0/24 IBGP med 0 via 10.255.0.4@_public_ label 400 tunnel"})
	}
}

func TestLabelModes(t *testing.T) {
	t.Run("per-route", func(t *testing.T) {
		h := upTwoVPN(t, func(c *Config) { c.Instances[1].LabelMode = LabelPerRoute })
		h.recv(ceRed, ipv4Update(t, ceAttrs(64501), "10.1.1.1", "172.16.1.0/24", "172.16.2.0/24"))
		checkLines(t, "labels", ribChanges(h.takeActions()), []string{
			"install red 172.16.1.0/24 EBGP med 0 via 10.1.1.1",
			"install red 172.16.2.0/24 EBGP med 0 via 10.1.1.1",
			"label 48000 -> red 172.16.1.0/24",
			"label 48001 -> red 172.16.2.0/24",
			"watch red 10.1.1.1",
		})
		checkLines(t, "to PE2", routesSent(h.takeSent(pe2)), []string{
			"+ 10.255.0.1:1:172.16.1.0/24 nh 10.255.0.1 label 48000 path [64501] i lp 100 ext [65000:100]",
			"+ 10.255.0.1:1:172.16.2.0/24 nh 10.255.0.1 label 48001 path [64501] i lp 100 ext [65000:100]",
		})
		h.recv(ceRed, ipv4Withdraw("172.16.1.0/24"))
		checkLines(t, "freed", ribChanges(h.takeActions()), []string{"remove red 172.16.1.0/24", "unlabel 48000 red"})
		if got := len(h.labels.InUse()); got != 1 {
			t.Errorf("%d labels in use, want 1", got)
		}
	})
	t.Run("pinned per-instance label", func(t *testing.T) {
		h := upTwoVPN(t, func(c *Config) { c.Instances[1].StaticLabel = 100 })
		h.recv(ceRed, ipv4Update(t, ceAttrs(64501), "10.1.1.1", "172.16.1.0/24"))
		checkLines(t, "to PE2", routesSent(h.takeSent(pe2)), []string{
			"+ 10.255.0.1:1:172.16.1.0/24 nh 10.255.0.1 label 100 path [64501] i lp 100 ext [65000:100]"})
		if got := len(h.labels.InUse()); got != 0 {
			t.Errorf("the pinned label was allocated (%d in use)", got)
		}
	})
}

func TestPolicyVPNTarget(t *testing.T) {
	h := upTwoVPN(t, nil)
	// A route nobody imports is dropped on receipt.
	h.recv(pe2, vpnUpdate(t, ibgpAttrs("65000:999"), "10.255.0.3", vpnR("10.255.0.3:9", "172.30.0.0/24", 900)))
	if n := len(h.s.vpn.dests); n != 0 {
		t.Fatalf("%d VPNv4 destinations kept", n)
	}
	// Importing its target asks PE2 for its routes again.
	h.step(SetConfig{Config: twoVPNConfig(func(c *Config) {
		c.Instances[0].ImportRTs = append(c.Instances[0].ImportRTs, mustRT("65000:999"))
	})})
	var refresh bool
	for _, b := range h.sent[pe2] {
		if m, err := packet.Decode(b, packet.Options{AS4: true}); err == nil {
			if rr, ok := m.(*packet.RouteRefresh); ok && rr.Family == packet.VPNv4 {
				refresh = true
			}
		}
	}
	if !refresh {
		t.Error("no ROUTE-REFRESH after a new import target")
	}
	h.sent[pe2] = nil
	h.recv(pe2, vpnUpdate(t, ibgpAttrs("65000:999"), "10.255.0.3", vpnR("10.255.0.3:9", "172.30.0.0/24", 900)))
	checkLines(t, "imported now", routesSent(h.takeSent(ceBlue)), []string{"+ 172.30.0.0/24 nh 10.1.1.2 path [65000] i"})
	// undo policy vpn-target keeps every route (a reflector).
	h2 := upTwoVPN(t, func(c *Config) { c.VPNv4.NoPolicyVPNTarget = true })
	h2.recv(pe2, vpnUpdate(t, ibgpAttrs("65000:999"), "10.255.0.3", vpnR("10.255.0.3:9", "172.30.0.0/24", 900)))
	if n := len(h2.s.vpn.dests); n != 1 {
		t.Fatalf("%d VPNv4 destinations kept, want 1", n)
	}
}

func TestInstanceRemovalCleansUp(t *testing.T) {
	h := upTwoVPN(t, nil)
	h.recv(ceRed, ipv4Update(t, ceAttrs(64501), "10.1.1.1", "172.16.1.0/24"))
	h.recv(pe2, vpnUpdate(t, ibgpAttrs("65000:100"), "10.255.0.3", vpnR("10.255.0.3:1", "172.16.9.0/24", 700)))
	h.takeActions()
	h.takeSent(pe2)
	h.step(SetConfig{Config: twoVPNConfig(func(c *Config) {
		c.Instances = c.Instances[:1]
		c.Peers = c.Peers[:3:3]
		c.Peers = append(c.Peers[:1], c.Peers[2])
	})})
	checkLines(t, "RIB", ribChanges(h.takeActions()), []string{
		"remove red 172.16.1.0/24", "remove red 172.16.9.0/24", "unlabel 48000 red", "unwatch red 10.1.1.1",
	})
	checkLines(t, "to PE2", routesSent(h.takeSent(pe2)), []string{"- 10.255.0.1:1:172.16.1.0/24"})
	if _, ok := h.s.peers[ceRed]; ok {
		t.Error("red's CE is still configured")
	}
	if got := len(h.labels.InUse()); got != 0 {
		t.Errorf("%d labels in use", got)
	}
	// With policy vpn-target, PE2's red route is no longer kept.
	if n := len(h.s.vpn.dests); n != 0 {
		// The route stays in the VPNv4 table until refreshed; it is not
		// imported anywhere.
		for _, in := range h.s.insts {
			if len(in.routes.dests) != 0 {
				t.Errorf("instance %s keeps routes", in.name)
			}
		}
	}
}
