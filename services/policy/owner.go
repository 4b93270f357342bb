package policy

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"vpnos/services/mailbox"
	"vpnos/yang/datastore"
)

// Owner is the datastore participant for the routing-policy configuration
// and the holder of the applied Set. Prepare compiles the new
// configuration; Apply swaps it in atomically (Current never blocks and
// never sees a half-applied set) and tells every subscription which
// policies and filters changed; Abort drops what Prepare compiled.
type Owner struct {
	log *slog.Logger
	cur atomic.Pointer[Set]

	mu       sync.Mutex
	prepared *Set
	subs     []*Subscription
}

// New returns an owner whose current set is empty (every policy name
// unknown) until the first Apply.
func New(log *slog.Logger) *Owner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := &Owner{log: log}
	o.cur.Store(Compile(Config{}, nil))
	return o
}

// Current returns the applied set. It is immutable: callers may keep it
// and evaluate it from any goroutine.
func (o *Owner) Current() *Set { return o.cur.Load() }

// Validate checks a change (see datastore.Validator and Validate).
func (o *Owner) Validate(c *datastore.Change) []*datastore.RuleError { return Validate(c) }

// Prepare compiles the new configuration; it refuses one that breaks a
// rule (Validate normally refused it before).
func (o *Owner) Prepare(ctx context.Context, c *datastore.Change) error {
	cfg, problems := FromTree(c.New)
	if len(problems) > 0 {
		errs := make([]error, len(problems))
		for i, p := range problems {
			errs[i] = p
		}
		return errors.Join(errs...)
	}
	set := Compile(cfg, o.Current())
	o.mu.Lock()
	o.prepared = set
	o.mu.Unlock()
	return nil
}

// Apply makes the prepared set current and publishes what changed.
func (o *Owner) Apply(ctx context.Context, c *datastore.Change) {
	o.mu.Lock()
	defer o.mu.Unlock()
	set := o.prepared
	o.prepared = nil
	if set == nil {
		// Apply without Prepare (a participant registered late): compile
		// what the tree says, dropping what breaks a rule.
		cfg, problems := FromTree(c.New)
		for _, p := range problems {
			o.log.Warn("routing policy: refused node", "path", p.Path.String(), "reason", p.Msg)
		}
		set = Compile(cfg, o.Current())
	}
	old := o.cur.Swap(set)
	evs := Diff(old, set)
	for _, sub := range o.subs {
		for _, e := range evs {
			sub.box.Put(e.Ref, e)
		}
	}
	if len(evs) > 0 {
		o.log.Info("routing policy applied", "generation", set.Generation(), "changed", len(evs))
	}
}

// Abort drops the prepared set.
func (o *Owner) Abort(ctx context.Context, c *datastore.Change) {
	o.mu.Lock()
	o.prepared = nil
	o.mu.Unlock()
}

// Kind is the kind of a named routing-policy object.
type Kind uint8

// The kinds of objects an Event names.
const (
	KindPolicy Kind = iota + 1
	KindPrefixList
	KindCommunityFilter
	KindExtCommunityFilter
	KindASPathFilter
)

func (k Kind) String() string {
	switch k {
	case KindPolicy:
		return "route-policy"
	case KindPrefixList:
		return "ip-prefix"
	case KindCommunityFilter:
		return "community-filter"
	case KindExtCommunityFilter:
		return "extcommunity-filter"
	case KindASPathFilter:
		return "as-path-filter"
	}
	return "unknown"
}

// Ref names one object.
type Ref struct {
	Kind Kind
	Name string
}

// Event says that an object's outcome may have changed: it was created,
// changed or deleted, or (for a route-policy) a filter it names was.
// Exists tells whether it exists now.
type Event struct {
	Ref    Ref
	Exists bool
}

// Diff lists the objects whose results differ between two sets: every
// filter or policy added, removed or changed, and every policy that names
// one of those filters. Policies come last, sorted; so do filters within
// each kind.
func Diff(old, new *Set) []Event {
	var a, b Config
	if old != nil {
		a = old.cfg
	}
	if new != nil {
		b = new.cfg
	}
	var evs []Event
	changedFilters := map[Ref]bool{}
	diffMap(&evs, changedFilters, KindPrefixList, a.PrefixLists, b.PrefixLists)
	diffMap(&evs, changedFilters, KindCommunityFilter, a.CommunityFilters, b.CommunityFilters)
	diffMap(&evs, changedFilters, KindExtCommunityFilter, a.ExtCommunityFilters, b.ExtCommunityFilters)
	diffMap(&evs, changedFilters, KindASPathFilter, a.ASPathFilters, b.ASPathFilters)
	names := map[string]bool{}
	for n := range a.Policies {
		names[n] = true
	}
	for n := range b.Policies {
		names[n] = true
	}
	var policies []string
	for n := range names {
		na, inA := a.Policies[n]
		nb, inB := b.Policies[n]
		if inA != inB || !reflect.DeepEqual(na, nb) || refersTo(na, changedFilters) || refersTo(nb, changedFilters) {
			policies = append(policies, n)
		}
	}
	slices.Sort(policies)
	for _, n := range policies {
		_, exists := b.Policies[n]
		evs = append(evs, Event{Ref: Ref{KindPolicy, n}, Exists: exists})
	}
	return evs
}

func diffMap[E any](evs *[]Event, changed map[Ref]bool, k Kind, a, b map[string][]E) {
	var names []string
	for n, x := range a {
		if y, ok := b[n]; !ok || !reflect.DeepEqual(x, y) {
			names = append(names, n)
		}
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		_, exists := b[n]
		r := Ref{k, n}
		changed[r] = true
		*evs = append(*evs, Event{Ref: r, Exists: exists})
	}
}

// refersTo reports whether a node of the policy names a changed filter.
func refersTo(nodes []Node, changed map[Ref]bool) bool {
	if len(changed) == 0 {
		return false
	}
	for _, n := range nodes {
		m := n.Match
		if m.IPPrefix != "" && changed[Ref{KindPrefixList, m.IPPrefix}] {
			return true
		}
		for _, c := range m.CommunityFilters {
			if changed[Ref{KindCommunityFilter, c.Name}] {
				return true
			}
		}
		for _, f := range m.ExtCommunityFilters {
			if changed[Ref{KindExtCommunityFilter, f}] {
				return true
			}
		}
		for _, f := range m.ASPathFilters {
			if changed[Ref{KindASPathFilter, f}] {
				return true
			}
		}
	}
	return false
}

// Subscription receives the Events of every Apply after Subscribe. It
// never blocks the owner: events wait in a mailbox, one per object (the
// latest), until Take.
type Subscription struct {
	box *mailbox.Mailbox[Ref, Event]
	o   *Owner
}

// Subscribe starts a subscription. Nothing waits in it at first: the
// subscriber reads Current for the state it starts from.
func (o *Owner) Subscribe() *Subscription {
	sub := &Subscription{box: mailbox.New[Ref, Event](nil), o: o}
	o.mu.Lock()
	o.subs = append(o.subs, sub)
	o.mu.Unlock()
	return sub
}

// C signals that events are waiting.
func (s *Subscription) C() <-chan struct{} { return s.box.C() }

// Take returns the waiting events and the set they lead to: evaluating
// the named policies on that set gives the new results. (Objects of a
// later Apply may already show in the set; their events then wait for the
// next Take.)
func (s *Subscription) Take() ([]Event, *Set) {
	evs := s.box.Take()
	return evs, s.o.Current()
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.box.Close()
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	s.o.subs = slices.DeleteFunc(s.o.subs, func(x *Subscription) bool { return x == s })
}
