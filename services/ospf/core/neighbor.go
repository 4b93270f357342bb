package core

import (
	"net/netip"
	"slices"
	"time"

	"vpnos/services/ospf/packet"
)

// NbrState is a neighbour state (RFC 2328 10.1).
type NbrState uint8

// Neighbour states (Attempt, for NBMA networks, is not used).
const (
	NbrDown NbrState = iota
	NbrInit
	Nbr2Way
	NbrExStart
	NbrExchange
	NbrLoading
	NbrFull
)

func (s NbrState) String() string {
	return [...]string{"Down", "Init", "2-Way", "ExStart", "Exchange", "Loading", "Full"}[s]
}

type nbrEvent uint8

const (
	evHelloReceived nbrEvent = iota
	ev2WayReceived
	evNegotiationDone
	evExchangeDone
	evBadLSReq
	evLoadingDone
	evAdjOK
	evSeqNumberMismatch
	ev1WayReceived
	evKillNbr
	evInactivityTimer
)

var nbrEventNames = [...]string{"HelloReceived", "2-WayReceived", "NegotiationDone", "ExchangeDone",
	"BadLSReq", "LoadingDone", "AdjOK?", "SeqNumberMismatch", "1-WayReceived", "KillNbr", "InactivityTimer"}

// neighbor is a neighbour on an interface.
type neighbor struct {
	ifc      *iface
	id       ID
	addr     netip.Addr
	state    NbrState
	priority uint8
	dr, bdr  ID
	options  packet.Options

	// Database exchange.
	master   bool // this router is master
	ddSeq    uint32
	lastRecv struct {
		valid   bool
		flags   uint8
		options packet.Options
		seq     uint32
	}
	lastDD          []byte // last DD sent (retransmitted by the master, repeated by the slave)
	lastDDMore      bool   // the last DD sent had M set
	lastDDHoldUntil time.Time
	summary         []packet.LSAHeader
	ddRxmtAt        time.Time

	// Requests: what this router still needs, in order.
	reqs       map[lsaKey]packet.LSAHeader
	reqOrder   []lsaKey
	lsrPending map[lsaKey]bool // asked in the outstanding request
	lsrRxmtAt  time.Time

	// rxmt is the retransmission list: instances flooded and not acked.
	rxmt   map[lsaKey]*lsaEntry
	rxmtAt time.Time

	inactivityAt time.Time
	fullSince    time.Time
	since        time.Time // in the current state since
}

// adjacencyWanted is RFC 2328 10.4.
func (c *Core) adjacencyWanted(n *neighbor) bool {
	i := n.ifc
	if i.cfg.Type == PointToPoint {
		return true
	}
	me := i.addrID()
	na := packet.IDFromAddr(n.addr)
	return i.dr == me || i.bdr == me || i.dr == na || i.bdr == na
}

func (c *Core) setNbrState(n *neighbor, s NbrState, ev nbrEvent) {
	if n.state == s {
		return
	}
	old := n.state
	n.state = s
	n.since = c.now
	c.emit(NeighborChanged{Iface: n.ifc.cfg.Name, RouterID: n.id, Addr: n.addr, From: old, To: s, Event: nbrEventNames[ev]})
	if s == NbrFull {
		n.fullSince = c.now
	}
	if old == NbrFull || s == NbrFull {
		c.origDirty = true
		c.spfDirty = true
	}
	// Bidirectional communication gained or lost changes the election.
	if (old < Nbr2Way) != (s < Nbr2Way) && n.ifc.cfg.Type == Broadcast {
		defer c.ifaceEvent(n.ifc, evNeighborChange)
	}
}

