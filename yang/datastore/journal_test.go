package datastore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestJournalKeepsTheCommitLogAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	j := FileJournal{Dir: dir}

	s := newStore(t)
	s.SetJournal(j)
	var ids []int
	for i, name := range []string{"red", "blue"} {
		c := s.NewCandidate()
		c.Tree().SetPresence(P("vpn-instances", "vpn-instance", K(name)))
		id, err := c.Commit(ctx, []string{"alice", "bob"}[i], "add "+name)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	afterBoth := s.Running()

	// A new daemon: an empty store, the log restored, then the startup
	// configuration committed.
	s2 := newStore(t)
	s2.SetJournal(j)
	recs, err := j.Load()
	if err != nil {
		t.Fatal(err)
	}
	s2.RestoreLog(recs)
	c := s2.NewCandidate()
	c.Replace(afterBoth.Clone())
	startID, err := c.Commit(ctx, "startup", "")
	if err != nil {
		t.Fatal(err)
	}
	if startID != ids[1]+1 {
		t.Fatalf("numbering did not continue: %d after %v", startID, ids)
	}
	log := s2.Commits()
	if len(log) != 3 || log[1].ID != ids[1] || log[1].User != "bob" || log[1].Description != "add blue" || log[2].User != "alice" {
		t.Fatalf("restored log: %+v", log)
	}
	if !log[1].After.Equal(afterBoth) || log[2].Before.Len() != 0 {
		t.Fatal("restored trees differ")
	}
	// Rolling back to a commit of the earlier run works.
	if _, err := s2.Rollback(ctx, ids[1], "carol"); err != nil {
		t.Fatal(err)
	}
	if s2.Running().Exists(P("vpn-instances", "vpn-instance", K("blue"))) || !s2.Running().Exists(P("vpn-instances", "vpn-instance", K("red"))) {
		t.Fatalf("rollback to %d: %v", ids[1], s2.Running().Items())
	}
	// Creation order survives the round trip: new entries sort after old.
	if it := s2.Running().Item(P("vpn-instances", "vpn-instance", K("red"))); it == nil || it.Seq == 0 {
		t.Fatal("creation order lost")
	}

	// A damaged record is skipped and reported; the others load.
	if err := os.WriteFile(filepath.Join(dir, "commit-1.json"), []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err = j.Load()
	if err == nil || !strings.Contains(err.Error(), "damaged") || len(recs) != 4 {
		t.Fatalf("damaged record: %d records, err %v", len(recs), err)
	}
}

func TestJournalKeepsAtMostMaxLog(t *testing.T) {
	j := FileJournal{Dir: t.TempDir()}
	for id := 1; id <= MaxLog+5; id++ {
		if err := j.Append(Record{ID: id, User: "u", Before: NewTree(), After: NewTree()}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := j.Load()
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := s.Rollback(ctx, res.ID, "alice"); err != nil {
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

func (f failingJournal) Append(Record) error { return fmt.Errorf("commit journal: write: %w", f.err) }
