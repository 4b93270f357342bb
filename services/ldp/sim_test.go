package ldp

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"vpnos/services/ldp/packet"
)

// The simulation connects cores in one process: Hellos cross the links the
// test declares, TCP connections become pairs of ConnIDs, PDUs are
// delivered in order, and time moves only from one core's deadline to the
// next. Tests and the benchmark use it.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testAlloc hands out labels from 48000 up and checks frees.
type testAlloc struct {
	next  uint32
	used  map[uint32]bool
	fail  bool
	freed []uint32
}

func newTestAlloc() *testAlloc { return &testAlloc{next: 48000, used: map[uint32]bool{}} }

var errExhausted = errors.New("no label")

func (a *testAlloc) Allocate() (uint32, error) {
	if a.fail {
		return 0, errExhausted
	}
	l := a.next
	a.next++
	a.used[l] = true
	return l, nil
}

func (a *testAlloc) Free(l uint32) {
	if !a.used[l] {
		panic(fmt.Sprintf("free of label %d not in use", l))
	}
	delete(a.used, l)
	a.freed = append(a.freed, l)
}

type simNode struct {
	name   string
	core   *Core
	alloc  *testAlloc
	lsrID  netip.Addr
	ifaces map[string]Interface
	lsps   map[netip.Prefix]LSP
	// actions keeps every action for inspection (when the sim records).
	actions []Action
	states  map[netip.Addr]State
}

type simEnd struct {
	node  *simNode
	iface string
}

type simConn struct {
	node   *simNode
	other  ConnID
	closed bool
}

type delivery struct {
	node *simNode
	ev   Event
}

type sim struct {
	tb      testing.TB
	now     time.Time
	nodes   map[string]*simNode
	order   []*simNode
	links   map[simEnd][]simEnd
	conns   map[ConnID]*simConn
	nextID  ConnID
	queue   []delivery
	record  bool
	dropTCP bool // PDUs are lost (to test keepalive expiry)
	// filter may drop a delivery (return false).
	filter func(d delivery) bool
	steps  int
	// complete counts the loopback LSPs that are usable: an ingress LSP
	// with next hops, or the egress of the own loopback.
	complete int
}

func complete(l LSP) bool {
	return l.FEC.Bits() == 32 && (l.Egress || (l.Ingress && len(l.NextHops) > 0))
}

// converged reports whether every router has a usable LSP to every
// loopback (cheaper than fullLSPs; assumes only loopbacks are /32).
func (s *sim) converged() bool { return s.complete == len(s.order)*len(s.order) }

func newSim(tb testing.TB) *sim {
	return &sim{tb: tb, now: t0, nodes: map[string]*simNode{}, links: map[simEnd][]simEnd{}, conns: map[ConnID]*simConn{}, record: true}
}

// node adds a router with a loopback LSR ID.
func (s *sim) node(name, lsrID string) *simNode {
	n := &simNode{name: name, alloc: newTestAlloc(), lsrID: netip.MustParseAddr(lsrID),
		ifaces: map[string]Interface{}, lsps: map[netip.Prefix]LSP{}, states: map[netip.Addr]State{}}
	n.core = New(n.alloc)
	n.ifaces["lo"] = Interface{Name: "lo", VRPName: "LoopBack0", Up: true,
		Addrs: []netip.Prefix{netip.PrefixFrom(n.lsrID, 32)}}
	s.nodes[name] = n
	s.order = append(s.order, n)
	return n
}

// link joins two interfaces with addresses (CIDR).
func (s *sim) link(a *simNode, aif, aaddr string, b *simNode, bif, baddr string) {
	a.ifaces[aif] = Interface{Name: aif, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix(aaddr)}, MTU: 1500}
	b.ifaces[bif] = Interface{Name: bif, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix(baddr)}, MTU: 1500}
	ea, eb := simEnd{a, aif}, simEnd{b, bif}
	s.links[ea] = append(s.links[ea], eb)
	s.links[eb] = append(s.links[eb], ea)
}

// enable configures LDP on every non-loopback interface of every node and
// sends the interfaces.
func (s *sim) enableAll(mod func(n *simNode, c *Config)) {
	for _, n := range s.order {
		cfg := Config{Enabled: true, LSRID: n.lsrID}
		for _, name := range slices.Sorted(maps.Keys(n.ifaces)) {
			if name != "lo" {
				cfg.Interfaces = append(cfg.Interfaces, InterfaceConfig{Name: name})
			}
		}
		if mod != nil {
			mod(n, &cfg)
		}
		s.step(n, InterfacesChanged{Interfaces: n.interfaceList()})
		s.step(n, ConfigChanged{Config: cfg})
	}
}

func (n *simNode) interfaceList() []Interface {
	var out []Interface
	for _, name := range slices.Sorted(maps.Keys(n.ifaces)) {
		out = append(out, n.ifaces[name])
	}
	return out
}

func (s *sim) setIface(n *simNode, i Interface) {
	n.ifaces[i.Name] = i
	s.step(n, InterfacesChanged{Interfaces: n.interfaceList()})
}

