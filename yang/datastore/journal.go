package datastore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Journal keeps the commit log across restarts of the daemon.
type Journal interface {
	// Append records a commit; it is called after the commit took effect,
	// so an error only loses the record.
	Append(r Record) error
}

// RecordError tells whether the journal failed to keep the record of
// commit id (a full disk): the commit took effect and its rollback point is
// in memory, but it does not survive a restart of the daemon. The front
// ends warn with it after a commit or a rollback.
func (s *Store) RecordError(id int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recErrs[id]
}

// noteRecordError remembers a record the journal did not keep (the last
// MaxLog of them).
func (s *Store) noteRecordError(id int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recErrs == nil {
		s.recErrs = map[int]error{}
	}
	s.recErrs[id] = err
	for k := range s.recErrs {
		if k <= id-MaxLog {
			delete(s.recErrs, k)
		}
	}
}

// SetJournal makes the store hand every commit record to j.
func (s *Store) SetJournal(j Journal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.journal = j
}

// RestoreLog installs records kept from an earlier run as the commit log
// (oldest first after sorting); new commits continue their numbering.
// Running is not touched: the startup configuration is loaded separately.
func (s *Store) RestoreLog(records []Record) {
	recs := append([]Record(nil), records...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	if len(recs) > MaxLog {
		recs = recs[len(recs)-MaxLog:]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(recs, s.log...)
	for _, r := range recs {
		if r.ID >= s.nextID {
			s.nextID = r.ID + 1
		}
	}
}

// treeJSON is the stored form of a Tree.
type treeJSON struct {
	Next  uint64     `json:"next"`
	Items []itemJSON `json:"items"`
}

type itemJSON struct {
	Path  Path   `json:"path"`
	Value string `json:"value,omitempty"`
	Seq   uint64 `json:"seq"`
}

// MarshalJSON stores the tree with its creation order.
func (t *Tree) MarshalJSON() ([]byte, error) {
	tj := treeJSON{Next: t.next, Items: make([]itemJSON, 0, len(t.items))}
	for _, it := range t.Items() {
		tj.Items = append(tj.Items, itemJSON{Path: it.Path, Value: it.Value, Seq: it.Seq})
	}
	return json.Marshal(tj)
}

// UnmarshalJSON restores a tree stored by MarshalJSON.
func (t *Tree) UnmarshalJSON(b []byte) error {
	var tj treeJSON
	if err := json.Unmarshal(b, &tj); err != nil {
		return err
	}
	t.items = make(map[string]*Item, len(tj.Items))
	t.next = tj.Next
	for _, it := range tj.Items {
		if len(it.Path) == 0 {
			return errors.New("tree item without a path")
		}
		t.items[it.Path.String()] = &Item{Path: it.Path, Value: it.Value, Seq: it.Seq}
		if it.Seq > t.next {
			t.next = it.Seq
		}
	}
	return nil
}

// recordJSON is the stored form of a Record.
type recordJSON struct {
	ID          int       `json:"id"`
	User        string    `json:"user"`
	Time        time.Time `json:"time"`
	Description string    `json:"description,omitempty"`
	Interface   string    `json:"interface,omitempty"`
	Before      *Tree     `json:"before"`
	After       *Tree     `json:"after"`
}

// FileJournal keeps one file per commit in Dir, and at most MaxLog of them.
type FileJournal struct {
	Dir string
}

func (j FileJournal) file(id int) string {
	return filepath.Join(j.Dir, fmt.Sprintf("commit-%d.json", id))
}

// Append writes the record atomically (a temporary file renamed into place)
// and removes records that fell out of the log.
func (j FileJournal) Append(r Record) error {
	if err := os.MkdirAll(j.Dir, 0o755); err != nil {
		return fmt.Errorf("commit journal: %w", err)
	}
	b, err := json.Marshal(recordJSON{ID: r.ID, User: r.User, Time: r.Time, Description: r.Description, Interface: r.Interface, Before: r.Before, After: r.After})
	if err != nil {
		return fmt.Errorf("commit journal: %w", err)
	}
	tmp, err := os.CreateTemp(j.Dir, ".commit-*")
	if err != nil {
		return fmt.Errorf("commit journal: %w", err)
	}
	_, werr := tmp.Write(b)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("commit journal: %w", err)
	}
	if err := os.Rename(tmp.Name(), j.file(r.ID)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("commit journal: %w", err)
	}
	ids, _ := j.ids()
	for len(ids) > MaxLog {
		os.Remove(j.file(ids[0]))
		ids = ids[1:]
	}
	return nil
}

func (j FileJournal) ids() ([]int, error) {
	entries, err := os.ReadDir(j.Dir)
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "commit-") || !strings.HasSuffix(name, ".json") {
			continue
		}
		if id, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "commit-"), ".json")); err == nil {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

// Load reads the kept records, oldest first. A record that cannot be read
// is skipped and reported in the error, the others are returned.
func (j FileJournal) Load() ([]Record, error) {
	ids, err := j.ids()
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("commit journal: %w", err)
	}
	var out []Record
	var errs []error
	for _, id := range ids {
		b, err := os.ReadFile(j.file(id))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var rj recordJSON
		if err := json.Unmarshal(b, &rj); err != nil || rj.ID != id || rj.Before == nil || rj.After == nil {
			errs = append(errs, fmt.Errorf("commit record %s is damaged", j.file(id)))
			continue
		}
		out = append(out, Record{ID: rj.ID, User: rj.User, Time: rj.Time, Description: rj.Description, Interface: rj.Interface, Before: rj.Before, After: rj.After})
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("commit journal: %w", errors.Join(errs...))
	}
	return out, nil
}
