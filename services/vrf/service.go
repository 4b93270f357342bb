package vrf

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"

	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/yang/datastore"
)

// Host carries out the actions of a plan (namespaces, the forwarder's port
// plumbing, addresses). Implemented over netlink and the forwarder.
type Host interface {
	CreateInstance(ctx context.Context, name string) error
	DeleteInstance(ctx context.Context, name string) error
	BindPort(ctx context.Context, kernel, instance string) error
	UnbindPort(ctx context.Context, kernel string) error
	SetLink(ctx context.Context, kernel string, up bool) error
	// SetAddresses sets exactly addrs on the interface's host side: the port's
	// host interface, or for a LoopBack the instance's loopback device.
	SetAddresses(ctx context.Context, instance, vrpName, kernel string, loopback bool, addrs []netip.Prefix) error
}

// Sink hears about instances and interfaces (the RIB: direct routes).
type Sink interface {
	InstanceAdded(ctx context.Context, name string)
	InstanceRemoved(ctx context.Context, name string)
	InterfaceChanged(ctx context.Context, in Interface)
	InterfaceRemoved(ctx context.Context, in Interface)
}

// PortSource lists the discovered ports and tells when they change.
type PortSource interface {
	Ports() []iface.Port
	Subscribe() <-chan iface.Event
	Unsubscribe(<-chan iface.Event)
}

// Service owns the instances. One goroutine (Run) owns the state; config
// changes and port events are messages to it.
type Service struct {
	log    *slog.Logger
	host   Host
	sink   Sink
	ports  PortSource
	naming iface.Naming

	cfgCh chan cfgReq

	labels *Labels // the VPN instances' labels (nil: none)

	mu         sync.Mutex // guards what follows, for readers and subscribers
	have       Desired
	labelsHave map[string]uint32
	subs       []*Subscription
	started    bool // the public instance exists
}

type cfgReq struct {
	tree *datastore.Tree
	done chan struct{}
}

// New makes the service.
func New(log *slog.Logger, host Host, sink Sink, ports PortSource, naming iface.Naming) *Service {
	return &Service{log: log, host: host, sink: sink, ports: ports, naming: naming,
		cfgCh: make(chan cfgReq), have: Desired{Interfaces: map[string]Interface{}, Info: map[string]InstanceInfo{}},
		labelsHave: map[string]uint32{}}
}

// SetLabels makes the service reserve and program the VPN instances'
// labels (see Labels) as part of its commits; the instance events carry
// them. Call it before the service is registered on the datastore.
func (s *Service) SetLabels(l *Labels) { s.labels = l }

// Prefixes are the configuration paths the service owns.
var Prefixes = []string{"/vpn-instances", "/interfaces"}

// Prepare reserves the VPN instances' labels (see Labels); the rest cannot
// be reserved ahead (creating a namespace, binding a port), and failures
// there are reported, not fatal.
func (s *Service) Prepare(ctx context.Context, c *datastore.Change) error {
	if s.labels != nil {
		return s.labels.Prepare(ctx, c)
	}
	return nil
}

// Apply makes the labels final and programs them, then hands the new
// running tree to the service and waits until it is applied.
func (s *Service) Apply(ctx context.Context, c *datastore.Change) {
	if s.labels != nil {
		s.labels.Apply(ctx, c)
	}
	req := cfgReq{tree: c.New, done: make(chan struct{})}
	select {
	case s.cfgCh <- req:
		<-req.done
	case <-ctx.Done():
	}
}

// Abort gives back the labels Prepare reserved.
func (s *Service) Abort(ctx context.Context, c *datastore.Change) {
	if s.labels != nil {
		s.labels.Abort(ctx, c)
	}
}

// State returns the applied state (for displays).
func (s *Service) State() Desired {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := Desired{Instances: slices.Clone(s.have.Instances), Interfaces: make(map[string]Interface, len(s.have.Interfaces)),
		Info: make(map[string]InstanceInfo, len(s.have.Info))}
	for k, v := range s.have.Info {
		v.ImportRT, v.ExportRT = slices.Clone(v.ImportRT), slices.Clone(v.ExportRT)
		d.Info[k] = v
	}
	for k, v := range s.have.Interfaces {
		v.Addresses = slices.Clone(v.Addresses)
		d.Interfaces[k] = v
	}
	return d
}

