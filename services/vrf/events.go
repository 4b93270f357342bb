package vrf

// Subscriptions: protocols (BGP, OSPF, LDP) learn the routing instances and
// their interfaces from the vrf service instead of reading configuration.
//
//	sub := vrfService.Subscribe()
//	defer sub.Close()
//	for {
//		select {
//		case <-sub.C():
//			for _, ev := range sub.Take() {
//				switch {
//				case ev.Instance != nil: // created, deleted, RD/targets/label changed
//				case ev.Interface != nil: // added, removed, up/down, addresses, instance binding
//				}
//			}
//		case <-ctx.Done():
//			return
//		}
//	}
//
// A new subscription first gets every instance (the public one included) and
// every interface, as Added. Each subscription has a mailbox with one entry
// per instance and per interface: a subscriber that takes late gets the
// latest state of each, with the Changes of everything it missed merged
// (an interface that went down and up again since the last Take says Up
// with UpDown set). Nothing blocks the service, nothing queues without
// bound. Within one Take, instances that appeared come before their
// interfaces.

import (
	"fmt"
	"slices"

	"github.com/vishvananda/netns"

	"vpnos/services/fibapi"
	"vpnos/services/mailbox"
	"vpnos/services/nsutil"
)

// Change says what changed; an event may carry several.
type Change uint16

// Changes.
const (
	// Added: the instance or interface appeared (or the subscription is new).
	Added Change = 1 << iota
	// Removed: it went (Exists is false unless it came back since).
	Removed
	// UpDown: an interface's state (Up) changed.
	UpDown
	// AddressesChanged: an interface's addresses changed.
	AddressesChanged
	// BindingChanged: an interface moved to another instance.
	BindingChanged
	// RDChanged: an instance's route distinguisher changed.
	RDChanged
	// TargetsChanged: an instance's route targets changed.
	TargetsChanged
	// LabelChanged: an instance's label mode or label changed.
	LabelChanged
)

