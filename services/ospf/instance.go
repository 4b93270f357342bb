// Package ospf runs OSPFv2 processes (RFC 2328) for vpnos: one owner
// goroutine per process (Instance) drives the pure protocol engine of
// services/ospf/core with the interfaces of its routing instance, the
// routes offered for redistribution and the packets of its raw sockets
// (net.go), and hands the routes it computes to a RouteSink (the RIB).
//
// Layout:
//
//   - packet/: the wire format (RFC 2328 appendix A).
//   - core/: the protocol as pure code (state machines, flooding, SPF).
//   - config.go: Config, the typed configuration of one process, and its
//     pure resolution against the interfaces (networks, wildcards, costs).
//   - instance.go: Instance, the owner goroutine; every method is a
//     message to it.
//   - net.go: raw IP protocol 89 sockets inside a network namespace.
//   - snapshot.go: the state the `display ospf` commands render.
package ospf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/ospf/core"
	"vpnos/services/ospf/packet"
	"vpnos/services/rib"
)

// RouteSink receives the routes of a process: the complete set each time
// it changes (an empty set withdraws them all). *rib.Service gets an
// adapter in the integration.
type RouteSink interface {
	SyncRoutes(ctx context.Context, instance string, routes []rib.Route) error
}

// Sockets opens the OSPF sockets of a routing instance (RawSockets does it
// with raw sockets in a namespace; tests use fakes).
type Sockets interface {
	// Open opens the socket of one interface. Packets received on it are
	// passed to deliver (from another goroutine) until Close.
	Open(ifname string, deliver func(Packet)) (Conn, error)
}

// Conn is the socket of one interface.
type Conn interface {
	// Send sends an OSPF packet (the IP payload) to dst from src with
	// TTL 1.
	Send(dst, src netip.Addr, payload []byte) error
	Join(group netip.Addr) error
	Leave(group netip.Addr) error
	Close() error
}

// Packet is a received OSPF packet.
type Packet struct {
	Iface    string
	Src, Dst netip.Addr
	// Data is the IP payload.
	Data []byte
}

// Deps are what an Instance uses.
type Deps struct {
	// Sockets opens the sockets (nil: none; tests drive packets in with
	// Deliver).
	Sockets Sockets
	// Routes receives the computed routes (required).
	Routes RouteSink
	Log    *slog.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// RetryInterval is how long a failed socket or route sync waits
	// before the next try (default 1s).
	RetryInterval time.Duration
}

// ErrStopped is returned by calls after the instance stopped.
var ErrStopped = errors.New("ospf process stopped")

// Instance is one OSPF process. Run is its owner goroutine; the methods are
// messages to it and wait for their answer.
type Instance struct {
	d     Deps
	reqs  chan func(*state)
	recv  chan Packet
	done  chan struct{}
	start chan struct{}
	once  sync.Once

	mu      sync.Mutex
	dropped uint64 // received packets dropped because the queue was full

	cfg Config
}

// state is owned by the Run goroutine.
type state struct {
	cfg      Config
	routerID netip.Addr
	core     *core.Core
	ifs      map[string]Interface
	redist   []RedistRoute
	conns    map[string]Conn
	failed   map[string]bool // sockets to retry
	started  time.Time
	lastSync []rib.Route
	syncer   *syncer
	// resync: a socket went stale (its device was re-created); reopen.
	resync bool
}

// recvQueue bounds the received packets waiting for the owner goroutine.
const recvQueue = 1024

