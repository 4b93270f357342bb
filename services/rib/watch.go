package rib

// Watches: protocols follow the RIB without polling it.
//
//   - A NexthopWatch tracks addresses (BGP next-hop tracking): for each, the
//     longest-match route that resolves it, its protocol, preference and cost
//     (the IGP metric), the resolving next hops with the labels of the path,
//     and whether an LSP carries traffic to it (what a VPN route's Tunnel next
//     hop needs).
//   - A RouteWatch follows the best routes of some protocols in one instance
//     (redistribution: `import-route direct|static|ospf|bgp`): every prefix
//     whose selected route is of one of them, with its attributes, and a
//     withdrawal when that stops.
//
// Delivery never blocks the RIB: each watch has a mailbox holding the
// latest value per key (address or prefix) that the watcher has not taken
// yet, and a channel that signals "something is waiting". A watcher that is
// slow takes the newest state of each key, never an older one, and the
// mailbox never holds more than one value per key. Values are computed once
// the RIB has settled after a batch of changes, so a watcher never sees the
// intermediate states of one batch.
//
//	w := svc.WatchNexthops()
//	w.Track(ctx, fibapi.Public, pe2)
//	for {
//		select {
//		case <-w.C():
//			for _, nh := range w.Take() { ... nh.Resolved, nh.Cost, nh.Tunnel ... }
//		case <-ctx.Done():
//			w.Close(context.Background())
//			return
//		}
//	}

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"

	"vpnos/services/fibapi"
	"vpnos/services/mailbox"
)

// runner runs fn with the RIB: directly for a RIB, as a message to the
// owner loop for a Service.
type runner func(ctx context.Context, fn func(*RIB) error) error

// ErrWatchClosed is returned by a closed watch.
var ErrWatchClosed = errors.New("watch closed")

// NexthopKey names a tracked address.
type NexthopKey struct {
	Instance string
	Addr     netip.Addr
}

// NexthopState is how the RIB reaches a tracked address.
type NexthopState struct {
	NexthopKey
	// Resolved: a forwarding route covers the address (not a blackhole, not
	// one of the router's own addresses).
	Resolved bool
	// Local: the address is one of the router's own in the instance.
	Local bool
	// Route is the longest-match route with a FIB entry (invalid if none),
	// with its protocol, preference and cost (the IGP metric).
	Route      netip.Prefix
	Protocol   Protocol
	Preference uint32
	Cost       uint32
	// Hops are the resolving next hops with the labels pushed on the way
	// (those of an LSP when one carries the traffic).
	Hops []Hop
	// Tunnel: an LSP carries traffic to the address (Route is its FEC);
	// TunnelOwner and TunnelName name it.
	Tunnel                  bool
	TunnelOwner, TunnelName string
}

func sameNexthop(a, b NexthopState) bool {
	return a.NexthopKey == b.NexthopKey && a.Resolved == b.Resolved && a.Local == b.Local && a.Route == b.Route &&
		a.Protocol == b.Protocol && a.Preference == b.Preference && a.Cost == b.Cost &&
		slices.EqualFunc(a.Hops, b.Hops, sameHop) && a.Tunnel == b.Tunnel && a.TunnelOwner == b.TunnelOwner && a.TunnelName == b.TunnelName
}

// NexthopWatch tracks addresses; see the package comment of watch.go.
type NexthopWatch struct {
	box *mailbox.Mailbox[NexthopKey, NexthopState]
	run runner
	// Owned by the RIB's goroutine:
	tracked map[NexthopKey]bool
	closed  bool
}

// C signals that states are waiting to be taken.
func (w *NexthopWatch) C() <-chan struct{} { return w.box.C() }

// Take returns the states that changed since the last Take (the latest of
// each address), in the order the addresses first changed.
func (w *NexthopWatch) Take() []NexthopState { return w.box.Take() }

// Track starts tracking addresses of an instance; their current state is
// delivered at once. Tracking an address again changes nothing.
func (w *NexthopWatch) Track(ctx context.Context, instance string, addrs ...netip.Addr) error {
	return w.run(ctx, func(r *RIB) error { return r.trackAddrs(w, instance, addrs, true) })
}

