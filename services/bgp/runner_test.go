package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/label"
	"vpnos/services/policy"
	"vpnos/services/rib"
	"vpnos/services/vrf"
)

// acceptAll is a forwarder that takes every batch.
type acceptAll struct{}

func (acceptAll) Program(context.Context, fibapi.Batch) error { return nil }

// fakeVRF is a vrf subscription the test feeds.
type fakeVRF struct {
	mu  sync.Mutex
	evs []vrf.Event
	c   chan struct{}
}

func newFakeVRF() *fakeVRF { return &fakeVRF{c: make(chan struct{}, 1)} }

func (f *fakeVRF) put(evs ...vrf.Event) {
	f.mu.Lock()
	f.evs = append(f.evs, evs...)
	f.mu.Unlock()
	select {
	case f.c <- struct{}{}:
	default:
	}
}
func (f *fakeVRF) C() <-chan struct{} { return f.c }
func (f *fakeVRF) Take() []vrf.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.evs
	f.evs = nil
	return e
}
func (f *fakeVRF) Close() {}

// runnerWorld is a RIB with instances red, blue and green, a Runner on it
// and the instances' labels as the vrf service would give them.
type runnerWorld struct {
	rib    *rib.Service
	run    *Runner
	vrf    *fakeVRF
	labels *label.Manager
	pol    *policy.Owner
	mu     sync.Mutex
	inst   map[string]uint32
	cancel context.CancelFunc
	done   chan error
}

