package datastore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is the store's clock and timers under the test's control.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves time on by d and runs the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

func trialStore(t *testing.T) (*Store, *fakeClock) {
	s := newStore(t)
	clk := &fakeClock{now: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)}
	s.Now, s.AfterFunc = clk.Now, clk.AfterFunc
	return s, clk
}

func sysname(s *Store) string { v, _ := s.Running().Get(P("system", "sysname")); return v }

func commitSysname(t *testing.T, s *Store, name string, trial time.Duration) CommitResult {
	t.Helper()
	c := s.NewCandidate()
	c.Tree().Set(P("system", "sysname"), name)
	r, err := c.CommitWith(context.Background(), CommitOptions{User: "alice", Trial: trial})
	if err != nil {
		t.Fatalf("commit %s: %v", name, err)
	}
	return r
}

func TestTrialRunsOut(t *testing.T) {
	s, clk := trialStore(t)
	commitSysname(t, s, "BEFORE", 0)
	r := commitSysname(t, s, "TRIAL", 120*time.Second)
	if r.Trial == nil || r.Trial.ID != r.ID || !r.Trial.Deadline.Equal(clk.Now().Add(120*time.Second)) {
		t.Fatalf("trial: %+v", r)
	}
	// A second trial commit extends the window; the rollback still goes
	// back to before the first.
	clk.Advance(100 * time.Second)
	r2 := commitSysname(t, s, "TRIAL2", 60*time.Second)
	if r2.Trial.ID != r.ID {
		t.Fatalf("extended trial: %+v", r2.Trial)
	}
	clk.Advance(30 * time.Second) // the first deadline has passed
	if sysname(s) != "TRIAL2" {
		t.Fatalf("rolled back at the first deadline: %q", sysname(s))
	}
	clk.Advance(30 * time.Second)
	if sysname(s) != "BEFORE" {
		t.Fatalf("not rolled back: %q", sysname(s))
	}
	if _, ok := s.PendingTrial(); ok {
		t.Fatal("trial still pending")
	}
	log := s.Commits()
	if log[0].User != TrialUser || len(log) != 4 {
		t.Fatalf("log: %+v", log)
	}
}

func TestTrialConfirmed(t *testing.T) {
	ctx := context.Background()
	s, clk := trialStore(t)
	commitSysname(t, s, "TRIAL", 60*time.Second)
	// A trial commit without changes extends the pending trial.
	clk.Advance(50 * time.Second)
	c := s.NewCandidate()
	r, err := c.CommitWith(ctx, CommitOptions{User: "bob", Trial: 90 * time.Second})
	if err != nil || r.ID != 0 || r.Trial == nil || !r.Trial.Deadline.Equal(clk.Now().Add(90*time.Second)) {
		t.Fatalf("extension: %+v %v", r, err)
	}
	clk.Advance(60 * time.Second)
	if sysname(s) != "TRIAL" {
		t.Fatal("rolled back before the extended deadline")
	}
	// A plain commit confirms, also without changes.
	r, err = c.CommitWith(ctx, CommitOptions{User: "bob"})
	if !errors.Is(err, ErrNoChange) || !r.Confirmed {
		t.Fatalf("confirm: %+v %v", r, err)
	}
	clk.Advance(time.Hour)
	if sysname(s) != "TRIAL" {
		t.Fatal("a confirmed trial rolled back")
	}
	if r, err = c.CommitWith(ctx, CommitOptions{User: "bob"}); r.Confirmed {
		t.Fatal("confirmed twice")
	}
	// Without a pending trial, a trial commit needs changes.
	if _, err := c.CommitWith(ctx, CommitOptions{User: "bob", Trial: time.Minute}); !errors.Is(err, ErrNoChange) {
		t.Fatalf("empty trial: %v", err)
	}
	if _, ok := s.PendingTrial(); ok {
		t.Fatal("an empty trial is pending")
	}
}

func TestTrialAbortAndRefusal(t *testing.T) {
	ctx := context.Background()
	s, clk := trialStore(t)
	if err := s.AbortTrial(ctx, "alice", nil); !errors.Is(err, ErrNoTrial) {
		t.Fatalf("abort without trial: %v", err)
	}
	commitSysname(t, s, "KEPT", 0)
	commitSysname(t, s, "GONE", time.Minute)
	// A refused trial commit leaves the pending trial as it was.
	c := s.NewCandidate()
	c.Tree().Set(P("mpls", "lsr-id"), "1.2.3")
	if _, err := c.CommitWith(ctx, CommitOptions{User: "alice", Trial: time.Hour}); err == nil {
		t.Fatal("invalid trial commit accepted")
	}
	tr, ok := s.PendingTrial()
	if !ok || !tr.Deadline.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("pending trial after a refusal: %+v %v", tr, ok)
	}
	if err := s.AbortTrial(ctx, "alice", nil); err != nil {
		t.Fatal(err)
	}
	if sysname(s) != "KEPT" || s.Commits()[0].User != TrialUser {
		t.Fatalf("abort: %q %+v", sysname(s), s.Commits()[0])
	}
	clk.Advance(time.Hour)
	if n := len(s.Commits()); n != 3 {
		t.Fatalf("the aborted trial's timer fired: %d commits", n)
	}
}