// Untrack stops tracking addresses (states of them not taken yet stay).
func (w *NexthopWatch) Untrack(ctx context.Context, instance string, addrs ...netip.Addr) error {
	return w.run(ctx, func(r *RIB) error { return r.trackAddrs(w, instance, addrs, false) })
}

// Close stops the watch: nothing is delivered any more, and the RIB forgets
// it.
func (w *NexthopWatch) Close(ctx context.Context) error {
	w.box.Close()
	return w.run(ctx, func(r *RIB) error {
		if w.closed {
			return nil
		}
		for k := range w.tracked {
			r.watches.untrack(w, k)
		}
		w.tracked, w.closed = nil, true
		return nil
	})
}

// BestRoute is a best route of a followed protocol, or its withdrawal.
type BestRoute struct {
	Instance string
	Prefix   netip.Prefix
	// Withdrawn: the prefix no longer has a best route of the followed
	// protocols (the other fields are empty).
	Withdrawn  bool
	Protocol   Protocol
	Preference uint32
	Cost       uint32
	Tag        uint32
	Blackhole  bool
	// NextHops are the selected routes' next hops as given (for a direct
	// route: the interface and its address); Hops as resolved.
	NextHops []NextHop
	Hops     []Hop
}

func sameBestRoute(a, b BestRoute) bool {
	return a.Instance == b.Instance && a.Prefix == b.Prefix && a.Withdrawn == b.Withdrawn && a.Protocol == b.Protocol &&
		a.Preference == b.Preference && a.Cost == b.Cost && a.Tag == b.Tag && a.Blackhole == b.Blackhole &&
		slices.EqualFunc(a.NextHops, b.NextHops, sameNextHop) && slices.EqualFunc(a.Hops, b.Hops, sameHop)
}

func sameNextHop(a, b NextHop) bool {
	return a.Gateway == b.Gateway && a.Interface == b.Interface && a.Instance == b.Instance && a.Tunnel == b.Tunnel && slices.Equal(a.Labels, b.Labels)
}

// RouteWatch follows the best routes of some protocols in one instance.
type RouteWatch struct {
	box      *mailbox.Mailbox[netip.Prefix, BestRoute]
	run      runner
	instance string
	protos   [numProtocols]bool
	// Owned by the RIB's goroutine: what the watcher was last given.
	sent   map[netip.Prefix]BestRoute
	closed bool
}

// C signals that routes are waiting to be taken.
func (w *RouteWatch) C() <-chan struct{} { return w.box.C() }

// Take returns the routes that changed since the last Take (the latest of
// each prefix), in the order the prefixes first changed.
func (w *RouteWatch) Take() []BestRoute { return w.box.Take() }

// Close stops the watch.
func (w *RouteWatch) Close(ctx context.Context) error {
	w.box.Close()
	return w.run(ctx, func(r *RIB) error {
		if !w.closed {
			w.closed = true
			r.watches.routes[w.instance] = slices.DeleteFunc(r.watches.routes[w.instance], func(x *RouteWatch) bool { return x == w })
			w.sent = nil
		}
		return nil
	})
}

// watchState is the RIB's side of the watches.
type watchState struct {
	nh     map[string]*nhTracker // by instance
	routes map[string][]*RouteWatch
	// queued for the next delivery
	nhQueue    []*nhEntry
	routeQueue []*dest
	routeSeen  map[*dest]bool
}

type nhTracker struct {
	entries map[netip.Addr]*nhEntry
	sorted  []netip.Addr
	dirty   bool
}

type nhEntry struct {
	key      NexthopKey
	watchers []*NexthopWatch
	last     NexthopState
	queued   bool
}

func newWatchState() *watchState {
	return &watchState{nh: map[string]*nhTracker{}, routes: map[string][]*RouteWatch{}, routeSeen: map[*dest]bool{}}
}

func (ws *watchState) untrack(w *NexthopWatch, k NexthopKey) {
	t := ws.nh[k.Instance]
	if t == nil {
		return
	}
	e := t.entries[k.Addr]
	if e == nil {
		return
	}
	e.watchers = slices.DeleteFunc(e.watchers, func(x *NexthopWatch) bool { return x == w })
	if len(e.watchers) == 0 {
		delete(t.entries, k.Addr)
		t.dirty = true
		if len(t.entries) == 0 {
			delete(ws.nh, k.Instance)
		}
	}
}

