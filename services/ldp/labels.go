package ldp

import (
	"maps"
	"net/netip"
	"slices"

	"vpnos/services/ldp/packet"
)

// Label distribution: downstream unsolicited, liberal retention, ordered
// control (RFC 5036 sections 2.6 and A.1).
//
//   - Every label a peer maps is kept (liberal retention), whether or not
//     the peer is a next hop of the FEC.
//   - A FEC gets a local label, advertised to every operational peer, when
//     this router is its egress (the route has no gateway and lsp-trigger
//     selects it: implicit null, explicit null or a dynamic label as `label
//     advertise` says), or when some IGP next hop of its route belongs to a
//     peer that mapped it (ordered control; transit).
//   - The LSP follows the route: its next hops are the route's next hops
//     whose peer mapped the FEC (ECMP gives several). A route change moves
//     it; a lost mapping withdraws the local label upstream once no next
//     hop is left.

type fec struct {
	prefix    netip.Prefix
	local     uint32
	allocated bool // local came from the allocator
	egress    bool
	ingress   bool
	hops      []Hop
}

func (c *Core) routesChanged(e RoutesChanged) {
	touched := map[netip.Prefix]bool{}
	if e.Full {
		keep := map[netip.Prefix]bool{}
		for _, r := range e.Set {
			keep[r.Prefix.Masked()] = true
		}
		for pfx := range c.routes {
			if !keep[pfx] {
				delete(c.routes, pfx)
				touched[pfx] = true
			}
		}
	}
	for _, r := range e.Set {
		r.Prefix = r.Prefix.Masked()
		if old, ok := c.routes[r.Prefix]; ok && old.equal(r) {
			continue
		}
		r.NextHops = slices.Clone(r.NextHops)
		c.routes[r.Prefix] = r
		touched[r.Prefix] = true
	}
	for _, pfx := range e.Delete {
		pfx = pfx.Masked()
		if _, ok := c.routes[pfx]; ok {
			delete(c.routes, pfx)
			touched[pfx] = true
		}
	}
	for _, pfx := range sortedPrefixes(maps.Keys(touched)) {
		c.recompute(pfx)
	}
	c.routeToPeers(touched)
}

// recomputeAll reconsiders every FEC (configuration or interface change).
func (c *Core) recomputeAll() {
	set := map[netip.Prefix]bool{}
	for pfx := range c.routes {
		set[pfx] = true
	}
	for pfx := range c.fecs {
		set[pfx] = true
	}
	for _, pfx := range sortedPrefixes(maps.Keys(set)) {
		c.recompute(pfx)
	}
}

// recomputeVia reconsiders the routes with a next hop among addrs.
func (c *Core) recomputeVia(addrs map[netip.Addr]bool) {
	var touched []netip.Prefix
	for pfx, r := range c.routes {
		for _, nh := range r.NextHops {
			if addrs[nh.Gateway] {
				touched = append(touched, pfx)
				break
			}
		}
	}
	slices.SortFunc(touched, comparePrefix)
	for _, pfx := range touched {
		c.recompute(pfx)
	}
}

// downstream returns the next hops of a route whose peer mapped the FEC.
func (c *Core) downstream(pfx netip.Prefix, r Route) []Hop {
	var hops []Hop
	for _, nh := range r.NextHops {
		if !nh.Gateway.IsValid() {
			continue
		}
		// Labelled packets only leave through an LDP interface (so a
		// recursive next hop, without an interface, makes no LSP).
		if s := c.ifaceByName(nh.Interface); nh.Interface == "" || s == nil || !s.running {
			continue
		}
		p := c.addrOwner[nh.Gateway]
		if p == nil || p.state != Operational {
			continue
		}
		l, ok := p.recv[pfx]
		if !ok {
			continue
		}
		hops = append(hops, Hop{Gateway: nh.Gateway, Interface: nh.Interface, Peer: p.id, Out: l})
	}
	return hops
}

