// Package mpls owns the global MPLS configuration: the LSR ID, MPLS enabled
// globally (`mpls`) and per interface (`mpls` in an interface view), and
// the label advertised for the router's own routes (`label advertise`).
// It is the datastore participant for /mpls and /interfaces/interface/mpls;
// LDP (/mpls/ldp, interface `mpls ldp`) belongs to its own service.
//
// The label protocols (LDP, BGP's VPN labels) read the applied
// configuration from Owner.Config; the rules every front end meets are in
// Validate.
package mpls

import (
	"context"
	"net/netip"
	"slices"
	"sync"

	"vpnos/yang/datastore"
)

// Prefixes are the configuration paths this package owns.
var Prefixes = []string{"/mpls", "/interfaces/interface/mpls"}

var (
	pathMPLS       = datastore.P("mpls")
	pathInterfaces = datastore.P("interfaces")
)

// Advertise is the label a router advertises for its own routes.
type Advertise uint8

const (
	// ImplicitNull (label 3, the default) asks the upstream router to pop
	// the label: penultimate-hop popping.
	ImplicitNull Advertise = iota
	// ExplicitNull (label 0) keeps a label on the last hop.
	ExplicitNull
	// NonNull advertises an ordinary label.
	NonNull
)

func (a Advertise) String() string {
	return [...]string{"implicit-null", "explicit-null", "non-null"}[a]
}

// Config is the typed MPLS configuration.
type Config struct {
	LSRID   netip.Addr // invalid when not configured
	Enabled bool       // `mpls` in the system view
	// Advertise is the label for own routes (meaningful when Enabled).
	Advertise Advertise
	// Interfaces are the interfaces (VRP names) with MPLS enabled, sorted.
	Interfaces []string
}

// FromTree reads the MPLS configuration of t (pure).
func FromTree(t *datastore.Tree) Config {
	var c Config
	if v, ok := t.Get(pathMPLS.Child("lsr-id")); ok {
		c.LSRID, _ = netip.ParseAddr(v)
	}
	c.Enabled = t.Exists(pathMPLS.Child("enable"))
	switch v, _ := t.Get(pathMPLS.Child("enable").Child("label-advertise")); v {
	case "explicit-null":
		c.Advertise = ExplicitNull
	case "non-null":
		c.Advertise = NonNull
	}
	for _, ifc := range t.Entries(pathInterfaces, "interface") {
		if _, on := t.Get(ifc.Path.Child("mpls")); on {
			c.Interfaces = append(c.Interfaces, ifc.Path.Last().Keys[0])
		}
	}
	slices.Sort(c.Interfaces)
	return c
}

// Validate returns the refusals of the MPLS rules (pure).
func Validate(c *datastore.Change) []*datastore.RuleError {
	var errs []*datastore.RuleError
	t := c.New
	lsrID, hasLSR := t.Get(pathMPLS.Child("lsr-id"))
	mplsOn := t.Exists(pathMPLS.Child("enable"))
	// The trees a change starts from: running, and the candidate before
	// the edit being checked (rules about steps hold from both; a
	// rollback restores a configuration and is not a step).
	var befores []*datastore.Tree
	if !c.Rollback {
		for _, b := range []*datastore.Tree{c.Old, c.Prev} {
			if b != nil {
				befores = append(befores, b)
			}
		}
	}
	if mplsOn && !hasLSR {
		e := datastore.Refuse(pathMPLS.Child("enable"), "The MPLS LSR ID must be configured before MPLS is enabled")
		for _, b := range befores {
			if _, had := b.Get(pathMPLS.Child("lsr-id")); had && b.Exists(pathMPLS.Child("enable")) {
				e = datastore.Refuse(pathMPLS.Child("lsr-id"), "The MPLS LSR ID cannot be deleted while MPLS is enabled; run undo mpls first")
			}
		}
		errs = append(errs, e)
	}
	for _, ifc := range t.Entries(pathInterfaces, "interface") {
		name := ifc.Path.Last().Keys[0]
		if _, on := t.Get(ifc.Path.Child("mpls")); on && !mplsOn {
			errs = append(errs, datastore.Refuse(ifc.Path.Child("mpls"), "MPLS must be enabled globally before it is enabled on %s", name))
		}
		// The LSR ID is an address of the public instance: the interface
		// holding it stays there.
		vrf, bound := t.Get(ifc.Path.Child("vpn-instance"))
		if !bound || vrf == "" || !hasLSR {
			continue
		}
		held := holdsAddress(t, ifc.Path, lsrID)
		for _, b := range befores {
			held = held || holdsAddress(b, ifc.Path, lsrID)
		}
		if held {
			errs = append(errs, datastore.Refuse(ifc.Path.Child("vpn-instance"), "The interface %s holds the MPLS LSR ID %s and cannot be bound to a VPN instance", name, lsrID))
		}
	}
	// Nor can it be deleted while the LSR ID stays.
	if hasLSR {
		seen := map[string]bool{}
		for _, b := range befores {
			for _, ifc := range b.Entries(pathInterfaces, "interface") {
				name := ifc.Path.Last().Keys[0]
				if seen[name] || t.Exists(ifc.Path) || !holdsAddress(b, ifc.Path, lsrID) {
					continue
				}
				seen[name] = true
				errs = append(errs, datastore.Refuse(ifc.Path, "The interface %s holds the MPLS LSR ID %s and cannot be deleted", name, lsrID))
			}
		}
	}
	return errs
}

// holdsAddress reports whether the interface at ifc has the address a in t.
func holdsAddress(t *datastore.Tree, ifc datastore.Path, a string) bool {
	for _, ad := range t.Entries(ifc.Child("ipv4"), "address") {
		if ad.Path.Last().Keys[0] == a {
			return true
		}
	}
	return false
}

// Owner is the datastore participant: it validates, and keeps the applied
// configuration for the services that use it.
type Owner struct {
	mu      sync.Mutex
	cur     Config
	follows []func(ctx context.Context, c *datastore.Change)
}

// New returns an owner with nothing applied.
func New() *Owner { return &Owner{} }

// Validate checks a change (see datastore.Validator).
func (o *Owner) Validate(c *datastore.Change) []*datastore.RuleError { return Validate(c) }

// Prepare accepts: global MPLS settings reserve nothing.
func (o *Owner) Prepare(ctx context.Context, c *datastore.Change) error { return nil }

// Apply makes the new configuration the applied one, and tells the
// protocols that follow it (OnApply).
func (o *Owner) Apply(ctx context.Context, c *datastore.Change) {
	cfg := FromTree(c.New)
	o.mu.Lock()
	o.cur = cfg
	follows := o.follows
	o.mu.Unlock()
	for _, f := range follows {
		f(ctx, c)
	}
}

// OnApply adds f to what Apply calls after it applied a change of the MPLS
// settings: a label protocol that reads them (LDP reads the LSR ID and
// label advertise) applies the new tree too. f cannot fail, as Apply.
func (o *Owner) OnApply(f func(ctx context.Context, c *datastore.Change)) {
	o.mu.Lock()
	o.follows = append(o.follows, f)
	o.mu.Unlock()
}

// Abort has nothing to release.
func (o *Owner) Abort(ctx context.Context, c *datastore.Change) {}

// Config returns the applied configuration.
func (o *Owner) Config() Config {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.cur
	c.Interfaces = slices.Clone(c.Interfaces)
	return c
}
