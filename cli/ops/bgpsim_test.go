package ops

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"vpnos/services/bgp"
	"vpnos/services/bgp/packet"
	"vpnos/services/label"
	"vpnos/services/rib"
)

// bgpNet runs real BGP speakers (bgp.Speaker, the pure core the daemon's
// bgp.Service drives) in memory: what one sends the other receives, time
// is a fake clock, next hops resolve as each node's table says. The
// displays are then rendered from the speakers' own snapshots.
type bgpNet struct {
	t     testing.TB
	now   time.Time
	nodes []*bgpNode
	links []*bgpLink
	next  bgp.ConnID
	// refused: peers whose dials fail at once (the node behind them is
	// down), leaving the session Active.
	refused map[bgp.PeerKey]bool
}

// bgpNode is one speaker; it implements ops.BGP over its snapshots.
type bgpNode struct {
	net   *bgpNet
	name  string
	s     *bgp.Speaker
	inbox []bgp.Event
	// reach answers WatchNextHop: instance and address.
	reach map[bgp.PeerKey]bgp.NextHopState
	// labels are the incoming VPN labels the speaker programmed
	// (ProgramLabel/RemoveLabel), routes the routes it installed
	// (InstallRoute/RemoveRoute), as the daemon gives them to the RIB.
	labels map[uint32]bgp.ProgramLabel
	routes map[routeKey]bgp.Route
}

// routeKey names an installed route: instance and prefix.
type routeKey struct {
	instance string
	prefix   netip.Prefix
}

type bgpLink struct {
	a, b         *bgpNode
	aKey, bKey   bgp.PeerKey
	aAddr, bAddr netip.Addr
	aConn, bConn bgp.ConnID
	up           bool
}

func newBGPNet(t testing.TB, start time.Time) *bgpNet {
	return &bgpNet{t: t, now: start, next: 1, refused: map[bgp.PeerKey]bool{}}
}

func (n *bgpNet) add(name string, cfg bgp.Config) *bgpNode {
	n.t.Helper()
	if err := cfg.Validate(); err != nil {
		n.t.Fatal(err)
	}
	nd := &bgpNode{net: n, name: name, s: bgp.NewSpeaker(label.New()), reach: map[bgp.PeerKey]bgp.NextHopState{},
		labels: map[uint32]bgp.ProgramLabel{}, routes: map[routeKey]bgp.Route{}}
	n.nodes = append(n.nodes, nd)
	nd.inbox = append(nd.inbox, bgp.SetConfig{Config: cfg})
	n.pump()
	return nd
}

// reachable makes a next hop resolve on a node (tunnel: an LSP leads
// there).
func (nd *bgpNode) reachable(instance, addr string, cost uint32, tunnel bool) {
	k := bgp.PeerKey{Instance: instance, Addr: netip.MustParseAddr(addr)}
	nd.reach[k] = bgp.NextHopState{Instance: instance, Addr: k.Addr, Reachable: true, Tunnel: tunnel, Cost: cost}
}

// rib gives a node an active RIB route (what `network` and `import-route`
// pick from).
func (nd *bgpNode) rib(instance, prefix string, proto bgp.Protocol, cost uint32, ifname string) {
	nd.net.deliver(nd, bgp.RIBRoute{Instance: instance, Prefix: netip.MustParsePrefix(prefix), Protocol: proto, Cost: cost,
		NextHops: []bgp.NextHop{{Interface: ifname}}})
}

// link declares a session: node a at aAddr (in aInst) and node b at bAddr
// (in bInst); connect brings its TCP connection up, a dialling.
func (n *bgpNet) link(a *bgpNode, aInst, aAddr string, b *bgpNode, bInst, bAddr string) *bgpLink {
	l := &bgpLink{a: a, b: b, aAddr: netip.MustParseAddr(aAddr), bAddr: netip.MustParseAddr(bAddr)}
	l.aKey = bgp.PeerKey{Instance: aInst, Addr: l.bAddr}
	l.bKey = bgp.PeerKey{Instance: bInst, Addr: l.aAddr}
	n.links = append(n.links, l)
	return l
}

func (n *bgpNet) connect(l *bgpLink) {
	l.aConn, l.bConn = n.next, n.next+1
	n.next += 2
	l.up = true
	l.a.inbox = append(l.a.inbox, bgp.Connected{Peer: l.aKey, Conn: l.aConn, Outgoing: true, Local: l.aAddr, Remote: l.bAddr})
	l.b.inbox = append(l.b.inbox, bgp.Connected{Peer: l.bKey, Conn: l.bConn, Local: l.bAddr, Remote: l.aAddr})
	n.pump()
}

