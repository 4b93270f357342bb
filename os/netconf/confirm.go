package netconf

import (
	"context"
	"errors"
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
	// Label names the new rollback point (vpnos-commit).
	Label string
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
// §8.4. The server's own (newConfirmer) is the datastore's commit trial,
// which the CLI's `commit trial` shares: one pending trial, one timer.
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

// confirmer maps confirmed commits onto the datastore's commit trial.
type confirmer struct {
	store *datastore.Store
}

func newConfirmer(s *datastore.Store) *confirmer { return &confirmer{store: s} }

func (c *confirmer) Commit(ctx context.Context, cand *datastore.Candidate, o CommitOptions) (int, error) {
	opts := datastore.CommitOptions{User: o.Origin.User, Description: o.Description, Label: o.Label, Persist: o.Persist, PersistID: o.PersistID}
	if o.Confirmed {
		if opts.Description == "" {
			opts.Description = "confirmed commit"
		}
		opts.Trial = o.Timeout
		if opts.Trial <= 0 {
			opts.Trial = DefaultConfirmTimeout
		}
	}
	r, err := cand.CommitWith(datastore.WithOrigin(ctx, o.Origin), opts)
	if errors.Is(err, datastore.ErrNoChange) {
		// Nothing changed: nothing to confirm later either.
		return 0, nil
	}
	if err != nil {
		return 0, confirmError(err)
	}
	return r.ID, nil
}

func (c *confirmer) Cancel(ctx context.Context, o datastore.Origin, persistID *string) error {
	err := c.store.AbortTrial(datastore.WithOrigin(ctx, o), o.User, persistID)
	if errors.Is(err, datastore.ErrNoTrial) {
		return &ConfirmError{Tag: TagOperationFailed, Msg: "no confirmed commit is pending"}
	}
	return confirmError(err)
}

func (c *confirmer) SessionEnded(ctx context.Context, session uint32) {
	c.store.EndSession(ctx, session)
}

// confirmError turns the datastore's refusal of a trial into its tag:
// in-use for another session's trial, invalid-value for a persist-id that
// names none.
func confirmError(err error) error {
	var te *datastore.TrialError
	if !errors.As(err, &te) {
		return err
	}
	tag := TagInUse
	if te.BadPersistID {
		tag = TagInvalidValue
	}
	return &ConfirmError{Tag: tag, Msg: te.Msg, Session: te.Holder.Session}
}
