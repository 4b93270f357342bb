package core

import (
	"net/netip"
	"slices"
	"time"

	"vpnos/services/ospf/packet"
)

// IfState is an interface state (RFC 2328 9.1).
type IfState uint8

// Interface states.
const (
	IfDown IfState = iota
	IfLoopback
	IfWaiting
	IfPointToPoint
	IfDROther
	IfBackup
	IfDR
)

func (s IfState) String() string {
	return [...]string{"Down", "Loopback", "Waiting", "P-2-P", "DROther", "BDR", "DR"}[s]
}

type ifEvent uint8

const (
	evInterfaceUp ifEvent = iota
	evWaitTimer
	evBackupSeen
	evNeighborChange
	evInterfaceDown
)

// iface is an OSPF interface.
type iface struct {
	cfg   IfaceConfig
	area  *area
	state IfState
	// dr and bdr are the interface addresses of the DR and the BDR.
	dr, bdr ID
	nbrs    map[netip.Addr]*neighbor

	helloAt, waitAt, ackAt time.Time
	delayedAcks            []packet.LSAHeader

	joinedAllSPF, joinedAllDR bool
	stats                     IfStats
	upSince                   time.Time
}

// IfStats count the packets of an interface.
type IfStats struct {
	HelloIn, HelloOut uint64
	DDIn, DDOut       uint64
	LSRIn, LSROut     uint64
	LSUIn, LSUOut     uint64
	AckIn, AckOut     uint64
	Errors            uint64
}

func (i *iface) addrID() ID { return packet.IDFromAddr(i.cfg.Prefix.Addr()) }

func (i *iface) sortedNbrs() []*neighbor {
	out := make([]*neighbor, 0, len(i.nbrs))
	for _, n := range i.nbrs {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *neighbor) int { return a.addr.Compare(b.addr) })
	return out
}

// sends: interfaces that exchange packets (not loopback or passive).
func (i *iface) sends() bool { return !i.cfg.Loopback && !i.cfg.Passive }

// ifaceEvent runs the interface state machine (RFC 2328 9.3).
func (c *Core) ifaceEvent(i *iface, ev ifEvent) {
	old := i.state
	switch ev {
	case evInterfaceUp:
		if i.state != IfDown {
			return
		}
		i.upSince = c.now
		switch {
		case i.cfg.Loopback:
			i.state = IfLoopback
		case i.cfg.Passive:
			// Silent: the network is advertised, no adjacency forms.
			if i.cfg.Type == PointToPoint {
				i.state = IfPointToPoint
			} else {
				i.state = IfDR
				i.dr = i.addrID()
			}
		case i.cfg.Type == PointToPoint:
			i.state = IfPointToPoint
		case i.cfg.Priority == 0:
			i.state = IfDROther
		default:
			i.state = IfWaiting
			i.waitAt = c.now.Add(time.Duration(i.cfg.DeadInterval) * time.Second)
		}
		if i.sends() {
			c.join(i, packet.AllSPFRouters)
			i.helloAt = c.now // the first hello goes out at once
		}
	case evWaitTimer, evBackupSeen:
		if i.state != IfWaiting {
			return
		}
		i.waitAt = time.Time{}
		c.electDR(i)
	case evNeighborChange:
		if i.state != IfDROther && i.state != IfBackup && i.state != IfDR || i.cfg.Passive {
			return
		}
		c.electDR(i)
	case evInterfaceDown:
		if i.state == IfDown {
			return
		}
		for _, n := range i.sortedNbrs() {
			c.nbrEvent(n, evKillNbr)
		}
		i.state = IfDown
		i.dr, i.bdr = 0, 0
		i.helloAt, i.waitAt, i.ackAt = time.Time{}, time.Time{}, time.Time{}
		i.delayedAcks = nil
		c.leave(i, packet.AllDRouters)
		c.leave(i, packet.AllSPFRouters)
		delete(c.floodQ, i)
	}
	if i.state != old {
		c.origDirty = true
		c.spfDirty = true
	}
}

func (c *Core) join(i *iface, g netip.Addr) {
	p := &i.joinedAllSPF
	if g == packet.AllDRouters {
		p = &i.joinedAllDR
	}
	if !*p {
		*p = true
		c.emit(Join{Iface: i.cfg.Name, Group: g})
	}
}

