package netconf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"vpnos/yang/datastore"
)

// DefaultConfirmTimeout is a confirmed commit's window when the client gives
// no <confirm-timeout> (RFC 6241 §8.4.5.1: 600 seconds).
const DefaultConfirmTimeout = 600 * time.Second

// CommitOptions are the parameters of <commit>.
type CommitOptions struct {
	Origin      datastore.Origin
	Description string
	// Confirmed starts or extends a confirmed commit that rolls back after
	// Timeout unless a confirming commit comes first.
	Confirmed bool
	Timeout   time.Duration
	// Persist makes the confirmed commit outlive its session and lets any
	// session confirm it by giving the token as PersistID.
	Persist string
	// PersistID names the pending confirmed commit this commit confirms
	// (or extends); nil when not given.
	PersistID *string
}

// Confirmer commits candidates and runs the confirmed commits of RFC 6241
// §8.4. The datastore's own confirmed commit (shared with the CLI's `commit
// trial`) will implement it; until it lands on main, newConfirmer is an
// adapter over the datastore's commit and rollback.
type Confirmer interface {
	// Commit commits c. A plain commit by the session that started a
	// pending confirmed commit (or giving its persist token) confirms it.
	// It returns the commit id (0 when nothing changed).
	Commit(ctx context.Context, c *datastore.Candidate, o CommitOptions) (int, error)
	// Cancel rolls a pending confirmed commit back at once.
	Cancel(ctx context.Context, o datastore.Origin, persistID *string) error
	// SessionEnded rolls back the session's pending confirmed commit,
	// unless it was given a persist token.
	SessionEnded(ctx context.Context, session uint32)
}

// ConfirmError is a commit or cancel-commit refused by the rules of
// confirmed commits; Tag is its error-tag.
type ConfirmError struct {
	Tag string
	Msg string
	// Session holds the pending confirmed commit (0 if none).
	Session uint32
}

func (e *ConfirmError) Error() string { return e.Msg }

// afterFunc runs f after d and returns the timer's stop; tests replace it.
type afterFunc func(d time.Duration, f func()) (stop func() bool)

func realAfter(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// confirmer is the in-package adapter: a pending confirmed commit is the
// first commit of its window; rolling back is the datastore's rollback to
// what running was before it.
type confirmer struct {
	store *datastore.Store
	log   *slog.Logger
	after afterFunc

	mu sync.Mutex
	p  *pendingCommit
}

type pendingCommit struct {
	first   int // first commit of the window (0: none yet changed anything)
	session uint32
	user    string
	persist string
	until   time.Time
	stop    func() bool
}

func newConfirmer(s *datastore.Store, log *slog.Logger) *confirmer {
	return &confirmer{store: s, log: log, after: realAfter}
}

// mayAct checks that o may confirm, extend or cancel the pending commit p.
func mayAct(p *pendingCommit, o datastore.Origin, persistID *string) error {
	switch {
	case persistID != nil && (p.persist == "" || *persistID != p.persist):
		return &ConfirmError{Tag: TagInvalidValue, Msg: fmt.Sprintf("no confirmed commit with the persist-id %q is pending", *persistID), Session: p.session}
	case persistID != nil:
		return nil
	case p.persist != "":
		return &ConfirmError{Tag: TagInUse, Msg: "a confirmed commit with a persist token is pending: give its persist-id", Session: p.session}
	case p.session != o.Session:
		return &ConfirmError{Tag: TagInUse, Msg: fmt.Sprintf("a confirmed commit of session %d is pending", p.session), Session: p.session}
	}
	return nil
}

func (c *confirmer) Commit(ctx context.Context, cand *datastore.Candidate, o CommitOptions) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.p
	if p != nil {
		if err := mayAct(p, o.Origin, o.PersistID); err != nil {
			return 0, err
		}
	} else if o.PersistID != nil {
		return 0, &ConfirmError{Tag: TagInvalidValue, Msg: fmt.Sprintf("no confirmed commit with the persist-id %q is pending", *o.PersistID)}
	}
	desc := o.Description
	if o.Confirmed && desc == "" {
		desc = "confirmed commit"
	}
	id, err := cand.Commit(datastore.WithOrigin(ctx, o.Origin), o.Origin.User, desc)
	if err != nil && !errors.Is(err, datastore.ErrNoChange) {
		return 0, err
	}
	if !o.Confirmed {
		if p != nil {
			p.stop()
			c.p = nil
			c.log.Info("confirmed commit confirmed", "session", o.Origin.Session, "user", o.Origin.User)
		}
		return id, nil
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultConfirmTimeout
	}
	if p == nil {
		p = &pendingCommit{first: id}
		c.p = p
	} else {
		p.stop()
		if p.first == 0 {
			p.first = id
		}
	}
	p.session, p.user, p.persist = o.Origin.Session, o.Origin.User, o.Persist
	p.until = c.store.Now().Add(timeout)
	p.stop = c.after(timeout, func() { c.expire(p) })
	c.log.Info("confirmed commit pending", "session", p.session, "user", p.user, "commit", id, "timeout", timeout)
	return id, nil
}

func (c *confirmer) Cancel(ctx context.Context, o datastore.Origin, persistID *string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.p
	if p == nil {
		return &ConfirmError{Tag: TagOperationFailed, Msg: "no confirmed commit is pending"}
	}
	if err := mayAct(p, o, persistID); err != nil {
		return err
	}
	p.stop()
	c.p = nil
	return c.rollback(ctx, p, "cancel-commit by session "+strconv.Itoa(int(o.Session)))
}

func (c *confirmer) SessionEnded(ctx context.Context, session uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.p
	if p == nil || p.persist != "" || p.session != session {
		return
	}
	p.stop()
	c.p = nil
	_ = c.rollback(ctx, p, "the session ended")
}

func (c *confirmer) expire(p *pendingCommit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != p {
		return
	}
	c.p = nil
	_ = c.rollback(context.Background(), p, "the confirm timeout ran out")
}

// rollback restores running as it was before the window's first commit.
// It is the system's doing: it passes every lock.
func (c *confirmer) rollback(ctx context.Context, p *pendingCommit, why string) error {
	if p.first == 0 {
		c.log.Info("confirmed commit ended without a change to roll back", "why", why)
		return nil
	}
	ctx = datastore.WithoutLocks(datastore.WithOrigin(ctx, datastore.Origin{Session: p.session, User: p.user, Interface: "netconf"}))
	_, err := c.store.Rollback(ctx, p.first, p.user)
	switch {
	case err == nil:
		c.log.Warn("confirmed commit rolled back", "commit", p.first, "user", p.user, "why", why)
	case errors.Is(err, datastore.ErrNoChange):
		err = nil
	default:
		c.log.Error("cannot roll back the confirmed commit", "commit", p.first, "err", err)
	}
	return err
}
