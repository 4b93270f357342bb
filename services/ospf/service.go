package ospf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/rib"
	"vpnos/services/vrf"
)

// The OSPF service runs the configured processes in the daemon: one
// Instance per process, started in its routing instance's namespace once
// the vrf service reports the instance, fed with the instance's interfaces
// from a vrf subscription and with the routes import-route asks for from a
// RIB watch; the routes of every process go to the RIB as OSPF and O_ASE.
//
//	svc := ospf.NewService(ospf.ServiceDeps{...})
//	store.Register(&ospf.Participant{Service: svc}, ospf.Prefixes...)
//	go svc.Run(ctx, ready)
//
// The configuration survives a restart of Run (Configure keeps it), so a
// restarted service starts the same processes again.

// Events is a subscription to the instances and interfaces
// (*vrf.Subscription).
type Events interface {
	C() <-chan struct{}
	Take() []vrf.Event
	Close()
}

// RouteWatch is a watch of the best routes of some protocols in an
// instance (*rib.RouteWatch).
type RouteWatch interface {
	C() <-chan struct{}
	Take() []rib.BestRoute
	Close(ctx context.Context) error
}

// ServiceDeps are what the service uses.
type ServiceDeps struct {
	// Subscribe subscribes to the vrf service's events.
	Subscribe func() Events
	// Do runs f inside an instance's network namespace (sockets opened
	// there belong to the instance); (*vrf.Service).Do.
	Do func(instance string, f func() error) error
	// SyncRoutes replaces the routes of a protocol in every instance
	// ((*rib.Service).SyncRoutes).
	SyncRoutes func(ctx context.Context, proto rib.Protocol, routes map[string][]rib.Route) error
	// WatchRoutes watches the best routes of protos in an instance
	// ((*rib.Service).WatchRoutes).
	WatchRoutes func(ctx context.Context, instance string, protos ...rib.Protocol) (RouteWatch, error)
	// MTU gives the MTU of a port by kernel name (0: unknown).
	MTU func(kernel string) int
	// Sockets opens the sockets of the interfaces of an instance; nil:
	// raw sockets in the instance's namespace through Do, bound to the
	// ports' kernel names.
	Sockets func(instance string, kernel func(name string) string) Sockets
	Log     *slog.Logger
	// RetryInterval is the pause after a failed RIB sync or socket
	// (default 1s).
	RetryInterval time.Duration
}

// ErrNoProcess is returned for a process that is not configured.
var ErrNoProcess = errors.New("the OSPF process does not exist")

// Service runs the OSPF processes.
type Service struct {
	d ServiceDeps

	mu      sync.Mutex
	set     Settings
	setGen  uint64
	kick    chan struct{}
	procs   map[uint32]*proc // the running processes (read by Snapshots)
	kernels map[string]string
	routes  *routeAgg
}

// NewService returns a service; Run runs it.
func NewService(d ServiceDeps) *Service {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.RetryInterval <= 0 {
		d.RetryInterval = time.Second
	}
	s := &Service{d: d, kick: make(chan struct{}, 1), procs: map[uint32]*proc{}, kernels: map[string]string{}}
	s.routes = newRouteAgg(d.SyncRoutes, d.Log, d.RetryInterval)
	return s
}

// Configure hands the service a new configuration (the participant's
// Apply); it never blocks, and the running service applies it at once.
func (s *Service) Configure(set Settings) {
	s.mu.Lock()
	s.set = set
	s.setGen++
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Settings returns the configuration last handed to Configure.
func (s *Service) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set
}

// proc is a running process.
type proc struct {
	cfg    Config
	inst   *Instance
	cancel context.CancelFunc
	done   chan struct{}
	// sent is the interface list last handed to the instance.
	sent []Interface
	// watch feeds import-route; stopWatch ends it.
	stopWatch func()
}

// loop is the state of one Run.
type loop struct {
	s         *Service
	ctx       context.Context
	instances map[string]bool // routing instances that exist
	ifs       map[string]vrf.Interface
	procs     map[uint32]*proc
	gen       uint64
}

