package vrf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"

	"vpnos/services/label"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
)

// LSPSetter is what the labels participant needs of the RIB.
type LSPSetter interface {
	SetLSPs(ctx context.Context, owner string, lsps []rib.LSP) error
}

// Labels are the VPN instances' own labels, part of the vrf service's
// participant (see Service.SetLabels): every instance whose IPv4 family
// allocates per instance (`apply-label per-instance`, VRP8's default) holds
// one incoming label, the pinned one of `apply-label per-instance static N`
// (static range) or else one the label manager chooses (dynamic range).
// Prepare reserves (a pinned label another owner holds, or no dynamic label
// left, refuses the commit), Apply programs an egress LSP per instance
// (owner rib.OwnerVPNInstance) that pops the label and looks the packet up
// in the instance, Abort gives back. BGP advertises the instance's routes
// with InstanceLabel.
type Labels struct {
	Labels *label.Manager
	RIB    LSPSetter
	Log    *slog.Logger

	mu      sync.Mutex
	held    map[string]uint32 // instance -> label, as applied
	pending map[int]labelPlan // by commit id
}

type labelPlan struct {
	tx   *label.Txn
	next map[string]uint32
}

// NewLabels makes the participant.
func NewLabels(m *label.Manager, r LSPSetter, log *slog.Logger) *Labels {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Labels{Labels: m, RIB: r, Log: log, held: map[string]uint32{}, pending: map[int]labelPlan{}}
}

// InstanceLabel is the label of an instance (for displays and BGP).
func (l *Labels) InstanceLabel(instance string) (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.held[instance]
	return v, ok
}

func instanceOwner(name string) string { return label.Owner(label.KindVPNInstance, name) }

// wantedLabels: per instance that allocates per instance, its pinned label
// (0: a dynamic one).
func wantedLabels(t *datastore.Tree) map[string]uint32 {
	out := map[string]uint32{}
	if t == nil {
		return out
	}
	for _, it := range t.Entries(datastore.P("vpn-instances"), "vpn-instance") {
		af := it.Path.Child("ipv4-family")
		if !t.Exists(af) {
			continue
		}
		if mode, ok := t.Get(af.Child("apply-label")); ok && mode != "per-instance" {
			continue
		}
		var pinned uint32
		if v, ok := t.Get(af.Child("apply-label-static")); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				continue // the schema refuses it first
			}
			pinned = uint32(n)
		}
		out[it.Path.Last().Keys[0]] = pinned
	}
	return out
}

// Prepare reserves the labels the new configuration needs.
func (l *Labels) Prepare(ctx context.Context, c *datastore.Change) error {
	want := wantedLabels(c.New)
	l.mu.Lock()
	held := maps.Clone(l.held)
	l.mu.Unlock()
	keeps := func(name string, have uint32) bool {
		w, ok := want[name]
		if !ok {
			return false
		}
		if w != 0 {
			return w == have
		}
		return !l.Labels.IsStatic(have) // a dynamic label stays the instance's
	}
	tx := l.Labels.Begin()
	next := map[string]uint32{}
	for _, name := range slices.Sorted(maps.Keys(held)) {
		if keeps(name, held[name]) {
			next[name] = held[name]
		} else {
			_ = tx.Release(held[name], instanceOwner(name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := next[name]; ok {
			continue
		}
		if w := want[name]; w != 0 {
			if err := tx.Reserve(w, instanceOwner(name)); err != nil {
				tx.Abort()
				return pinnedError(name, w, err)
			}
			next[name] = w
			continue
		}
		v, err := tx.Allocate(instanceOwner(name))
		if err != nil {
			tx.Abort()
			if errors.Is(err, label.ErrExhausted) {
				return fmt.Errorf("No label is left for VPN instance %s (the dynamic label range is exhausted)", name)
			}
			return fmt.Errorf("VPN instance %s: %w", name, err)
		}
		next[name] = v
	}
	l.mu.Lock()
	l.pending[c.ID] = labelPlan{tx: tx, next: next}
	l.mu.Unlock()
	return nil
}

// pinnedError words a refused pinned label as VRP would.
func pinnedError(name string, v uint32, err error) error {
	var iu *label.InUseError
	switch {
	case errors.As(err, &iu):
		return fmt.Errorf("VPN instance %s cannot use the static label %d: %s uses it", name, v, label.Describe(iu.Holder))
	case errors.Is(err, label.ErrOutOfRange):
		return fmt.Errorf("VPN instance %s cannot use the static label %d: it is out of the static label range %d-%d", name, v, label.StaticMin, label.StaticMax)
	}
	return fmt.Errorf("VPN instance %s: static label %d: %w", name, v, err)
}

func (l *Labels) plan(id int) (labelPlan, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.pending[id]
	delete(l.pending, id)
	return p, ok
}

// Apply makes the labels final and programs them.
func (l *Labels) Apply(ctx context.Context, c *datastore.Change) {
	p, ok := l.plan(c.ID)
	if !ok {
		return
	}
	p.tx.Commit()
	l.mu.Lock()
	l.held = p.next
	l.mu.Unlock()
	if err := l.Load(ctx); err != nil {
		l.Log.Error("VPN instance labels not programmed", "commit", c.ID, "err", err)
	}
}

// Abort gives back what Prepare took.
func (l *Labels) Abort(ctx context.Context, c *datastore.Change) {
	if p, ok := l.plan(c.ID); ok {
		p.tx.Abort()
	}
}

// LSPs are the egress LSPs of the instances' labels.
func (l *Labels) LSPs() []rib.LSP {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []rib.LSP
	for _, name := range slices.Sorted(maps.Keys(l.held)) {
		out = append(out, rib.LSP{Name: name, Role: rib.Egress, Instance: name, InLabel: l.held[name]})
	}
	return out
}

// Load programs the labels held (after a commit, or when the RIB's feeders
// start again).
func (l *Labels) Load(ctx context.Context) error {
	return l.RIB.SetLSPs(ctx, rib.OwnerVPNInstance, l.LSPs())
}
