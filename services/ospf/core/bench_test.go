package core

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"vpnos/services/ospf/packet"
)

// genTopology is a generated area: routers 0..n-1 (router k has ID
// 10.k/16.k.1 style IDs), each with a loopback, linked point-to-point in a
// ring plus random chords, and some broadcast segments with a DR.
type genTopology struct {
	n     int
	ids   []ID
	edges [][]genEdge // adjacency, both directions
	nets  []genNet
}

type genEdge struct {
	to     int
	metric uint16
	net    int // -1 for point-to-point, else index into nets
	subnet netip.Prefix
	my     netip.Addr
	their  netip.Addr
}

type genNet struct {
	prefix  netip.Prefix
	members []int
	addrs   []netip.Addr
}

func routerID(k int) ID { return ID(0x0a000000 | uint32(k+1)) } // 10.0.x.y

func genArea(n int, seed uint64) *genTopology {
	rng := rand.New(rand.NewPCG(seed, 1))
	g := &genTopology{n: n, edges: make([][]genEdge, n)}
	for k := range n {
		g.ids = append(g.ids, routerID(k))
	}
	sub := 0
	link := func(a, b int, m uint16) {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(16 + sub>>14), byte(sub >> 6), byte(sub << 2)}), 30)
		sub++
		x := p.Addr().Next()
		y := x.Next()
		g.edges[a] = append(g.edges[a], genEdge{to: b, metric: m, net: -1, subnet: p, my: x, their: y})
		g.edges[b] = append(g.edges[b], genEdge{to: a, metric: m, net: -1, subnet: p, my: y, their: x})
	}
	for k := range n {
		link(k, (k+1)%n, uint16(1+rng.IntN(20)))
	}
	for range n {
		a, b := rng.IntN(n), rng.IntN(n)
		if a != b {
			link(a, b, uint16(1+rng.IntN(20)))
		}
	}
	// One broadcast segment per 20 routers, 4 members each.
	for s := range n / 20 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(s), 0}), 24)
		gn := genNet{prefix: p}
		for m := range 4 {
			k := rng.IntN(n)
			gn.members = append(gn.members, k)
			gn.addrs = append(gn.addrs, netip.AddrFrom4([4]byte{192, 168, byte(s), byte(m + 1)}))
		}
		g.nets = append(g.nets, gn)
	}
	return g
}

// core builds a Core for router 0 holding the whole area in its database,
// with its own interfaces and Full neighbours as the topology says.
func (g *genTopology) core() *Core {
	c := New(Config{RouterID: g.ids[0]})
	c.now = t0
	c.startedAt = t0
	a := c.areaFor(0)
	// Router 0's interfaces.
	for k, e := range g.edges[0] {
		i := &iface{cfg: IfaceConfig{Name: fmt.Sprintf("eth%d", k+1), Prefix: netip.PrefixFrom(e.my, 30), Type: PointToPoint, Cost: e.metric, Up: true}, area: a, state: IfPointToPoint, nbrs: map[netip.Addr]*neighbor{}}
		i.nbrs[e.their] = &neighbor{ifc: i, id: g.ids[e.to], addr: e.their, state: NbrFull}
		c.ifaces[i.cfg.Name] = i
		a.ifaces = append(a.ifaces, i)
	}
	lo := &iface{cfg: IfaceConfig{Name: "LoopBack0", Prefix: netip.PrefixFrom(g.ids[0].Addr(), 32), Loopback: true, Up: true}, area: a, state: IfLoopback}
	c.ifaces["LoopBack0"] = lo
	a.ifaces = append(a.ifaces, lo)
	for ni, gn := range g.nets {
		for m, k := range gn.members {
			if k != 0 {
				continue
			}
			i := &iface{cfg: IfaceConfig{Name: fmt.Sprintf("lan%d", ni), Prefix: netip.PrefixFrom(gn.addrs[m], 24), Type: Broadcast, Cost: 1, Up: true},
				area: a, state: IfDROther, dr: packet.IDFromAddr(gn.addrs[0]), nbrs: map[netip.Addr]*neighbor{}}
			for m2, k2 := range gn.members {
				if m2 != m {
					i.nbrs[gn.addrs[m2]] = &neighbor{ifc: i, id: g.ids[k2], addr: gn.addrs[m2], state: NbrFull}
				}
			}
			c.ifaces[i.cfg.Name] = i
			a.ifaces = append(a.ifaces, i)
		}
	}
	// Everyone else's router LSAs, and the network LSAs.
	for k := 1; k < g.n; k++ {
		rl := &packet.RouterLSA{}
		rl.Links = append(rl.Links, packet.RouterLink{ID: g.ids[k], Data: 0xffffffff, Type: packet.LinkStub})
		for _, e := range g.edges[k] {
			rl.Links = append(rl.Links,
				packet.RouterLink{ID: g.ids[e.to], Data: packet.IDFromAddr(e.my), Type: packet.LinkPointToPoint, Metric: e.metric},
				packet.RouterLink{ID: packet.IDFromAddr(e.subnet.Addr()), Data: packet.MaskID(30), Type: packet.LinkStub, Metric: e.metric})
		}
		for _, gn := range g.nets {
			for m, mk := range gn.members {
				if mk == k {
					rl.Links = append(rl.Links, packet.RouterLink{ID: packet.IDFromAddr(gn.addrs[0]), Data: packet.IDFromAddr(gn.addrs[m]), Type: packet.LinkTransit, Metric: 1})
				}
			}
		}
		l := packet.NewLSA(packet.LSAHeader{Type: packet.LSARouter, ID: g.ids[k], AdvRouter: g.ids[k], Seq: packet.InitialSequenceNumber}, rl)
		a.db[l.Key()] = &lsaEntry{lsa: l, installed: t0}
	}
	for _, gn := range g.nets {
		var rs []ID
		for _, k := range gn.members {
			rs = append(rs, g.ids[k])
		}
		l := packet.NewLSA(packet.LSAHeader{Type: packet.LSANetwork, ID: packet.IDFromAddr(gn.addrs[0]), AdvRouter: g.ids[gn.members[0]], Seq: packet.InitialSequenceNumber},
			&packet.NetworkLSA{Mask: packet.MaskID(24), Routers: rs})
		a.db[l.Key()] = &lsaEntry{lsa: l, installed: t0}
	}
	return c
}

