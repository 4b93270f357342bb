package ldp

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"vpnos/services/ldp/packet"
)

// Sessions (RFC 5036 sections 2.5 and 3.5.3): the LSR with the higher
// transport address opens the TCP connection and sends the first
// Initialization message; the other accepts, checks it and answers with its
// own and a KeepAlive. The state machine runs NON EXISTENT, INITIALIZED,
// OPENSENT (active) or OPENREC, then OPERATIONAL on the first KeepAlive.

func (c *Core) connAccepted(e ConnAccepted) {
	if !c.cfg.Enabled || c.unbound(nil) >= maxUnboundConns {
		c.emit(Close{Conn: e.Conn})
		return
	}
	c.conns[e.Conn] = &conn{id: e.Conn, local: e.Local, remote: e.Remote, deadline: c.now.Add(initTimeout)}
}

// unbound counts the accepted connections without a session (waiting for
// their Initialization, or holding one until a Hello) that match f (nil:
// all of them).
func (c *Core) unbound(f func(*conn) bool) int {
	n := 0
	for _, cn := range c.conns {
		if cn.peer == nil && (f == nil || f(cn)) {
			n++
		}
	}
	return n
}

func (c *Core) connUp(e ConnUp) {
	p := c.peers[e.Peer]
	if p == nil || !p.dialing || p.state != NonExistent || e.Attempt != p.attempts {
		c.emit(Close{Conn: e.Conn})
		return
	}
	p.dialing = false
	p.connBackoff = 0
	cn := &conn{id: e.Conn, peer: p, local: e.Local, remote: e.Remote}
	c.conns[e.Conn] = cn
	p.conn = cn
	p.maxPDU = packet.DefaultMaxPDU
	c.setState(p, Initialized, "connected")
	c.queue(p, c.initMessage(p))
	p.initDeadline = c.now.Add(initTimeout)
	c.setState(p, OpenSent, "")
}

func (c *Core) connFailed(e ConnFailed) {
	p := c.peers[e.Peer]
	if p == nil || !p.dialing || e.Attempt != p.attempts {
		return
	}
	p.dialing = false
	c.connectBackOff(p)
}

func (c *Core) connClosed(e ConnClosed) {
	cn := c.conns[e.Conn]
	if cn == nil {
		return
	}
	delete(c.conns, e.Conn)
	if cn.peer != nil && cn.peer.conn == cn {
		reason := "connection closed by peer"
		if e.Err != nil {
			reason = "connection closed: " + e.Err.Error()
		}
		cn.peer.conn = nil // already gone: no Close action
		c.closeSession(cn.peer, nil, reason)
	}
}

// backOff delays the next attempt of an active LSR whose session
// initialization failed (RFC 5036 section 2.5.3).
func (c *Core) backOff(p *peer) {
	p.backoff = doubled(p.backoff, backoffInitial, backoffMax)
	p.nextAttempt = c.now.Add(p.backoff)
	p.awaitRoute = false
}

// connectBackOff delays the next attempt of an active LSR whose TCP
// connection could not be opened; a change of the route to the peer's
// transport address ends the wait (routeToPeers).
func (c *Core) connectBackOff(p *peer) {
	p.connBackoff = doubled(p.connBackoff, connectRetryInitial, connectRetryMax)
	p.nextAttempt = c.now.Add(p.connBackoff)
	p.awaitRoute = true
}

// doubled is the next wait of an exponential backoff: initial first, then
// twice the last, up to limit.
func doubled(last, initial, limit time.Duration) time.Duration {
	if last == 0 {
		return initial
	}
	return min(2*last, limit)
}

func (c *Core) setState(p *peer, s State, reason string) {
	if p.state == s {
		return
	}
	p.state = s
	c.emit(SessionChanged{Peer: p.ldpID(), State: s, Reason: reason})
}

// keepaliveProposal is the KeepAlive hold this router proposes to a peer:
// the smallest of the interfaces the peer was discovered on.
func (c *Core) keepaliveProposal(p *peer) time.Duration {
	var d time.Duration
	for name := range p.adjs {
		var ic *InterfaceConfig
		if s := c.ifaces[name]; s != nil {
			ic = s.cfg
		}
		if v := c.cfg.keepaliveHold(ic); d == 0 || v < d {
			d = v
		}
	}
	if d == 0 {
		d = c.cfg.keepaliveHold(nil)
	}
	return d
}

