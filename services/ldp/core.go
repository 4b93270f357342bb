// Package ldp is the Label Distribution Protocol (RFC 5036) of vpnos: basic
// discovery on the interfaces with `mpls ldp`, sessions between LSR IDs,
// and label distribution in downstream unsolicited mode with liberal
// retention and ordered control, for the FECs the routing table and
// `lsp-trigger` select. The LSPs it computes follow the IGP next hops.
//
// The package has the shape of every protocol of vpnos:
//   - Core (core.go, discovery.go, session.go, labels.go) is the protocol
//     itself: Step(now, event) returns actions. It opens no socket, reads
//     no clock and starts no goroutine; tests drive it with a fake clock.
//   - packet/ is the wire codec.
//   - Instance (instance.go) is the owner goroutine that runs a Core, the
//     network (net.go: UDP hellos and TCP sessions in the routing instance's
//     network namespace) and the API calls, which are messages to it.
//   - Snapshot (snapshot.go) is the state the displays render.
//   - The participant (config.go) owns `mpls ldp`, `lsp-trigger` and the
//     interfaces' `mpls ldp` and timers; Service (service.go) runs the
//     Instance in the daemon, from the vrf service's events and a RIB route
//     watch, hands its LSPs to the RIB and answers LSP ping (MPLS echo).
package ldp

import (
	"cmp"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"vpnos/services/ldp/packet"
)

// Protocol timing constants.
const (
	// initTimeout bounds session initialization (FRR uses the same 15 s).
	initTimeout = 15 * time.Second
	// The backoff of an active LSR whose session initialization fails
	// (RFC 5036 section 2.5.3: no less than 15 s, growing to at least 2 min).
	backoffInitial = 15 * time.Second
	backoffMax     = 120 * time.Second
	// The retry of a TCP connection that could not be opened (refused,
	// unreachable, timed out): no Initialization was NAK'd, so the RFC's
	// throttle does not apply; it starts at 1 s and doubles up to 15 s.
	// A change of the route to the peer's transport address retries at
	// once.
	connectRetryInitial = time.Second
	connectRetryMax     = 15 * time.Second
	// noHelloWait is how long an Initialization from an LSR without a
	// Hello adjacency waits for its Hello before it is refused with "No
	// Hello". A Hello overtaken by the connection comes within
	// milliseconds; a lost one is made up for by the next, a Hello
	// interval later: 5 s at the default 15 s hold time (VRP and FRR send
	// every third of it). 7 s covers that interval with a margin for
	// jitter and a loaded machine (exactly 5 s would race with the
	// Hello), and leaves the refusal well inside the 15 s the active LSR
	// waits for an answer to its Initialization.
	noHelloWait = 7 * time.Second
	// maxHeldInits bounds the Initializations waiting for a Hello, and
	// maxUnboundConns the accepted connections without a session
	// (waiting for their Initialization or holding one): beyond them an
	// Initialization is refused at once and a connection closed at once,
	// so that connections from unknown sources cannot grow without limit.
	maxHeldInits    = 16
	maxUnboundConns = 64
	// defaultPeerHelloHold is what a Hello hold time of 0 means for link
	// Hellos.
	defaultPeerHelloHold = 15 * time.Second
	// minKeepAlive is the smallest KeepAlive time a peer may propose.
	minKeepAlive = 3
)

// Core is the LDP engine of the public routing instance. It is not safe
// for concurrent use: one owner calls Step.
type Core struct {
	cfg   Config
	alloc Allocator

	ifaces map[string]*ifState
	routes map[netip.Prefix]Route
	peers  map[netip.Addr]*peer
	// peerOrder caches sortedPeers (peers are only added and deleted,
	// so a length change tells it is stale).
	peerOrder []*peer
	conns     map[ConnID]*conn
	fecs      map[netip.Prefix]*fec
	// addrOwner maps the addresses operational peers advertised to them.
	addrOwner map[netip.Addr]*peer
	// pendingFree counts the Label Releases still awaited for allocated
	// labels that were withdrawn; the label is freed at zero.
	pendingFree map[uint32]int
	// lsps are the LSPs as last reported; changed are the FECs to compare.
	lsps    map[netip.Prefix]LSP
	changed []netip.Prefix
	// myAddrs are the addresses advertised in Address messages.
	myAddrs []netip.Addr

	msgID uint32
	now   time.Time
	out   []Action
	stats Stats
}

// Stats are counters of what the core refused or ignored.
type Stats struct {
	HellosSent, HellosReceived, HellosDropped uint64
	BadPDUs                                   uint64
	NotificationsSent, NotificationsReceived  uint64
	// InitsHeld counts the Initializations that arrived before the
	// sender's Hello and waited for it; NoHelloSent the Initializations
	// refused with "Session Rejected/No Hello".
	InitsHeld, NoHelloSent uint64
}

