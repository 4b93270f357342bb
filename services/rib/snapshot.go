package rib

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"vpnos/services/fibapi"
)

var zeroAddr = netip.AddrFrom4([4]byte{})

// RouteEntry is one row of a routing table display: one next hop of one
// route (a route with two next hops gives two rows).
type RouteEntry struct {
	Prefix     netip.Prefix
	Protocol   Protocol
	Preference uint32
	Cost       uint32
	Tag        uint32
	// NextHop as configured or learned (own address for a subnet route,
	// 127.0.0.1 for host routes, 0.0.0.0 for NULL0).
	NextHop netip.Addr
	// Interface is the VRP name of the outgoing interface ("" if unresolved).
	Interface string
	// RelayNextHop is the directly connected gateway a recursive next hop
	// resolved to (0.0.0.0 when not recursive).
	RelayNextHop netip.Addr
	Active       bool // selected (best, or one of the equal-cost best)
	Valid        bool // next hop resolved
	Relay        bool // flag R: next hop resolved recursively
	Download     bool // flag D: in the FIB
	ToVPN        bool // flag T: the next hop is in another, VPN, instance
	Blackhole    bool // flag B
	Local        bool // addressed to the router (host routes)
	// Labels are the route's own labels (a VPN label); OutLabels the whole
	// stack pushed on the FIB path (outer first).
	Labels    []uint32
	OutLabels []uint32
	// TunnelOwner and TunnelName name the LSP the traffic takes (its owner,
	// OwnerStatic..., and name; "" for none).
	TunnelOwner, TunnelName string
	Age                     time.Duration
}

// Flags renders the flag letters (R, D, T, B, in the legend's order).
func (e RouteEntry) Flags() string {
	s := ""
	if e.Relay {
		s += "R"
	}
	if e.Download {
		s += "D"
	}
	if e.ToVPN {
		s += "T"
	}
	if e.Blackhole {
		s += "B"
	}
	return s
}

// Snapshot is a copy of one instance's routing table.
type Snapshot struct {
	Instance string
	// Routes: every route, sorted by address, then prefix length, then
	// active first, then protocol.
	Routes []RouteEntry
}

// Counts returns the destination and route counts (over active routes only
// when activeOnly).
func (s Snapshot) Counts(activeOnly bool) (destinations, routes int) {
	var last netip.Prefix
	for _, e := range s.Routes {
		if activeOnly && !e.Active {
			continue
		}
		routes++
		if destinations == 0 || e.Prefix != last {
			destinations++
		}
		last = e.Prefix
	}
	return
}

// Filter returns the snapshot with only the entries keep accepts.
func (s Snapshot) Filter(keep func(RouteEntry) bool) Snapshot {
	out := Snapshot{Instance: s.Instance}
	for _, e := range s.Routes {
		if keep(e) {
			out.Routes = append(out.Routes, e)
		}
	}
	return out
}

// Match keeps the routes of the longest active prefix that contains addr
// (`display ip routing-table <ip>`).
func (s Snapshot) Match(addr netip.Addr) Snapshot {
	best := -1
	var p netip.Prefix
	for _, e := range s.Routes {
		if e.Active && e.Prefix.Contains(addr) && e.Prefix.Bits() > best {
			best, p = e.Prefix.Bits(), e.Prefix
		}
	}
	if best < 0 {
		return Snapshot{Instance: s.Instance}
	}
	return s.Exact(p)
}

// Exact keeps the routes of exactly p (`display ip routing-table <ip> <len>`).
func (s Snapshot) Exact(p netip.Prefix) Snapshot {
	p = p.Masked()
	return s.Filter(func(e RouteEntry) bool { return e.Prefix == p })
}

// Protocols keeps the routes of the given protocols
// (`display ip routing-table protocol static`).
func (s Snapshot) Protocols(ps ...Protocol) Snapshot {
	return s.Filter(func(e RouteEntry) bool { return slices.Contains(ps, e.Protocol) })
}

