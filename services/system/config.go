// Package system owns the device-wide settings: the sysname and the VTY
// user interfaces that SSH sessions use (`user-interface vty 0 4`: page
// length and idle timeout). It is the datastore participant for /system
// and /user-interface; the SSH server reads the applied idle timeout from
// Owner.
package system

import (
	"context"
	"strconv"
	"sync"
	"time"

	"vpnos/yang/datastore"
)

// Prefixes are the configuration paths this package owns.
var Prefixes = []string{"/system", "/user-interface"}

var (
	pathSysname = datastore.P("system", "sysname")
	pathVTY     = datastore.P("user-interface", "vty")
)

// Config is the typed system configuration.
type Config struct {
	Sysname string // "" when not configured
	VTY     VTY
}

// VTY is the configuration of `user-interface vty 0 4`.
type VTY struct {
	// ScreenLength is the page length of new SSH sessions (0: no paging);
	// HasScreenLength tells whether it is set.
	ScreenLength    int
	HasScreenLength bool
	// IdleTimeout closes an SSH session without input (0: never);
	// HasIdleTimeout tells whether it is set.
	IdleTimeout    time.Duration
	HasIdleTimeout bool
}

// FromTree reads the system configuration of t (pure).
func FromTree(t *datastore.Tree) Config {
	var c Config
	c.Sysname, _ = t.Get(pathSysname)
	if v, ok := t.Get(pathVTY.Child("screen-length")); ok {
		c.VTY.ScreenLength, _ = strconv.Atoi(v)
		c.VTY.HasScreenLength = true
	}
	if m, ok := t.Get(pathVTY.Child("idle-timeout")); ok {
		mins, _ := strconv.Atoi(m)
		secs := 0
		if v, ok := t.Get(pathVTY.Child("idle-timeout-seconds")); ok {
			secs, _ = strconv.Atoi(v)
		}
		c.VTY.IdleTimeout = time.Duration(mins)*time.Minute + time.Duration(secs)*time.Second
		c.VTY.HasIdleTimeout = true
	}
	return c
}

// Validate returns the refusals of the system rules (pure).
func Validate(c *datastore.Change) []*datastore.RuleError {
	var errs []*datastore.RuleError
	t := c.New
	_, mins := t.Get(pathVTY.Child("idle-timeout"))
	if _, secs := t.Get(pathVTY.Child("idle-timeout-seconds")); secs && !mins {
		errs = append(errs, datastore.Refuse(pathVTY.Child("idle-timeout-seconds"), "The idle-timeout seconds need the idle-timeout minutes"))
	}
	if v, ok := t.Get(pathRouterID); ok && v == "0.0.0.0" {
		errs = append(errs, datastore.Refuse(pathRouterID, "The router ID 0.0.0.0 is not valid"))
	}
	return errs
}

// Owner is the datastore participant: it validates, and keeps the applied
// configuration for the services that use it.
type Owner struct {
	mu  sync.Mutex
	cur Config
	// routerIDFollows are called after a change of `router id`.
	routerIDFollows []func(ctx context.Context, c *datastore.Change)
}

// New returns an owner with nothing applied.
func New() *Owner { return &Owner{} }

// Validate checks a change (see datastore.Validator).
func (o *Owner) Validate(c *datastore.Change) []*datastore.RuleError { return Validate(c) }

// Prepare accepts: system settings reserve nothing.
func (o *Owner) Prepare(ctx context.Context, c *datastore.Change) error { return nil }

// Apply makes the new configuration the applied one, and tells the
// protocols that follow the system router ID (OnRouterID) when `router id`
// changed.
func (o *Owner) Apply(ctx context.Context, c *datastore.Change) {
	cfg := FromTree(c.New)
	o.mu.Lock()
	o.cur = cfg
	follows := o.routerIDFollows
	o.mu.Unlock()
	if c.Old != nil && routerIDLeaf(c.Old) == routerIDLeaf(c.New) {
		return
	}
	for _, f := range follows {
		f(ctx, c)
	}
}

func routerIDLeaf(t *datastore.Tree) string {
	v, _ := t.Get(pathRouterID)
	return v
}

// OnRouterID adds f to what Apply calls after a change of `router id`: the
// protocols whose participants read the system router ID (RouterID) for
// the processes without a router ID of their own (BGP, OSPF) read the new
// tree too, although none of their own nodes changed. f cannot fail, as
// Apply. What the protocols do with it is theirs: VRP keeps a running
// router ID until the process is reset.
func (o *Owner) OnRouterID(f func(ctx context.Context, c *datastore.Change)) {
	o.mu.Lock()
	o.routerIDFollows = append(o.routerIDFollows, f)
	o.mu.Unlock()
}

// Abort has nothing to release.
func (o *Owner) Abort(ctx context.Context, c *datastore.Change) {}

// Config returns the applied configuration.
func (o *Owner) Config() Config {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cur
}

// IdleTimeout is the idle timeout the VTY configuration sets for new SSH
// sessions, ok false when it sets none.
func (o *Owner) IdleTimeout() (time.Duration, bool) {
	c := o.Config()
	return c.VTY.IdleTimeout, c.VTY.HasIdleTimeout
}
