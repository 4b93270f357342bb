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
// runs out, is aborted, or its session ends).
const TrialUser = "trial"

// ErrNoTrial is returned by AbortTrial when no commit trial is pending.
var ErrNoTrial = errors.New("no commit trial is pending")

// CommitOptions says how to commit a candidate. Who commits is the origin
// the context carries (WithOrigin; none: a CLI session or the startup
// file, session 0).
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
	// Persist, with Trial, gives the trial a token: it outlives its
	// session, and only a commit naming the token (PersistID) confirms,
	// extends or aborts it (RFC 6241 §8.4.5.1). Without it a trial belongs
	// to its session: only that session's commits confirm or extend it.
	Persist string
	// PersistID names the pending trial's token (nil: not given).
	PersistID *string
	// Label names the new commit (see CheckLabel); a label already in the
	// log refuses the commit with a *LabelError.
	Label string
}

// DescriptionError refuses a commit whose description is not free text
// (a line break, a control character).
type DescriptionError struct{ Err error }

func (e *DescriptionError) Error() string {
	return "the commit description is not valid: " + e.Err.Error()
}
func (e *DescriptionError) Unwrap() error { return e.Err }

// CommitResult says what a commit did.
type CommitResult struct {
	// ID is the new commit's id; 0 when the candidate held no change.
	ID int
	// Confirmed: a plain commit confirmed a pending trial.
	Confirmed bool
	// Trial is the pending trial after a trial commit.
	Trial *Trial
	// RecordErr: the commit took effect but the journal did not keep its
	// record (see Store.RecordError).
	RecordErr error
}

// Trial describes a pending commit trial.
type Trial struct {
	// ID is the trial's first commit: the rollback restores running as it
	// was before it.
	ID int
	// Holder started the trial (its session, user and front end).
	Holder     Origin
	Persistent bool // it has a persist token
	Deadline   time.Time
}

// TrialError refuses a commit or an abort that may not act on the pending
// trial: it belongs to another session, or needs its persist token, or a
// persist-id names no pending trial.
type TrialError struct {
	// Holder started the pending trial (zero when none is pending).
	Holder Origin
	// BadPersistID: the persist-id given names no pending trial.
	BadPersistID bool
	Msg          string
}

func (e *TrialError) Error() string { return e.Msg }

// trial is the pending trial with its rollback target, token and timer.
type trial struct {
	Trial
	persist string
	before  *Tree
	stop    func() bool
}

// mayAct checks that the origin o (giving persistID or not) may confirm,
// extend or abort the pending trial t.
func mayAct(t *trial, o Origin, persistID *string) error {
	switch {
	case persistID != nil && (t.persist == "" || *persistID != t.persist):
		return &TrialError{Holder: t.Holder, BadPersistID: true, Msg: fmt.Sprintf("no commit trial with the persist-id %q is pending", *persistID)}
	case persistID != nil:
		return nil
	case t.persist != "":
		return &TrialError{Holder: t.Holder, Msg: fmt.Sprintf("a commit trial of %s with a persist token is pending: give its persist-id", t.Holder)}
	case t.Holder.Session != o.Session:
		return &TrialError{Holder: t.Holder, Msg: fmt.Sprintf("a commit trial of %s is pending", t.Holder)}
	}
	return nil
}

