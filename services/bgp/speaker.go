package bgp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"vpnos/services/bgp/packet"
	"vpnos/services/policy"
)

const logWarn = slog.LevelWarn

// LabelAllocator hands out VPN labels (label.Manager implements it).
type LabelAllocator interface {
	Allocate(owner string) (uint32, error)
	Free(label uint32, owner string) error
}

// Event is an input of the Speaker.
type Event interface{ event() }

// SetConfig replaces the configuration; the speaker applies the difference.
type SetConfig struct{ Config Config }

// Connected reports a TCP connection to or from a peer: Outgoing for one
// the speaker asked for (Dial), else accepted on a listener of the peer's
// instance. Local is the connection's local address (the next hop sent to
// EBGP peers and with next-hop-local).
type Connected struct {
	Peer     PeerKey
	Conn     ConnID
	Outgoing bool
	Local    netip.Addr
	Remote   netip.Addr
}

// ConnectFailed reports that a Dial did not connect.
type ConnectFailed struct {
	Peer PeerKey
	Err  error
}

// Closed reports that a connection ended (read error, reset, EOF).
type Closed struct {
	Conn ConnID
	Err  error
}

// Received is one whole message read from a connection (header included,
// framed with packet.ParseHeader).
type Received struct {
	Conn ConnID
	Data []byte
}

// Tick lets timers run (send it at NextDeadline).
type Tick struct{}

// NextHopState is the RIB's answer for a watched next hop (WatchNextHop):
// whether it resolves in Instance, the IGP cost to it, and whether an LSP
// leads to it (tunnel iteration for VPN routes).
type NextHopState struct {
	Instance  string
	Addr      netip.Addr
	Reachable bool
	Tunnel    bool
	Cost      uint32
}

// RIBRoute is an active route of the RIB that BGP may originate (`network`
// or `import-route`): every active route of the instances BGP runs in,
// except BGP's own. Delete removes it.
type RIBRoute struct {
	Instance string
	Prefix   netip.Prefix
	Protocol Protocol
	Cost     uint32
	NextHops []NextHop
	Delete   bool
	// Reset forgets every RIB route of Instance (the routes stop being
	// followed); the other fields are ignored.
	Reset bool
}

// ResetPeers is `reset bgp`: the sessions of Peers (all when nil) restart
// (Cease / Administrative Reset). With nil Peers (`reset bgp all`), a
// system router ID that changed while the speaker ran takes effect.
type ResetPeers struct{ Peers []PeerKey }

// RefreshPeers is `refresh bgp`: Import asks the peers for their routes
// again (ROUTE-REFRESH), Export sends them ours again.
type RefreshPeers struct {
	Peers          []PeerKey
	Import, Export bool
}

// Shutdown stops every session with Cease / Administrative Shutdown (the
// daemon is stopping); the configuration stays.
type Shutdown struct{}

func (Shutdown) event()      {}
func (SetConfig) event()     {}
func (Connected) event()     {}
func (ConnectFailed) event() {}
func (Closed) event()        {}
func (Received) event()      {}
func (Tick) event()          {}
func (NextHopState) event()  {}
func (RIBRoute) event()      {}
func (ResetPeers) event()    {}
func (RefreshPeers) event()  {}

// Action is an output of the Speaker.
type Action interface{ action() }

// Dial asks for a TCP connection to Remote port 179 from Source (invalid:
// any) inside Instance's namespace, with the IP TTL given. Report the
// outcome with Connected or ConnectFailed.
type Dial struct {
	Peer     PeerKey
	Instance string
	Remote   netip.Addr
	Source   netip.Addr
	TTL      uint8
}

// Send writes whole messages to a connection, in order. The byte slices
// may be shared between connections and must not be changed.
type Send struct {
	Conn ConnID
	Peer PeerKey
	Msgs [][]byte
}

// CloseConn closes a connection (after the Sends before it).
type CloseConn struct{ Conn ConnID }