// Run runs the processes until ctx ends; then it stops them and withdraws
// their routes. It may be called again after it returned.
func (s *Service) Run(ctx context.Context, ready func()) error {
	sub := s.d.Subscribe()
	defer sub.Close()
	rctx, stopRoutes := context.WithCancel(context.WithoutCancel(ctx))
	routesDone := make(chan struct{})
	go func() { defer close(routesDone); s.routes.run(rctx) }()
	l := &loop{s: s, ctx: ctx, instances: map[string]bool{}, ifs: map[string]vrf.Interface{}, procs: map[uint32]*proc{}}
	defer func() {
		for id := range l.procs {
			l.stop(id)
		}
		// The last word to the RIB: no OSPF routes while nothing runs.
		s.routes.flush(2 * time.Second)
		stopRoutes()
		<-routesDone
	}()
	if ready != nil {
		ready()
	}
	l.events(sub.Take())
	l.reconcile()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.C():
			l.events(sub.Take())
			l.reconcile()
		case <-s.kick:
			l.reconcile()
		}
	}
}

// events takes in instance and interface events.
func (l *loop) events(evs []vrf.Event) {
	for _, ev := range evs {
		switch {
		case ev.Instance != nil:
			e := ev.Instance
			if !e.Exists {
				delete(l.instances, e.Name)
				continue
			}
			if e.Changes&vrf.Removed != 0 {
				// Gone and back: a new namespace; its processes start anew.
				for id, p := range l.procs {
					if p.cfg.instance() == e.Name {
						l.stop(id)
					}
				}
			}
			l.instances[e.Name] = true
		case ev.Interface != nil:
			e := ev.Interface
			if !e.Exists {
				delete(l.ifs, e.Name)
				continue
			}
			l.ifs[e.Name] = e.Interface
		}
	}
	l.s.mu.Lock()
	clear(l.s.kernels)
	for n, i := range l.ifs {
		if i.Kernel != "" {
			l.s.kernels[n] = i.Kernel
		}
	}
	l.s.mu.Unlock()
}

func (c Config) instance() string {
	if c.VPNInstance == "" {
		return fibapi.Public
	}
	return c.VPNInstance
}

// reconcile starts, changes and stops processes as the configuration and
// the instances say, and hands each its interfaces.
func (l *loop) reconcile() {
	l.s.mu.Lock()
	set, gen := l.s.set, l.s.setGen
	l.s.mu.Unlock()
	want := map[uint32]Config{}
	for _, c := range set.Processes {
		if l.instances[c.instance()] {
			want[c.Process] = c
		}
	}
	for id, p := range l.procs {
		c, ok := want[id]
		if !ok || c.VPNInstance != p.cfg.VPNInstance {
			l.stop(id)
		}
	}
	for _, id := range sortedIDs(want) {
		c := want[id]
		p := l.procs[id]
		if p == nil {
			l.start(c)
			p = l.procs[id]
			if p == nil {
				continue
			}
		} else if gen != l.gen && !sameConfig(p.cfg, c) {
			if err := p.inst.SetConfig(l.ctx, c); err != nil && l.ctx.Err() == nil {
				l.s.d.Log.Error("OSPF configuration", "process", id, "err", err)
			}
			p.cfg = c
		}
		l.watchImports(p)
		ifs := l.interfaces(c)
		if !slices.EqualFunc(ifs, p.sent, sameInterface) {
			if err := p.inst.SetInterfaces(l.ctx, ifs); err == nil {
				p.sent = ifs
			}
		}
	}
	l.gen = gen
}

