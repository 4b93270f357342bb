package ospf

import (
	"context"
	"log/slog"

	"vpnos/yang/datastore"
)

// Participant is the datastore participant of the OSPF configuration
// (Prefixes): Validate is pure (FromTree's refusals and what cannot change
// in place), Prepare reserves nothing, Apply hands the new configuration
// to the service, Abort has nothing to release.
type Participant struct {
	// Service runs the processes (nil: validation only).
	Service *Service
	Log     *slog.Logger
}

// Problems returns the refusals of the OSPF rules for a change from old
// (nil for none) to new.
func Problems(old, new *datastore.Tree) []*Problem {
	_, probs := FromTree(new)
	return append(probs, transitions(old, new)...)
}

// Prepare implements datastore.Participant: the OSPF rules hold or the
// commit is refused.
func (p *Participant) Prepare(ctx context.Context, c *datastore.Change) error {
	if probs := Problems(c.Old, c.New); len(probs) > 0 {
		return probs[0]
	}
	return nil
}

// Apply implements datastore.Participant.
func (p *Participant) Apply(ctx context.Context, c *datastore.Change) {
	set, _ := FromTree(c.New)
	if p.Service != nil {
		p.Service.Configure(set)
	}
}

// Abort implements datastore.Participant.
func (p *Participant) Abort(ctx context.Context, c *datastore.Change) {}

// Load hands the service the configuration of a running tree (a restarted
// daemon, or a service started after the configuration was applied).
func (p *Participant) Load(t *datastore.Tree) {
	set, _ := FromTree(t)
	if p.Service != nil {
		p.Service.Configure(set)
	}
}
