package core

import (
	"cmp"
	"container/heap"
	"net/netip"
	"slices"

	"vpnos/services/ospf/packet"
)

// RouteType is the path type of a route.
type RouteType uint8

// Path types, in order of preference (RFC 2328 11).
const (
	IntraArea RouteType = iota
	InterArea
	External1
	External2
)

func (t RouteType) String() string {
	return [...]string{"Intra", "Inter", "Type1", "Type2"}[t]
}

// External reports whether the route is an AS-external one (O_ASE).
func (t RouteType) External() bool { return t >= External1 }

// NextHop is one equal-cost next hop.
type NextHop struct {
	// Iface is the outgoing interface.
	Iface string
	// Gateway is the neighbour to forward to; invalid for a directly
	// attached network.
	Gateway netip.Addr
}

// Route is one destination of the OSPF routing table.
type Route struct {
	Prefix netip.Prefix
	Type   RouteType
	// Area is the area of an intra- or inter-area route.
	Area ID
	// Cost is the metric of the route: the distance for intra- and
	// inter-area routes and type 1 external routes, the external metric
	// for type 2 ones.
	Cost uint32
	// ForwardCost is, for external routes, the distance to the ASBR or
	// the forwarding address.
	ForwardCost uint32
	Tag         uint32
	// AdvRouter is the router whose LSA gave the route (for a network,
	// the DR).
	AdvRouter ID
	// Transit marks a route to a transit network (a network LSA); else
	// intra-area routes are stub networks.
	Transit bool
	// Direct: a network attached to this router (no gateway).
	Direct   bool
	NextHops []NextHop
}

// routerRoute is a path to an area border or AS boundary router.
type routerRoute struct {
	id    ID
	area  ID
	cost  uint32
	nhs   []NextHop
	abr   bool
	asbr  bool
	inter bool // learnt from an ASBR summary
}

// routingTable is the result of SPF.
type routingTable struct {
	nets    map[netip.Prefix]*Route
	routers map[ID][]*routerRoute
}