// nbrEvent runs the neighbour state machine (RFC 2328 10.3).
func (c *Core) nbrEvent(n *neighbor, ev nbrEvent) {
	i := n.ifc
	dead := time.Duration(i.cfg.DeadInterval) * time.Second
	switch ev {
	case evHelloReceived:
		n.inactivityAt = c.now.Add(dead)
		if n.state == NbrDown {
			c.setNbrState(n, NbrInit, ev)
			// Answer a new neighbour at once instead of a hello
			// interval later, so the adjacency starts now.
			i.helloAt = c.now
		}
	case ev2WayReceived:
		if n.state != NbrInit {
			return
		}
		if c.adjacencyWanted(n) {
			c.setNbrState(n, NbrExStart, ev)
			c.startExStart(n)
		} else {
			c.setNbrState(n, Nbr2Way, ev)
		}
	case evNegotiationDone:
		if n.state != NbrExStart {
			return
		}
		n.ddRxmtAt = time.Time{}
		c.setNbrState(n, NbrExchange, ev)
		c.buildSummary(n)
	case evExchangeDone:
		if n.state != NbrExchange {
			return
		}
		if n.master {
			n.ddRxmtAt = time.Time{}
		} else {
			// The slave keeps its last packet to answer a repeated one.
			n.lastDDHoldUntil = c.now.Add(dead)
		}
		if len(n.reqs) == 0 {
			c.setNbrState(n, NbrFull, ev)
		} else {
			c.setNbrState(n, NbrLoading, ev)
			c.sendLSRequest(n)
		}
	case evLoadingDone:
		if n.state == NbrLoading {
			c.setNbrState(n, NbrFull, ev)
		}
	case evAdjOK:
		switch {
		case n.state == Nbr2Way && c.adjacencyWanted(n):
			c.setNbrState(n, NbrExStart, ev)
			c.startExStart(n)
		case n.state >= NbrExStart && !c.adjacencyWanted(n):
			c.clearLists(n)
			c.setNbrState(n, Nbr2Way, ev)
		}
	case evSeqNumberMismatch, evBadLSReq:
		if n.state < NbrExchange {
			return
		}
		c.clearLists(n)
		c.setNbrState(n, NbrExStart, ev)
		c.startExStart(n)
	case ev1WayReceived:
		if n.state >= Nbr2Way {
			c.clearLists(n)
			c.setNbrState(n, NbrInit, ev)
		}
	case evKillNbr, evInactivityTimer:
		c.clearLists(n)
		n.inactivityAt = time.Time{}
		c.setNbrState(n, NbrDown, ev)
		delete(i.nbrs, n.addr)
		c.origDirty = true
		c.spfDirty = true
	}
}

// clearLists empties the exchange state of a neighbour.
func (c *Core) clearLists(n *neighbor) {
	n.summary = nil
	n.reqs = map[lsaKey]packet.LSAHeader{}
	n.reqOrder = nil
	n.lsrPending = nil
	n.lsrRxmtAt = time.Time{}
	n.rxmt = map[lsaKey]*lsaEntry{}
	n.rxmtAt = time.Time{}
	n.ddRxmtAt = time.Time{}
	n.lastDD = nil
	n.lastDDHoldUntil = time.Time{}
	n.lastRecv.valid = false
}

// startExStart: this router claims mastership with a new sequence number
// and sends empty DD packets until the neighbour answers (RFC 2328 10.8).
func (c *Core) startExStart(n *neighbor) {
	c.clearLists(n)
	c.ddSeq++
	n.ddSeq = c.ddSeq
	n.master = true
	c.sendDD(n, packet.DDInit|packet.DDMore|packet.DDMasterSlave, nil)
}

func (c *Core) ddOptions(i *iface) packet.Options { return i.area.options() }

// sendDD sends a DD packet to the neighbour and remembers it.
func (c *Core) sendDD(n *neighbor, flags uint8, hdrs []packet.LSAHeader) {
	i := n.ifc
	dd := &packet.DBDesc{MTU: i.cfg.MTU, Options: c.ddOptions(i), Flags: flags, Seq: n.ddSeq, LSAs: hdrs}
	p := &packet.Packet{Header: c.header(i, packet.TypeDBDesc), Body: dd}
	b := p.Marshal()
	n.lastDD = b
	n.lastDDMore = flags&packet.DDMore != 0
	c.emit(Send{Iface: i.cfg.Name, Dst: c.unicastDst(n), Data: b})
	c.counters.Sent++
	i.stats.DDOut++
	if n.master {
		n.ddRxmtAt = c.now.Add(time.Duration(i.cfg.RetransmitInterval) * time.Second)
	}
}

// unicastDst is where packets for one neighbour go: its address (on
// point-to-point links too, as they are numbered).
func (c *Core) unicastDst(n *neighbor) netip.Addr { return n.addr }

func (c *Core) retransmitDD(n *neighbor) {
	i := n.ifc
	n.ddRxmtAt = time.Time{}
	if !n.master || n.lastDD == nil || (n.state != NbrExStart && n.state != NbrExchange) {
		return
	}
	c.emit(Send{Iface: i.cfg.Name, Dst: c.unicastDst(n), Data: n.lastDD})
	c.counters.Sent++
	i.stats.DDOut++
	n.ddRxmtAt = c.now.Add(time.Duration(i.cfg.RetransmitInterval) * time.Second)
}

