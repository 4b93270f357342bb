package datastore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// The commit log keeps, for each commit, what it changed (every node with
// its state before and after), not the trees around it: the running tree
// is the log's newest state, and any state of the log is reached from it
// by undoing the newer commits. A hundred kept commits of a large
// configuration then cost what they changed, not a hundred copies of it.

// nodeChange is one node a commit changed: its state before (Had, Old,
// OldSeq) and after (Has, New, NewSeq). Undoing and redoing it restores
// values and creation order exactly.
type nodeChange struct {
	Path           Path
	Had, Has       bool
	Old, New       string
	OldSeq, NewSeq uint64
}

// changeSet is what one commit did to a tree: the changed nodes and the
// tree's creation counter before and after.
type changeSet struct {
	nodes              []nodeChange
	nextBefore, nextAt uint64
}

// itemDiff lists every node that differs between a and b (value or
// creation order), descendants of deleted nodes included.
func itemDiff(a, b *Tree) changeSet {
	cs := changeSet{nextBefore: a.next, nextAt: b.next}
	for k, it := range a.items {
		nt, ok := b.items[k]
		switch {
		case !ok:
			cs.nodes = append(cs.nodes, nodeChange{Path: it.Path, Had: true, Old: it.Value, OldSeq: it.Seq})
		case nt.Value != it.Value || nt.Seq != it.Seq:
			cs.nodes = append(cs.nodes, nodeChange{Path: it.Path, Had: true, Old: it.Value, OldSeq: it.Seq, Has: true, New: nt.Value, NewSeq: nt.Seq})
		}
	}
	for k, it := range b.items {
		if _, ok := a.items[k]; !ok {
			cs.nodes = append(cs.nodes, nodeChange{Path: it.Path, Has: true, New: it.Value, NewSeq: it.Seq})
		}
	}
	return cs
}

// undo turns t (the tree after the change) into the tree before it.
func (cs *changeSet) undo(t *Tree) {
	for _, n := range cs.nodes {
		k := n.Path.String()
		t.remove(k)
		if n.Had {
			t.put(k, &Item{Path: n.Path, Value: n.Old, Seq: n.OldSeq})
		}
	}
	t.next = cs.nextBefore
}

// redo turns t (the tree before the change) into the tree after it.
func (cs *changeSet) redo(t *Tree) {
	for _, n := range cs.nodes {
		k := n.Path.String()
		t.remove(k)
		if n.Has {
			t.put(k, &Item{Path: n.Path, Value: n.New, Seq: n.NewSeq})
		}
	}
	t.next = cs.nextAt
}

// Created reports whether the commit created the node at p.
func (r *Record) Created(p Path) bool {
	for _, n := range r.changes.nodes {
		if !n.Had && n.Has && n.Path.Equal(p) {
			return true
		}
	}
	return false
}

// Size is the number of nodes the commit changed.
func (r *Record) Size() int { return len(r.changes.nodes) }

// ErrNoCommit is returned for a commit id, label or count the log does
// not hold.
var ErrNoCommit = errors.New("no such commit")

// CommitError names a rollback point the log does not hold.
type CommitError struct {
	ID    int
	Label string
	Last  int
}

func (e *CommitError) Error() string {
	switch {
	case e.Label != "":
		return fmt.Sprintf("the label %s does not exist", e.Label)
	case e.Last > 0:
		return fmt.Sprintf("only %d commits can be rolled back", e.Last)
	}
	return fmt.Sprintf("the commit ID %d does not exist", e.ID)
}

func (e *CommitError) Unwrap() error { return ErrNoCommit }

// tipLocked is the tree the log ends at (running, once anything was
// committed in this run). Callers hold s.mu.
func (s *Store) tipLocked() *Tree {
	if s.tip != nil {
		return s.tip
	}
	return s.running
}

// indexLocked is the position of commit id in s.log, or -1.
func (s *Store) indexLocked(id int) int {
	for i, r := range s.log {
		if r.ID == id {
			return i
		}
	}
	return -1
}

// stateLocked returns the configuration as it was after the commit at
// log position i (i = -1: before the oldest kept commit). Callers hold
// s.mu.
func (s *Store) stateLocked(i int) *Tree {
	t := s.tipLocked().Clone()
	for j := len(s.log) - 1; j > i; j-- {
		s.log[j].changes.undo(t)
	}
	return t
}

// TreeAt returns the configuration as it was when commit id was made (the
// state right after it).
func (s *Store) TreeAt(id int) (*Tree, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.indexLocked(id)
	if i < 0 {
		return nil, &CommitError{ID: id}
	}
	return s.stateLocked(i), nil
}

// TreesAround returns the configuration just before and just after
// commit id.
func (s *Store) TreesAround(id int) (before, after *Tree, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.indexLocked(id)
	if i < 0 {
		return nil, nil, &CommitError{ID: id}
	}
	after = s.stateLocked(i)
	before = after.Clone()
	s.log[i].changes.undo(before)
	return before, after, nil
}

