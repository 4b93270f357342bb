package datastore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestJournalKeepsTheCommitLogAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	j := FileJournal{Dir: dir}

	s := newStore(t)
	s.SetJournal(j)
	var ids []int
	var trees []*Tree
	for i, name := range []string{"red", "blue"} {
		c := s.NewCandidate()
		c.Tree().SetPresence(P("vpn-instances", "vpn-instance", K(name)))
		id, err := c.CommitWith(ctx, CommitOptions{User: []string{"alice", "bob"}[i], Description: "add " + name, Label: "l-" + name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id.ID)
		trees = append(trees, s.Running())
	}
	// An unsaved change: the next run starts from the startup file.
	c := s.NewCandidate()
	c.Tree().Set(P("system", "sysname"), "UNSAVED")
	if _, err := c.Commit(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	lastOfRun := s.Running()

	// A new daemon: an empty store, the log restored, then the startup
	// configuration committed.
	s2 := newStore(t)
	s2.SetJournal(j)
	restored, err := j.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !restored.Tip.Equal(lastOfRun) || len(restored.Records) != 3 {
		t.Fatalf("restored %d records, tip %v", len(restored.Records), restored.Tip.Items())
	}
	s2.RestoreLog(restored)
	c = s2.NewCandidate()
	c.Replace(trees[1].Clone())
	startID, err := c.Commit(ctx, "startup", "")
	if err != nil {
		t.Fatal(err)
	}
	if startID != ids[1]+2 {
		t.Fatalf("numbering did not continue: %d after %v", startID, ids)
	}
	log := s2.Commits()
	if len(log) != 4 || log[2].ID != ids[1] || log[2].User != "bob" || log[2].Description != "add blue" || log[2].Label != "l-blue" || log[3].User != "alice" {
		t.Fatalf("restored log: %+v", log)
	}
	// The startup commit is recorded as what the restart changed: the
	// unsaved sysname went.
	before, after, err := s2.TreesAround(startID)
	if err != nil || !before.Equal(lastOfRun) || !after.Equal(trees[1]) {
		t.Fatalf("startup commit: %v %v", before, err)
	}
	for i, id := range ids {
		got, err := s2.TreeAt(id)
		if err != nil || !got.Equal(trees[i]) {
			t.Fatalf("configuration of commit %d: %v %v", id, got.Items(), err)
		}
	}
	// Rolling back to a commit of the earlier run gives its configuration.
	if _, err := s2.RollbackTo(ctx, ids[0], "carol"); err != nil {
		t.Fatal(err)
	}
	if s2.Running().Exists(P("vpn-instances", "vpn-instance", K("blue"))) || !s2.Running().Exists(P("vpn-instances", "vpn-instance", K("red"))) {
		t.Fatalf("rollback to %d: %v", ids[0], s2.Running().Items())
	}
	// Creation order survives the round trip.
	if it := s2.Running().Item(P("vpn-instances", "vpn-instance", K("red"))); it == nil || it.Seq != trees[0].Item(P("vpn-instances", "vpn-instance", K("red"))).Seq {
		t.Fatal("creation order lost")
	}
	// And to the label of the earlier run.
	if _, err := s2.RollbackLabel(ctx, "l-blue", "carol"); err != nil || !s2.Running().Equal(trees[1]) {
		t.Fatalf("rollback to label: %v %v", err, s2.Running().Items())
	}

	// A damaged record breaks the chain: the older ones are left out and
	// reported, the newer ones load.
	if err := os.WriteFile(j.file(ids[1]), []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	restored, err = j.Load()
	if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "1 commit records are left out") || len(restored.Records) != 4 || restored.Records[0].ID != ids[1]+1 {
		t.Fatalf("damaged record: %d records, err %v", len(restored.Records), err)
	}
}

// A daemon stopped between writing a record and the tip: the tip is carried
// forward by the newer records.
func TestJournalTipBehindTheRecords(t *testing.T) {
	ctx := context.Background()
	j := FileJournal{Dir: t.TempDir()}
	s := newStore(t)
	s.SetJournal(j)
	c := s.NewCandidate()
	c.Tree().Set(P("system", "sysname"), "ONE")
	if _, err := c.Commit(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	oldTip, err := os.ReadFile(j.tipFile())
	if err != nil {
		t.Fatal(err)
	}
	c.Tree().Set(P("system", "sysname"), "TWO")
	if _, err := c.Commit(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j.tipFile(), oldTip, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := j.Load()
	if err != nil || len(r.Records) != 2 || !r.Tip.Equal(s.Running()) {
		t.Fatalf("tip not carried forward: %v %v", err, r.Tip.Items())
	}
}

// Records written by earlier versions held the trees around each commit:
// they load as changes, chained across a restart.
func TestJournalReadsTreeRecords(t *testing.T) {
	dir := t.TempDir()
	j := FileJournal{Dir: dir}
	run1 := NewTree()
	run1.Set(P("system", "sysname"), "A")
	run2 := NewTree()
	run2.Set(P("system", "sysname"), "B")
	write := func(id int, before, after *Tree) {
		b, err := json.Marshal(recordJSON{ID: id, User: "u", Time: time.Unix(int64(id), 0), Before: before, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "commit-"+itoa(id)+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(1, NewTree(), run1)
	write(2, NewTree(), run2) // the next run's startup commit
	r, err := j.Load()
	if err != nil || len(r.Records) != 2 || !r.Tip.Equal(run2) {
		t.Fatalf("%v %d %v", err, len(r.Records), r.Tip.Items())
	}
	s := newStore(t)
	s.RestoreLog(r)
	before, _, err := s.TreesAround(2)
	if err != nil || !before.Equal(run1) {
		t.Fatalf("commit 2 did not chain from commit 1: %v %v", before.Items(), err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestJournalKeepsAtMostMaxLog(t *testing.T) {
	j := FileJournal{Dir: t.TempDir()}
	tip := NewTree()
	for id := 1; id <= MaxLog+5; id++ {
		if err := j.Append(Record{ID: id, User: "u"}, tip); err != nil {
			t.Fatal(err)
		}
	}
	r, err := j.Load()
	if err != nil {
		t.Fatal(err)
	}
	recs := r.Records
	if len(recs) != MaxLog || recs[0].ID != 6 || recs[len(recs)-1].ID != MaxLog+5 {
		t.Fatalf("kept %d records from %d", len(recs), recs[0].ID)
	}
}

// TestCommitOnAFullDisk: a commit whose record the journal cannot keep
// (a file system that is full) still takes effect, and says so: the
// result carries the error, and Store.RecordError answers it for the
// commit id (the front ends warn with it). The record stays in memory:
// rollback works until the daemon restarts. On a real tmpfs of a few
// pages when the test runs as root.
func TestCommitOnAFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16k"); err != nil {
			t.Fatalf("mount a small tmpfs: %v", err)
		}
		t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	}
	// Fill what is left, so that the next record does not fit.
	fill, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	full := false
	if os.Geteuid() == 0 {
		for i := 0; i < 1<<10; i++ {
			if _, err := fill.Write(make([]byte, 1024)); err != nil {
				full = true
				break
			}
		}
	}
	fill.Close()
	var j Journal = FileJournal{Dir: dir}
	if !full {
		// Not root: the same error, injected.
		j = failingJournal{syscall.ENOSPC}
	}
	s := newStore(t)
	s.SetJournal(j)
	c := s.NewCandidate()
	c.Tree().SetPresence(P("vpn-instances", "vpn-instance", K("red")))
	res, err := c.CommitWith(ctx, CommitOptions{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.RecordErr, syscall.ENOSPC) || !errors.Is(s.RecordError(res.ID), syscall.ENOSPC) {
		t.Fatalf("record error %v / %v", res.RecordErr, s.RecordError(res.ID))
	}
	if !s.Running().Exists(P("vpn-instances", "vpn-instance", K("red"))) || len(s.Commits()) != 1 {
		t.Fatal("the commit did not take effect")
	}
	if _, err := s.RollbackLast(ctx, 1, "alice"); err != nil {
		t.Fatalf("rollback from the record in memory: %v", err)
	}
	// Space again: the next record is kept, and nothing is reported.
	os.Remove(filepath.Join(dir, "fill"))
	if !full {
		s.SetJournal(FileJournal{Dir: dir})
	}
	c = s.NewCandidate()
	c.Tree().SetPresence(P("vpn-instances", "vpn-instance", K("blue")))
	res, err = c.CommitWith(ctx, CommitOptions{User: "alice"})
	if err != nil || res.RecordErr != nil || s.RecordError(res.ID) != nil {
		t.Fatalf("after freeing space: %v %v", err, res.RecordErr)
	}
}

type failingJournal struct{ err error }

func (f failingJournal) Append(Record, *Tree) error {
	return fmt.Errorf("commit journal: write: %w", f.err)
}

func (f failingJournal) Update(Record) error { return fmt.Errorf("commit journal: write: %w", f.err) }

// A label is kept across restarts when it is set after the commit.
func TestJournalKeepsLabelsSetLater(t *testing.T) {
	ctx := context.Background()
	j := FileJournal{Dir: t.TempDir()}
	s := newStore(t)
	s.SetJournal(j)
	c := s.NewCandidate()
	c.Tree().Set(P("system", "sysname"), "ONE")
	id, err := c.Commit(ctx, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetLabel(id, "before-change"); err != nil {
		t.Fatal(err)
	}
	r, err := j.Load()
	if err != nil || r.Records[0].Label != "before-change" {
		t.Fatalf("%v %+v", err, r.Records)
	}
	if err := s.SetLabel(id+1, "x"); !errors.Is(err, ErrNoCommit) {
		t.Fatalf("label of an unknown commit: %v", err)
	}
}
