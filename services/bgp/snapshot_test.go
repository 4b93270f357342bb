package bgp

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"vpnos/services/bgp/packet"
)

func TestPeerSnapshotCountersAndStates(t *testing.T) {
	h := newHarness(t, rrConfig(func(c *Config) {
		c.Peers[4].Ignore = true // 10.255.0.6 stays Idle
	}))
	configured := h.now
	h.advance(5 * time.Second)
	h.establish(c1, "10.255.0.10", 65000, "1.1.1.1", packet.IPv4Unicast, packet.VPNv4)
	upAt := h.now
	h.advance(30 * time.Second)
	lp := packet.Attrs{Origin: packet.OriginIGP, LocalPref: 100, HasLocalPref: true}
	h.recv(c1, ipv4Update(t, lp, "10.255.0.1", "10.1.0.0/16", "10.2.0.0/16"))
	updAt := h.now
	h.advance(61 * time.Second) // the keepalive timer runs

	peers := map[PeerKey]PeerSnapshot{}
	for _, p := range h.s.Peers() {
		peers[p.Key] = p
	}
	p := peers[c1]
	if p.State != Established || !p.StateSince.Equal(upAt) || p.PrevState != OpenConfirm {
		t.Errorf("state %v since %v (from %v), want Established since %v from OpenConfirm", p.State, p.StateSince, p.PrevState, upAt)
	}
	if p.In.Open != 1 || p.In.Keepalive != 1 || p.In.Update != 1 || p.In.Total() != p.MsgIn || !p.In.LastUpdate.Equal(updAt) {
		t.Errorf("received %+v (MsgIn %d)", p.In, p.MsgIn)
	}
	if p.Out.Open != 1 || p.Out.Keepalive < 2 || p.Out.Total() != p.MsgOut || p.Out.LastKeepalive.Before(updAt) {
		t.Errorf("sent %+v (MsgOut %d)", p.Out, p.MsgOut)
	}
	if p.PeerCaps == nil || !p.PeerCaps.RouteRefresh || !p.PeerCaps.AS4 || !slices.Equal(p.PeerCaps.Families, []packet.Family{packet.IPv4Unicast, packet.VPNv4}) {
		t.Errorf("peer capabilities %+v", p.PeerCaps)
	}
	if p.PeerHoldTime != 90*time.Second || p.ConfHoldTime != 180*time.Second || p.ConfKeepalive != 60*time.Second || p.ConnectRetry != DefaultConnectRetry {
		t.Errorf("timers: peer hold %v, configured %v/%v, retry %v", p.PeerHoldTime, p.ConfHoldTime, p.ConfKeepalive, p.ConnectRetry)
	}
	idle := peers[n2]
	if idle.State != Idle || !idle.StateSince.Equal(configured) || idle.PrevState != Idle || idle.In.Total() != 0 || idle.PeerCaps != nil {
		t.Errorf("ignored peer: %v since %v from %v, in %+v", idle.State, idle.StateSince, idle.PrevState, idle.In)
	}
	if got := peers[c2]; got.State == Idle || !got.StateSince.Equal(configured) {
		t.Errorf("unconnected peer %v since %v, want a connect state since %v", got.State, got.StateSince, configured)
	}
}

