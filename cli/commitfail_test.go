package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"vpnos/cli/proto"
	"vpnos/yang/datastore"
)

type refuser struct{ prepared, applied, aborted int }

func (r *refuser) Validate(*datastore.Change) []*datastore.RuleError { return nil }

func (r *refuser) Prepare(_ context.Context, c *datastore.Change) error {
	r.prepared++
	for _, p := range c.Paths {
		if p.Last().Name == "description" {
			if v, _ := c.New.Get(p); v == "refuse me" {
				return errors.New("the interface service cannot take this description")
			}
		}
	}
	return nil
}
func (r *refuser) Apply(context.Context, *datastore.Change) { r.applied++ }
func (r *refuser) Abort(context.Context, *datastore.Change) { r.aborted++ }

// A commit a service refuses changes nothing: running, the prompt flag
// and the candidate stay as they were.
func TestFailedCommitChangesNothing(t *testing.T) {
	e := testEngine(t, "two-stage")
	ref := &refuser{}
	e.Store().Register(ref, "/interfaces/interface/description")
	out := runTranscript(t, e, strings.Join([]string{
		"system-view", "interface LoopBack0", "description fine", "commit",
		"description refuse me", "ip address 10.0.0.1 32", "commit",
		"display configuration candidate", "display current-configuration",
		"undo description", "commit", "display current-configuration interface",
	}, "\n"))
	for _, want := range []string{
		"[*HUAWEI-LoopBack0] commit\nError: Commit refused: the interface service cannot take this description.\n[*HUAWEI-LoopBack0] display configuration candidate\ninterface LoopBack0\n description refuse me\n ip address 10.0.0.1 255.255.255.255\n",
		"#\ninterface LoopBack0\n description fine\n#\nreturn\n[*HUAWEI-LoopBack0] undo description",
		"[~HUAWEI-LoopBack0] display current-configuration interface\n!Software Version V100R001C00\n!Last configuration was updated at 2026-11-22 01:00:02+00:00\n#\ninterface LoopBack0\n ip address 10.0.0.1 255.255.255.255\n#\nreturn\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if ref.prepared != 3 || ref.applied != 2 || ref.aborted != 0 {
		t.Errorf("participant calls: %+v", ref)
	}
	if n := len(e.Store().Commits()); n != 2 {
		t.Errorf("%d commits, want 2", n)
	}
}

// A commit description is free text: a line break or a terminal escape in
// it (possible in one request on the management socket) is a wrong
// parameter, and nothing is committed.
func TestCommitDescriptionRefusesControlCharacters(t *testing.T) {
	ctx := context.Background()
	e := testEngine(t, "two-stage")
	s, _ := e.Open(ctx, proto.Request{User: "admin"})
	do := func(l string) proto.Response { return s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: l}) }
	do("system-view")
	do("sysname PE1")
	for _, l := range []string{"commit description x\nsysname HACKED", "commit description \x1b]0;pwned\x07"} {
		r := do(l)
		if !r.Failed || !strings.Contains(r.Output, "Error: Wrong parameter found at '^' position.") {
			t.Errorf("%q: %+v", l, r)
		}
	}
	if n := len(e.Store().Commits()); n != 0 {
		t.Fatalf("%d commits", n)
	}
	if r := do("commit description change 42"); r.Failed {
		t.Fatal(r.Output)
	}
	if c := e.Store().Commits(); len(c) != 1 || c[0].Description != "change 42" {
		t.Fatalf("%+v", c)
	}
}

type fullDisk struct{}

func (fullDisk) Update(datastore.Record) error {
	return fmt.Errorf("commit journal: write: %w", syscall.ENOSPC)
}

func (fullDisk) Append(datastore.Record, *datastore.Tree) error {
	return fmt.Errorf("commit journal: %w", syscall.ENOSPC)
}

// A commit whose rollback point cannot be saved (a full disk) takes effect
// and says so, as do a rollback and a commit on leaving the system view.
func TestCommitWarnsWhenItsRecordIsLost(t *testing.T) {
	e := testEngine(t, "two-stage")
	e.Store().SetJournal(fullDisk{})
	out := runTranscript(t, e, strings.Join([]string{
		"system-view", "sysname PE1", "commit", "sysname PE2", "return", "y",
		"rollback configuration to commit-id 1000000001",
	}, "\n"))
	for _, want := range []string{
		"[*HUAWEI] commit\nWarning: The configuration is committed, but its rollback point (commit 1000000001) could not be saved: commit journal: no space left on device. It is lost when the device restarts.\n",
		"Warning: The configuration is committed, but its rollback point (commit 1000000002) could not be saved",
		"Info: Rolled back the configuration to commit 1000000001 (commit 1000000003).\nWarning: The configuration is committed, but its rollback point (commit 1000000003) could not be saved",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if got := e.sysname(); got != "PE1" {
		t.Fatalf("sysname %s", got)
	}
}