func (c *Core) leave(i *iface, g netip.Addr) {
	p := &i.joinedAllSPF
	if g == packet.AllDRouters {
		p = &i.joinedAllDR
	}
	if *p {
		*p = false
		c.emit(Leave{Iface: i.cfg.Name, Group: g})
	}
}

// candidate is a router taking part in the DR election.
type candidate struct {
	rid      ID
	addr     ID
	priority uint8
	dr, bdr  ID // what it declares
}

// electDR runs the election of RFC 2328 9.4 and sets the interface state.
func (c *Core) electDR(i *iface) {
	oldDR, oldBDR := i.dr, i.bdr
	me := candidate{rid: c.cfg.RouterID, addr: i.addrID(), priority: i.cfg.Priority, dr: i.dr, bdr: i.bdr}
	var cands []candidate
	for _, n := range i.sortedNbrs() {
		if n.state >= Nbr2Way && n.priority > 0 {
			cands = append(cands, candidate{rid: n.id, addr: packet.IDFromAddr(n.addr), priority: n.priority, dr: n.dr, bdr: n.bdr})
		}
	}
	elect := func(me candidate) (dr, bdr ID) {
		all := slices.Clone(cands)
		if me.priority > 0 {
			all = append(all, me)
		}
		better := func(a, b candidate) bool {
			if a.priority != b.priority {
				return a.priority > b.priority
			}
			return a.rid > b.rid
		}
		// Step 2: the BDR, among those not declaring themselves DR.
		var best *candidate
		declared := false
		for k := range all {
			x := &all[k]
			if x.dr == x.addr {
				continue
			}
			decl := x.bdr == x.addr
			if best == nil || (decl && !declared) || (decl == declared && better(*x, *best)) {
				best, declared = x, decl
			}
		}
		if best != nil {
			bdr = best.addr
		}
		// Step 3: the DR, among those declaring themselves DR.
		var bestDR *candidate
		for k := range all {
			x := &all[k]
			if x.dr == x.addr && (bestDR == nil || better(*x, *bestDR)) {
				bestDR = x
			}
		}
		if bestDR != nil {
			dr = bestDR.addr
		} else {
			dr = bdr
		}
		return dr, bdr
	}
	dr, bdr := elect(me)
	// Step 4: if this router's role changed, run again with its new
	// declaration.
	wasDR, wasBDR := me.dr == me.addr, me.bdr == me.addr
	isDR, isBDR := dr == me.addr, bdr == me.addr
	if wasDR != isDR || wasBDR != isBDR {
		me.dr, me.bdr = dr, bdr
		dr, bdr = elect(me)
	}
	if dr == bdr && dr == me.addr {
		bdr = 0
	}
	if dr == bdr {
		// Never one router in both roles; the second pass settles it.
		bdr = 0
	}
	i.dr, i.bdr = dr, bdr
	switch {
	case dr == me.addr:
		i.state = IfDR
	case bdr == me.addr:
		i.state = IfBackup
	default:
		i.state = IfDROther
	}
	if i.state == IfDR || i.state == IfBackup {
		c.join(i, packet.AllDRouters)
	} else {
		c.leave(i, packet.AllDRouters)
	}
	if dr != oldDR || bdr != oldBDR {
		for _, n := range i.sortedNbrs() {
			if n.state >= Nbr2Way {
				c.nbrEvent(n, evAdjOK)
			}
		}
		c.origDirty = true
		c.spfDirty = true
	}
}

// drRouterID is the router ID of the DR (0 when unknown).
func (c *Core) drRouterID(i *iface) ID {
	if i.dr == 0 {
		return 0
	}
	if i.dr == i.addrID() {
		return c.cfg.RouterID
	}
	if n := i.nbrs[i.dr.Addr()]; n != nil {
		return n.id
	}
	return 0
}

func (c *Core) header(i *iface, t packet.Type) packet.Header {
	return packet.Header{Type: t, RouterID: c.cfg.RouterID, AreaID: i.area.id, AuthType: i.cfg.AuthType, Auth: i.cfg.AuthKey}
}