// New checks cfg and returns an instance; Run starts it.
func New(cfg Config, d Deps) (*Instance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Routes == nil {
		return nil, errors.New("ospf: no route sink")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.RetryInterval <= 0 {
		d.RetryInterval = time.Second
	}
	d.Log = d.Log.With("ospf", cfg.Process)
	return &Instance{
		d:    d,
		reqs: make(chan func(*state)),
		recv: make(chan Packet, recvQueue),
		done: make(chan struct{}),
		cfg:  cfg,
	}, nil
}

// Instance is the routing instance the process runs in (fibapi.Public for
// the public one).
func (in *Instance) Instance() string {
	if in.cfg.VPNInstance == "" {
		return fibapi.Public
	}
	return in.cfg.VPNInstance
}

// Deliver hands a received packet to the process (what the sockets do; it
// never blocks: when the queue is full the packet is dropped and counted).
func (in *Instance) Deliver(p Packet) {
	select {
	case in.recv <- p:
	default:
		in.mu.Lock()
		in.dropped++
		in.mu.Unlock()
	}
}

// Run is the owner goroutine; it returns when ctx ends, after closing the
// sockets and withdrawing the routes.
func (in *Instance) Run(ctx context.Context) error {
	defer close(in.done)
	st := &state{
		cfg:     in.cfg,
		ifs:     map[string]Interface{},
		conns:   map[string]Conn{},
		failed:  map[string]bool{},
		started: in.d.Now(),
	}
	sctx, cancelSync := context.WithCancel(context.WithoutCancel(ctx))
	st.syncer = newSyncer(in.d.Routes, in.Instance(), in.d.Log, in.d.RetryInterval)
	syncDone := make(chan struct{})
	go func() { defer close(syncDone); st.syncer.run(sctx) }()
	defer func() {
		for name, c := range st.conns {
			_ = c.Close()
			delete(st.conns, name)
		}
		// Withdraw everything, then stop the syncer.
		st.syncer.push(nil)
		st.syncer.flush(2 * time.Second)
		cancelSync()
		<-syncDone
	}()
	in.restart(st)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	retry := time.NewTicker(in.d.RetryInterval)
	defer retry.Stop()
	for {
		in.arm(st, timer)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case f := <-in.reqs:
			f(st)
		case p := <-in.recv:
			in.step(st, core.Receive{Iface: p.Iface, Src: p.Src, Dst: p.Dst, Data: p.Data})
			// Take what else is queued before recomputing timers.
			for range 64 {
				select {
				case p := <-in.recv:
					in.step(st, core.Receive{Iface: p.Iface, Src: p.Src, Dst: p.Dst, Data: p.Data})
					continue
				default:
				}
				break
			}
		case <-timer.C:
			in.step(st, core.Tick{})
		case <-retry.C:
			if len(st.failed) > 0 {
				in.sync(st)
			}
		}
	}
}

func (in *Instance) arm(st *state, t *time.Timer) {
	d := time.Hour
	if st.core != nil {
		if next := st.core.NextDeadline(); !next.IsZero() {
			d = max(0, next.Sub(in.d.Now()))
		}
	}
	t.Reset(d)
}

// call runs f on the owner goroutine.
func (in *Instance) call(ctx context.Context, f func(*state)) error {
	reply := make(chan struct{})
	select {
	case in.reqs <- func(st *state) { f(st); close(reply) }:
	case <-in.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
		return nil
	case <-in.done:
		return ErrStopped
	}
}

// SetConfig applies a new configuration. A new router ID, VPN instance or
// process ID is refused: those need a new Instance (`undo ospf`, then
// `ospf`), or Reset for a router ID to take effect, as on VRP.
func (in *Instance) SetConfig(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Process != in.cfg.Process || cfg.VPNInstance != in.cfg.VPNInstance {
		return fmt.Errorf("%w: process %d in %q cannot become process %d in %q", ErrConfig, in.cfg.Process, in.cfg.VPNInstance, cfg.Process, cfg.VPNInstance)
	}
	return in.call(ctx, func(st *state) {
		st.cfg = cfg
		in.step(st, core.SetConfig{Config: in.coreConfig(st)}) // the areas
		in.sync(st)
	})
}

// SetInterfaces replaces the interfaces of the routing instance.
func (in *Instance) SetInterfaces(ctx context.Context, ifs []Interface) error {
	return in.call(ctx, func(st *state) {
		st.ifs = map[string]Interface{}
		for _, i := range ifs {
			st.ifs[i.Name] = i
		}
		in.sync(st)
	})
}

// UpdateInterface adds or changes one interface (a link going down is
// Up=false: its routes move at once).
func (in *Instance) UpdateInterface(ctx context.Context, i Interface) error {
	return in.call(ctx, func(st *state) {
		st.ifs[i.Name] = i
		in.sync(st)
	})
}

