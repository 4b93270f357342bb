package sshd

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// step is one login attempt fed to a Limiter: at offset at, from src,
// wrong password or not; want is the verdict, ev the event of its outcome.
type step struct {
	at     time.Duration
	src    string
	failed bool
	want   Verdict
	ev     Event
}

func TestLimiter(t *testing.T) {
	lim := Limits{PerSource: 3, Overall: 5, Window: time.Minute, Block: time.Minute, MaxBlock: 3 * time.Minute}
	a, b, c := "192.0.2.1", "192.0.2.2", "192.0.2.3"
	fail := func(at time.Duration, src string) step { return step{at, src, true, Allowed, NoEvent} }
	ok := func(at time.Duration, src string) step { return step{at, src, false, Allowed, NoEvent} }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a source is blocked after its failures, others are not", []step{
			fail(0, a), fail(time.Second, a),
			{2 * time.Second, a, true, Allowed, BlockedSource},
			{3 * time.Second, a, false, SourceBlocked, NoEvent}, // even the right password
			ok(3*time.Second, b),
			{59 * time.Second, a, false, SourceBlocked, NoEvent},
			ok(62*time.Second, a), // the block is over
		}},
		{"failures older than the window are forgotten", []step{
			fail(0, a), fail(time.Second, a),
			fail(61*time.Second, a), fail(62*time.Second, a),
			{63 * time.Second, a, true, Allowed, BlockedSource},
		}},
		{"each further block doubles, up to the maximum", []step{
			fail(0, a), fail(0, a), {0, a, true, Allowed, BlockedSource},
			// blocked 1 min
			fail(60*time.Second, a), fail(60*time.Second, a), {60 * time.Second, a, true, Allowed, BlockedSource},
			// blocked 2 min
			{179 * time.Second, a, false, SourceBlocked, NoEvent},
			fail(180*time.Second, a), fail(180*time.Second, a), {180 * time.Second, a, true, Allowed, BlockedSource},
			// blocked 4 min, capped at 3
			{359 * time.Second, a, false, SourceBlocked, NoEvent},
			fail(360*time.Second, a),
		}},
		{"a success resets the source", []step{
			fail(0, a), fail(0, a), ok(time.Second, a),
			fail(2*time.Second, a), fail(2*time.Second, a), ok(3*time.Second, a),
		}},
		{"too many failures overall stop password logins for everybody", []step{
			fail(0, a), fail(0, a), fail(0, b), fail(0, b),
			{time.Second, c, true, Allowed, BlockedAll},
			{2 * time.Second, "198.51.100.7", false, AllBlocked, NoEvent},
			{59 * time.Second, a, false, AllBlocked, NoEvent},
			ok(61*time.Second, "198.51.100.7"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLimiter(lim)
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				v, _, _ := l.Begin(now, s.src)
				if v != s.want {
					t.Fatalf("step %d (%+v): verdict %v, want %v", i, s, v, s.want)
				}
				if v != Allowed {
					continue
				}
				if ev, _ := l.Done(now, s.src, s.failed); ev != s.ev {
					t.Fatalf("step %d (%+v): event %v, want %v", i, s, ev, s.ev)
				}
			}
		})
	}
}

// TestLimiterFirstRefusal: only the first refusal of a block is marked for
// the log, and the block's end is reported.
func TestLimiterFirstRefusal(t *testing.T) {
	l := NewLimiter(Limits{PerSource: 1, Block: time.Minute})
	t0 := time.Unix(1e9, 0)
	l.Begin(t0, "a")
	if ev, until := l.Done(t0, "a", true); ev != BlockedSource || !until.Equal(t0.Add(time.Minute)) {
		t.Fatalf("event %v until %v", ev, until)
	}
	for i, wantFirst := range []bool{true, false, false} {
		v, until, first := l.Begin(t0.Add(time.Second), "a")
		if v != SourceBlocked || first != wantFirst || !until.Equal(t0.Add(time.Minute)) {
			t.Fatalf("refusal %d: %v %v first=%v", i, v, until, first)
		}
	}
}

// TestLimiterParallelGuesses: checks that are still running count as
// failures, so that many guesses at once get no more than the limit.
func TestLimiterParallelGuesses(t *testing.T) {
	l := NewLimiter(Limits{PerSource: 5, Overall: 1000})
	now := time.Unix(1e9, 0)
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if v, _, _ := l.Begin(now, "203.0.113.9"); v == Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
				// The password check is slow; the others arrive meanwhile.
				time.Sleep(10 * time.Millisecond)
				l.Done(now, "203.0.113.9", true)
			}
		}()
	}
	close(start)
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("%d of 200 parallel guesses were checked, want 5", allowed)
	}
	if v, _, _ := l.Begin(now.Add(time.Second), "203.0.113.9"); v != SourceBlocked {
		t.Fatalf("after the guesses: %v, want blocked", v)
	}
}

func TestLimiterPending(t *testing.T) {
	l := NewLimiter(Limits{PendingPerSource: 2, PendingOverall: 3})
	now := time.Unix(1e9, 0)
	var rel []func()
	for i, tc := range []struct {
		src string
		ok  bool
	}{{"a", true}, {"a", true}, {"a", false}, {"b", true}, {"c", false}} {
		r, ok := l.Admit(now, tc.src)
		if ok != tc.ok {
			t.Fatalf("admit %d from %s: %v, want %v", i, tc.src, ok, tc.ok)
		}
		if ok {
			rel = append(rel, r)
		}
	}
	rel[0]()
	rel[0]() // a second release changes nothing
	if _, ok := l.Admit(now, "c"); !ok {
		t.Fatal("a released place was not given again")
	}
	if _, ok := l.Admit(now, "d"); ok {
		t.Fatal("admitted beyond the overall limit after a double release")
	}
}

// TestLimiterForgets: sources with nothing to remember do not pile up.
func TestLimiterForgets(t *testing.T) {
	l := NewLimiter(Limits{})
	now := time.Unix(1e9, 0)
	for i := range 20000 {
		src := fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
		l.Begin(now, src)
		l.Done(now, src, false)
	}
	if n := len(l.src); n > 4096 {
		t.Fatalf("%d sources remembered", n)
	}
}

func (v Verdict) String() string { return [...]string{"allowed", "source blocked", "all blocked"}[v] }
func (e Event) String() string   { return [...]string{"none", "blocked source", "blocked all"}[e] }
