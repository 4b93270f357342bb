package rib

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/mailbox"
)

// ServiceConfig configures a Service.
type ServiceConfig struct {
	// Programmer receives the FIB differences (required).
	Programmer fibapi.Programmer
	Logger     *slog.Logger
	// Now is the clock for route ages (time.Now if nil).
	Now func() time.Time
	// RetryInterval is how long to wait before programming again after the
	// Programmer failed (default 1s).
	RetryInterval time.Duration
}

// Service owns a RIB in one goroutine (Serve). Every method is a message to
// that goroutine and waits for its answer. Requests that arrive together are
// applied together and programmed as one batch; a request returns after its
// change was computed and handed to the Programmer. A Programmer error is
// logged and the batch retried; it is not the caller's error.
//
// Serve may be run again after it returned (the registry restarts services):
// the RIB keeps its state, and calls made while no Serve runs wait for the
// next one (or for their context).
type Service struct {
	rib   *RIB
	prog  fibapi.Programmer
	log   *slog.Logger
	retry time.Duration
	reqs  chan request

	mu      sync.Mutex
	serving bool
}

type request struct {
	fn     func(*RIB) error
	mutate bool
	reply  chan error
}

// maxBatch bounds how many queued requests are applied before programming.
const maxBatch = 4096

// NewService returns a Service; run Serve to start it.
func NewService(cfg ServiceConfig) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	return &Service{
		rib:   New(Options{Now: cfg.Now}),
		prog:  cfg.Programmer,
		log:   cfg.Logger,
		retry: cfg.RetryInterval,
		reqs:  make(chan request),
	}
}

// ErrServing is returned by Serve when another Serve of the same Service runs.
var ErrServing = errors.New("rib service is already serving")

// Serve runs the event loop until ctx ends. It programs what is pending at
// once (the internal routes at the first start; after a restart, a batch the
// previous run could not finish).
func (s *Service) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return ErrServing
	}
	s.serving = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.serving = false
		s.mu.Unlock()
	}()
	var retry <-chan time.Time
	program := func() {
		if s.flush(ctx) {
			retry = nil
		} else {
			retry = time.After(s.retry)
		}
	}
	program()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-retry:
			program()
		case req := <-s.reqs:
			batch := []request{req}
		drain:
			for len(batch) < maxBatch {
				select {
				case r := <-s.reqs:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			mutated := false
			errs := make([]error, len(batch))
			for i, r := range batch {
				errs[i] = s.call(r.fn)
				mutated = mutated || r.mutate
			}
			if mutated {
				program()
			}
			for i, r := range batch {
				r.reply <- errs[i]
			}
		}
	}
}

// call runs fn, turning a panic (a bug) into an error so the daemon survives.
func (s *Service) call(fn func(*RIB) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("rib: internal error", "panic", p)
			err = fmt.Errorf("rib internal error: %v", p)
		}
	}()
	return fn(s.rib)
}

// flush programs the pending differences; false if the Programmer failed.
func (s *Service) flush(ctx context.Context) bool {
	b := s.rib.Compute()
	if b.Empty() {
		s.rib.Commit()
		return true
	}
	if err := s.prog.Program(ctx, b); err != nil {
		s.log.Warn("rib: programming the FIB failed; will retry", "err", err,
			"routes", len(b.Routes), "deletes", len(b.DeleteRoutes), "labels", len(b.Labels), "label_deletes", len(b.DeleteLabels))
		return false
	}
	s.rib.Commit()
	s.log.Debug("rib: programmed", "routes", len(b.Routes), "deletes", len(b.DeleteRoutes), "labels", len(b.Labels), "label_deletes", len(b.DeleteLabels))
	return true
}

