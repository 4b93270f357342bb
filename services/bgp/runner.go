package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netns"

	"vpnos/services/policy"
	"vpnos/services/rib"
	"vpnos/services/vrf"
)

// The Runner puts the Service into vpnos: it merges the configuration the
// participant applies with what the vrf service knows (each VPN
// instance's own label), opens the sockets in the instances' namespaces,
// answers the speaker's next-hop watches from the RIB's next-hop tracking,
// feeds it the RIB's routes for `network` and `import-route` from route
// watches, hands it the routing policies, and carries its RIB actions out:
// routes into the RIB (IBGP or EBGP, preference 255; VPN routes with the
// VPN label under the LSP to the remote PE, Tunnel set), per-route VPN
// labels as egress LSPs of owner rib.OwnerBGP.
//
// Run may run again after it returned (the daemon's registry restarts
// services): each run starts a new Service from the last configuration;
// when a run ends, BGP's routes, LSPs and labels go.

// RIBService is what the Runner needs of the RIB (*rib.Service).
type RIBService interface {
	Do(ctx context.Context, fn func(*rib.RIB) error) error
	SyncRoutes(ctx context.Context, proto rib.Protocol, routes map[string][]rib.Route) error
	SetLSPs(ctx context.Context, owner string, lsps []rib.LSP) error
	WatchNexthops() *rib.NexthopWatch
	WatchRoutes(ctx context.Context, instance string, protos ...rib.Protocol) (*rib.RouteWatch, error)
}

// VRFEvents is a subscription to the vrf service (*vrf.Subscription).
type VRFEvents interface {
	C() <-chan struct{}
	Take() []vrf.Event
	Close()
}

// PolicyEvents is a subscription to the routing policies
// (*policy.Subscription).
type PolicyEvents interface {
	C() <-chan struct{}
	Take() ([]policy.Event, *policy.Set)
	Close()
}

// LabelManager hands out and takes back VPN labels (*label.Manager).
type LabelManager interface {
	LabelAllocator
	FreeOwner(owner string) int
}

// RunnerConfig are the Runner's services.
type RunnerConfig struct {
	Log    *slog.Logger
	RIB    RIBService
	Labels LabelManager
	// SubscribeVRF subscribes to the vrf service's instance events.
	SubscribeVRF func() VRFEvents
	// InstanceLabel is a VPN instance's own label (vrf.Labels).
	InstanceLabel func(instance string) (uint32, bool)
	// Namespace is the network namespace of a routing instance
	// (vrf.LinuxHost); sockets of an instance it does not know are not
	// opened (never in the daemon's own namespace).
	Namespace func(instance string) (netns.NsHandle, bool)
	// Policies gives the routing policies (nil: none).
	Policies     func() *policy.Set
	SubscribePol func() PolicyEvents
	// Port is BGP's TCP port (179 when zero).
	Port int
}

// Runner runs the BGP service of the daemon.
type Runner struct {
	cfg RunnerConfig
	log *slog.Logger

	mu      sync.Mutex
	tree    Config   // from the participant
	svc     *Service // the current run's (nil between runs)
	kick    chan struct{}
	labeled map[string]bool // instances whose label owner tag was used
}

// NewRunner returns a Runner; call Run.
func NewRunner(c RunnerConfig) *Runner {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: c, log: c.Log, kick: make(chan struct{}, 1), labeled: map[string]bool{}}
}

// SetTreeConfig takes the configuration the participant applies; the
// running service gets it (merged with the instances' labels) at once.
func (r *Runner) SetTreeConfig(ctx context.Context, c Config) {
	r.mu.Lock()
	r.tree = c
	r.mu.Unlock()
	r.poke()
}

