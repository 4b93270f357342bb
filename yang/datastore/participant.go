package datastore

import (
	"context"
	"fmt"
)

// Change is what a participant gets: the whole trees around a change and
// the changed paths it owns.
type Change struct {
	// ID is the commit id the change gets; 0 while a candidate is only
	// validated.
	ID   int
	User string
	// Old is running before the change; New is the configuration the change
	// leads to. Neither may be modified.
	Old, New *Tree
	// Prev is set while one edit of a candidate is validated (a CLI line, a
	// NETCONF edit): the candidate before that edit. Rules about transitions
	// (a value that cannot change in place) hold between Prev and New as
	// they hold between Old and New. Nil at commit time.
	Prev *Tree
	// Paths are the changed nodes (from Old to New) the participant owns,
	// descendants of deleted nodes included. Validate may get none.
	Paths []Path
	// Rollback marks a change that restores an earlier configuration (a
	// rollback, an expired or aborted trial): rules about edits (a value
	// that cannot change in place) do not apply, rules about states do.
	Rollback bool
}

// Validator is the pure part of a participant.
type Validator interface {
	// Validate returns one refusal per violation of the owner's rules in
	// c.New (or in the step from c.Old, or c.Prev, to c.New). It must not
	// change anything or look at anything but c: it runs for every
	// validation of a candidate (each CLI line, each commit), whether or not
	// the change touches the participant's paths, so that rules reading
	// other owners' nodes keep holding.
	Validate(c *Change) []*RuleError
}

// Participant is a service that owns part of the configuration: the nodes
// under the schema path prefixes it registers with (see Store.Register).
//
// A commit validates (every participant's Validate, after the schema
// checks), then calls Prepare of each participant whose nodes changed, in
// registration order. Prepare reserves what Apply will need (labels,
// instances) and may refuse: then every participant prepared so far is
// aborted, in reverse order, and running stays as it was. When all have
// prepared, each gets Apply, which cannot fail, and the new tree becomes
// running. Abort releases what Prepare reserved.
type Participant interface {
	Validator
	Prepare(ctx context.Context, c *Change) error
	Apply(ctx context.Context, c *Change)
	Abort(ctx context.Context, c *Change)
}

// ValidateFunc is a participant that only validates: Prepare reserves
// nothing, Apply and Abort do nothing. For owners whose users read the
// configuration from running when they need it, and for front-end tests
// that need an owner's rules without its effects.
type ValidateFunc func(c *Change) []*RuleError

// Validate calls f.
func (f ValidateFunc) Validate(c *Change) []*RuleError { return f(c) }

// Prepare accepts.
func (ValidateFunc) Prepare(context.Context, *Change) error { return nil }

// Apply does nothing.
func (ValidateFunc) Apply(context.Context, *Change) {}

// Abort does nothing.
func (ValidateFunc) Abort(context.Context, *Change) {}

// RuleError is a refusal: the node it is about and a sentence in VRP's
// style, without "Error: " before it and without the final period ("The
// route-distinguisher 1:1 of VPN instance blue is already used by VPN
// instance red"). Front ends print Msg as it is (the CLI as "Error: Msg.");
// NETCONF reports Path as the error-path.
type RuleError struct {
	Path Path
	Msg  string
	// Unsupported marks the datastore's refusal of a node no service
	// supports (NETCONF's operation-not-supported).
	Unsupported bool
}

func (e *RuleError) Error() string { return e.Msg }

// Refuse makes a RuleError about the node p.
func Refuse(p Path, format string, a ...any) *RuleError {
	return &RuleError{Path: p, Msg: fmt.Sprintf(format, a...)}
}
