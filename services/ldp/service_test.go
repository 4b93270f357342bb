package ldp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/label"
	"vpnos/services/ldp/packet"
	"vpnos/services/mailbox"
	"vpnos/services/rib"
	"vpnos/services/vrf"
)

// fakeEvents is the vrf service as the test drives it: each subscription
// starts with the current state, as vrf's do.
type fakeEvents struct {
	mu    sync.Mutex
	state map[string]vrf.Event
	subs  []*mailbox.Mailbox[string, vrf.Event]
}

func newFakeEvents() *fakeEvents { return &fakeEvents{state: map[string]vrf.Event{}} }

type fakeSub struct {
	box *mailbox.Mailbox[string, vrf.Event]
}

func (f fakeSub) C() <-chan struct{} { return f.box.C() }
func (f fakeSub) Take() []vrf.Event  { return f.box.Take() }
func (f fakeSub) Close()             { f.box.Close() }

func (f *fakeEvents) subscribe() Events {
	f.mu.Lock()
	defer f.mu.Unlock()
	box := mailbox.New[string, vrf.Event](nil)
	for k, e := range f.state {
		box.Put(k, e)
	}
	f.subs = append(f.subs, box)
	return fakeSub{box}
}

func (f *fakeEvents) put(k string, e vrf.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state[k] = e
	for _, b := range f.subs {
		b.Put(k, e)
	}
}

func (f *fakeEvents) instance(name string) {
	f.put("i"+name, vrf.Event{Instance: &vrf.InstanceEvent{Name: name, Exists: true, Changes: vrf.Added}})
}
func (f *fakeEvents) iface(i vrf.Interface, exists bool) {
	f.put("f"+i.Name, vrf.Event{Interface: &vrf.InterfaceEvent{Interface: i, Exists: exists, Changes: vrf.Added}})
}

// fakeRoutes is the RIB's best routes as the test sets them: each watch
// starts with the current ones, as the RIB's do.
type fakeRoutes struct {
	mu      sync.Mutex
	state   map[netip.Prefix]rib.BestRoute
	watches []*fakeWatch
}

type fakeWatch struct {
	box *mailbox.Mailbox[netip.Prefix, rib.BestRoute]
}

func (w *fakeWatch) C() <-chan struct{}              { return w.box.C() }
func (w *fakeWatch) Take() []rib.BestRoute           { return w.box.Take() }
func (w *fakeWatch) Close(ctx context.Context) error { w.box.Close(); return nil }

func (f *fakeRoutes) watch() *fakeWatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWatch{box: mailbox.New[netip.Prefix, rib.BestRoute](nil)}
	for p, br := range f.state {
		w.box.Put(p, br)
	}
	f.watches = append(f.watches, w)
	return w
}

func (f *fakeRoutes) Put(p netip.Prefix, br rib.BestRoute) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if br.Withdrawn {
		delete(f.state, p)
	} else {
		f.state[p] = br
	}
	for _, w := range f.watches {
		w.box.Put(p, br)
	}
}

// fakeRIB keeps LDP's LSPs as the RIB would, and fails on demand.
type fakeRIB struct {
	mu    sync.Mutex
	lsps  map[string]rib.LSP
	fails int
	sets  int // SetLSPs calls
}

func (r *fakeRIB) update(ctx context.Context, owner string, set []rib.LSP, del []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if owner != rib.OwnerLDP {
		return fmt.Errorf("owner %q", owner)
	}
	if r.fails > 0 {
		r.fails--
		return errors.New("the RIB is restarting")
	}
	if err := rib.ValidateLSPs(owner, set); err != nil {
		return err
	}
	for _, n := range del {
		delete(r.lsps, n)
	}
	for _, l := range set {
		r.lsps[l.Name] = l
	}
	return nil
}

func (r *fakeRIB) set(ctx context.Context, owner string, lsps []rib.LSP) error {
	r.mu.Lock()
	r.sets++
	clear(r.lsps)
	r.mu.Unlock()
	return r.update(ctx, owner, lsps, nil)
}