// Run creates the public instance, then applies config and port changes
// until ctx ends. initial is the running configuration at start (may be
// nil). Run may run again after it returned (a restart): it goes on from
// the state it applied.
func (s *Service) Run(ctx context.Context, initial *datastore.Tree, ready func()) error {
	if err := s.host.CreateInstance(ctx, fibapi.Public); err != nil {
		return fmt.Errorf("vrf: public instance: %w", err)
	}
	s.sink.InstanceAdded(ctx, fibapi.Public)
	events := s.ports.Subscribe()
	defer s.ports.Unsubscribe(events)
	tree := initial
	s.reconcile(ctx, tree)
	ready()
	for {
		select {
		case <-ctx.Done():
			return nil
		case req := <-s.cfgCh:
			tree = req.tree
			s.reconcile(ctx, tree)
			close(req.done)
		case <-events:
			// Drain what is queued, then reconcile once.
			for more := true; more; {
				select {
				case <-events:
				default:
					more = false
				}
			}
			s.reconcile(ctx, tree)
		}
	}
}

func (s *Service) reconcile(ctx context.Context, tree *datastore.Tree) {
	want := FromConfig(tree, s.ports.Ports(), s.naming)
	s.mu.Lock()
	have := s.have
	s.mu.Unlock()
	for _, a := range Plan(have, want) {
		if err := s.do(ctx, a); err != nil {
			s.log.Error("cannot apply", "action", a.Kind.String(), "instance", a.Instance, "interface", a.Interface, "err", err)
		}
	}
	// Tell the sink: instances first, then interfaces, removals last.
	haveInst := map[string]bool{}
	for _, n := range have.Instances {
		haveInst[n] = true
	}
	wantInst := map[string]bool{}
	for _, n := range want.Instances {
		wantInst[n] = true
		if !haveInst[n] {
			s.sink.InstanceAdded(ctx, n)
		}
	}
	names := make([]string, 0, len(want.Interfaces))
	for n := range want.Interfaces {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w := want.Interfaces[n]
		if h, ok := have.Interfaces[n]; ok && sameInterface(h, w) {
			continue
		}
		if h, ok := have.Interfaces[n]; ok && h.Instance != w.Instance {
			s.sink.InterfaceRemoved(ctx, h)
		}
		s.sink.InterfaceChanged(ctx, w)
	}
	for n, h := range have.Interfaces {
		if _, ok := want.Interfaces[n]; !ok {
			s.sink.InterfaceRemoved(ctx, h)
		}
	}
	for _, n := range have.Instances {
		if !wantInst[n] {
			s.sink.InstanceRemoved(ctx, n)
		}
	}
	s.mu.Lock()
	labels := map[string]uint32{}
	if s.labels != nil {
		for _, n := range want.Instances {
			if l, ok := s.labels.InstanceLabel(n); ok {
				labels[n] = l
			}
		}
	}
	publicNew := !s.started
	s.started = true
	haveLabels := s.labelsHave
	s.have, s.labelsHave = want, labels
	s.events(have, haveLabels, publicNew)
	s.mu.Unlock()
}

func sameInterface(a, b Interface) bool {
	return a.Name == b.Name && a.Kernel == b.Kernel && a.Instance == b.Instance && a.Shutdown == b.Shutdown &&
		a.Loopback == b.Loopback && a.Present == b.Present && a.Up == b.Up && slices.Equal(a.Addresses, b.Addresses)
}

func (s *Service) do(ctx context.Context, a Action) error {
	switch a.Kind {
	case CreateInstance:
		return s.host.CreateInstance(ctx, a.Instance)
	case DeleteInstance:
		return s.host.DeleteInstance(ctx, a.Instance)
	case BindPort:
		return s.host.BindPort(ctx, a.Kernel, a.Instance)
	case UnbindPort:
		return s.host.UnbindPort(ctx, a.Kernel)
	case SetLink:
		return s.host.SetLink(ctx, a.Kernel, a.Up)
	case SetAddresses:
		return s.host.SetAddresses(ctx, a.Instance, a.Interface, a.Kernel, a.Loopback, a.Addresses)
	}
	return fmt.Errorf("unknown action %d", a.Kind)
}