func (c *Core) initMessage(p *peer) *packet.Init {
	return &packet.Init{MsgID: c.nextMsgID(), Params: packet.SessionParams{
		Version:   packet.Version,
		KeepAlive: uint16(c.keepaliveProposal(p) / time.Second),
		MaxPDU:    packet.DefaultMaxPDU,
		Receiver:  p.ldpID(),
	}}
}

// checkInit returns the status code refusing an Initialization message, or
// 0 when its parameters are acceptable.
func (c *Core) checkInit(m *packet.Init) (packet.StatusCode, string) {
	prm := m.Params
	switch {
	case prm.Version != packet.Version:
		return packet.StatusBadVersion, fmt.Sprintf("protocol version %d", prm.Version)
	case prm.Receiver != c.ldpID():
		return packet.StatusNoHello, fmt.Sprintf("Initialization for %v, this LSR is %v", prm.Receiver, c.ldpID())
	case prm.KeepAlive < minKeepAlive:
		return packet.StatusBadKeepAliveTime, fmt.Sprintf("keepalive time %d s", prm.KeepAlive)
	}
	// An LSR proposing Downstream on Demand gets Downstream Unsolicited on
	// an Ethernet link (RFC 5036 section 3.5.3); differing D bits disable
	// loop detection, which is not used here anyway.
	return 0, ""
}

// negotiate sets the session parameters from the peer's Initialization.
func (c *Core) negotiate(p *peer, m *packet.Init) {
	p.peerKA = m.Params.KeepAlive
	p.kaHold = min(c.keepaliveProposal(p), time.Duration(m.Params.KeepAlive)*time.Second)
	p.maxPDU = packet.DefaultMaxPDU
	if v := int(m.Params.MaxPDU); v > 255 && v < p.maxPDU {
		p.maxPDU = v
	}
}

func (c *Core) sendKeepAlive(p *peer) {
	c.queue(p, &packet.KeepAlive{MsgID: c.nextMsgID()})
	p.kaSent++
}

// rejectConn answers a connection that has no session yet with a
// Notification and closes it.
func (c *Core) rejectConn(cn *conn, st packet.Status) {
	n := &packet.Notification{MsgID: c.nextMsgID(), Status: st}
	c.stats.NotificationsSent++
	c.emit(Send{Conn: cn.id, PDUs: [][]byte{packet.AppendPDU(nil, c.ldpID(), n)}})
	c.emit(Close{Conn: cn.id})
	delete(c.conns, cn.id)
}

// refuseNoHello refuses an Initialization from an LSR this router has no
// Hello adjacency with (RFC 5036 section 3.5.3).
func (c *Core) refuseNoHello(cn *conn, m *packet.Init) {
	c.stats.NoHelloSent++
	c.rejectConn(cn, packet.Status{Code: packet.StatusNoHello, MsgID: m.MsgID, MsgType: packet.MsgInit})
}

// holdInit keeps the Initialization of a connection from an LSR that has
// no Hello adjacency yet, for noHelloWait: an active LSR sends its Hello
// before it connects, but the Hello (UDP) and the connection (TCP) are
// read apart, and a Hello may be lost, the next one coming a Hello
// interval later. Refusing at once would make the peer wait out the RFC
// 5036 section 2.5.3 backoff (15 s at least). At most maxHeldInits wait,
// one per source address (a later connection from the same address
// supersedes the earlier one, which the peer has given up). It reports
// whether the Initialization waits.
func (c *Core) holdInit(cn *conn, pdu *packet.PDU) bool {
	src := cn.remote.Addr()
	for _, id := range slices.Sorted(maps.Keys(c.conns)) {
		if o := c.conns[id]; o != nil && o.peer == nil && o.held != nil && o.remote.Addr() == src {
			c.refuseNoHello(o, o.held.Messages[0].(*packet.Init))
		}
	}
	if c.unbound(func(o *conn) bool { return o.held != nil }) >= maxHeldInits {
		return false
	}
	cn.held = pdu
	cn.deadline = c.now.Add(noHelloWait)
	c.stats.InitsHeld++
	return true
}

// releaseHeld goes on with the Initializations held for p, now that p
// has a Hello adjacency.
func (c *Core) releaseHeld(p *peer) {
	for _, id := range slices.Sorted(maps.Keys(c.conns)) {
		cn := c.conns[id]
		if cn == nil || cn.peer != nil || cn.held == nil || cn.held.ID.LSRID != p.id || cn.remote.Addr() != p.transport {
			continue
		}
		pdu := cn.held
		cn.held = nil
		cn.deadline = c.now.Add(initTimeout)
		c.firstPDU(cn, pdu)
	}
}