// PeerStateChange reports a session state change.
type PeerStateChange struct {
	Peer     PeerKey
	From, To State
	Reason   string
}

// InstallRoute adds or replaces BGP's route to Route.Prefix in Instance's
// RIB (protocol IBGP or EBGP, preference 255).
type InstallRoute struct {
	Instance string
	Route    Route
}

// RemoveRoute removes BGP's route to Prefix from Instance's RIB.
type RemoveRoute struct {
	Instance string
	Prefix   netip.Prefix
}

// WatchNextHop asks the RIB to track a next hop and to answer with
// NextHopState now and whenever its reachability, cost or tunnel changes.
type WatchNextHop struct {
	Instance string
	Addr     netip.Addr
}

// UnwatchNextHop ends the tracking of a next hop.
type UnwatchNextHop struct {
	Instance string
	Addr     netip.Addr
}

// ProgramLabel installs an incoming VPN label: pop it and look the packet up
// in Instance (Prefix is set for a per-route label, for displays).
type ProgramLabel struct {
	Label    uint32
	Instance string
	Prefix   netip.Prefix
}

// RemoveLabel removes an incoming VPN label.
type RemoveLabel struct {
	Label    uint32
	Instance string
}

// Log is a message for the log (the core has no logger).
type Log struct {
	Level slog.Level
	Peer  PeerKey
	Msg   string
}

func (Dial) action()            {}
func (Send) action()            {}
func (CloseConn) action()       {}
func (PeerStateChange) action() {}
func (InstallRoute) action()    {}
func (RemoveRoute) action()     {}
func (WatchNextHop) action()    {}
func (UnwatchNextHop) action()  {}
func (ProgramLabel) action()    {}
func (RemoveLabel) action()     {}
func (Log) action()             {}

// Route is a route BGP installs in an instance's RIB.
type Route struct {
	Prefix netip.Prefix
	// EBGP: protocol EBGP, else IBGP (both preference 255).
	EBGP       bool
	Preference uint32
	// MED is shown as the route's cost.
	MED      uint32
	NextHops []NextHop
}

// NextHop is a next hop of a Route (and of a RIBRoute).
type NextHop struct {
	Gateway netip.Addr
	// Interface is set for directly attached routes (a RIB input).
	Interface string
	// Instance is where Gateway resolves: "" the route's own instance,
	// PublicInstance for a VPN route whose next hop is a remote PE,
	// another VPN instance for local crossing.
	Instance string
	// Label is the VPN label to push below the tunnel's labels (0: none).
	Label uint32
	// Tunnel: Gateway must be reached through an LSP.
	Tunnel bool
}

// family index for per-family peer state.
func famIdx(f packet.Family) int {
	if f == packet.VPNv4 {
		return 1
	}
	return 0
}

var famByIdx = [2]packet.Family{packet.IPv4Unicast, packet.VPNv4}

// peer is the speaker's state of one configured peer.
type peer struct {
	key  PeerKey
	cfg  Peer
	inst *instance
	sess *session
	ebgp bool

	// Established session.
	up       bool
	conn     ConnID
	neg      *Negotiated
	local    netip.Addr
	remoteID uint32
	groups   [2]*group
	pending  [2]bool // a full table dump is due after the flush
	// readv: what the peer was sent must be re-evaluated (its export
	// policies or settings changed) after the flush.
	readv [2]*readvertise

	// Counters for displays.
	prefixes       [2]int
	msgIn, msgOut  uint64
	updIn, updOut  uint64
	upSince        time.Time
	lastState      State
	lastError      string
	establishedCnt int
	stats          peerStats
}

func (p *peer) af(f packet.Family) PeerAF { return p.cfg.AF[f] }

func (p *peer) client(f packet.Family) bool { return p.cfg.AF[f].ReflectClient }

