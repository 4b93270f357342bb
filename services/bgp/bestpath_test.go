package bgp

import (
	"net/netip"
	"testing"

	"vpnos/services/bgp/packet"
)

// One row per tie-breaker of VRP's order: in each row the two paths are
// equal in every earlier step and the first one wins at the named step.
func TestBestPathOrder(t *testing.T) {
	in := interner{sets: map[string]*attrSet{}}
	ibgpA := &peer{key: key("", "10.0.0.1"), remoteID: packet.Addr32(netip.MustParseAddr("1.1.1.1"))}
	ibgpB := &peer{key: key("", "10.0.0.2"), remoteID: packet.Addr32(netip.MustParseAddr("2.2.2.2"))}
	ebgpC := &peer{key: key("", "10.0.0.3"), ebgp: true, remoteID: packet.Addr32(netip.MustParseAddr("3.3.3.3"))}
	ibgpLowAddr := &peer{key: key("", "10.0.0.0"), remoteID: packet.Addr32(netip.MustParseAddr("2.2.2.2"))}
	nh := func(cost uint32) *nexthop { return &nexthop{reachable: true, cost: cost} }
	base := packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(65001, 65002), LocalPref: 100, HasLocalPref: true}
	with := func(f func(*packet.Attrs)) *attrSet {
		a := base
		a.ASPath = base.ASPath.Clone()
		if f != nil {
			f(&a)
		}
		return in.get(&a)
	}
	std := with(nil)
	local := &origin{}
	tests := []struct {
		step string
		a, b path
	}{
		{"preferred value", path{src: ibgpB, attrs: with(func(a *packet.Attrs) { a.LocalPref = 50 }), nh: nh(9), pref: 10},
			path{src: ibgpA, attrs: std, nh: nh(1)}},
		{"local preference", path{src: ibgpB, attrs: with(func(a *packet.Attrs) { a.LocalPref = 200; a.ASPath = seq(1, 2, 3, 4) }), nh: nh(9)},
			path{src: ibgpA, attrs: std, nh: nh(1)}},
		{"absent local preference is 100", path{src: ebgpC, attrs: with(func(a *packet.Attrs) { a.HasLocalPref = false; a.LocalPref = 0 }), nh: nh(0)},
			path{src: ibgpA, attrs: with(func(a *packet.Attrs) { a.LocalPref = 99 }), nh: nh(0)}},
		{"locally originated", path{kind: kindLocal, attrs: with(func(a *packet.Attrs) { a.ASPath = seq(1, 2, 3); a.Origin = packet.OriginIncomplete }), orig: local},
			path{src: ibgpA, attrs: std, nh: nh(1)}},
		{"AS path length", path{src: ibgpB, attrs: with(func(a *packet.Attrs) { a.ASPath = seq(65001); a.Origin = packet.OriginIncomplete }), nh: nh(9)},
			path{src: ibgpA, attrs: std, nh: nh(1)}},
		{"an AS set counts one", path{src: ibgpB, attrs: with(func(a *packet.Attrs) {
			a.ASPath = packet.ASPath{{Type: packet.ASSequence, ASNs: []uint32{65001}}, {Type: packet.ASSet, ASNs: []uint32{7, 8, 9}}}
			a.Origin = packet.OriginEGP
		}), nh: nh(9)},
			path{src: ibgpA, attrs: with(func(a *packet.Attrs) { a.ASPath = seq(65001, 65002, 65003) }), nh: nh(1)}},
		{"origin", path{src: ibgpB, attrs: with(func(a *packet.Attrs) { a.MED = 50; a.HasMED = true }), nh: nh(9)},
			path{src: ibgpA, attrs: with(func(a *packet.Attrs) { a.Origin = packet.OriginEGP }), nh: nh(1)}},
		{"MED from the same neighbour AS", path{src: ibgpB, attrs: with(func(a *packet.Attrs) { a.MED = 5; a.HasMED = true }), nh: nh(9)},
			path{src: ibgpA, attrs: with(func(a *packet.Attrs) { a.MED = 10; a.HasMED = true }), nh: nh(1)}},
		{"MED ignored across neighbour ASes, then EBGP over IBGP", path{src: ebgpC, attrs: with(func(a *packet.Attrs) {
			a.ASPath = seq(65009, 65002)
			a.MED = 500
			a.HasMED = true
		}), nh: nh(9)},
			path{src: ibgpA, attrs: with(func(a *packet.Attrs) { a.MED = 1; a.HasMED = true }), nh: nh(1)}},
		{"EBGP over IBGP", path{src: ebgpC, attrs: std, nh: nh(9)}, path{src: ibgpA, attrs: std, nh: nh(1)}},
		{"IGP cost to the next hop", path{src: ibgpB, attrs: std, nh: nh(1)}, path{src: ibgpA, attrs: std, nh: nh(2)}},
		{"cluster list length", path{src: ibgpB, attrs: with(func(a *packet.Attrs) { a.ClusterList = []uint32{1} }), nh: nh(1)},
			path{src: ibgpA, attrs: with(func(a *packet.Attrs) { a.ClusterList = []uint32{1, 2} }), nh: nh(1)}},
		{"router ID", path{src: ibgpA, attrs: std, nh: nh(1)}, path{src: ibgpB, attrs: std, nh: nh(1)}},
		{"originator ID stands for the router ID", path{src: ibgpB, attrs: with(func(a *packet.Attrs) {
			a.OriginatorID = packet.Addr32(netip.MustParseAddr("0.0.0.9"))
		}), nh: nh(1)},
			path{src: ibgpA, attrs: std, nh: nh(1)}},
		{"peer address", path{src: ibgpLowAddr, attrs: std, nh: nh(1)}, path{src: ibgpB, attrs: std, nh: nh(1)}},
	}
	own := packet.Addr32(netip.MustParseAddr("10.255.0.1"))
	for _, tc := range tests {
		t.Run(tc.step, func(t *testing.T) {
			if c := comparePaths(&tc.a, &tc.b, own); c >= 0 {
				t.Errorf("first path lost (%d)", c)
			}
			if c := comparePaths(&tc.b, &tc.a, own); c <= 0 {
				t.Errorf("order not symmetric (%d)", c)
			}
			// Through a destination, as the tables use it.
			d := &dest{paths: []path{tc.b, tc.a}}
			selectPaths(d, own, 1)
			if d.nsel != 1 || d.paths[0].src != tc.a.src || d.paths[0].attrs != tc.a.attrs {
				t.Errorf("selected %+v", d.paths[0])
			}
		})
	}
}