// CommitWith commits the candidate. A plain commit (no Trial) confirms a
// pending trial, with or without changes: without changes it returns
// ErrNoChange and the result says whether it confirmed. While a trial is
// pending, only its session (or, for a persistent trial, a commit naming
// its token) may commit: others get a *TrialError. On an error other than
// ErrNoChange, running, the pending trial and the candidate stay as they
// were.
func (c *Candidate) CommitWith(ctx context.Context, o CommitOptions) (CommitResult, error) {
	s := c.store
	if o.Description != "" {
		// A commit description is free text, as a description of the
		// configuration is: one line, no control characters.
		if err := s.Schema.CheckText(o.Description); err != nil {
			return CommitResult{}, &DescriptionError{Err: err}
		}
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	// Rebased under commitMu: no commit lands between the rebase and this
	// commit, so the conflicts found are all there are.
	c.Sync()
	origin := OriginFrom(ctx)
	if s.trial != nil {
		if err := mayAct(s.trial, origin, o.PersistID); err != nil {
			return CommitResult{}, err
		}
	} else if o.PersistID != nil {
		return CommitResult{}, &TrialError{BadPersistID: true, Msg: fmt.Sprintf("no commit trial with the persist-id %q is pending", *o.PersistID)}
	}
	var res CommitResult
	var err error
	var old *Tree
	if len(c.Changes()) == 0 {
		err = ErrNoChange
		if s.trial != nil {
			// Confirming or extending a trial is a change of running's fate:
			// another session's lock refuses it.
			if lerr := s.CheckLocks(ctx); lerr != nil {
				return CommitResult{}, lerr
			}
		}
	} else {
		if cs := c.liveConflicts(); len(cs) > 0 {
			return CommitResult{}, &ConflictError{Conflicts: cs}
		}
		res.ID, old, err = s.commitTree(ctx, c.base, c.version, c.tree, o, false)
		var ve *ValidationError
		if errors.As(err, &ve) && c.since != c.base {
			// Others committed since this candidate's changes began: if
			// its changes held on the configuration they began from, the
			// others' commits broke them.
			solo := c.since.Clone()
			solo.Apply(Diff(c.base, c.tree))
			if len(s.validate(&Change{User: o.User, Old: c.since, New: solo})) == 0 {
				return CommitResult{}, &ConflictError{Errs: ve.Errs}
			}
		}
		if err != nil && !errors.Is(err, ErrNoChange) {
			return CommitResult{}, err
		}
	}
	if res.ID != 0 {
		c.Discard()
		res.RecordErr = s.RecordError(res.ID)
	}
	if o.Trial <= 0 {
		res.Confirmed = s.confirmLocked(o.User)
		return res, err
	}
	if res.ID == 0 && s.trial == nil {
		return res, ErrNoChange
	}
	t := s.armLocked(res.ID, old, origin, o)
	res.Trial = &t
	return res, nil
}

// armLocked starts a trial after commit id (whose running before was
// before), or extends the pending one.
func (s *Store) armLocked(id int, before *Tree, origin Origin, o CommitOptions) Trial {
	first := s.trial
	if first != nil {
		first.stop()
	} else {
		first = &trial{Trial: Trial{ID: id, Holder: origin}, before: before}
	}
	if first.Holder.User == "" {
		first.Holder.User = o.User
	}
	t := &trial{Trial: Trial{ID: first.ID, Holder: first.Holder, Persistent: o.Persist != "", Deadline: s.Now().Add(o.Trial)},
		persist: o.Persist, before: first.before}
	t.stop = s.AfterFunc(o.Trial, func() { s.expire(t) })
	s.setTrial(t)
	s.Log.Info("commit trial pending", "commit", t.ID, "holder", t.Holder.String(), "until", t.Deadline, "persistent", t.Persistent)
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
// returns ErrNoTrial. The origin in ctx must be the trial's session, or
// persistID its token (else a *TrialError). user is who asked, for the log.
func (s *Store) AbortTrial(ctx context.Context, user string, persistID *string) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	t := s.trial
	if t == nil {
		return ErrNoTrial
	}
	if err := mayAct(t, OriginFrom(ctx), persistID); err != nil {
		return err
	}
	t.stop()
	s.setTrial(nil)
	return s.rollbackTrialLocked(ctx, t, "aborted by "+user)
}

// EndSession rolls back the pending trial of a session that ends, unless
// it has a persist token (RFC 6241 §8.4.1). Session 0 (the CLI's) never
// ends: its trials run until confirmed, aborted or out of time.
func (s *Store) EndSession(ctx context.Context, session uint32) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	t := s.trial
	if t == nil || session == 0 || t.Holder.Session != session || t.persist != "" {
		return
	}
	t.stop()
	s.setTrial(nil)
	_ = s.rollbackTrialLocked(ctx, t, "its session ended")
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

// rollbackTrialLocked restores running as it was before the trial. It is
// the system's own commit: no session's lock holds it back, and its record
// names the trial's front end.
func (s *Store) rollbackTrialLocked(ctx context.Context, t *trial, why string) error {
	ctx = WithoutLocks(WithOrigin(ctx, t.Holder))
	base, version := s.snapshot()
	_, _, err := s.commitTree(ctx, base, version, t.before, CommitOptions{User: TrialUser, Description: fmt.Sprintf("rollback of commit trial %d", t.ID)}, true)
	switch {
	case err == nil:
		s.Log.Warn("trial configuration rolled back", "commit", t.ID, "holder", t.Holder.String(), "why", why)
	case errors.Is(err, ErrNoChange):
		err = nil
	default:
		s.Log.Error("cannot roll back the trial configuration", "commit", t.ID, "err", err)
	}
	return err
}
