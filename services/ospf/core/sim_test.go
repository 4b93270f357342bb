package core

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"vpnos/services/ospf/packet"
)

// sim connects cores through simulated segments under a fake clock.
// Packets are delivered in order with no delay; timers fire when the clock
// is advanced.
type sim struct {
	t       testing.TB
	now     time.Time
	routers map[string]*simRouter
	order   []string
	queue   []delivery
	// drop, when set, decides whether a packet is lost.
	drop func(from *simPort, to *simPort, p *packet.Packet) bool
	log  []string
	// sent counts packets by type; record keeps them when set.
	sent    map[packet.Type]int
	record  bool
	packets [][]byte
	// inputs records the events of one router (inputsOf) with their time.
	inputsOf *simRouter
	inputs   []timedEvent
}

type timedEvent struct {
	at time.Time
	ev Event
}

type simRouter struct {
	name    string
	core    *Core
	ports   map[string]*simPort
	routes  []Route
	changes []NeighborChanged
	ext     []External
}

type simPort struct {
	r      *simRouter
	cfg    IfaceConfig
	seg    *segment
	groups map[netip.Addr]bool
}

type segment struct {
	name  string
	ports []*simPort
}

type delivery struct {
	to  *simPort
	src netip.Addr
	dst netip.Addr
	b   []byte
}

var t0 = time.Date(2024, 5, 6, 9, 0, 0, 0, time.UTC)

func newSim(t testing.TB) *sim {
	return &sim{t: t, now: t0, routers: map[string]*simRouter{}, sent: map[packet.Type]int{}}
}

// router adds a router with a router ID (and a loopback LoopBack0 with
// that address as a /32 in area 0 unless noLoopback).
func (s *sim) router(name, rid string, areas ...AreaConfig) *simRouter {
	id, err := packet.ParseID(rid)
	if err != nil {
		s.t.Fatal(err)
	}
	r := &simRouter{name: name, core: New(Config{RouterID: id, Areas: areas, MinLSInterval: 5 * time.Second}), ports: map[string]*simPort{}}
	s.routers[name] = r
	s.order = append(s.order, name)
	return r
}

