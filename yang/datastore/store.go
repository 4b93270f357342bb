package datastore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vpnos/yang/schema"
)

// Record is one entry of the commit log.
type Record struct {
	ID          int
	User        string
	Time        time.Time
	Description string
	// Label is the user's name for the commit (VRP's `commit label`, `set
	// configuration commit ID label`); "" when none.
	Label string
	// Interface is the front end of the commit ("netconf"; "" for the CLI).
	Interface string
	// Terminal is the user's line, as VRP's User-Intf shows it ("VTY 0",
	// "CON 0", "NETCONF 3"); "" when not known.
	Terminal string
	// changes is what the commit did: with the running tree, it gives
	// every configuration the log holds (see TreeAt).
	changes changeSet
	// version is running's version after the commit (0 for records of an
	// earlier run).
	version int
}

// FirstCommitID is the id of the first commit (VRP numbers from 1000000001).
const FirstCommitID = 1000000001

// MaxLog is how many commits the log keeps.
const MaxLog = 100

// Store is the datastore: running, the commit log, the participants that
// own the configuration, and a pending commit trial.
type Store struct {
	Schema *schema.Schema
	Log    *slog.Logger
	// Now gives the time of commits and trial deadlines; AfterFunc runs f
	// after d and returns what stops it (the trial timer). Tests replace
	// both before the first commit.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) (stop func() bool)

	// commitMu serializes commits, rollbacks and the trial's state.
	commitMu sync.Mutex
	trial    *trial // guarded by commitMu and mu

	mu      sync.Mutex
	running *Tree
	// tip is the tree the commit log ends at: running once this run
	// committed; after a restart, the last configuration of the earlier
	// run until the first commit (whose record is the difference from it).
	tip        *Tree
	version    int
	log        []Record
	nextID     int
	regs       []registration
	ownerCache map[string]int
	journal    Journal
	locks      lockTable
	// recErrs are the commits whose record the journal did not keep.
	recErrs map[int]error
}

// New makes an empty store on schema s. Nobody owns anything yet: every
// change is refused until participants register (see Register).
func New(s *schema.Schema, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{Schema: s, Log: log, Now: time.Now, AfterFunc: realAfterFunc, running: NewTree(), nextID: FirstCommitID}
}

func realAfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// Running returns the running tree; it must not be modified.
func (s *Store) Running() *Tree {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

func (s *Store) snapshot() (*Tree, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running, s.version
}

// Commits returns the commit log, newest first.
func (s *Store) Commits() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, len(s.log))
	for i, r := range s.log {
		out[len(s.log)-1-i] = r
	}
	return out
}

// Candidate is one session's private copy of the configuration. It records
// the running version it is based on; when running moves on (another
// session committed), the candidate is rebased: its own changes are
// replayed on the new running tree, so they win over the other session's
// changes to the same nodes (last committer wins, per leaf).
type Candidate struct {
	store   *Store
	base    *Tree
	version int
	tree    *Tree
	gen     int
	// origin, dirty and ref serve the locks (lock.go).
	origin Origin
	// since is running as it was when the candidate's changes began (its
	// base while it held none); conflicts are the nodes other sessions'
	// commits changed that it changed too (conflict.go).
	since     *Tree
	conflicts []Conflict
	dirty     atomic.Bool
	ref       *candidateRef
}

// Gen changes whenever the candidate is replaced, rebased or discarded
// (not on edits of Tree() in place); callers use it to cache results.
func (c *Candidate) Gen() int { return c.gen }

// NewCandidate starts a candidate on the current running tree.
func (s *Store) NewCandidate() *Candidate {
	r, v := s.snapshot()
	c := &Candidate{store: s, base: r, version: v, tree: r.Clone(), since: r}
	s.locks.track(c)
	return c
}