func TestSelectionUsabilityAndECMP(t *testing.T) {
	in := interner{sets: map[string]*attrSet{}}
	std := in.get(&packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(65001), LocalPref: 100, HasLocalPref: true})
	other := in.get(&packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(65009), LocalPref: 100, HasLocalPref: true})
	mk := func(addr, nhAddr string, cost uint32, reach, tunnel bool) (*peer, *nexthop) {
		return &peer{key: key("", addr), remoteID: packet.Addr32(netip.MustParseAddr(addr))},
			&nexthop{key: nhKey{PublicInstance, netip.MustParseAddr(nhAddr)}, reachable: reach, tunnel: tunnel, cost: cost}
	}
	pA, nA := mk("10.0.0.1", "10.9.0.1", 10, true, true)
	pB, nB := mk("10.0.0.2", "10.9.0.2", 10, true, true)
	pC, nC := mk("10.0.0.3", "10.9.0.3", 10, true, false)
	pD, nD := mk("10.0.0.4", "10.9.0.4", 20, true, true)
	pE, _ := mk("10.0.0.5", "10.9.0.1", 10, true, true)
	pF, nF := mk("10.0.0.6", "10.9.0.6", 10, true, true)
	tests := []struct {
		name    string
		max     int
		paths   []path
		want    []*peer
		wantSel int
	}{
		{"an unreachable next hop is not used", 1, []path{
			{src: pA, attrs: std, nh: &nexthop{reachable: false}},
			{src: pB, attrs: std, nh: nB},
		}, []*peer{pB}, 1},
		{"an imported route needs a tunnel", 1, []path{
			{src: pC, attrs: std, nh: nC, kind: kindImported},
			{src: pD, attrs: std, nh: nD, kind: kindImported},
		}, []*peer{pD}, 1},
		{"nothing usable", 1, []path{{src: pC, attrs: std, nh: nC, kind: kindImported}}, nil, 0},
		{"load balancing over equal paths", 4, []path{
			{src: pD, attrs: std, nh: nD}, {src: pB, attrs: std, nh: nB}, {src: pA, attrs: std, nh: nA},
		}, []*peer{pA, pB}, 2},
		{"load balancing needs the same AS path and another next hop", 4, []path{
			{src: pA, attrs: std, nh: nA}, {src: pE, attrs: std, nh: nA}, {src: pF, attrs: other, nh: nF}, {src: pB, attrs: std, nh: nB},
		}, []*peer{pA, pB}, 2},
		{"maximum load-balancing 1", 1, []path{{src: pB, attrs: std, nh: nB}, {src: pA, attrs: std, nh: nA}}, []*peer{pA}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &dest{paths: tc.paths}
			selectPaths(d, 1, tc.max)
			if int(d.nsel) != tc.wantSel {
				t.Fatalf("selected %d, want %d", d.nsel, tc.wantSel)
			}
			for i, p := range tc.want {
				if d.paths[i].src != p {
					t.Errorf("selected[%d] = %s, want %s", i, d.paths[i].src.key, p.key)
				}
			}
		})
	}
}