// buildSummary lists the database for the neighbour at the start of
// Exchange; MaxAge LSAs go to its retransmission list instead.
func (c *Core) buildSummary(n *neighbor) {
	a := n.ifc.area
	add := func(db lsdb) {
		for _, k := range sortedKeys(db) {
			e := db[k]
			if e.maxAge(c.now) {
				c.addRxmt(n, e)
				continue
			}
			n.summary = append(n.summary, e.header(c.now))
		}
	}
	add(a.db)
	if !a.cfg.Stub {
		add(c.ext)
	}
}

func (c *Core) ddChunk(n *neighbor) []packet.LSAHeader {
	per := max(1, (int(n.ifc.cfg.MTU)-20-packet.HeaderLen-8)/packet.LSAHeaderLen)
	k := min(per, len(n.summary))
	out := slices.Clone(n.summary[:k])
	n.summary = n.summary[k:]
	return out
}

// recvDD is RFC 2328 10.6.
func (c *Core) recvDD(n *neighbor, dd *packet.DBDesc) {
	i := n.ifc
	if dd.MTU > i.cfg.MTU {
		i.stats.Errors++
		return
	}
	dup := n.lastRecv.valid && n.lastRecv.flags == dd.Flags && n.lastRecv.options == dd.Options && n.lastRecv.seq == dd.Seq
	switch n.state {
	case NbrDown, Nbr2Way:
		return
	case NbrInit:
		c.nbrEvent(n, ev2WayReceived)
		if n.state != NbrExStart {
			return
		}
		fallthrough
	case NbrExStart:
		empty := len(dd.LSAs) == 0
		switch {
		case dd.Init() && dd.More() && dd.Master() && empty && n.id > c.cfg.RouterID:
			n.master = false
			n.ddSeq = dd.Seq
			n.options = dd.Options
			c.nbrEvent(n, evNegotiationDone)
			c.remember(n, dd)
			// The slave answers at once with its first headers.
			c.slaveRespond(n, dd)
			return
		case !dd.Init() && !dd.Master() && dd.Seq == n.ddSeq && n.id < c.cfg.RouterID:
			n.master = true
			n.options = dd.Options
			c.nbrEvent(n, evNegotiationDone)
		default:
			return
		}
		c.remember(n, dd)
		c.acceptDD(n, dd)
	case NbrExchange:
		if dup {
			if !n.master && n.lastDD != nil {
				c.resendLastDD(n)
			}
			return
		}
		if dd.Master() == n.master || dd.Init() || (n.lastRecv.valid && dd.Options != n.lastRecv.options) {
			c.nbrEvent(n, evSeqNumberMismatch)
			return
		}
		if n.master && dd.Seq != n.ddSeq || !n.master && dd.Seq != n.ddSeq+1 {
			c.nbrEvent(n, evSeqNumberMismatch)
			return
		}
		c.remember(n, dd)
		c.acceptDD(n, dd)
	case NbrLoading, NbrFull:
		if dup {
			if !n.master && n.lastDD != nil {
				c.resendLastDD(n)
			}
			return
		}
		c.nbrEvent(n, evSeqNumberMismatch)
	}
}

func (c *Core) remember(n *neighbor, dd *packet.DBDesc) {
	n.lastRecv.valid = true
	n.lastRecv.flags, n.lastRecv.options, n.lastRecv.seq = dd.Flags, dd.Options, dd.Seq
}

func (c *Core) resendLastDD(n *neighbor) {
	i := n.ifc
	c.emit(Send{Iface: i.cfg.Name, Dst: c.unicastDst(n), Data: n.lastDD})
	c.counters.Sent++
	i.stats.DDOut++
}

// acceptDD processes the headers of an accepted DD packet in Exchange and
// moves the exchange on.
func (c *Core) acceptDD(n *neighbor, dd *packet.DBDesc) {
	a := n.ifc.area
	for _, h := range dd.LSAs {
		db := c.scope(a, h.Type)
		if db == nil {
			c.nbrEvent(n, evSeqNumberMismatch)
			return
		}
		e := db[h.Key()]
		if e == nil || compareInstances(h, e.header(c.now)) > 0 {
			c.addRequest(n, h)
		}
	}
	if n.master {
		n.ddSeq++
		if !n.lastDDMore && !dd.More() {
			c.nbrEvent(n, evExchangeDone)
			return
		}
		hdrs := c.ddChunk(n)
		flags := packet.DDMasterSlave
		if len(n.summary) > 0 {
			flags |= packet.DDMore
		}
		c.sendDD(n, flags, hdrs)
	} else {
		n.ddSeq = dd.Seq
		c.slaveRespond(n, dd)
	}
	c.sendLSRequest(n)
}

