package core

import (
	"cmp"
	"net/netip"
	"slices"

	"vpnos/services/ospf/packet"
)

// wantLSA is an LSA this router should be originating.
type wantLSA struct {
	area    *area // nil for AS-external LSAs
	key     lsaKey
	options packet.Options
	body    packet.LSABody
}

// desired computes every LSA this router should originate now (RFC 2328
// 12.4): a router LSA per active area, a network LSA per segment where it
// is DR with a full adjacency, summary LSAs when it is an ABR and
// AS-external LSAs for the redistributed routes.
func (c *Core) desired() map[scopedKey]wantLSA {
	rid := c.cfg.RouterID
	want := map[scopedKey]wantLSA{}
	put := func(a *area, w wantLSA) { want[skey(a, w.key)] = w }
	active := c.activeAreas()
	for _, a := range active {
		put(a, wantLSA{area: a, key: lsaKey{Type: packet.LSARouter, ID: rid, AdvRouter: rid},
			options: a.options(), body: c.routerBody(a)})
		for _, i := range c.sortedIfaces(a) {
			if i.state != IfDR || i.cfg.Type != Broadcast || i.cfg.Passive {
				continue
			}
			routers := []ID{rid}
			for _, n := range i.sortedNbrs() {
				if n.state == NbrFull {
					routers = append(routers, n.id)
				}
			}
			if len(routers) == 1 {
				continue
			}
			slices.Sort(routers[1:])
			put(a, wantLSA{area: a, key: lsaKey{Type: packet.LSANetwork, ID: i.addrID(), AdvRouter: rid},
				options: a.options(), body: &packet.NetworkLSA{Mask: packet.MaskID(i.cfg.Prefix.Bits()), Routers: routers}})
		}
	}
	if len(active) > 1 {
		for _, a := range active {
			c.desiredSummaries(a, put)
		}
	}
	if c.isASBR() {
		c.desiredExternals(put)
	}
	return want
}

func (c *Core) sortedIfaces(a *area) []*iface {
	out := slices.Clone(a.ifaces)
	slices.SortFunc(out, func(x, y *iface) int { return cmp.Compare(x.cfg.Name, y.cfg.Name) })
	return out
}

// routerBody is the router LSA of an area as the interfaces are now.
func (c *Core) routerBody(a *area) *packet.RouterLSA {
	r := &packet.RouterLSA{}
	if c.isABR() {
		r.Flags |= packet.RouterB
	}
	if c.isASBR() && !a.cfg.Stub {
		r.Flags |= packet.RouterE
	}
	stub := func(i *iface) packet.RouterLink {
		p := i.cfg.Prefix.Masked()
		return packet.RouterLink{ID: packet.IDFromAddr(p.Addr()), Data: packet.MaskID(p.Bits()), Type: packet.LinkStub, Metric: i.cfg.Cost}
	}
	for _, i := range c.sortedIfaces(a) {
		me := i.addrID()
		switch {
		case i.state == IfDown:
		case i.state == IfLoopback:
			r.Links = append(r.Links, packet.RouterLink{ID: me, Data: 0xffffffff, Type: packet.LinkStub, Metric: 0})
		case i.cfg.Passive:
			r.Links = append(r.Links, stub(i))
		case i.cfg.Type == PointToPoint:
			for _, n := range i.sortedNbrs() {
				if n.state == NbrFull {
					r.Links = append(r.Links, packet.RouterLink{ID: n.id, Data: me, Type: packet.LinkPointToPoint, Metric: i.cfg.Cost})
				}
			}
			r.Links = append(r.Links, stub(i))
		case i.state == IfWaiting:
			r.Links = append(r.Links, stub(i))
		default:
			transit := false
			if i.dr == me {
				for _, n := range i.nbrs {
					if n.state == NbrFull {
						transit = true
						break
					}
				}
			} else if n := i.nbrs[i.dr.Addr()]; n != nil && n.state == NbrFull {
				transit = true
			}
			if transit {
				r.Links = append(r.Links, packet.RouterLink{ID: i.dr, Data: me, Type: packet.LinkTransit, Metric: i.cfg.Cost})
			} else {
				r.Links = append(r.Links, stub(i))
			}
		}
	}
	return r
}

