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

// Change is what a participant gets at commit time: the whole old and new
// running trees and the changed paths under the participant's prefixes.
type Change struct {
	ID    int
	User  string
	Old   *Tree
	New   *Tree
	Paths []Path
}

// Participant is a service that owns part of the configuration.
// Prepare may refuse (every participant is then aborted and nothing
// changes); Apply cannot fail; Abort undoes what Prepare reserved.
type Participant interface {
	Prepare(ctx context.Context, c *Change) error
	Apply(ctx context.Context, c *Change)
	Abort(ctx context.Context, c *Change)
}

// Rule is a semantic check on a whole candidate tree (old is the running
// tree it would replace). It returns one error per violation.
type Rule func(old, new *Tree) []error

// Record is one entry of the commit log.
type Record struct {
	ID          int
	User        string
	Time        time.Time
	Description string
	// Interface is the front end of the commit ("netconf"; "" for the CLI).
	Interface string
	// Before and After are the running trees around the commit.
	Before, After *Tree
}

// FirstCommitID is the id of the first commit (VRP numbers from 1000000001).
const FirstCommitID = 1000000001

// MaxLog is how many commits the log keeps.
const MaxLog = 100

// Store is the datastore: running, the commit log and the participants.
type Store struct {
	Schema *schema.Schema
	Log    *slog.Logger
	// Now gives the time of commits (tests set it).
	Now func() time.Time

	commitMu sync.Mutex
	mu       sync.Mutex
	running  *Tree
	version  int
	log      []Record
	nextID   int
	parts    []registration
	rules    []namedRule
	journal  Journal
	locks    lockTable
}

type registration struct {
	prefixes []string
	p        Participant
}

type namedRule struct {
	name string
	r    Rule
	// skipOnRollback: the rule guards edits, not states (a rollback may
	// legitimately jump across it).
	skipOnRollback bool
}

// New makes an empty store with the default semantic rules.
func New(s *schema.Schema, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := &Store{Schema: s, Log: log, Now: time.Now, running: NewTree(), nextID: FirstCommitID}
	st.rules = defaultRules(s)
	return st
}

// Register routes changes under the schema path prefixes (e.g.
// "/interfaces/interface/ipv4") to p. A participant is called once per
// commit that touches any of its prefixes, in registration order.
func (s *Store) Register(p Participant, prefixes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts = append(s.parts, registration{prefixes: prefixes, p: p})
}

// AddRule adds a semantic validation rule.
func (s *Store) AddRule(name string, r Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, namedRule{name: name, r: r})
}

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
	dirty  atomic.Bool
	ref    *candidateRef
}

// Gen changes whenever the candidate is replaced, rebased or discarded
// (not on edits of Tree() in place); callers use it to cache results.
func (c *Candidate) Gen() int { return c.gen }

// NewCandidate starts a candidate on the current running tree.
func (s *Store) NewCandidate() *Candidate {
	r, v := s.snapshot()
	c := &Candidate{store: s, base: r, version: v, tree: r.Clone()}
	s.locks.track(c)
	return c
}