func (c *Core) send(i *iface, dst netip.Addr, body packet.Body) {
	p := &packet.Packet{Header: c.header(i, body.Type()), Body: body}
	if i.cfg.AuthType != packet.AuthSimple {
		p.Auth = [8]byte{}
	}
	c.emit(Send{Iface: i.cfg.Name, Dst: dst, Data: p.Marshal()})
	c.counters.Sent++
	switch body.Type() {
	case packet.TypeHello:
		i.stats.HelloOut++
	case packet.TypeDBDesc:
		i.stats.DDOut++
	case packet.TypeLSRequest:
		i.stats.LSROut++
	case packet.TypeLSUpdate:
		i.stats.LSUOut++
	case packet.TypeLSAck:
		i.stats.AckOut++
	}
}

func (c *Core) sendHello(i *iface) {
	if !i.sends() || i.state == IfDown {
		return
	}
	h := &packet.Hello{
		NetworkMask:   packet.MaskID(i.cfg.Prefix.Bits()),
		HelloInterval: i.cfg.HelloInterval,
		Options:       i.area.options(),
		Priority:      i.cfg.Priority,
		DeadInterval:  i.cfg.DeadInterval,
	}
	if i.cfg.Type == Broadcast {
		h.DR, h.BDR = i.dr, i.bdr
	}
	for _, n := range i.sortedNbrs() {
		if n.state >= NbrInit {
			h.Neighbors = append(h.Neighbors, n.id)
		}
	}
	c.send(i, packet.AllSPFRouters, h)
}

// receive is the receive path (RFC 2328 8.2): decode, the header checks,
// then the packet type.
func (c *Core) receive(r Receive) {
	i := c.ifaces[r.Iface]
	if i == nil || i.state == IfDown || !i.sends() {
		c.counters.Rejected++
		return
	}
	p, err := packet.Decode(r.Data)
	if err != nil {
		c.counters.Malformed++
		i.stats.Errors++
		return
	}
	if !c.acceptHeader(i, r, p) {
		c.counters.Rejected++
		i.stats.Errors++
		return
	}
	c.counters.Received++
	switch b := p.Body.(type) {
	case *packet.Hello:
		i.stats.HelloIn++
		c.recvHello(i, r.Src, p.RouterID, b)
		return
	case *packet.DBDesc:
		i.stats.DDIn++
	case *packet.LSRequest:
		i.stats.LSRIn++
	case *packet.LSUpdate:
		i.stats.LSUIn++
	case *packet.LSAck:
		i.stats.AckIn++
	}
	n := c.findNbr(i, r.Src, p.RouterID)
	if n == nil {
		return
	}
	switch b := p.Body.(type) {
	case *packet.DBDesc:
		c.recvDD(n, b)
	case *packet.LSRequest:
		c.recvLSR(n, b)
	case *packet.LSUpdate:
		c.recvLSU(n, b)
	case *packet.LSAck:
		c.recvAck(n, b)
	}
}

func (c *Core) acceptHeader(i *iface, r Receive, p *packet.Packet) bool {
	if p.AreaID != i.area.id {
		return false
	}
	if p.RouterID == c.cfg.RouterID || p.RouterID == 0 {
		return false
	}
	if !r.Src.Is4() {
		return false
	}
	if r.Dst == packet.AllDRouters && i.state != IfDR && i.state != IfBackup {
		return false
	}
	if i.cfg.Type == Broadcast && !i.cfg.Prefix.Masked().Contains(r.Src) {
		return false
	}
	if r.Src == i.cfg.Prefix.Addr() {
		return false
	}
	if p.AuthType != i.cfg.AuthType {
		return false
	}
	if p.AuthType == packet.AuthSimple && p.Auth != i.cfg.AuthKey {
		return false
	}
	return true
}

// findNbr finds the neighbour a packet comes from: by source address on
// broadcast networks, by router ID on point-to-point ones.
func (c *Core) findNbr(i *iface, src netip.Addr, rid ID) *neighbor {
	if i.cfg.Type == Broadcast {
		n := i.nbrs[src]
		if n != nil && n.id != rid {
			return nil
		}
		return n
	}
	for _, n := range i.nbrs {
		if n.id == rid {
			return n
		}
	}
	return nil
}