// Sync rebases the candidate if running changed since it was taken: its
// own changes are replayed on the new running tree, and the nodes another
// session's commit changed too are remembered as conflicts (see
// Conflicts).
func (c *Candidate) Sync() {
	r, v := c.store.snapshot()
	if v == c.version {
		return
	}
	ops := Diff(c.base, c.tree)
	if len(ops) == 0 {
		c.since = r
	} else {
		for _, p := range findConflicts(ops, Diff(c.base, r)) {
			id, user := c.store.whoChanged(p, c.version)
			c.addConflict(Conflict{Path: p, ID: id, User: user})
		}
	}
	t := r.Clone()
	t.Apply(ops)
	c.base, c.version, c.tree = r, v, t
	c.gen++
}

// Tree is the candidate tree (modifiable through the candidate only).
func (c *Candidate) Tree() *Tree { return c.tree }

// Base is the running tree the candidate is based on.
func (c *Candidate) Base() *Tree { return c.base }

// Replace sets the whole candidate tree (used to undo a refused line).
func (c *Candidate) Replace(t *Tree) { c.tree = t; c.gen++ }

// Dirty reports whether the candidate differs from its base.
// The answer is kept for the candidate lock (see Store.Lock).
func (c *Candidate) Dirty() bool {
	d := !c.tree.Equal(c.base)
	c.dirty.Store(d)
	return d
}

// Changes lists the candidate's differences from running.
func (c *Candidate) Changes() []Op { return Diff(c.base, c.tree) }

// Discard drops every uncommitted change.
func (c *Candidate) Discard() {
	r, v := c.store.snapshot()
	c.base, c.version, c.tree = r, v, r.Clone()
	c.since, c.conflicts = r, nil
	c.gen++
	c.dirty.Store(false)
}

// ValidationError lists every problem found in a candidate.
type ValidationError struct{ Errs []error }

func (e *ValidationError) Error() string {
	var s []string
	for _, x := range e.Errs {
		s = append(s, x.Error())
	}
	return strings.Join(s, "; ")
}

// Validate checks t, the configuration that would replace old (nil: an
// empty tree): the schema
// (types, ranges, patterns, keys, leafrefs, mandatory leaves), the
// ownership of every node the change creates or modifies, and the rules of
// every participant. It returns every problem, sorted by text.
func (s *Store) Validate(old, t *Tree) []error {
	return s.validate(&Change{Old: old, New: t})
}

// ValidateEdit is Validate for one edit of a candidate: prev is the
// candidate before the edit, t after it, old is running. Participants'
// rules about transitions hold from prev as from old.
func (s *Store) ValidateEdit(old, prev, t *Tree) []error {
	return s.validate(&Change{Old: old, Prev: prev, New: t})
}

