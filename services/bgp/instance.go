package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"vpnos/services/policy"
)

// RIBSink receives, in order and from the owner goroutine, what the
// speaker asks of the RIB and the label forwarding table: InstallRoute,
// RemoveRoute, WatchNextHop, UnwatchNextHop, ProgramLabel and RemoveLabel.
// It must not call back into the Service synchronously (answer watches with
// Service.NextHop from another goroutine or after returning).
type RIBSink interface {
	Apply(actions []Action)
}

// ServiceConfig configures a Service.
type ServiceConfig struct {
	Logger *slog.Logger
	// Labels hands out VPN labels (label.Manager).
	Labels LabelAllocator
	// RIB receives routes to install, next hops to watch and labels.
	RIB RIBSink
	// Namespace returns the network namespace path of a routing instance
	// ("" for the namespace the daemon runs in). Nil: everything in the
	// current namespace.
	Namespace func(instance string) string
	// Port is the TCP port (179 when zero; tests may choose another).
	Port int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// ErrStopped is returned by calls made after the Service stopped.
var ErrStopped = errors.New("bgp service stopped")

// Service runs a Speaker in one owner goroutine (Serve) with its sockets:
// a listener per routing instance that has peers, a dialer, a reader and a
// writer goroutine per connection. Every method is a message to the owner
// goroutine (as GoBGP's server does), so the speaker needs no lock.
type Service struct {
	cfg  ServiceConfig
	log  *slog.Logger
	reqs chan func(*Speaker)
	net  chan netEvent
	done chan struct{}
	stop chan struct{}

	// Owned by the Serve goroutine.
	sp        *Speaker
	conns     map[ConnID]*sessionConn
	nextConn  ConnID
	listeners map[string]*listener
	wantLn    map[string]bool
	lnRetry   time.Time
	dialing   map[PeerKey]context.CancelFunc
	wg        sync.WaitGroup
}

// NewService returns a Service; run Serve to start it.
func NewService(cfg ServiceConfig) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Port == 0 {
		cfg.Port = Port
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Namespace == nil {
		cfg.Namespace = func(string) string { return "" }
	}
	return &Service{
		cfg: cfg, log: cfg.Logger,
		reqs: make(chan func(*Speaker)), net: make(chan netEvent, 1024),
		done: make(chan struct{}), stop: make(chan struct{}),
		sp: NewSpeaker(cfg.Labels), conns: map[ConnID]*sessionConn{}, nextConn: 1,
		listeners: map[string]*listener{}, wantLn: map[string]bool{}, dialing: map[PeerKey]context.CancelFunc{},
	}
}

// maxBatch bounds how many network events go into one Step.
const maxBatch = 256

// listenRetry is how often a listener that could not open is tried again
// (its namespace or address may appear later).
const listenRetry = 2 * time.Second

// Serve runs until ctx ends; then every session is closed with Cease /
// Administrative Shutdown.
func (s *Service) Serve(ctx context.Context) error {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.armTimer(timer)
		select {
		case <-ctx.Done():
			s.shutdown()
			return ctx.Err()
		case fn := <-s.reqs:
			fn(s.sp)
		case ev := <-s.net:
			evs := s.netEvents(nil, ev)
		drain:
			for len(evs) < maxBatch {
				select {
				case ev := <-s.net:
					evs = s.netEvents(evs, ev)
				default:
					break drain
				}
			}
			if len(evs) > 0 {
				s.run(evs...)
			}
		case <-timer.C:
			s.run(Tick{})
			if len(s.wantLn) > len(s.listeners) && !s.cfg.Now().Before(s.lnRetry) {
				s.openListeners()
			}
		}
	}
}