func TestPeerRoutesAndAdvertisedTo(t *testing.T) {
	h := upRR(t, nil)
	lp := packet.Attrs{Origin: packet.OriginIGP, LocalPref: 100, HasLocalPref: true}
	h.recv(c1, ipv4Update(t, lp, "10.255.0.1", "10.1.0.0/16", "10.9.0.0/16"))
	// n1 also has 10.9.0.0/16, with a lower local preference: received,
	// not active.
	low := lp
	low.LocalPref = 50
	h.recv(n1, ipv4Update(t, low, "10.255.0.5", "10.9.0.0/16"))
	a := ibgpAttrs("65000:100")
	h.recv(c2, vpnUpdate(t, a, "10.255.0.2", vpnR("10.255.0.2:1", "172.16.1.0/24", 48123), vpnR("10.255.0.2:2", "172.16.1.0/24", 48124)))

	// Counts per peer: nothing goes back to where it came from, clients
	// hear clients and non-clients, non-clients hear clients only.
	for _, c := range []struct {
		k          PeerKey
		uni, vpnv4 PeerRouteCounts
	}{
		{c1, PeerRouteCounts{Received: 2, Active: 2}, PeerRouteCounts{Advertised: 2}},
		{c2, PeerRouteCounts{Advertised: 2}, PeerRouteCounts{Received: 2, Active: 2}},
		{n1, PeerRouteCounts{Received: 1, Active: 0, Advertised: 2}, PeerRouteCounts{Advertised: 2}},
		{key("", "10.9.9.9"), PeerRouteCounts{}, PeerRouteCounts{}},
	} {
		if u, v := h.s.PeerRoutes(c.k); u != c.uni || v != c.vpnv4 {
			t.Errorf("%s: unicast %+v vpnv4 %+v, want %+v %+v", c.k, u, v, c.uni, c.vpnv4)
		}
	}

	rs := h.s.Routes("", netip.MustParsePrefix("10.9.0.0/16"))
	if len(rs) != 1 || len(rs[0].Paths) != 2 {
		t.Fatalf("routes %+v", rs)
	}
	if want := []PeerKey{c2, c3, n1, n2}; !slices.Equal(rs[0].AdvertisedTo, want) {
		t.Errorf("10.9.0.0/16 advertised to %v, want %v", rs[0].AdvertisedTo, want)
	}
	best, other := rs[0].Paths[0], rs[0].Paths[1]
	if !best.Best || !best.Internal || !best.HasLocalPref || best.From != c1 || other.Best || other.From != n1 {
		t.Errorf("paths %+v", rs[0].Paths)
	}
	vs := h.s.VPNRoutes(netip.MustParsePrefix("172.16.1.0/24"))
	if len(vs) != 2 || vs[0].RD != mustRD("10.255.0.2:1") || vs[1].RD != mustRD("10.255.0.2:2") {
		t.Fatalf("VPN routes %+v", vs)
	}
	if want := []PeerKey{c1, c3, n1, n2}; !slices.Equal(vs[0].AdvertisedTo, want) {
		t.Errorf("VPN route advertised to %v, want %v", vs[0].AdvertisedTo, want)
	}
	if all := h.s.VPNRoutes(netip.Prefix{}); len(all) != 2 || all[0].AdvertisedTo != nil {
		t.Errorf("whole table: %d routes, advertised-to filled %v", len(all), all[0].AdvertisedTo)
	}
	if st := h.s.Stats("", false); st != (TableStats{Destinations: 2, Paths: 3, Selected: 2, Best: 2}) {
		t.Errorf("stats %+v", st)
	}
}

func TestSummaryAndExportedPaths(t *testing.T) {
	h := upTwoVPN(t, func(c *Config) {
		c.Instances[1].BGP.Imports = []ImportRoute{{Protocol: ProtoDirect}}
		c.Instances[0].LabelMode = LabelPerRoute
	})
	h.recv(ceRed, ipv4Update(t, ceAttrs(64501), "10.1.1.1", "172.16.1.0/24"))
	h.step(RIBRoute{Instance: "red", Prefix: netip.MustParsePrefix("10.1.1.0/30"), Protocol: ProtoDirect,
		NextHops: []NextHop{{Interface: "GigabitEthernet0/1/0"}}})

	sum := h.s.Summary()
	if sum.AS != 65000 || sum.RouterID != netip.MustParseAddr("10.255.0.1") || !sum.VPNv4 || sum.VPNClusterID != sum.RouterID {
		t.Errorf("summary %+v", sum)
	}
	if len(sum.Instances) != 2 || sum.Instances[0].Name != "blue" || sum.Instances[1].Name != "red" ||
		sum.Instances[0].LabelMode != LabelPerRoute || sum.Instances[1].Label != h.s.InstanceLabel("red") || sum.Instances[1].Label == 0 {
		t.Errorf("instances %+v", sum.Instances)
	}
	var gw, local *PathSnapshot
	for _, r := range h.s.VPNRoutes(netip.Prefix{}) {
		for i := range r.Paths {
			switch r.Prefix.String() {
			case "172.16.1.0/24":
				gw = &r.Paths[i]
			case "10.1.1.0/30":
				local = &r.Paths[i]
			}
		}
	}
	if gw == nil || gw.NextHop != netip.MustParseAddr("10.1.1.1") || gw.Instance != "red" || gw.Internal || !gw.Local || gw.Protocol != 0 {
		t.Errorf("exported CE route %+v", gw)
	}
	if local == nil || local.NextHop.IsValid() || local.Instance != "red" {
		t.Errorf("exported direct route %+v", local)
	}
	rs := h.s.Routes("red", netip.MustParsePrefix("10.1.1.0/30"))
	if len(rs) != 1 || rs[0].Paths[0].Protocol != ProtoDirect || rs[0].Paths[0].Internal {
		t.Errorf("local route %+v", rs)
	}
	// The CE hears the direct route: it is advertised to it.
	if want := []PeerKey{ceRed}; !slices.Equal(rs[0].AdvertisedTo, want) {
		t.Errorf("advertised to %v", rs[0].AdvertisedTo)
	}
}