// RemoveInterface removes one interface.
func (in *Instance) RemoveInterface(ctx context.Context, name string) error {
	return in.call(ctx, func(st *state) {
		delete(st.ifs, name)
		in.sync(st)
	})
}

// SetRedistributed replaces the routes offered for import-route (all the
// instance's direct, static and BGP routes; the configuration picks).
func (in *Instance) SetRedistributed(ctx context.Context, routes []RedistRoute) error {
	return in.call(ctx, func(st *state) {
		st.redist = slices.Clone(routes)
		in.step(st, core.SetExternal{Routes: st.cfg.externals(st.redist)})
	})
}

// Reset restarts the process (`reset ospf PROCESS process`): adjacencies
// restart, and a changed router ID takes effect.
func (in *Instance) Reset(ctx context.Context) error {
	return in.call(ctx, func(st *state) { in.restart(st) })
}

// restart builds a new core: the router ID is chosen again.
func (in *Instance) restart(st *state) {
	if st.core != nil {
		// Adjacencies go down in an orderly way first.
		in.step(st, core.SetInterfaces{})
	}
	st.routerID = st.cfg.RouterID
	if !st.routerID.IsValid() {
		st.routerID = DefaultRouterID(in.sortedIfs(st))
	}
	st.core = core.New(in.coreConfig(st))
	st.started = in.d.Now()
	in.d.Log.Info("OSPF process started", "router-id", st.routerID)
	in.sync(st)
}

func (in *Instance) coreConfig(st *state) core.Config {
	return core.Config{RouterID: packet.IDFromAddr(st.routerID), Areas: st.cfg.coreAreas()}
}