func sortedIDs(m map[uint32]Config) []uint32 {
	out := make([]uint32, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// interfaces lists the interfaces of c's instance as the process sees them
// (the vrf service reports the primary address first).
func (l *loop) interfaces(c Config) []Interface {
	var out []Interface
	for _, n := range sortedKeys(l.ifs) {
		vi := l.ifs[n]
		if vi.Instance != c.instance() {
			continue
		}
		i := Interface{Name: vi.Name, VRPName: vi.Name, Up: vi.Up, Loopback: vi.Loopback, Addresses: slices.Clone(vi.Addresses)}
		if vi.Kernel != "" && l.s.d.MTU != nil {
			i.MTU = l.s.d.MTU(vi.Kernel)
		}
		out = append(out, i)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sameInterface(a, b Interface) bool {
	return a.Name == b.Name && a.VRPName == b.VRPName && a.Up == b.Up && a.Loopback == b.Loopback &&
		a.MTU == b.MTU && a.Bandwidth == b.Bandwidth && slices.Equal(a.Addresses, b.Addresses)
}

func sameConfig(a, b Config) bool { return reflect.DeepEqual(a, b) }

// start starts a process in its instance.
func (l *loop) start(c Config) {
	s := l.s
	instance := c.instance()
	kernel := func(name string) string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.kernels[name]
	}
	var socks Sockets
	if s.d.Sockets != nil {
		socks = s.d.Sockets(instance, kernel)
	} else {
		socks = &namedSockets{raw: &RawSockets{Do: func(fn func() error) error { return s.d.Do(instance, fn) }}, kernel: kernel}
	}
	in, err := New(c, Deps{Sockets: socks, Routes: s.routes.sink(c.Process), Log: s.d.Log, RetryInterval: s.d.RetryInterval})
	if err != nil {
		s.d.Log.Error("OSPF process", "process", c.Process, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(l.ctx))
	p := &proc{cfg: c, inst: in, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		in.Run(ctx)
	}()
	l.procs[c.Process] = p
	s.mu.Lock()
	s.procs[c.Process] = p
	s.mu.Unlock()
	s.d.Log.Info("OSPF process starts", "process", c.Process, "instance", instance)
}

// stop stops a process; its routes are withdrawn.
func (l *loop) stop(id uint32) {
	p := l.procs[id]
	if p == nil {
		return
	}
	if p.stopWatch != nil {
		p.stopWatch()
	}
	p.cancel()
	<-p.done
	delete(l.procs, id)
	l.s.mu.Lock()
	if l.s.procs[id] == p {
		delete(l.s.procs, id)
	}
	l.s.mu.Unlock()
	l.s.routes.drop(id)
}

// importProtocols are the RIB protocols import-route can take.
var importRIB = map[rib.Protocol]string{rib.Direct: "direct", rib.Static: "static", rib.IBGP: "bgp", rib.EBGP: "bgp"}

// watchImports starts or stops the RIB watch that feeds import-route.
func (l *loop) watchImports(p *proc) {
	if len(p.cfg.Imports) == 0 {
		if p.stopWatch != nil {
			p.stopWatch()
			p.stopWatch = nil
			_ = p.inst.SetRedistributed(l.ctx, nil)
		}
		return
	}
	if p.stopWatch != nil || l.s.d.WatchRoutes == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(l.ctx))
	done := make(chan struct{})
	p.stopWatch = func() { cancel(); <-done }
	go func() {
		defer close(done)
		l.s.feedImports(ctx, p.inst, p.cfg.instance())
	}()
}

// feedImports watches the instance's direct, static and BGP routes and
// offers them to the process until ctx ends.
func (s *Service) feedImports(ctx context.Context, in *Instance, instance string) {
	var w RouteWatch
	for {
		var err error
		w, err = s.d.WatchRoutes(ctx, instance, rib.Direct, rib.Static, rib.IBGP, rib.EBGP)
		if err == nil {
			break
		}
		s.d.Log.Warn("OSPF import-route: cannot watch the RIB", "instance", instance, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.d.RetryInterval):
		}
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = w.Close(cctx)
	}()
	offered := map[netip.Prefix]RedistRoute{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.C():
		}
		for _, b := range w.Take() {
			proto, ok := importRIB[b.Protocol]
			if b.Withdrawn || !ok || b.Blackhole && b.Protocol != rib.Static {
				delete(offered, b.Prefix)
				continue
			}
			offered[b.Prefix] = RedistRoute{Prefix: b.Prefix, Protocol: proto}
		}
		routes := make([]RedistRoute, 0, len(offered))
		for _, r := range offered {
			routes = append(routes, r)
		}
		slices.SortFunc(routes, func(a, b RedistRoute) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
		if err := in.SetRedistributed(ctx, routes); err != nil {
			return
		}
	}
}

// Snapshots copies the state of a process (0: of every process, sorted by
// process ID). A configured process whose instance is not there yet shows
// with no state.
func (s *Service) Snapshots(ctx context.Context, process uint32) ([]Snapshot, error) {
	s.mu.Lock()
	set := s.set
	procs := map[uint32]*proc{}
	for id, p := range s.procs {
		procs[id] = p
	}
	s.mu.Unlock()
	var out []Snapshot
	for _, c := range set.Processes {
		if process != 0 && c.Process != process {
			continue
		}
		snap := Snapshot{Process: c.Process, VPNInstance: c.VPNInstance, RouterID: c.RouterID, Imports: c.Imports, BandwidthReference: c.BandwidthReference}
		if snap.BandwidthReference == 0 {
			snap.BandwidthReference = 100
		}
		if p := procs[c.Process]; p != nil {
			got, err := p.inst.Snapshot(ctx)
			switch {
			case err == nil:
				snap = got
			case errors.Is(err, ErrStopped):
			default:
				return nil, err
			}
		}
		out = append(out, snap)
	}
	if process != 0 && len(out) == 0 {
		return nil, ErrNoProcess
	}
	return out, nil
}

// Reset restarts a process (`reset ospf PROCESS process`): its adjacencies
// start again and a new router ID takes effect.
func (s *Service) Reset(ctx context.Context, process uint32) error {
	s.mu.Lock()
	c, configured := s.set.Process(process)
	p := s.procs[process]
	s.mu.Unlock()
	if !configured {
		return ErrNoProcess
	}
	if p == nil {
		return nil // not running: it starts afresh anyway
	}
	// The process takes the configuration last handed to Configure (a
	// system router ID that just changed) even when the loop has not
	// passed it on yet; the loop's own SetConfig then changes nothing.
	if err := p.inst.SetConfig(ctx, c); err != nil && !errors.Is(err, ErrConfig) {
		return err
	}
	return p.inst.Reset(ctx)
}

// namedSockets opens raw sockets for interfaces named by their VRP names:
// the socket binds to the port's kernel name (a port's host interface in
// its instance's namespace is named as the port), and packets come back
// with the VRP name.
type namedSockets struct {
	raw    *RawSockets
	kernel func(name string) string
}

func (n *namedSockets) Open(name string, deliver func(Packet)) (Conn, error) {
	k := n.kernel(name)
	if k == "" {
		return nil, fmt.Errorf("%s has no port", name)
	}
	return n.raw.Open(k, func(p Packet) {
		p.Iface = name
		deliver(p)
	})
}

// routeAgg gathers the routes of every process and hands them to the RIB
// from a goroutine of its own, OSPF and O_ASE each with one SyncRoutes of
// every instance: only the latest state matters.
type routeAgg struct {
	sync  func(ctx context.Context, proto rib.Protocol, routes map[string][]rib.Route) error
	log   *slog.Logger
	retry time.Duration

	mu     sync.Mutex
	per    map[uint32]procRoutes
	dirty  bool
	busy   bool
	kick   chan struct{}
	idle   chan struct{}
	synced bool // the RIB has the current state
}

type procRoutes struct {
	instance string
	routes   []rib.Route
}

func newRouteAgg(sync func(context.Context, rib.Protocol, map[string][]rib.Route) error, log *slog.Logger, retry time.Duration) *routeAgg {
	return &routeAgg{sync: sync, log: log, retry: retry, per: map[uint32]procRoutes{}, kick: make(chan struct{}, 1), idle: make(chan struct{}), dirty: true}
}

// sink is the RouteSink of one process.
func (a *routeAgg) sink(process uint32) RouteSink { return aggSink{a: a, process: process} }

type aggSink struct {
	a       *routeAgg
	process uint32
}

func (s aggSink) SyncRoutes(_ context.Context, instance string, routes []rib.Route) error {
	s.a.set(s.process, procRoutes{instance: instance, routes: routes})
	return nil
}

func (a *routeAgg) set(process uint32, r procRoutes) {
	a.mu.Lock()
	if len(r.routes) == 0 {
		delete(a.per, process)
	} else {
		a.per[process] = r
	}
	a.dirty = true
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *routeAgg) drop(process uint32) { a.set(process, procRoutes{}) }

// flush waits until the RIB has the current state (or d passed).
func (a *routeAgg) flush(d time.Duration) {
	deadline := time.After(d)
	for {
		a.mu.Lock()
		done := !a.dirty && !a.busy
		idle := a.idle
		a.mu.Unlock()
		if done {
			return
		}
		select {
		case a.kick <- struct{}{}:
		default:
		}
		select {
		case <-idle:
		case <-deadline:
			return
		}
	}
}

func (a *routeAgg) run(ctx context.Context) {
	// A new run first syncs: routes a stopped run left behind go.
	a.mu.Lock()
	a.dirty = true
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		}
		for {
			a.mu.Lock()
			if !a.dirty {
				close(a.idle)
				a.idle = make(chan struct{})
				a.mu.Unlock()
				break
			}
			intra, ext := map[string][]rib.Route{}, map[string][]rib.Route{}
			for _, pr := range a.per {
				for _, r := range pr.routes {
					if r.Protocol == rib.OSPFASE {
						ext[pr.instance] = append(ext[pr.instance], r)
					} else {
						intra[pr.instance] = append(intra[pr.instance], r)
					}
				}
			}
			a.dirty, a.busy = false, true
			a.mu.Unlock()
			err := a.sync(ctx, rib.OSPF, intra)
			if err == nil {
				err = a.sync(ctx, rib.OSPFASE, ext)
			}
			a.mu.Lock()
			a.busy = false
			if err != nil {
				a.dirty = true
			}
			a.mu.Unlock()
			if err != nil {
				a.log.Warn("cannot hand the OSPF routes to the RIB", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(a.retry):
				}
			}
		}
	}
}