func (r *Runner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// merged is the tree configuration with the instances' own labels.
func (r *Runner) merged() Config {
	r.mu.Lock()
	c := r.tree
	r.mu.Unlock()
	c.Instances = slices.Clone(c.Instances)
	for i := range c.Instances {
		in := &c.Instances[i]
		in.StaticLabel = 0
		if in.LabelMode == LabelPerInstance && r.cfg.InstanceLabel != nil {
			if l, ok := r.cfg.InstanceLabel(in.Name); ok {
				in.StaticLabel = l
			}
		}
		r.mu.Lock()
		r.labeled[in.Name] = true
		r.mu.Unlock()
	}
	return c
}

// ErrNotRunning is returned while the BGP service is not running.
var ErrNotRunning = errors.New("the BGP service is not running")

// service is the current run's Service.
func (r *Runner) service() (*Service, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.svc == nil {
		return nil, ErrNotRunning
	}
	return r.svc, nil
}

// nsPath is the path of an instance's namespace for the sockets; an
// instance whose namespace is not known gets a path that cannot open.
func (r *Runner) nsPath(instance string) string {
	if r.cfg.Namespace != nil {
		if h, ok := r.cfg.Namespace(normInstance(instance)); ok {
			return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(h))
		}
	}
	return "/nonexistent/vpnos-instance/" + instance
}

// Run runs the service until ctx ends.
func (r *Runner) Run(ctx context.Context, ready func()) error {
	feed := newRIBFeeder(r.cfg.RIB, r.log)
	svc := NewService(ServiceConfig{Logger: r.log, Labels: r.cfg.Labels, RIB: feed, Namespace: r.nsPath, Port: r.cfg.Port})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- svc.Serve(sctx) }()

	var wg sync.WaitGroup
	nhw := r.cfg.RIB.WatchNexthops()
	feed.nhw = nhw
	watches := &routeWatches{r: r, svc: svc, w: map[string]*followed{}}
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	run(func() { feed.run(sctx) })
	run(func() { r.nexthops(sctx, svc, nhw) })
	var vrfSub VRFEvents
	if r.cfg.SubscribeVRF != nil {
		vrfSub = r.cfg.SubscribeVRF()
		run(func() { r.vrfEvents(sctx, vrfSub, feed) })
	}
	var polSub PolicyEvents
	if r.cfg.SubscribePol != nil {
		polSub = r.cfg.SubscribePol()
		run(func() { r.policyEvents(sctx, svc, polSub) })
	}
	if r.cfg.Policies != nil {
		if err := svc.SetPolicies(sctx, r.cfg.Policies()); err != nil {
			r.log.Warn("bgp: policies", "err", err)
		}
	}
	r.mu.Lock()
	r.svc = svc
	r.mu.Unlock()
	r.poke()
	ready()

	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case err := <-served:
			r.log.Error("bgp service stopped", "err", err)
			done = true
		case <-r.kick:
			c := r.merged()
			if err := svc.SetConfig(sctx, c); err != nil {
				r.log.Error("bgp: configuration refused", "err", err)
				continue
			}
			watches.update(sctx, c)
		}
	}
	r.mu.Lock()
	r.svc = nil
	r.mu.Unlock()
	stop()
	<-served
	// Cleaning up must not hang on a RIB that stopped first.
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	watches.closeAll(cctx)
	if vrfSub != nil {
		vrfSub.Close()
	}
	if polSub != nil {
		polSub.Close()
	}
	wg.Wait()
	_ = nhw.Close(cctx)
	// What this run put into the RIB and the label manager goes with it.
	for _, p := range []rib.Protocol{rib.IBGP, rib.EBGP} {
		if err := r.cfg.RIB.SyncRoutes(cctx, p, nil); err != nil {
			r.log.Warn("bgp: routes left in the RIB", "err", err)
		}
	}
	if err := r.cfg.RIB.SetLSPs(cctx, rib.OwnerBGP, nil); err != nil {
		r.log.Warn("bgp: LSPs left in the RIB", "err", err)
	}
	if r.cfg.Labels != nil {
		r.mu.Lock()
		names := slices.Sorted(maps.Keys(r.labeled))
		r.mu.Unlock()
		for _, n := range names {
			r.cfg.Labels.FreeOwner(labelOwner(&instance{name: n}))
		}
	}
	return nil
}