// recompute brings one FEC up to date: its local label (advertised or
// withdrawn) and its LSP.
func (c *Core) recompute(pfx netip.Prefix) {
	c.changed = append(c.changed, pfx)
	var egress, ingress bool
	var hops []Hop
	if r, ok := c.routes[pfx]; ok && c.cfg.Enabled && pfx.Addr().Is4() {
		selected := c.cfg.Trigger.Selects(pfx)
		if r.egress() {
			egress = selected
		} else {
			hops = c.downstream(pfx, r)
			ingress = selected && len(hops) > 0
		}
	}
	f := c.fecs[pfx]
	if f == nil {
		if !egress && len(hops) == 0 {
			return
		}
		f = &fec{prefix: pfx, local: NoLabel}
		c.fecs[pfx] = f
	}
	local, allocated := NoLabel, false
	switch {
	case egress && c.cfg.Advertise == AdvertiseImplicitNull:
		local = packet.LabelImplicitNull
	case egress && c.cfg.Advertise == AdvertiseExplicitNull:
		local = packet.LabelIPv4ExplicitNull
	case egress || len(hops) > 0:
		if f.allocated {
			local, allocated = f.local, true
		} else if l, err := c.alloc.Allocate(); err == nil {
			local, allocated = l, true
		}
	}
	if local != f.local {
		c.withdrawLocal(f)
		f.local, f.allocated = local, allocated
		if local != NoLabel {
			for _, p := range c.sortedPeers() {
				c.advertise(p, f)
			}
		}
	}
	f.egress, f.ingress, f.hops = egress, ingress, hops
	if f.local == NoLabel && !egress && len(hops) == 0 {
		delete(c.fecs, pfx)
	}
}

// advertise sends the FEC's local label to one peer.
func (c *Core) advertise(p *peer, f *fec) {
	if p.state != Operational || f.local == NoLabel {
		return
	}
	c.queue(p, &packet.LabelMapping{MsgID: c.nextMsgID(), FEC: packet.FECOf(f.prefix), Label: f.local})
	p.sent[f.prefix] = f.local
}

// advertiseAll sends every local label to a peer that just became
// operational.
func (c *Core) advertiseAll(p *peer) {
	for _, pfx := range sortedPrefixes(maps.Keys(c.fecs)) {
		c.advertise(p, c.fecs[pfx])
	}
}

// withdrawLocal withdraws the FEC's local label from every peer it was
// sent to. An allocated label is freed once every Label Release is in.
func (c *Core) withdrawLocal(f *fec) {
	if f.local == NoLabel {
		return
	}
	pending := 0
	for _, p := range c.sortedPeers() {
		l, ok := p.sent[f.prefix]
		if !ok || l != f.local || p.state != Operational {
			continue
		}
		delete(p.sent, f.prefix)
		c.queue(p, &packet.LabelWithdraw{MsgID: c.nextMsgID(), FEC: packet.FECOf(f.prefix), Label: l, HasLabel: true})
		if !p.withdrawn[fecLabel{f.prefix, l}] {
			p.withdrawn[fecLabel{f.prefix, l}] = true
			pending++
		}
	}
	if f.allocated {
		if pending == 0 {
			c.alloc.Free(f.local)
		} else {
			c.pendingFree[f.local] += pending
		}
	}
	f.local, f.allocated = NoLabel, false
}

// released notes one Label Release (or a session gone) for a withdrawn
// label.
func (c *Core) released(label uint32) {
	n, ok := c.pendingFree[label]
	if !ok {
		return
	}
	if n <= 1 {
		delete(c.pendingFree, label)
		c.alloc.Free(label)
		return
	}
	c.pendingFree[label] = n - 1
}

// peerDown forgets what a peer advertised and what it was sent; the FECs
// that went through it are recomputed. The session state is already
// NonExistent.
func (c *Core) peerDown(p *peer) {
	for fl := range p.withdrawn {
		c.released(fl.label)
	}
	for a := range p.addrs {
		if c.addrOwner[a] == p {
			delete(c.addrOwner, a)
		}
	}
	var touched []netip.Prefix
	for pfx, f := range c.fecs {
		for _, h := range f.hops {
			if h.Peer == p.id {
				touched = append(touched, pfx)
				break
			}
		}
	}
	p.addrs = map[netip.Addr]bool{}
	p.recv = map[netip.Prefix]uint32{}
	p.sent = map[netip.Prefix]uint32{}
	p.withdrawn = map[fecLabel]bool{}
	p.out = nil
	p.kaSent, p.kaRcvd = 0, 0
	slices.SortFunc(touched, comparePrefix)
	for _, pfx := range touched {
		c.recompute(pfx)
	}
}

