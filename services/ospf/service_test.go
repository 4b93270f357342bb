package ospf

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/mailbox"
	"vpnos/services/rib"
	"vpnos/services/vrf"
)

// fakeEvents is a vrf subscription the test feeds.
type fakeEvents struct {
	mu  sync.Mutex
	evs []vrf.Event
	c   chan struct{}
}

func newFakeEvents() *fakeEvents { return &fakeEvents{c: make(chan struct{}, 1)} }

func (f *fakeEvents) C() <-chan struct{} { return f.c }

func (f *fakeEvents) Take() []vrf.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.evs
	f.evs = nil
	return out
}

func (f *fakeEvents) Close() {}

func (f *fakeEvents) put(evs ...vrf.Event) {
	f.mu.Lock()
	f.evs = append(f.evs, evs...)
	f.mu.Unlock()
	select {
	case f.c <- struct{}{}:
	default:
	}
}

func instanceEv(name string, exists bool) vrf.Event {
	c := vrf.Added
	if !exists {
		c = vrf.Removed
	}
	return vrf.Event{Instance: &vrf.InstanceEvent{Name: name, Exists: exists, Changes: c}}
}

func ifaceEv(name, kernel, instance string, up bool, addrs ...string) vrf.Event {
	in := vrf.Interface{Name: name, Kernel: kernel, Instance: instance, Up: up, Present: true, Loopback: kernel == ""}
	for _, a := range addrs {
		in.Addresses = append(in.Addresses, netip.MustParsePrefix(a))
	}
	return vrf.Event{Interface: &vrf.InterfaceEvent{Interface: in, Exists: true, Changes: vrf.UpDown}}
}

// wire joins the sockets of two routers' ports: what one sends, the other
// receives (multicast, or unicast to its address).
type wire struct {
	mu    sync.Mutex
	ends  map[string]*wireEnd // router -> its end
	count map[string]int      // sockets opened per router
}

type wireEnd struct {
	addr    netip.Addr
	name    string
	deliver func(Packet)
	open    bool
}

func (w *wire) sockets(router string, addr string, t *testing.T) func(string, func(string) string) Sockets {
	return func(instance string, kernel func(string) string) Sockets {
		return socketsFunc(func(name string, deliver func(Packet)) (Conn, error) {
			if k := kernel(name); k != "eth1" {
				t.Errorf("%s: kernel name of %s is %q", router, name, k)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			w.ends[router] = &wireEnd{addr: netip.MustParseAddr(addr), name: name, deliver: deliver, open: true}
			w.count[router]++
			return &wireConn{w: w, router: router}, nil
		})
	}
}

type socketsFunc func(string, func(Packet)) (Conn, error)

func (f socketsFunc) Open(name string, deliver func(Packet)) (Conn, error) { return f(name, deliver) }

type wireConn struct {
	w      *wire
	router string
}

func (c *wireConn) Send(dst, src netip.Addr, payload []byte) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	if e := c.w.ends[c.router]; e == nil || !e.open {
		return fmt.Errorf("closed")
	}
	for r, e := range c.w.ends {
		if r == c.router || !e.open || (!dst.IsMulticast() && dst != e.addr) {
			continue
		}
		e.deliver(Packet{Iface: e.name, Src: src, Dst: dst, Data: slices.Clone(payload)})
	}
	return nil
}

func (c *wireConn) Join(netip.Addr) error  { return nil }
func (c *wireConn) Leave(netip.Addr) error { return nil }
func (c *wireConn) Close() error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	if e := c.w.ends[c.router]; e != nil {
		e.open = false
	}
	return nil
}

// fakeRIB keeps what the service synced and serves route watches.
type fakeRIB struct {
	mu      sync.Mutex
	synced  map[rib.Protocol]map[string][]rib.Route
	watches []*fakeWatch
}

func (r *fakeRIB) SyncRoutes(_ context.Context, proto rib.Protocol, routes map[string][]rib.Route) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.synced == nil {
		r.synced = map[rib.Protocol]map[string][]rib.Route{}
	}
	r.synced[proto] = routes
	return nil
}

func (r *fakeRIB) route(proto rib.Protocol, instance, prefix string) *rib.Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rt := range r.synced[proto][instance] {
		if rt.Prefix.String() == prefix {
			return &rt
		}
	}
	return nil
}

func (r *fakeRIB) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.synced {
		for _, rts := range m {
			n += len(rts)
		}
	}
	return n
}

func (r *fakeRIB) WatchRoutes(_ context.Context, instance string, protos ...rib.Protocol) (RouteWatch, error) {
	w := &fakeWatch{box: mailbox.New[netip.Prefix, rib.BestRoute](nil), instance: instance}
	r.mu.Lock()
	r.watches = append(r.watches, w)
	r.mu.Unlock()
	return w, nil
}