func (s *Service) armTimer(t *time.Timer) {
	d := s.sp.NextDeadline()
	if len(s.wantLn) > len(s.listeners) && (d.IsZero() || s.lnRetry.Before(d)) {
		d = s.lnRetry
	}
	wait := time.Hour
	if !d.IsZero() {
		wait = d.Sub(s.cfg.Now())
		if wait < 0 {
			wait = 0
		}
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(wait)
}

// run steps the speaker and carries out its actions.
func (s *Service) run(evs ...Event) {
	acts := s.sp.Step(s.cfg.Now(), evs...)
	s.execute(acts)
}

func (s *Service) execute(acts []Action) {
	var rib []Action
	for _, a := range acts {
		switch a := a.(type) {
		case Dial:
			s.startDial(a)
		case Send:
			if c := s.conns[a.Conn]; c != nil {
				c.send(a.Msgs)
			}
		case CloseConn:
			if c := s.conns[a.Conn]; c != nil {
				c.close()
				delete(s.conns, a.Conn)
			}
		case PeerStateChange:
			s.log.Info("bgp peer state", "peer", a.Peer.String(), "from", a.From.String(), "to", a.To.String(), "reason", a.Reason)
		case Log:
			s.log.Log(context.Background(), a.Level, "bgp: "+a.Msg, "peer", a.Peer.String())
		case InstallRoute, RemoveRoute, WatchNextHop, UnwatchNextHop, ProgramLabel, RemoveLabel:
			rib = append(rib, a)
		}
	}
	if len(rib) > 0 && s.cfg.RIB != nil {
		s.cfg.RIB.Apply(rib)
	}
}

func (s *Service) startDial(d Dial) {
	if _, busy := s.dialing[d.Peer]; busy {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.dialing[d.Peer] = cancel
	ns := s.cfg.Namespace(d.Instance)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c, err := dial(ctx, ns, d, s.cfg.Port)
		select {
		case s.net <- evDialed{peer: d.Peer, conn: c, err: err}:
		case <-s.stop:
			if c != nil {
				c.Close()
			}
		}
	}()
}

// netEvents turns a socket event into speaker events.
func (s *Service) netEvents(evs []Event, ev netEvent) []Event {
	switch e := ev.(type) {
	case evRead:
		return append(evs, Received{Conn: e.id, Data: e.data})
	case evReadErr:
		if _, ok := s.conns[e.id]; ok {
			return append(evs, Closed{Conn: e.id, Err: e.err})
		}
	case evDialed:
		if cancel := s.dialing[e.peer]; cancel != nil {
			cancel()
			delete(s.dialing, e.peer)
		}
		if e.err != nil {
			return append(evs, ConnectFailed{Peer: e.peer, Err: e.err})
		}
		return append(evs, s.adopt(e.peer, e.conn, true))
	case evAccepted:
		remote := addrOf(e.conn.RemoteAddr())
		k := PeerKey{Instance: e.instance, Addr: remote}
		if ttl := s.peerTTL(k); ttl > 0 {
			if rc, err := e.conn.SyscallConn(); err == nil {
				_ = setTTL(rc, ttl)
			}
		}
		return append(evs, s.adopt(k, e.conn, false))
	case evListenErr:
		s.log.Warn("bgp listener failed", "instance", e.instance, "err", e.err)
		if l := s.listeners[e.instance]; l != nil {
			l.ln.Close()
			delete(s.listeners, e.instance)
		}
		s.lnRetry = s.cfg.Now().Add(listenRetry)
	}
	return evs
}

// peerTTL is the TTL an accepted connection of a peer uses.
func (s *Service) peerTTL(k PeerKey) int {
	p := s.sp.peers[k]
	if p == nil {
		return 0
	}
	return int(s.sp.dial(p).TTL)
}

func (s *Service) adopt(k PeerKey, conn *net.TCPConn, outgoing bool) Event {
	id := s.nextConn
	s.nextConn++
	sc := newSessionConn(id, k, conn)
	s.conns[id] = sc
	sc.start(s.net, s.stop)
	return Connected{Peer: k, Conn: id, Outgoing: outgoing, Local: addrOf(conn.LocalAddr()), Remote: addrOf(conn.RemoteAddr())}
}

// openListeners opens the listeners wanted and closes the others.
func (s *Service) openListeners() {
	for name, l := range s.listeners {
		if !s.wantLn[name] {
			l.ln.Close()
			delete(s.listeners, name)
		}
	}
	failed := false
	for _, name := range sortedNames(s.wantLn) {
		if s.listeners[name] != nil {
			continue
		}
		ln, err := listen(s.cfg.Namespace(name), s.cfg.Port)
		if err != nil {
			s.log.Warn("bgp cannot listen", "instance", name, "err", err)
			failed = true
			continue
		}
		l := &listener{instance: name, ln: ln}
		s.listeners[name] = l
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			l.run(s.net, s.stop)
		}()
	}
	if failed {
		s.lnRetry = s.cfg.Now().Add(listenRetry)
	}
}

func (s *Service) shutdown() {
	s.run(Shutdown{})
	for _, l := range s.listeners {
		l.ln.Close()
	}
	for _, cancel := range s.dialing {
		cancel()
	}
	for _, c := range s.conns {
		c.close()
	}
	close(s.stop)
	// Writers flush their queues (NOTIFICATIONs) and close.
	deadline := time.After(2 * time.Second)
	for _, c := range s.conns {
		select {
		case <-c.done:
		case <-deadline:
		}
	}
	s.wg.Wait()
}