func (in *Instance) sortedIfs(st *state) []Interface {
	out := make([]Interface, 0, len(st.ifs))
	for _, i := range st.ifs {
		out = append(out, i)
	}
	slices.SortFunc(out, func(a, b Interface) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// sync brings sockets and the core in line with the configuration and the
// interfaces.
func (in *Instance) sync(st *state) {
	if !st.routerID.IsValid() {
		// No router ID yet: the process starts with the first one that
		// comes (configured, or an address).
		if st.cfg.RouterID.IsValid() || DefaultRouterID(in.sortedIfs(st)).IsValid() {
			in.restart(st)
		}
		return
	}
	resolved := st.cfg.Resolve(in.sortedIfs(st))
	want := map[string]bool{}
	for _, ic := range resolved {
		if ic.Up && !ic.Loopback && !ic.Passive {
			want[ic.Name] = true
		}
	}
	for name, c := range st.conns {
		if !want[name] {
			_ = c.Close()
			delete(st.conns, name)
		}
	}
	st.failed = map[string]bool{}
	for k, ic := range resolved {
		if !want[ic.Name] || st.conns[ic.Name] != nil {
			continue
		}
		if in.d.Sockets == nil {
			continue
		}
		c, err := in.d.Sockets.Open(ic.Name, in.Deliver)
		if err != nil {
			in.d.Log.Warn("cannot open the OSPF socket", "interface", ic.Name, "err", err)
			st.failed[ic.Name] = true
			// Without a socket the interface stays down until a retry.
			resolved[k].Up = false
			continue
		}
		st.conns[ic.Name] = c
	}
	in.step(st, core.SetInterfaces{Interfaces: resolved})
	in.step(st, core.SetExternal{Routes: st.cfg.externals(st.redist)})
}

// step runs the core and carries out its actions.
func (in *Instance) step(st *state, ev core.Event) {
	if st.core == nil {
		return
	}
	acts := st.core.Step(in.d.Now(), ev)
	for _, a := range acts {
		switch a := a.(type) {
		case core.Send:
			c := st.conns[a.Iface]
			if c == nil {
				continue
			}
			src := netip.Addr{}
			if i, ok := st.ifs[a.Iface]; ok && len(i.Addresses) > 0 {
				src = i.Addresses[0].Addr()
			}
			if err := c.Send(a.Dst, src, a.Data); err != nil {
				in.d.Log.Debug("send failed", "interface", a.Iface, "dst", a.Dst, "err", err)
				if errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO) {
					// The device went away under the socket: open a new one.
					_ = c.Close()
					delete(st.conns, a.Iface)
					st.resync = true
				}
			}
		case core.Join:
			if c := st.conns[a.Iface]; c != nil {
				if err := c.Join(a.Group); err != nil {
					in.d.Log.Warn("cannot join", "interface", a.Iface, "group", a.Group, "err", err)
				}
			}
		case core.Leave:
			if c := st.conns[a.Iface]; c != nil {
				_ = c.Leave(a.Group)
			}
		case core.RoutesChanged:
			st.lastSync = in.ribRoutes(a.Routes)
			st.syncer.push(st.lastSync)
		case core.NeighborChanged:
			lvl := slog.LevelDebug
			if a.To == core.NbrFull || a.From == core.NbrFull || a.To == core.NbrDown {
				lvl = slog.LevelInfo
			}
			in.d.Log.Log(context.Background(), lvl, "neighbour state change", "interface", a.Iface,
				"neighbour", a.RouterID, "address", a.Addr, "from", a.From, "to", a.To, "event", a.Event)
		}
	}
	if st.resync {
		st.resync = false
		in.sync(st)
	}
}

// ribRoutes converts the OSPF routing table into RIB routes: networks
// attached to this router are left to the direct routes; intra- and
// inter-area routes are OSPF (preference 10), external ones O_ASE (150).
func (in *Instance) ribRoutes(routes []core.Route) []rib.Route {
	key := fmt.Sprintf("ospf %d", in.cfg.Process)
	var out []rib.Route
	for _, r := range routes {
		if r.Direct {
			continue
		}
		rr := rib.Route{Prefix: r.Prefix, Protocol: rib.OSPF, Key: key, Cost: r.Cost}
		if r.Type.External() {
			rr.Protocol = rib.OSPFASE
			rr.Tag = r.Tag
		}
		for _, nh := range r.NextHops {
			if !nh.Gateway.IsValid() {
				continue
			}
			rr.NextHops = append(rr.NextHops, rib.NextHop{Gateway: nh.Gateway, Interface: nh.Iface})
		}
		if len(rr.NextHops) == 0 {
			continue
		}
		out = append(out, rr)
	}
	return out
}

// Routes returns the routes last handed to the sink.
func (in *Instance) Routes(ctx context.Context) ([]rib.Route, error) {
	var out []rib.Route
	err := in.call(ctx, func(st *state) { out = slices.Clone(st.lastSync) })
	return out, err
}

// syncer hands route sets to the sink from a goroutine of its own, so the
// owner loop never waits for the RIB; only the latest set matters.
type syncer struct {
	sink     RouteSink
	instance string
	log      *slog.Logger
	retry    time.Duration

	mu      sync.Mutex
	pending []rib.Route
	has     bool
	kick    chan struct{}
	idle    chan struct{} // closed and replaced when nothing is pending
	busy    bool
}

func newSyncer(sink RouteSink, instance string, log *slog.Logger, retry time.Duration) *syncer {
	return &syncer{sink: sink, instance: instance, log: log, retry: retry, kick: make(chan struct{}, 1), idle: make(chan struct{})}
}

func (s *syncer) push(routes []rib.Route) {
	s.mu.Lock()
	s.pending, s.has = routes, true
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flush waits until the pending set was handed over (or d passed).
func (s *syncer) flush(d time.Duration) {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		done := !s.has && !s.busy
		idle := s.idle
		s.mu.Unlock()
		if done {
			return
		}
		select {
		case <-idle:
		case <-deadline:
			return
		}
	}
}

func (s *syncer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		for {
			s.mu.Lock()
			if !s.has {
				close(s.idle)
				s.idle = make(chan struct{})
				s.mu.Unlock()
				break
			}
			routes := s.pending
			s.has, s.busy = false, true
			s.mu.Unlock()
			err := s.sink.SyncRoutes(ctx, s.instance, routes)
			s.mu.Lock()
			s.busy = false
			if err != nil && !s.has {
				s.pending, s.has = routes, true
			}
			s.mu.Unlock()
			if err != nil {
				s.log.Warn("cannot hand the routes to the RIB", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(s.retry):
				}
			}
		}
	}
}