// nexthops answers the speaker's next-hop watches from the RIB.
func (r *Runner) nexthops(ctx context.Context, svc *Service, w *rib.NexthopWatch) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.C():
		}
		var sts []NextHopState
		for _, st := range w.Take() {
			sts = append(sts, NextHopState{Instance: st.Instance, Addr: st.Addr, Reachable: st.Resolved,
				Tunnel: st.Tunnel, Cost: st.Cost})
		}
		if len(sts) > 0 {
			if err := svc.NextHops(ctx, sts...); err != nil && ctx.Err() == nil {
				r.log.Warn("bgp: next hops", "err", err)
			}
		}
	}
}

// vrfEvents follows the instances: a new or relabelled instance changes
// the configuration; a new one may take routes that waited for it.
func (r *Runner) vrfEvents(ctx context.Context, sub VRFEvents, feed *ribFeeder) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.C():
		}
		again, added := false, false
		for _, ev := range sub.Take() {
			if in := ev.Instance; in != nil {
				again = again || in.Changes&(vrf.Added|vrf.Removed|vrf.LabelChanged|vrf.RDChanged|vrf.TargetsChanged) != 0
				added = added || (in.Exists && in.Changes&vrf.Added != 0)
			}
		}
		if again {
			r.poke()
		}
		if added {
			feed.retry()
		}
	}
}

// policyEvents hands every applied routing-policy set to the speaker.
func (r *Runner) policyEvents(ctx context.Context, svc *Service, sub PolicyEvents) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.C():
		}
		evs, set := sub.Take()
		if len(evs) == 0 {
			continue
		}
		if err := svc.SetPolicies(ctx, set); err != nil && ctx.Err() == nil {
			r.log.Warn("bgp: policies", "err", err)
		}
	}
}

// routeWatches follows the RIB routes BGP may originate (network,
// import-route) in every instance whose BGP family has some.
type routeWatches struct {
	r   *Runner
	svc *Service
	w   map[string]*followed
}

type followed struct {
	w      *rib.RouteWatch
	cancel context.CancelFunc
	done   chan struct{}
}

// redistProtos are the RIB protocols BGP originates from.
var redistProtos = []rib.Protocol{rib.Direct, rib.Static, rib.OSPF, rib.OSPFASE}

// update follows the instances c needs (called from Run's goroutine only).
func (rw *routeWatches) update(ctx context.Context, c Config) {
	want := map[string]bool{}
	if c.AS != 0 {
		if len(c.Unicast.Networks)+len(c.Unicast.Imports) > 0 {
			want[PublicInstance] = true
		}
		for _, in := range c.Instances {
			if in.BGP != nil && len(in.BGP.Networks)+len(in.BGP.Imports) > 0 {
				want[in.Name] = true
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rw.w)) {
		if !want[name] {
			rw.stopOne(ctx, name)
			// Nothing of the instance is followed now: the speaker forgets
			// its RIB routes.
			_ = rw.svc.RIBRoutes(ctx, RIBRoute{Instance: name, Reset: true})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if rw.w[name] != nil {
			continue
		}
		w, err := rw.r.cfg.RIB.WatchRoutes(ctx, name, redistProtos...)
		if err != nil {
			rw.r.log.Warn("bgp: cannot watch routes", "instance", name, "err", err)
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		f := &followed{w: w, cancel: cancel, done: make(chan struct{})}
		rw.w[name] = f
		go func() {
			defer close(f.done)
			rw.follow(wctx, name, w)
		}()
	}
}

func (rw *routeWatches) stopOne(ctx context.Context, name string) {
	f := rw.w[name]
	f.cancel()
	<-f.done
	_ = f.w.Close(ctx)
	delete(rw.w, name)
}

func (rw *routeWatches) follow(ctx context.Context, name string, w *rib.RouteWatch) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.C():
		}
		var rs []RIBRoute
		for _, br := range w.Take() {
			rs = append(rs, ribRouteOf(name, br))
		}
		if len(rs) > 0 {
			if err := rw.svc.RIBRoutes(ctx, rs...); err != nil && ctx.Err() == nil {
				rw.r.log.Warn("bgp: RIB routes", "err", err)
			}
		}
	}
}