// TreeBefore returns the configuration just before commit id (for a
// comparison since that commit).
func (s *Store) TreeBefore(id int) (*Tree, error) {
	b, _, err := s.TreesAround(id)
	return b, err
}

// LogTip is the configuration the commit log ends at: running, except
// after a restart before anything was committed (the last configuration
// of the earlier run).
func (s *Store) LogTip() *Tree {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tipLocked()
}

// RollbackTo restores the configuration as it was when commit id was made
// (VRP's `rollback configuration to commit-id`): every later commit is
// undone, as one new commit. It returns that commit's id (ErrNoChange
// when running is already that configuration).
func (s *Store) RollbackTo(ctx context.Context, id int, user string) (int, error) {
	t, err := s.TreeAt(id)
	if err != nil {
		return 0, err
	}
	return s.RollbackTree(ctx, t, user, fmt.Sprintf("rollback to %d", id))
}

// RollbackLast undoes the last n commits (VRP's `rollback configuration
// last n`): the configuration becomes what it was before the n-th newest
// commit.
func (s *Store) RollbackLast(ctx context.Context, n int, user string) (int, error) {
	s.mu.Lock()
	if n < 1 || n > len(s.log) {
		s.mu.Unlock()
		return 0, &CommitError{Last: len(s.log)}
	}
	t := s.stateLocked(len(s.log) - 1 - n)
	s.mu.Unlock()
	return s.RollbackTree(ctx, t, user, fmt.Sprintf("rollback last %d", n))
}

// RollbackLabel restores the configuration of the commit labelled label.
func (s *Store) RollbackLabel(ctx context.Context, label, user string) (int, error) {
	id, ok := s.LabelID(label)
	if !ok {
		return 0, &CommitError{Label: label}
	}
	t, err := s.TreeAt(id)
	if err != nil {
		return 0, err
	}
	return s.RollbackTree(ctx, t, user, fmt.Sprintf("rollback to label %s", label))
}

// RollbackTree makes t the running configuration as a rollback commit
// (rules about edits, such as an RD not changed in place, do not hold for
// it): `rollback configuration to file` gives the configuration a file
// describes.
func (s *Store) RollbackTree(ctx context.Context, t *Tree, user, desc string) (int, error) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	base, version := s.snapshot()
	id, _, err := s.commitTree(ctx, base, version, t, CommitOptions{User: user, Description: desc}, true)
	return id, err
}

// Rollback restores the configuration as it was when commit id was made;
// see RollbackTo.
func (s *Store) Rollback(ctx context.Context, id int, user string) (int, error) {
	return s.RollbackTo(ctx, id, user)
}

// LabelError refuses a commit label.
type LabelError struct{ Msg string }

func (e *LabelError) Error() string { return e.Msg }

// CheckLabel checks the form of a commit label (VRP's rules): 1 to 256
// visible characters, no space, not starting with a digit, not "-".
func CheckLabel(l string) error {
	switch {
	case l == "" || len(l) > 256:
		return &LabelError{"a label has 1 to 256 characters"}
	case l == "-":
		return &LabelError{"a label cannot be a hyphen (-)"}
	case l[0] >= '0' && l[0] <= '9':
		return &LabelError{"a label cannot start with a digit"}
	case strings.IndexFunc(l, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsGraphic(r) || r == ' ' }) >= 0:
		return &LabelError{"a label holds visible ASCII characters without spaces only"}
	}
	return nil
}

// LabelID returns the commit labelled l.
func (s *Store) LabelID(l string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.log {
		if r.Label == l {
			return r.ID, true
		}
	}
	return 0, false
}

// checkNewLabelLocked refuses label l for commit id (0: a new commit).
func (s *Store) checkNewLabelLocked(id int, l string) error {
	if err := CheckLabel(l); err != nil {
		return err
	}
	for _, r := range s.log {
		if r.Label == l && r.ID != id {
			return &LabelError{fmt.Sprintf("the label %s is already used by commit %d", l, r.ID)}
		}
	}
	return nil
}

// SetLabel gives commit id the label l ("" clears it): VRP's `set
// configuration commit ID label L` and `clear configuration commit ID
// label`. A label names one commit.
func (s *Store) SetLabel(id int, l string) error {
	s.mu.Lock()
	i := s.indexLocked(id)
	if i < 0 {
		s.mu.Unlock()
		return &CommitError{ID: id}
	}
	if l != "" {
		if err := s.checkNewLabelLocked(id, l); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	s.log[i].Label = l
	rec := s.log[i]
	j := s.journal
	s.mu.Unlock()
	if j != nil {
		if err := j.Update(rec); err != nil {
			s.Log.Warn("commit label not kept", "id", id, "err", err)
			return fmt.Errorf("the label is set but not kept across restarts: %w", err)
		}
	}
	return nil
}