// port adds an interface to r on segment seg (created on first use).
func (s *sim) port(r *simRouter, seg string, ic IfaceConfig) *simPort {
	var sg *segment
	for _, x := range s.routers {
		for _, p := range x.ports {
			if p.seg != nil && p.seg.name == seg {
				sg = p.seg
			}
		}
	}
	if sg == nil && seg != "" {
		sg = &segment{name: seg}
	}
	if ic.Name == "" {
		n := 1
		for name := range r.ports {
			if strings.HasPrefix(name, "eth") {
				n++
			}
		}
		ic.Name = fmt.Sprintf("eth%d", n)
	}
	ic.Up = true
	p := &simPort{r: r, cfg: ic, seg: sg, groups: map[netip.Addr]bool{}}
	if sg != nil {
		sg.ports = append(sg.ports, p)
	}
	r.ports[ic.Name] = p
	return p
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }
func rid(s string) ID {
	id, err := packet.ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// p2p links two routers with a point-to-point /30 (.1 and .2) in area.
func (s *sim) p2p(a, b *simRouter, subnet string, area ID, cost uint16) (*simPort, *simPort) {
	p := pfx(subnet)
	seg := a.name + "-" + b.name + "-" + subnet
	x := p.Addr().Next()
	y := x.Next()
	pa := s.port(a, seg, IfaceConfig{Area: area, Prefix: netip.PrefixFrom(x, p.Bits()), Type: PointToPoint, Cost: cost, Priority: 1})
	pb := s.port(b, seg, IfaceConfig{Area: area, Prefix: netip.PrefixFrom(y, p.Bits()), Type: PointToPoint, Cost: cost, Priority: 1})
	return pa, pb
}

func (s *sim) loopback(r *simRouter, a string, area ID) *simPort {
	return s.port(r, "", IfaceConfig{Name: "LoopBack0", Area: area, Prefix: netip.PrefixFrom(addr(a), 32), Loopback: true})
}

// start gives every router its interfaces.
func (s *sim) start() {
	for _, name := range s.order {
		s.apply(s.routers[name])
	}
	s.drain()
}

// apply re-sends a router's interface set.
func (s *sim) apply(r *simRouter) {
	var cfgs []IfaceConfig
	for _, p := range r.ports {
		cfgs = append(cfgs, p.cfg)
	}
	slices.SortFunc(cfgs, func(a, b IfaceConfig) int { return strings.Compare(a.Name, b.Name) })
	s.step(r, SetInterfaces{Interfaces: cfgs})
}

func (s *sim) step(r *simRouter, ev Event) {
	if r == s.inputsOf {
		s.inputs = append(s.inputs, timedEvent{s.now, ev})
	}
	acts := r.core.Step(s.now, ev)
	for _, a := range acts {
		switch a := a.(type) {
		case Send:
			s.send(r, a)
		case Join:
			r.ports[a.Iface].groups[a.Group] = true
		case Leave:
			delete(r.ports[a.Iface].groups, a.Group)
		case RoutesChanged:
			r.routes = a.Routes
		case NeighborChanged:
			r.changes = append(r.changes, a)
			s.log = append(s.log, fmt.Sprintf("%s %s %s: %s -> %s (%s)", s.now.Sub(t0), r.name, a.RouterID, a.From, a.To, a.Event))
		}
	}
}

func (s *sim) send(r *simRouter, a Send) {
	from := r.ports[a.Iface]
	if from == nil {
		s.t.Fatalf("%s sends on unknown interface %s", r.name, a.Iface)
	}
	p, err := packet.Decode(a.Data)
	if err != nil {
		s.t.Fatalf("%s sends an undecodable packet: %v", r.name, err)
	}
	if len(a.Data)+20 > int(from.cfg.MTU) && from.cfg.MTU != 0 && p.Type != packet.TypeLSUpdate {
		s.t.Errorf("%s sends %d bytes on MTU %d", r.name, len(a.Data), from.cfg.MTU)
	}
	s.sent[p.Type]++
	if s.record {
		s.packets = append(s.packets, a.Data)
	}
	if from.seg == nil || !from.cfg.Up {
		return
	}
	for _, to := range from.seg.ports {
		if to == from || !to.cfg.Up {
			continue
		}
		if a.Dst.IsMulticast() {
			if !to.groups[a.Dst] {
				continue
			}
		} else if to.cfg.Prefix.Addr() != a.Dst {
			continue
		}
		if s.drop != nil && s.drop(from, to, p) {
			continue
		}
		s.queue = append(s.queue, delivery{to: to, src: from.cfg.Prefix.Addr(), dst: a.Dst, b: a.Data})
	}
}

func (s *sim) drain() {
	for n := 0; len(s.queue) > 0; n++ {
		if n > 1_000_000 {
			s.t.Fatal("packet storm")
		}
		d := s.queue[0]
		s.queue = s.queue[1:]
		s.step(d.to.r, Receive{Iface: d.to.cfg.Name, Src: d.src, Dst: d.dst, Data: d.b})
	}
}

// advance moves the clock by d, firing timers on the way.
func (s *sim) advance(d time.Duration) {
	end := s.now.Add(d)
	for {
		var next time.Time
		for _, name := range s.order {
			if t := s.routers[name].core.NextDeadline(); !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if next.IsZero() || next.After(end) {
			break
		}
		if next.After(s.now) {
			s.now = next
		}
		for _, name := range s.order {
			r := s.routers[name]
			if t := r.core.NextDeadline(); !t.IsZero() && !t.After(s.now) {
				s.step(r, Tick{})
			}
		}
		s.drain()
	}
	s.now = end
}

// until advances in steps of 100ms until cond holds or limit passes.
func (s *sim) until(limit time.Duration, what string, cond func() bool) {
	s.t.Helper()
	end := s.now.Add(limit)
	for !cond() {
		if !s.now.Before(end) {
			s.dump()
			s.t.Fatalf("after %v: %s", limit, what)
		}
		s.advance(100 * time.Millisecond)
	}
}

func (s *sim) dump() {
	for _, l := range s.log {
		s.t.Log(l)
	}
	for _, name := range s.order {
		r := s.routers[name]
		s.t.Logf("%s routes:\n%s", name, fmtRoutes(r.routes))
		snap := r.core.Snapshot(s.now)
		for _, a := range snap.Areas {
			for _, l := range a.LSAs {
				s.t.Logf("%s area %s: %s %s %s seq %#x age %d", name, a.ID, l.Type, l.ID, l.AdvRouter, uint32(l.Seq), l.Age)
			}
		}
	}
}

func fmtRoutes(rs []Route) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  %s %s area %s cost %d", r.Prefix, r.Type, r.Area, r.Cost)
		for _, nh := range r.NextHops {
			fmt.Fprintf(&b, " via %s %s", nh.Iface, nh.Gateway)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// nbrState is the state of r's neighbour with router ID id (Down if none).
func (r *simRouter) nbrState(id string) NbrState {
	for _, i := range r.core.ifaces {
		for _, n := range i.nbrs {
			if n.id == rid(id) {
				return n.state
			}
		}
	}
	return NbrDown
}

func (r *simRouter) route(p string) *Route {
	for k := range r.routes {
		if r.routes[k].Prefix == pfx(p) {
			return &r.routes[k]
		}
	}
	return nil
}

// routeVia reports whether r has a route to p through exactly the given
// gateways (any interface).
func (r *simRouter) routeVia(p string, gws ...string) bool {
	rt := r.route(p)
	if rt == nil || len(rt.NextHops) != len(gws) {
		return false
	}
	for k, nh := range rt.NextHops {
		if nh.Gateway != addr(gws[k]) {
			return false
		}
	}
	return true
}

func (s *sim) allFull() bool {
	for _, name := range s.order {
		r := s.routers[name]
		for _, i := range r.core.ifaces {
			for _, n := range i.nbrs {
				if n.state != NbrFull && !(n.state == Nbr2Way && i.cfg.Type == Broadcast && !r.core.adjacencyWanted(n)) {
					return false
				}
			}
		}
	}
	return true
}

// setUp changes the link state of a port.
func (s *sim) setUp(p *simPort, up bool) {
	p.cfg.Up = up
	s.apply(p.r)
	s.drain()
}

// ifSnap is the snapshot of one interface.
func ifSnap(t testing.TB, s Snapshot, name string) InterfaceSnapshot {
	t.Helper()
	for _, a := range s.Areas {
		for _, i := range a.Interfaces {
			if i.Name == name {
				return i
			}
		}
	}
	t.Fatalf("no interface %s in the snapshot", name)
	return InterfaceSnapshot{}
}