func (t *routingTable) asbrs() []ID {
	var out []ID
	for id, rs := range t.routers {
		for _, r := range rs {
			if r.asbr {
				out = append(out, id)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// bestRouter is the preferred path to a router: intra-area before
// inter-area, then the lowest cost (RFC 1583 compatible), then the lowest
// area ID.
func (t *routingTable) bestRouter(id ID) *routerRoute {
	var best *routerRoute
	for _, r := range t.routers[id] {
		if best == nil || (!r.inter && best.inter) || (r.inter == best.inter && (r.cost < best.cost || r.cost == best.cost && r.area < best.area)) {
			best = r
		}
	}
	return best
}

type vtype uint8

const (
	vNetwork vtype = iota // networks first among equal distances
	vRouter
)

type vkey struct {
	t  vtype
	id ID
}

type vertex struct {
	key     vkey
	rl      *packet.RouterLSA
	nl      *packet.NetworkLSA
	adv     ID // advertising router of a network LSA
	dist    uint32
	nhs     []NextHop
	direct  *iface // a network attached to the root
	inTree  bool
	heapIdx int
}

type vheap []*vertex

func (h vheap) Len() int { return len(h) }
func (h vheap) Less(i, j int) bool {
	if h[i].dist != h[j].dist {
		return h[i].dist < h[j].dist
	}
	return h[i].key.t < h[j].key.t
}
func (h vheap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *vheap) Push(x any) {
	v := x.(*vertex)
	v.heapIdx = len(*h)
	*h = append(*h, v)
}
func (h *vheap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	v.heapIdx = -1
	return v
}

// runSPF recomputes the routing table (RFC 2328 16) and reports changes.
func (c *Core) runSPF() {
	c.lastSPF = c.now
	c.spfRuns++
	rt := &routingTable{nets: make(map[netip.Prefix]*Route, len(c.routes)), routers: map[ID][]*routerRoute{}}
	active := c.activeAreas()
	for _, a := range active {
		a.spfRuns++
		c.spfArea(a, rt)
	}
	// Inter-area routes: an ABR looks at the backbone's summaries only
	// (or, without an active backbone, at every area's).
	examine := active
	if len(active) > 1 {
		for _, a := range active {
			if a.id == Backbone {
				examine = []*area{a}
				break
			}
		}
	}
	for _, a := range examine {
		c.interArea(a, rt)
	}
	c.externalRoutes(rt)
	c.rt = rt
	ptrs := make([]*Route, 0, len(rt.nets))
	for _, r := range rt.nets {
		r.NextHops = c.limitPaths(r.NextHops)
		ptrs = append(ptrs, r)
	}
	slices.SortFunc(ptrs, func(a, b *Route) int { return comparePrefix(a.Prefix, b.Prefix) })
	routes := make([]Route, len(ptrs))
	for k, r := range ptrs {
		routes[k] = *r
	}
	if !c.sentAny || !routesEqual(routes, c.routes) {
		c.sentAny = true
		c.routes = routes
		c.emit(RoutesChanged{Routes: slices.Clone(routes)})
	}
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func routesEqual(a, b []Route) bool {
	return slices.EqualFunc(a, b, func(x, y Route) bool {
		return x.Prefix == y.Prefix && x.Type == y.Type && x.Area == y.Area && x.Cost == y.Cost &&
			x.ForwardCost == y.ForwardCost && x.Tag == y.Tag && x.AdvRouter == y.AdvRouter &&
			x.Transit == y.Transit && x.Direct == y.Direct && slices.Equal(x.NextHops, y.NextHops)
	})
}

func (c *Core) limitPaths(nhs []NextHop) []NextHop {
	if len(nhs) > c.cfg.MaxPaths {
		return nhs[:c.cfg.MaxPaths]
	}
	return nhs
}

func sortNextHops(nhs []NextHop) []NextHop {
	slices.SortFunc(nhs, func(a, b NextHop) int {
		if c := cmp.Compare(a.Iface, b.Iface); c != 0 {
			return c
		}
		return a.Gateway.Compare(b.Gateway)
	})
	return slices.Compact(nhs)
}

func mergeNextHops(a, b []NextHop) []NextHop {
	return sortNextHops(append(slices.Clone(a), b...))
}

// spfArea builds the shortest-path tree of one area (RFC 2328 16.1) and
// adds its intra-area routes and router paths to rt.
func (c *Core) spfArea(a *area, rt *routingTable) {
	rid := c.cfg.RouterID
	// Network LSAs by link state ID (transit links name the DR's address).
	nets := map[ID]*lsaEntry{}
	for k, e := range a.db {
		if k.Type != packet.LSANetwork || e.maxAge(c.now) {
			continue
		}
		if old := nets[k.ID]; old == nil || e.lsa.Seq > old.lsa.Seq {
			nets[k.ID] = e
		}
	}
	routerLSA := func(id ID) *packet.RouterLSA {
		if id == rid {
			return nil
		}
		e := a.db[lsaKey{Type: packet.LSARouter, ID: id, AdvRouter: id}]
		if e == nil || e.maxAge(c.now) {
			return nil
		}
		rl, _ := e.lsa.Body.(*packet.RouterLSA)
		return rl
	}
	verts := make(map[vkey]*vertex, len(a.db))
	root := &vertex{key: vkey{vRouter, rid}, rl: c.routerBody(a)}
	verts[root.key] = root
	h := &vheap{}
	heap.Push(h, root)
	var tree []*vertex
	for h.Len() > 0 {
		v := heap.Pop(h).(*vertex)
		v.inTree = true
		tree = append(tree, v)
		relax := func(wk vkey, cost uint32, mk func() *vertex, link packet.RouterLink) {
			w := verts[wk]
			if w != nil && w.inTree {
				return
			}
			fresh := w == nil
			if fresh {
				w = mk()
				w.key = wk
			}
			nhs, direct := c.nextHops(a, root, v, w, link)
			if len(nhs) == 0 {
				return
			}
			switch {
			case fresh:
				w.dist, w.nhs, w.direct = cost, nhs, direct
				verts[wk] = w
				heap.Push(h, w)
			case cost < w.dist:
				w.dist, w.nhs, w.direct = cost, nhs, direct
				heap.Fix(h, w.heapIdx)
			case cost == w.dist:
				w.nhs = mergeNextHops(w.nhs, nhs)
				if direct != nil {
					w.direct = direct
				}
			}
		}
		if v.key.t == vRouter {
			for _, l := range v.rl.Links {
				switch l.Type {
				case packet.LinkPointToPoint:
					wrl := routerLSA(l.ID)
					if wrl == nil || !linksBack(wrl, packet.LinkPointToPoint, v.key.id) {
						continue
					}
					relax(vkey{vRouter, l.ID}, v.dist+uint32(l.Metric), func() *vertex { return &vertex{rl: wrl} }, l)
				case packet.LinkTransit:
					ne := nets[l.ID]
					if ne == nil {
						continue
					}
					nl, _ := ne.lsa.Body.(*packet.NetworkLSA)
					if nl == nil || !slices.Contains(nl.Routers, v.key.id) {
						continue
					}
					relax(vkey{vNetwork, l.ID}, v.dist+uint32(l.Metric),
						func() *vertex { return &vertex{nl: nl, adv: ne.lsa.AdvRouter} }, l)
				}
			}
			continue
		}
		// A network vertex: its attached routers, at no cost.
		for _, r := range v.nl.Routers {
			var wrl *packet.RouterLSA
			if r == rid {
				wrl = root.rl
			} else {
				wrl = routerLSA(r)
			}
			if wrl == nil || !linksBack(wrl, packet.LinkTransit, v.key.id) {
				continue
			}
			relax(vkey{vRouter, r}, v.dist, func() *vertex { return &vertex{rl: wrl} }, packet.RouterLink{})
		}
	}
	// Transit networks and router paths.
	for _, v := range tree {
		switch v.key.t {
		case vNetwork:
			bits, ok := packet.MaskBits(v.nl.Mask)
			if !ok {
				continue
			}
			p := netip.PrefixFrom(v.key.id.Addr(), bits).Masked()
			addIntra(rt, &Route{Prefix: p, Type: IntraArea, Area: a.id, Cost: v.dist, AdvRouter: v.adv,
				Transit: true, Direct: v.direct != nil, NextHops: v.nhs})
		case vRouter:
			if v == root {
				continue
			}
			if v.rl.Flags&(packet.RouterB|packet.RouterE) != 0 {
				rt.routers[v.key.id] = append(rt.routers[v.key.id], &routerRoute{id: v.key.id, area: a.id, cost: v.dist,
					nhs: v.nhs, abr: v.rl.Flags&packet.RouterB != 0, asbr: v.rl.Flags&packet.RouterE != 0})
			}
		}
	}
	// Stub networks (RFC 2328 16.1 second stage).
	for _, v := range tree {
		if v.key.t != vRouter {
			continue
		}
		for _, l := range v.rl.Links {
			if l.Type != packet.LinkStub {
				continue
			}
			bits, ok := packet.MaskBits(l.Data)
			if !ok {
				continue
			}
			p := netip.PrefixFrom(l.ID.Addr(), bits).Masked()
			r := &Route{Prefix: p, Type: IntraArea, Area: a.id, Cost: v.dist + uint32(l.Metric), AdvRouter: v.key.id}
			if v == root {
				i := c.stubIface(a, p, l.ID)
				if i == nil {
					continue
				}
				r.Direct = true
				r.NextHops = []NextHop{{Iface: i.cfg.Name}}
			} else {
				r.NextHops = v.nhs
			}
			addIntra(rt, r)
		}
	}
}

// linksBack reports whether a router LSA has a link of type t to id.
func linksBack(rl *packet.RouterLSA, t packet.LinkType, id ID) bool {
	for _, l := range rl.Links {
		if l.Type == t && l.ID == id {
			return true
		}
	}
	return false
}

// stubIface is the interface of one of the root's stub links.
func (c *Core) stubIface(a *area, p netip.Prefix, linkID ID) *iface {
	for _, i := range c.sortedIfaces(a) {
		if i.state == IfDown {
			continue
		}
		if i.cfg.Prefix.Masked() == p || i.addrID() == linkID && p.Bits() == 32 {
			return i
		}
	}
	return nil
}

// ifaceByAddr is the up interface of area a with address addr.
func (c *Core) ifaceByAddr(a *area, addr ID) *iface {
	for _, i := range a.ifaces {
		if i.state != IfDown && i.addrID() == addr {
			return i
		}
	}
	return nil
}

// nextHops is RFC 2328 16.1.1: the next hops of w reached from v, and
// the interface when w is a network attached to the root.
func (c *Core) nextHops(a *area, root, v, w *vertex, link packet.RouterLink) ([]NextHop, *iface) {
	switch {
	case v == root:
		i := c.ifaceByAddr(a, link.Data)
		if i == nil {
			return nil, nil
		}
		if w.key.t == vNetwork {
			return []NextHop{{Iface: i.cfg.Name}}, i
		}
		// A point-to-point neighbour: its address from the Hellos, else
		// the interface address it gives for its link back.
		for _, n := range i.sortedNbrs() {
			if n.id == w.key.id {
				return []NextHop{{Iface: i.cfg.Name, Gateway: n.addr}}, nil
			}
		}
		for _, l := range w.rl.Links {
			if l.Type == packet.LinkPointToPoint && l.ID == c.cfg.RouterID {
				return []NextHop{{Iface: i.cfg.Name, Gateway: l.Data.Addr()}}, nil
			}
		}
		return nil, nil
	case v.key.t == vNetwork && v.direct != nil:
		// Across a network attached to the root: the router's address
		// there; equal-cost paths through other routers are kept.
		var out []NextHop
		for _, nh := range v.nhs {
			if nh.Gateway.IsValid() {
				out = append(out, nh)
			}
		}
		for _, l := range w.rl.Links {
			if l.Type == packet.LinkTransit && l.ID == v.key.id {
				out = append(out, NextHop{Iface: v.direct.cfg.Name, Gateway: l.Data.Addr()})
				break
			}
		}
		return sortNextHops(out), nil
	}
	// Next-hop slices are never modified once built: sharing is safe.
	return v.nhs, nil
}

// addIntra adds an intra-area route, keeping the cheapest (equal costs
// merge their next hops; a transit network beats a stub at equal cost).
func addIntra(rt *routingTable, r *Route) {
	if len(r.NextHops) == 0 {
		return
	}
	old := rt.nets[r.Prefix]
	switch {
	case old == nil || r.Cost < old.Cost:
		rt.nets[r.Prefix] = r
	case r.Cost == old.Cost:
		if old.Direct || r.Direct {
			old.Direct = true
			old.NextHops = directOnly(mergeNextHops(old.NextHops, r.NextHops))
			return
		}
		old.NextHops = mergeNextHops(old.NextHops, r.NextHops)
		old.Transit = old.Transit || r.Transit
	}
}

func directOnly(nhs []NextHop) []NextHop {
	return slices.DeleteFunc(nhs, func(n NextHop) bool { return n.Gateway.IsValid() })
}

// interArea is RFC 2328 16.2 over the summary LSAs of area a.
func (c *Core) interArea(a *area, rt *routingTable) {
	rid := c.cfg.RouterID
	for _, k := range sortedKeys(a.db) {
		if k.Type != packet.LSASummary && k.Type != packet.LSAASBRSummary {
			continue
		}
		e := a.db[k]
		s, _ := e.lsa.Body.(*packet.SummaryLSA)
		if s == nil || e.maxAge(c.now) || s.Metric >= packet.LSInfinity || k.AdvRouter == rid {
			continue
		}
		var br *routerRoute
		for _, r := range rt.routers[k.AdvRouter] {
			if r.area == a.id && !r.inter && r.abr {
				br = r
			}
		}
		if br == nil {
			continue
		}
		cost := br.cost + s.Metric
		if k.Type == packet.LSAASBRSummary {
			intra := false
			for _, r := range rt.routers[k.ID] {
				if !r.inter {
					intra = true
				}
			}
			if intra || k.ID == rid {
				continue
			}
			var cur *routerRoute
			for _, r := range rt.routers[k.ID] {
				if r.inter && r.area == a.id {
					cur = r
				}
			}
			switch {
			case cur == nil:
				rt.routers[k.ID] = append(rt.routers[k.ID], &routerRoute{id: k.ID, area: a.id, cost: cost, nhs: br.nhs, asbr: true, inter: true})
			case cost < cur.cost:
				cur.cost, cur.nhs = cost, br.nhs
			case cost == cur.cost:
				cur.nhs = mergeNextHops(cur.nhs, br.nhs)
			}
			continue
		}
		bits, ok := packet.MaskBits(s.Mask)
		if !ok {
			continue
		}
		p := netip.PrefixFrom(k.ID.Addr(), bits).Masked()
		old := rt.nets[p]
		if old != nil && old.Type == IntraArea {
			continue
		}
		r := &Route{Prefix: p, Type: InterArea, Area: a.id, Cost: cost, AdvRouter: k.AdvRouter, NextHops: br.nhs}
		switch {
		case old == nil || cost < old.Cost:
			rt.nets[p] = r
		case cost == old.Cost:
			old.NextHops = mergeNextHops(old.NextHops, r.NextHops)
		}
	}
}

// externalRoutes is RFC 2328 16.4.
func (c *Core) externalRoutes(rt *routingTable) {
	rid := c.cfg.RouterID
	for _, k := range sortedKeys(c.ext) {
		e := c.ext[k]
		x, _ := e.lsa.Body.(*packet.ExternalLSA)
		if x == nil || e.maxAge(c.now) || x.Metric >= packet.LSInfinity || k.AdvRouter == rid {
			continue
		}
		asbr := rt.bestRouter(k.AdvRouter)
		if asbr == nil || !asbr.asbr {
			continue
		}
		bits, ok := packet.MaskBits(x.Mask)
		if !ok {
			continue
		}
		p := netip.PrefixFrom(k.ID.Addr(), bits).Masked()
		dist, nhs := asbr.cost, asbr.nhs
		if x.Forward != 0 {
			fr := lookupInternal(rt, x.Forward.Addr())
			if fr == nil {
				continue
			}
			if c.ownAddress(x.Forward.Addr()) {
				continue
			}
			dist = fr.Cost
			nhs = nil
			for _, nh := range fr.NextHops {
				if !nh.Gateway.IsValid() {
					nh.Gateway = x.Forward.Addr()
				}
				nhs = append(nhs, nh)
			}
			nhs = sortNextHops(nhs)
		}
		if len(nhs) == 0 {
			continue
		}
		r := &Route{Prefix: p, Type: External1, Cost: dist + x.Metric, ForwardCost: dist, Tag: x.Tag,
			AdvRouter: k.AdvRouter, NextHops: nhs}
		if x.Type2 {
			r.Type, r.Cost = External2, x.Metric
		}
		old := rt.nets[p]
		if old != nil && !old.Type.External() {
			continue
		}
		switch {
		case old == nil || betterExtRoute(r, old):
			rt.nets[p] = r
		case r.Type == old.Type && r.Cost == old.Cost && r.ForwardCost == old.ForwardCost:
			old.NextHops = mergeNextHops(old.NextHops, r.NextHops)
		}
	}
}

func betterExtRoute(a, b *Route) bool {
	if a.Type != b.Type {
		return a.Type < b.Type
	}
	if a.Cost != b.Cost {
		return a.Cost < b.Cost
	}
	return a.ForwardCost < b.ForwardCost
}

// lookupInternal is the longest intra- or inter-area match of addr.
func lookupInternal(rt *routingTable, addr netip.Addr) *Route {
	var best *Route
	for p, r := range rt.nets {
		if r.Type.External() || !p.Contains(addr) {
			continue
		}
		if best == nil || p.Bits() > best.Prefix.Bits() {
			best = r
		}
	}
	return best
}

func (c *Core) ownAddress(a netip.Addr) bool {
	for _, i := range c.ifaces {
		if i.cfg.Prefix.Addr() == a {
			return true
		}
	}
	return false
}