func (r *fakeRIB) names() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n, l := range r.lsps {
		s := n
		for _, o := range l.Out {
			s += fmt.Sprintf(" %v/%d", o.Gateway, o.Label)
		}
		if l.InLabel != 0 {
			s += fmt.Sprintf(" in %d", l.InLabel)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

func (r *fakeRIB) get(name string) (rib.LSP, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.lsps[name]
	return l, ok
}

// serviceRig is a Service on fakes: vrf events, a route watch, a RIB, the
// real label manager and one fake network per start.
type serviceRig struct {
	svc    *Service
	ev     *fakeEvents
	watch  *fakeRoutes
	rib    *fakeRIB
	labels *label.Manager
	mu     sync.Mutex
	nets   []*fakeNet
	cancel context.CancelFunc
	done   chan error
}

func newServiceRig(t *testing.T) *serviceRig {
	r := &serviceRig{ev: newFakeEvents(), watch: &fakeRoutes{state: map[netip.Prefix]rib.BestRoute{}},
		rib: &fakeRIB{lsps: map[string]rib.LSP{}}, labels: label.New()}
	r.svc = NewService(ServiceDeps{
		Subscribe: r.ev.subscribe,
		WatchRoutes: func(ctx context.Context, instance string, protos ...rib.Protocol) (RouteWatch, error) {
			if instance != fibapi.Public || len(protos) < 4 {
				return nil, fmt.Errorf("watch of %s %v", instance, protos)
			}
			return r.watch.watch(), nil
		},
		UpdateLSPs: r.rib.update,
		SetLSPs:    r.rib.set,
		Labels:     r.labels,
		MTU:        func(string) int { return 1500 },
		OpenNet: func(ctx context.Context, log *slog.Logger) (Network, error) {
			n := newFakeNet()
			r.mu.Lock()
			r.nets = append(r.nets, n)
			r.mu.Unlock()
			return n, nil
		},
		RetryInterval: 20 * time.Millisecond,
	})
	t.Cleanup(func() {
		if r.cancel != nil {
			r.cancel()
			<-r.done
		}
	})
	return r
}

func (r *serviceRig) run() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.svc.Run(ctx, nil) }()
}

func (r *serviceRig) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	r.cancel = nil
}

func (r *serviceRig) net() *fakeNet {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.nets) == 0 {
		return nil
	}
	return r.nets[len(r.nets)-1]
}

// hellos waits for the n-th start of the instance to send Hellos on eth1
// (and eth1 only).
func (r *serviceRig) hellos(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("start %d sending hellos on eth1", n), func() (bool, string) {
		if r.opened() != n {
			return false, fmt.Sprintf("%d starts", r.opened())
		}
		f := r.net()
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Equal(f.ifaces, []string{"eth1"}) && len(f.hellos) > 0, fmt.Sprint(f.ifaces, f.hellos)
	})
}

func (r *serviceRig) opened() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.nets)
}