// call runs fn on the owner goroutine.
func (s *Service) call(ctx context.Context, fn func(*Speaker)) error {
	done := make(chan struct{})
	req := func(sp *Speaker) {
		fn(sp)
		close(done)
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrStopped
	}
	select {
	case <-done:
		return nil
	case <-s.done:
		return ErrStopped
	}
}

// SetConfig applies a configuration (see Config); sessions whose settings
// changed restart, listeners open in the instances that have peers.
func (s *Service) SetConfig(ctx context.Context, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.call(ctx, func(sp *Speaker) {
		s.run(SetConfig{Config: c})
		want := map[string]bool{}
		if c.AS != 0 {
			for _, p := range c.Peers {
				want[normInstance(p.Instance)] = true
			}
		}
		s.wantLn = want
		s.openListeners()
	})
}

// NextHop reports the RIB's view of a watched next hop.
func (s *Service) NextHop(ctx context.Context, st NextHopState) error {
	return s.call(ctx, func(*Speaker) { s.run(st) })
}

// NextHops reports the RIB's view of several watched next hops.
func (s *Service) NextHops(ctx context.Context, sts ...NextHopState) error {
	evs := make([]Event, len(sts))
	for i := range sts {
		evs[i] = sts[i]
	}
	return s.call(ctx, func(*Speaker) { s.run(evs...) })
}

// SetPolicies hands the speaker the routing policies (the policy owner's
// current set); what uses a policy that changed is refreshed.
func (s *Service) SetPolicies(ctx context.Context, set *policy.Set) error {
	return s.call(ctx, func(*Speaker) { s.run(SetPolicies{Set: set}) })
}

// RIBRoutes reports active RIB routes (or their removal) that BGP may
// originate with network or import-route.
func (s *Service) RIBRoutes(ctx context.Context, rs ...RIBRoute) error {
	evs := make([]Event, len(rs))
	for i := range rs {
		evs[i] = rs[i]
	}
	return s.call(ctx, func(*Speaker) { s.run(evs...) })
}

// Reset restarts sessions (`reset bgp all` with nil, or the peers given).
func (s *Service) Reset(ctx context.Context, peers []PeerKey) error {
	return s.call(ctx, func(*Speaker) { s.run(ResetPeers{Peers: peers}) })
}

// Refresh is `refresh bgp [PEER] import|export`.
func (s *Service) Refresh(ctx context.Context, peers []PeerKey, importRoutes, exportRoutes bool) error {
	return s.call(ctx, func(*Speaker) { s.run(RefreshPeers{Peers: peers, Import: importRoutes, Export: exportRoutes}) })
}

// Peers returns the peers' state.
func (s *Service) Peers(ctx context.Context) ([]PeerSnapshot, error) {
	var out []PeerSnapshot
	err := s.call(ctx, func(sp *Speaker) { out = sp.Peers() })
	return out, err
}

// Routes returns an instance's BGP table (filter: one prefix, when valid).
func (s *Service) Routes(ctx context.Context, instance string, filter netip.Prefix) ([]RouteSnapshot, error) {
	var out []RouteSnapshot
	err := s.call(ctx, func(sp *Speaker) { out = sp.Routes(instance, filter) })
	return out, err
}

// VPNRoutes returns the VPNv4 table.
func (s *Service) VPNRoutes(ctx context.Context, filter netip.Prefix) ([]RouteSnapshot, error) {
	var out []RouteSnapshot
	err := s.call(ctx, func(sp *Speaker) { out = sp.VPNRoutes(filter) })
	return out, err
}

// Stats counts a table (see Speaker.Stats).
func (s *Service) Stats(ctx context.Context, instance string, vpn bool) (TableStats, error) {
	var out TableStats
	err := s.call(ctx, func(sp *Speaker) { out = sp.Stats(instance, vpn) })
	return out, err
}

// InstanceLabel returns the label a VPN instance uses.
func (s *Service) InstanceLabel(ctx context.Context, instance string) (uint32, error) {
	var out uint32
	err := s.call(ctx, func(sp *Speaker) { out = sp.InstanceLabel(instance) })
	return out, err
}

func (s *Service) String() string { return fmt.Sprintf("bgp service (%d connections)", len(s.conns)) }