// recvHello is RFC 2328 10.5.
func (c *Core) recvHello(i *iface, src netip.Addr, rid ID, h *packet.Hello) {
	if i.cfg.Type == Broadcast && h.NetworkMask != packet.MaskID(i.cfg.Prefix.Bits()) {
		i.stats.Errors++
		c.counters.Rejected++
		return
	}
	if h.HelloInterval != i.cfg.HelloInterval || h.DeadInterval != i.cfg.DeadInterval {
		i.stats.Errors++
		c.counters.Rejected++
		return
	}
	if (h.Options&packet.OptE != 0) == i.area.cfg.Stub {
		i.stats.Errors++
		c.counters.Rejected++
		return
	}
	n := c.findNbr(i, src, rid)
	if n == nil {
		if i.cfg.Type == Broadcast {
			// A router that changed its ID, or another one that took
			// this address: the old neighbour goes.
			if old := i.nbrs[src]; old != nil {
				c.nbrEvent(old, evKillNbr)
			}
		} else {
			// Point-to-point: one neighbour only.
			for _, old := range i.sortedNbrs() {
				c.nbrEvent(old, evKillNbr)
			}
		}
		n = &neighbor{ifc: i, id: rid, addr: src, rxmt: map[lsaKey]*lsaEntry{}, reqs: map[lsaKey]packet.LSAHeader{}}
		i.nbrs[src] = n
	} else if n.addr != src {
		// Point-to-point neighbour with a new address.
		delete(i.nbrs, n.addr)
		n.addr = src
		i.nbrs[src] = n
	}
	oldPrio, oldDR, oldBDR := n.priority, n.dr, n.bdr
	n.priority = h.Priority
	n.options = h.Options
	if i.cfg.Type == Broadcast {
		n.dr, n.bdr = h.DR, h.BDR
	}
	c.nbrEvent(n, evHelloReceived)
	if !slices.Contains(h.Neighbors, c.cfg.RouterID) {
		c.nbrEvent(n, ev1WayReceived)
		return
	}
	c.nbrEvent(n, ev2WayReceived)
	if i.cfg.Type != Broadcast || n.state < Nbr2Way {
		return
	}
	self := packet.IDFromAddr(src) // the neighbour declares itself with its address
	var events []ifEvent
	if n.priority != oldPrio {
		events = append(events, evNeighborChange)
	}
	declDR, wasDR := n.dr == self, oldDR == self
	declBDR, wasBDR := n.bdr == self, oldBDR == self
	if declDR && n.bdr == 0 && i.state == IfWaiting {
		events = append(events, evBackupSeen)
	} else if declDR != wasDR {
		events = append(events, evNeighborChange)
	}
	if declBDR && i.state == IfWaiting {
		events = append(events, evBackupSeen)
	} else if declBDR != wasBDR {
		events = append(events, evNeighborChange)
	}
	for _, ev := range events {
		c.ifaceEvent(i, ev)
	}
}

// queueDelayedAck adds a header to the interface's delayed
// acknowledgement, sent within a second.
func (c *Core) queueDelayedAck(i *iface, h packet.LSAHeader) {
	i.delayedAcks = append(i.delayedAcks, h)
	if i.ackAt.IsZero() {
		i.ackAt = c.now.Add(time.Second)
	}
}

func (c *Core) flushDelayedAcks(i *iface) {
	if len(i.delayedAcks) == 0 || i.state == IfDown {
		i.delayedAcks = nil
		return
	}
	dst := packet.AllSPFRouters
	if i.cfg.Type == Broadcast && i.state != IfDR && i.state != IfBackup {
		dst = packet.AllDRouters
	}
	c.sendAcks(i, dst, i.delayedAcks)
	i.delayedAcks = nil
}

func (c *Core) sendAcks(i *iface, dst netip.Addr, hdrs []packet.LSAHeader) {
	per := max(1, (int(i.cfg.MTU)-20-packet.HeaderLen)/packet.LSAHeaderLen)
	for len(hdrs) > 0 {
		n := min(per, len(hdrs))
		c.send(i, dst, &packet.LSAck{LSAs: slices.Clone(hdrs[:n])})
		hdrs = hdrs[n:]
	}
}
