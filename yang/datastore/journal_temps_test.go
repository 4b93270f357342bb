package datastore

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestJournalRemoveTemps: the temporary file of a record write killed
// before its rename is removed; the records stay.
func TestJournalRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	j := FileJournal{Dir: dir}
	rec := filepath.Join(dir, "commit-1000000001.json")
	tmp := filepath.Join(dir, ".commit-123456")
	for _, f := range []string{rec, tmp} {
		if err := os.WriteFile(f, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := j.RemoveTemps(); !slices.Equal(got, []string{tmp}) {
		t.Fatalf("removed %v, want %v", got, []string{tmp})
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the temporary file is still there: %v", err)
	}
	if _, err := os.Stat(rec); err != nil {
		t.Fatalf("the record went too: %v", err)
	}
	if got := (FileJournal{Dir: filepath.Join(dir, "none")}).RemoveTemps(); len(got) != 0 {
		t.Fatalf("removed %v from a folder that does not exist", got)
	}
}
