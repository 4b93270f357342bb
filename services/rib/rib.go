package rib

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"vpnos/services/fibapi"
)

// maxVisits bounds how often one destination is recomputed in one Compute.
// Only routes that resolve through each other in a cycle can get there;
// beyond it their recursive next hops are declared unresolved.
const maxVisits = 16

// maxDepth bounds a recursion chain (and detects loops through it).
const maxDepth = 32

var loopback127 = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// InLoopBack0 is the interface name of the router's internal routes.
const InLoopBack0 = "InLoopBack0"

// Options configure a RIB.
type Options struct {
	// Now is the clock for route ages (time.Now if nil).
	Now func() time.Time
}

// RIB holds every routing instance. It is not safe for concurrent use
// (Service serialises access); all methods are deterministic.
type RIB struct {
	now       func() time.Time
	instances map[string]*instance
	ports     map[string]*Port  // by VRP name as given to SetInterface
	portFold  map[string]string // lower-case VRP name -> VRP name
	// track: next-hop addresses resolved recursively, per instance of the
	// next hop, with the destinations that depend on them.
	track map[string]*tracker
	// ifDeps: destinations with next hops naming an interface (lower case).
	ifDeps map[string]*depSet

	queue    []*dest
	touched  []*dest
	visited  []*dest
	reachGen uint32
	// scratch space of process
	oldBest          []*route
	oldVias, newVias []*dest

	lsps      map[string]map[string]*lspState // by owner, then name
	lspFEC    map[fecKey]*fecEntry            // the LSPs following each FEC
	ifLSPs    []*lspState                     // LSPs that name interfaces (explicit next hops, in-interfaces)
	ilm       map[uint32]*lspState            // in-label -> the LSP programming it
	ilmWait   map[uint32][]*lspState          // in-label -> LSPs waiting for it (another holds it)
	lspDirty  []*lspState                     // LSPs whose label entry must be recomputed
	egressAll bool                            // every egress LSP must be recomputed (instances changed)
	// byProto indexes the routes protocols added, per instance; synced holds
	// the last SyncRoutes input per protocol (for instances created later).
	byProto     map[Protocol]map[string]map[RouteID]struct{}
	synced      map[Protocol]map[string][]Route
	labelWant   map[uint32]labelEntry
	labelHW     map[uint32]labelEntry
	labelChange map[uint32]bool

	watches *watchState

	// What the last Compute handed out, applied by Commit.
	computed       []computedRoute
	computedLabels map[uint32]computedLabel
}

type computedRoute struct {
	d    *dest
	want fibEntry
}

// fibEntry is a destination's FIB entry (its instance and prefix are the
// destination's). Hops are never modified once built, so entries may share them.
type fibEntry struct {
	set  bool
	kind fibapi.RouteKind
	hops []Hop
}

func sameFIB(a, b fibEntry) bool {
	return a.set == b.set && (!a.set || (a.kind == b.kind && slices.EqualFunc(a.hops, b.hops, sameHop)))
}

type computedLabel struct {
	entry   labelEntry
	present bool
}

func cmpPrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

type instance struct {
	name     string
	dests    map[netip.Prefix]*dest
	lenCount [33]int
	deleted  bool
}

type dest struct {
	inst   *instance
	prefix netip.Prefix
	routes []*route // sorted by protocol, key
	best   []*route

	want fibEntry  // the computed FIB entry
	hw   fibEntry  // what the forwarder holds (as last committed)
	lsp  *lspState // ingress LSP carrying this destination's traffic (when up)

	queued, touched bool
	visits          int32
	reachGen        uint32 // see reaches

	// Storage for the common case of one route (no extra allocations).
	routes1, best1 [1]*route
}

type route struct {
	Route
	since  int64 // when added or last changed, Unix nanoseconds
	direct *directInfo
	valid  bool
	relay  bool
	kind   fibapi.RouteKind
	paths  []path
	path1  [1]path // storage for paths when there is one
}

type directInfo struct {
	port    string // interface ("" for InLoopBack0)
	local   bool
	redist  bool // an interface subnet or a /32 address: what import-route direct takes
	display netip.Addr
	hops    []Hop // the attached next hop of a subnet route
}