// desiredSummaries are the summary LSAs an ABR originates into area t
// (RFC 2328 12.4.3) from the routing table of the last SPF.
func (c *Core) desiredSummaries(t *area, put func(*area, wantLSA)) {
	rid := c.cfg.RouterID
	opts := t.options()
	if t.cfg.Stub {
		put(t, wantLSA{area: t, key: lsaKey{Type: packet.LSASummary, ID: 0, AdvRouter: rid}, options: opts,
			body: &packet.SummaryLSA{Mask: 0, Metric: t.cfg.DefaultCost}})
		if t.cfg.NoSummary {
			return
		}
	}
	intoT := func(area ID, nhs []NextHop) bool {
		for _, nh := range nhs {
			if i := c.ifaces[nh.Iface]; i != nil && i.area == t {
				return false
			}
		}
		return area != t.id
	}
	var nets []netip.Prefix
	metric := map[netip.Prefix]uint32{}
	for _, r := range c.rt.nets {
		switch r.Type {
		case IntraArea:
		case InterArea:
			if t.id == Backbone {
				continue
			}
		default:
			continue
		}
		if r.Cost >= packet.LSInfinity || !intoT(r.Area, r.NextHops) {
			continue
		}
		if t.cfg.Stub && r.Prefix.Bits() == 0 {
			continue
		}
		nets = append(nets, r.Prefix)
		metric[r.Prefix] = r.Cost
	}
	for p, lsid := range assignIDs(nets) {
		put(t, wantLSA{area: t, key: lsaKey{Type: packet.LSASummary, ID: lsid, AdvRouter: rid}, options: opts,
			body: &packet.SummaryLSA{Mask: packet.MaskID(p.Bits()), Metric: metric[p]}})
	}
	if t.cfg.Stub {
		return
	}
	for _, asbr := range c.rt.asbrs() {
		r := c.rt.bestRouter(asbr)
		if r == nil || r.id == rid || !r.asbr {
			continue
		}
		if r.inter && t.id == Backbone || r.cost >= packet.LSInfinity || !intoT(r.area, r.nhs) {
			continue
		}
		put(t, wantLSA{area: t, key: lsaKey{Type: packet.LSAASBRSummary, ID: asbr, AdvRouter: rid}, options: opts,
			body: &packet.SummaryLSA{Metric: r.cost}})
	}
}

// assignIDs gives each prefix its link state ID: the network address, or
// for the longer of two prefixes sharing an address, that address with
// the host bits set (RFC 2328 appendix E). Prefixes left without an ID
// are not advertised.
func assignIDs(ps []netip.Prefix) map[netip.Prefix]ID {
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	used := map[ID]bool{}
	out := map[netip.Prefix]ID{}
	for _, p := range sorted {
		id := packet.IDFromAddr(p.Addr())
		if used[id] {
			id |= ^packet.MaskID(p.Bits())
			if used[id] {
				continue
			}
		}
		used[id] = true
		out[p] = id
	}
	return out
}

func (c *Core) desiredExternals(put func(*area, wantLSA)) {
	rid := c.cfg.RouterID
	best := map[netip.Prefix]External{}
	var ps []netip.Prefix
	for _, e := range c.externals {
		if !e.Prefix.IsValid() || !e.Prefix.Addr().Is4() {
			continue
		}
		p := e.Prefix.Masked()
		old, ok := best[p]
		if !ok {
			ps = append(ps, p)
		}
		if !ok || betterExternal(e, old) {
			best[p] = e
		}
	}
	for p, lsid := range assignIDs(ps) {
		e := best[p]
		m := e.Metric
		if m >= packet.LSInfinity {
			m = packet.LSInfinity - 1
		}
		var fwd ID
		if e.Forward.Is4() {
			fwd = packet.IDFromAddr(e.Forward)
		}
		put(nil, wantLSA{key: lsaKey{Type: packet.LSAExternal, ID: lsid, AdvRouter: rid}, options: packet.OptE,
			body: &packet.ExternalLSA{Mask: packet.MaskID(p.Bits()), Type2: e.Type2, Metric: m, Forward: fwd, Tag: e.Tag}})
	}
}

