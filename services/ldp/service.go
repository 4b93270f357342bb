package ldp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"vpnos/services/diag/mplsecho"
	"vpnos/services/fibapi"
	"vpnos/services/label"
	"vpnos/services/rib"
	"vpnos/services/vrf"
)

// The LDP service runs LDP in the daemon: one Instance in the public
// instance's network namespace while `mpls ldp` is configured, fed with the
// public interfaces (addresses, up/down) from a vrf subscription and with
// the best routes and their resolved next hops from a RIB route watch; its
// LSPs go to the RIB as owner rib.OwnerLDP, its labels come from the label
// manager's dynamic range.
//
//	svc := ldp.NewService(ldp.ServiceDeps{...})
//	store.Register(&ldp.Participant{Service: svc}, ldp.Prefixes...)
//	go svc.Run(ctx, ready)
//
// The configuration survives a restart of Run (Configure keeps it), so a
// restarted service starts LDP again; a stopped one has withdrawn its LSPs
// and given its labels back.

// Events is a subscription to the vrf service (*vrf.Subscription).
type Events interface {
	C() <-chan struct{}
	Take() []vrf.Event
	Close()
}

// RouteWatch is a watch of best routes (*rib.RouteWatch).
type RouteWatch interface {
	C() <-chan struct{}
	Take() []rib.BestRoute
	Close(ctx context.Context) error
}

// LabelPool is the label manager (*label.Manager): dynamic labels under an
// owner tag, all given back at once when LDP stops.
type LabelPool interface {
	LabelManager
	FreeOwner(owner string) int
}