// cut drops a link's connection on both sides.
func (n *bgpNet) cut(l *bgpLink) {
	if !l.up {
		return
	}
	l.up = false
	l.a.inbox = append(l.a.inbox, bgp.Closed{Conn: l.aConn, Err: errors.New("connection reset by peer")})
	l.b.inbox = append(l.b.inbox, bgp.Closed{Conn: l.bConn, Err: errors.New("connection reset by peer")})
	n.pump()
}

func (n *bgpNet) deliver(nd *bgpNode, evs ...bgp.Event) {
	nd.inbox = append(nd.inbox, evs...)
	n.pump()
}

// advance moves the clock by d, firing every node's timers on the way
// (keepalives flow, retries run).
func (n *bgpNet) advance(d time.Duration) {
	end := n.now.Add(d)
	for {
		var next time.Time
		for _, nd := range n.nodes {
			if t := nd.s.NextDeadline(); !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if next.IsZero() || next.After(end) {
			break
		}
		if next.After(n.now) {
			n.now = next
		}
		for _, nd := range n.nodes {
			if t := nd.s.NextDeadline(); !t.IsZero() && !t.After(n.now) {
				nd.inbox = append(nd.inbox, bgp.Tick{})
			}
		}
		n.pump()
	}
	n.now = end
}

// pump runs every node until no message is in flight.
func (n *bgpNet) pump() {
	for round := 0; round < 10000; round++ {
		busy := false
		for _, nd := range n.nodes {
			if len(nd.inbox) == 0 {
				continue
			}
			busy = true
			evs := nd.inbox
			nd.inbox = nil
			for _, ev := range evs {
				n.route(nd, nd.s.Step(n.now, ev))
			}
		}
		if !busy {
			return
		}
	}
	n.t.Fatal("the BGP network does not settle")
}

func (n *bgpNet) route(nd *bgpNode, acts []bgp.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case bgp.Send:
			for _, l := range n.links {
				switch {
				case !l.up:
				case l.a == nd && a.Conn == l.aConn:
					for _, m := range a.Msgs {
						l.b.inbox = append(l.b.inbox, bgp.Received{Conn: l.bConn, Data: m})
					}
				case l.b == nd && a.Conn == l.bConn:
					for _, m := range a.Msgs {
						l.a.inbox = append(l.a.inbox, bgp.Received{Conn: l.aConn, Data: m})
					}
				}
			}
		case bgp.CloseConn:
			for _, l := range n.links {
				if l.up && ((l.a == nd && a.Conn == l.aConn) || (l.b == nd && a.Conn == l.bConn)) {
					l.up = false
					if l.a == nd {
						l.b.inbox = append(l.b.inbox, bgp.Closed{Conn: l.bConn})
					} else {
						l.a.inbox = append(l.a.inbox, bgp.Closed{Conn: l.aConn})
					}
				}
			}
		case bgp.Dial:
			if n.refused[a.Peer] {
				nd.inbox = append(nd.inbox, bgp.ConnectFailed{Peer: a.Peer, Err: errors.New("connection refused")})
			}
		case bgp.WatchNextHop:
			st, ok := nd.reach[bgp.PeerKey{Instance: a.Instance, Addr: a.Addr}]
			if !ok {
				st = bgp.NextHopState{Instance: a.Instance, Addr: a.Addr}
			}
			nd.inbox = append(nd.inbox, st)
		case bgp.ProgramLabel:
			nd.labels[a.Label] = a
		case bgp.RemoveLabel:
			delete(nd.labels, a.Label)
		case bgp.InstallRoute:
			nd.routes[routeKey{a.Instance, a.Route.Prefix}] = a.Route
		case bgp.RemoveRoute:
			delete(nd.routes, routeKey{a.Instance, a.Prefix})
		}
	}
}

// The node answers the displays from its speaker's snapshots.

func (nd *bgpNode) Summary(context.Context) (bgp.Summary, error) { return nd.s.Summary(), nil }

func (nd *bgpNode) Peers(context.Context) ([]bgp.PeerSnapshot, error) { return nd.s.Peers(), nil }