// validate checks c.New; c.Paths is ignored (each participant gets its own).
// A nil Old is an empty tree.
func (s *Store) validate(c *Change) []error {
	if c.Old == nil {
		c.Old = NewTree()
	}
	errs := validateSchema(s.Schema, c.New)
	regs, owner := s.owners()
	ops := Diff(c.Old, c.New)
	for _, e := range ownershipErrors(regs, owner, ops) {
		errs = append(errs, e)
	}
	mine := pathsByOwner(regs, owner, ChangedPaths(c.Old, ops))
	for i, r := range regs {
		if r.p == nil {
			continue
		}
		pc := *c
		pc.Paths = mine[i]
		for _, e := range r.p.Validate(&pc) {
			errs = append(errs, e)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// pathsByOwner groups changed paths by the index of their owner.
func pathsByOwner(regs []registration, owner func(string) int, paths []Path) map[int][]Path {
	out := map[int][]Path{}
	for _, p := range paths {
		if i := owner(p.SchemaString()); i >= 0 && regs[i].p != nil {
			out[i] = append(out[i], p)
		}
	}
	return out
}

// ErrNoChange is returned by Commit when the candidate holds no change.
var ErrNoChange = errors.New("no configuration change")

// Commit validates the candidate and hands the changes to the participants;
// on success it becomes running and gets a commit id. On any failure
// running is unchanged and the candidate keeps its changes. A commit also
// confirms a pending commit trial, even when it holds no change (it then
// returns ErrNoChange); see CommitWith to learn whether it did.
func (c *Candidate) Commit(ctx context.Context, user, description string) (int, error) {
	r, err := c.CommitWith(ctx, CommitOptions{User: user, Description: description})
	return r.ID, err
}

// commitTree commits next (a candidate tree based on running version
// version, whose base was base) under commitMu. The locks other sessions
// hold refuse it unless ctx carries their origin (or WithoutLocks).
func (s *Store) commitTree(ctx context.Context, base *Tree, version int, next *Tree, o CommitOptions, rollback bool) (int, *Tree, error) {
	user := o.User
	if err := s.CheckLocks(ctx); err != nil {
		return 0, s.Running(), err
	}
	old, v := s.snapshot()
	if version != v {
		// Another session committed since the candidate was rebased.
		t := old.Clone()
		t.Apply(Diff(base, next))
		next = t
	} else {
		next = next.Clone()
	}
	if next.next < old.next {
		// A rollback target is an older tree: keep creation order moving on.
		next.next = old.next
	}
	if errs := s.validate(&Change{User: user, Old: old, New: next, Rollback: rollback}); len(errs) > 0 {
		return 0, old, &ValidationError{Errs: errs}
	}
	ops := Diff(old, next)
	if len(ops) == 0 {
		return 0, old, ErrNoChange
	}
	regs, owner := s.owners()
	mine := pathsByOwner(regs, owner, ChangedPaths(old, ops))
	s.mu.Lock()
	id := s.nextID
	var lerr error
	if o.Label != "" {
		lerr = s.checkNewLabelLocked(0, o.Label)
	}
	s.mu.Unlock()
	if lerr != nil {
		return 0, old, lerr
	}
	type called struct {
		p Participant
		c *Change
	}
	var prepared []called
	for i, reg := range regs {
		if len(mine[i]) == 0 {
			continue
		}
		ch := &Change{ID: id, User: user, Old: old, New: next, Paths: mine[i], Rollback: rollback}
		if err := reg.p.Prepare(ctx, ch); err != nil {
			for j := len(prepared) - 1; j >= 0; j-- {
				prepared[j].p.Abort(ctx, prepared[j].c)
			}
			s.Log.Warn("commit refused by a service", "user", user, "err", err)
			return 0, old, fmt.Errorf("commit refused: %w", err)
		}
		prepared = append(prepared, called{reg.p, ch})
	}
	for _, pc := range prepared {
		pc.p.Apply(ctx, pc.c)
	}
	origin := OriginFrom(ctx)
	// The tip only moves under commitMu, which the caller holds.
	s.mu.Lock()
	tip := s.tipLocked()
	s.mu.Unlock()
	rec := Record{ID: id, User: user, Time: s.Now(), Description: o.Description, Label: o.Label,
		Interface: origin.Interface, Terminal: origin.Terminal, changes: itemDiff(tip, next)}
	s.mu.Lock()
	s.running = next
	s.tip = next
	s.version++
	rec.version = s.version
	s.nextID++
	s.log = append(s.log, rec)
	if len(s.log) > MaxLog {
		s.log = append([]Record(nil), s.log[len(s.log)-MaxLog:]...)
	}
	journal := s.journal
	s.mu.Unlock()
	if journal != nil {
		if err := journal.Append(rec, next); err != nil {
			s.Log.Warn("commit record not kept", "id", id, "err", err)
			s.noteRecordError(id, err)
		}
	}
	s.Log.Info("configuration committed", "id", id, "user", user, "changes", len(ops))
	return id, old, nil
}

// LoadRunning replaces running without participants or log (tests, or a
// start-up that feeds participants separately). Prefer committing.
func (s *Store) LoadRunning(t *Tree) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = t.Clone()
	s.version++
}
