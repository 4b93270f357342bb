package rib

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func nhString(n NexthopState) string {
	var hs []string
	for _, h := range n.Hops {
		s := h.Interface
		if h.Gateway.IsValid() {
			s += ">" + h.Gateway.String()
		}
		if len(h.Labels) > 0 {
			s += fmt.Sprint(h.Labels)
		}
		hs = append(hs, s)
	}
	s := fmt.Sprintf("%s %s res=%v local=%v route=%v %v/%d/%d hops=%s", n.Instance, n.Addr, n.Resolved, n.Local, n.Route, n.Protocol, n.Preference, n.Cost, strings.Join(hs, ","))
	if n.Tunnel {
		s += " tunnel=" + n.TunnelOwner + ":" + n.TunnelName
	}
	return s
}

func brString(b BestRoute) string {
	if b.Withdrawn {
		return fmt.Sprintf("%s %s withdrawn", b.Instance, b.Prefix)
	}
	var nhs []string
	for _, nh := range b.NextHops {
		nhs = append(nhs, fmt.Sprintf("%v/%s/%s", nh.Gateway, nh.Interface, nh.Instance))
	}
	return fmt.Sprintf("%s %s %v %d/%d tag=%d bh=%v nh=%s hops=%d", b.Instance, b.Prefix, b.Protocol, b.Preference, b.Cost, b.Tag, b.Blackhole, strings.Join(nhs, ","), len(b.Hops))
}

func takeNH(w *NexthopWatch) []string {
	var out []string
	for _, n := range w.Take() {
		out = append(out, nhString(n))
	}
	return out
}

func takeRoutes(w *RouteWatch) []string {
	var out []string
	for _, b := range w.Take() {
		out = append(out, brString(b))
	}
	return out
}

func TestNexthopWatch(t *testing.T) {
	ctx := context.Background()
	e := pe1(t)
	w := e.r.WatchNexthops()
	pe2 := ip("10.255.0.3")
	e.must(w.Track(ctx, pub, pe2, ip("10.255.0.1")))
	select {
	case <-w.C():
	default:
		t.Fatal("no signal after Track")
	}
	if got, want := takeNH(w), []string{
		"_public_ 10.255.0.3 res=false local=false route=invalid Prefix Direct/0/0 hops=",
		"_public_ 10.255.0.1 res=false local=true route=10.255.0.1/32 Direct/0/0 hops=",
	}; !slices.Equal(got, want) {
		t.Fatalf("initial states %q, want %q", got, want)
	}
	// A route to PE2 appears: resolved, with its cost and next hop.
	r := static("10.255.0.0/24", "198.51.100.2", 0)
	r.Cost = 7
	e.must(e.r.AddRoute(pub, r))
	e.flush()
	if got, want := takeNH(w), []string{"_public_ 10.255.0.3 res=true local=false route=10.255.0.0/24 Static/60/7 hops=GigabitEthernet0/3/0>198.51.100.2"}; !slices.Equal(got, want) {
		t.Errorf("route added: %q, want %q", got, want)
	}
	// A route that does not cover it changes nothing.
	e.must(e.r.AddRoute(pub, static("10.254.0.0/16", "198.51.100.2", 0)))
	e.flush()
	if got := takeNH(w); len(got) != 0 {
		t.Errorf("unrelated route: %q", got)
	}
	// A more specific route with an LSP: the tunnel exists.
	e.must(e.r.AddRoute(pub, static("10.255.0.3/32", "198.51.100.2", 0)))
	e.must(e.r.SetLSPs(OwnerStatic, []LSP{ingress("to-pe2", "10.255.0.3/32", "198.51.100.2", 100)}))
	e.flush()
	if got, want := takeNH(w), []string{"_public_ 10.255.0.3 res=true local=false route=10.255.0.3/32 Static/60/0 hops=GigabitEthernet0/3/0>198.51.100.2[100] tunnel=static:to-pe2"}; !slices.Equal(got, want) {
		t.Errorf("LSP: %q, want %q", got, want)
	}
	// The core link goes down: unresolved.
	e.must(e.r.SetInterface(port("eth3", ge3, pub, false, "198.51.100.1/30")))
	e.flush()
	if got, want := takeNH(w), []string{"_public_ 10.255.0.3 res=false local=false route=invalid Prefix Direct/0/0 hops="}; !slices.Equal(got, want) {
		t.Errorf("link down: %q, want %q", got, want)
	}
	// A blackhole covers it: not resolved, but the route is named.
	e.must(e.r.AddRoute(pub, static("10.0.0.0/8", "NULL0", 0)))
	e.flush()
	if got, want := takeNH(w), []string{"_public_ 10.255.0.3 res=false local=false route=10.0.0.0/8 Static/60/0 hops="}; !slices.Equal(got, want) {
		t.Errorf("blackhole: %q, want %q", got, want)
	}
	// Untracked: nothing more; tracking an instance that does not exist yet
	// gives an unresolved state, then the real one once it is there.
	e.must(w.Untrack(ctx, pub, pe2))
	e.must(w.Track(ctx, "blue", ip("192.0.2.9")))
	e.must(e.r.SetInterface(port("eth3", ge3, pub, true, "198.51.100.1/30")))
	e.must(e.r.AddInstance("blue"))
	e.must(e.r.SetInterface(port("eth2", ge2, "blue", true, "192.0.2.10/30")))
	e.flush()
	// The state delivered at Track was not taken: only the latest is.
	if got, want := takeNH(w), []string{"blue 192.0.2.9 res=true local=false route=192.0.2.8/30 Direct/0/0 hops=GigabitEthernet0/2/0"}; !slices.Equal(got, want) {
		t.Errorf("untracked and tracked: %q, want %q", got, want)
	}
	if st := e.r.ResolveNexthop("blue", ip("192.0.2.9")); nhString(st) != "blue 192.0.2.9 res=true local=false route=192.0.2.8/30 Direct/0/0 hops=GigabitEthernet0/2/0" {
		t.Errorf("NexthopState = %s", nhString(st))
	}
	e.must(w.Close(ctx))
	e.must(e.r.DelInstance("blue"))
	e.flush()
	if got := takeNH(w); len(got) != 0 {
		t.Errorf("closed watch got %q", got)
	}
	if err := w.Track(ctx, pub, pe2); err == nil {
		t.Error("Track on a closed watch")
	}
	if len(e.r.watches.nh) != 0 {
		t.Errorf("closed watch left trackers: %v", e.r.watches.nh)
	}
}

