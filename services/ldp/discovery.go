package ldp

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"vpnos/services/ldp/packet"
)

// Basic discovery (RFC 5036 section 2.4.1): link Hellos on every running
// LDP interface, and one adjacency per (interface, peer LSR ID), kept while
// Hellos arrive within the negotiated hold time.

// sendDueHellos sends the Hellos whose time has come.
func (c *Core) sendDueHellos() {
	for _, name := range slices.Sorted(maps.Keys(c.ifaces)) {
		s := c.ifaces[name]
		if !s.running || c.now.Before(s.nextHello) {
			continue
		}
		hold := c.cfg.helloHold(s.cfg)
		h := &packet.Hello{
			MsgID:         c.nextMsgID(),
			HoldTime:      uint16(hold / time.Second),
			TransportAddr: c.cfg.LSRID,
		}
		c.emit(SendHello{Interface: name, Src: s.primary(), Data: packet.AppendPDU(nil, c.ldpID(), h)})
		c.stats.HellosSent++
		// The Hello interval is a third of the hold time, as VRP's
		// hello-send default.
		s.nextHello = c.now.Add(hold / 3)
	}
}

// helloHoldOf is a Hello hold time in seconds as a duration (0: infinite).
func helloHoldOf(v uint16) time.Duration {
	switch v {
	case 0:
		return defaultPeerHelloHold
	case 0xffff:
		return 0
	}
	return time.Duration(v) * time.Second
}

func (c *Core) helloReceived(e HelloReceived) {
	s := c.ifaces[e.Interface]
	if s == nil || !s.running {
		c.stats.HellosDropped++
		return
	}
	pdu, err := packet.DecodePDU(e.Data, 0)
	if err != nil || len(pdu.Messages) != 1 {
		c.stats.HellosDropped++
		return
	}
	h, ok := pdu.Messages[0].(*packet.Hello)
	id := pdu.ID.LSRID
	// Own Hellos, other label spaces and targeted Hellos are not ours to
	// answer.
	if !ok || !id.Is4() || id == c.cfg.LSRID || pdu.ID.Space != 0 || h.Targeted {
		c.stats.HellosDropped++
		return
	}
	transport := h.TransportAddr
	if !transport.IsValid() {
		transport = e.Src
	}
	if !transport.Is4() || transport == c.cfg.LSRID || transport.IsUnspecified() {
		c.stats.HellosDropped++
		return
	}
	p := c.peers[id]
	if p != nil && p.transport != transport {
		// A second transport address for one LSR: keep the first.
		c.stats.HellosDropped++
		return
	}
	c.stats.HellosReceived++
	if p == nil {
		p = &peer{
			id:        id,
			transport: transport,
			adjs:      map[string]*adjacency{},
			active:    c.cfg.LSRID.Compare(transport) > 0,
			addrs:     map[netip.Addr]bool{},
			recv:      map[netip.Prefix]uint32{},
			sent:      map[netip.Prefix]uint32{},
			withdrawn: map[fecLabel]bool{},
		}
		c.peers[id] = p
		c.peerOrder = nil
	}
	// Hold time: the smaller of the two proposals (0 asks for the default,
	// 0xffff is infinite).
	hold := c.cfg.helloHold(s.cfg)
	if theirs := helloHoldOf(h.HoldTime); theirs != 0 && theirs < hold {
		hold = theirs
	}
	a := p.adjs[e.Interface]
	if a == nil {
		a = &adjacency{iface: e.Interface, created: c.now}
		p.adjs[e.Interface] = a
		// A new neighbour hears from us at once rather than within a
		// third of the hold time: when we are the active side, our Hello
		// then reaches it before our Init (which it would otherwise
		// reject with "no Hello", and the session would wait out the 15 s
		// backoff).
		s.nextHello = c.now
		c.sendDueHellos()
	}
	a.src, a.transport, a.hold = e.Src, transport, hold
	a.expires = c.now.Add(hold)
	a.received++
	if a.received == 1 {
		c.releaseHeld(p)
	}
	c.maybeDial(p)
}

// maybeDial opens the session's TCP connection when this router is the
// active side (its transport address is the higher) and the backoff allows.
func (c *Core) maybeDial(p *peer) {
	if !p.active || p.state != NonExistent || p.dialing || len(p.adjs) == 0 || c.now.Before(p.nextAttempt) {
		return
	}
	p.dialing = true
	p.awaitRoute = false
	p.attempts++
	c.emit(Dial{Peer: p.id, Local: c.cfg.LSRID, Remote: p.transport, Attempt: p.attempts})
}

// routeToPeers retries at once, when the route to its transport address
// appeared or changed (touched holds the changed prefixes), the session of
// an active peer whose TCP connection failed or is still being opened: the
// usual case is an IGP that converges a moment after the Hellos are heard,
// so the first SYN had no route. A session whose initialization failed
// keeps its backoff (RFC 5036 section 2.5.3).
func (c *Core) routeToPeers(touched map[netip.Prefix]bool) {
	if len(touched) == 0 {
		return
	}
	for _, p := range c.sortedPeers() {
		if !p.active || p.state != NonExistent || len(p.adjs) == 0 || !(p.dialing || p.awaitRoute) {
			continue
		}
		if !coveredBy(p.transport, touched) {
			continue
		}
		if _, ok := c.routeTo(p.transport); !ok {
			continue
		}
		// A pending connection is superseded (its SYN may have gone out
		// before the route and wait for a retransmission).
		p.dialing = false
		p.connBackoff = 0
		p.nextAttempt = c.now
		c.maybeDial(p)
	}
}

// coveredBy reports whether some prefix of set contains a.
func coveredBy(a netip.Addr, set map[netip.Prefix]bool) bool {
	for bits := a.BitLen(); bits >= 0; bits-- {
		if pfx, err := a.Prefix(bits); err == nil && set[pfx] {
			return true
		}
	}
	return false
}

// routeTo is the longest-match route to a in the routing table.
func (c *Core) routeTo(a netip.Addr) (Route, bool) {
	for bits := a.BitLen(); bits >= 0; bits-- {
		pfx, err := a.Prefix(bits)
		if err != nil {
			break
		}
		if r, ok := c.routes[pfx]; ok {
			return r, true
		}
	}
	return Route{}, false
}

// removePeer ends the session with a peer (Notification with code) and
// forgets it.
func (c *Core) removePeer(p *peer, code packet.StatusCode, reason string) {
	c.closeSession(p, &packet.Status{Code: code}, reason)
	delete(c.peers, p.id)
	c.peerOrder = nil
}