// WatchNexthops returns a next-hop tracker of this RIB (used by the
// goroutine that owns the RIB; see Service.WatchNexthops).
func (r *RIB) WatchNexthops() *NexthopWatch {
	return &NexthopWatch{box: mailbox.New[NexthopKey, NexthopState](nil), tracked: map[NexthopKey]bool{},
		run: func(_ context.Context, fn func(*RIB) error) error { return fn(r) }}
}

func (r *RIB) trackAddrs(w *NexthopWatch, instance string, addrs []netip.Addr, on bool) error {
	if w.closed {
		return ErrWatchClosed
	}
	if instance == "" {
		return errNoName
	}
	for _, a := range addrs {
		if !a.Is4() {
			return ErrBadRoute
		}
	}
	r.settle()
	for _, a := range addrs {
		k := NexthopKey{instance, a}
		if !on {
			if w.tracked[k] {
				delete(w.tracked, k)
				r.watches.untrack(w, k)
			}
			continue
		}
		if w.tracked[k] {
			continue
		}
		w.tracked[k] = true
		t := r.watches.nh[instance]
		if t == nil {
			t = &nhTracker{entries: map[netip.Addr]*nhEntry{}}
			r.watches.nh[instance] = t
		}
		e := t.entries[a]
		if e == nil {
			e = &nhEntry{key: k, last: r.nexthopState(k)}
			t.entries[a] = e
			t.dirty = true
		}
		e.watchers = append(e.watchers, w)
		w.box.Put(k, cloneNexthop(e.last))
	}
	return nil
}

func cloneNexthop(n NexthopState) NexthopState {
	n.Hops = cloneHops(n.Hops)
	return n
}

// ResolveNexthop is how the RIB reaches addr in an instance now.
func (r *RIB) ResolveNexthop(instance string, addr netip.Addr) NexthopState {
	r.settle()
	return r.nexthopState(NexthopKey{instance, addr})
}

func (r *RIB) nexthopState(k NexthopKey) NexthopState {
	st := NexthopState{NexthopKey: k}
	in := r.instances[k.Instance]
	if in == nil || in.deleted || !k.Addr.Is4() {
		return st
	}
	d := r.longest(in, k.Addr, nil)
	if d == nil {
		return st
	}
	b := d.best[0]
	st.Route, st.Protocol, st.Preference, st.Cost = d.prefix, b.Protocol, b.Preference, b.Cost
	switch d.want.kind {
	case fibapi.Local:
		st.Local = true
	case fibapi.Forward:
		st.Resolved = true
		st.Hops = cloneHops(d.want.hops)
	}
	if d.lsp != nil {
		st.Tunnel, st.TunnelOwner, st.TunnelName = true, d.lsp.owner, d.lsp.Name
	}
	return st
}

// WatchRoutes returns a watch of the best routes of protos in an instance
// (which may not exist yet); every current one is delivered at once.
func (r *RIB) WatchRoutes(instance string, protos ...Protocol) (*RouteWatch, error) {
	w := &RouteWatch{box: mailbox.New[netip.Prefix, BestRoute](nil), instance: instance,
		run: func(_ context.Context, fn func(*RIB) error) error { return fn(r) }}
	return w, r.addRouteWatch(w, protos)
}

func (r *RIB) addRouteWatch(w *RouteWatch, protos []Protocol) error {
	if w.instance == "" {
		return errNoName
	}
	if len(protos) == 0 {
		return ErrBadRoute
	}
	for _, p := range protos {
		if p >= numProtocols {
			return ErrBadRoute
		}
		w.protos[p] = true
	}
	r.settle()
	w.sent = map[netip.Prefix]BestRoute{}
	r.watches.routes[w.instance] = append(r.watches.routes[w.instance], w)
	if in := r.instances[w.instance]; in != nil && !in.deleted {
		for _, p := range sortedPrefixes(in.dests) {
			r.deliverRoute(w, in.dests[p])
		}
	}
	return nil
}

