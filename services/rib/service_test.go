package rib

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"vpnos/services/fibapi"
)

// recorder is a Programmer that applies batches to a fake FIB; it fails the
// first `fail` calls.
type recorder struct {
	mu      sync.Mutex
	t       *testing.T
	fib     *fakeFIB
	batches []fibapi.Batch
	fail    int
}

func (p *recorder) Program(ctx context.Context, b fibapi.Batch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail > 0 {
		p.fail--
		return errors.New("forwarder not ready")
	}
	p.batches = append(p.batches, b)
	p.fib.apply(p.t, b)
	return nil
}

func (p *recorder) state(inst, prefix string) (string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fib.get(inst, prefix), len(p.batches)
}

func startService(t *testing.T, p *recorder) (*Service, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	s := NewService(ServiceConfig{Programmer: p, RetryInterval: 5 * time.Millisecond, Now: func() time.Time { return t0 }})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, cancel
}

func TestServiceProgramsDifferences(t *testing.T) {
	p := &recorder{t: t, fib: newFakeFIB()}
	s, _ := startService(t, p)
	ctx := context.Background()
	if err := s.AddInstance(ctx, "red"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetInterface(ctx, port("eth3", "GigabitEthernet0/3/0", pub, true, "198.51.100.1/30")); err != nil {
		t.Fatal(err)
	}
	_, n0 := p.state("", "")
	if err := s.AddRoute(ctx, pub, static("10.0.0.0/8", "198.51.100.2", 0)); err != nil {
		t.Fatal(err)
	}
	got, n1 := p.state(fibapi.Public, "10.0.0.0/8")
	if got != "fwd eth3>198.51.100.2" || n1 != n0+1 {
		t.Fatalf("after AddRoute: %q, %d batches (was %d)", got, n1, n0)
	}
	p.mu.Lock()
	last := batchString(p.batches[len(p.batches)-1])
	p.mu.Unlock()
	if len(last) != 1 {
		t.Errorf("last batch %q: want only the new route", last)
	}
	// A query does not program anything.
	snap, err := s.Snapshot(ctx, pub)
	if err != nil || len(snap.Routes) == 0 {
		t.Fatalf("Snapshot: %v", err)
	}
	if _, n := p.state("", ""); n != n1 {
		t.Errorf("a query programmed a batch")
	}
	res, ok, err := s.Lookup(ctx, pub, ip("10.1.2.3"))
	if err != nil || !ok || res.Prefix != pfx("10.0.0.0/8") || res.Source != ip("198.51.100.1") {
		t.Errorf("Lookup = %+v, %v, %v", res, ok, err)
	}
	// Errors reach the caller.
	if err := s.AddRoute(ctx, "blue", static("10.0.0.0/8", "1.1.1.1", 0)); !errors.Is(err, ErrNoInstance) {
		t.Errorf("AddRoute to unknown instance: %v", err)
	}
	if err := s.Do(ctx, func(*RIB) error { panic("bug") }); err == nil {
		t.Error("a panic inside the loop was not reported")
	}
	// LSPs through the service.
	if err := s.SetLSPs(ctx, OwnerStatic, []LSP{egress("e", 100)}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateLSPs(ctx, OwnerStatic, []LSP{egress("f", 101)}, nil); err != nil {
		t.Fatal(err)
	}
	st, err := s.LSPs(ctx, OwnerStatic)
	if err != nil || len(st) != 2 || !st[0].Up || !st[1].Up {
		t.Errorf("LSPs = %+v, %v", st, err)
	}
	p.mu.Lock()
	_, hasLabel := p.fib.labels[100]
	p.mu.Unlock()
	if !hasLabel {
		t.Error("egress label not programmed")
	}
	if names, _ := s.Instances(ctx); len(names) != 2 {
		t.Errorf("Instances = %q", names)
	}
}

func TestServiceBatchesConcurrentCalls(t *testing.T) {
	p := &recorder{t: t, fib: newFakeFIB()}
	s, _ := startService(t, p)
	ctx := context.Background()
	if err := s.SetInterface(ctx, port("eth3", "GigabitEthernet0/3/0", pub, true, "198.51.100.1/30")); err != nil {
		t.Fatal(err)
	}
	_, before := p.state("", "")
	var wg sync.WaitGroup
	const n = 200
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := static(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), "198.51.100.2", 0)
			if err := s.AddRoute(ctx, pub, r); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	_, after := p.state("", "")
	p.mu.Lock()
	total := 0
	for _, b := range p.batches[before:] {
		total += len(b.Routes)
	}
	p.mu.Unlock()
	if total != n || after-before > n {
		t.Errorf("%d routes in %d batches, want %d routes in at most %d batches", total, after-before, n, n)
	}
	t.Logf("%d concurrent calls programmed in %d batches", n, after-before)
}

func TestServiceRetriesFailedProgramming(t *testing.T) {
	p := &recorder{t: t, fib: newFakeFIB(), fail: 3}
	s, _ := startService(t, p)
	ctx := context.Background()
	if err := s.SetInterface(ctx, port("eth3", "GigabitEthernet0/3/0", pub, true, "198.51.100.1/30")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoute(ctx, pub, static("10.0.0.0/8", "198.51.100.2", 0)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := p.state(fibapi.Public, "10.0.0.0/8")
		if got == "fwd eth3>198.51.100.2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FIB never converged after programming failures: %q", got)
		}
		time.Sleep(2 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.fib.routes[fibKey(fibapi.Public, netip.MustParsePrefix("198.51.100.0/30"))]; !ok {
		t.Error("direct route lost across failed batches")
	}
}

// A stopped Service serves again when Serve runs again (the registry
// restarts services): the RIB keeps its state, calls made meanwhile wait, and
// nothing panics.
func TestServiceRestarts(t *testing.T) {
	p := &recorder{t: t, fib: newFakeFIB()}
	s := NewService(ServiceConfig{Programmer: p, RetryInterval: 5 * time.Millisecond, Now: func() time.Time { return t0 }})
	serve := func() (context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()
		return cancel, done
	}
	ctx := context.Background()
	cancel, done := serve()
	if err := s.SetInterface(ctx, port("eth3", "GigabitEthernet0/3/0", fibapi.Public, true, "198.51.100.1/30")); err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 3; run++ {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: Serve returned %v", run, err)
		}
		// While stopped, a call waits (here until its deadline).
		short, c := context.WithTimeout(ctx, 20*time.Millisecond)
		err := s.AddRoute(short, fibapi.Public, static("10.0.0.0/8", "198.51.100.2", 0))
		c()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("run %d: call while stopped: %v", run, err)
		}
		// A call made while stopped is answered once it serves again.
		answered := make(chan error, 1)
		go func() {
			answered <- s.AddRoute(ctx, fibapi.Public, static(fmt.Sprintf("10.%d.0.0/16", run), "198.51.100.2", 0))
		}()
		cancel, done = serve()
		if err := <-answered; err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if got, _ := p.state(fibapi.Public, fmt.Sprintf("10.%d.0.0/16", run)); got != "fwd eth3>198.51.100.2" {
			t.Fatalf("run %d: FIB %q", run, got)
		}
		if got, _ := p.state(fibapi.Public, "198.51.100.0/30"); got == "" {
			t.Fatalf("run %d: the direct route was lost", run)
		}
	}
	// Two loops never own one RIB.
	if err := s.Serve(ctx); !errors.Is(err, ErrServing) {
		t.Errorf("second concurrent Serve: %v", err)
	}
	cancel()
	<-done
	c2, cc := context.WithCancel(ctx)
	cc()
	if _, err := s.Snapshot(c2, fibapi.Public); !errors.Is(err, context.Canceled) {
		t.Errorf("call with a cancelled context: %v", err)
	}
}
