package label

import (
	"errors"
	"fmt"
)

// Txn is the labels one configuration commit asks for. A datastore
// participant begins it in Prepare, reserves and allocates through it (a
// failure refuses the commit: call Abort before returning the error), and
// keeps it until the commit ends: Apply calls Commit, Abort calls Abort.
//
//	func (p *P) Prepare(ctx context.Context, c *datastore.Change) error {
//		tx := p.Labels.Begin()
//		for _, l := range removed { tx.Release(l.Label, l.Owner) }
//		for _, l := range added {
//			if err := tx.Reserve(l.Label, l.Owner); err != nil {
//				tx.Abort()
//				return vrpMessage(err) // see InUseError, Describe
//			}
//		}
//		p.pending[c.ID] = tx
//		return nil
//	}
//	func (p *P) Apply(ctx context.Context, c *datastore.Change) { p.pending[c.ID].Commit(); ... program ... }
//	func (p *P) Abort(ctx context.Context, c *datastore.Change) { p.pending[c.ID].Abort() }
//
// A static label released in a Txn is free at once, so that the same commit
// can give it to another owner (a static LSP renamed, a label moved from an
// LSP to a VPN instance); Abort takes it back. Static labels are only ever
// reserved by commits, which the datastore runs one at a time, and Abort runs
// in the reverse order of Prepare, so taking it back cannot fail. A dynamic
// label released in a Txn stays held until Commit: protocols allocate from
// the dynamic range at any time and must not get it before the commit is
// decided.
//
// A Txn is used by one goroutine; it ends with Commit or Abort (a second
// call does nothing).
type Txn struct {
	m         *Manager
	taken     []Allocation // reserved or allocated by this Txn
	freedNow  []Allocation // static labels released at once
	freeLater []Allocation // dynamic labels released at Commit
	done      bool
}

// Begin starts a Txn.
func (m *Manager) Begin() *Txn { return &Txn{m: m} }

// ErrTxnDone is returned by a Txn used after Commit or Abort.
var ErrTxnDone = errors.New("label transaction already ended")

// Reserve takes label l of the static range for owner (see Manager.Reserve):
// a label the owner already holds is kept as it is.
func (t *Txn) Reserve(l uint32, owner string) error {
	if t.done {
		return ErrTxnDone
	}
	if cur, ok := t.m.Owner(l); ok && cur == owner {
		return nil
	}
	if err := t.m.Reserve(l, owner); err != nil {
		return err
	}
	t.taken = append(t.taken, Allocation{Label: l, Owner: owner, Static: true})
	return nil
}

// Allocate hands out a label of the dynamic range to owner; ErrExhausted
// when none is left.
func (t *Txn) Allocate(owner string) (uint32, error) {
	if t.done {
		return 0, ErrTxnDone
	}
	l, err := t.m.Allocate(owner)
	if err != nil {
		return 0, err
	}
	t.taken = append(t.taken, Allocation{Label: l, Owner: owner})
	return l, nil
}

// Release gives back a label owner holds: a static one at once, a dynamic
// one at Commit. A label owner does not hold is refused with ErrNotOwner.
func (t *Txn) Release(l uint32, owner string) error {
	if t.done {
		return ErrTxnDone
	}
	if cur, ok := t.m.Owner(l); !ok || cur != owner {
		if !ok {
			cur = "nobody"
		}
		return fmt.Errorf("release label %d for %s (held by %s): %w", l, owner, cur, ErrNotOwner)
	}
	if !t.m.IsStatic(l) {
		t.freeLater = append(t.freeLater, Allocation{Label: l, Owner: owner})
		return nil
	}
	if err := t.m.Free(l, owner); err != nil {
		return err
	}
	t.freedNow = append(t.freedNow, Allocation{Label: l, Owner: owner, Static: true})
	return nil
}

// Commit makes the Txn final: the dynamic labels it released are freed.
func (t *Txn) Commit() {
	if t.done {
		return
	}
	t.done = true
	for _, a := range t.freeLater {
		_ = t.m.Free(a.Label, a.Owner)
	}
}

// Abort undoes the Txn: what it reserved or allocated is freed, and the
// static labels it released are held again by their owners.
func (t *Txn) Abort() {
	if t.done {
		return
	}
	t.done = true
	for i := len(t.taken) - 1; i >= 0; i-- {
		a := t.taken[i]
		_ = t.m.Free(a.Label, a.Owner)
	}
	for _, a := range t.freedNow {
		_ = t.m.Reserve(a.Label, a.Owner)
	}
}