// watchTouch queues what watches d concerns (d's selection, FIB entry or
// LSP changed).
func (r *RIB) watchTouch(d *dest) {
	ws := r.watches
	if t := ws.nh[d.inst.name]; t != nil {
		if t.dirty {
			t.sorted = t.sorted[:0]
			for a := range t.entries {
				t.sorted = append(t.sorted, a)
			}
			slices.SortFunc(t.sorted, netip.Addr.Compare)
			t.dirty = false
		}
		i, _ := slices.BinarySearchFunc(t.sorted, d.prefix.Addr(), netip.Addr.Compare)
		for ; i < len(t.sorted) && d.prefix.Contains(t.sorted[i]); i++ {
			if e := t.entries[t.sorted[i]]; !e.queued {
				e.queued = true
				ws.nhQueue = append(ws.nhQueue, e)
			}
		}
	}
	if len(ws.routes[d.inst.name]) > 0 && !ws.routeSeen[d] {
		ws.routeSeen[d] = true
		ws.routeQueue = append(ws.routeQueue, d)
	}
}

// deliverWatches hands the watchers what changed (called once settled).
func (r *RIB) deliverWatches() {
	ws := r.watches
	for _, e := range ws.nhQueue {
		e.queued = false
		if len(e.watchers) == 0 {
			continue // untracked meanwhile
		}
		st := r.nexthopState(e.key)
		if sameNexthop(st, e.last) {
			continue
		}
		e.last = st
		for _, w := range e.watchers {
			w.box.Put(e.key, cloneNexthop(st))
		}
	}
	clear(ws.nhQueue)
	ws.nhQueue = ws.nhQueue[:0]
	if len(ws.routeQueue) == 0 {
		return
	}
	slices.SortFunc(ws.routeQueue, func(a, b *dest) int {
		if c := cmp.Compare(a.inst.name, b.inst.name); c != 0 {
			return c
		}
		return cmpPrefix(a.prefix, b.prefix)
	})
	for _, d := range ws.routeQueue {
		for _, w := range ws.routes[d.inst.name] {
			r.deliverRoute(w, d)
		}
	}
	clear(ws.routeSeen)
	clear(ws.routeQueue)
	ws.routeQueue = ws.routeQueue[:0]
}

func (r *RIB) deliverRoute(w *RouteWatch, d *dest) {
	br, ok := r.bestRoute(d, &w.protos)
	old, had := w.sent[d.prefix]
	switch {
	case ok && had && sameBestRoute(old, br):
	case ok:
		w.sent[d.prefix] = br
		w.box.Put(d.prefix, br)
	case had:
		delete(w.sent, d.prefix)
		w.box.Put(d.prefix, BestRoute{Instance: d.inst.name, Prefix: d.prefix, Withdrawn: true})
	}
}

// bestRoute is d's best route when it is of one of protos. Direct routes
// count only for interface subnets and LoopBack addresses (not the host and
// broadcast routes of ports, not the router's internal routes).
func (r *RIB) bestRoute(d *dest, protos *[numProtocols]bool) (BestRoute, bool) {
	if len(d.best) == 0 || !d.want.set || !protos[d.best[0].Protocol] {
		return BestRoute{}, false
	}
	b := d.best[0]
	br := BestRoute{Instance: d.inst.name, Prefix: d.prefix, Protocol: b.Protocol, Preference: b.Preference, Cost: b.Cost, Tag: b.Tag}
	for _, rt := range d.best {
		switch {
		case rt.direct != nil:
			if !r.redistributable(rt.direct) {
				continue
			}
			br.NextHops = append(br.NextHops, NextHop{Gateway: rt.direct.display, Interface: rt.direct.port})
		case rt.Blackhole:
			br.Blackhole = true
		default:
			for _, nh := range rt.NextHops {
				nh.Labels = slices.Clone(nh.Labels)
				br.NextHops = append(br.NextHops, nh)
			}
		}
	}
	if b.Protocol == Direct && len(br.NextHops) == 0 {
		return BestRoute{}, false
	}
	if d.want.kind == fibapi.Drop {
		br.Blackhole = true
	}
	br.Hops = cloneHops(d.want.hops)
	return br, true
}

func (r *RIB) redistributable(di *directInfo) bool { return di.redist }