// Snapshot copies an instance's routing table.
func (r *RIB) Snapshot(instance string) (Snapshot, error) {
	in, err := r.inst(instance)
	if err != nil {
		return Snapshot{}, err
	}
	r.settle()
	now := r.now()
	s := Snapshot{Instance: in.name}
	for _, p := range sortedPrefixes(in.dests) {
		d := in.dests[p]
		var rows []RouteEntry
		for _, rt := range d.routes {
			rows = append(rows, r.entries(d, rt, now)...)
		}
		slices.SortStableFunc(rows, func(a, b RouteEntry) int {
			if a.Active != b.Active {
				if a.Active {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(a.Protocol, b.Protocol); c != 0 {
				return c
			}
			return a.NextHop.Compare(b.NextHop)
		})
		s.Routes = append(s.Routes, rows...)
	}
	return s, nil
}

func vrpName(port string) string {
	if port == "" {
		return InLoopBack0
	}
	return port
}

func (r *RIB) entries(d *dest, rt *route, now time.Time) []RouteEntry {
	active := slices.Contains(d.best, rt)
	base := RouteEntry{
		Prefix:       d.prefix,
		Protocol:     rt.Protocol,
		Preference:   rt.Preference,
		Cost:         rt.Cost,
		Tag:          rt.Tag,
		Active:       active,
		Valid:        rt.valid,
		Relay:        rt.relay,
		Download:     active && d.want.set,
		RelayNextHop: zeroAddr,
		Age:          time.Duration(now.UnixNano() - rt.since),
	}
	if active && d.lsp != nil {
		base.TunnelOwner, base.TunnelName = d.lsp.owner, d.lsp.Name
	}
	switch {
	case rt.direct != nil:
		e := base
		e.NextHop = rt.direct.display
		e.Interface = vrpName(rt.direct.port)
		e.Local = rt.direct.local
		if active && d.want.set && len(d.want.hops) > 0 {
			e.OutLabels = slices.Clone(d.want.hops[0].Labels)
		}
		return []RouteEntry{e}
	case rt.Blackhole:
		e := base
		e.NextHop, e.Interface, e.Blackhole = zeroAddr, Null0, true
		return []RouteEntry{e}
	}
	var out []RouteEntry
	for i, nh := range rt.NextHops {
		e := base
		e.NextHop = nh.Gateway
		e.Labels = slices.Clone(nh.Labels)
		e.ToVPN = nh.Instance != "" && nh.Instance != fibapi.Public && nh.Instance != d.inst.name
		if i < len(rt.paths) {
			p := rt.paths[i]
			e.Valid = p.ok
			e.Blackhole = p.drop
			if p.port != "" {
				e.Interface = vrpName(p.port)
			}
			if p.drop && p.port == "" {
				e.Interface = Null0
			}
			if !nh.Gateway.IsValid() {
				e.NextHop = zeroAddr
				if pt := r.ports[p.port]; pt != nil && len(pt.Addresses) > 0 {
					e.NextHop = pt.Addresses[0].Addr()
				}
			}
			if p.via != nil && len(p.hops) > 0 {
				if g := p.hops[0].Gateway; g.IsValid() {
					e.RelayNextHop = g
				}
			}
			if len(p.hops) > 0 {
				e.OutLabels = slices.Clone(p.hops[0].Labels)
			}
			if p.via != nil && p.via.lsp != nil {
				e.TunnelOwner, e.TunnelName = p.via.lsp.owner, p.via.lsp.Name
			}
			if active && d.lsp != nil && d.want.set && len(d.want.hops) > 0 {
				e.OutLabels = slices.Clone(d.want.hops[0].Labels)
			}
		}
		if !e.Valid {
			e.Download = false
		}
		out = append(out, e)
	}
	return out
}

// LookupResult is the FIB entry that carries traffic to an address.
type LookupResult struct {
	Prefix   netip.Prefix
	Protocol Protocol
	Kind     fibapi.RouteKind
	NextHops []Hop
	// Source is the address of the outgoing interface (the first next hop's),
	// or the destination itself for a local address: the source ping and
	// tracert use when none is given. It is invalid when the route leaves
	// through an interface of another instance.
	Source netip.Addr
}

// Lookup finds the longest-match FIB entry for addr in an instance.
func (r *RIB) Lookup(instance string, addr netip.Addr) (LookupResult, bool) {
	in, err := r.inst(instance)
	if err != nil || !addr.Is4() {
		return LookupResult{}, false
	}
	r.settle()
	d := r.longest(in, addr, nil)
	if d == nil {
		return LookupResult{}, false
	}
	res := LookupResult{Prefix: d.prefix, Protocol: d.best[0].Protocol, Kind: d.want.kind, NextHops: cloneHops(d.want.hops)}
	switch {
	case d.want.kind == fibapi.Local:
		res.Source = addr
	case len(d.want.hops) > 0:
		// A route leaked from another instance leaves through a port of
		// that instance, whose address is not the router's in this one:
		// then no source is suggested.
		if p := r.ports[d.want.hops[0].Interface]; p != nil && len(p.Addresses) > 0 && p.Instance == in.name {
			res.Source = p.Addresses[0].Addr()
		}
	}
	return res, true
}
