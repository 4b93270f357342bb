package datastore

import (
	"context"
	"fmt"
)

// Check tells whether the candidate would commit now, without committing
// it: the validation of Commit, then every concerned participant's Prepare,
// each undone at once by its Abort. It returns nil, ErrNoChange, a
// *ValidationError, or the refusal of a participant, as Commit would; the
// commit log, running and the participants' state stay as they were. A
// configuration file that cannot be committed whole uses it to find the
// lines that break it, and then commits the rest once.
func (c *Candidate) Check(ctx context.Context) error {
	s := c.store
	c.Sync()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	old, v := s.snapshot()
	next := c.tree
	if c.version != v {
		next = old.Clone()
		next.Apply(Diff(c.base, c.tree))
	}
	if errs := s.validate(&Change{Old: old, New: next}); len(errs) > 0 {
		return &ValidationError{Errs: errs}
	}
	ops := Diff(old, next)
	if len(ops) == 0 {
		return ErrNoChange
	}
	regs, owner := s.owners()
	mine := pathsByOwner(regs, owner, ChangedPaths(old, ops))
	var prepared []struct {
		p Participant
		c *Change
	}
	defer func() {
		for j := len(prepared) - 1; j >= 0; j-- {
			prepared[j].p.Abort(ctx, prepared[j].c)
		}
	}()
	for i, reg := range regs {
		if len(mine[i]) == 0 {
			continue
		}
		ch := &Change{Old: old, New: next, Paths: mine[i]}
		if err := reg.p.Prepare(ctx, ch); err != nil {
			return fmt.Errorf("commit refused: %w", err)
		}
		prepared = append(prepared, struct {
			p Participant
			c *Change
		}{reg.p, ch})
	}
	return nil
}