func betterExternal(a, b External) bool {
	if a.Type2 != b.Type2 {
		return !a.Type2
	}
	return a.Metric < b.Metric
}

// originate brings the database in line with what this router should
// originate: new and changed LSAs get a new instance (at most one per
// MinLSInterval), refreshes and self-originated LSAs received from others
// get a newer one, and LSAs no longer wanted are flushed.
func (c *Core) originate() {
	rid := c.cfg.RouterID
	if rid == 0 {
		return
	}
	want := c.desired()
	keys := make([]scopedKey, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b scopedKey) int {
		if c := cmp.Compare(a.area, b.area); c != 0 {
			return c
		}
		return cmpKey(a.key, b.key)
	})
	for _, sk := range keys {
		w := want[sk]
		db := c.ext
		if w.area != nil {
			db = w.area.db
		}
		cur := db[w.key]
		force := c.forceOrig[sk]
		if cur != nil && !force && !cur.maxAge(c.now) && cur.lsa.Options == w.options && sameBody(cur.lsa, w.body) {
			continue
		}
		if cur != nil && cur.lsa.Seq == packet.MaxSequenceNumber {
			// The sequence space wraps: flush, and start again once gone.
			if !cur.maxAge(c.now) {
				c.flushLSA(w.area, db, cur)
			}
			continue
		}
		if last, ok := c.lastOrig[sk]; ok && c.now.Sub(last) < c.cfg.MinLSInterval {
			at := last.Add(c.cfg.MinLSInterval)
			if c.origAt.IsZero() || at.Before(c.origAt) {
				c.origAt = at
			}
			continue
		}
		seq := packet.InitialSequenceNumber
		if cur != nil {
			seq = cur.lsa.Seq + 1
		}
		l := packet.NewLSA(packet.LSAHeader{Options: w.options, Type: w.key.Type, ID: w.key.ID, AdvRouter: rid, Seq: seq}, w.body)
		e := c.install(w.area, db, l, false)
		e.own = true
		c.lastOrig[sk] = c.now
		delete(c.forceOrig, sk)
		c.flood(w.area, e, nil, nil)
	}
	// Flush own LSAs nobody wants any more.
	flush := func(a *area, db lsdb) {
		for _, k := range sortedKeys(db) {
			e := db[k]
			if !e.own || e.maxAge(c.now) {
				continue
			}
			if _, ok := want[skey(a, k)]; ok {
				continue
			}
			delete(c.forceOrig, skey(a, k))
			c.flushLSA(a, db, e)
		}
	}
	for _, a := range c.sortedAreas() {
		flush(a, a.db)
	}
	var extArea *area
	for _, a := range c.sortedAreas() {
		if !a.cfg.Stub {
			extArea = a
			break
		}
	}
	flush(extArea, c.ext)
	// Forced entries that are no longer own (a router ID change) go too.
	for sk := range c.forceOrig {
		if _, ok := want[sk]; !ok {
			delete(c.forceOrig, sk)
		}
	}
}

func sameBody(l *packet.LSA, body packet.LSABody) bool {
	n := packet.NewLSA(packet.LSAHeader{Type: l.Type}, body)
	return len(n.Raw) == len(l.Raw) && string(n.Raw[packet.LSAHeaderLen:]) == string(l.Raw[packet.LSAHeaderLen:])
}

// flushLSA prematurely ages an LSA (RFC 2328 14.1): MaxAge, flooded, and
// removed once acknowledged.
func (c *Core) flushLSA(a *area, db lsdb, e *lsaEntry) {
	l := *e.lsa
	l.Age = packet.MaxAge
	l.Raw = e.lsa.WithAge(packet.MaxAge)
	ne := c.install(a, db, &l, false)
	ne.own = e.own
	ne.maxAgeFlooded = true
	c.flood(a, ne, nil, nil)
	c.spfDirty = true
}