func (rw *routeWatches) closeAll(ctx context.Context) {
	for _, name := range slices.Sorted(maps.Keys(rw.w)) {
		rw.stopOne(ctx, name)
	}
}

// ribRouteOf turns a RIB best route into what the speaker originates from.
func ribRouteOf(instance string, br rib.BestRoute) RIBRoute {
	rr := RIBRoute{Instance: instance, Prefix: br.Prefix, Delete: br.Withdrawn || br.Blackhole, Cost: br.Cost}
	switch br.Protocol {
	case rib.Direct:
		rr.Protocol = ProtoDirect
	case rib.Static:
		rr.Protocol = ProtoStatic
	case rib.OSPF, rib.OSPFASE:
		rr.Protocol = ProtoOSPF
	default:
		rr.Delete = true
	}
	for _, nh := range br.NextHops {
		rr.NextHops = append(rr.NextHops, NextHop{Gateway: nh.Gateway, Interface: nh.Interface, Instance: nh.Instance})
	}
	return rr
}

// ribFeeder carries the speaker's RIB actions out on a goroutine of its
// own, so that the speaker never waits for the RIB: actions are merged per
// key (the latest route of a prefix, the latest state of a label or a next
// hop) until the feeder takes them, in batches.
type ribFeeder struct {
	rib RIBService
	log *slog.Logger
	nhw *rib.NexthopWatch

	mu     sync.Mutex
	routes map[routeKey]*Route // nil: remove
	order  []routeKey
	labels map[uint32]*ProgramLabel
	lorder []uint32
	nh     map[nhKey]bool // true: track
	norder []nhKey
	wake   chan struct{}

	// Owned by run.
	installed map[routeKey]rib.Protocol
	waiting   map[routeKey]rib.Route // instance not in the RIB yet
}

type routeKey struct {
	inst   string
	prefix netip.Prefix
}

func newRIBFeeder(r RIBService, log *slog.Logger) *ribFeeder {
	return &ribFeeder{rib: r, log: log, routes: map[routeKey]*Route{}, labels: map[uint32]*ProgramLabel{},
		nh: map[nhKey]bool{}, wake: make(chan struct{}, 1),
		installed: map[routeKey]rib.Protocol{}, waiting: map[routeKey]rib.Route{}}
}

// Apply queues the speaker's actions (RIBSink).
func (f *ribFeeder) Apply(acts []Action) {
	f.mu.Lock()
	for _, a := range acts {
		switch a := a.(type) {
		case InstallRoute:
			k := routeKey{normInstance(a.Instance), a.Route.Prefix}
			if _, ok := f.routes[k]; !ok {
				f.order = append(f.order, k)
			}
			rt := a.Route
			f.routes[k] = &rt
		case RemoveRoute:
			k := routeKey{normInstance(a.Instance), a.Prefix}
			if _, ok := f.routes[k]; !ok {
				f.order = append(f.order, k)
			}
			f.routes[k] = nil
		case ProgramLabel:
			if _, ok := f.labels[a.Label]; !ok {
				f.lorder = append(f.lorder, a.Label)
			}
			pl := a
			f.labels[a.Label] = &pl
		case RemoveLabel:
			if _, ok := f.labels[a.Label]; !ok {
				f.lorder = append(f.lorder, a.Label)
			}
			f.labels[a.Label] = nil
		case WatchNextHop:
			k := nhKey{normInstance(a.Instance), a.Addr}
			if _, ok := f.nh[k]; !ok {
				f.norder = append(f.norder, k)
			}
			f.nh[k] = true
		case UnwatchNextHop:
			k := nhKey{normInstance(a.Instance), a.Addr}
			if _, ok := f.nh[k]; !ok {
				f.norder = append(f.norder, k)
			}
			f.nh[k] = false
		}
	}
	f.mu.Unlock()
	f.signal()
}