func (r *fakeRIB) offer(b rib.BestRoute) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.watches {
		if w.instance == b.Instance {
			w.box.Put(b.Prefix, b)
		}
	}
}

type fakeWatch struct {
	box      *mailbox.Mailbox[netip.Prefix, rib.BestRoute]
	instance string
}

func (w *fakeWatch) C() <-chan struct{}              { return w.box.C() }
func (w *fakeWatch) Take() []rib.BestRoute           { return w.box.Take() }
func (w *fakeWatch) Close(ctx context.Context) error { w.box.Close(); return nil }

// router is one Service with its fakes.
type router struct {
	svc    *Service
	events *fakeEvents
	rib    *fakeRIB
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *router) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		if err := r.svc.Run(ctx, nil); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
}

func (r *router) stop() {
	r.cancel()
	<-r.done
}

func newRouter(t *testing.T, w *wire, name, addr string) *router {
	r := &router{events: newFakeEvents(), rib: &fakeRIB{}}
	r.svc = NewService(ServiceDeps{
		Subscribe:     func() Events { return r.events },
		SyncRoutes:    r.rib.SyncRoutes,
		WatchRoutes:   r.rib.WatchRoutes,
		MTU:           func(string) int { return 1500 },
		Sockets:       w.sockets(name, addr, t),
		RetryInterval: 100 * time.Millisecond,
	})
	r.run(t)
	t.Cleanup(r.stop)
	return r
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// coreConfig is process 1 over GigabitEthernet0/1/0 (point-to-point,
// hello 1) and LoopBack0.
func coreConfig(rid string, lo string) Settings {
	return Settings{Processes: []Config{{
		Process:  1,
		RouterID: netip.MustParseAddr(rid),
		Areas:    []Area{{ID: 0, Networks: []Network{net4("10.1.12.0", "0.0.0.3"), net4(lo, "0.0.0.0")}}},
		Interfaces: []InterfaceSettings{{Name: "GigabitEthernet0/1/0", NetworkType: NetworkP2P,
			HelloInterval: 1, DeadInterval: 4}},
	}}}
}

// Two services, each a router: their processes start when the instance
// and interfaces are reported, exchange routes, move them as a port goes
// down and up, import a static route, and keep serving across a restart
// of Run; a process of a VPN instance waits for the instance.
func TestService(t *testing.T) {
	w := &wire{ends: map[string]*wireEnd{}, count: map[string]int{}}
	a := newRouter(t, w, "a", "10.1.12.1")
	b := newRouter(t, w, "b", "10.1.12.2")
	a.svc.Configure(coreConfig("10.255.0.1", "10.255.0.1"))
	b.svc.Configure(coreConfig("10.255.0.2", "10.255.0.2"))
	for _, r := range []struct {
		r        *router
		addr, lo string
	}{{a, "10.1.12.1/30", "10.255.0.1/32"}, {b, "10.1.12.2/30", "10.255.0.2/32"}} {
		r.r.events.put(instanceEv(fibapi.Public, true),
			ifaceEv("GigabitEthernet0/1/0", "eth1", fibapi.Public, true, r.addr),
			ifaceEv("LoopBack0", "", fibapi.Public, true, r.lo))
	}
	reaches := func(r *router, prefix, gw string) func() bool {
		return func() bool {
			rt := r.rib.route(rib.OSPF, fibapi.Public, prefix)
			return rt != nil && len(rt.NextHops) == 1 && rt.NextHops[0].Gateway.String() == gw &&
				rt.NextHops[0].Interface == "GigabitEthernet0/1/0" && rt.Key == "ospf 1"
		}
	}
	waitUntil(t, "a's route to b's loopback", reaches(a, "10.255.0.2/32", "10.1.12.2"))
	waitUntil(t, "b's route to a's loopback", reaches(b, "10.255.0.1/32", "10.1.12.1"))
	snaps, err := a.svc.Snapshots(context.Background(), 1)
	if err != nil || len(snaps) != 1 || snaps[0].RouterID.String() != "10.255.0.1" || snaps[0].DisplayName("GigabitEthernet0/1/0") != "GigabitEthernet0/1/0" {
		t.Fatalf("snapshot %+v, %v", snaps, err)
	}
	if _, err := a.svc.Snapshots(context.Background(), 9); err != ErrNoProcess {
		t.Fatalf("snapshot of a process that is not configured: %v", err)
	}

	// a's port goes down: its route goes at once (not after the dead
	// interval), and comes back with the port.
	a.events.put(ifaceEv("GigabitEthernet0/1/0", "eth1", fibapi.Public, false, "10.1.12.1/30"))
	waitUntil(t, "a's route withdrawn", func() bool { return a.rib.route(rib.OSPF, fibapi.Public, "10.255.0.2/32") == nil })
	a.events.put(ifaceEv("GigabitEthernet0/1/0", "eth1", fibapi.Public, true, "10.1.12.1/30"))
	waitUntil(t, "a's route back", reaches(a, "10.255.0.2/32", "10.1.12.2"))

	// import-route static on b: a static route the RIB offers reaches a
	// as an AS-external route.
	set := coreConfig("10.255.0.2", "10.255.0.2")
	set.Processes[0].Imports = []Import{{Protocol: "static", Type: 2, Cost: 20, CostSet: true}}
	b.svc.Configure(set)
	waitUntil(t, "b watches the RIB", func() bool {
		b.rib.mu.Lock()
		defer b.rib.mu.Unlock()
		return len(b.rib.watches) == 1
	})
	b.rib.offer(rib.BestRoute{Instance: fibapi.Public, Prefix: netip.MustParsePrefix("172.20.0.0/16"), Protocol: rib.Static, Blackhole: true})
	b.rib.offer(rib.BestRoute{Instance: fibapi.Public, Prefix: netip.MustParsePrefix("172.21.0.0/16"), Protocol: rib.OSPF})
	waitUntil(t, "a's external route", func() bool {
		rt := a.rib.route(rib.OSPFASE, fibapi.Public, "172.20.0.0/16")
		return rt != nil && rt.Cost == 20 && rt.NextHops[0].Gateway.String() == "10.1.12.2"
	})
	if rt := a.rib.route(rib.OSPFASE, fibapi.Public, "172.21.0.0/16"); rt != nil {
		t.Errorf("an OSPF route was imported: %+v", rt)
	}
	b.rib.offer(rib.BestRoute{Instance: fibapi.Public, Prefix: netip.MustParsePrefix("172.20.0.0/16"), Withdrawn: true})
	waitUntil(t, "a's external route withdrawn", func() bool { return a.rib.route(rib.OSPFASE, fibapi.Public, "172.20.0.0/16") == nil })

	// Run of a stops: its routes go; run again, it serves with the same
	// configuration.
	a.stop()
	if n := a.rib.count(); n != 0 {
		t.Errorf("%d routes left after a stopped", n)
	}
	a.run(t)
	a.events.put(instanceEv(fibapi.Public, true),
		ifaceEv("GigabitEthernet0/1/0", "eth1", fibapi.Public, true, "10.1.12.1/30"),
		ifaceEv("LoopBack0", "", fibapi.Public, true, "10.255.0.1/32"))
	waitUntil(t, "a's route after the restart", reaches(a, "10.255.0.2/32", "10.1.12.2"))

	// A process of a VPN instance that is not there: shown, not running.
	set = coreConfig("10.255.0.1", "10.255.0.1")
	set.Processes = append(set.Processes, Config{Process: 2, VPNInstance: "red", RouterID: netip.MustParseAddr("172.16.0.1"),
		Areas: []Area{{ID: 0, Networks: []Network{net4("172.16.0.0", "0.0.255.255")}}}})
	a.svc.Configure(set)
	snaps, err = a.svc.Snapshots(context.Background(), 2)
	if err != nil || len(snaps) != 1 || snaps[0].VPNInstance != "red" || len(snaps[0].Areas) != 0 {
		t.Fatalf("process 2 before its instance: %+v, %v", snaps, err)
	}
	a.events.put(instanceEv("red", true), ifaceEv("LoopBack1", "", "red", true, "172.16.0.1/32"))
	waitUntil(t, "process 2 runs", func() bool {
		snaps, err := a.svc.Snapshots(context.Background(), 2)
		return err == nil && len(snaps) == 1 && len(snaps[0].Areas) == 1 && len(snaps[0].Areas[0].Interfaces) == 1
	})
	// The instance goes: so does its process; process 1 runs on.
	a.events.put(instanceEv("red", false))
	waitUntil(t, "process 2 stops", func() bool {
		snaps, err := a.svc.Snapshots(context.Background(), 2)
		return err == nil && len(snaps[0].Areas) == 0
	})
	// Process 1 removed: its routes go.
	a.svc.Configure(Settings{})
	waitUntil(t, "a's routes withdrawn", func() bool { return a.rib.count() == 0 })
	if err := a.svc.Reset(context.Background(), 1); err != ErrNoProcess {
		t.Errorf("reset of a removed process: %v", err)
	}
}