// closeSession ends a session: an optional Notification, then the
// connection closes; the peer's labels and addresses are forgotten. An
// active LSR whose session never became operational backs off.
func (c *Core) closeSession(p *peer, st *packet.Status, reason string) {
	if p.state == NonExistent && p.conn == nil {
		return
	}
	if st != nil && p.conn != nil {
		p.out = append(p.out, &packet.Notification{MsgID: c.nextMsgID(), Status: *st})
		c.stats.NotificationsSent++
		if reason == "" {
			reason = st.Code.String()
		}
	}
	c.flush(p)
	if p.conn != nil {
		c.emit(Close{Conn: p.conn.id})
		delete(c.conns, p.conn.id)
		p.conn = nil
	}
	wasOperational := p.state == Operational
	p.state = NonExistent
	c.peerDown(p)
	p.established = time.Time{}
	if p.active {
		if wasOperational {
			// A session that worked is tried again at once.
			p.backoff = 0
			p.nextAttempt = c.now
			p.awaitRoute = false
		} else {
			c.backOff(p)
		}
	}
	c.emit(SessionChanged{Peer: p.ldpID(), State: NonExistent, Reason: reason})
	c.maybeDial(p)
}

func (c *Core) pduReceived(e PDUReceived) {
	cn := c.conns[e.Conn]
	if cn == nil {
		return
	}
	maxLen := packet.DefaultMaxPDU
	if cn.peer != nil && cn.peer.maxPDU > 0 {
		maxLen = cn.peer.maxPDU
	}
	pdu, err := packet.DecodePDU(e.Data, maxLen)
	if err != nil {
		c.stats.BadPDUs++
		pe := packet.AsError(err)
		st := packet.Status{Code: pe.Code, MsgID: pe.MsgID, MsgType: pe.MsgType}
		if cn.peer == nil {
			c.rejectConn(cn, st)
			return
		}
		c.closeSession(cn.peer, &st, pe.Error())
		return
	}
	if cn.peer == nil {
		if cn.held != nil {
			// The active LSR waits for this router's Initialization
			// before it sends anything else.
			st := packet.Status{Code: packet.StatusShutdown}
			if len(pdu.Messages) > 0 {
				st.MsgID, st.MsgType = pdu.Messages[0].ID(), pdu.Messages[0].Type()
			}
			c.rejectConn(cn, st)
			return
		}
		c.firstPDU(cn, pdu)
		return
	}
	if pdu.ID != cn.peer.ldpID() {
		c.closeSession(cn.peer, &packet.Status{Code: packet.StatusBadLDPID}, fmt.Sprintf("PDU from %v on the session with %v", pdu.ID, cn.peer.ldpID()))
		return
	}
	c.sessionPDU(cn.peer, pdu, pdu.Messages)
}

// firstPDU handles the first PDU of an accepted connection: its
// Initialization creates the session, and the messages after it belong to
// the session.
func (c *Core) firstPDU(cn *conn, pdu *packet.PDU) {
	if c.passiveInit(cn, pdu) {
		c.sessionPDU(cn.peer, pdu, pdu.Messages[1:])
	}
}

// sessionPDU handles the messages msgs and the message errors of a PDU
// received on p's session.
func (c *Core) sessionPDU(p *peer, pdu *packet.PDU, msgs []packet.Message) {
	if p.state == Operational {
		p.kaExpire = c.now.Add(p.kaHold)
	}
	for _, me := range pdu.Errors {
		st := packet.Status{Code: me.Code, MsgID: me.MsgID, MsgType: me.MsgType}
		if p.state != Operational {
			c.closeSession(p, &st, me.Error())
			return
		}
		c.queue(p, &packet.Notification{MsgID: c.nextMsgID(), Status: st})
		c.stats.NotificationsSent++
	}
	for _, m := range msgs {
		if !c.handle(p, m) {
			return
		}
	}
}