type ifState struct {
	Interface
	cfg       *InterfaceConfig // nil: no `mpls ldp` here
	running   bool             // sending Hellos
	nextHello time.Time
}

func (s *ifState) primary() netip.Addr {
	for _, a := range s.Addrs {
		if a.Addr().Is4() {
			return a.Addr()
		}
	}
	return netip.Addr{}
}

type conn struct {
	id            ConnID
	peer          *peer // nil while a passive connection waits for its Init
	local, remote netip.AddrPort
	// deadline is when a connection without a session is closed: 15 s
	// for its Initialization, then noHelloWait while held is the
	// Initialization waiting for the sender's Hello.
	deadline time.Time
	held     *packet.PDU
}

type fecLabel struct {
	prefix netip.Prefix
	label  uint32
}

type adjacency struct {
	iface     string
	src       netip.Addr
	transport netip.Addr
	hold      time.Duration // negotiated; 0 means infinite
	expires   time.Time     // zero when infinite
	created   time.Time
	received  uint64
}

type peer struct {
	id        netip.Addr
	transport netip.Addr
	adjs      map[string]*adjacency
	active    bool

	state   State
	conn    *conn
	dialing bool
	// nextAttempt is when the session may be tried again; backoff is the
	// initialization backoff (RFC 5036 section 2.5.3), connBackoff the
	// retry of failed TCP connections. awaitRoute: the wait is for a TCP
	// connection that failed, so a route to the transport address ends it.
	nextAttempt  time.Time
	backoff      time.Duration
	connBackoff  time.Duration
	awaitRoute   bool
	attempts     uint64
	initDeadline time.Time

	kaHold           time.Duration
	kaNext, kaExpire time.Time
	maxPDU           int
	peerKA           uint16
	established      time.Time
	kaSent, kaRcvd   uint64
	lastNotification string

	addrs     map[netip.Addr]bool
	recv      map[netip.Prefix]uint32
	sent      map[netip.Prefix]uint32
	withdrawn map[fecLabel]bool
	out       []packet.Message
}

func (p *peer) ldpID() packet.LDPID { return packet.LDPID{LSRID: p.id} }

// New returns a Core with LDP disabled; feed it ConfigChanged,
// InterfacesChanged and RoutesChanged.
func New(alloc Allocator) *Core {
	return &Core{
		alloc:       alloc,
		ifaces:      map[string]*ifState{},
		routes:      map[netip.Prefix]Route{},
		peers:       map[netip.Addr]*peer{},
		conns:       map[ConnID]*conn{},
		fecs:        map[netip.Prefix]*fec{},
		addrOwner:   map[netip.Addr]*peer{},
		pendingFree: map[uint32]int{},
		lsps:        map[netip.Prefix]LSP{},
	}
}

// Config returns the configuration in force.
func (c *Core) Config() Config { return c.cfg }

// Stats returns the counters.
func (c *Core) Stats() Stats { return c.stats }

// LSPs returns the LSPs as last reported, ordered by FEC.
func (c *Core) LSPs() []LSP {
	out := make([]LSP, 0, len(c.lsps))
	for _, k := range sortedPrefixes(maps.Keys(c.lsps)) {
		out = append(out, c.lsps[k])
	}
	return out
}

func (c *Core) ldpID() packet.LDPID { return packet.LDPID{LSRID: c.cfg.LSRID} }

func (c *Core) emit(a Action) { c.out = append(c.out, a) }

func (c *Core) nextMsgID() uint32 {
	c.msgID++
	return c.msgID
}

// Step feeds one event at time now and returns the actions to carry out,
// in order.
func (c *Core) Step(now time.Time, ev Event) []Action {
	c.now = now
	c.out = nil
	switch e := ev.(type) {
	case ConfigChanged:
		c.setConfig(e.Config)
	case InterfacesChanged:
		c.setInterfaces(e.Interfaces)
	case RoutesChanged:
		c.routesChanged(e)
	case Tick:
		c.tick()
	case HelloReceived:
		c.helloReceived(e)
	case ConnAccepted:
		c.connAccepted(e)
	case ConnUp:
		c.connUp(e)
	case ConnFailed:
		c.connFailed(e)
	case PDUReceived:
		c.pduReceived(e)
	case ConnClosed:
		c.connClosed(e)
	case Stop:
		cfg := c.cfg
		cfg.Enabled = false
		c.setConfig(cfg)
	}
	c.flushAll()
	c.flushLSPs()
	return c.out
}

