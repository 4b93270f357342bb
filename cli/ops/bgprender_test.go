package ops

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"vpnos/lab/golden"
	"vpnos/services/bgp"
	"vpnos/services/bgp/packet"
)

func TestBGPFormats(t *testing.T) {
	seq := func(as ...uint32) packet.Segment { return packet.Segment{Type: packet.ASSequence, ASNs: as} }
	for _, c := range []struct{ got, want string }{
		{asString(65000), "65000"},
		{asString(65535), "65535"},
		{asString(65536), "1.0"},
		{asString(4200000002), "64086.59906"},
		{rdString(mustRD("10.255.0.1:1")), "10.255.0.1:1"},
		{rdString(mustRD("65000:4294967295")), "65000:4294967295"},
		{rdString(mustRD("4200000002:7")), "64086.59906:7"},
		{rdString(mustRD("1.10:7")), "1.10:7"},
		{extCommunityString(mustRT("65000:100")), "RT <65000 : 100>"},
		{extCommunityString(mustRT("10.0.0.1:5")), "RT <10.0.0.1 : 5>"},
		{extCommunityString(mustRT("70000:5")), "RT <1.4464 : 5>"},
		{communityString(65000<<16 | 1), "<65000:1>"},
		{communityString(0xffffff01), "no-export"},
		{asPathString(nil), ""},
		{asPathString(packet.ASPath{seq(65000, 4200000002)}), "65000 64086.59906"},
		{asPathString(packet.ASPath{seq(65000), {Type: packet.ASSet, ASNs: []uint32{64501, 64502}}}), "65000 {64501 64502}"},
		{bgpUpDown(0), "00:00:00"},
		{bgpUpDown(-time.Second), "00:00:00"},
		{bgpUpDown(23*time.Hour + 59*time.Minute + 59*time.Second), "23:59:59"},
		{bgpUpDown(24 * time.Hour), "0024h00m"},
		{bgpUpDown(181*time.Hour + 13*time.Minute + 5*time.Second), "0181h13m"},
		{hms(57*time.Minute + 53*time.Second), "00h57m53s"},
		{hms(100 * time.Hour), "100h00m00s"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// refPeer is a peer of vrp-reference §4.6, up since now-up.
func refPeer(inst, addr string, as uint32, in, out uint64, up time.Duration, vpn, uni int, now time.Time) bgp.PeerSnapshot {
	fams := []packet.Family{packet.IPv4Unicast}
	if inst == bgp.PublicInstance {
		fams = append(fams, packet.VPNv4)
	}
	return bgp.PeerSnapshot{Key: bgp.PeerKey{Instance: inst, Addr: netip.MustParseAddr(addr)}, AS: as, State: bgp.Established,
		MsgIn: in, MsgOut: out, StateSince: now.Add(-up), PrefixesVPNv4: vpn, PrefixesUnicast: uni, ConfFamilies: fams}
}

var refSummary = bgp.Summary{AS: 65000, RouterID: netip.MustParseAddr("10.255.0.1"), VPNv4: true,
	Instances: []bgp.InstanceSummary{{Name: "red", BGP: true}, {Name: "blue", BGP: true}}}

// The layouts of vrp-reference §4.6 and §4.7, character for character,
// from snapshots holding the reference's values.
func TestBGPReferenceLayouts(t *testing.T) {
	now := time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)
	peers := []bgp.PeerSnapshot{
		refPeer(bgp.PublicInstance, "10.255.0.3", 65000, 52, 49, 40*time.Minute+11*time.Second, 4, 0, now),
		refPeer("blue", "192.0.2.6", 64502, 45, 47, 37*time.Minute+54*time.Second, 0, 1, now),
		refPeer("red", "192.0.2.2", 64501, 47, 46, 38*time.Minute+20*time.Second, 0, 1, now),
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s:\n%s", what, golden.Diff(want, got))
		}
	}
	check("display bgp peer", RenderBGPPeers(refSummary, peers[:1], BGPPeerView{}, now), `
 BGP local router ID : 10.255.0.1
 Local AS number : 65000
 Total number of peers : 1                 Peers in established state : 1

  Peer            V          AS  MsgRcvd  MsgSent  OutQ  Up/Down       State  PrefRcv

  10.255.0.3      4       65000       52       49     0 00:40:11 Established        0
`[1:])
	check("display bgp vpnv4 all peer", RenderBGPPeers(refSummary, peers, BGPPeerView{VPNv4: true}, now), `
 BGP local router ID : 10.255.0.1
 Local AS number : 65000
 Total number of peers : 3                 Peers in established state : 3

  Peer            V          AS  MsgRcvd  MsgSent  OutQ  Up/Down       State  PrefRcv

  10.255.0.3      4       65000       52       49     0 00:40:11 Established        4
  Peer of vpn instance:
  VPN-Instance red, router ID 10.255.0.1:
  192.0.2.2       4       64501       47       46     0 00:38:20 Established        1
  VPN-Instance blue, router ID 10.255.0.1:
  192.0.2.6       4       64502       45       47     0 00:37:54 Established        1
`[1:])

	legend := `
 Status codes: * - valid, > - best, d - damped, x - best external, a - add path,
               h - history,  i - internal, s - suppressed, S - Stale
               Origin : i - IGP, e - EGP, ? - incomplete
 RPKI validation codes: V - valid, I - invalid, N - not-found
`[1:]
	ceA := bgp.Summary{AS: 64501, RouterID: netip.MustParseAddr("192.0.2.2")}
	check("display bgp routing-table on CE-A", RenderBGPTable(ceA, []bgp.RouteSnapshot{
		{Prefix: netip.MustParsePrefix("172.16.1.0/24"), Paths: []bgp.PathSnapshot{{Local: true, Best: true, Selected: true,
			Usable: true, HasMED: true, Origin: packet.OriginIGP}}},
		{Prefix: netip.MustParsePrefix("172.16.3.0/24"), Paths: []bgp.PathSnapshot{{NextHop: netip.MustParseAddr("192.0.2.1"),
			Best: true, Selected: true, Usable: true, Origin: packet.OriginIGP, ASPath: packet.ASPath{{Type: packet.ASSequence, ASNs: []uint32{65000, 64503}}}}}},
	}), " BGP Local router ID is 192.0.2.2\n"+legend+`

 Total Number of Routes: 2
      Network            NextHop        MED        LocPrf    PrefVal Path/Ogn

 *>   172.16.1.0/24      0.0.0.0         0                     0      i
 *>   172.16.3.0/24      192.0.2.1                             0      65000 64503i
`)

	// PE1's VPNv4 table with red only (blue's blocks are alike).
	local := func(rd, prefix, nh string, label uint32, path []uint32, origin packet.Origin) bgp.RouteSnapshot {
		p := bgp.PathSnapshot{Local: true, Best: true, Selected: true, Usable: true, HasMED: true, Label: label, Origin: origin}
		if nh != "" {
			p.NextHop = netip.MustParseAddr(nh)
		}
		if len(path) > 0 {
			p.ASPath = packet.ASPath{{Type: packet.ASSequence, ASNs: path}}
		}
		return bgp.RouteSnapshot{RD: mustRD(rd), Prefix: netip.MustParsePrefix(prefix), Paths: []bgp.PathSnapshot{p}}
	}
	remote := func(rd, prefix string, label uint32, path []uint32, origin packet.Origin) bgp.RouteSnapshot {
		p := bgp.PathSnapshot{From: bgp.PeerKey{Instance: bgp.PublicInstance, Addr: netip.MustParseAddr("10.255.0.3")},
			NextHop: netip.MustParseAddr("10.255.0.3"), Internal: true, Best: true, Selected: true, Usable: true, HasMED: true,
			HasLocalPref: true, LocalPref: 100, Label: label, Origin: origin, RD: mustRD(rd)}
		if len(path) > 0 {
			p.ASPath = packet.ASPath{{Type: packet.ASSequence, ASNs: path}}
		}
		return bgp.RouteSnapshot{RD: mustRD(rd), Prefix: netip.MustParsePrefix(prefix), Paths: []bgp.PathSnapshot{p}}
	}
	vpn := []bgp.RouteSnapshot{
		local("10.255.0.1:1", "172.16.1.0/24", "192.0.2.2", 48120, []uint32{64501}, packet.OriginIGP),
		local("10.255.0.1:1", "192.0.2.0/30", "", 48120, nil, packet.OriginIncomplete),
		remote("10.255.0.3:1", "172.16.3.0/24", 48130, []uint32{64503}, packet.OriginIGP),
		remote("10.255.0.3:1", "203.0.113.0/30", 48130, nil, packet.OriginIncomplete),
	}
	instRoute := func(r bgp.RouteSnapshot, imported bool) bgp.RouteSnapshot {
		r.RD = 0
		r.Paths[0].Imported = imported
		r.Paths[0].Local = false
		if !imported {
			r.Paths[0].Label = 0
		}
		return r
	}
	red := BGPInstanceTable{Name: "red", Routes: []bgp.RouteSnapshot{
		instRoute(local("10.255.0.1:1", "172.16.1.0/24", "192.0.2.2", 0, []uint32{64501}, packet.OriginIGP), false),
		instRoute(remote("10.255.0.3:1", "172.16.3.0/24", 48130, []uint32{64503}, packet.OriginIGP), true),
		instRoute(local("10.255.0.1:1", "192.0.2.0/30", "", 0, nil, packet.OriginIncomplete), false),
		instRoute(remote("10.255.0.3:1", "203.0.113.0/30", 48130, nil, packet.OriginIncomplete), true),
	}}
	red.Routes[2].Paths[0].Local = true
	sum := refSummary
	sum.Instances = sum.Instances[:1]
	check("display bgp vpnv4 all routing-table", RenderBGPVPNTable(sum, vpn, []BGPInstanceTable{red}, true), " BGP Local router ID is 10.255.0.1\n"+legend+`

 Total number of routes from all PE: 4
 Route Distinguisher: 10.255.0.1:1


      Network            NextHop        MED        LocPrf    PrefVal Path/Ogn

 *>   172.16.1.0/24      192.0.2.2       0                     0      64501i
 *>   192.0.2.0/30       0.0.0.0         0                     0      ?

 Route Distinguisher: 10.255.0.3:1


      Network            NextHop        MED        LocPrf    PrefVal Path/Ogn

 *>i  172.16.3.0/24      10.255.0.3      0          100        0      64503i
 *>i  203.0.113.0/30     10.255.0.3      0          100        0      ?

 VPN-Instance red, Router ID 10.255.0.1:

 Total Number of Routes: 4
      Network            NextHop        MED        LocPrf    PrefVal Path/Ogn

 *>   172.16.1.0/24      192.0.2.2       0                     0      64501i
 *>i  172.16.3.0/24      10.255.0.3      0          100        0      64503i
 *>   192.0.2.0/30       0.0.0.0         0                     0      ?
 *>i  203.0.113.0/30     10.255.0.3      0          100        0      ?
`)
	check("display bgp vpnv4 all routing-table label", RenderBGPVPNLabels(sum, vpn, []BGPInstanceTable{red}, true), " BGP Local router ID is 10.255.0.1\n"+legend+`

 Total number of routes from all PE: 4
 Route Distinguisher: 10.255.0.1:1
        Network           NextHop           In/Out Label

 *>     172.16.1.0        192.0.2.2         48120/NULL
 *>     192.0.2.0         0.0.0.0           48120/NULL

 Route Distinguisher: 10.255.0.3:1
        Network           NextHop           In/Out Label

 *>i    172.16.3.0        10.255.0.3        NULL/48130
 *>i    203.0.113.0       10.255.0.3        NULL/48130

 VPN-Instance red, router ID 10.255.0.1:
 Total Number of Routes: 2
        Network           NextHop           In/Out Label

 *>i    172.16.3.0        10.255.0.3        NULL/48130
 *>i    203.0.113.0       10.255.0.3        NULL/48130
`)

	// The route detail of §4.7 (PE1, a route reflected by the RR), but
	// for the route's age, which the speaker does not keep.
	r := remote("10.255.0.3:1", "172.16.3.0/24", 48130, []uint32{64503}, packet.OriginIGP)
	r.Paths[0].From.Addr = netip.MustParseAddr("10.255.0.10")
	r.Paths[0].IGPCost = 3
	r.Paths[0].ExtCommunities = []packet.ExtCommunity{mustRT("65000:100")}
	r.Paths[0].OriginatorID = netip.MustParseAddr("10.255.0.3")
	r.Paths[0].ClusterList = []netip.Addr{netip.MustParseAddr("0.0.0.7")}
	d := BGPDetail{
		RemoteIDs: map[bgp.PeerKey]netip.Addr{r.Paths[0].From: netip.MustParseAddr("10.255.0.10")},
		Relays: map[bgp.PeerKey]Relay{{Instance: bgp.PublicInstance, Addr: netip.MustParseAddr("10.255.0.3")}: {
			NextHop: netip.MustParseAddr("198.51.100.2"), Interface: "GigabitEthernet0/3/0"}},
	}
	check("route detail", RenderBGPVPNRouteDetail(refSummary, []bgp.RouteSnapshot{r}, nil, false, d), `
 BGP local router ID : 10.255.0.1
 Local AS number : 65000
 BGP routing table entry information of 172.16.3.0/24:
 Route Distinguisher: 10.255.0.3:1
 Label information (Received/Applied): 48130/NULL
 From: 10.255.0.10 (10.255.0.10)
 Relay IP Nexthop: 198.51.100.2
 Relay IP Out-Interface: GigabitEthernet0/3/0
 Original nexthop: 10.255.0.3
 Qos information : 0x0
 Ext-Community: RT <65000 : 100>
 AS-path 64503, origin igp, MED 0, localpref 100, pref-val 0, valid, internal, best, select, pre 255, IGP cost 3
 Originator: 10.255.0.3
 Cluster list: 0.0.0.7
 Not advertised to any peer yet
`[1:])
}

// TestBGPRenderCases renders what the reference network does not show:
// load balancing, a path that is not valid, an AS set, communities, a
// long prefix, a 4-byte AS in the RD and route target, a peer whose
// session is not up, and BGP not configured.
func TestBGPRenderCases(t *testing.T) {
	now := time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)
	sum := bgp.Summary{AS: 4200000002, RouterID: netip.MustParseAddr("10.0.0.1"), VPNv4: true,
		Instances: []bgp.InstanceSummary{{Name: "v1", BGP: true}}}
	from := func(a string) bgp.PeerKey {
		return bgp.PeerKey{Instance: bgp.PublicInstance, Addr: netip.MustParseAddr(a)}
	}
	seq := func(as ...uint32) packet.ASPath { return packet.ASPath{{Type: packet.ASSequence, ASNs: as}} }
	routes := []bgp.RouteSnapshot{
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), AdvertisedTo: []bgp.PeerKey{from("10.0.0.9")}, Paths: []bgp.PathSnapshot{
			{From: from("192.0.2.1"), NextHop: netip.MustParseAddr("192.0.2.1"), Best: true, Selected: true, Usable: true,
				ASPath: seq(64501, 64600), HasMED: true, MED: 20, Communities: []uint32{64501<<16 | 7, 0xffffff01}},
			{From: from("192.0.2.5"), NextHop: netip.MustParseAddr("192.0.2.5"), Selected: true, Usable: true,
				ASPath: seq(64502, 64600), HasMED: true, MED: 20},
			{From: from("10.0.0.9"), NextHop: netip.MustParseAddr("10.0.0.99"), Internal: true, HasLocalPref: true, LocalPref: 300,
				ASPath: packet.ASPath{{Type: packet.ASSequence, ASNs: []uint32{64700}}, {Type: packet.ASSet, ASNs: []uint32{64701, 64702}}},
				Origin: packet.OriginEGP, PrefVal: 10},
		}},
		{Prefix: netip.MustParsePrefix("192.168.100.128/25"), Paths: []bgp.PathSnapshot{
			{From: from("10.0.0.9"), NextHop: netip.MustParseAddr("10.0.0.9"), Internal: true, Best: true, Selected: true,
				Usable: true, HasLocalPref: true, LocalPref: 4294967295, HasMED: true, MED: 4294967295, Origin: packet.OriginIncomplete},
		}},
	}
	vpn := []bgp.RouteSnapshot{{RD: mustRD("4200000002:7"), Prefix: netip.MustParsePrefix("172.16.9.0/24"), Paths: []bgp.PathSnapshot{
		{Local: true, Best: true, Selected: true, Usable: true, Label: 1048575, Origin: packet.OriginIncomplete,
			ExtCommunities: []packet.ExtCommunity{mustRT("4200000002:7"), mustRT("65000:1")}},
	}}}
	peers := []BGPPeerDetail{{Peer: bgp.PeerSnapshot{
		Key: from("10.0.0.9"), AS: 4200000002, State: bgp.OpenSent, PrevState: bgp.Connect, StateSince: now.Add(-3 * time.Second),
		MsgOut: 1, Out: bgp.MsgCounts{Open: 1}, ConnectRetry: 32 * time.Second, ConfHoldTime: 9 * time.Second,
		ConfKeepalive: 3 * time.Second, ConfFamilies: []packet.Family{packet.IPv4Unicast, packet.VPNv4}, EstablishedCnt: 2,
		PreferredValue: 10,
	}}}
	var b strings.Builder
	section := func(title, text string) { b.WriteString("=== " + title + "\n" + text) }
	section("table", RenderBGPTable(sum, routes))
	section("detail", RenderBGPRouteDetail(sum, routes[:1], BGPDetail{}))
	section("vpn", RenderBGPVPNTable(sum, vpn, []BGPInstanceTable{{Name: "v1"}}, true))
	section("vpn detail", RenderBGPVPNRouteDetail(sum, vpn, nil, true, BGPDetail{}))
	section("vpn labels", RenderBGPVPNLabels(sum, vpn, []BGPInstanceTable{{Name: "v1"}}, true))
	section("stats", RenderBGPStats(sum, bgp.TableStats{Destinations: 2, Paths: 4, Selected: 3, Best: 2}))
	section("vpn stats", RenderBGPVPNStats(sum, bgp.TableStats{Paths: 1}, []BGPInstanceStats{{Name: "v1"}}, true))
	section("peers", RenderBGPPeers(sum, []bgp.PeerSnapshot{peers[0].Peer}, BGPPeerView{}, now))
	section("peer verbose", RenderBGPPeersVerbose(sum, peers, false, now))
	golden.Check(t, "testdata/bgp-render.golden", b.String())

	// BGP not configured: every display is empty.
	none := bgp.Summary{}
	for _, s := range []string{
		RenderBGPTable(none, routes), RenderBGPRouteDetail(none, routes, BGPDetail{}), RenderBGPVPNTable(none, vpn, nil, true),
		RenderBGPVPNLabels(none, vpn, nil, true), RenderBGPVPNRouteDetail(none, vpn, nil, true, BGPDetail{}),
		RenderBGPStats(none, bgp.TableStats{}), RenderBGPVPNStats(none, bgp.TableStats{}, nil, true),
		RenderBGPPeers(none, []bgp.PeerSnapshot{peers[0].Peer}, BGPPeerView{}, now),
	} {
		if s != "" {
			t.Errorf("BGP not configured, got:\n%s", s)
		}
	}
}
