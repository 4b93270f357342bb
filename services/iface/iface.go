// Package iface discovers the router's ports: at start it waits for the
// containerlab data links (CLAB_INTFS), then keeps watching netlink, because
// links may be added, removed, or go up and down at any time. It names each
// ethN port as VRP does and sets the kernel interface alias to that name.
// eth0 is the management port: it is listed, never touched.
package iface

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Port is one discovered interface.
type Port struct {
	Kernel  string // eth1
	Name    string // GigabitEthernet0/1/0
	Index   int
	MAC     net.HardwareAddr
	MTU     int
	AdminUp bool // IFF_UP
	OperUp  bool // carrier and IFF_UP
	Mgmt    bool // eth0
}

// Event tells subscribers that a port appeared, changed or vanished.
type Event struct {
	Port    Port
	Removed bool
}

// Service owns the port table. One goroutine (Run) applies netlink updates;
// readers take snapshots.
type Service struct {
	log    *slog.Logger
	naming Naming

	mu    sync.Mutex
	ports map[string]Port
	subs  []chan Event
	ready chan struct{}
	// readyOnce closes ready once, across runs (Run may run again).
	readyOnce sync.Once
}

// New creates the service.
func New(log *slog.Logger, naming Naming) *Service {
	return &Service{log: log, naming: naming, ports: map[string]Port{}, ready: make(chan struct{})}
}

// Naming returns the interface naming style.
func (s *Service) Naming() Naming { return s.naming }

// Ports returns a snapshot sorted by kernel name number.
func (s *Service) Ports() []Port {
	s.mu.Lock()
	out := make([]Port, 0, len(s.ports))
	for _, p := range s.ports {
		out = append(out, p)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, _ := ethNumber(out[i].Kernel)
		b, _ := ethNumber(out[j].Kernel)
		return a < b
	})
	return out
}

// Port returns one port by kernel name.
func (s *Service) Port(kernel string) (Port, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.ports[kernel]
	return p, ok
}

// Subscribe returns a channel of events, starting with the current ports.
// The channel is buffered; a subscriber that falls far behind loses events
// and should resynchronise with Ports.
func (s *Service) Subscribe() <-chan Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan Event, 256)
	for _, p := range s.ports {
		ch <- Event{Port: p}
	}
	s.subs = append(s.subs, ch)
	return ch
}

// Unsubscribe stops the events of a channel Subscribe returned (a
// subscriber that starts again, such as a restarted service, subscribes anew).
func (s *Service) Unsubscribe(ch <-chan Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.subs {
		if c == ch {
			s.subs = append(s.subs[:i], s.subs[i+1:]...)
			return
		}
	}
}

// Ready is closed once start-up discovery is done (the wanted data links are
// there, or the wait timed out). A Run after the first (a restart) finds it
// closed: the ports it lists at once are the ones known.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Run watches netlink until ctx ends. want is the number of data links to wait
// for (CLAB_INTFS); wait bounds that wait.
func (s *Service) Run(ctx context.Context, want int, wait time.Duration) error {
	updates := make(chan netlink.LinkUpdate, 256)
	done := make(chan struct{})
	defer close(done)
	errCh := make(chan error, 1)
	if err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			select {
			case errCh <- err:
			default:
			}
		},
	}); err != nil {
		return fmt.Errorf("iface: subscribe to netlink: %w", err)
	}
	// List after subscribing, so nothing falls between the two.
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("iface: list links: %w", err)
	}
	for _, l := range links {
		s.update(l, false)
	}
	readyOnce := func() {
		s.readyOnce.Do(func() {
			close(s.ready)
			s.log.Info("interface discovery done", "data_links", s.dataLinks(), "wanted", want)
		})
	}
	if s.dataLinks() >= want {
		readyOnce()
	}
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	// A periodic resync covers lost netlink messages (ENOBUFS).
	resync := time.NewTicker(5 * time.Second)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			readyOnce()
			return nil
		case <-timeout.C:
			if s.dataLinks() < want {
				s.log.Warn("timed out waiting for data links; going on with what exists", "have", s.dataLinks(), "want", want)
			}
			readyOnce()
		case u, ok := <-updates:
			if !ok {
				return fmt.Errorf("iface: netlink subscription closed")
			}
			s.update(u.Link, u.Header.Type == unix.RTM_DELLINK)
			if s.dataLinks() >= want {
				readyOnce()
			}
		case err := <-errCh:
			s.log.Warn("netlink watch error; resynchronising", "err", err)
			s.resync()
		case <-resync.C:
			s.resync()
		}
	}
}

func (s *Service) resync() {
	links, err := netlink.LinkList()
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, l := range links {
		seen[l.Attrs().Name] = true
		s.update(l, false)
	}
	s.mu.Lock()
	var gone []Port
	for k, p := range s.ports {
		if !seen[k] {
			gone = append(gone, p)
		}
	}
	s.mu.Unlock()
	for _, p := range gone {
		s.remove(p.Kernel)
	}
}

func (s *Service) dataLinks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.ports {
		if !p.Mgmt {
			n++
		}
	}
	return n
}

func (s *Service) update(l netlink.Link, deleted bool) {
	a := l.Attrs()
	vrp := s.naming.VRPName(a.Name)
	if vrp == "" {
		return
	}
	if deleted {
		s.remove(a.Name)
		return
	}
	p := Port{
		Kernel:  a.Name,
		Name:    vrp,
		Index:   a.Index,
		MAC:     append(net.HardwareAddr(nil), a.HardwareAddr...),
		MTU:     a.MTU,
		AdminUp: a.Flags&net.FlagUp != 0,
		OperUp:  a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown),
		Mgmt:    a.Name == "eth0",
	}
	s.mu.Lock()
	old, existed := s.ports[a.Name]
	s.ports[a.Name] = p
	changed := !existed || old.OperUp != p.OperUp || old.AdminUp != p.AdminUp || old.Index != p.Index || old.MTU != p.MTU || old.MAC.String() != p.MAC.String()
	s.mu.Unlock()
	if !p.Mgmt && a.Alias != vrp {
		if err := netlink.LinkSetAlias(l, vrp); err != nil {
			s.log.Debug("cannot set interface alias", "link", a.Name, "err", err)
		}
	}
	if changed {
		s.log.Info("port", "kernel", p.Kernel, "name", p.Name, "up", p.OperUp, "new", !existed)
		s.publish(Event{Port: p})
	}
}

func (s *Service) remove(kernel string) {
	s.mu.Lock()
	p, ok := s.ports[kernel]
	delete(s.ports, kernel)
	s.mu.Unlock()
	if ok {
		s.log.Info("port removed", "kernel", kernel, "name", p.Name)
		s.publish(Event{Port: p, Removed: true})
	}
}

func (s *Service) publish(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