func TestRouteWatch(t *testing.T) {
	ctx := context.Background()
	e := pe1(t)
	e.must(e.r.AddRoute(pub, static("10.1.0.0/16", "198.51.100.2", 0)))
	e.flush()
	direct, err := e.r.WatchRoutes(pub, Direct)
	e.must(err)
	stat, err := e.r.WatchRoutes(pub, Static)
	e.must(err)
	igp, err := e.r.WatchRoutes(pub, OSPF, OSPFASE)
	e.must(err)
	// The initial dump: interface subnets and LoopBack addresses, not host,
	// broadcast or internal routes.
	if got, want := takeRoutes(direct), []string{
		"_public_ 10.255.0.1/32 Direct 0/0 tag=0 bh=false nh=127.0.0.1/LoopBack0/ hops=0",
		"_public_ 198.51.100.0/30 Direct 0/0 tag=0 bh=false nh=198.51.100.1/GigabitEthernet0/3/0/ hops=1",
	}; !slices.Equal(got, want) {
		t.Errorf("direct: %q, want %q", got, want)
	}
	if got := takeRoutes(stat); !slices.Equal(got, []string{"_public_ 10.1.0.0/16 Static 60/0 tag=0 bh=false nh=198.51.100.2// hops=1"}) {
		t.Errorf("static: %q", got)
	}
	if got := takeRoutes(igp); len(got) != 0 {
		t.Errorf("ospf: %q", got)
	}
	// OSPF wins the prefix: it leaves the static watch and enters the OSPF one.
	e.must(e.r.AddRoute(pub, ospf("10.1.0.0/16", "198.51.100.2", ge3, 20)))
	e.flush()
	if got := takeRoutes(stat); !slices.Equal(got, []string{"_public_ 10.1.0.0/16 withdrawn"}) {
		t.Errorf("static after OSPF: %q", got)
	}
	if got := takeRoutes(igp); !slices.Equal(got, []string{"_public_ 10.1.0.0/16 OSPF 10/20 tag=0 bh=false nh=198.51.100.2/GigabitEthernet0/3/0/ hops=1"}) {
		t.Errorf("ospf: %q", got)
	}
	// A change of cost is delivered; a change elsewhere is not.
	e.must(e.r.AddRoute(pub, ospf("10.1.0.0/16", "198.51.100.2", ge3, 30)))
	e.must(e.r.AddRoute("red", static("172.16.0.0/16", "192.0.2.2", 0)))
	e.flush()
	if got := takeRoutes(igp); !slices.Equal(got, []string{"_public_ 10.1.0.0/16 OSPF 10/30 tag=0 bh=false nh=198.51.100.2/GigabitEthernet0/3/0/ hops=1"}) {
		t.Errorf("ospf cost: %q", got)
	}
	if got := takeRoutes(stat); len(got) != 0 {
		t.Errorf("static watch of public saw %q", got)
	}
	// A watch of an instance that does not exist yet.
	blue, err := e.r.WatchRoutes("blue", Direct, Static)
	e.must(err)
	e.must(e.r.AddInstance("blue"))
	e.must(e.r.SetInterface(port("eth2", ge2, "blue", true, "192.0.2.5/30")))
	e.flush()
	if got := takeRoutes(blue); !slices.Equal(got, []string{"blue 192.0.2.4/30 Direct 0/0 tag=0 bh=false nh=192.0.2.5/GigabitEthernet0/2/0/ hops=1"}) {
		t.Errorf("blue: %q", got)
	}
	e.must(e.r.DelInstance("blue"))
	e.flush()
	if got := takeRoutes(blue); !slices.Equal(got, []string{"blue 192.0.2.4/30 withdrawn"}) {
		t.Errorf("blue deleted: %q", got)
	}
	e.must(blue.Close(ctx))
	if _, err := e.r.WatchRoutes(pub); err == nil {
		t.Error("a watch of no protocol")
	}
	if _, err := e.r.WatchRoutes("", Static); err == nil {
		t.Error("a watch of no instance")
	}
}