// step feeds one event to a node now and routes its actions.
func (s *sim) step(n *simNode, ev Event) {
	s.steps++
	acts := n.core.Step(s.now, ev)
	if s.record {
		n.actions = append(n.actions, acts...)
	}
	for _, a := range acts {
		s.route(n, a)
	}
}

func (s *sim) owner(addr netip.Addr) *simNode {
	for _, n := range s.order {
		for _, i := range n.ifaces {
			for _, p := range i.Addrs {
				if p.Addr() == addr && i.Up {
					return n
				}
			}
		}
	}
	return nil
}

func (s *sim) route(n *simNode, a Action) {
	switch a := a.(type) {
	case SendHello:
		for _, e := range s.links[simEnd{n, a.Interface}] {
			s.queue = append(s.queue, delivery{e.node, HelloReceived{Interface: e.iface, Src: a.Src, Data: a.Data}})
		}
	case Dial:
		o := s.owner(a.Remote)
		if o == nil || o == n {
			s.queue = append(s.queue, delivery{n, ConnFailed{Peer: a.Peer, Attempt: a.Attempt, Err: errors.New("connection refused")}})
			return
		}
		ca, cb := s.nextID+1, s.nextID+2
		s.nextID += 2
		s.conns[ca] = &simConn{node: n, other: cb}
		s.conns[cb] = &simConn{node: o, other: ca}
		la, lb := netip.AddrPortFrom(a.Local, 40000+uint16(ca)), netip.AddrPortFrom(a.Remote, packet.Port)
		s.queue = append(s.queue,
			delivery{o, ConnAccepted{Conn: cb, Local: lb, Remote: la}},
			delivery{n, ConnUp{Conn: ca, Peer: a.Peer, Attempt: a.Attempt, Local: la, Remote: lb}})
	case Send:
		c := s.conns[a.Conn]
		if c == nil || c.closed || s.dropTCP {
			return
		}
		o := s.conns[c.other]
		for _, pdu := range a.PDUs {
			s.queue = append(s.queue, delivery{o.node, PDUReceived{Conn: c.other, Data: pdu}})
		}
	case Close:
		c := s.conns[a.Conn]
		if c == nil || c.closed {
			return
		}
		c.closed = true
		if o := s.conns[c.other]; !o.closed {
			o.closed = true
			s.queue = append(s.queue, delivery{o.node, ConnClosed{Conn: c.other}})
		}
	case LSPsChanged:
		for _, l := range a.Set {
			if old, ok := n.lsps[l.FEC]; ok && complete(old) {
				s.complete--
			}
			if complete(l) {
				s.complete++
			}
			n.lsps[l.FEC] = l
		}
		for _, p := range a.Delete {
			if complete(n.lsps[p]) {
				s.complete--
			}
			delete(n.lsps, p)
		}
	case SessionChanged:
		n.states[a.Peer.LSRID] = a.State
	}
}

// drain delivers queued events until none is left (no time passes).
func (s *sim) drain() {
	for len(s.queue) > 0 {
		d := s.queue[0]
		s.queue = s.queue[1:]
		if s.filter != nil && !s.filter(d) {
			continue
		}
		s.step(d.node, d.ev)
	}
}