// instance is a routing instance BGP works in: the public one or a VPN
// instance.
type instance struct {
	name   string
	vpn    *Instance  // nil for the public instance
	af     *UnicastAF // BGP's family block (nil: none)
	routes *table[packet.Prefix]
	rib    map[packet.Prefix]RIBRoute
	// labels: the per-instance label in use, per-route labels.
	label       uint32
	routeLabels map[packet.Prefix]uint32
	exported    int
	imports     map[packet.ExtCommunity]bool
	// dying: removed by configuration; its routes are withdrawn in the
	// current step, then it is dropped.
	dying bool
}

func (in *instance) maxPaths() int {
	if in.af == nil || in.af.MaxLoadBalancing < 1 {
		return 1
	}
	return in.af.MaxLoadBalancing
}

func (in *instance) importsAny(rts []packet.ExtCommunity) bool {
	for _, rt := range rts {
		if in.imports[rt] {
			return true
		}
	}
	return false
}

// Speaker is the pure BGP core: sessions (one FSM per peer), the RIBs,
// best path, VPN import and export, route reflection and update groups.
// Step takes one event at a time with the current time and returns the
// actions; it does no I/O, starts no goroutine and reads no clock. One
// owner goroutine (Instance) drives it.
type Speaker struct {
	cfg      Config
	routerID uint32
	// nextRouterID is the system router ID the speaker takes at `reset
	// bgp all` (invalid: none waiting); cfg.RouterID is the running one.
	nextRouterID netip.Addr
	labels       LabelAllocator

	peers map[PeerKey]*peer
	conns map[ConnID]*peer
	insts map[string]*instance
	dying []*instance
	// vpnList caches the VPN instances sorted by name (nil: rebuild).
	vpnList []*instance
	vpn     *table[packet.VPNPrefix]
	attrs   interner
	nhs     map[nhKey]*nexthop

	groups map[groupKey]*group
	// pol are the routing policies (SetPolicies; nil: none yet).
	pol *policy.Set

	out []Action
	now time.Time
}

// NewSpeaker returns a speaker without configuration (BGP disabled).
// labels may be nil when no VPN instance will export routes.
func NewSpeaker(labels LabelAllocator) *Speaker {
	s := &Speaker{
		labels: labels,
		peers:  map[PeerKey]*peer{},
		conns:  map[ConnID]*peer{},
		insts:  map[string]*instance{},
		vpn:    newTable(compareVPN),
		attrs:  interner{sets: map[string]*attrSet{}},
		nhs:    map[nhKey]*nexthop{},
		groups: map[groupKey]*group{},
	}
	return s
}

// Step runs events and returns the actions they cause. Timers are deadlines
// checked against now on every step (send Tick at NextDeadline).
func (s *Speaker) Step(now time.Time, evs ...Event) []Action {
	s.out = nil
	s.now = now
	for _, ev := range evs {
		s.handle(ev)
	}
	s.tickSessions()
	s.flush()
	out := s.out
	s.out = nil
	return out
}

