package datastore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