func newRunnerWorld(t *testing.T) *runnerWorld {
	w := &runnerWorld{vrf: newFakeVRF(), labels: label.New(), pol: policy.New(nil), inst: map[string]uint32{"red": 300, "blue": 301}}
	w.rib = rib.NewService(rib.ServiceConfig{Programmer: acceptAll{}})
	// The RIB outlives the Runner, as in the daemon.
	rctx, rcancel := context.WithCancel(context.Background())
	ribDone := make(chan struct{})
	go func() { defer close(ribDone); w.rib.Serve(rctx) }()
	t.Cleanup(func() { rcancel(); <-ribDone })
	ctx, cancel := context.WithCancel(context.Background())
	for _, n := range []string{fibapi.Public, "red", "blue", "green"} {
		if err := w.rib.AddInstance(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []rib.Port{
		{Name: "GigabitEthernet0/1/0", Kernel: "eth1", Instance: "red", Up: true, Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/30")}},
		{Name: "GigabitEthernet0/2/0", Kernel: "eth2", Instance: "green", Up: true, Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.5/30")}},
	} {
		if err := w.rib.SetInterface(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	w.run = NewRunner(RunnerConfig{RIB: w.rib, Labels: w.labels,
		SubscribeVRF: func() VRFEvents { return w.vrf },
		InstanceLabel: func(n string) (uint32, bool) {
			w.mu.Lock()
			defer w.mu.Unlock()
			l, ok := w.inst[n]
			return l, ok
		},
		Policies:     w.pol.Current,
		SubscribePol: func() PolicyEvents { return w.pol.Subscribe() },
	})
	ready := make(chan struct{})
	w.done = make(chan error, 1)
	go func() { w.done <- w.run.Run(ctx, func() { close(ready) }) }()
	<-ready
	w.cancel = cancel
	t.Cleanup(w.stop)
	return w
}

func (w *runnerWorld) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
		w.cancel = nil
	}
}

// runnerConfig: red exports 65000:100 (import-route direct), blue imports
// it (local crossing), green allocates per route and imports static.
func runnerConfig() Config {
	return Config{AS: 65000, RouterID: netip.MustParseAddr("10.255.0.1"), VPNv4: &VPNv4AF{},
		Instances: []Instance{
			vpnInstance("blue", "65000:2", []string{"65000:100"}, []string{"65000:200"}, func(in *Instance) { in.BGP = nil }),
			vpnInstance("green", "65000:3", []string{"65000:300"}, []string{"65000:300"}, func(in *Instance) {
				in.LabelMode = LabelPerRoute
				in.BGP.Imports = []ImportRoute{{Protocol: ProtoStatic}}
			}),
			vpnInstance("red", "65000:1", []string{"65000:100"}, []string{"65000:100"}, func(in *Instance) {
				in.BGP.Imports = []ImportRoute{{Protocol: ProtoDirect}}
			}),
		}}
}

func waitFor(t *testing.T, what string, check func() (string, bool)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, ok := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ribRows(t *testing.T, r *rib.Service, inst string) string {
	snap, err := r.Snapshot(context.Background(), inst)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range snap.Routes {
		fmt.Fprintf(&b, "%s %s %d nh %s %s labels %v active %v\n", e.Prefix, e.Protocol, e.Preference, e.NextHop, e.Interface, e.Labels, e.Active)
	}
	return b.String()
}

func vpnTable(t *testing.T, run *Runner) string {
	rs, err := run.VPNRoutes(context.Background(), netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rs {
		for _, p := range r.Paths {
			fmt.Fprintf(&b, "%s:%s label %d rts %v\n", r.RD, r.Prefix, p.Label, p.ExtCommunities)
		}
	}
	return b.String()
}

// The Runner between the RIB, the vrf service and the speaker: routes of
// the RIB are exported with the instance's own label (the vrf service's),
// imported into another instance of the PE (local crossing) and installed
// in its RIB; a per-route label becomes an egress LSP of owner bgp; a new
// label from the vrf service is advertised; an export policy applies; when
// the service stops, its routes and LSPs leave the RIB.
func TestRunner(t *testing.T) {
	w := newRunnerWorld(t)
	ctx := context.Background()
	w.run.SetTreeConfig(ctx, runnerConfig())

	waitFor(t, "red's direct route exported with red's own label", func() (string, bool) {
		s := vpnTable(t, w.run)
		return s, strings.Contains(s, "65000:1:192.0.2.0/30 label 300 rts [65000:100]")
	})
	waitFor(t, "imported into blue's RIB", func() (string, bool) {
		s := ribRows(t, w.rib, "blue")
		return s, strings.Contains(s, "192.0.2.0/30 IBGP 255 nh 192.0.2.1 GigabitEthernet0/1/0") && strings.Contains(s, "active true")
	})
	// A static route in green: exported with a label of its own, popped
	// towards the route (an egress LSP of BGP).
	if err := w.rib.AddRoute(ctx, "green", rib.Route{Prefix: netip.MustParsePrefix("172.16.7.0/24"), Protocol: rib.Static,
		NextHops: []rib.NextHop{{Gateway: netip.MustParseAddr("192.0.2.6")}}}); err != nil {
		t.Fatal(err)
	}
	var greenLabel uint32
	waitFor(t, "green's per-route label", func() (string, bool) {
		rs, _ := w.run.VPNRoutes(ctx, netip.MustParsePrefix("172.16.7.0/24"))
		if len(rs) == 1 {
			greenLabel = rs[0].Paths[0].Label
		}
		lsps, _ := w.rib.LSPs(ctx, rib.OwnerBGP)
		for _, l := range lsps {
			if l.InLabel == greenLabel && l.Role == rib.Egress && l.FEC == netip.MustParsePrefix("172.16.7.0/24") && l.Instance == "green" && l.Up {
				return "", true
			}
		}
		return fmt.Sprintf("label %d, LSPs %+v", greenLabel, lsps), false
	})
	if o, ok := w.labels.Owner(greenLabel); !ok || o != "bgp:vpn-instance:green" {
		t.Errorf("label %d held by %q", greenLabel, o)
	}
	// The vrf service gives red another label: red's routes follow.
	w.mu.Lock()
	w.inst["red"] = 310
	w.mu.Unlock()
	w.vrf.put(vrf.Event{Instance: &vrf.InstanceEvent{Name: "red", Exists: true, Changes: vrf.LabelChanged, Label: 310}})
	waitFor(t, "the new label", func() (string, bool) {
		s := vpnTable(t, w.run)
		return s, strings.Contains(s, "65000:1:192.0.2.0/30 label 310")
	})
	// An export policy on red, committed after the policy: the route
	// leaves with an extra target; the policy's change takes it back.
	polTree := func(extra bool) *policy.Set {
		n := policy.Node{Seq: 10, Permit: true}
		if extra {
			n.Apply.ExtCommunity = &policy.ExtCommunityAction{Additive: true, RTs: []policy.ExtCommunity{policy.ExtCommunity(mustRT("65000:999"))}}
		}
		return policy.Compile(policy.Config{Policies: map[string][]policy.Node{"red-out": {n}}}, nil)
	}
	svc, _ := w.run.service()
	if err := svc.SetPolicies(ctx, polTree(true)); err != nil {
		t.Fatal(err)
	}
	c := runnerConfig()
	c.Instances[2].ExportPolicy = "red-out"
	w.run.SetTreeConfig(ctx, c)
	waitFor(t, "the export policy", func() (string, bool) {
		s := vpnTable(t, w.run)
		return s, strings.Contains(s, "65000:1:192.0.2.0/30 label 310 rts [65000:999 65000:100]")
	})
	if err := svc.SetPolicies(ctx, polTree(false)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the policy changed", func() (string, bool) {
		s := vpnTable(t, w.run)
		return s, strings.Contains(s, "65000:1:192.0.2.0/30 label 310 rts [65000:100]")
	})
	// Stopping: the routes, LSPs and labels go.
	w.stop()
	if s := ribRows(t, w.rib, "blue"); strings.Contains(s, "IBGP") {
		t.Errorf("BGP routes left in blue:\n%s", s)
	}
	if lsps, _ := w.rib.LSPs(ctx, rib.OwnerBGP); len(lsps) != 0 {
		t.Errorf("LSPs left: %+v", lsps)
	}
	if _, ok := w.labels.Owner(greenLabel); ok {
		t.Errorf("label %d still held", greenLabel)
	}
}