// NextDeadline is when the core next wants a Tick (zero: never).
func (c *Core) NextDeadline() time.Time {
	var d time.Time
	upd := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	for _, s := range c.ifaces {
		if s.running {
			upd(s.nextHello)
		}
	}
	for _, p := range c.peers {
		for _, a := range p.adjs {
			upd(a.expires)
		}
		switch p.state {
		case OpenSent, OpenRec, Initialized:
			upd(p.initDeadline)
		case Operational:
			upd(p.kaNext)
			upd(p.kaExpire)
		case NonExistent:
			if p.active && !p.dialing && len(p.adjs) > 0 {
				upd(p.nextAttempt)
			}
		}
	}
	for _, cn := range c.conns {
		if cn.peer == nil {
			upd(cn.deadline)
		}
	}
	return d
}

func (c *Core) tick() {
	now := c.now
	// Adjacencies whose hold time ran out.
	for _, p := range c.sortedPeers() {
		for _, name := range slices.Sorted(maps.Keys(p.adjs)) {
			a := p.adjs[name]
			if !a.expires.IsZero() && !now.Before(a.expires) {
				delete(p.adjs, name)
			}
		}
		if len(p.adjs) == 0 {
			c.removePeer(p, packet.StatusHoldTimerExpired, "hello hold timer expired")
		}
	}
	// Passive connections that never sent their Init, or whose Init
	// waited in vain for a Hello.
	for _, id := range slices.Sorted(maps.Keys(c.conns)) {
		cn := c.conns[id]
		switch {
		case cn.peer != nil || now.Before(cn.deadline):
		case cn.held != nil:
			c.refuseNoHello(cn, cn.held.Messages[0].(*packet.Init))
		default:
			c.emit(Close{Conn: id})
			delete(c.conns, id)
		}
	}
	// Session timers.
	for _, p := range c.sortedPeers() {
		switch p.state {
		case OpenSent, OpenRec, Initialized:
			if !now.Before(p.initDeadline) {
				c.closeSession(p, nil, "session initialization timed out")
			}
		case Operational:
			if !now.Before(p.kaExpire) {
				c.closeSession(p, &packet.Status{Code: packet.StatusKeepAliveExpired}, "keepalive hold timer expired")
				continue
			}
			if !now.Before(p.kaNext) {
				c.sendKeepAlive(p)
				p.kaNext = now.Add(p.kaHold / 3)
			}
		}
		c.maybeDial(p)
	}
	c.sendDueHellos()
}

// sortedPeers returns the peers ordered by LSR ID. The slice is cached
// until the peer set changes; callers must not keep or modify it.
func (c *Core) sortedPeers() []*peer {
	if c.peerOrder != nil && len(c.peerOrder) == len(c.peers) {
		return c.peerOrder
	}
	ps := slices.Collect(maps.Values(c.peers))
	slices.SortFunc(ps, func(a, b *peer) int { return a.id.Compare(b.id) })
	c.peerOrder = ps
	return ps
}