func (s *Service) do(ctx context.Context, mutate bool, fn func(*RIB) error) error {
	r := request{fn: fn, mutate: mutate, reply: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do runs fn inside the event loop with exclusive access to the RIB, for
// several changes that must be programmed together (a configuration commit).
// fn must not keep the RIB after it returns.
func (s *Service) Do(ctx context.Context, fn func(*RIB) error) error { return s.do(ctx, true, fn) }

// AddInstance creates a routing instance.
func (s *Service) AddInstance(ctx context.Context, name string) error {
	return s.do(ctx, true, func(r *RIB) error { return r.AddInstance(name) })
}

// DelInstance deletes a VPN instance and its routes.
func (s *Service) DelInstance(ctx context.Context, name string) error {
	return s.do(ctx, true, func(r *RIB) error { return r.DelInstance(name) })
}

// SetInterface adds or updates an interface (see RIB.SetInterface).
func (s *Service) SetInterface(ctx context.Context, p Port) error {
	return s.do(ctx, true, func(r *RIB) error { return r.SetInterface(p) })
}

// DelInterface removes an interface.
func (s *Service) DelInterface(ctx context.Context, name string) error {
	return s.do(ctx, true, func(r *RIB) error { r.DelInterface(name); return nil })
}

// AddRoute adds or replaces a route in an instance ("" is public).
func (s *Service) AddRoute(ctx context.Context, instance string, rt Route) error {
	return s.do(ctx, true, func(r *RIB) error { return r.AddRoute(instance, rt) })
}

// AddRoutes adds or replaces many routes in one batch; it stops at the first
// invalid route (the routes before it stay added).
func (s *Service) AddRoutes(ctx context.Context, instance string, rts []Route) error {
	return s.do(ctx, true, func(r *RIB) error {
		for _, rt := range rts {
			if err := r.AddRoute(instance, rt); err != nil {
				return err
			}
		}
		return nil
	})
}

// DelRoute removes one route.
func (s *Service) DelRoute(ctx context.Context, instance string, id RouteID) error {
	return s.do(ctx, true, func(r *RIB) error { return r.DelRoute(instance, id) })
}

// DelRoutes removes every route of proto to prefix.
func (s *Service) DelRoutes(ctx context.Context, instance string, proto Protocol, prefix netip.Prefix) (int, error) {
	var n int
	err := s.do(ctx, true, func(r *RIB) (err error) { n, err = r.DelRoutes(instance, proto, prefix); return err })
	return n, err
}

// SyncRoutes replaces all routes of proto, per instance (see RIB.SyncRoutes).
func (s *Service) SyncRoutes(ctx context.Context, proto Protocol, routes map[string][]Route) error {
	return s.do(ctx, true, func(r *RIB) error { return r.SyncRoutes(proto, routes) })
}

// SetLSPs replaces every LSP of owner (see RIB.SetLSPs).
func (s *Service) SetLSPs(ctx context.Context, owner string, lsps []LSP) error {
	return s.do(ctx, true, func(r *RIB) error { return r.SetLSPs(owner, lsps) })
}

// UpdateLSPs adds, replaces and removes some LSPs of owner (see
// RIB.UpdateLSPs).
func (s *Service) UpdateLSPs(ctx context.Context, owner string, set []LSP, del []string) error {
	return s.do(ctx, true, func(r *RIB) error { return r.UpdateLSPs(owner, set, del) })
}

// Resync makes the next batch carry the whole FIB (after a forwarder restart).
func (s *Service) Resync(ctx context.Context) error {
	return s.do(ctx, true, func(r *RIB) error { r.Resync(); return nil })
}

// Snapshot copies an instance's routing table for displays.
func (s *Service) Snapshot(ctx context.Context, instance string) (Snapshot, error) {
	var snap Snapshot
	err := s.do(ctx, false, func(r *RIB) (err error) { snap, err = r.Snapshot(instance); return err })
	return snap, err
}

// LSPs returns the LSPs of owner ("" for all) with their state.
func (s *Service) LSPs(ctx context.Context, owner string) ([]LSPStatus, error) {
	var out []LSPStatus
	err := s.do(ctx, false, func(r *RIB) error { out = r.LSPs(owner); return nil })
	return out, err
}

// TunnelTo tells whether an LSP carries traffic to addr (see RIB.TunnelTo).
func (s *Service) TunnelTo(ctx context.Context, instance string, addr netip.Addr) (lsp LSPStatus, ok bool, err error) {
	err = s.do(ctx, false, func(r *RIB) error { lsp, ok = r.TunnelTo(instance, addr); return nil })
	return lsp, ok, err
}

// ResolveNexthop is how the RIB reaches addr in an instance now (see
// WatchNexthops to follow it).
func (s *Service) ResolveNexthop(ctx context.Context, instance string, addr netip.Addr) (NexthopState, error) {
	var st NexthopState
	err := s.do(ctx, false, func(r *RIB) error { st = r.ResolveNexthop(instance, addr); return nil })
	return st, err
}

// WatchNexthops returns a next-hop tracker (see NexthopWatch); Track adds
// addresses to it.
func (s *Service) WatchNexthops() *NexthopWatch {
	return &NexthopWatch{box: mailbox.New[NexthopKey, NexthopState](nil), tracked: map[NexthopKey]bool{},
		run: func(ctx context.Context, fn func(*RIB) error) error { return s.do(ctx, false, fn) }}
}

// WatchRoutes returns a watch of the best routes of protos in an instance
// (see RouteWatch); the current ones are delivered at once.
func (s *Service) WatchRoutes(ctx context.Context, instance string, protos ...Protocol) (*RouteWatch, error) {
	w := &RouteWatch{box: mailbox.New[netip.Prefix, BestRoute](nil), instance: instance,
		run: func(ctx context.Context, fn func(*RIB) error) error { return s.do(ctx, false, fn) }}
	if err := s.do(ctx, false, func(r *RIB) error { return r.addRouteWatch(w, protos) }); err != nil {
		return nil, err
	}
	return w, nil
}

// Instances lists the routing instances, public first.
func (s *Service) Instances(ctx context.Context) ([]string, error) {
	var out []string
	err := s.do(ctx, false, func(r *RIB) error { out = r.Instances(); return nil })
	return out, err
}

// Lookup finds the FIB entry for addr in an instance (ping and tracert
// source selection); ok is false when nothing matches.
func (s *Service) Lookup(ctx context.Context, instance string, addr netip.Addr) (res LookupResult, ok bool, err error) {
	err = s.do(ctx, false, func(r *RIB) error { res, ok = r.Lookup(instance, addr); return nil })
	return res, ok, err
}