func (c *Core) addressMessage(p *peer, m *packet.Address) {
	if m.Family != packet.AFIPv4 {
		return
	}
	set := map[netip.Addr]bool{}
	for _, a := range m.Addrs {
		if !a.Is4() {
			continue
		}
		set[a] = true
		if m.Withdraw {
			delete(p.addrs, a)
			if c.addrOwner[a] == p {
				delete(c.addrOwner, a)
			}
		} else {
			p.addrs[a] = true
			c.addrOwner[a] = p
		}
	}
	c.recomputeVia(set)
}

func (c *Core) labelMapping(p *peer, m *packet.LabelMapping) {
	for _, pfx := range m.FEC.Prefixes {
		if !pfx.Addr().Is4() {
			continue
		}
		if old, ok := p.recv[pfx]; ok && old != m.Label {
			// A new label replaces the old one, which goes back.
			c.queue(p, &packet.LabelRelease{MsgID: c.nextMsgID(), FEC: packet.FECOf(pfx), Label: old, HasLabel: true})
		}
		p.recv[pfx] = m.Label
		c.recompute(pfx)
	}
}

func (c *Core) labelWithdraw(p *peer, m *packet.LabelWithdraw) {
	prefixes := m.FEC.Prefixes
	if m.FEC.Wildcard {
		prefixes = sortedPrefixes(maps.Keys(p.recv))
	}
	for _, pfx := range prefixes {
		l, ok := p.recv[pfx]
		if !ok || (m.HasLabel && m.Label != l) {
			continue
		}
		delete(p.recv, pfx)
		c.recompute(pfx)
	}
	// Every withdraw is answered by a release of the same FEC and label.
	c.queue(p, &packet.LabelRelease{MsgID: c.nextMsgID(), FEC: m.FEC, Label: m.Label, HasLabel: m.HasLabel})
}

func (c *Core) labelRelease(p *peer, m *packet.LabelRelease) {
	match := func(pfx netip.Prefix, l uint32) bool {
		return (m.FEC.Wildcard || slices.Contains(m.FEC.Prefixes, pfx)) && (!m.HasLabel || m.Label == l)
	}
	for fl := range p.withdrawn {
		if match(fl.prefix, fl.label) {
			delete(p.withdrawn, fl)
			c.released(fl.label)
		}
	}
	// A release of a label still advertised: the peer does not want it.
	for pfx, l := range p.sent {
		if match(pfx, l) {
			delete(p.sent, pfx)
		}
	}
}

func (c *Core) labelRequest(p *peer, m *packet.LabelRequest) {
	for _, pfx := range m.FEC.Prefixes {
		f := c.fecs[pfx]
		if f == nil || f.local == NoLabel {
			c.queue(p, &packet.Notification{MsgID: c.nextMsgID(),
				Status: packet.Status{Code: packet.StatusNoRoute, MsgID: m.MsgID, MsgType: packet.MsgLabelRequest}})
			c.stats.NotificationsSent++
			continue
		}
		c.queue(p, &packet.LabelMapping{MsgID: c.nextMsgID(), FEC: packet.FECOf(pfx), Label: f.local,
			RequestID: m.MsgID, HasRequestID: true})
		p.sent[pfx] = f.local
	}
}

// lspOf returns the LSP of a FEC, if it has one; its NextHops share the
// FEC's slice (clone before keeping it).
func lspOf(f *fec) (LSP, bool) {
	if f == nil {
		return LSP{}, false
	}
	l := LSP{FEC: f.prefix, Local: f.local, Egress: f.egress, Ingress: f.ingress, NextHops: f.hops}
	if f.egress {
		return l, true
	}
	if len(f.hops) > 0 && (f.ingress || f.local != NoLabel) {
		return l, true
	}
	return LSP{}, false
}

// flushLSPs reports the LSPs that changed during the step.
func (c *Core) flushLSPs() {
	if len(c.changed) == 0 {
		return
	}
	var ch LSPsChanged
	order := c.changed
	if len(order) > 1 {
		slices.SortFunc(order, comparePrefix)
		order = slices.Compact(order)
	}
	for _, pfx := range order {
		l, ok := lspOf(c.fecs[pfx])
		old, had := c.lsps[pfx]
		switch {
		case ok && (!had || !old.Equal(l)):
			l.NextHops = slices.Clone(l.NextHops)
			c.lsps[pfx] = l
			ch.Set = append(ch.Set, l)
		case !ok && had:
			delete(c.lsps, pfx)
			ch.Delete = append(ch.Delete, pfx)
		}
	}
	c.changed = c.changed[:0]
	if len(ch.Set) > 0 || len(ch.Delete) > 0 {
		c.emit(ch)
	}
}
