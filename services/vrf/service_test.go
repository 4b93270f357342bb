package vrf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/services/iface"
	"vpnos/yang/datastore"
)

type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(format string, a ...any) {
	r.mu.Lock()
	r.log = append(r.log, fmt.Sprintf(format, a...))
	r.mu.Unlock()
}

func (r *recorder) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.log, "\n")
	r.log = nil
	return s
}

type fakeHost struct{ *recorder }

func (h fakeHost) CreateInstance(ctx context.Context, n string) error {
	h.add("host create %s", n)
	return nil
}
func (h fakeHost) DeleteInstance(ctx context.Context, n string) error {
	h.add("host delete %s", n)
	return nil
}
func (h fakeHost) BindPort(ctx context.Context, k, i string) error {
	h.add("host bind %s %s", k, i)
	return nil
}
func (h fakeHost) UnbindPort(ctx context.Context, k string) error {
	h.add("host unbind %s", k)
	return nil
}
func (h fakeHost) SetLink(ctx context.Context, k string, up bool) error {
	h.add("host link %s %v", k, up)
	return nil
}
func (h fakeHost) SetAddresses(ctx context.Context, inst, vrp, k string, lo bool, a []netip.Prefix) error {
	h.add("host addr %s %s %v", inst, vrp, a)
	return nil
}

type fakeSink struct{ *recorder }

func (s fakeSink) InstanceAdded(ctx context.Context, n string)   { s.add("sink +inst %s", n) }
func (s fakeSink) InstanceRemoved(ctx context.Context, n string) { s.add("sink -inst %s", n) }
func (s fakeSink) InterfaceChanged(ctx context.Context, in Interface) {
	s.add("sink if %s %s up=%v %v", in.Name, in.Instance, in.Up, in.Addresses)
}
func (s fakeSink) InterfaceRemoved(ctx context.Context, in Interface) {
	s.add("sink -if %s %s", in.Name, in.Instance)
}

type fakePorts struct {
	mu    sync.Mutex
	ports []iface.Port
	ch    chan iface.Event
}

func (p *fakePorts) Ports() []iface.Port {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]iface.Port(nil), p.ports...)
}
func (p *fakePorts) Subscribe() <-chan iface.Event  { return p.ch }
func (p *fakePorts) Unsubscribe(<-chan iface.Event) {}
func (p *fakePorts) set(ps []iface.Port) {
	p.mu.Lock()
	p.ports = ps
	p.mu.Unlock()
	p.ch <- iface.Event{}
}

func TestServiceAppliesConfigAndLatePorts(t *testing.T) {
	rec := &recorder{}
	fp := &fakePorts{ch: make(chan iface.Event, 4)}
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), fakeHost{rec}, fakeSink{rec}, fp, iface.SlotStyle)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil, func() { close(ready) }) }()
	<-ready
	if got := rec.take(); got != "host create _public_\nsink +inst _public_" {
		t.Fatalf("start:\n%s", got)
	}
	c := newCfg().vpn("red").bind("GigabitEthernet0/1/0", "red").addr("GigabitEthernet0/1/0", "192.0.2.1", "255.255.255.252")
	s.Apply(ctx, &datastore.Change{New: c.t})
	// The port is configured but absent: only the instance appears.
	if got := rec.take(); got != "host create red\nsink +inst red\nsink if GigabitEthernet0/1/0 red up=false [192.0.2.1/30]" {
		t.Fatalf("config:\n%s", got)
	}
	if in := s.State().Interfaces["GigabitEthernet0/1/0"].Instance; in != "red" {
		t.Fatalf("instance of port: %q", in)
	}
	// The link arrives later, as containerlab wires it.
	fp.set(ports("eth1"))
	want := "host bind eth1 red\nhost link eth1 true\nhost addr red GigabitEthernet0/1/0 [192.0.2.1/30]\nsink if GigabitEthernet0/1/0 red up=true [192.0.2.1/30]"
	deadline := time.Now().Add(2 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got += rec.take(); got == want {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("late port:\n%s\nwant:\n%s", got, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
