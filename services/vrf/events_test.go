package vrf

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"vpnos/services/iface"
	"vpnos/services/label"
	"vpnos/yang/datastore"
)

func (c *cfg) pin(vpn, l string) *cfg {
	c.t.Set(datastore.P("vpn-instances", "vpn-instance", datastore.K(vpn), "ipv4-family", "apply-label-static"), l)
	return c
}

func (c *cfg) af(vpn, rd string, targets ...string) *cfg {
	af := datastore.P("vpn-instances", "vpn-instance", datastore.K(vpn), "ipv4-family")
	c.t.SetPresence(af)
	if rd != "" {
		c.t.Set(af.Child("route-distinguisher"), rd)
	}
	for _, t := range targets {
		v, dir, _ := strings.Cut(t, " ")
		c.t.SetPresence(af.Child("vpn-target", v, dir))
	}
	return c
}

func eventStrings(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.String())
	}
	return out
}

// waitEvents takes events until want arrived (in order) or a deadline passed.
func waitEvents(t *testing.T, sub *Subscription, want []string) {
	t.Helper()
	var got []string
	deadline := time.After(2 * time.Second)
	for !slices.Equal(got, want) {
		select {
		case <-sub.C():
			got = append(got, eventStrings(sub.Take())...)
		case <-deadline:
			t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestSubscriptions(t *testing.T) {
	rec := &recorder{}
	fp := &fakePorts{ch: make(chan iface.Event, 4)}
	fp.ports = ports("eth1", "eth2")
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), fakeHost{rec}, fakeSink{rec}, fp, iface.SlotStyle)
	s.SetLabels(NewLabels(label.New(), &lspRecorder{}, nil))
	early := s.Subscribe() // before the service runs: gets everything from the start
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil, func() { close(ready) }) }()
	<-ready
	start := []string{
		"instance _public_ exists=true [added] rd= import=[] export=[] mode= label=0",
		"interface GigabitEthernet0/1/0 exists=true [added] instance=_public_ up=true []",
		"interface GigabitEthernet0/2/0 exists=true [added] instance=_public_ up=true []",
	}
	waitEvents(t, early, start)

	// A VPN instance with an interface: the instance comes first.
	c := newCfg().vpn("red").af("red", "65000:1", "65000:100 export-extcommunity", "65000:100 import-extcommunity").
		bind("GigabitEthernet0/1/0", "red").addr("GigabitEthernet0/1/0", "192.0.2.1", "255.255.255.252")
	commit := func(c *cfg) {
		t.Helper()
		ch := &datastore.Change{ID: 1, New: c.t}
		if err := s.Prepare(ctx, ch); err != nil {
			t.Fatal(err)
		}
		s.Apply(ctx, ch)
	}
	commit(c)
	red := []string{
		"instance red exists=true [added] rd=65000:1 import=[65000:100] export=[65000:100] mode=per-instance label=48000",
		"interface GigabitEthernet0/1/0 exists=true [addresses binding] instance=red up=true [192.0.2.1/30]",
	}
	waitEvents(t, early, red)

	// A late subscriber gets the whole state at once.
	late := s.Subscribe()
	waitEvents(t, late, []string{
		start[0],
		"instance red exists=true [added] rd=65000:1 import=[65000:100] export=[65000:100] mode=per-instance label=48000",
		"interface GigabitEthernet0/1/0 exists=true [added] instance=red up=true [192.0.2.1/30]",
		start[2],
	})

	// RD, targets and label change (pinned); the port goes down.
	c = newCfg().vpn("red").af("red", "65000:2", "65000:200 export-extcommunity").pin("red", "500").
		bind("GigabitEthernet0/1/0", "red").addr("GigabitEthernet0/1/0", "192.0.2.1", "255.255.255.252").shut("GigabitEthernet0/2/0")
	commit(c)
	changed := []string{
		"instance red exists=true [rd targets label] rd=65000:2 import=[] export=[65000:200] mode=per-instance label=500",
		"interface GigabitEthernet0/2/0 exists=true [up-down] instance=_public_ up=false []",
	}
	waitEvents(t, early, changed)

	// A slow subscriber (late has not taken since): the port went down and
	// comes back up; it sees it up, with the flap recorded.
	c = newCfg().vpn("red").af("red", "65000:2", "65000:200 export-extcommunity").pin("red", "500").
		bind("GigabitEthernet0/1/0", "red").addr("GigabitEthernet0/1/0", "192.0.2.1", "255.255.255.252")
	commit(c)
	waitEvents(t, late, []string{
		changed[0],
		"interface GigabitEthernet0/2/0 exists=true [up-down] instance=_public_ up=true []",
	})

	// The instance goes: its interface leaves it first, then it is removed.
	// The port vanishes too.
	fp.mu.Lock()
	fp.ports = ports("eth1")
	fp.mu.Unlock()
	commit(newCfg())
	// (early had not taken GE0/2/0 coming back up: that is merged into its
	// removal, and keeps its place.)
	waitEvents(t, early, []string{
		"interface GigabitEthernet0/2/0 exists=false [removed up-down] instance=_public_ up=true []",
		"interface GigabitEthernet0/1/0 exists=true [addresses binding] instance=_public_ up=true []",
		"instance red exists=false [removed] rd= import=[] export=[] mode= label=0",
	})

	// A closed subscription gets nothing more; a restarted service goes on
	// from what it applied (no new Added events).
	late.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	ready2 := make(chan struct{})
	go func() { done <- s.Run(ctx2, newCfg().t, func() { close(ready2) }) }()
	<-ready2
	s.Apply(ctx2, &datastore.Change{New: newCfg().vpn("blue").t})
	waitEvents(t, early, []string{"instance blue exists=true [added] rd= import=[] export=[] mode= label=0"})
	if got := late.Take(); len(got) != 0 {
		t.Errorf("closed subscription got %q", eventStrings(got))
	}
	if _, ok := s.Namespace("blue"); ok {
		t.Error("a fake host has namespaces")
	}
	if err := s.Do("blue", func() error { return nil }); err == nil {
		t.Error("Do without a namespace")
	}
	cancel2()
	<-done
}