// ServiceDeps are what the service uses.
type ServiceDeps struct {
	// Subscribe subscribes to the vrf service's events.
	Subscribe func() Events
	// Do runs f inside an instance's network namespace ((*vrf.Service).Do).
	Do func(instance string, f func() error) error
	// WatchRoutes watches the best routes of protos in an instance
	// ((*rib.Service).WatchRoutes).
	WatchRoutes func(ctx context.Context, instance string, protos ...rib.Protocol) (RouteWatch, error)
	// UpdateLSPs and SetLSPs change the RIB's LSPs of an owner
	// ((*rib.Service).UpdateLSPs, SetLSPs).
	UpdateLSPs func(ctx context.Context, owner string, set []rib.LSP, del []string) error
	SetLSPs    func(ctx context.Context, owner string, lsps []rib.LSP) error
	Labels     LabelPool
	// MTU gives the MTU of a port by kernel name (0: unknown).
	MTU func(kernel string) int
	// OpenNet opens the transport; nil: OpenNet in the public instance's
	// namespace through Do.
	OpenNet func(ctx context.Context, log *slog.Logger) (Network, error)
	// ListenEcho opens the UDP socket (port 3503) the MPLS echo responder
	// answers LSP ping and traceroute on; nil: in the public instance's
	// namespace through Do (no responder without Do).
	ListenEcho func() (*net.UDPConn, error)
	Log        *slog.Logger
	// RetryInterval is the pause after a failed RIB update or socket
	// (default 1s).
	RetryInterval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// LabelOwner is the label manager's owner tag of LDP's labels.
var LabelOwner = label.Owner(label.KindLDP, fibapi.Public)

// ErrNotEnabled is returned by Snapshot while LDP is not configured.
var ErrNotEnabled = errors.New("LDP is not enabled")

// Service runs LDP for the public instance.
type Service struct {
	d ServiceDeps

	mu   sync.Mutex
	cfg  Config
	kick chan struct{}
	inst *Instance // the running instance (read by Snapshot)
}

// NewService returns a service; Run runs it.
func NewService(d ServiceDeps) *Service {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.RetryInterval <= 0 {
		d.RetryInterval = time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MTU == nil {
		d.MTU = func(string) int { return 0 }
	}
	return &Service{d: d, kick: make(chan struct{}, 1)}
}

// Configure hands the service a configuration (the participant's Apply);
// it never blocks, and the running service applies it at once.
func (s *Service) Configure(c Config) {
	c.Interfaces = slices.Clone(c.Interfaces)
	s.mu.Lock()
	s.cfg = c
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Config returns the configuration last handed to Configure.
func (s *Service) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cfg
	c.Interfaces = slices.Clone(c.Interfaces)
	return c
}

func (s *Service) running() *Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inst
}

// Snapshot copies LDP's state for the displays; ErrNotEnabled while `mpls
// ldp` is not configured. While LDP is configured but not running yet (the
// public instance or its sockets are not ready), the snapshot holds the
// configuration and no session.
func (s *Service) Snapshot(ctx context.Context) (Snapshot, error) {
	cfg := s.Config()
	if !cfg.Enabled {
		return Snapshot{}, ErrNotEnabled
	}
	if in := s.running(); in != nil {
		snap, err := in.Snapshot(ctx)
		if err == nil {
			return snap, nil
		}
		if !errors.Is(err, ErrStopped) {
			return Snapshot{}, err
		}
	}
	return Snapshot{Enabled: cfg.Enabled, LSRID: cfg.LSRID, HelloHold: cfg.helloHold(nil),
		KeepaliveHold: cfg.keepaliveHold(nil), Trigger: cfg.Trigger, Advertise: cfg.Advertise}, nil
}

// LSPs returns LDP's LSPs (none while it does not run).
func (s *Service) LSPs(ctx context.Context) ([]LSP, error) {
	if in := s.running(); in != nil {
		l, err := in.LSPs(ctx)
		if !errors.Is(err, ErrStopped) {
			return l, err
		}
	}
	return nil, nil
}

// loop is the state of one Run.
type loop struct {
	s      *Service
	ctx    context.Context
	log    *slog.Logger
	public bool
	ifs    map[string]vrf.Interface // public interfaces by VRP name
	routes map[netip.Prefix]Route
	sink   *lspSink

	// The running instance.
	inst    *Instance
	cfg     Config // applied to inst
	cancel  context.CancelFunc
	done    chan struct{}
	retryAt time.Time
	sentIfs []Interface
}

// allProtocols are the route sources LDP follows.
var allProtocols = []rib.Protocol{rib.Direct, rib.Static, rib.OSPF, rib.OSPFASE, rib.IBGP, rib.EBGP}

// Run runs LDP until ctx ends; then every session gets a Shutdown
// Notification, LDP's LSPs leave the RIB and its labels go back to the
// label manager. It may be called again after it returned.
func (s *Service) Run(ctx context.Context, ready func()) error {
	sub := s.d.Subscribe()
	defer sub.Close()
	l := &loop{s: s, ctx: ctx, log: s.d.Log, ifs: map[string]vrf.Interface{}, routes: map[netip.Prefix]Route{}}
	l.sink = newLSPSink(s.d, s.d.Log)
	sinkCtx, stopSink := context.WithCancel(context.WithoutCancel(ctx))
	sinkDone := make(chan struct{})
	go func() { defer close(sinkDone); l.sink.run(sinkCtx) }()
	// Whatever an earlier run left in the RIB goes: this run starts anew.
	l.sink.Reset()
	var watch RouteWatch
	defer func() {
		l.stop()
		if watch != nil {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = watch.Close(wctx)
			cancel()
		}
		// The last word to the RIB: no LDP LSP while LDP does not run.
		l.sink.Reset()
		l.sink.flush(2 * time.Second)
		stopSink()
		<-sinkDone
		if s.d.Labels != nil {
			s.d.Labels.FreeOwner(LabelOwner)
		}
	}()
	if ready != nil {
		ready()
	}
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	var watchC <-chan struct{}
	l.events(sub.Take())
	for {
		if watch == nil {
			w, err := s.d.WatchRoutes(ctx, fibapi.Public, allProtocols...)
			switch {
			case err == nil:
				watch, watchC = w, w.C()
				l.takeRoutes(w.Take(), true)
			case ctx.Err() != nil:
				return nil
			default:
				l.log.Warn("ldp: watching the routes", "err", err)
				l.retryAt = s.d.Now().Add(s.d.RetryInterval)
			}
		}
		l.reconcile()
		wait := time.Hour
		if !l.retryAt.IsZero() {
			wait = max(0, l.retryAt.Sub(s.d.Now()))
		}
		if !retry.Stop() {
			select {
			case <-retry.C:
			default:
			}
		}
		retry.Reset(wait)
		var done <-chan struct{}
		if l.done != nil {
			done = l.done
		}
		select {
		case <-ctx.Done():
			return nil
		case <-sub.C():
			l.events(sub.Take())
		case <-watchC:
			l.takeRoutes(watch.Take(), false)
		case <-s.kick:
		case <-done:
			// The instance ended on its own (its transport failed).
			l.log.Warn("ldp: the instance stopped; starting it again")
			l.stop()
			l.retryAt = s.d.Now().Add(s.d.RetryInterval)
		case <-retry.C:
			l.retryAt = time.Time{}
		}
	}
}

// events takes in the public instance and its interfaces.
func (l *loop) events(evs []vrf.Event) {
	changed := false
	for _, ev := range evs {
		switch {
		case ev.Instance != nil:
			e := ev.Instance
			if e.Name != fibapi.Public {
				continue
			}
			if !e.Exists || e.Changes&vrf.Removed != 0 {
				// Gone (or gone and back: a new namespace): start anew.
				l.stop()
			}
			l.public = e.Exists
		case ev.Interface != nil:
			e := ev.Interface
			if !e.Exists || e.Instance != fibapi.Public {
				if _, had := l.ifs[e.Name]; had {
					delete(l.ifs, e.Name)
					changed = true
				}
				continue
			}
			l.ifs[e.Name] = e.Interface
			changed = true
		}
	}
	if changed {
		l.pushInterfaces()
	}
}

// interfaces are the public interfaces as the core sees them.
func (l *loop) interfaces() []Interface {
	var out []Interface
	for _, name := range slices.Sorted(maps.Keys(l.ifs)) {
		i := l.ifs[name]
		in := Interface{Name: i.Name, VRPName: i.Name, Device: i.Kernel, Up: i.Up}
		if i.Kernel != "" {
			in.MTU = l.s.d.MTU(i.Kernel)
		}
		for _, a := range i.Addresses {
			if a.Addr().Is4() {
				in.Addrs = append(in.Addrs, a)
			}
		}
		out = append(out, in)
	}
	return out
}

func (l *loop) pushInterfaces() {
	if l.inst == nil {
		return
	}
	ifs := l.interfaces()
	if slices.EqualFunc(ifs, l.sentIfs, equalInterface) {
		return
	}
	if err := l.inst.SetInterfaces(l.ctx, ifs); err == nil {
		l.sentIfs = ifs
	}
}

func equalInterface(a, b Interface) bool {
	return a.Name == b.Name && a.VRPName == b.VRPName && a.Device == b.Device && a.Up == b.Up && a.MTU == b.MTU &&
		slices.Equal(a.Addrs, b.Addrs)
}

// routeOf turns a best route of the RIB into the route LDP follows: a
// direct route makes this router the FEC's egress; another route's next
// hops are its resolved gateways with their interfaces. ok is false for a
// route LDP cannot follow (withdrawn, a blackhole, no gateway).
func routeOf(br rib.BestRoute) (Route, bool) {
	if br.Withdrawn || br.Blackhole || !br.Prefix.Addr().Is4() {
		return Route{}, false
	}
	r := Route{Prefix: br.Prefix.Masked()}
	if br.Protocol == rib.Direct {
		return r, true
	}
	for _, h := range br.Hops {
		if h.Gateway.IsValid() && h.Interface != "" {
			r.NextHops = append(r.NextHops, NextHop{Gateway: h.Gateway, Interface: h.Interface})
		}
	}
	if len(r.NextHops) == 0 {
		return Route{}, false
	}
	slices.SortFunc(r.NextHops, func(a, b NextHop) int {
		if c := a.Gateway.Compare(b.Gateway); c != 0 {
			return c
		}
		return compareString(a.Interface, b.Interface)
	})
	r.NextHops = slices.Compact(r.NextHops)
	return r, true
}

func compareString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// takeRoutes takes in route changes (all of them when full).
func (l *loop) takeRoutes(brs []rib.BestRoute, full bool) {
	if full {
		clear(l.routes)
	}
	var u RoutesChanged
	for _, br := range brs {
		r, ok := routeOf(br)
		if !ok {
			if _, had := l.routes[br.Prefix.Masked()]; had {
				delete(l.routes, br.Prefix.Masked())
				u.Delete = append(u.Delete, br.Prefix.Masked())
			}
			continue
		}
		if old, had := l.routes[r.Prefix]; had && old.equal(r) {
			continue
		}
		l.routes[r.Prefix] = r
		u.Set = append(u.Set, r)
	}
	if l.inst == nil {
		return
	}
	if full {
		u = RoutesChanged{Full: true, Set: slices.Collect(maps.Values(l.routes))}
	} else if len(u.Set) == 0 && len(u.Delete) == 0 {
		return
	}
	_ = l.inst.UpdateRoutes(l.ctx, u)
}

// reconcile starts, changes or stops the instance as the configuration
// and the public instance say.
func (l *loop) reconcile() {
	cfg := l.s.Config()
	want := cfg.Enabled && l.public && cfg.Validate() == nil
	switch {
	case !want:
		l.stop()
	case l.inst == nil:
		if !l.retryAt.IsZero() && l.s.d.Now().Before(l.retryAt) {
			return
		}
		if err := l.start(cfg); err != nil {
			l.log.Warn("ldp: cannot start", "err", err)
			l.retryAt = l.s.d.Now().Add(l.s.d.RetryInterval)
		}
	case !equalConfig(cfg, l.cfg):
		if err := l.inst.SetConfig(l.ctx, cfg); err == nil {
			l.cfg = cfg
		}
	}
}

func equalConfig(a, b Config) bool {
	return a.Enabled == b.Enabled && a.LSRID == b.LSRID && a.HelloHold == b.HelloHold && a.KeepaliveHold == b.KeepaliveHold &&
		a.Trigger == b.Trigger && a.Advertise == b.Advertise && slices.Equal(a.Interfaces, b.Interfaces)
}

// start opens the transport in the public namespace and starts the
// instance with the configuration, the interfaces and the routes.
func (l *loop) start(cfg Config) error {
	d := l.s.d
	ictx, cancel := context.WithCancel(context.WithoutCancel(l.ctx))
	var (
		nw  Network
		err error
	)
	if d.OpenNet != nil {
		nw, err = d.OpenNet(ictx, l.log)
	} else {
		nw, err = OpenNet(ictx, l.log, func(f func() error) error { return d.Do(fibapi.Public, f) })
	}
	if err != nil {
		cancel()
		return err
	}
	var alloc Allocator
	if d.Labels != nil {
		alloc = ManagerAllocator(d.Labels, LabelOwner, l.log)
	}
	in := NewInstance(Options{Logger: l.log, Alloc: alloc, Net: nw, OnLSPs: l.sink.put, Now: d.Now})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = in.Run(ictx)
	}()
	l.inst, l.cancel, l.done, l.cfg, l.sentIfs = in, cancel, done, Config{}, nil
	l.s.mu.Lock()
	l.s.inst = in
	l.s.mu.Unlock()
	ifs := l.interfaces()
	if err := in.SetInterfaces(l.ctx, ifs); err != nil {
		l.stop()
		return fmt.Errorf("interfaces: %w", err)
	}
	l.sentIfs = ifs
	if err := in.UpdateRoutes(l.ctx, RoutesChanged{Full: true, Set: slices.Collect(maps.Values(l.routes))}); err != nil {
		l.stop()
		return fmt.Errorf("routes: %w", err)
	}
	if err := in.SetConfig(l.ctx, cfg); err != nil {
		l.stop()
		return fmt.Errorf("configuration: %w", err)
	}
	l.cfg = cfg
	l.startResponder(ictx, in)
	l.log.Info("ldp: started", "lsr_id", cfg.LSRID.String(), "interfaces", len(cfg.Interfaces))
	return nil
}