func (nd *bgpNode) PeerRoutes(_ context.Context, k bgp.PeerKey) (bgp.PeerRouteCounts, bgp.PeerRouteCounts, error) {
	u, v := nd.s.PeerRoutes(k)
	return u, v, nil
}

func (nd *bgpNode) Routes(_ context.Context, instance string, filter netip.Prefix) ([]bgp.RouteSnapshot, error) {
	return nd.s.Routes(instance, filter), nil
}

func (nd *bgpNode) VPNRoutes(_ context.Context, filter netip.Prefix) ([]bgp.RouteSnapshot, error) {
	return nd.s.VPNRoutes(filter), nil
}

func (nd *bgpNode) Stats(_ context.Context, instance string, vpn bool) (bgp.TableStats, error) {
	return nd.s.Stats(instance, vpn), nil
}

// lsps are the node's incoming VPN labels as egress LSPs (owner
// rib.OwnerBGP; a per-route label carries its prefix as FEC), the way the
// daemon programs ProgramLabel.
func (nd *bgpNode) lsps() []rib.LSP {
	var out []rib.LSP
	for l, p := range nd.labels {
		out = append(out, rib.LSP{Name: fmt.Sprint(l), Role: rib.Egress, Instance: p.Instance, InLabel: l, FEC: p.Prefix})
	}
	slices.SortFunc(out, func(a, b rib.LSP) int { return int(a.InLabel) - int(b.InLabel) })
	return out
}

// ribRoutes are the node's installed routes as RIB routes, by protocol and
// instance (IBGP or EBGP, the VPN label below the tunnel's).
func (nd *bgpNode) ribRoutes() map[rib.Protocol]map[string][]rib.Route {
	out := map[rib.Protocol]map[string][]rib.Route{rib.IBGP: {}, rib.EBGP: {}}
	for k, r := range nd.routes {
		rt := rib.Route{Prefix: r.Prefix, Protocol: rib.IBGP, Preference: r.Preference, Cost: r.MED}
		if r.EBGP {
			rt.Protocol = rib.EBGP
		}
		for _, h := range r.NextHops {
			nh := rib.NextHop{Gateway: h.Gateway, Interface: h.Interface, Instance: h.Instance, Tunnel: h.Tunnel}
			if h.Label != 0 {
				nh.Labels = []uint32{h.Label}
			}
			rt.NextHops = append(rt.NextHops, nh)
		}
		out[rt.Protocol][k.instance] = append(out[rt.Protocol][k.instance], rt)
	}
	return out
}

var _ BGP = (*bgpNode)(nil)

// The reference network (vrp-reference §0) as BGP speakers: PE1 and PE2
// are clients of the route reflector RR (cluster 7) in IPv4 unicast and
// VPNv4; red and blue are on both PEs with overlapping customer prefixes;
// blue allocates a label per route, red one per instance; CE-B is in a
// 4-byte AS; PE1 also has a peer that refuses connections (Active) and an
// ignored one (Idle).

func mustRD(s string) packet.RD {
	r, err := packet.ParseRD(s)
	if err != nil {
		panic(err)
	}
	return r
}

func mustRT(s string) packet.ExtCommunity {
	r, err := packet.ParseRouteTarget(s)
	if err != nil {
		panic(err)
	}
	return r
}

// peVPN is a PE's instances red (per-instance label) and blue (per-route).
func peVPN(n int) []bgp.Instance {
	direct := &bgp.UnicastAF{Imports: []bgp.ImportRoute{{Protocol: bgp.ProtoDirect}}}
	return []bgp.Instance{
		{Name: "red", RD: mustRD(fmt.Sprintf("10.255.0.%d:1", n)), ImportRTs: []packet.ExtCommunity{mustRT("65000:100")},
			ExportRTs: []packet.ExtCommunity{mustRT("65000:100")}, BGP: direct},
		{Name: "blue", RD: mustRD(fmt.Sprintf("10.255.0.%d:2", n)), ImportRTs: []packet.ExtCommunity{mustRT("65000:200")},
			ExportRTs: []packet.ExtCommunity{mustRT("65000:200")}, LabelMode: bgp.LabelPerRoute, BGP: direct},
	}
}

func pePeers(self string, ceRed, ceBlue string, asRed, asBlue uint32) []bgp.Peer {
	return []bgp.Peer{
		{Addr: ip("10.255.0.10"), AS: 65000, PeerOptions: bgp.PeerOptions{ConnectInterface: "LoopBack0", SourceAddr: ip(self)},
			AF: map[packet.Family]bgp.PeerAF{packet.VPNv4: {Enabled: true}}},
		{Addr: ip(ceRed), Instance: "red", AS: asRed},
		{Addr: ip(ceBlue), Instance: "blue", AS: asBlue},
	}
}