type path struct {
	ok   bool
	drop bool
	hops []Hop
	via  *dest
	port string // the first outgoing interface, for displays
}

type tracker struct {
	deps   map[netip.Addr]*depSet
	sorted []netip.Addr
	dirty  bool
}

// New returns a RIB holding the public instance.
func New(o Options) *RIB {
	r := &RIB{
		now:         o.Now,
		instances:   map[string]*instance{},
		ports:       map[string]*Port{},
		portFold:    map[string]string{},
		track:       map[string]*tracker{},
		ifDeps:      map[string]*depSet{},
		lsps:        map[string]map[string]*lspState{},
		lspFEC:      map[fecKey]*fecEntry{},
		ilm:         map[uint32]*lspState{},
		ilmWait:     map[uint32][]*lspState{},
		labelWant:   map[uint32]labelEntry{},
		labelHW:     map[uint32]labelEntry{},
		labelChange: map[uint32]bool{},
		byProto:     map[Protocol]map[string]map[RouteID]struct{}{},
		synced:      map[Protocol]map[string][]Route{},

		computedLabels: map[uint32]computedLabel{},
		watches:        newWatchState(),
	}
	if r.now == nil {
		r.now = time.Now
	}
	_ = r.AddInstance(fibapi.Public)
	return r
}

