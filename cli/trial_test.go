package cli

import (
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/yang/datastore"
)

// fakeTimers replaces the datastore's timers: fire runs the pending ones.
type fakeTimers struct {
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (ft *fakeTimers) after(d time.Duration, f func()) func() bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t := &fakeTimer{d: d, f: f}
	ft.timers = append(ft.timers, t)
	return func() bool {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// fire runs every timer that was not stopped and reports their durations.
func (ft *fakeTimers) fire() []time.Duration {
	ft.mu.Lock()
	var run []*fakeTimer
	for _, t := range ft.timers {
		if !t.stopped {
			t.stopped = true
			run = append(run, t)
		}
	}
	ft.timers = nil
	ft.mu.Unlock()
	var ds []time.Duration
	for _, t := range run {
		t.f()
		ds = append(ds, t.d)
	}
	return ds
}

func TestCommitTrial(t *testing.T) {
	e := testEngine(t, "two-stage")
	ft := &fakeTimers{}
	e.store.AfterFunc = ft.after
	sysname := func() string { v, _ := e.store.Running().Get(pSysname); return v }

	// Unconfirmed: the trial's configuration goes away when time runs out,
	// also a later commit made within the trial window.
	out := runTranscript(t, e, "system-view\nsysname TRIAL\ncommit trial 120\ninterface LoopBack1\nip address 10.0.0.1 32\ncommit trial\n")
	if !strings.Contains(out, "Info: The configuration rolls back in 120 seconds unless a commit confirms it.") ||
		!strings.Contains(out, "Info: The configuration rolls back in 600 seconds unless a commit confirms it.") {
		t.Fatalf("trial output:\n%s", out)
	}
	if sysname() != "TRIAL" {
		t.Fatal("trial commit not applied")
	}
	if ds := ft.fire(); len(ds) != 1 || ds[0] != 600*time.Second {
		t.Fatalf("timers fired: %v (the second trial commit re-arms the one timer)", ds)
	}
	if sysname() != "" || e.store.Running().Exists(pLoopback1) {
		t.Fatalf("not rolled back: sysname %q\n%s", sysname(), e.CurrentConfig())
	}
	if c := e.store.Commits(); len(c) != 3 || c[0].User != "trial" || c[1].Description != "commit trial" {
		t.Fatalf("commit log: %+v", c)
	}

	// Confirmed by a plain commit (nothing else to commit): it stays.
	// A trial commit without changes extends the pending trial.
	out = runTranscript(t, e, "system-view\nsysname KEPT\ncommit trial 60\ncommit trial 90\ncommit\ncommit\n")
	if !strings.Contains(out, "Info: The configuration rolls back in 90 seconds unless a commit confirms it.") ||
		strings.Count(out, "Info: The trial configuration is confirmed.") != 1 {
		t.Fatalf("confirm output:\n%s", out)
	}
	if ds := ft.fire(); len(ds) != 0 || sysname() != "KEPT" {
		t.Fatalf("confirmed trial rolled back (timers %v, sysname %q)", ds, sysname())
	}

	// Committing the changes asked about when leaving confirms too.
	out = runTranscript(t, e, "system-view\nsysname TRIAL2\ncommit trial 60\nsysname KEPT\nreturn\ny\n")
	if !strings.Contains(out, "Info: The trial configuration is confirmed.") || len(ft.fire()) != 0 || sysname() != "KEPT" {
		t.Fatalf("leave with yes: sysname %q\n%s", sysname(), out)
	}

	// abort trial rolls back at once; with nothing pending it says so.
	out = runTranscript(t, e, "system-view\nsysname GONE\ncommit trial 60\nabort trial\nabort trial\ncommit trial\ncommit trial 59\n")
	for _, want := range []string{
		"Info: The trial configuration is rolled back.",
		"Error: No commit trial is pending.",
		"Error: No configuration changes to commit for a trial.",
		"Error: Wrong parameter found at '^' position.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if sysname() != "KEPT" || len(ft.fire()) != 0 {
		t.Fatalf("abort trial: sysname %q", sysname())
	}
}

var (
	pSysname   = datastore.P("system", "sysname")
	pLoopback1 = datastore.P("interfaces", "interface", datastore.K("LoopBack1"))
)