func ceConfig(id string, as uint32, pe string, prefixes ...string) bgp.Config {
	c := bgp.Config{AS: as, RouterID: ip(id), Peers: []bgp.Peer{{Addr: ip(pe), AS: 65000}}}
	for _, p := range prefixes {
		c.Unicast.Networks = append(c.Unicast.Networks, bgp.Network{Prefix: netip.MustParsePrefix(p)})
	}
	return c
}

type refNet struct {
	net                    *bgpNet
	pe1, pe2, rr           *bgpNode
	ceA, ceB, ceC, ceD     *bgpNode
	pe1rr, pe2rr, pe1ceA   *bgpLink
	pe1ceB, pe2ceC, pe2ceD *bgpLink
}

// newRefNet builds the network and lets it run; sessions come up at
// different times so that the Up/Down columns differ.
func newRefNet(t testing.TB, start time.Time) *refNet {
	n := newBGPNet(t, start)
	r := &refNet{net: n}
	pe1 := bgp.Config{AS: 65000, RouterID: ip("10.255.0.1"), VPNv4: &bgp.VPNv4AF{}, Instances: peVPN(1),
		Peers: pePeers("10.255.0.1", "192.0.2.2", "192.0.2.6", 64501, 4200000002)}
	pe1.Peers = append(pe1.Peers,
		bgp.Peer{Addr: ip("10.255.0.9"), AS: 65000, PeerOptions: bgp.PeerOptions{Description: "PE3, not built yet"}},
		bgp.Peer{Addr: ip("10.255.0.8"), AS: 65010, PeerOptions: bgp.PeerOptions{Ignore: true}})
	pe1.Unicast.Networks = []bgp.Network{{Prefix: netip.MustParsePrefix("10.255.0.1/32")}}
	pe2 := bgp.Config{AS: 65000, RouterID: ip("10.255.0.3"), VPNv4: &bgp.VPNv4AF{}, Instances: peVPN(3),
		Peers: pePeers("10.255.0.3", "203.0.113.2", "203.0.113.6", 64503, 64504)}
	pe2.Unicast.Networks = []bgp.Network{{Prefix: netip.MustParsePrefix("10.255.0.3/32")}}
	rr := bgp.Config{AS: 65000, RouterID: ip("10.255.0.10"),
		VPNv4:   &bgp.VPNv4AF{NoPolicyVPNTarget: true, ClusterID: 7},
		Unicast: bgp.UnicastAF{ClusterID: 7}}
	for _, pe := range []string{"10.255.0.1", "10.255.0.3"} {
		rr.Peers = append(rr.Peers, bgp.Peer{Addr: ip(pe), AS: 65000, PeerOptions: bgp.PeerOptions{SourceAddr: ip("10.255.0.10")},
			AF: map[packet.Family]bgp.PeerAF{
				packet.IPv4Unicast: {Enabled: true, ReflectClient: true},
				packet.VPNv4:       {Enabled: true, ReflectClient: true},
			}})
	}
	n.refused[bgp.PeerKey{Instance: bgp.PublicInstance, Addr: ip("10.255.0.9")}] = true
	r.pe1, r.pe2, r.rr = n.add("PE1", pe1), n.add("PE2", pe2), n.add("RR", rr)
	r.ceA = n.add("CE-A", ceConfig("192.0.2.2", 64501, "192.0.2.1", "172.16.1.0/24"))
	r.ceB = n.add("CE-B", ceConfig("192.0.2.6", 4200000002, "192.0.2.5", "172.16.1.0/24", "172.16.2.0/24"))
	r.ceC = n.add("CE-C", ceConfig("203.0.113.2", 64503, "203.0.113.1", "172.16.3.0/24"))
	r.ceD = n.add("CE-D", ceConfig("203.0.113.6", 64504, "203.0.113.5", "172.16.1.0/24", "172.16.4.0/24"))

	// Next hops: the PEs reach each other over LSPs (the IGP costs of
	// the reference: PE1-PE2 3, to the RR 2), the CEs directly.
	r.pe1.reachable(bgp.PublicInstance, "10.255.0.3", 3, true)
	r.pe1.reachable(bgp.PublicInstance, "10.255.0.10", 2, true)
	r.pe1.reachable("red", "192.0.2.2", 0, false)
	r.pe1.reachable("blue", "192.0.2.6", 0, false)
	r.pe2.reachable(bgp.PublicInstance, "10.255.0.1", 3, true)
	r.pe2.reachable(bgp.PublicInstance, "10.255.0.10", 2, true)
	r.pe2.reachable("red", "203.0.113.2", 0, false)
	r.pe2.reachable("blue", "203.0.113.6", 0, false)
	r.rr.reachable(bgp.PublicInstance, "10.255.0.1", 2, false)
	r.rr.reachable(bgp.PublicInstance, "10.255.0.3", 2, false)
	r.ceA.reachable(bgp.PublicInstance, "192.0.2.1", 0, false)
	r.ceB.reachable(bgp.PublicInstance, "192.0.2.5", 0, false)
	r.ceC.reachable(bgp.PublicInstance, "203.0.113.1", 0, false)
	r.ceD.reachable(bgp.PublicInstance, "203.0.113.5", 0, false)

	// What the RIBs hold: loopbacks, the PE-CE subnets, the CE LANs.
	r.pe1.rib(bgp.PublicInstance, "10.255.0.1/32", bgp.ProtoDirect, 0, "LoopBack0")
	r.pe1.rib("red", "192.0.2.0/30", bgp.ProtoDirect, 0, "GigabitEthernet0/1/0")
	r.pe1.rib("blue", "192.0.2.4/30", bgp.ProtoDirect, 0, "GigabitEthernet0/2/0")
	r.pe2.rib(bgp.PublicInstance, "10.255.0.3/32", bgp.ProtoDirect, 0, "LoopBack0")
	r.pe2.rib("red", "203.0.113.0/30", bgp.ProtoDirect, 0, "GigabitEthernet0/1/0")
	r.pe2.rib("blue", "203.0.113.4/30", bgp.ProtoDirect, 0, "GigabitEthernet0/2/0")
	r.ceA.rib(bgp.PublicInstance, "172.16.1.0/24", bgp.ProtoDirect, 0, "GigabitEthernet0/0/2")
	r.ceB.rib(bgp.PublicInstance, "172.16.1.0/24", bgp.ProtoDirect, 0, "GigabitEthernet0/0/2")
	r.ceB.rib(bgp.PublicInstance, "172.16.2.0/24", bgp.ProtoDirect, 0, "GigabitEthernet0/0/3")
	r.ceC.rib(bgp.PublicInstance, "172.16.3.0/24", bgp.ProtoDirect, 0, "GigabitEthernet0/0/2")
	r.ceD.rib(bgp.PublicInstance, "172.16.1.0/24", bgp.ProtoDirect, 0, "GigabitEthernet0/0/2")
	r.ceD.rib(bgp.PublicInstance, "172.16.4.0/24", bgp.ProtoDirect, 0, "GigabitEthernet0/0/3")

	r.pe1rr = n.link(r.pe1, bgp.PublicInstance, "10.255.0.1", r.rr, bgp.PublicInstance, "10.255.0.10")
	r.pe2rr = n.link(r.pe2, bgp.PublicInstance, "10.255.0.3", r.rr, bgp.PublicInstance, "10.255.0.10")
	r.pe1ceA = n.link(r.ceA, bgp.PublicInstance, "192.0.2.2", r.pe1, "red", "192.0.2.1")
	r.pe1ceB = n.link(r.ceB, bgp.PublicInstance, "192.0.2.6", r.pe1, "blue", "192.0.2.5")
	r.pe2ceC = n.link(r.ceC, bgp.PublicInstance, "203.0.113.2", r.pe2, "red", "203.0.113.1")
	r.pe2ceD = n.link(r.ceD, bgp.PublicInstance, "203.0.113.6", r.pe2, "blue", "203.0.113.5")
	n.connect(r.pe1rr)
	n.advance(5 * time.Second)
	n.connect(r.pe2rr)
	n.advance(40 * time.Second)
	n.connect(r.pe1ceA)
	n.connect(r.pe2ceC)
	n.advance(3 * time.Minute)
	n.connect(r.pe1ceB)
	n.connect(r.pe2ceD)
	n.advance(40*time.Minute + 11*time.Second)
	for _, l := range n.links {
		if !l.up {
			t.Fatalf("session %s-%s is down", l.a.name, l.b.name)
		}
	}
	return r
}
