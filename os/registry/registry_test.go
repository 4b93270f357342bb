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