// passiveInit handles the first PDU of an accepted connection, which must
// start with an acceptable Initialization from a peer this router has a
// Hello adjacency with. It reports whether the session now exists.
func (c *Core) passiveInit(cn *conn, pdu *packet.PDU) bool {
	if len(pdu.Messages) == 0 || pdu.Messages[0].Type() != packet.MsgInit {
		st := packet.Status{Code: packet.StatusShutdown}
		if len(pdu.Errors) > 0 {
			e := pdu.Errors[0]
			st = packet.Status{Code: e.Code | packet.StatusFatal, MsgID: e.MsgID, MsgType: e.MsgType}
		} else if len(pdu.Messages) > 0 {
			st.MsgID, st.MsgType = pdu.Messages[0].ID(), pdu.Messages[0].Type()
		}
		c.rejectConn(cn, st)
		return false
	}
	m := pdu.Messages[0].(*packet.Init)
	p := c.peers[pdu.ID.LSRID]
	if pdu.ID.Space != 0 || (p != nil && len(p.adjs) > 0 && p.transport != cn.remote.Addr()) {
		c.refuseNoHello(cn, m)
		return false
	}
	if p == nil || len(p.adjs) == 0 {
		// No Hello from this LSR yet: it may be on its way (UDP and TCP
		// travel apart), so the Initialization waits for it.
		if !c.holdInit(cn, pdu) {
			c.refuseNoHello(cn, m)
		}
		return false
	}
	if p.active || p.state != NonExistent {
		// This router opens the session itself, or it exists already.
		c.emit(Close{Conn: cn.id})
		delete(c.conns, cn.id)
		return false
	}
	if code, _ := c.checkInit(m); code != 0 {
		c.rejectConn(cn, packet.Status{Code: code, MsgID: m.MsgID, MsgType: packet.MsgInit})
		return false
	}
	cn.peer = p
	p.conn = cn
	c.setState(p, Initialized, "connection accepted")
	c.negotiate(p, m)
	c.queue(p, c.initMessage(p))
	c.sendKeepAlive(p)
	p.initDeadline = c.now.Add(initTimeout)
	c.setState(p, OpenRec, "")
	return true
}

// handle processes one message of an existing session; it reports false
// when the session closed.
func (c *Core) handle(p *peer, m packet.Message) bool {
	if n, ok := m.(*packet.Notification); ok {
		return c.notification(p, n)
	}
	unexpected := func() bool {
		c.closeSession(p, &packet.Status{Code: packet.StatusShutdown, MsgID: m.ID(), MsgType: m.Type()},
			fmt.Sprintf("unexpected %s in state %s", m.Type(), p.state))
		return false
	}
	switch p.state {
	case OpenSent:
		init, ok := m.(*packet.Init)
		if !ok {
			return unexpected()
		}
		if code, reason := c.checkInit(init); code != 0 {
			c.closeSession(p, &packet.Status{Code: code, MsgID: init.MsgID, MsgType: packet.MsgInit}, reason)
			return false
		}
		c.negotiate(p, init)
		c.sendKeepAlive(p)
		c.setState(p, OpenRec, "")
		return true
	case OpenRec:
		if _, ok := m.(*packet.KeepAlive); !ok {
			return unexpected()
		}
		p.kaRcvd++
		c.operational(p)
		return true
	case Operational:
	default:
		return unexpected()
	}
	switch m := m.(type) {
	case *packet.KeepAlive:
		p.kaRcvd++
	case *packet.Address:
		c.addressMessage(p, m)
	case *packet.LabelMapping:
		c.labelMapping(p, m)
	case *packet.LabelRequest:
		c.labelRequest(p, m)
	case *packet.LabelWithdraw:
		c.labelWithdraw(p, m)
	case *packet.LabelRelease:
		c.labelRelease(p, m)
	case *packet.LabelAbort:
		// Requests are answered at once, so there is never one to abort.
	default:
		return unexpected()
	}
	return true
}

func (c *Core) notification(p *peer, n *packet.Notification) bool {
	c.stats.NotificationsReceived++
	p.lastNotification = n.Status.Code.String()
	if !n.Status.Code.Fatal() {
		return true
	}
	c.closeSession(p, nil, "peer sent "+n.Status.Code.String())
	return false
}

// operational completes the session: addresses and label mappings go out.
func (c *Core) operational(p *peer) {
	p.established = c.now
	p.backoff = 0
	p.kaExpire = c.now.Add(p.kaHold)
	p.kaNext = c.now.Add(p.kaHold / 3)
	c.setState(p, Operational, "")
	if len(c.myAddrs) > 0 {
		c.queue(p, &packet.Address{MsgID: c.nextMsgID(), Family: packet.AFIPv4, Addrs: c.myAddrs})
	}
	c.advertiseAll(p)
}