func (c Change) String() string {
	names := []string{"added", "removed", "up-down", "addresses", "binding", "rd", "targets", "label"}
	var out []string
	for i, n := range names {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return fmt.Sprint(out)
}

// InstanceEvent is the state of a routing instance after a change.
type InstanceEvent struct {
	// Name is fibapi.Public or a VPN instance.
	Name    string
	Exists  bool
	Changes Change
	// Info is the VPN instance's configuration (empty for the public one).
	Info InstanceInfo
	// Label is the instance's own label (per-instance mode), 0 if none.
	Label uint32
	// NS is the instance's network namespace, where its sockets are opened
	// (netns.None() when unknown). It is the service's handle: do not close
	// it, and stop using it once the instance is removed.
	NS netns.NsHandle
}

// InterfaceEvent is the state of an interface after a change.
type InterfaceEvent struct {
	// Interface is the state as applied (Name is the VRP name; Instance its
	// instance; Up is Present and up).
	Interface
	Exists  bool
	Changes Change
}

// Event is one instance or interface event (exactly one is set).
type Event struct {
	Instance  *InstanceEvent
	Interface *InterfaceEvent
}

func (e Event) String() string {
	if e.Instance != nil {
		i := e.Instance
		return fmt.Sprintf("instance %s exists=%v %v rd=%s import=%v export=%v mode=%s label=%d", i.Name, i.Exists, i.Changes, i.Info.RD, i.Info.ImportRT, i.Info.ExportRT, i.Info.LabelMode, i.Label)
	}
	i := e.Interface
	return fmt.Sprintf("interface %s exists=%v %v instance=%s up=%v %v", i.Name, i.Exists, i.Changes, i.Instance, i.Up, i.Addresses)
}

// Namespaces is implemented by hosts that keep a network namespace per
// instance (*LinuxHost).
type Namespaces interface {
	Namespace(instance string) (netns.NsHandle, bool)
}

// Subscription receives instance and interface events.
type Subscription struct {
	box *mailbox.Mailbox[string, Event]
	s   *Service
}

// C signals that events are waiting.
func (sub *Subscription) C() <-chan struct{} { return sub.box.C() }

// Take returns the waiting events.
func (sub *Subscription) Take() []Event { return sub.box.Take() }

// Close ends the subscription.
func (sub *Subscription) Close() {
	sub.box.Close()
	sub.s.mu.Lock()
	defer sub.s.mu.Unlock()
	sub.s.subs = slices.DeleteFunc(sub.s.subs, func(x *Subscription) bool { return x == sub })
}

func mergeEvents(old, new Event) Event {
	switch {
	case old.Instance != nil && new.Instance != nil:
		e := *new.Instance
		e.Changes |= old.Instance.Changes
		return Event{Instance: &e}
	case old.Interface != nil && new.Interface != nil:
		e := *new.Interface
		e.Changes |= old.Interface.Changes
		return Event{Interface: &e}
	}
	return new
}

func eventKey(e Event) string {
	if e.Instance != nil {
		return "instance " + e.Instance.Name
	}
	return "interface " + e.Interface.Name
}

// Subscribe starts a subscription; the current instances and interfaces
// are waiting in it at once.
func (s *Service) Subscribe() *Subscription {
	sub := &Subscription{box: mailbox.New[string](mergeEvents), s: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		for _, e := range s.snapshotEvents() {
			sub.box.Put(eventKey(e), e)
		}
	}
	s.subs = append(s.subs, sub)
	return sub
}

// snapshotEvents lists the applied state as Added events (s.mu held).
func (s *Service) snapshotEvents() []Event {
	var out []Event
	out = append(out, Event{Instance: s.instanceEvent(fibapi.Public, true, Added)})
	for _, n := range s.have.Instances {
		out = append(out, Event{Instance: s.instanceEvent(n, true, Added)})
	}
	for _, n := range sortedNames(s.have.Interfaces) {
		out = append(out, Event{Interface: interfaceEvent(s.have.Interfaces[n], true, Added)})
	}
	return out
}

func sortedNames(m map[string]Interface) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// instanceEvent builds an instance's event from the applied state (s.mu held).
func (s *Service) instanceEvent(name string, exists bool, c Change) *InstanceEvent {
	e := &InstanceEvent{Name: name, Exists: exists, Changes: c, NS: netns.None()}
	if !exists {
		return e
	}
	e.Info = s.have.Info[name]
	e.Info.ImportRT, e.Info.ExportRT = slices.Clone(e.Info.ImportRT), slices.Clone(e.Info.ExportRT)
	e.Label = s.labelsHave[name]
	if ns, ok := s.host.(Namespaces); ok {
		if h, ok := ns.Namespace(name); ok {
			e.NS = h
		}
	}
	return e
}

func interfaceEvent(in Interface, exists bool, c Change) *InterfaceEvent {
	in.Addresses = slices.Clone(in.Addresses)
	in.Up = in.Present && in.Up
	return &InterfaceEvent{Interface: in, Exists: exists, Changes: c}
}

// publish hands events to every subscription (s.mu held).
func (s *Service) publish(evs []Event) {
	for _, sub := range s.subs {
		for _, e := range evs {
			sub.box.Put(eventKey(e), e)
		}
	}
}

// events computes what changed from have to want (with the labels) and
// publishes it: instances that appeared, interfaces, instances that went.
// s.mu is held and s.have is want already.
func (s *Service) events(have Desired, haveLabels map[string]uint32, publicNew bool) {
	var first, mid, last []Event
	if publicNew {
		first = append(first, Event{Instance: s.instanceEvent(fibapi.Public, true, Added)})
	}
	want := s.have
	haveInst := map[string]bool{}
	for _, n := range have.Instances {
		haveInst[n] = true
	}
	wantInst := map[string]bool{}
	for _, n := range want.Instances {
		wantInst[n] = true
		if !haveInst[n] {
			first = append(first, Event{Instance: s.instanceEvent(n, true, Added)})
			continue
		}
		var c Change
		a, b := have.Info[n], want.Info[n]
		if a.RD != b.RD {
			c |= RDChanged
		}
		if !slices.Equal(a.ImportRT, b.ImportRT) || !slices.Equal(a.ExportRT, b.ExportRT) {
			c |= TargetsChanged
		}
		if a.LabelMode != b.LabelMode || a.IPv4 != b.IPv4 || haveLabels[n] != s.labelsHave[n] {
			c |= LabelChanged
		}
		if c != 0 {
			first = append(first, Event{Instance: s.instanceEvent(n, true, c)})
		}
	}
	for _, n := range sortedNames(want.Interfaces) {
		w := want.Interfaces[n]
		h, ok := have.Interfaces[n]
		if !ok {
			mid = append(mid, Event{Interface: interfaceEvent(w, true, Added)})
			continue
		}
		var c Change
		if (h.Present && h.Up) != (w.Present && w.Up) {
			c |= UpDown
		}
		if !slices.Equal(h.Addresses, w.Addresses) {
			c |= AddressesChanged
		}
		if h.Instance != w.Instance {
			c |= BindingChanged
		}
		if c != 0 {
			mid = append(mid, Event{Interface: interfaceEvent(w, true, c)})
		}
	}
	for _, n := range sortedNames(have.Interfaces) {
		if _, ok := want.Interfaces[n]; !ok {
			mid = append(mid, Event{Interface: interfaceEvent(have.Interfaces[n], false, Removed)})
		}
	}
	for _, n := range have.Instances {
		if !wantInst[n] {
			last = append(last, Event{Instance: &InstanceEvent{Name: n, Changes: Removed, NS: netns.None()}})
		}
	}
	s.publish(append(append(first, mid...), last...))
}

// ErrNoInstance: no such routing instance.
var ErrNoInstance = fmt.Errorf("no such routing instance")

// Namespace returns the network namespace of an instance, when the host
// keeps one per instance (do not close it).
func (s *Service) Namespace(instance string) (netns.NsHandle, bool) {
	if ns, ok := s.host.(Namespaces); ok {
		return ns.Namespace(instance)
	}
	return netns.None(), false
}

// Do runs f on a thread inside the instance's network namespace: sockets
// opened there belong to the instance (see nsutil.DoHandle).
func (s *Service) Do(instance string, f func() error) error {
	h, ok := s.Namespace(instance)
	if !ok {
		return fmt.Errorf("%s: %w", instance, ErrNoInstance)
	}
	return nsutil.DoHandle(h, f)
}