// Instances lists the instances, public first, then by name.
func (r *RIB) Instances() []string {
	var out []string
	for n, in := range r.instances {
		if !in.deleted && n != fibapi.Public {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return append([]string{fibapi.Public}, out...)
}

// errNoName: the public instance is fibapi.Public, never "".
var errNoName = fmt.Errorf("an instance without a name (the public instance is %s): %w", fibapi.Public, ErrNoInstance)

// AddInstance creates a routing instance (idempotent).
func (r *RIB) AddInstance(name string) error {
	if name == "" {
		return errNoName
	}
	in := r.instances[name]
	if in != nil && !in.deleted {
		return nil
	}
	if in == nil {
		in = &instance{name: name, dests: map[netip.Prefix]*dest{}}
		r.instances[name] = in
	}
	in.deleted = false
	var internal []netip.Prefix
	if name == fibapi.Public {
		internal = []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("127.0.0.1/32"),
			netip.MustParsePrefix("127.255.255.255/32"),
		}
	}
	internal = append(internal, netip.MustParsePrefix("255.255.255.255/32"))
	for _, p := range internal {
		r.addRoute(in, &route{
			Route:  Route{Prefix: p, Protocol: Direct, Key: InLoopBack0},
			direct: &directInfo{local: true, display: loopback127},
		})
	}
	for _, name := range sortedKeys(r.ports) {
		if p := r.ports[name]; p.Instance == in.name {
			r.addDirect(p)
		}
	}
	for p := Protocol(0); p < numProtocols; p++ {
		for _, rt := range r.synced[p][in.name] {
			_ = r.AddRoute(in.name, rt) // validated by SyncRoutes
		}
	}
	r.instancesChanged()
	return nil
}

// DelInstance removes a VPN instance and all its routes.
func (r *RIB) DelInstance(name string) error {
	if name == fibapi.Public {
		return fmt.Errorf("the public instance cannot be deleted: %w", ErrBadRoute)
	}
	in := r.instances[name]
	if in == nil || in.deleted {
		return fmt.Errorf("%s: %w", name, ErrNoInstance)
	}
	in.deleted = true
	for _, p := range sortedPrefixes(in.dests) {
		d := in.dests[p]
		for _, rt := range d.routes {
			r.unregister(d, rt)
			r.indexRoute(in.name, rt, false)
		}
		d.routes = nil
		r.enqueue(d)
	}
	r.instancesChanged()
	return nil
}

func (r *RIB) inst(name string) (*instance, error) {
	if name == "" {
		return nil, errNoName
	}
	in := r.instances[name]
	if in == nil || in.deleted {
		return nil, fmt.Errorf("%s: %w", name, ErrNoInstance)
	}
	return in, nil
}

// AddRoute adds or replaces a route (identity: Route.ID()).
func (r *RIB) AddRoute(instance string, rt Route) error {
	in, err := r.inst(instance)
	if err != nil {
		return err
	}
	if err := rt.validate(); err != nil {
		return err
	}
	rt.Prefix = rt.Prefix.Masked()
	rt.NextHops = slices.Clone(rt.NextHops)
	if rt.Preference == 0 {
		rt.Preference = rt.Protocol.DefaultPreference()
	}
	for i := range rt.NextHops {
		nh := &rt.NextHops[i]
		if strings.EqualFold(nh.Interface, Null0) {
			rt.Blackhole = true
		}
		nh.Labels = slices.DeleteFunc(slices.Clone(nh.Labels), func(l uint32) bool { return l == fibapi.LabelImplicitNull })
	}
	if rt.Blackhole {
		rt.NextHops = nil
	}
	id := rt.ID()
	rt.Key = id.Key
	r.addRoute(in, &route{Route: rt})
	return nil
}

func sameInput(a, b *Route) bool {
	if a.Preference != b.Preference || a.Cost != b.Cost || a.Tag != b.Tag || a.Blackhole != b.Blackhole || len(a.NextHops) != len(b.NextHops) {
		return false
	}
	for i := range a.NextHops {
		x, y := a.NextHops[i], b.NextHops[i]
		if x.Gateway != y.Gateway || x.Interface != y.Interface || x.Instance != y.Instance || x.Tunnel != y.Tunnel || !slices.Equal(x.Labels, y.Labels) {
			return false
		}
	}
	return true
}

func sameDirect(a, b *directInfo) bool {
	return a.port == b.port && a.local == b.local && a.redist == b.redist && a.display == b.display
}

func (r *RIB) addRoute(in *instance, rt *route) {
	d := in.dests[rt.Prefix]
	if d == nil {
		d = &dest{inst: in, prefix: rt.Prefix}
		d.routes, d.best = d.routes1[:0], d.best1[:0]
		in.dests[rt.Prefix] = d
		in.lenCount[rt.Prefix.Bits()]++
	}
	i, found := slices.BinarySearchFunc(d.routes, rt.ID(), func(x *route, id RouteID) int {
		if c := cmp.Compare(x.Protocol, id.Protocol); c != 0 {
			return c
		}
		return strings.Compare(x.Key, id.Key)
	})
	if found {
		old := d.routes[i]
		if old.direct == nil && rt.direct == nil && sameInput(&old.Route, &rt.Route) {
			return
		}
		if old.direct != nil && rt.direct != nil && sameDirect(old.direct, rt.direct) {
			return
		}
		r.unregister(d, old)
		d.routes[i] = rt
	} else {
		d.routes = slices.Insert(d.routes, i, rt)
		r.indexRoute(in.name, rt, true)
	}
	rt.since = r.now().UnixNano()
	r.register(d, rt)
	r.enqueue(d)
}

// DelRoute removes one route. Removing a route that does not exist is not an error.
func (r *RIB) DelRoute(instance string, id RouteID) error {
	in, err := r.inst(instance)
	if err != nil {
		return err
	}
	id.Prefix = id.Prefix.Masked()
	d := in.dests[id.Prefix]
	if d == nil {
		return nil
	}
	for i, rt := range d.routes {
		if rt.ID() == id && rt.direct == nil {
			r.unregister(d, rt)
			r.indexRoute(in.name, rt, false)
			d.routes = slices.Delete(d.routes, i, i+1)
			r.enqueue(d)
			return nil
		}
	}
	return nil
}

// DelRoutes removes every route of proto to prefix (undo ip route-static
// without a next hop) and returns how many were removed.
func (r *RIB) DelRoutes(instance string, proto Protocol, prefix netip.Prefix) (int, error) {
	in, err := r.inst(instance)
	if err != nil {
		return 0, err
	}
	d := in.dests[prefix.Masked()]
	if d == nil || proto == Direct {
		return 0, nil
	}
	n := 0
	d.routes = slices.DeleteFunc(d.routes, func(rt *route) bool {
		if rt.Protocol == proto {
			r.unregister(d, rt)
			r.indexRoute(in.name, rt, false)
			n++
			return true
		}
		return false
	})
	if n > 0 {
		r.enqueue(d)
	}
	return n, nil
}

// SyncRoutes makes the routes of proto in every instance exactly those given
// (instances not in the map lose all their routes of proto). Routes that did
// not change are left alone, so only differences reach the FIB. Routes of an
// instance that does not exist (yet) are kept and added when AddInstance
// creates it, so the order in which configuration is applied does not
// matter. Nothing changes if a route is invalid.
func (r *RIB) SyncRoutes(proto Protocol, routes map[string][]Route) error {
	if proto == Direct || proto >= numProtocols {
		return fmt.Errorf("%w: protocol %v cannot be synced", ErrBadRoute, proto)
	}
	want := map[string]map[RouteID]bool{}
	keep := map[string][]Route{}
	for inst, rts := range routes {
		m := map[RouteID]bool{}
		for _, rt := range rts {
			if rt.Protocol != proto {
				return fmt.Errorf("%w: route %v is %v, not %v", ErrBadRoute, rt.Prefix, rt.Protocol, proto)
			}
			if err := rt.validate(); err != nil {
				return err
			}
			m[rt.ID()] = true
		}
		if inst == "" {
			return errNoName
		}
		want[inst] = m
		keep[inst] = append(keep[inst], rts...)
	}
	r.synced[proto] = keep
	if r.byProto[proto] == nil {
		// First sync of this protocol: index its routes from now on.
		r.byProto[proto] = map[string]map[RouteID]struct{}{}
		for _, in := range r.instances {
			for _, d := range in.dests {
				for _, rt := range d.routes {
					if rt.Protocol == proto {
						r.indexRoute(in.name, rt, true)
					}
				}
			}
		}
	}
	for _, name := range sortedKeys(r.byProto[proto]) {
		if _, err := r.inst(name); err != nil {
			continue
		}
		m := want[name]
		for _, id := range sortedIDs(r.byProto[proto][name]) {
			if !m[id] {
				_ = r.DelRoute(name, id)
			}
		}
	}
	for _, inst := range sortedKeys(keep) {
		if _, err := r.inst(inst); err != nil {
			continue // added by AddInstance
		}
		for _, rt := range keep[inst] {
			if err := r.AddRoute(inst, rt); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedIDs(m map[RouteID]struct{}) []RouteID {
	out := make([]RouteID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b RouteID) int {
		if c := cmpPrefix(a.Prefix, b.Prefix); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Protocol, b.Protocol); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// indexRoute keeps byProto up to date, for the protocols SyncRoutes is used
// with (static; BGP and OSPF add and withdraw routes one by one).
func (r *RIB) indexRoute(inst string, rt *route, add bool) {
	m := r.byProto[rt.Protocol]
	if m == nil || rt.direct != nil {
		return
	}
	ids := m[inst]
	if add {
		if ids == nil {
			ids = map[RouteID]struct{}{}
			m[inst] = ids
		}
		ids[rt.ID()] = struct{}{}
		return
	}
	delete(ids, rt.ID())
	if len(ids) == 0 {
		delete(m, inst)
	}
}

func (r *RIB) register(d *dest, rt *route) { r.deps(d, rt, 1) }

func (r *RIB) unregister(d *dest, rt *route) { r.deps(d, rt, -1) }

func (r *RIB) deps(d *dest, rt *route, n int) {
	for _, nh := range rt.NextHops {
		switch {
		case nh.Interface != "":
			name := strings.ToLower(nh.Interface)
			m := r.ifDeps[name]
			if m == nil {
				m = &depSet{}
				r.ifDeps[name] = m
			}
			if m.add(d, n) {
				delete(r.ifDeps, name)
			}
		case nh.Gateway.IsValid():
			ni := nh.Instance
			if ni == "" {
				ni = d.inst.name
			}
			t := r.track[ni]
			if t == nil {
				t = &tracker{deps: map[netip.Addr]*depSet{}}
				r.track[ni] = t
			}
			m := t.deps[nh.Gateway]
			if m == nil {
				m = &depSet{}
				t.deps[nh.Gateway] = m
				t.dirty = true
			}
			if m.add(d, n) {
				delete(t.deps, nh.Gateway)
				t.dirty = true
			}
		}
	}
}

// depSet is a set of destinations with reference counts, kept in a slice
// so that walking it is deterministic (it depends only on the order of
// operations, never on map iteration).
type depSet struct {
	idx   map[*dest]int32 // position in list
	list  []*dest
	count []int32
}

// add changes d's count by n and reports whether the set became empty.
func (s *depSet) add(d *dest, n int) bool {
	if s.idx == nil {
		s.idx = map[*dest]int32{}
	}
	i, ok := s.idx[d]
	if !ok {
		if n <= 0 {
			return len(s.list) == 0
		}
		i = int32(len(s.list))
		s.idx[d] = i
		s.list = append(s.list, d)
		s.count = append(s.count, 0)
	}
	s.count[i] += int32(n)
	if s.count[i] <= 0 {
		last := int32(len(s.list) - 1)
		if i != last {
			s.list[i], s.count[i] = s.list[last], s.count[last]
			s.idx[s.list[i]] = i
		}
		s.list[last] = nil
		s.list, s.count = s.list[:last], s.count[:last]
		delete(s.idx, d)
	}
	return len(s.list) == 0
}

func (r *RIB) enqueue(d *dest) {
	if !d.queued {
		d.queued = true
		r.queue = append(r.queue, d)
	}
}

func (r *RIB) markAll(s *depSet) {
	for _, d := range s.list {
		r.enqueue(d)
	}
}

// propagate marks the destinations whose recursive next hops fall inside d,
// the LSPs whose explicit next hop d covers, and the watches it concerns.
func (r *RIB) propagate(d *dest) {
	r.watchTouch(d)
	if len(r.ifLSPs) > 0 {
		r.explicitCovered(d)
	}
	t := r.track[d.inst.name]
	if t == nil || len(t.deps) == 0 {
		return
	}
	if t.dirty {
		t.sorted = t.sorted[:0]
		for a := range t.deps {
			t.sorted = append(t.sorted, a)
		}
		slices.SortFunc(t.sorted, netip.Addr.Compare)
		t.dirty = false
	}
	first := d.prefix.Addr()
	i, _ := slices.BinarySearchFunc(t.sorted, first, netip.Addr.Compare)
	for ; i < len(t.sorted) && d.prefix.Contains(t.sorted[i]); i++ {
		r.markAll(t.deps[t.sorted[i]])
	}
}

// settle brings every computed state (selection, resolution, LSP status) up
// to date with the changes made so far.
func (r *RIB) settle() {
	r.run()
	r.computeLabels()
	r.deliverWatches()
}

// run processes queued destinations until nothing changes any more.
func (r *RIB) run() {
	for len(r.queue) > 0 {
		q := r.queue
		r.queue = nil
		for _, d := range q {
			d.queued = false
			r.process(d)
		}
	}
	for _, d := range r.visited {
		d.visits = 0
	}
	r.visited = r.visited[:0]
}

func appendVias(dst []*dest, best []*route) []*dest {
	for _, rt := range best {
		for _, p := range rt.paths {
			if p.via != nil {
				dst = append(dst, p.via)
			}
		}
	}
	return dst
}

func sameHop(a, b Hop) bool {
	return a.Interface == b.Interface && a.Gateway == b.Gateway && slices.Equal(a.Labels, b.Labels)
}

func cmpHop(a, b Hop) int {
	if c := strings.Compare(a.Interface, b.Interface); c != 0 {
		return c
	}
	if c := a.Gateway.Compare(b.Gateway); c != 0 {
		return c
	}
	return slices.Compare(a.Labels, b.Labels)
}

func (r *RIB) process(d *dest) {
	d.visits++
	if d.visits == 1 {
		r.visited = append(r.visited, d)
	}
	looping := d.visits > maxVisits
	// The state others depend on, before: selection, FIB entry, the routes
	// resolved through (loop detection), the LSP.
	oldWant, oldLSP := d.want, d.lsp
	r.oldBest = append(r.oldBest[:0], d.best...)
	r.oldVias = appendVias(r.oldVias[:0], d.best)
	for _, rt := range d.routes {
		r.resolve(d, rt, looping)
	}
	r.selectBest(d)
	r.computeWant(d)
	r.newVias = appendVias(r.newVias[:0], d.best)
	changed := oldLSP != d.lsp || !slices.Equal(r.oldBest, d.best) ||
		!slices.Equal(r.oldVias, r.newVias) || !sameFIB(oldWant, d.want)
	if changed {
		r.touch(d)
		r.propagate(d)
	}
	if len(d.routes) == 0 && !d.hw.set && !d.touched {
		r.dropDest(d)
	}
}

func (r *RIB) touch(d *dest) {
	if !d.touched {
		d.touched = true
		r.touched = append(r.touched, d)
	}
}

func (r *RIB) dropDest(d *dest) {
	in := d.inst
	if in.dests[d.prefix] == d {
		delete(in.dests, d.prefix)
		in.lenCount[d.prefix.Bits()]--
	}
}

// lookupPort finds an interface by VRP name, ignoring case.
func (r *RIB) lookupPort(name string) *Port {
	if p := r.ports[name]; p != nil {
		return p
	}
	if k, ok := r.portFold[strings.ToLower(name)]; ok {
		return r.ports[k]
	}
	return nil
}

// kernel is the kernel name of an interface for the forwarder (the name
// itself if the RIB does not know it, which no computed entry does).
func (r *RIB) kernel(name string) string {
	if p := r.ports[name]; p != nil && p.Kernel != "" {
		return p.Kernel
	}
	return name
}

func (r *RIB) resolve(d *dest, rt *route, looping bool) {
	if rt.paths == nil {
		rt.paths = rt.path1[:0]
	}
	rt.paths = rt.paths[:0]
	switch {
	case rt.direct != nil:
		rt.valid = true
		if rt.direct.local {
			rt.kind = fibapi.Local
			rt.paths = append(rt.paths, path{ok: true, port: rt.direct.port})
		} else {
			rt.kind = fibapi.Forward
			rt.paths = append(rt.paths, path{ok: true, port: rt.direct.port, hops: rt.direct.hops})
		}
		return
	case rt.Blackhole:
		rt.valid, rt.kind = true, fibapi.Drop
		rt.paths = append(rt.paths, path{ok: true, drop: true})
		return
	}
	rt.relay = false
	anyOK, anyFwd := false, false
	for _, nh := range rt.NextHops {
		var p path
		if nh.Interface == "" {
			rt.relay = true
			if looping {
				p = path{} // given up: see maxVisits
			} else {
				p = r.resolveRecursive(d, nh)
			}
		} else {
			p = r.resolveInterface(d, nh)
		}
		rt.paths = append(rt.paths, p)
		if p.ok {
			anyOK = true
			if !p.drop {
				anyFwd = true
			}
		}
	}
	rt.valid = anyOK
	rt.kind = fibapi.Forward
	if anyOK && !anyFwd {
		rt.kind = fibapi.Drop
	}
}

// resolveInterface: the interface must be up and bound to the instance of
// the next hop (a route never leaks out of another instance's interface).
func (r *RIB) resolveInterface(d *dest, nh NextHop) path {
	p := path{}
	port := r.lookupPort(nh.Interface)
	ni := nh.Instance
	if ni == "" {
		ni = d.inst.name
	}
	if port == nil || !port.Up || port.Instance != ni {
		return p
	}
	if port.Loopback {
		// Nothing leaves through a loopback: a blackhole, as NULL0.
		p.ok, p.drop, p.port = true, true, port.Name
		return p
	}
	p.ok, p.port = true, port.Name
	p.hops = []Hop{{Interface: port.Name, Gateway: nh.Gateway, Labels: slices.Clone(nh.Labels)}}
	if len(nh.Labels) == 0 {
		p.hops[0].Labels = nil
	}
	return p
}

// resolveRecursive resolves a next-hop address through the longest covering
// route of its instance that is usable: not the destination itself, and not
// one whose own resolution leads back to it (a loop).
func (r *RIB) resolveRecursive(d *dest, nh NextHop) path {
	p := path{}
	ni := nh.Instance
	if ni == "" {
		ni = d.inst.name
	}
	in := r.instances[ni]
	if in == nil || in.deleted {
		return p
	}
	var via *dest
	for l := 32; l >= 0; l-- {
		if in.lenCount[l] == 0 {
			continue
		}
		c := in.dests[netip.PrefixFrom(nh.Gateway, l).Masked()]
		if c == nil || !c.want.set || c == d || r.reaches(c, d) {
			continue
		}
		via = c
		break
	}
	if via == nil {
		return p
	}
	p.via = via
	switch via.want.kind {
	case fibapi.Local, fibapi.Unreachable:
		return p // the next hop is one of our own addresses
	case fibapi.Drop:
		p.ok, p.drop = true, true
		return p
	}
	if nh.Tunnel && via.lsp == nil {
		return p
	}
	p.ok = true
	for _, h := range via.want.hops {
		g := h.Gateway
		if !g.IsValid() {
			g = nh.Gateway
		}
		var labels []uint32
		if len(h.Labels)+len(nh.Labels) > 0 {
			labels = append(slices.Clone(h.Labels), nh.Labels...)
		}
		p.hops = append(p.hops, Hop{Interface: h.Interface, Gateway: g, Labels: labels})
	}
	if len(p.hops) > 0 {
		p.port = p.hops[0].Interface
	}
	return p
}

// reaches reports whether the resolution of c's selected routes passes
// through target (or goes deeper than maxDepth).
// Each destination is visited once per question (equal-cost paths make the
// resolution graph a DAG, which a plain walk could take exponential time on).
func (r *RIB) reaches(c, target *dest) bool {
	r.reachGen++
	return r.reachesFrom(c, target, 0)
}

func (r *RIB) reachesFrom(c, target *dest, depth int) bool {
	if depth > maxDepth {
		return true
	}
	if c.reachGen == r.reachGen {
		return false // already explored from here
	}
	c.reachGen = r.reachGen
	for _, rt := range c.best {
		for _, p := range rt.paths {
			if p.via == nil {
				continue
			}
			if p.via == target || r.reachesFrom(p.via, target, depth+1) {
				return true
			}
		}
	}
	return false
}

func (r *RIB) selectBest(d *dest) {
	d.best = d.best[:0]
	for _, rt := range d.routes {
		if !rt.valid {
			continue
		}
		if len(d.best) == 0 {
			d.best = append(d.best, rt)
			continue
		}
		b := d.best[0]
		c := cmp.Compare(rt.Preference, b.Preference)
		if c == 0 {
			c = cmp.Compare(rt.Cost, b.Cost)
		}
		if c == 0 && rt.Protocol != b.Protocol {
			c = cmp.Compare(rt.Protocol, b.Protocol)
		}
		switch {
		case c < 0:
			d.best = append(d.best[:0], rt)
		case c == 0 && rt.kind == b.kind:
			d.best = append(d.best, rt)
		}
	}
}

func (r *RIB) computeWant(d *dest) {
	d.lsp = nil
	d.want = r.ipEntry(d)
	if len(r.lspFEC) > 0 {
		if fe := r.lspFEC[fecKey{d.inst.name, d.prefix}]; fe != nil {
			r.fecChanged(d, fe)
		}
	}
}

// Compute processes every pending change and returns the FIB differences
// against what was last committed (only what changed). Routes come in
// processing order (deterministic for a given sequence of calls), labels
// sorted. Call Commit once the
// batch is programmed; without Commit, the next Compute includes it again.
func (r *RIB) Compute() fibapi.Batch {
	r.settle()
	var b fibapi.Batch
	r.computed = slices.Grow(r.computed[:0], len(r.touched))
	b.Routes = make([]fibapi.Route, 0, len(r.touched))
	clear(r.computedLabels)
	nhops, nlabels := 0, 0
	for _, d := range r.touched {
		if d.want.set {
			nhops += len(d.want.hops)
			for _, h := range d.want.hops {
				nlabels += len(h.Labels)
			}
		}
	}
	// The batch gets its own copy of next hops and labels, in two slabs; the
	// next hops name kernel ports (the forwarder's spelling).
	hops := make([]fibapi.NextHop, 0, nhops)
	labels := make([]uint32, 0, nlabels)
	for _, d := range r.touched {
		r.computed = append(r.computed, computedRoute{d, d.want})
		switch {
		case d.want.set && !sameFIB(d.want, d.hw):
			w := fibapi.Route{Instance: d.inst.name, Prefix: d.prefix, Kind: d.want.kind}
			start := len(hops)
			for _, h := range d.want.hops {
				fh := fibapi.NextHop{Port: r.kernel(h.Interface), Gateway: h.Gateway}
				ls := len(labels)
				labels = append(labels, h.Labels...)
				if len(h.Labels) > 0 {
					fh.Labels = labels[ls:len(labels):len(labels)]
				}
				hops = append(hops, fh)
			}
			w.NextHops = hops[start:len(hops):len(hops)]
			if len(w.NextHops) == 0 {
				w.NextHops = nil
			}
			b.Routes = append(b.Routes, w)
		case !d.want.set && d.hw.set:
			b.DeleteRoutes = append(b.DeleteRoutes, fibapi.Route{Instance: d.inst.name, Prefix: d.prefix})
		}
	}
	for l := range r.labelChange {
		w, ok := r.labelWant[l]
		h, had := r.labelHW[l]
		r.computedLabels[l] = computedLabel{w, ok}
		switch {
		case ok && (!had || !sameLabel(w, h)):
			b.Labels = append(b.Labels, r.fibLabel(w))
		case !ok && had:
			b.DeleteLabels = append(b.DeleteLabels, l)
		}
	}
	slices.SortFunc(b.Labels, func(a, b fibapi.LabelEntry) int { return cmp.Compare(a.InLabel, b.InLabel) })
	slices.Sort(b.DeleteLabels)
	return b
}

func cloneHops(hs []Hop) []Hop {
	if len(hs) == 0 {
		return nil
	}
	out := slices.Clone(hs)
	for i := range out {
		out[i].Labels = slices.Clone(out[i].Labels)
	}
	return out
}

// Commit records that the last Compute's batch reached the forwarder.
// Changes made after that Compute stay pending for the next one.
func (r *RIB) Commit() {
	for _, c := range r.computed {
		c.d.hw = c.want
	}
	r.computed = r.computed[:0]
	keep := r.touched[:0]
	for _, d := range r.touched {
		if !sameFIB(d.want, d.hw) {
			keep = append(keep, d)
			continue
		}
		d.touched = false
		if len(d.routes) == 0 && !d.hw.set {
			r.dropDest(d)
		}
	}
	clear(r.touched[len(keep):])
	r.touched = keep
	for l, c := range r.computedLabels {
		if c.present {
			r.labelHW[l] = c.entry
		} else {
			delete(r.labelHW, l)
		}
	}
	clear(r.computedLabels)
	for l := range r.labelChange {
		w, ok := r.labelWant[l]
		h, had := r.labelHW[l]
		if ok == had && (!ok || sameLabel(w, h)) {
			delete(r.labelChange, l)
		}
	}
	for name, in := range r.instances {
		if in.deleted && len(in.dests) == 0 {
			delete(r.instances, name)
		}
	}
}

// Resync forgets what the forwarder holds, so that the next Compute sends
// the whole FIB again (after a forwarder restart).
func (r *RIB) Resync() {
	for _, name := range sortedKeys(r.instances) {
		in := r.instances[name]
		for _, p := range sortedPrefixes(in.dests) {
			d := in.dests[p]
			d.hw = fibEntry{}
			r.touch(d)
		}
	}
	for l := range r.labelWant {
		r.labelChange[l] = true
	}
	clear(r.labelHW)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedPrefixes(m map[netip.Prefix]*dest) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, cmpPrefix)
	return out
}