func (f *ribFeeder) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// retry tries again the routes whose instance was not in the RIB.
func (f *ribFeeder) retry() { f.signal() }

func (f *ribFeeder) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		f.flush(ctx)
	}
}

// lspName names the egress LSP of a per-route VPN label.
func lspName(l uint32) string { return "vpn-label-" + strconv.FormatUint(uint64(l), 10) }

func (f *ribFeeder) flush(ctx context.Context) {
	f.mu.Lock()
	routes, order := f.routes, f.order
	labels, lorder := f.labels, f.lorder
	nh, norder := f.nh, f.norder
	f.routes, f.order = map[routeKey]*Route{}, nil
	f.labels, f.lorder = map[uint32]*ProgramLabel{}, nil
	f.nh, f.norder = map[nhKey]bool{}, nil
	f.mu.Unlock()

	// Next hops first: their state comes back through the watch.
	track, untrack := map[string][]netip.Addr{}, map[string][]netip.Addr{}
	for _, k := range norder {
		if nh[k] {
			track[k.Instance] = append(track[k.Instance], k.Addr)
		} else {
			untrack[k.Instance] = append(untrack[k.Instance], k.Addr)
		}
	}
	if f.nhw != nil {
		for _, inst := range slices.Sorted(maps.Keys(untrack)) {
			if err := f.nhw.Untrack(ctx, inst, untrack[inst]...); err != nil && ctx.Err() == nil {
				f.log.Warn("bgp: untrack next hops", "instance", inst, "err", err)
			}
		}
		for _, inst := range slices.Sorted(maps.Keys(track)) {
			if err := f.nhw.Track(ctx, inst, track[inst]...); err != nil && ctx.Err() == nil {
				f.log.Warn("bgp: track next hops", "instance", inst, "err", err)
			}
		}
	}

	// Incoming per-route (and speaker-allocated) VPN labels.
	var set []rib.LSP
	var del []string
	for _, l := range lorder {
		pl := labels[l]
		if pl == nil {
			del = append(del, lspName(l))
			continue
		}
		lsp := rib.LSP{Name: lspName(l), Role: rib.Egress, Instance: pl.Instance, InLabel: l}
		if pl.Prefix.IsValid() {
			lsp.FEC = pl.Prefix
		}
		set = append(set, lsp)
	}
	if len(set)+len(del) > 0 {
		err := f.rib.Do(ctx, func(r *rib.RIB) error { return r.UpdateLSPs(rib.OwnerBGP, set, del) })
		if err != nil && ctx.Err() == nil {
			f.log.Warn("bgp: VPN labels", "err", err)
		}
	}

	// Routes, in one batch; those of an instance the RIB does not have
	// yet wait for it.
	if len(order) == 0 && len(f.waiting) == 0 {
		return
	}
	err := f.rib.Do(ctx, func(r *rib.RIB) error {
		for k, rt := range f.waiting {
			if err := r.AddRoute(k.inst, rt); err == nil {
				delete(f.waiting, k)
				f.installed[k] = rt.Protocol
			}
		}
		for _, k := range order {
			rt := routes[k]
			if old, ok := f.installed[k]; ok && (rt == nil || ribProto(rt) != old) {
				_, _ = r.DelRoutes(k.inst, old, k.prefix)
				delete(f.installed, k)
			}
			delete(f.waiting, k)
			if rt == nil {
				continue
			}
			rr := toRIBRoute(rt)
			err := r.AddRoute(k.inst, rr)
			switch {
			case err == nil:
				f.installed[k] = rr.Protocol
			case errors.Is(err, rib.ErrNoInstance):
				f.waiting[k] = rr
			default:
				f.log.Warn("bgp: route refused by the RIB", "instance", k.inst, "prefix", k.prefix, "err", err)
			}
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		f.log.Warn("bgp: routes", "err", err)
	}
}

func ribProto(rt *Route) rib.Protocol {
	if rt.EBGP {
		return rib.EBGP
	}
	return rib.IBGP
}

// toRIBRoute is a BGP route as the RIB takes it.
func toRIBRoute(rt *Route) rib.Route {
	pref := rt.Preference
	if pref == 0 {
		pref = 255
	}
	out := rib.Route{Prefix: rt.Prefix, Protocol: ribProto(rt), Key: "bgp", Preference: pref, Cost: rt.MED}
	for _, nh := range rt.NextHops {
		n := rib.NextHop{Gateway: nh.Gateway, Interface: nh.Interface, Tunnel: nh.Tunnel}
		if nh.Instance != "" {
			n.Instance = nh.Instance
		}
		if nh.Label != 0 {
			n.Labels = []uint32{nh.Label}
		}
		out.NextHops = append(out.NextHops, n)
	}
	return out
}

// The Runner answers for the current run's Service (the displays and the
// reset and refresh commands hold the Runner, which outlives a restart).

// Summary returns the local AS, the router ID and the VPN instances with
// their labels.
func (r *Runner) Summary(ctx context.Context) (Summary, error) {
	svc, err := r.service()
	if err != nil {
		return Summary{}, err
	}
	return svc.Summary(ctx)
}

// PeerRoutes counts a peer's received, active and advertised routes.
func (r *Runner) PeerRoutes(ctx context.Context, k PeerKey) (unicast, vpnv4 PeerRouteCounts, err error) {
	svc, err := r.service()
	if err != nil {
		return PeerRouteCounts{}, PeerRouteCounts{}, err
	}
	return svc.PeerRoutes(ctx, k)
}

// Peers returns the peers' state.
func (r *Runner) Peers(ctx context.Context) ([]PeerSnapshot, error) {
	svc, err := r.service()
	if err != nil {
		return nil, err
	}
	return svc.Peers(ctx)
}

// Routes returns an instance's BGP table.
func (r *Runner) Routes(ctx context.Context, instance string, filter netip.Prefix) ([]RouteSnapshot, error) {
	svc, err := r.service()
	if err != nil {
		return nil, err
	}
	return svc.Routes(ctx, instance, filter)
}

// VPNRoutes returns the VPNv4 table.
func (r *Runner) VPNRoutes(ctx context.Context, filter netip.Prefix) ([]RouteSnapshot, error) {
	svc, err := r.service()
	if err != nil {
		return nil, err
	}
	return svc.VPNRoutes(ctx, filter)
}

// Stats counts a table.
func (r *Runner) Stats(ctx context.Context, instance string, vpn bool) (TableStats, error) {
	svc, err := r.service()
	if err != nil {
		return TableStats{}, err
	}
	return svc.Stats(ctx, instance, vpn)
}

// InstanceLabel returns the label a VPN instance advertises.
func (r *Runner) InstanceLabel(ctx context.Context, instance string) (uint32, error) {
	svc, err := r.service()
	if err != nil {
		return 0, err
	}
	return svc.InstanceLabel(ctx, instance)
}

// Reset restarts sessions (all when peers is nil): `reset bgp`. With nil
// (`reset bgp all`) the sessions take the system router ID the
// participant handed last, even when the run loop has not passed it on
// yet.
func (r *Runner) Reset(ctx context.Context, peers []PeerKey) error {
	svc, err := r.service()
	if err != nil {
		return err
	}
	if peers == nil {
		if err := svc.SetConfig(ctx, r.merged()); err != nil {
			return err
		}
	}
	return svc.Reset(ctx, peers)
}

// Refresh is `refresh bgp ... import|export`.
func (r *Runner) Refresh(ctx context.Context, peers []PeerKey, importRoutes, exportRoutes bool) error {
	svc, err := r.service()
	if err != nil {
		return err
	}
	return svc.Refresh(ctx, peers, importRoutes, exportRoutes)
}