// A watcher that does not take gets the latest state of each key, and its
// mailbox never holds more than one value per key.
func TestWatchCoalesces(t *testing.T) {
	ctx := context.Background()
	e := pe1(t)
	nw := e.r.WatchNexthops()
	e.must(nw.Track(ctx, pub, ip("10.9.0.1"), ip("10.8.0.1")))
	rw, err := e.r.WatchRoutes(pub, Static)
	e.must(err)
	for i := 1; i <= 200; i++ {
		r := static("10.9.0.0/16", "198.51.100.2", 0)
		r.Cost = uint32(i)
		e.must(e.r.AddRoute(pub, r))
		e.flush()
		if n := nw.box.Len(); n > 2 {
			t.Fatalf("next-hop mailbox holds %d values for 2 addresses", n)
		}
		if n := rw.box.Len(); n > 1 {
			t.Fatalf("route mailbox holds %d values for 1 prefix", n)
		}
	}
	got := takeNH(nw)
	if len(got) != 2 || got[0] != "_public_ 10.9.0.1 res=true local=false route=10.9.0.0/16 Static/60/200 hops=GigabitEthernet0/3/0>198.51.100.2" {
		t.Errorf("coalesced states %q", got)
	}
	if got := takeRoutes(rw); !slices.Equal(got, []string{"_public_ 10.9.0.0/16 Static 60/200 tag=0 bh=false nh=198.51.100.2// hops=1"}) {
		t.Errorf("coalesced routes %q", got)
	}
}