func (c *Core) slaveRespond(n *neighbor, dd *packet.DBDesc) {
	hdrs := c.ddChunk(n)
	var flags uint8
	if len(n.summary) > 0 {
		flags |= packet.DDMore
	}
	c.sendDD(n, flags, hdrs)
	if !dd.More() && flags&packet.DDMore == 0 {
		c.nbrEvent(n, evExchangeDone)
	}
}

func (c *Core) addRequest(n *neighbor, h packet.LSAHeader) {
	k := h.Key()
	if _, ok := n.reqs[k]; !ok {
		n.reqOrder = append(n.reqOrder, k)
	}
	n.reqs[k] = h
}

func (c *Core) removeRequest(n *neighbor, k lsaKey) {
	if _, ok := n.reqs[k]; !ok {
		return
	}
	delete(n.reqs, k)
	n.reqOrder = slices.DeleteFunc(n.reqOrder, func(x lsaKey) bool { return x == k })
	delete(n.lsrPending, k)
	if len(n.reqs) == 0 {
		n.lsrRxmtAt = time.Time{}
		n.lsrPending = nil
		if n.state == NbrLoading {
			c.nbrEvent(n, evLoadingDone)
		}
		return
	}
	if len(n.lsrPending) == 0 {
		c.sendLSRequest(n)
	}
}

// sendLSRequest asks for the first entries of the request list when no
// request is outstanding.
func (c *Core) sendLSRequest(n *neighbor) {
	if n.state != NbrExchange && n.state != NbrLoading || len(n.reqOrder) == 0 || len(n.lsrPending) > 0 {
		return
	}
	i := n.ifc
	per := max(1, (int(i.cfg.MTU)-20-packet.HeaderLen)/12)
	k := min(per, len(n.reqOrder))
	req := &packet.LSRequest{Requests: slices.Clone(n.reqOrder[:k])}
	n.lsrPending = map[lsaKey]bool{}
	for _, key := range req.Requests {
		n.lsrPending[key] = true
	}
	n.lsrRxmtAt = c.now.Add(time.Duration(i.cfg.RetransmitInterval) * time.Second)
	c.send(i, c.unicastDst(n), req)
}

// recvLSR is RFC 2328 10.7: the requested LSAs go back in updates.
func (c *Core) recvLSR(n *neighbor, r *packet.LSRequest) {
	if n.state < NbrExchange {
		return
	}
	a := n.ifc.area
	var es []*lsaEntry
	for _, k := range r.Requests {
		db := c.scope(a, k.Type)
		var e *lsaEntry
		if db != nil {
			e = db[k]
		}
		if e == nil {
			c.nbrEvent(n, evBadLSReq)
			return
		}
		es = append(es, e)
	}
	c.sendUpdates(n.ifc, c.unicastDst(n), es)
}

// sendUpdates packs LSAs into updates sized for the interface.
func (c *Core) sendUpdates(i *iface, dst netip.Addr, es []*lsaEntry) {
	limit := int(i.cfg.MTU) - 20 - packet.HeaderLen - 4
	var batch []*packet.LSA
	size := 0
	flush := func() {
		if len(batch) > 0 {
			c.send(i, dst, &packet.LSUpdate{LSAs: batch})
			batch, size = nil, 0
		}
	}
	for _, e := range es {
		raw := e.sendBytes(c.now, i.cfg.TransmitDelay)
		if size > 0 && size+len(raw) > limit {
			flush()
		}
		l := *e.lsa
		l.Raw = raw
		batch = append(batch, &l)
		size += len(raw)
	}
	flush()
}

func (c *Core) addRxmt(n *neighbor, e *lsaEntry) {
	n.rxmt[e.key()] = e
	if n.rxmtAt.IsZero() {
		n.rxmtAt = c.now.Add(time.Duration(n.ifc.cfg.RetransmitInterval) * time.Second)
	}
}

// retransmitLSAs resends the unacknowledged LSAs to the neighbour.
func (c *Core) retransmitLSAs(n *neighbor) {
	n.rxmtAt = time.Time{}
	if len(n.rxmt) == 0 || n.state < NbrExchange {
		return
	}
	keys := make([]lsaKey, 0, len(n.rxmt))
	for k := range n.rxmt {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpKey)
	es := make([]*lsaEntry, 0, len(keys))
	for _, k := range keys {
		es = append(es, n.rxmt[k])
	}
	c.sendUpdates(n.ifc, c.unicastDst(n), es)
	n.rxmtAt = c.now.Add(time.Duration(n.ifc.cfg.RetransmitInterval) * time.Second)
}
