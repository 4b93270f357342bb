package cli

import (
	"context"
	"errors"
	"time"

	"vpnos/yang/datastore"
)

// DefaultTrial is how long `commit trial` waits for a confirming `commit`
// when no time is given, in seconds.
const DefaultTrial = 600

// trial is a pending `commit trial`: unless a plain `commit` confirms it in
// time, running goes back to what it was before the trial's first commit.
type trial struct {
	id    int         // the first commit of the trial: rollback restores what was before it
	stop  func() bool // stops the timer
	user  string
	until time.Time
}

// afterFunc runs f after d; tests replace it to fire timers at will.
type afterFunc func(d time.Duration, f func()) func() bool

func realAfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// startTrial arms (or re-arms) the trial timer after commit id (0: no new
// commit, only a pending trial to extend). It reports false when there is
// nothing to put on trial (no new commit and no pending trial).
func (e *Engine) startTrial(id int, secs int, user string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id == 0 && e.trial == nil {
		return false
	}
	if e.trial != nil {
		// A further trial commit extends the window; the rollback still
		// goes back to before the first one.
		e.trial.stop()
		id = e.trial.id
	}
	t := &trial{id: id, user: user, until: e.deps.Now().Add(time.Duration(secs) * time.Second)}
	t.stop = e.after(time.Duration(secs)*time.Second, func() { e.expireTrial(t) })
	e.trial = t
	return true
}

// confirmTrial ends a pending trial, keeping its configuration. It reports
// whether one was pending.
func (e *Engine) confirmTrial() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.trial == nil {
		return false
	}
	e.trial.stop()
	e.trial = nil
	return true
}

// takeTrial removes the pending trial t (nil: whichever is pending) and
// returns it, or nil when it is no longer pending.
func (e *Engine) takeTrial(t *trial) *trial {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.trial == nil || (t != nil && e.trial != t) {
		return nil
	}
	cur := e.trial
	cur.stop()
	e.trial = nil
	return cur
}

// expireTrial rolls back a trial nobody confirmed.
func (e *Engine) expireTrial(t *trial) {
	if e.takeTrial(t) == nil {
		return
	}
	e.rollbackTrial(context.Background(), t, "the trial time ran out")
}

// rollbackTrial restores running as it was before the trial.
func (e *Engine) rollbackTrial(ctx context.Context, t *trial, why string) error {
	_, err := e.store.Rollback(ctx, t.id, "trial")
	switch {
	case err == nil:
		e.deps.Log.Warn("trial configuration rolled back", "commit", t.id, "user", t.user, "why", why)
	case errors.Is(err, datastore.ErrNoChange):
		err = nil
	default:
		e.deps.Log.Error("cannot roll back the trial configuration", "commit", t.id, "err", err)
	}
	return err
}