func (r *serviceRig) ldpLabels() []uint32 {
	var out []uint32
	for _, a := range r.labels.InUse() {
		if a.Owner == LabelOwner {
			out = append(out, a.Label)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, state := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s; state: %s", what, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var (
	ge1If = vrf.Interface{Name: "GigabitEthernet0/1/0", Kernel: "eth1", Instance: fibapi.Public, Present: true, Up: true,
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.12.1/30")}}
	lo0If = vrf.Interface{Name: "LoopBack0", Instance: fibapi.Public, Present: true, Up: true, Loopback: true,
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.255.0.5/32")}}
	serviceCfg = Config{Enabled: true, LSRID: netip.MustParseAddr("10.255.0.5"), Interfaces: []InterfaceConfig{{Name: "GigabitEthernet0/1/0"}}}
)

func bestDirect(p string, ifName string) rib.BestRoute {
	return rib.BestRoute{Instance: fibapi.Public, Prefix: pfx(p), Protocol: rib.Direct, NextHops: []rib.NextHop{{Interface: ifName}}}
}

func bestVia(p, gw, ifName string) rib.BestRoute {
	return rib.BestRoute{Instance: fibapi.Public, Prefix: pfx(p), Protocol: rib.OSPF,
		NextHops: []rib.NextHop{{Gateway: addr(gw)}}, Hops: []rib.Hop{{Interface: ifName, Gateway: addr(gw)}}}
}

// operational plays the peer 10.255.0.9 on GE0/1/0 up to an operational
// session that advertises its addresses and a label for its loopback.
func operational(n *fakeNet, peerLabel uint32) {
	us := packet.LDPID{LSRID: addr("10.255.0.5")}
	n.events <- HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")}
	n.events <- ConnAccepted{Conn: 1, Local: netip.MustParseAddrPort("10.255.0.5:646"), Remote: netip.MustParseAddrPort("10.255.0.9:4000")}
	n.events <- PDUReceived{Conn: 1, Data: pduFrom("10.255.0.9", &packet.Init{MsgID: 1, Params: packet.SessionParams{Version: 1, KeepAlive: 45, Receiver: us}})}
	n.events <- PDUReceived{Conn: 1, Data: pduFrom("10.255.0.9", &packet.KeepAlive{MsgID: 2},
		&packet.Address{MsgID: 3, Family: packet.AFIPv4, Addrs: []netip.Addr{addr("10.255.0.9"), addr("10.0.12.2")}},
		&packet.LabelMapping{MsgID: 4, FEC: packet.FECOf(pfx("10.255.0.9/32")), Label: peerLabel})}
}

// TestService: the service starts LDP when `mpls ldp` is configured and the
// public instance exists, hands it the public interfaces and the routes,
// puts its LSPs into the RIB (again after the RIB failed), takes its labels
// from the label manager, and `undo mpls ldp` ends the sessions with a
// Shutdown Notification, withdraws the LSPs and gives the labels back. A
// restarted service runs the same configuration again.
func TestService(t *testing.T) {
	r := newServiceRig(t)
	r.svc.Configure(Config{})
	r.run()
	r.ev.instance(fibapi.Public)
	r.ev.instance("red")
	r.ev.iface(ge1If, true)
	r.ev.iface(lo0If, true)
	r.ev.iface(vrf.Interface{Name: "GigabitEthernet0/2/0", Kernel: "eth2", Instance: "red", Present: true, Up: true}, true)
	r.watch.Put(pfx("10.255.0.5/32"), bestDirect("10.255.0.5/32", "LoopBack0"))
	r.watch.Put(pfx("10.0.12.0/30"), bestDirect("10.0.12.0/30", "GigabitEthernet0/1/0"))
	r.watch.Put(pfx("10.255.0.9/32"), bestVia("10.255.0.9/32", "10.0.12.2", "GigabitEthernet0/1/0"))
	if _, err := r.svc.Snapshot(context.Background()); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("snapshot without LDP: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	if r.opened() != 0 {
		t.Fatal("sockets opened without mpls ldp")
	}

	// mpls ldp: the instance starts with the public interfaces only.
	r.rib.mu.Lock()
	r.rib.fails = 2
	r.rib.mu.Unlock()
	r.svc.Configure(serviceCfg)
	r.hellos(t, 1)
	operational(r.net(), 3000)
	ingress := "ingress 10.255.0.9/32"
	transit := "transit 10.255.0.9/32"
	waitFor(t, "the LSPs in the RIB", func() (bool, string) {
		i, ok1 := r.rib.get(ingress)
		tr, ok2 := r.rib.get(transit)
		return ok1 && ok2 && len(i.Out) == 1 && i.Out[0].Label == 3000 && i.Out[0].Gateway == addr("10.0.12.2") &&
			tr.InLabel >= 48000, r.rib.names()
	})
	tr, _ := r.rib.get(transit)
	if got := r.ldpLabels(); !slices.Equal(got, []uint32{tr.InLabel}) {
		t.Fatalf("LDP's labels in the manager %v, transit in-label %d", got, tr.InLabel)
	}
	snap, err := r.svc.Snapshot(context.Background())
	if err != nil || len(snap.Sessions) != 1 || snap.Sessions[0].State != Operational || len(snap.Interfaces) != 1 {
		t.Fatalf("snapshot %+v: %v", snap, err)
	}

	// The route goes: so do the LSPs and the label (after the peer's
	// release, or with the session).
	r.watch.Put(pfx("10.255.0.9/32"), rib.BestRoute{Instance: fibapi.Public, Prefix: pfx("10.255.0.9/32"), Withdrawn: true})
	waitFor(t, "the LSPs withdrawn", func() (bool, string) {
		_, ok1 := r.rib.get(ingress)
		_, ok2 := r.rib.get(transit)
		return !ok1 && !ok2, r.rib.names()
	})
	r.watch.Put(pfx("10.255.0.9/32"), bestVia("10.255.0.9/32", "10.0.12.2", "GigabitEthernet0/1/0"))
	waitFor(t, "the LSPs back", func() (bool, string) {
		_, ok := r.rib.get(transit)
		return ok, r.rib.names()
	})

	// undo mpls ldp: Shutdown to the peer, nothing left in the RIB or the
	// label manager.
	n := r.net()
	r.svc.Configure(Config{LSRID: serviceCfg.LSRID})
	waitFor(t, "LDP stopped", func() (bool, string) {
		n.mu.Lock()
		down := n.shutdown
		n.mu.Unlock()
		return down && r.rib.names() == "" && len(r.ldpLabels()) == 0, fmt.Sprintf("shutdown %v rib %q labels %v", down, r.rib.names(), r.ldpLabels())
	})
	msgs := n.messages(t, 1)
	if nt, ok := msgs[len(msgs)-1].(*packet.Notification); !ok || nt.Status.Code != packet.StatusShutdown {
		t.Fatalf("last message %+v", msgs[len(msgs)-1])
	}

	// A restart runs the configuration again; a stopped service leaves
	// nothing in the RIB.
	r.svc.Configure(serviceCfg)
	r.hellos(t, 2)
	operational(r.net(), 3001)
	waitFor(t, "the LSPs", func() (bool, string) { _, ok := r.rib.get(transit); return ok, r.rib.names() })
	r.stop(t)
	if r.rib.names() != "" || len(r.ldpLabels()) != 0 {
		t.Fatalf("after Run: RIB %q labels %v", r.rib.names(), r.ldpLabels())
	}
	r.run()
	r.hellos(t, 3)
	operational(r.net(), 3002)
	waitFor(t, "the LSPs after the restart", func() (bool, string) {
		i, ok := r.rib.get(ingress)
		return ok && i.Out[0].Label == 3002, r.rib.names()
	})
}