// A plain Dijkstra over the same graph (adjacency lists, a binary heap,
// distances only): the reference.
type plainGraph struct {
	adj [][]plainEdge
}

type plainEdge struct {
	to int
	w  uint32
}

func (g *genTopology) plain() *plainGraph {
	// Vertices: routers, then one per broadcast segment.
	p := &plainGraph{adj: make([][]plainEdge, g.n+len(g.nets))}
	for k := range g.n {
		for _, e := range g.edges[k] {
			p.adj[k] = append(p.adj[k], plainEdge{e.to, uint32(e.metric)})
		}
	}
	for ni, gn := range g.nets {
		v := g.n + ni
		for _, k := range gn.members {
			p.adj[k] = append(p.adj[k], plainEdge{v, 1})
			p.adj[v] = append(p.adj[v], plainEdge{k, 0})
		}
	}
	return p
}

type pq struct {
	v []int
	d []uint32
}

func (q *pq) Len() int           { return len(q.v) }
func (q *pq) Less(i, j int) bool { return q.d[q.v[i]] < q.d[q.v[j]] }
func (q *pq) Swap(i, j int)      { q.v[i], q.v[j] = q.v[j], q.v[i] }
func (q *pq) Push(x any)         { q.v = append(q.v, x.(int)) }
func (q *pq) Pop() any {
	x := q.v[len(q.v)-1]
	q.v = q.v[:len(q.v)-1]
	return x
}

func (p *plainGraph) dijkstra(src int) []uint32 {
	const inf = ^uint32(0)
	d := make([]uint32, len(p.adj))
	for k := range d {
		d[k] = inf
	}
	done := make([]bool, len(p.adj))
	d[src] = 0
	q := &pq{d: d}
	heap.Push(q, src)
	for q.Len() > 0 {
		v := heap.Pop(q).(int)
		if done[v] {
			continue
		}
		done[v] = true
		for _, e := range p.adj[v] {
			if nd := d[v] + e.w; nd < d[e.to] {
				d[e.to] = nd
				heap.Push(q, e.to)
			}
		}
	}
	return d
}

// The generated area is the same graph for both: OSPF's SPF finds every
// router's loopback at the distance the plain Dijkstra finds.
func TestGeneratedSPFMatchesDijkstra(t *testing.T) {
	g := genArea(300, 7)
	c := g.core()
	c.runSPF()
	d := g.plain().dijkstra(0)
	for k := 1; k < g.n; k++ {
		p := netip.PrefixFrom(g.ids[k].Addr(), 32)
		var rt *Route
		for i := range c.routes {
			if c.routes[i].Prefix == p {
				rt = &c.routes[i]
			}
		}
		if rt == nil || rt.Cost != d[k] || len(rt.NextHops) == 0 {
			t.Fatalf("router %d: %+v, Dijkstra %d", k, rt, d[k])
		}
	}
}

// BenchmarkSPF1000 runs the full route calculation (SPF with next hops and
// ECMP, stub networks, the routing table) of router 0 over a generated
// area of 1,000 routers, and, as the reference in the same run, a plain
// Dijkstra (distances only) over the same graph. It reports the time per
// SPF run and the ratio spf/dijkstra.
func BenchmarkSPF1000(b *testing.B) {
	g := genArea(1000, 42)
	c := g.core()
	pg := g.plain()
	var spfT, refT time.Duration
	for b.Loop() {
		start := time.Now()
		c.runSPF()
		spfT += time.Since(start)
		start = time.Now()
		d := pg.dijkstra(0)
		refT += time.Since(start)
		if len(c.routes) < 1000 || d[1] == ^uint32(0) {
			b.Fatalf("%d routes", len(c.routes))
		}
	}
	b.ReportMetric(float64(spfT.Microseconds())/float64(b.N), "spf-us/run")
	b.ReportMetric(float64(refT.Microseconds())/float64(b.N), "dijkstra-us/run")
	b.ReportMetric(float64(spfT)/float64(refT), "spf/dijkstra")
}