// advance moves time to the next deadline of any core (not beyond until)
// and ticks the cores due then; it reports false when nothing is due
// before until.
func (s *sim) advance(until time.Time) bool {
	s.drain()
	var next time.Time
	for _, n := range s.order {
		if d := n.core.NextDeadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	if next.IsZero() || next.After(until) {
		s.now = until
		return false
	}
	if next.After(s.now) {
		s.now = next
	}
	for _, n := range s.order {
		if d := n.core.NextDeadline(); !d.IsZero() && !d.After(s.now) {
			s.step(n, Tick{})
		}
	}
	s.drain()
	return true
}

// run lets the simulation go on for d.
func (s *sim) run(d time.Duration) {
	until := s.now.Add(d)
	for s.advance(until) {
	}
}

// runUntil runs until cond holds (checked after each round), at most d.
func (s *sim) runUntil(d time.Duration, cond func() bool) bool {
	until := s.now.Add(d)
	s.drain()
	for !cond() {
		if !s.advance(until) {
			return cond()
		}
	}
	return true
}

// allOperational reports whether every node has an operational session
// with each of its link neighbours.
func (s *sim) allOperational() bool {
	for e, others := range s.links {
		for _, o := range others {
			if e.node.states[o.node.lsrID] != Operational {
				return false
			}
		}
	}
	return true
}

type simAdj struct {
	to        *simNode
	iface, gw string
}

// computeRoutes gives every node the shortest-path routes (hop count, ECMP)
// to every node's loopback and its attached link subnets, as an IGP would.
func (s *sim) computeRoutes() map[*simNode][]Route {
	nbrs := map[*simNode][]simAdj{}
	for _, e := range slices.SortedFunc(maps.Keys(s.links), func(x, y simEnd) int {
		if c := x.node.lsrID.Compare(y.node.lsrID); c != 0 {
			return c
		}
		return cmp.Compare(x.iface, y.iface)
	}) {
		for _, o := range s.links[e] {
			if !e.node.ifaces[e.iface].Up || !o.node.ifaces[o.iface].Up {
				continue
			}
			gw := o.node.ifaces[o.iface].Addrs[0].Addr().String()
			nbrs[e.node] = append(nbrs[e.node], simAdj{o.node, e.iface, gw})
		}
	}
	dist := map[*simNode]map[*simNode]int{}
	for _, dst := range s.order {
		dist[dst] = bfs(dst, nbrs)
	}
	subnets := s.subnets()
	out := map[*simNode][]Route{}
	for _, src := range s.order {
		for _, dst := range s.order {
			d := dist[dst]
			if dst == src {
				out[src] = append(out[src], Route{Prefix: netip.PrefixFrom(src.lsrID, 32), NextHops: []NextHop{{Interface: "lo"}}})
				continue
			}
			if _, ok := d[src]; !ok {
				continue
			}
			r := Route{Prefix: netip.PrefixFrom(dst.lsrID, 32)}
			for _, a := range nbrs[src] {
				if dd, ok := d[a.to]; ok && dd == d[src]-1 {
					r.NextHops = append(r.NextHops, NextHop{Gateway: netip.MustParseAddr(a.gw), Interface: a.iface})
				}
			}
			slices.SortFunc(r.NextHops, func(x, y NextHop) int { return x.Gateway.Compare(y.Gateway) })
			out[src] = append(out[src], r)
		}
		for _, sub := range subnets {
			if name, ok := sub.attached[src]; ok {
				out[src] = append(out[src], Route{Prefix: sub.prefix, NextHops: []NextHop{{Interface: name}}})
				continue
			}
			// The distance to a subnet is the distance to its nearest
			// router.
			dd := func(n *simNode) (int, bool) {
				best, ok := 0, false
				for e := range sub.attached {
					if v, has := dist[e][n]; has && (!ok || v < best) {
						best, ok = v, true
					}
				}
				return best, ok
			}
			ds, ok := dd(src)
			if !ok {
				continue
			}
			r := Route{Prefix: sub.prefix}
			for _, a := range nbrs[src] {
				if v, ok := dd(a.to); ok && v == ds-1 {
					r.NextHops = append(r.NextHops, NextHop{Gateway: netip.MustParseAddr(a.gw), Interface: a.iface})
				}
			}
			slices.SortFunc(r.NextHops, func(x, y NextHop) int { return x.Gateway.Compare(y.Gateway) })
			out[src] = append(out[src], r)
		}
	}
	return out
}

type simSubnet struct {
	prefix   netip.Prefix
	attached map[*simNode]string
}

// subnets lists the link subnets with the routers attached to each.
func (s *sim) subnets() []*simSubnet {
	by := map[netip.Prefix]*simSubnet{}
	for _, n := range s.order {
		for name, i := range n.ifaces {
			if name == "lo" || !i.Up {
				continue
			}
			p := i.Addrs[0].Masked()
			if by[p] == nil {
				by[p] = &simSubnet{prefix: p, attached: map[*simNode]string{}}
			}
			by[p].attached[n] = name
		}
	}
	out := slices.Collect(maps.Values(by))
	slices.SortFunc(out, func(a, b *simSubnet) int { return comparePrefix(a.prefix, b.prefix) })
	return out
}

func bfs(dst *simNode, nbrs map[*simNode][]simAdj) map[*simNode]int {
	d := map[*simNode]int{dst: 0}
	q := []*simNode{dst}
	for len(q) > 0 {
		n := q[0]
		q = q[1:]
		for _, a := range nbrs[n] {
			if _, ok := d[a.to]; !ok {
				d[a.to] = d[n] + 1
				q = append(q, a.to)
			}
		}
	}
	return d
}

// installRoutes hands every node its computed routes.
func (s *sim) installRoutes() {
	rs := s.computeRoutes()
	for _, n := range s.order {
		s.step(n, RoutesChanged{Full: true, Set: rs[n]})
	}
}

// fullMesh reports whether every node has an ingress LSP to every other
// node's loopback, and an egress LSP for its own.
func (s *sim) fullLSPs() bool {
	for _, n := range s.order {
		for _, d := range s.order {
			l, ok := n.lsps[netip.PrefixFrom(d.lsrID, 32)]
			if !ok {
				return false
			}
			if d == n && !l.Egress {
				return false
			}
			if d != n && (!l.Ingress || len(l.NextHops) == 0) {
				return false
			}
		}
	}
	return true
}

// line builds n routers in a line, r0 - r1 - ... with loopbacks
// 10.255.x.y and /30 links from 10.0.0.0/16.
func line(s *sim, n int) []*simNode {
	var nodes []*simNode
	for i := range n {
		nodes = append(nodes, s.node(fmt.Sprintf("r%d", i), fmt.Sprintf("10.255.%d.%d", i/250, i%250+1)))
	}
	for i := 0; i+1 < n; i++ {
		base := 4 * i
		a := fmt.Sprintf("10.0.%d.%d/30", base/256, base%256+1)
		b := fmt.Sprintf("10.0.%d.%d/30", base/256, base%256+2)
		s.link(nodes[i], "east", a, nodes[i+1], "west", b)
	}
	return nodes
}
