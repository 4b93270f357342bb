package datastore

import (
	"os"
	"path/filepath"
)

// RemoveTemps removes the temporary files (.commit-*) of records whose
// writing was cut short before their rename (the daemon killed mid-commit):
// nothing refers to them, and they would stay forever. It returns the files
// removed. Call it before the journal is used (one daemon per state
// directory, so no write is under way).
func (j FileJournal) RemoveTemps() []string {
	temps, _ := filepath.Glob(filepath.Join(j.Dir, ".commit-*"))
	var removed []string
	for _, t := range temps {
		if err := os.Remove(t); err == nil {
			removed = append(removed, t)
		}
	}
	return removed
}
