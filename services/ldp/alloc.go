package ldp

import "log/slog"

// LabelManager is what ManagerAllocator needs of *label.Manager.
type LabelManager interface {
	Allocate(owner string) (uint32, error)
	Free(l uint32, owner string) error
}

type managerAllocator struct {
	m     LabelManager
	owner string
	log   *slog.Logger
}

// ManagerAllocator hands out the label manager's dynamic labels under one
// owner tag (label.Owner(label.KindLDP, instance)); when LDP stops for
// good, the manager's FreeOwner(owner) gives back whatever is left.
func ManagerAllocator(m LabelManager, owner string, log *slog.Logger) Allocator {
	if log == nil {
		log = slog.Default()
	}
	return &managerAllocator{m: m, owner: owner, log: log}
}

func (a *managerAllocator) Allocate() (uint32, error) { return a.m.Allocate(a.owner) }

func (a *managerAllocator) Free(l uint32) {
	if err := a.m.Free(l, a.owner); err != nil {
		a.log.Warn("ldp: free label", "label", l, "err", err)
	}
}