// startResponder answers MPLS echo requests (LSP ping and traceroute) about
// LDP's FECs while the instance runs. Without its socket LDP runs all the
// same.
func (l *loop) startResponder(ctx context.Context, in *Instance) {
	d := l.s.d
	listen := d.ListenEcho
	if listen == nil && d.Do != nil {
		listen = func() (*net.UDPConn, error) {
			var c *net.UDPConn
			err := d.Do(fibapi.Public, func() error {
				var err error
				c, err = mplsecho.Listen(ctx, fmt.Sprintf(":%d", mplsecho.Port))
				return err
			})
			return c, err
		}
	}
	if listen == nil {
		return
	}
	conn, err := listen()
	if err != nil {
		l.log.Warn("ldp: no MPLS echo responder", "err", err)
		return
	}
	r := &mplsecho.Responder{
		Lookup: func(p netip.Prefix) mplsecho.FEC { return echoFEC(ctx, in, p) },
		Source: func(ifindex int, egress bool) netip.Addr {
			if egress || ifindex == 0 || d.Do == nil {
				return l.s.Config().LSRID
			}
			return interfaceAddr(d.Do, ifindex)
		},
		Log: l.log,
		Now: d.Now,
	}
	go func() {
		if err := r.Serve(ctx, conn); err != nil {
			l.log.Warn("ldp: MPLS echo responder", "err", err)
		}
	}()
}

