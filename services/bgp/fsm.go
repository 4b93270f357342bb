package bgp

import (
	"fmt"
	"net/netip"
	"time"

	"vpnos/services/bgp/packet"
)

// State is a BGP session state (RFC 4271 §8.2.2).
type State uint8

// Session states.
const (
	Idle State = iota
	Connect
	Active
	OpenSent
	OpenConfirm
	Established
)

var stateNames = [...]string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state%d", s)
}

// ConnID names one TCP connection; the owner of the sockets assigns them.
type ConnID uint64

// Timer names a session timer.
type Timer uint8

// Session timers.
const (
	TimerConnectRetry Timer = iota + 1
	TimerHold
	TimerKeepalive
	TimerIdleHold
)

func (t Timer) String() string {
	switch t {
	case TimerConnectRetry:
		return "ConnectRetry"
	case TimerHold:
		return "Hold"
	case TimerKeepalive:
		return "Keepalive"
	case TimerIdleHold:
		return "IdleHold"
	}
	return "timer"
}

// Timer defaults (VRP: keepalive 60 s, hold 180 s, connect-retry 32 s).
const (
	DefaultHoldTime     = 180
	DefaultKeepalive    = 60
	DefaultConnectRetry = 32 * time.Second
	// DefaultIdleHold is the first wait in Idle before a session restarts
	// after an error; it doubles per consecutive failure up to the
	// ConnectRetry time and starts over once a session is Established.
	DefaultIdleHold = 2 * time.Second
	// largeHold is the Hold timer while waiting for the peer's OPEN
	// (RFC 4271 §8: 4 minutes suggested).
	largeHold = 4 * time.Minute
)

// sessionConfig is what the FSM needs of a peer's configuration.
type sessionConfig struct {
	LocalAS  uint32
	PeerAS   uint32
	RouterID netip.Addr
	// HoldTime and Keepalive in seconds (0 hold: no keepalives).
	HoldTime, Keepalive uint16
	ConnectRetry        time.Duration
	IdleHold            time.Duration
	Families            []packet.Family
	// Passive sessions never dial; they wait for the peer.
	Passive bool
}

// Negotiated is what an Established session agreed on.
type Negotiated struct {
	Conn     ConnID
	Outgoing bool
	PeerOpen *packet.Open
	PeerAS   uint32
	PeerID   netip.Addr
	Families []packet.Family
	AS4      bool
	// RouteRefresh: the peer accepts ROUTE-REFRESH.
	RouteRefresh bool
	HoldTime     time.Duration
	Keepalive    time.Duration
}

// Has reports whether f was negotiated.
func (n *Negotiated) Has(f packet.Family) bool {
	for _, g := range n.Families {
		if g == f {
			return true
		}
	}
	return false
}

// FSM events.
type fsmEvent interface{ fsmEvent() }

type (
	evStart struct{}
	// evStop ends every connection with Cease/Subcode (when connected).
	// With Restart the session starts again after the idle hold time.
	evStop struct {
		Subcode uint8
		Restart bool
	}
	evConnected struct {
		Conn     ConnID
		Outgoing bool
	}
	evConnectFailed struct{ Err error }
	evClosed        struct {
		Conn ConnID
		Err  error
	}
	evMessage struct {
		Conn ConnID
		Msg  packet.Message
	}
	evBadMessage struct {
		Conn ConnID
		Err  *packet.Error
	}
	evTick struct{}
)

func (evStart) fsmEvent()         {}
func (evStop) fsmEvent()          {}
func (evConnected) fsmEvent()     {}
func (evConnectFailed) fsmEvent() {}
func (evClosed) fsmEvent()        {}
func (evMessage) fsmEvent()       {}
func (evBadMessage) fsmEvent()    {}
func (evTick) fsmEvent()          {}

// FSM actions.
type fsmAction interface{ fsmAction() }

type (
	actDial struct{}
	actSend struct {
		Conn ConnID
		Data []byte
	}
	actClose struct{ Conn ConnID }
	// actTimer reports a timer armed (At set) or stopped (At zero).
	actTimer struct {
		Timer Timer
		Conn  ConnID
		At    time.Time
	}
	actUp   struct{ Neg *Negotiated }
	actDown struct {
		Conn   ConnID
		Reason string
	}
	// actDeliver hands an UPDATE or ROUTE-REFRESH of an Established
	// session to the tables.
	actDeliver struct {
		Conn ConnID
		Msg  packet.Message
	}
	// actState reports a state change.
	actState struct{ From, To State }
)

