package ospf

import (
	"context"
	"log/slog"

	"vpnos/yang/datastore"
)

// Participant is the datastore participant of the OSPF configuration
// (Prefixes): Validate is pure (FromTree's refusals and what cannot change
// in place), Prepare reserves nothing, Apply hands the new configuration
// to the service, Abort has nothing to release. Without a Service it only
// validates (front-end tests, offline checks).
type Participant struct {
	Service *Service
	Log     *slog.Logger
}

// Validate implements datastore.Validator.
func (p *Participant) Validate(c *datastore.Change) []*datastore.RuleError { return Validate(c) }

// Validate returns the refusals of the OSPF rules for a change.
func Validate(c *datastore.Change) []*datastore.RuleError {
	_, errs := FromTree(c.New)
	if c.Rollback {
		return errs
	}
	errs = append(errs, transitions(c.Old, c.New)...)
	if c.Prev != nil {
		errs = append(errs, transitions(c.Prev, c.New)...)
	}
	return dedup(errs)
}

// dedup drops repeated refusals (a transition refused against running and
// against the candidate before the edit).
func dedup(errs []*datastore.RuleError) []*datastore.RuleError {
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		k := e.Path.String() + "\x00" + e.Msg
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// Prepare implements datastore.Participant: OSPF reserves nothing.
func (p *Participant) Prepare(ctx context.Context, c *datastore.Change) error { return nil }

// Apply implements datastore.Participant: the service runs the new
// configuration.
func (p *Participant) Apply(ctx context.Context, c *datastore.Change) {
	set, _ := FromTree(c.New)
	if p.Service != nil {
		p.Service.Configure(set)
	}
}

// Abort implements datastore.Participant.
func (p *Participant) Abort(ctx context.Context, c *datastore.Change) {}

// Follow hands the service the configuration of a change of nodes OSPF
// reads but does not own: `router id` (system.Owner.OnRouterID). A
// running process keeps its router ID until `reset ospf PROCESS process`.
func (p *Participant) Follow(ctx context.Context, c *datastore.Change) { p.Load(c.New) }

// Load hands the service the configuration of a running tree (a restarted
// service starts from it).
func (p *Participant) Load(t *datastore.Tree) {
	set, _ := FromTree(t)
	if p.Service != nil {
		p.Service.Configure(set)
	}
}