// interfaceAddr is the first IPv4 address of an interface of the public
// instance, by index (invalid when there is none).
func interfaceAddr(do func(string, func() error) error, ifindex int) netip.Addr {
	var a netip.Addr
	_ = do(fibapi.Public, func() error {
		ifi, err := net.InterfaceByIndex(ifindex)
		if err != nil {
			return err
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return err
		}
		for _, ad := range addrs {
			if n, ok := ad.(*net.IPNet); ok {
				if v, ok := netip.AddrFromSlice(n.IP); ok && v.Unmap().Is4() {
					a = v.Unmap()
					return nil
				}
			}
		}
		return nil
	})
	return a
}

// echoFEC is what LDP knows of a FEC for an MPLS echo reply: this router is
// its egress, or it switches the FEC's packets to next hops with labels.
func echoFEC(ctx context.Context, in *Instance, p netip.Prefix) mplsecho.FEC {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	snap, err := in.Snapshot(cctx)
	if err != nil {
		return mplsecho.FEC{}
	}
	mtu := map[string]int{}
	local := map[string]netip.Addr{}
	for _, i := range snap.Interfaces {
		mtu[i.Name], local[i.Name] = i.MTU, i.Address
	}
	for _, f := range snap.FECs {
		if f.FEC != p.Masked() {
			continue
		}
		if f.Egress {
			return mplsecho.FEC{Egress: true}
		}
		var out mplsecho.FEC
		for _, h := range f.NextHops {
			out.Downstream = append(out.Downstream, mplsecho.DDMap{MTU: uint16(mtu[h.Interface]), Address: h.Gateway,
				Interface: local[h.Interface], Labels: []uint32{h.Out}})
		}
		return out
	}
	return mplsecho.FEC{}
}