func (actDial) fsmAction()    {}
func (actSend) fsmAction()    {}
func (actClose) fsmAction()   {}
func (actTimer) fsmAction()   {}
func (actUp) fsmAction()      {}
func (actDown) fsmAction()    {}
func (actDeliver) fsmAction() {}
func (actState) fsmAction()   {}

// fsmConn is one TCP connection of a session.
type fsmConn struct {
	id       ConnID
	outgoing bool
	st       State // OpenSent, OpenConfirm or Established
	open     *packet.Open
	neg      *Negotiated
	holdAt   time.Time
	kaAt     time.Time
	hold, ka time.Duration
}

// session is the pure RFC 4271 §8 state machine of one peer: time comes in
// with every event, actions go out, nothing else. Up to two connections
// live at once while a collision (§6.8) is resolved.
type session struct {
	cfg     sessionConfig
	state   State
	stopped bool // manually stopped: stays Idle, refuses connections
	conns   []*fsmConn
	dialing bool
	// Deadlines; zero when not running.
	retryAt time.Time
	idleAt  time.Time
	idleFor time.Duration
	// LastError describes why the session last went down.
	lastError string
	upSince   time.Time
	out       []fsmAction
}

func newSession(cfg sessionConfig) *session {
	if cfg.ConnectRetry == 0 {
		cfg.ConnectRetry = DefaultConnectRetry
	}
	if cfg.IdleHold == 0 {
		cfg.IdleHold = DefaultIdleHold
	}
	return &session{cfg: cfg, stopped: true, idleFor: cfg.IdleHold}
}

func (s *session) emit(a fsmAction) { s.out = append(s.out, a) }

func (s *session) setState(st State) {
	if st != s.state {
		s.emit(actState{From: s.state, To: st})
		s.state = st
	}
}

// established returns the Established connection, if any.
func (s *session) established() *fsmConn {
	for _, c := range s.conns {
		if c.st == Established {
			return c
		}
	}
	return nil
}

func (s *session) conn(id ConnID) *fsmConn {
	for _, c := range s.conns {
		if c.id == id {
			return c
		}
	}
	return nil
}

// nextDeadline is the earliest running timer (zero when none).
func (s *session) nextDeadline() time.Time {
	var d time.Time
	min := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	min(s.retryAt)
	min(s.idleAt)
	for _, c := range s.conns {
		min(c.holdAt)
		min(c.kaAt)
	}
	return d
}

// step runs one event and returns the actions.
func (s *session) step(now time.Time, ev fsmEvent) []fsmAction {
	s.out = nil
	switch e := ev.(type) {
	case evStart:
		s.stopped = false
		if s.state == Idle {
			s.start(now)
		}
	case evStop:
		s.stop(now, e.Subcode, "stopped: "+packet.CodeString(packet.ErrCease, e.Subcode))
		if e.Restart {
			s.stopped = false
			s.idleFor = s.cfg.IdleHold
			s.armIdle(now)
		} else {
			s.stopped = true
		}
	case evConnected:
		s.connected(now, e)
	case evConnectFailed:
		s.dialing = false
		if s.state == Connect && len(s.conns) == 0 {
			s.setState(Active)
		}
	case evClosed:
		s.closed(now, e)
	case evMessage:
		s.message(now, e)
	case evBadMessage:
		c := s.conn(e.Conn)
		if c == nil {
			break
		}
		s.dropConn(now, c, e.Err.Notification(), "sent "+e.Err.Error())
	case evTick:
		s.tick(now)
	}
	return s.out
}

func (s *session) start(now time.Time) {
	s.idleAt = time.Time{}
	s.retryAt = now.Add(s.cfg.ConnectRetry)
	s.emit(actTimer{Timer: TimerConnectRetry, At: s.retryAt})
	if s.cfg.Passive {
		s.setState(Active)
		return
	}
	s.setState(Connect)
	s.dial()
}

func (s *session) dial() {
	if !s.dialing {
		s.dialing = true
		s.emit(actDial{})
	}
}

func (s *session) armIdle(now time.Time) {
	s.idleAt = now.Add(s.idleFor)
	s.emit(actTimer{Timer: TimerIdleHold, At: s.idleAt})
	s.idleFor *= 2
	if s.idleFor > s.cfg.ConnectRetry {
		s.idleFor = s.cfg.ConnectRetry
	}
}