// A confirmation racing the real timer: either the commit confirms the
// trial and its configuration stays, or the timer won and rolled it back
// before; never both.
func TestTrialConfirmRacesTimer(t *testing.T) {
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		s := newStore(t)
		commitSysname(t, s, "TRIAL", time.Duration(i%5)*100*time.Microsecond+time.Microsecond)
		r, err := s.NewCandidate().CommitWith(ctx, CommitOptions{User: "bob"})
		if !errors.Is(err, ErrNoChange) {
			t.Fatal(err)
		}
		_, pending := s.PendingTrial()
		switch {
		case pending:
			t.Fatalf("run %d: neither confirmed nor expired", i)
		case r.Confirmed && sysname(s) != "TRIAL":
			t.Fatalf("run %d: confirmed, and rolled back", i)
		case !r.Confirmed && sysname(s) != "":
			t.Fatalf("run %d: expired, and not rolled back", i)
		}
	}
}

// A trial belongs to its session: another session's commits are refused
// while it is pending; with a persist token it outlives its session and
// only the token acts on it; a session that ends takes its trial back.
func TestTrialSessions(t *testing.T) {
	s, _ := trialStore(t)
	a := WithOrigin(context.Background(), Origin{Session: 7, User: "alice", Interface: "netconf"})
	b := WithOrigin(context.Background(), Origin{Session: 8, User: "bob", Interface: "netconf"})
	cli := context.Background()
	edit := func(ctx context.Context, name string, o CommitOptions) (CommitResult, error) {
		c := s.NewCandidate()
		c.Tree().Set(P("system", "sysname"), name)
		return c.CommitWith(ctx, o)
	}
	if _, err := edit(a, "A", CommitOptions{User: "alice", Trial: time.Minute}); err != nil {
		t.Fatal(err)
	}
	var te *TrialError
	for _, ctx := range []context.Context{b, cli} {
		if _, err := edit(ctx, "X", CommitOptions{User: "x"}); !errors.As(err, &te) || te.Holder.Session != 7 {
			t.Fatalf("another session committed during a trial: %v", err)
		}
	}
	if err := s.AbortTrial(b, "bob", nil); !errors.As(err, &te) {
		t.Fatalf("another session aborted the trial: %v", err)
	}
	// The session ends: its trial goes, recorded as its front end's.
	s.EndSession(cli, 8)
	if sysname(s) != "A" {
		t.Fatal("another session's end took the trial back")
	}
	s.EndSession(cli, 7)
	if sysname(s) != "" || s.Commits()[0].Interface != "netconf" || s.Commits()[0].User != TrialUser {
		t.Fatalf("ended session's trial: %q %+v", sysname(s), s.Commits()[0])
	}

	// A persistent trial outlives its session; its token confirms it.
	if _, err := edit(a, "P", CommitOptions{User: "alice", Trial: time.Minute, Persist: "tok"}); err != nil {
		t.Fatal(err)
	}
	s.EndSession(cli, 7)
	if sysname(s) != "P" {
		t.Fatal("a persistent trial ended with its session")
	}
	wrong, right := "nope", "tok"
	if _, err := s.NewCandidate().CommitWith(a, CommitOptions{User: "alice"}); !errors.As(err, &te) {
		t.Fatalf("its own session confirmed without the token: %v", err)
	}
	if _, err := s.NewCandidate().CommitWith(b, CommitOptions{User: "bob", PersistID: &wrong}); !errors.As(err, &te) || !te.BadPersistID {
		t.Fatalf("a wrong token: %v", err)
	}
	r, err := s.NewCandidate().CommitWith(b, CommitOptions{User: "bob", PersistID: &right})
	if !errors.Is(err, ErrNoChange) || !r.Confirmed {
		t.Fatalf("the token confirms: %+v %v", r, err)
	}
	if _, err := s.NewCandidate().CommitWith(b, CommitOptions{User: "bob", PersistID: &right}); !errors.As(err, &te) || !te.BadPersistID {
		t.Fatalf("a token of no pending trial: %v", err)
	}
}

// TestCommitDescriptionIsFreeText: a commit description with a line break
// or a terminal escape is refused (it is printed by display configuration
// commit list and kept in the journal), and nothing is committed.
func TestCommitDescriptionIsFreeText(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, d := range []string{"x\ny", "\x1b]0;pwned\x07", " x"} {
		c := s.NewCandidate()
		c.Tree().Set(P("system", "sysname"), "PE1")
		_, err := c.CommitWith(ctx, CommitOptions{User: "u", Description: d})
		var de *DescriptionError
		if !errors.As(err, &de) {
			t.Errorf("%q: %v", d, err)
		}
		if len(s.Commits()) != 0 {
			t.Fatalf("%q: committed", d)
		}
	}
	c := s.NewCandidate()
	c.Tree().Set(P("system", "sysname"), "PE1")
	if _, err := c.CommitWith(ctx, CommitOptions{User: "u", Description: "before the window"}); err != nil {
		t.Fatal(err)
	}
}