// stop ends the instance: Shutdown Notifications to every peer, its LSPs
// withdrawn from the RIB, its labels given back.
func (l *loop) stop() {
	if l.inst == nil {
		return
	}
	l.cancel()
	<-l.done
	l.s.mu.Lock()
	l.s.inst = nil
	l.s.mu.Unlock()
	l.inst, l.cancel, l.done, l.sentIfs = nil, nil, nil, nil
	// The instance withdrew its LSPs as it stopped; anything it could not
	// is removed all the same.
	l.sink.Reset()
	l.log.Info("ldp: stopped")
}

// lspSink hands LDP's LSP changes to the RIB from a goroutine of its own,
// so that the instance never waits for the RIB: the latest change of each
// RIB LSP is kept, pushed in one UpdateLSPs call, and pushed again after a
// failure (a RIB that is restarting). A reset replaces every LDP LSP in the
// RIB with what is queued after it.
type lspSink struct {
	d   ServiceDeps
	log *slog.Logger
	c   chan struct{}

	mu    sync.Mutex
	reset bool
	ops   map[string]*rib.LSP // nil value: delete
	// idleC is closed when nothing is queued or being pushed.
	busy  bool
	idleC chan struct{}
}

func newLSPSink(d ServiceDeps, log *slog.Logger) *lspSink {
	idle := make(chan struct{})
	close(idle)
	return &lspSink{d: d, log: log, c: make(chan struct{}, 1), ops: map[string]*rib.LSP{}, idleC: idle}
}

