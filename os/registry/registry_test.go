package registry

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		deps    map[string][]string
		add     []string
		want    string
		wantErr string
	}{
		{name: "chain", add: []string{"mgmt", "rib", "iface"},
			deps: map[string][]string{"mgmt": {"rib"}, "rib": {"iface"}}, want: "iface rib mgmt"},
		{name: "diamond", add: []string{"bgp", "rib", "iface", "fwd"},
			deps: map[string][]string{"bgp": {"rib", "fwd"}, "rib": {"iface"}, "fwd": {"iface"}}, want: "iface fwd rib bgp"},
		{name: "unknown", add: []string{"a"}, deps: map[string][]string{"a": {"b"}}, wantErr: `unknown service "b"`},
		{name: "cycle", add: []string{"a", "b"}, deps: map[string][]string{"a": {"b"}, "b": {"a"}}, wantErr: "cycle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(quiet())
			for _, n := range tc.add {
				r.Add(n, tc.deps[n], func(ctx context.Context, ready func()) error { return nil })
			}
			got, err := r.Order()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("order = %v (%v), want %s", got, err, tc.want)
			}
		})
	}
}

func TestStartsAfterDependenciesAreReady(t *testing.T) {
	r := New(quiet())
	var mu sync.Mutex
	var events []string
	log := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.Add("top", []string{"base"}, func(ctx context.Context, ready func()) error {
		log("top start")
		ready()
		<-ctx.Done()
		return nil
	})
	r.Add("base", nil, func(ctx context.Context, ready func()) error {
		log("base start")
		time.Sleep(30 * time.Millisecond)
		log("base ready")
		ready()
		<-ctx.Done()
		return nil
	})
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	select {
	case <-r.Ready("top"):
	case <-time.After(2 * time.Second):
		t.Fatal("top never ready")
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(events, ",") != "base start,base ready,top start" {
		t.Fatalf("events %v", events)
	}
}

func TestPanicIsContainedAndServiceRestarted(t *testing.T) {
	r := New(quiet())
	r.MinBackoff = time.Millisecond
	var runs, other atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.Add("flaky", nil, func(ctx context.Context, ready func()) error {
		ready()
		switch runs.Add(1) {
		case 1:
			panic("boom")
		case 2:
			return errors.New("failed")
		}
		<-ctx.Done()
		return nil
	})
	r.Add("steady", nil, func(ctx context.Context, ready func()) error {
		other.Add(1)
		ready()
		<-ctx.Done()
		return nil
	})
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	deadline := time.Now().Add(3 * time.Second)
	for runs.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("flaky ran %d times", runs.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if r.Restarts("flaky") != 2 || other.Load() != 1 || r.Restarts("steady") != 0 {
		t.Fatalf("restarts flaky=%d steady=%d steady runs=%d", r.Restarts("flaky"), r.Restarts("steady"), other.Load())
	}
}

// Restart stops one run on purpose and the service serves again at once,
// while the others go on; a service that is not running cannot be restarted.
func TestRestartOnRequest(t *testing.T) {
	r := New(quiet())
	r.MinBackoff = time.Hour // a restart on request never waits for backoff
	var runs, other atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.Add("svc", nil, func(ctx context.Context, ready func()) error {
		runs.Add(1)
		ready()
		<-ctx.Done()
		return ctx.Err()
	})
	r.Add("other", []string{"svc"}, func(ctx context.Context, ready func()) error {
		other.Add(1)
		ready()
		<-ctx.Done()
		return nil
	})
	if err := r.Restart("svc"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("restart before Run: %v", err)
	}
	if err := r.Restart("nope"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("restart of an unknown service: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("both ready", func() bool { return r.ReadyRuns("svc") == 1 && r.ReadyRuns("other") == 1 })
	for i := 2; i <= 4; i++ {
		waitFor("svc running", func() bool { return r.Restart("svc") == nil })
		waitFor("svc ready again", func() bool { return r.ReadyRuns("svc") == i })
	}
	cancel()
	<-done
	if runs.Load() != 4 || r.Restarts("svc") != 3 || other.Load() != 1 || r.Restarts("other") != 0 {
		t.Fatalf("svc runs=%d restarts=%d, other runs=%d restarts=%d", runs.Load(), r.Restarts("svc"), other.Load(), r.Restarts("other"))
	}
	if got := strings.Join(r.Names(), " "); got != "svc other" {
		t.Errorf("Names = %q", got)
	}
}
