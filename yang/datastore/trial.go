package datastore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultTrial is how long a commit trial waits for its confirmation when
// the front end gives no time (RFC 6241's default confirm-timeout; VRP's
// `commit trial` without a time).
const DefaultTrial = 600 * time.Second

// TrialUser is the user of the commit that rolls a trial back (when it
// runs out or is aborted).
const TrialUser = "trial"

// ErrNoTrial is returned by AbortTrial when no commit trial is pending.
var ErrNoTrial = errors.New("no commit trial is pending")

// CommitOptions says how to commit a candidate.
type CommitOptions struct {
	User        string
	Description string
	// Trial, when positive, makes the commit a trial (VRP's `commit trial`,
	// NETCONF's confirmed commit): unless a later commit confirms it within
	// Trial, running goes back to what it was before the trial's first
	// commit, as a commit by TrialUser. A trial commit while a trial is
	// pending extends it: the timer restarts with the new time, and the
	// rollback still goes back to before the first trial commit. A trial
	// commit without changes only extends a pending trial; with none
	// pending it returns ErrNoChange.
	Trial time.Duration
}

// CommitResult says what a commit did.
type CommitResult struct {
	// ID is the new commit's id; 0 when the candidate held no change.
	ID int
	// Confirmed: a plain commit confirmed a pending trial.
	Confirmed bool
	// Trial is the pending trial after a trial commit.
	Trial *Trial
}

// Trial describes a pending commit trial.
type Trial struct {
	// ID is the trial's first commit: the rollback restores running as it
	// was before it.
	ID       int
	User     string // who started the trial
	Deadline time.Time
}

// trial is the pending trial with its rollback target and timer.
type trial struct {
	Trial
	before *Tree
	stop   func() bool
}

// CommitWith commits the candidate. A plain commit (no Trial) confirms a
// pending trial, with or without changes: without changes it returns
// ErrNoChange and the result says whether it confirmed. On an error other
// than ErrNoChange, running, the pending trial and the candidate stay as
// they were.
func (c *Candidate) CommitWith(ctx context.Context, o CommitOptions) (CommitResult, error) {
	s := c.store
	c.Sync()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	var res CommitResult
	var err error
	var old *Tree
	if len(c.Changes()) == 0 {
		err = ErrNoChange
	} else {
		res.ID, old, err = s.commitTree(ctx, c.base, c.version, c.tree, o.User, o.Description, false)
		if err != nil && !errors.Is(err, ErrNoChange) {
			return CommitResult{}, err
		}
	}
	if res.ID != 0 {
		c.Discard()
	}
	if o.Trial <= 0 {
		res.Confirmed = s.confirmLocked(o.User)
		return res, err
	}
	if res.ID == 0 && s.trial == nil {
		return res, ErrNoChange
	}
	t := s.armLocked(res.ID, old, o)
	res.Trial = &t
	return res, nil
}

// armLocked starts a trial after commit id (whose running before was
// before), or extends the pending one.
func (s *Store) armLocked(id int, before *Tree, o CommitOptions) Trial {
	first := s.trial
	if first != nil {
		first.stop()
	} else {
		first = &trial{Trial: Trial{ID: id, User: o.User}, before: before}
	}
	t := &trial{Trial: Trial{ID: first.ID, User: first.User, Deadline: s.Now().Add(o.Trial)}, before: first.before}
	t.stop = s.AfterFunc(o.Trial, func() { s.expire(t) })
	s.setTrial(t)
	s.Log.Info("commit trial pending", "commit", t.ID, "user", o.User, "until", t.Deadline)
	return t.Trial
}

func (s *Store) setTrial(t *trial) {
	s.mu.Lock()
	s.trial = t
	s.mu.Unlock()
}

// PendingTrial returns the pending commit trial, if any.
func (s *Store) PendingTrial() (Trial, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trial == nil {
		return Trial{}, false
	}
	return s.trial.Trial, true
}

// ConfirmTrial ends a pending trial, keeping its configuration, as a plain
// commit does. It reports whether one was pending.
func (s *Store) ConfirmTrial(user string) bool {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	return s.confirmLocked(user)
}

func (s *Store) confirmLocked(user string) bool {
	t := s.trial
	if t == nil {
		return false
	}
	t.stop()
	s.setTrial(nil)
	s.Log.Info("commit trial confirmed", "commit", t.ID, "user", user)
	return true
}

// AbortTrial rolls a pending trial back now (a commit by TrialUser), or
// returns ErrNoTrial. user is who asked, for the log.
func (s *Store) AbortTrial(ctx context.Context, user string) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	t := s.trial
	if t == nil {
		return ErrNoTrial
	}
	t.stop()
	s.setTrial(nil)
	return s.rollbackTrialLocked(ctx, t, "aborted by "+user)
}

// expire rolls back a trial nobody confirmed in time.
func (s *Store) expire(t *trial) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.trial != t {
		return // confirmed, aborted or extended meanwhile
	}
	s.setTrial(nil)
	_ = s.rollbackTrialLocked(context.Background(), t, "the trial time ran out")
}

// rollbackTrialLocked restores running as it was before the trial.
func (s *Store) rollbackTrialLocked(ctx context.Context, t *trial, why string) error {
	base, version := s.snapshot()
	_, _, err := s.commitTree(ctx, base, version, t.before, TrialUser, fmt.Sprintf("rollback to %d", t.ID), true)
	switch {
	case err == nil:
		s.Log.Warn("trial configuration rolled back", "commit", t.ID, "user", t.User, "why", why)
	case errors.Is(err, ErrNoChange):
		err = nil
	default:
		s.Log.Error("cannot roll back the trial configuration", "commit", t.ID, "err", err)
	}
	return err
}