// Through the Service: a watcher that never takes does not hold up the
// RIB's loop, and one that does sees the changes.
func TestServiceWatches(t *testing.T) {
	p := &recorder{t: t, fib: newFakeFIB()}
	s, _ := startService(t, p)
	ctx := context.Background()
	if err := s.SetInterface(ctx, port("eth3", ge3, pub, true, "198.51.100.1/30")); err != nil {
		t.Fatal(err)
	}
	idle := s.WatchNexthops()
	if err := idle.Track(ctx, pub, ip("10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	idleRoutes, err := s.WatchRoutes(ctx, pub, Static)
	if err != nil {
		t.Fatal(err)
	}
	busy := s.WatchNexthops()
	if err := busy.Track(ctx, pub, ip("10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	seen := make(chan NexthopState, 1000)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-busy.C():
				for _, n := range busy.Take() {
					seen <- n
				}
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)
	for i := 0; i < 500; i++ {
		r := static(fmt.Sprintf("10.0.%d.0/24", i%256), "198.51.100.2", 0)
		r.Cost = uint32(i)
		if err := s.AddRoute(ctx, pub, r); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case n := <-seen:
			if n.Cost == 256 && n.Route == pfx("10.0.0.0/24") {
				goto done
			}
		case <-deadline:
			t.Fatal("the busy watcher never saw the last change")
		}
	}
done:
	if n := idle.box.Len(); n != 1 {
		t.Errorf("idle next-hop mailbox holds %d values", n)
	}
	if n := idleRoutes.box.Len(); n > 256 {
		t.Errorf("idle route mailbox holds %d values for 256 prefixes", n)
	}
	st, err := s.ResolveNexthop(ctx, pub, ip("10.0.0.1"))
	if err != nil || st.Cost != 256 {
		t.Errorf("NexthopState = %+v, %v", st, err)
	}
	if err := idle.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := idleRoutes.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// watchModel is what a watcher believes after applying what it took.
type watchModel struct {
	nh     map[NexthopKey]string
	routes map[string]map[netip.Prefix]string // watch name -> prefix -> route
}

var (
	watchAddrs = []NexthopKey{
		{pub, ip("10.0.0.1")}, {pub, ip("10.1.5.5")}, {pub, ip("10.3.0.9")}, {pub, ip("172.16.1.1")},
		{pub, ip("192.168.1.2")}, {pub, ip("10.255.0.1")}, {pub, ip("100.64.0.1")},
		{"red", ip("10.0.0.1")}, {"red", ip("100.64.2.7")}, {"red", ip("192.168.3.9")},
	}
	watchSets = []struct {
		name   string
		inst   string
		protos []Protocol
	}{
		{"pub-direct", pub, []Protocol{Direct}},
		{"pub-static", pub, []Protocol{Static}},
		{"pub-igp", pub, []Protocol{OSPF, OSPFASE}},
		{"pub-bgp", pub, []Protocol{IBGP, EBGP}},
		{"red-all", "red", []Protocol{Direct, Static, IBGP}},
	}
)

type watcher struct {
	nh     *NexthopWatch
	routes map[string]*RouteWatch
	model  watchModel
}

func newWatcher(t testing.TB, r *RIB) *watcher {
	w := &watcher{nh: r.WatchNexthops(), routes: map[string]*RouteWatch{},
		model: watchModel{nh: map[NexthopKey]string{}, routes: map[string]map[netip.Prefix]string{}}}
	for _, k := range watchAddrs {
		if err := w.nh.Track(context.Background(), k.Instance, k.Addr); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range watchSets {
		rw, err := r.WatchRoutes(s.inst, s.protos...)
		if err != nil {
			t.Fatal(err)
		}
		w.routes[s.name] = rw
		w.model.routes[s.name] = map[netip.Prefix]string{}
	}
	return w
}

// take applies everything waiting to the watcher's model.
func (w *watcher) take() {
	for _, n := range w.nh.Take() {
		w.model.nh[n.NexthopKey] = nhString(n)
	}
	for name, rw := range w.routes {
		for _, b := range rw.Take() {
			if b.Withdrawn {
				delete(w.model.routes[name], b.Prefix)
			} else {
				w.model.routes[name][b.Prefix] = brString(b)
			}
		}
	}
}

// truth is what a watcher of a RIB built from scratch knows at once.
func truth(t testing.TB, r *RIB) watchModel {
	fresh := newWatcher(t, r)
	fresh.take()
	return fresh.model
}

func (m watchModel) dump() []string {
	var out []string
	for k, v := range m.nh {
		out = append(out, fmt.Sprintf("nh %v: %s", k, v))
	}
	for name, rs := range m.routes {
		for p, v := range rs {
			out = append(out, fmt.Sprintf("%s %v: %s", name, p, v))
		}
	}
	slices.Sort(out)
	return out
}

// checkWatches drives the incremental model: a watcher that takes after
// every batch, and one that takes only now and then, must both end up
// knowing what a watcher of a RIB built from scratch knows.
func checkWatches(t testing.TB, b []byte) {
	m := &opsModel{ports: map[string]Port{}, routes: map[string]map[RouteID]Route{}, lsps: map[string]map[string]LSP{}}
	r := New(Options{})
	if err := r.AddInstance("red"); err != nil {
		t.Fatal(err)
	}
	for _, p := range modelPorts {
		m.ports[p.Name] = p
		if err := r.SetInterface(p); err != nil {
			t.Fatal(err)
		}
	}
	fast, slow := newWatcher(t, r), newWatcher(t, r)
	i, batch := 0, 0
	for i < len(b) {
		steps := 1 + byteAt(b, &i)%4
		for s := 0; s < steps && i < len(b); s++ {
			m.step(t, r, b, &i)
		}
		r.Compute()
		r.Commit()
		batch++
		fast.take()
		if n := fast.nh.box.Len(); n != 0 {
			t.Fatalf("mailbox not empty after Take: %d", n)
		}
		want := truth(t, m.freshRIB(t))
		if got, w := fast.model.dump(), want.dump(); !slices.Equal(got, w) {
			t.Fatalf("after %d bytes the watcher's view differs from a fresh RIB's:\nwatcher: %q\nfresh:   %q", i, got, w)
		}
		if n := slow.nh.box.Len(); n > len(watchAddrs) {
			t.Fatalf("slow next-hop mailbox holds %d values for %d addresses", n, len(watchAddrs))
		}
		if batch%5 == 0 {
			slow.take()
		}
	}
	slow.take()
	fast.take()
	if got, w := slow.model.dump(), fast.model.dump(); !slices.Equal(got, w) {
		t.Fatalf("the slow watcher's view differs:\nslow: %q\nfast: %q", got, w)
	}
}

func TestWatchesMatchFresh(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for run := 0; run < 100; run++ {
		b := make([]byte, 200)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		checkWatches(t, b)
		if t.Failed() {
			t.Fatalf("run %d failed", run)
		}
	}
}

func FuzzWatches(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 0, 1, 1, 1, 0, 0, 3, 1, 4, 255})
	f.Add([]byte{3, 0, 2, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 4, 7, 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1000 {
			b = b[:1000]
		}
		checkWatches(t, b)
	})
}
