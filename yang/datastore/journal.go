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
	// Append records a commit; tip is running after it. It is called after
	// the commit took effect, so an error only loses the record.
	Append(r Record, tip *Tree) error
	// Update rewrites a kept record (its label changed).
	Update(r Record) error
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

// Restored is a commit log kept by a journal: the records, oldest first,
// and the configuration the newest one left (the log's tip).
type Restored struct {
	Records []Record
	Tip     *Tree
}

// RestoreLog installs a log kept from an earlier run; new commits continue
// its numbering, and the first one is recorded as the difference from the
// restored tip. Running is not touched: the startup configuration is
// loaded separately.
func (s *Store) RestoreLog(r Restored) {
	recs := append([]Record(nil), r.Records...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	if len(recs) > MaxLog {
		recs = recs[len(recs)-MaxLog:]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) > 0 {
		// Commits of this run already chain from running: the restored
		// records cannot precede them.
		return
	}
	s.log = recs
	if r.Tip != nil {
		s.tip = r.Tip
	}
	for _, rec := range recs {
		if rec.ID >= s.nextID {
			s.nextID = rec.ID + 1
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

// recordJSON is the stored form of a Record. Before and After are the
// trees earlier versions kept instead of Changes; they are read, not
// written.
type recordJSON struct {
	ID          int          `json:"id"`
	User        string       `json:"user"`
	Time        time.Time    `json:"time"`
	Description string       `json:"description,omitempty"`
	Label       string       `json:"label,omitempty"`
	Interface   string       `json:"interface,omitempty"`
	Terminal    string       `json:"terminal,omitempty"`
	NextBefore  uint64       `json:"next_before"`
	NextAfter   uint64       `json:"next_after"`
	Changes     []changeJSON `json:"changes"`
	Before      *Tree        `json:"before,omitempty"`
	After       *Tree        `json:"after,omitempty"`
}

// changeJSON has nodeChange's fields, in its order.
type changeJSON struct {
	Path   Path   `json:"path"`
	Had    bool   `json:"had,omitempty"`
	Has    bool   `json:"has,omitempty"`
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
	OldSeq uint64 `json:"old_seq,omitempty"`
	NewSeq uint64 `json:"new_seq,omitempty"`
}

func toJSON(r Record) recordJSON {
	rj := recordJSON{ID: r.ID, User: r.User, Time: r.Time, Description: r.Description, Label: r.Label, Interface: r.Interface,
		Terminal: r.Terminal, NextBefore: r.changes.nextBefore, NextAfter: r.changes.nextAt, Changes: make([]changeJSON, len(r.changes.nodes))}
	for i, n := range r.changes.nodes {
		rj.Changes[i] = changeJSON(n)
	}
	return rj
}

func (rj *recordJSON) record() Record {
	r := Record{ID: rj.ID, User: rj.User, Time: rj.Time, Description: rj.Description, Label: rj.Label, Interface: rj.Interface,
		Terminal: rj.Terminal, changes: changeSet{nextBefore: rj.NextBefore, nextAt: rj.NextAfter}}
	for _, c := range rj.Changes {
		r.changes.nodes = append(r.changes.nodes, nodeChange(c))
	}
	return r
}

// tipJSON is the stored tip: the configuration after commit ID.
type tipJSON struct {
	ID   int   `json:"id"`
	Tree *Tree `json:"tree"`
}

// FileJournal keeps one file per commit in Dir (what it changed), at most
// MaxLog of them, and the configuration after the newest one (tip.json),
// from which the older configurations are computed.
type FileJournal struct {
	Dir string
}

func (j FileJournal) file(id int) string {
	return filepath.Join(j.Dir, fmt.Sprintf("commit-%d.json", id))
}

func (j FileJournal) tipFile() string { return filepath.Join(j.Dir, "tip.json") }

// writeAtomic writes b to path through a temporary file renamed into place.
func (j FileJournal) writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(j.Dir, 0o755); err != nil {
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
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("commit journal: %w", err)
	}
	return nil
}

// Append writes the record, then the new tip, and removes records that
// fell out of the log.
func (j FileJournal) Append(r Record, tip *Tree) error {
	if err := j.Update(r); err != nil {
		return err
	}
	b, err := json.Marshal(tipJSON{ID: r.ID, Tree: tip})
	if err != nil {
		return fmt.Errorf("commit journal: %w", err)
	}
	if err := j.writeAtomic(j.tipFile(), b); err != nil {
		return err
	}
	ids, _ := j.ids()
	for len(ids) > MaxLog {
		os.Remove(j.file(ids[0]))
		ids = ids[1:]
	}
	return nil
}

// Update writes the record (replacing a kept one).
func (j FileJournal) Update(r Record) error {
	b, err := json.Marshal(toJSON(r))
	if err != nil {
		return fmt.Errorf("commit journal: %w", err)
	}
	return j.writeAtomic(j.file(r.ID), b)
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

// Load reads the kept log. The records returned are the unbroken run of
// commits that ends at the tip (a record that cannot be read breaks it:
// the older ones are reported in the error and left out, since their
// configurations can no longer be computed). Records written by earlier
// versions (whole trees) are turned into changes.
func (j FileJournal) Load() (Restored, error) {
	ids, err := j.ids()
	if errors.Is(err, os.ErrNotExist) {
		return Restored{}, nil
	}
	if err != nil {
		return Restored{}, fmt.Errorf("commit journal: %w", err)
	}
	var errs []error
	type loaded struct {
		rec           Record
		before, after *Tree
		old           bool
	}
	var recs []loaded
	for _, id := range ids {
		b, err := os.ReadFile(j.file(id))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var rj recordJSON
		if err := json.Unmarshal(b, &rj); err != nil || rj.ID != id || (rj.Changes == nil && (rj.Before == nil || rj.After == nil)) {
			errs = append(errs, fmt.Errorf("commit record %s is damaged", j.file(id)))
			continue
		}
		recs = append(recs, loaded{rec: rj.record(), before: rj.Before, after: rj.After, old: rj.Changes == nil})
	}
	// Records of earlier versions: each one's changes from the one before
	// it (across a restart, from the earlier run's last configuration).
	var prevAfter *Tree
	prevID := 0
	for i := range recs {
		l := &recs[i]
		if l.old {
			from := l.before
			if prevAfter != nil && prevID == l.rec.ID-1 {
				from = prevAfter
			}
			l.rec.changes = itemDiff(from, l.after)
			prevAfter, prevID = l.after, l.rec.ID
		} else {
			prevAfter = nil
		}
	}
	var tip *Tree
	tipID := 0
	if b, err := os.ReadFile(j.tipFile()); err == nil {
		var tj tipJSON
		if err := json.Unmarshal(b, &tj); err != nil || tj.Tree == nil {
			errs = append(errs, fmt.Errorf("the configuration kept in %s is damaged", j.tipFile()))
		} else {
			tip, tipID = tj.Tree, tj.ID
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if tip == nil && len(recs) > 0 && recs[len(recs)-1].old {
		last := recs[len(recs)-1]
		tip, tipID = last.after, last.rec.ID
	}
	if tip == nil {
		if len(recs) > 0 {
			errs = append(errs, fmt.Errorf("%d commit records are left out: the configuration they lead to is not kept", len(recs)))
		}
		return Restored{}, joinErrs(errs)
	}
	// A tip older than the newest records (the daemon stopped between
	// writing a record and the tip): carry it forward.
	for _, l := range recs {
		if l.rec.ID == tipID+1 {
			l.rec.changes.redo(tip)
			tipID++
		}
	}
	// The unbroken run of records that ends at the tip.
	n := len(recs)
	start := n
	for start > 0 && recs[start-1].rec.ID == tipID-(n-start) {
		start--
	}
	if start > 0 {
		errs = append(errs, fmt.Errorf("%d commit records are left out: a later record is missing", start))
	}
	out := Restored{Tip: tip}
	for _, l := range recs[start:] {
		out.Records = append(out.Records, l.rec)
	}
	return out, joinErrs(errs)
}

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("commit journal: %w", errors.Join(errs...))
}