// NextDeadline is when the next timer runs out (zero: none running).
func (s *Speaker) NextDeadline() time.Time {
	var d time.Time
	for _, p := range s.peers {
		t := p.sess.nextDeadline()
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

func (s *Speaker) emit(a Action) { s.out = append(s.out, a) }

func (s *Speaker) logf(level slog.Level, p PeerKey, format string, args ...any) {
	s.emit(Log{Level: level, Peer: p, Msg: fmt.Sprintf(format, args...)})
}

func (s *Speaker) handle(ev Event) {
	switch e := ev.(type) {
	case SetConfig:
		s.setConfig(e.Config)
	case SetPolicies:
		s.setPolicies(e.Set)
	case Connected:
		p := s.peers[e.Peer]
		if p == nil {
			// Nobody configured at that address: refuse.
			s.emit(CloseConn{Conn: e.Conn})
			return
		}
		s.conns[e.Conn] = p
		if e.Local.IsValid() {
			p.local = e.Local
		}
		s.runFSM(p, evConnected{Conn: e.Conn, Outgoing: e.Outgoing}, e.Local)
	case ConnectFailed:
		if p := s.peers[e.Peer]; p != nil {
			if e.Err != nil {
				p.lastError = e.Err.Error()
			}
			s.runFSM(p, evConnectFailed{Err: e.Err}, netip.Addr{})
		}
	case Closed:
		if p := s.conns[e.Conn]; p != nil {
			s.runFSM(p, evClosed{Conn: e.Conn, Err: e.Err}, netip.Addr{})
		}
	case Received:
		s.receive(e.Conn, e.Data)
	case Tick:
		// Timers run in tickSessions after every step.
	case Shutdown:
		for _, p := range s.selectPeers(nil) {
			s.runFSM(p, evStop{Subcode: packet.SubAdminShutdown}, netip.Addr{})
		}
	case NextHopState:
		s.nextHopState(e)
	case RIBRoute:
		s.ribRoute(e)
	case ResetPeers:
		for _, p := range s.selectPeers(e.Peers) {
			if !p.cfg.Ignore {
				s.runFSM(p, evStop{Subcode: packet.SubAdminReset, Restart: true}, netip.Addr{})
			}
		}
		if e.Peers == nil {
			// The sessions start again with a new system router ID.
			s.takeRouterID()
		}
	case RefreshPeers:
		for _, p := range s.selectPeers(e.Peers) {
			if !p.up {
				continue
			}
			for _, f := range p.neg.Families {
				if e.Import && p.neg.RouteRefresh {
					s.send(p, packet.EncodeRouteRefresh(f))
				}
				if e.Export {
					p.pending[famIdx(f)] = true
				}
			}
		}
	}
}

func (s *Speaker) selectPeers(keys []PeerKey) []*peer {
	var out []*peer
	if keys == nil {
		for _, k := range s.sortedPeerKeys() {
			out = append(out, s.peers[k])
		}
		return out
	}
	for _, k := range keys {
		k.Instance = normInstance(k.Instance)
		if p := s.peers[k]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

func (s *Speaker) sortedPeerKeys() []PeerKey {
	keys := make([]PeerKey, 0, len(s.peers))
	for k := range s.peers {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePeerKey)
	return keys
}

func comparePeerKey(a, b PeerKey) int {
	if a.Instance != b.Instance {
		if a.Instance < b.Instance {
			return -1
		}
		return 1
	}
	return a.Addr.Compare(b.Addr)
}

func (s *Speaker) tickSessions() {
	for _, k := range s.sortedPeerKeys() {
		p := s.peers[k]
		d := p.sess.nextDeadline()
		if !d.IsZero() && !s.now.Before(d) {
			s.runFSM(p, evTick{}, netip.Addr{})
		}
	}
}

func (s *Speaker) send(p *peer, msgs ...[]byte) {
	if !p.up || len(msgs) == 0 {
		return
	}
	p.msgOut += uint64(len(msgs))
	p.stats.sent(s.now, msgs)
	s.emit(Send{Conn: p.conn, Peer: p.key, Msgs: msgs})
}

// runFSM feeds the peer's FSM and turns its actions into the speaker's.
func (s *Speaker) runFSM(p *peer, ev fsmEvent, local netip.Addr) {
	for _, a := range p.sess.step(s.now, ev) {
		switch a := a.(type) {
		case actDial:
			s.emit(s.dial(p))
		case actSend:
			s.emit(Send{Conn: a.Conn, Peer: p.key, Msgs: [][]byte{a.Data}})
			p.msgOut++
			p.stats.sent(s.now, [][]byte{a.Data})
		case actClose:
			delete(s.conns, a.Conn)
			s.emit(CloseConn{Conn: a.Conn})
		case actState:
			p.lastState = a.To
			p.stats.state(s.now, a.From)
			s.emit(PeerStateChange{Peer: p.key, From: a.From, To: a.To, Reason: p.sess.lastError})
		case actUp:
			s.peerUp(p, a.Neg)
		case actDown:
			s.peerDown(p, a.Reason)
		case actDeliver:
			switch m := a.Msg.(type) {
			case *packet.Update:
				p.updIn++
				s.update(p, m)
			case *packet.RouteRefresh:
				if p.neg.Has(m.Family) && m.Subtype == 0 {
					p.pending[famIdx(m.Family)] = true
				}
			}
		}
	}
}

func (s *Speaker) dial(p *peer) Dial {
	ttl := uint8(255)
	if p.ebgp {
		ttl = 1
		if p.cfg.EBGPMaxHop > 0 {
			ttl = p.cfg.EBGPMaxHop
		}
	}
	return Dial{Peer: p.key, Instance: p.key.Instance, Remote: p.key.Addr, Source: p.cfg.SourceAddr, TTL: ttl}
}

// receive decodes a message with what the connection negotiated and runs
// it through the FSM. Nothing a peer sends can do more than end its own
// session.
func (s *Speaker) receive(conn ConnID, data []byte) {
	p := s.conns[conn]
	if p == nil {
		return
	}
	p.msgIn++
	p.stats.received(s.now, data)
	opt := packet.Options{EBGP: p.ebgp, MultiFamily: p.cfg.AF[packet.VPNv4].Enabled}
	if c := p.sess.conn(conn); c != nil && c.open != nil {
		opt.AS4 = c.open.Caps.AS4
	}
	m, err := packet.Decode(data, opt)
	if err != nil {
		perr, ok := err.(*packet.Error)
		if !ok {
			perr = &packet.Error{Code: packet.ErrUpdate, Subcode: packet.SubMalformedAttrList, Reason: err.Error()}
		}
		s.logf(slog.LevelWarn, p.key, "malformed message: %v", perr)
		s.runFSM(p, evBadMessage{Conn: conn, Err: perr}, netip.Addr{})
		return
	}
	s.runFSM(p, evMessage{Conn: conn, Msg: m}, netip.Addr{})
}

// peerUp joins an Established peer to its update groups; the full dump is
// sent after this step's changes (flush).
func (s *Speaker) peerUp(p *peer, neg *Negotiated) {
	p.up, p.neg, p.conn = true, neg, neg.Conn
	p.remoteID = packet.Addr32(neg.PeerID)
	p.upSince = s.now
	p.establishedCnt++
	p.lastError = ""
	for _, f := range neg.Families {
		p.pending[famIdx(f)] = true
	}
	s.logf(slog.LevelInfo, p.key, "session established (hold %s, families %v)", neg.HoldTime, neg.Families)
}

// peerDown withdraws everything the peer sent and leaves its groups.
func (s *Speaker) peerDown(p *peer, reason string) {
	if !p.up {
		return
	}
	s.logf(slog.LevelInfo, p.key, "session down: %s", reason)
	p.up = false
	p.lastError = reason
	for i := range p.groups {
		if g := p.groups[i]; g != nil {
			s.leaveGroup(p, g)
			p.groups[i] = nil
		}
		p.pending[i] = false
		p.readv[i] = nil
	}
	s.dropPeerPaths(p)
	p.neg, p.conn = nil, 0
	p.upSince = time.Time{}
}

// dropPeerPaths removes every path learned from p.
func (s *Speaker) dropPeerPaths(p *peer) {
	t := p.inst.routes
	for k, d := range t.dests {
		for i := 0; i < len(d.paths); i++ {
			if d.paths[i].kind == kindPeer && d.paths[i].src == p {
				probe := d.paths[i]
				s.removeUnicast(p.inst, k, &probe)
				i--
				if len(d.paths) == 0 {
					break
				}
			}
		}
	}
	if p.inst.vpn == nil {
		for k, d := range s.vpn.dests {
			for i := 0; i < len(d.paths); i++ {
				if d.paths[i].kind == kindPeer && d.paths[i].src == p {
					probe := d.paths[i]
					s.removeVPN(k, &probe)
					i--
					if len(d.paths) == 0 {
						break
					}
				}
			}
		}
	}
	p.prefixes = [2]int{}
}