// stop closes every connection, sending Cease/sub on those past Connect.
func (s *session) stop(now time.Time, sub uint8, reason string) {
	for _, c := range append([]*fsmConn(nil), s.conns...) {
		s.sendNotification(c, &packet.Notification{Code: packet.ErrCease, Subcode: sub})
		s.removeConn(now, c, reason)
	}
	s.dialing = false
	s.retryAt, s.idleAt = time.Time{}, time.Time{}
	s.setState(Idle)
}

func (s *session) sendNotification(c *fsmConn, n *packet.Notification) {
	s.emit(actSend{Conn: c.id, Data: packet.EncodeNotification(n)})
}

// removeConn forgets a connection (closing it) and reports the session
// down when it was the Established one.
func (s *session) removeConn(now time.Time, c *fsmConn, reason string) {
	for i, x := range s.conns {
		if x == c {
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			break
		}
	}
	s.emit(actClose{Conn: c.id})
	if c.st == Established {
		s.lastError = reason
		s.upSince = time.Time{}
		s.emit(actDown{Conn: c.id, Reason: reason})
	}
}

// dropConn ends a connection after an error (with a NOTIFICATION when n is
// set); with no connection left the session goes Idle and restarts after
// the idle hold time.
func (s *session) dropConn(now time.Time, c *fsmConn, n *packet.Notification, reason string) {
	if n != nil {
		s.sendNotification(c, n)
	}
	s.removeConn(now, c, reason)
	if s.lastError == "" || c.st != Established {
		s.lastError = reason
	}
	s.afterConnGone(now)
}

func (s *session) afterConnGone(now time.Time) {
	if len(s.conns) > 0 {
		s.setState(s.conns[0].st)
		if len(s.conns) > 1 && s.conns[1].st > s.state {
			s.setState(s.conns[1].st)
		}
		return
	}
	s.dialing = false
	s.retryAt = time.Time{}
	s.setState(Idle)
	if !s.stopped {
		s.armIdle(now)
	}
}

func (s *session) connected(now time.Time, e evConnected) {
	if e.Outgoing {
		s.dialing = false
	}
	if s.stopped {
		// Refused: administratively down.
		s.emit(actSend{Conn: e.Conn, Data: packet.EncodeNotification(&packet.Notification{Code: packet.ErrCease, Subcode: packet.SubConnectionRejected})})
		s.emit(actClose{Conn: e.Conn})
		return
	}
	if s.established() != nil || len(s.conns) >= 2 {
		// §6.8: a connection colliding with an Established one is closed.
		s.emit(actSend{Conn: e.Conn, Data: packet.EncodeNotification(&packet.Notification{Code: packet.ErrCease, Subcode: packet.SubConnectionCollision})})
		s.emit(actClose{Conn: e.Conn})
		return
	}
	if s.state == Idle {
		// An incoming connection during the idle hold time starts the
		// session at once.
		s.idleAt = time.Time{}
	}
	c := &fsmConn{id: e.Conn, outgoing: e.Outgoing, st: OpenSent, holdAt: now.Add(largeHold)}
	s.conns = append(s.conns, c)
	s.retryAt = time.Time{}
	s.emit(actTimer{Timer: TimerConnectRetry})
	s.emit(actSend{Conn: c.id, Data: packet.EncodeOpen(s.localOpen())})
	s.emit(actTimer{Timer: TimerHold, Conn: c.id, At: c.holdAt})
	if s.state < OpenSent {
		s.setState(OpenSent)
	}
}

func (s *session) localOpen() *packet.Open {
	return &packet.Open{
		Version:  4,
		HoldTime: s.cfg.HoldTime,
		RouterID: s.cfg.RouterID,
		Caps: packet.Capabilities{
			Families:     append([]packet.Family(nil), s.cfg.Families...),
			RouteRefresh: true,
			AS4:          true,
			AS4Number:    s.cfg.LocalAS,
		},
	}
}

func (s *session) closed(now time.Time, e evClosed) {
	c := s.conn(e.Conn)
	if c == nil {
		return
	}
	reason := "connection closed"
	if e.Err != nil {
		reason = "connection closed: " + e.Err.Error()
	}
	if c.st == OpenSent && len(s.conns) == 1 {
		// §8.2.2 OpenSent: TcpConnectionFails → Active, ConnectRetry.
		s.removeConn(now, c, reason)
		s.lastError = reason
		s.setState(Active)
		s.retryAt = now.Add(s.cfg.ConnectRetry)
		s.emit(actTimer{Timer: TimerConnectRetry, At: s.retryAt})
		return
	}
	s.dropConn(now, c, nil, reason)
}