func sortedPrefixes(keys iter.Seq[netip.Prefix]) []netip.Prefix {
	out := slices.Collect(keys)
	slices.SortFunc(out, comparePrefix)
	return out
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// setConfig applies a configuration. A change of the LSR ID, or disabling
// LDP, ends every session with a Shutdown Notification first.
func (c *Core) setConfig(cfg Config) {
	old := c.cfg
	if old.Enabled && (!cfg.Enabled || cfg.LSRID != old.LSRID) {
		c.stopAll()
	}
	c.cfg = cfg
	c.cfg.Interfaces = slices.Clone(cfg.Interfaces)
	c.applyInterfaces()
	c.recomputeAll()
	c.sendDueHellos()
}

// stopAll tears every session down (Shutdown) and forgets every peer.
func (c *Core) stopAll() {
	for _, p := range c.sortedPeers() {
		c.removePeer(p, packet.StatusShutdown, "LDP stopped")
	}
	for _, id := range slices.Sorted(maps.Keys(c.conns)) {
		c.emit(Close{Conn: id})
		delete(c.conns, id)
	}
	for _, s := range c.ifaces {
		s.running = false
	}
}

// interfaceConfig finds the `mpls ldp` configuration of an interface.
func (c *Core) interfaceConfig(s *ifState) *InterfaceConfig {
	if !c.cfg.Enabled {
		return nil
	}
	for i := range c.cfg.Interfaces {
		ic := &c.cfg.Interfaces[i]
		if strings.EqualFold(ic.Name, s.Name) || (s.VRPName != "" && strings.EqualFold(ic.Name, s.VRPName)) {
			return ic
		}
	}
	return nil
}

// setInterfaces replaces the interface set.
func (c *Core) setInterfaces(list []Interface) {
	seen := map[string]bool{}
	for _, i := range list {
		seen[i.Name] = true
		s := c.ifaces[i.Name]
		if s == nil {
			s = &ifState{}
			c.ifaces[i.Name] = s
		}
		s.Interface = i
		s.Addrs = slices.Clone(i.Addrs)
	}
	for name := range c.ifaces {
		if !seen[name] {
			c.ifaces[name].Up = false
		}
	}
	c.applyInterfaces()
	for name := range c.ifaces {
		if !seen[name] {
			delete(c.ifaces, name)
		}
	}
	c.updateAddresses()
	c.recomputeAll()
	c.sendDueHellos()
}

// applyInterfaces starts Hellos on the LDP interfaces that can send them
// and stops them (dropping their adjacencies) on the others.
func (c *Core) applyInterfaces() {
	for _, name := range slices.Sorted(maps.Keys(c.ifaces)) {
		s := c.ifaces[name]
		s.cfg = c.interfaceConfig(s)
		run := s.cfg != nil && s.Up && s.primary().IsValid() && c.cfg.LSRID.Is4()
		switch {
		case run && !s.running:
			s.running = true
			s.nextHello = c.now
		case !run && s.running:
			s.running = false
			c.dropAdjacencies(name)
		}
	}
}

// dropAdjacencies removes the adjacencies of an interface; a peer left
// without any loses its session.
func (c *Core) dropAdjacencies(iface string) {
	for _, p := range c.sortedPeers() {
		if _, ok := p.adjs[iface]; !ok {
			continue
		}
		delete(p.adjs, iface)
		if len(p.adjs) == 0 {
			c.removePeer(p, packet.StatusShutdown, "interface "+iface+" left LDP")
		}
	}
}

// ifaceByName finds an interface by its name or VRP name.
func (c *Core) ifaceByName(name string) *ifState {
	if s := c.ifaces[name]; s != nil {
		return s
	}
	for _, s := range c.ifaces {
		if strings.EqualFold(s.Name, name) || strings.EqualFold(s.VRPName, name) {
			return s
		}
	}
	return nil
}

// updateAddresses advertises the change of this router's addresses to the
// operational peers (Address and Address Withdraw messages).
func (c *Core) updateAddresses() {
	cur := c.localAddrs()
	added, removed := diffAddrs(c.myAddrs, cur)
	c.myAddrs = cur
	if len(added) == 0 && len(removed) == 0 {
		return
	}
	for _, p := range c.sortedPeers() {
		if p.state != Operational {
			continue
		}
		if len(removed) > 0 {
			c.queue(p, &packet.Address{MsgID: c.nextMsgID(), Withdraw: true, Family: packet.AFIPv4, Addrs: removed})
		}
		if len(added) > 0 {
			c.queue(p, &packet.Address{MsgID: c.nextMsgID(), Family: packet.AFIPv4, Addrs: added})
		}
	}
}

func (c *Core) localAddrs() []netip.Addr {
	set := map[netip.Addr]bool{}
	for _, s := range c.ifaces {
		if !s.Up {
			continue
		}
		for _, a := range s.Addrs {
			if a.Addr().Is4() {
				set[a.Addr()] = true
			}
		}
	}
	return slices.SortedFunc(maps.Keys(set), netip.Addr.Compare)
}

func diffAddrs(old, cur []netip.Addr) (added, removed []netip.Addr) {
	for _, a := range cur {
		if _, ok := slices.BinarySearchFunc(old, a, netip.Addr.Compare); !ok {
			added = append(added, a)
		}
	}
	for _, a := range old {
		if _, ok := slices.BinarySearchFunc(cur, a, netip.Addr.Compare); !ok {
			removed = append(removed, a)
		}
	}
	return added, removed
}

// queue adds a message to a peer's outbox (sent at the end of the step, or
// before the connection closes).
func (c *Core) queue(p *peer, m packet.Message) {
	if p.conn == nil {
		return
	}
	p.out = append(p.out, m)
}

func (c *Core) flush(p *peer) {
	if len(p.out) == 0 || p.conn == nil {
		p.out = nil
		return
	}
	c.emit(Send{Conn: p.conn.id, PDUs: packet.Pack(c.ldpID(), p.maxPDU, p.out)})
	p.out = nil
}

func (c *Core) flushAll() {
	for _, p := range c.sortedPeers() {
		c.flush(p)
	}
}

// RunningInterfaces lists the interfaces Hellos run on, by name, with
// their devices, ordered by name.
func (c *Core) RunningInterfaces() (names, devices []string) {
	for _, name := range slices.Sorted(maps.Keys(c.ifaces)) {
		if s := c.ifaces[name]; s.running {
			names = append(names, name)
			devices = append(devices, s.device())
		}
	}
	return names, devices
}