func (k *lspSink) signal() {
	select {
	case k.c <- struct{}{}:
	default:
	}
}

// markBusy notes that something is queued; k.mu is held.
func (k *lspSink) markBusy() {
	if !k.busy {
		k.busy = true
		k.idleC = make(chan struct{})
	}
}

// put queues a change (called on the instance's goroutine; never blocks).
func (k *lspSink) put(c LSPsChanged) {
	set, del := c.RIBUpdate()
	k.mu.Lock()
	k.markBusy()
	for _, name := range del {
		k.ops[name] = nil
	}
	for i := range set {
		l := set[i]
		k.ops[l.Name] = &l
	}
	k.mu.Unlock()
	k.signal()
}

// Reset queues the removal of every LDP LSP from the RIB; what is queued
// before it is dropped, what is queued after it still applies.
func (k *lspSink) Reset() {
	k.mu.Lock()
	k.markBusy()
	k.reset = true
	clear(k.ops)
	k.mu.Unlock()
	k.signal()
}

// flush waits until what is queued reached the RIB, at most d.
func (k *lspSink) flush(d time.Duration) {
	k.mu.Lock()
	c := k.idleC
	k.mu.Unlock()
	select {
	case <-c:
	case <-time.After(d):
		k.log.Warn("ldp: LSP changes not yet in the RIB")
	}
}

// take returns what is queued and empties the queue.
func (k *lspSink) take() (bool, map[string]*rib.LSP) {
	k.mu.Lock()
	defer k.mu.Unlock()
	reset, ops := k.reset, k.ops
	k.reset, k.ops = false, map[string]*rib.LSP{}
	return reset, ops
}

func (k *lspSink) run(ctx context.Context) {
	reset := false
	pending := map[string]*rib.LSP{}
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.c:
		case <-retry:
			retry = nil
		}
		r, ops := k.take()
		if r {
			reset = true
			clear(pending)
		}
		maps.Copy(pending, ops)
		if retry != nil {
			continue
		}
		if reset || len(pending) > 0 {
			if err := k.push(ctx, reset, pending); err != nil {
				if ctx.Err() != nil {
					return
				}
				k.log.Warn("ldp: LSPs to the RIB; will retry", "err", err)
				retry = time.After(k.d.RetryInterval)
				continue
			}
			reset = false
			clear(pending)
		}
		k.mu.Lock()
		if !k.reset && len(k.ops) == 0 && k.busy {
			k.busy = false
			close(k.idleC)
		}
		k.mu.Unlock()
	}
}

func (k *lspSink) push(ctx context.Context, reset bool, pending map[string]*rib.LSP) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var set []rib.LSP
	var del []string
	for _, name := range slices.Sorted(maps.Keys(pending)) {
		if l := pending[name]; l != nil {
			set = append(set, *l)
		} else {
			del = append(del, name)
		}
	}
	if reset {
		if k.d.SetLSPs == nil {
			return nil
		}
		return k.d.SetLSPs(cctx, rib.OwnerLDP, set)
	}
	if k.d.UpdateLSPs == nil {
		return nil
	}
	return k.d.UpdateLSPs(cctx, rib.OwnerLDP, set, del)
}