func (s *session) tick(now time.Time) {
	if !s.idleAt.IsZero() && !now.Before(s.idleAt) {
		s.idleAt = time.Time{}
		if s.state == Idle && !s.stopped {
			s.start(now)
		}
	}
	if !s.retryAt.IsZero() && !now.Before(s.retryAt) {
		s.retryAt = now.Add(s.cfg.ConnectRetry)
		s.emit(actTimer{Timer: TimerConnectRetry, At: s.retryAt})
		if len(s.conns) == 0 && !s.cfg.Passive {
			s.setState(Connect)
			s.dial()
		}
	}
	for _, c := range append([]*fsmConn(nil), s.conns...) {
		if !c.holdAt.IsZero() && !now.Before(c.holdAt) {
			s.dropConn(now, c, &packet.Notification{Code: packet.ErrHoldTimer}, "hold timer expired")
			continue
		}
		if !c.kaAt.IsZero() && !now.Before(c.kaAt) {
			s.emit(actSend{Conn: c.id, Data: packet.EncodeKeepalive()})
			c.kaAt = now.Add(c.ka)
			s.emit(actTimer{Timer: TimerKeepalive, Conn: c.id, At: c.kaAt})
		}
	}
}

// restartHold restarts the Hold timer on receipt of a KEEPALIVE or UPDATE.
func (s *session) restartHold(now time.Time, c *fsmConn) {
	if c.hold > 0 {
		c.holdAt = now.Add(c.hold)
	}
}

func (s *session) message(now time.Time, e evMessage) {
	c := s.conn(e.Conn)
	if c == nil {
		return
	}
	if n, ok := e.Msg.(*packet.Notification); ok {
		s.dropConn(now, c, nil, "received "+n.String())
		return
	}
	switch c.st {
	case OpenSent:
		o, ok := e.Msg.(*packet.Open)
		if !ok {
			s.dropConn(now, c, &packet.Notification{Code: packet.ErrFSM, Subcode: packet.SubUnexpectedInOpenSent},
				fmt.Sprintf("unexpected %s in OpenSent", e.Msg.Type()))
			return
		}
		s.openReceived(now, c, o)
	case OpenConfirm:
		switch e.Msg.(type) {
		case *packet.Keepalive:
			s.up(now, c)
		default:
			s.dropConn(now, c, &packet.Notification{Code: packet.ErrFSM, Subcode: packet.SubUnexpectedInOpenConfrm},
				fmt.Sprintf("unexpected %s in OpenConfirm", e.Msg.Type()))
		}
	case Established:
		switch m := e.Msg.(type) {
		case *packet.Keepalive:
			s.restartHold(now, c)
		case *packet.Update, *packet.RouteRefresh:
			s.restartHold(now, c)
			s.emit(actDeliver{Conn: c.id, Msg: m})
		default:
			s.dropConn(now, c, &packet.Notification{Code: packet.ErrFSM, Subcode: packet.SubUnexpectedInEstablishd},
				fmt.Sprintf("unexpected %s in Established", e.Msg.Type()))
		}
	}
}