// Sync rebases the candidate if running changed since it was taken.
func (c *Candidate) Sync() {
	r, v := c.store.snapshot()
	if v == c.version {
		return
	}
	ops := Diff(c.base, c.tree)
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

// Validate checks a tree against the schema and every semantic rule.
func (s *Store) Validate(old, t *Tree) []error { return s.validate(old, t, false) }

func (s *Store) validate(old, t *Tree, rollback bool) []error {
	errs := validateSchema(s.Schema, t)
	s.mu.Lock()
	rules := append([]namedRule(nil), s.rules...)
	s.mu.Unlock()
	for _, r := range rules {
		if rollback && r.skipOnRollback {
			continue
		}
		errs = append(errs, r.r(old, t)...)
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// ErrNoChange is returned by Commit when the candidate holds no change.
var ErrNoChange = errors.New("no configuration change")

// Commit validates the candidate and hands the changes to the participants;
// on success it becomes running and gets a commit id. On any failure
// running is unchanged and the candidate keeps its changes.
func (c *Candidate) Commit(ctx context.Context, user, description string) (int, error) {
	c.Sync()
	ops := c.Changes()
	if len(ops) == 0 {
		return 0, ErrNoChange
	}
	id, err := c.store.commit(ctx, c.base, c.version, c.tree, user, description, false)
	if err != nil {
		return 0, err
	}
	c.Discard()
	return id, nil
}

func (s *Store) commit(ctx context.Context, base *Tree, version int, next *Tree, user, desc string, rollback bool) (int, error) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := s.CheckLocks(ctx); err != nil {
		return 0, err
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
	if errs := s.validate(old, next, rollback); len(errs) > 0 {
		return 0, &ValidationError{Errs: errs}
	}
	ops := Diff(old, next)
	if len(ops) == 0 {
		return 0, ErrNoChange
	}
	paths := ChangedPaths(old, ops)
	s.mu.Lock()
	id := s.nextID
	parts := append([]registration(nil), s.parts...)
	s.mu.Unlock()
	type called struct {
		p Participant
		c *Change
	}
	var prepared []called
	for _, reg := range parts {
		var mine []Path
		for _, p := range paths {
			if matchPrefix(p.SchemaString(), reg.prefixes) {
				mine = append(mine, p)
			}
		}
		if len(mine) == 0 {
			continue
		}
		ch := &Change{ID: id, User: user, Old: old, New: next, Paths: mine}
		if err := reg.p.Prepare(ctx, ch); err != nil {
			for i := len(prepared) - 1; i >= 0; i-- {
				prepared[i].p.Abort(ctx, prepared[i].c)
			}
			s.Log.Warn("commit refused by a service", "user", user, "err", err)
			return 0, fmt.Errorf("commit refused: %w", err)
		}
		prepared = append(prepared, called{reg.p, ch})
	}
	for _, pc := range prepared {
		pc.p.Apply(ctx, pc.c)
	}
	s.mu.Lock()
	s.running = next
	s.version++
	s.nextID++
	rec := Record{ID: id, User: user, Time: s.Now(), Description: desc, Interface: OriginFrom(ctx).Interface, Before: old, After: next}
	s.log = append(s.log, rec)
	if len(s.log) > MaxLog {
		s.log = s.log[len(s.log)-MaxLog:]
	}
	journal := s.journal
	s.mu.Unlock()
	if journal != nil {
		if err := journal.Append(rec); err != nil {
			s.Log.Warn("commit record not kept", "id", id, "err", err)
		}
	}
	s.Log.Info("configuration committed", "id", id, "user", user, "changes", len(ops))
	return id, nil
}

func matchPrefix(schemaPath string, prefixes []string) bool {
	for _, pre := range prefixes {
		pre = strings.TrimSuffix(pre, "/")
		if pre == "" || schemaPath == pre || strings.HasPrefix(schemaPath, pre+"/") {
			return true
		}
	}
	return false
}

// Rollback restores running to what it was just before commit id was made
// (undoing that commit and every later one); it is itself a new commit.
func (s *Store) Rollback(ctx context.Context, id int, user string) (int, error) {
	s.mu.Lock()
	var target *Tree
	for _, r := range s.log {
		if r.ID == id {
			target = r.Before
		}
	}
	s.mu.Unlock()
	if target == nil {
		return 0, fmt.Errorf("the commit ID %d does not exist", id)
	}
	base, version := s.snapshot()
	return s.commit(ctx, base, version, target, user, fmt.Sprintf("rollback to %d", id), true)
}

// LoadRunning replaces running without participants or log (tests, or a
// start-up that feeds participants separately). Prefer committing.
func (s *Store) LoadRunning(t *Tree) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = t.Clone()
	s.version++
}
