// Package registry starts the daemon's services in dependency order, keeps a
// panic inside the service that raised it, and restarts that service with
// backoff, while the others go on. Restart stops one service on purpose (it
// is started again at once); every service must therefore be able to run
// again after its RunFunc returned.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"
)

// RunFunc runs a service until ctx ends. It calls ready once it serves (the
// services that depend on it start then). Returning early, with or without
// an error, or panicking, gets it restarted.
type RunFunc func(ctx context.Context, ready func()) error

type entry struct {
	name     string
	deps     []string
	run      RunFunc
	ready    chan struct{}
	once     sync.Once
	restarts int
	// runs counts the runs that reported ready; cancel stops the current
	// run (nil between runs); restart asks for an immediate restart.
	runs    int
	cancel  context.CancelFunc
	restart bool
}

// Registry holds services.
type Registry struct {
	log        *slog.Logger
	MinBackoff time.Duration
	MaxBackoff time.Duration

	mu      sync.Mutex
	entries map[string]*entry
	order   []string
}

// New makes an empty registry.
func New(log *slog.Logger) *Registry {
	return &Registry{log: log, entries: map[string]*entry{}, MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second}
}

// Add registers a service with the names of the services it needs.
func (r *Registry) Add(name string, deps []string, run RunFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries[name] = &entry{name: name, deps: deps, run: run, ready: make(chan struct{})}
	r.order = append(r.order, name)
}

// Order returns the start order (dependencies first), or an error for an
// unknown dependency or a cycle.
func (r *Registry) Order() ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const (
		unseen = iota
		visiting
		done
	)
	mark := map[string]int{}
	var out []string
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		e, ok := r.entries[n]
		if !ok {
			return fmt.Errorf("registry: %s needs unknown service %q", path[len(path)-1], n)
		}
		switch mark[n] {
		case visiting:
			return fmt.Errorf("registry: dependency cycle through %q", n)
		case done:
			return nil
		}
		mark[n] = visiting
		deps := append([]string(nil), e.deps...)
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(path, n)); err != nil {
				return err
			}
		}
		mark[n] = done
		out = append(out, n)
		return nil
	}
	for _, n := range r.order {
		if err := visit(n, []string{n}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Restarts returns how often a service was restarted.
func (r *Registry) Restarts(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[name]; ok {
		return e.restarts
	}
	return 0
}

// ReadyRuns returns how many runs of the service reported ready: it grows by
// one each time a restarted service serves again.
func (r *Registry) ReadyRuns(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[name]; ok {
		return e.runs
	}
	return 0
}

// ErrUnknown is returned by Restart for a name that was never added.
var ErrUnknown = errors.New("no such service")

// ErrNotRunning is returned by Restart for a service that is not running
// (not started yet, or between two runs).
var ErrNotRunning = errors.New("service is not running")

// Restart stops the current run of the named service (its context is
// cancelled) and starts it again at once, without backoff. The services that
// depend on it keep running; they must cope with its calls waiting meanwhile.
func (r *Registry) Restart(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[name]
	if !ok {
		return fmt.Errorf("restart %q: %w", name, ErrUnknown)
	}
	if e.cancel == nil {
		return fmt.Errorf("restart %q: %w", name, ErrNotRunning)
	}
	e.restart = true
	e.cancel()
	return nil
}

// Names lists the services in the order they were added.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

// Ready returns a channel closed when the named service is ready.
func (r *Registry) Ready(name string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.entries[name].ready
}

// Run starts every service in order and blocks until ctx ends and all have
// returned.
func (r *Registry) Run(ctx context.Context) error {
	order, err := r.Order()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, n := range order {
		e := r.entries[n]
		// Wait for dependencies to be ready.
		for _, d := range e.deps {
			select {
			case <-r.entries[d].ready:
			case <-ctx.Done():
				wg.Wait()
				return nil
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.supervise(ctx, e)
		}()
	}
	wg.Wait()
	return nil
}

func (r *Registry) supervise(ctx context.Context, e *entry) {
	backoff := r.MinBackoff
	for {
		started := time.Now()
		err := r.runOnce(ctx, e)
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		e.restarts++
		asked := e.restart
		e.restart = false
		r.mu.Unlock()
		if asked {
			r.log.Info("service restarted on request", "service", e.name)
			continue
		}
		r.log.Error("service stopped; restarting", "service", e.name, "err", err, "backoff", backoff)
		if time.Since(started) > 30*time.Second {
			backoff = r.MinBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > r.MaxBackoff {
			backoff = r.MaxBackoff
		}
	}
}

func (r *Registry) runOnce(parent context.Context, e *entry) (err error) {
	ctx, cancel := context.WithCancel(parent)
	r.mu.Lock()
	e.cancel = cancel
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		e.cancel = nil
		r.mu.Unlock()
		cancel()
	}()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	var readyOnce sync.Once
	err = e.run(ctx, func() {
		readyOnce.Do(func() {
			r.mu.Lock()
			e.runs++
			r.mu.Unlock()
			e.once.Do(func() { close(e.ready) })
		})
	})
	if err == nil && ctx.Err() == nil {
		err = fmt.Errorf("returned early")
	}
	return err
}