func (s *session) openReceived(now time.Time, c *fsmConn, o *packet.Open) {
	if err := s.checkOpen(o); err != nil {
		s.dropConn(now, c, err.Notification(), "sent "+err.Error())
		return
	}
	// §6.8 collision detection: another connection whose peer's BGP
	// Identifier is known (OpenConfirm) or that is Established.
	for _, other := range s.conns {
		if other == c || other.st < OpenConfirm {
			continue
		}
		loser := other
		if other.st != Established {
			local, remote := packet.Addr32(s.cfg.RouterID), packet.Addr32(o.RouterID)
			// The lower identifier's connection loses: if ours is
			// lower, the one we initiated is closed.
			if (local < remote) == c.outgoing {
				loser = c
			}
		} else {
			loser = c
		}
		s.sendNotification(loser, &packet.Notification{Code: packet.ErrCease, Subcode: packet.SubConnectionCollision})
		s.removeConn(now, loser, "connection collision resolution")
		if loser == c {
			s.afterConnGone(now)
			return
		}
		break
	}
	c.open = o
	neg := &Negotiated{Conn: c.id, Outgoing: c.outgoing, PeerOpen: o, PeerAS: o.AS(), PeerID: o.RouterID,
		AS4: o.Caps.AS4, RouteRefresh: o.Caps.RouteRefresh}
	for _, f := range s.cfg.Families {
		if o.Caps.Has(f) {
			neg.Families = append(neg.Families, f)
		}
	}
	hold := s.cfg.HoldTime
	if o.HoldTime < hold {
		hold = o.HoldTime
	}
	neg.HoldTime = time.Duration(hold) * time.Second
	ka := time.Duration(s.cfg.Keepalive) * time.Second
	if hold == 0 {
		ka = 0
	} else if ka == 0 || ka > neg.HoldTime/3 {
		ka = neg.HoldTime / 3
	}
	neg.Keepalive = ka
	c.neg, c.hold, c.ka = neg, neg.HoldTime, ka
	c.st = OpenConfirm
	s.emit(actSend{Conn: c.id, Data: packet.EncodeKeepalive()})
	if c.hold > 0 {
		c.holdAt = now.Add(c.hold)
		s.emit(actTimer{Timer: TimerHold, Conn: c.id, At: c.holdAt})
	} else {
		c.holdAt = time.Time{}
		s.emit(actTimer{Timer: TimerHold, Conn: c.id})
	}
	if c.ka > 0 {
		c.kaAt = now.Add(c.ka)
		s.emit(actTimer{Timer: TimerKeepalive, Conn: c.id, At: c.kaAt})
	}
	if s.state < OpenConfirm {
		s.setState(OpenConfirm)
	}
}

// checkOpen validates a peer's OPEN (RFC 4271 §6.2, RFC 6286, RFC 5492).
func (s *session) checkOpen(o *packet.Open) *packet.Error {
	as := o.AS()
	if s.cfg.PeerAS != 0 && as != s.cfg.PeerAS {
		return &packet.Error{Code: packet.ErrOpen, Subcode: packet.SubBadPeerAS, Reason: fmt.Sprintf("peer AS %d, configured %d", as, s.cfg.PeerAS)}
	}
	if o.Caps.AS4 && o.MyAS != packet.AS_TRANS && uint32(o.MyAS) != o.Caps.AS4Number {
		return &packet.Error{Code: packet.ErrOpen, Subcode: packet.SubBadPeerAS, Reason: fmt.Sprintf("My AS %d disagrees with the 4-octet AS %d", o.MyAS, o.Caps.AS4Number)}
	}
	id := o.RouterID
	if !id.Is4() || id.IsUnspecified() || id.IsMulticast() || id == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return &packet.Error{Code: packet.ErrOpen, Subcode: packet.SubBadBGPIdentifier, Reason: fmt.Sprintf("identifier %s", id)}
	}
	if as == s.cfg.LocalAS && id == s.cfg.RouterID {
		return &packet.Error{Code: packet.ErrOpen, Subcode: packet.SubBadBGPIdentifier, Reason: fmt.Sprintf("identifier %s is ours", id)}
	}
	if o.HoldTime == 1 || o.HoldTime == 2 {
		return &packet.Error{Code: packet.ErrOpen, Subcode: packet.SubUnacceptableHoldTime, Data: nil, Reason: fmt.Sprintf("hold time %d", o.HoldTime)}
	}
	common := false
	for _, f := range s.cfg.Families {
		if o.Caps.Has(f) {
			common = true
		}
	}
	if !common && len(s.cfg.Families) > 0 {
		// RFC 5492 §3: the capabilities we need, in the data field.
		var data []byte
		for _, f := range s.cfg.Families {
			data = append(data, packet.CapMultiprotocol, 4, byte(f.AFI()>>8), byte(f.AFI()), 0, f.SAFI())
		}
		return &packet.Error{Code: packet.ErrOpen, Subcode: packet.SubUnsupportedCapability, Data: data, Reason: "no address family in common"}
	}
	return nil
}

func (s *session) up(now time.Time, c *fsmConn) {
	c.st = Established
	s.restartHold(now, c)
	s.idleFor = s.cfg.IdleHold
	s.lastError = ""
	s.upSince = now
	// A connection still opening loses against the Established one.
	for _, other := range append([]*fsmConn(nil), s.conns...) {
		if other != c {
			s.sendNotification(other, &packet.Notification{Code: packet.ErrCease, Subcode: packet.SubConnectionCollision})
			s.removeConn(now, other, "connection collision resolution")
		}
	}
	s.setState(Established)
	s.emit(actUp{Neg: c.neg})
}
