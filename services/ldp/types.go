package ldp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Trigger is `lsp-trigger` in mpls view: which routes make this router the
// ingress or the egress of an LDP LSP. Transit LSPs follow every mapping
// received from the downstream next hop of a route, whatever the trigger
// (VRP's `propagate mapping` default).
type Trigger uint8

// Triggers.
const (
	// TriggerHost: /32 host routes only (VRP's default).
	TriggerHost Trigger = iota
	TriggerAll
	TriggerNone
)

func (t Trigger) String() string {
	switch t {
	case TriggerAll:
		return "all"
	case TriggerNone:
		return "none"
	}
	return "host"
}

// Selects reports whether the trigger selects prefix p.
func (t Trigger) Selects(p netip.Prefix) bool {
	switch t {
	case TriggerAll:
		return true
	case TriggerHost:
		return p.Bits() == 32
	}
	return false
}

// Advertise is `label advertise` in mpls view: the label this router
// advertises for its own FECs (it is their egress).
type Advertise uint8

// Label advertisement modes.
const (
	// AdvertiseImplicitNull: label 3, the penultimate hop pops (PHP; the
	// default).
	AdvertiseImplicitNull Advertise = iota
	// AdvertiseExplicitNull: label 0; this router pops it.
	AdvertiseExplicitNull
	// AdvertiseNonNull: an ordinary label from the dynamic range; this
	// router pops it.
	AdvertiseNonNull
)

func (a Advertise) String() string {
	switch a {
	case AdvertiseExplicitNull:
		return "explicit-null"
	case AdvertiseNonNull:
		return "non-null"
	}
	return "implicit-null"
}

// VRP's defaults and ranges of the LDP timers.
const (
	DefaultHelloHold     = 15 * time.Second
	DefaultKeepaliveHold = 45 * time.Second
	MinHelloHold         = 3 * time.Second
	MinKeepaliveHold     = 30 * time.Second
	MaxHold              = 65535 * time.Second
)

// Config is the LDP configuration of the public instance, as the datastore
// applies it (FromTree in config.go builds it from the configuration).
type Config struct {
	// Enabled is `mpls ldp` in system view (it needs `mpls lsr-id` and
	// `mpls`). Disabling tears every session down with a Shutdown
	// Notification.
	Enabled bool
	// LSRID is `lsr-id` in mpls-ldp view, else `mpls lsr-id`. It is the
	// LDP Identifier (with label space 0) and the transport address.
	LSRID netip.Addr
	// HelloHold and KeepaliveHold are defaults for every interface (0: VRP's,
	// 15 s and 45 s). VRP sets the timers per interface (`mpls ldp timer
	// hello-hold|keepalive-hold` in interface view), so FromTree leaves
	// these at 0.
	HelloHold     time.Duration
	KeepaliveHold time.Duration
	Trigger       Trigger
	Advertise     Advertise
	// Interfaces are the interfaces with `mpls ldp`.
	Interfaces []InterfaceConfig
}

// InterfaceConfig is `mpls ldp` on one interface.
type InterfaceConfig struct {
	// Name is the interface as the configuration names it (VRP name,
	// "GigabitEthernet0/3/0"); it matches Interface.Name or
	// Interface.VRPName, without regard to case.
	Name string
	// HelloHold and KeepaliveHold override the global timers (0: inherit).
	HelloHold     time.Duration
	KeepaliveHold time.Duration
}

// Errors of Validate.
var ErrBadConfig = errors.New("invalid LDP configuration")

// Validate checks a configuration the way a participant's validation
// does: an enabled LDP needs an IPv4 LSR ID, and timers must lie in VRP's
// ranges (hello-hold 3-65535 s, keepalive-hold 30-65535 s, whole seconds).
func (c Config) Validate() error {
	if c.Enabled && !c.LSRID.Is4() {
		return fmt.Errorf("%w: the LSR ID is not configured", ErrBadConfig)
	}
	check := func(what string, d, lo time.Duration) error {
		if d == 0 {
			return nil
		}
		if d < lo || d > MaxHold || d%time.Second != 0 {
			return fmt.Errorf("%w: %s %v out of range %d-%d seconds", ErrBadConfig, what, d, lo/time.Second, MaxHold/time.Second)
		}
		return nil
	}
	if err := check("hello-hold", c.HelloHold, MinHelloHold); err != nil {
		return err
	}
	if err := check("keepalive-hold", c.KeepaliveHold, MinKeepaliveHold); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, i := range c.Interfaces {
		n := strings.ToLower(i.Name)
		if n == "" {
			return fmt.Errorf("%w: interface without a name", ErrBadConfig)
		}
		if seen[n] {
			return fmt.Errorf("%w: interface %s configured twice", ErrBadConfig, i.Name)
		}
		seen[n] = true
		if err := check(i.Name+" hello-hold", i.HelloHold, MinHelloHold); err != nil {
			return err
		}
		if err := check(i.Name+" keepalive-hold", i.KeepaliveHold, MinKeepaliveHold); err != nil {
			return err
		}
	}
	return nil
}

func (c Config) helloHold(ic *InterfaceConfig) time.Duration {
	if ic != nil && ic.HelloHold > 0 {
		return ic.HelloHold
	}
	if c.HelloHold > 0 {
		return c.HelloHold
	}
	return DefaultHelloHold
}

func (c Config) keepaliveHold(ic *InterfaceConfig) time.Duration {
	if ic != nil && ic.KeepaliveHold > 0 {
		return ic.KeepaliveHold
	}
	if c.KeepaliveHold > 0 {
		return c.KeepaliveHold
	}
	return DefaultKeepaliveHold
}

// Interface is an interface of the public instance as the core sees it
// (all of them, not only those with LDP: their addresses go into Address
// messages, so that peers can map next hops to this router).
type Interface struct {
	// Name is the key, and the name route next hops use (the kernel name,
	// "eth1").
	Name string
	// VRPName is the name displays print ("GigabitEthernet0/1/0"); empty
	// means Name.
	VRPName string
	// Device is the kernel device the Hello socket binds to; empty means
	// Name. (Inside the daemon Name is the VRP name and Device the kernel
	// name; tests may use kernel names alone.)
	Device string
	// Addrs are the IPv4 addresses with their lengths, primary first.
	Addrs []netip.Prefix
	Up    bool
	MTU   int
}

func (i Interface) device() string {
	if i.Device != "" {
		return i.Device
	}
	return i.Name
}

func (i Interface) displayName() string {
	if i.VRPName != "" {
		return i.VRPName
	}
	return i.Name
}

// NextHop is one next hop of a route.
type NextHop struct {
	// Gateway is the next-hop router (invalid for a directly attached
	// route: this router is then the egress of the FEC).
	Gateway netip.Addr
	// Interface is the outgoing interface (Interface.Name or VRPName).
	// Next hops must be resolved: an LSP only leaves through an LDP
	// interface towards a directly connected gateway.
	Interface string
}

// Route is a best route of the public routing table, with its resolved
// next hops (several for ECMP).
type Route struct {
	Prefix   netip.Prefix
	NextHops []NextHop
}

// egress reports whether the route is this router's own: no next hop has
// a gateway (a loopback address, an attached network).
func (r Route) egress() bool {
	for _, nh := range r.NextHops {
		if nh.Gateway.IsValid() {
			return false
		}
	}
	return true
}

func (r Route) equal(o Route) bool {
	return r.Prefix == o.Prefix && slices.Equal(r.NextHops, o.NextHops)
}

// NoLabel marks the absence of a label.
const NoLabel = ^uint32(0)

// Hop is one downstream next hop of an LSP.
type Hop struct {
	Gateway   netip.Addr
	Interface string
	// Peer is the LSR ID of the downstream peer that advertised Out.
	Peer netip.Addr
	// Out is the label to push (ingress) or swap to (transit); implicit
	// null (3) means nothing is pushed, or the label is popped.
	Out uint32
}

// LSP is LDP's forwarding state for one FEC, as it goes to the RIB's
// owner-keyed LSPs (owner "ldp", bound to the FEC route).
type LSP struct {
	FEC netip.Prefix
	// Local is the label advertised upstream for the FEC: the in-label of
	// the transit or egress entry (NoLabel: none advertised).
	Local uint32
	// Egress: the FEC is this router's own. An implicit-null Local
	// programs nothing; explicit null (0) is popped by the forwarder
	// anyway; another label pops and looks up in the public instance.
	Egress bool
	// Ingress: lsp-trigger selects the FEC, so traffic entering here for
	// it takes the LSP (the FEC route's next hops carry Out).
	Ingress bool
	// NextHops are the downstream next hops with their out-labels (empty
	// at the egress); several for ECMP.
	NextHops []Hop
}

// Equal reports whether two LSPs are the same.
func (l LSP) Equal(o LSP) bool {
	return l.FEC == o.FEC && l.Local == o.Local && l.Egress == o.Egress && l.Ingress == o.Ingress &&
		slices.Equal(l.NextHops, o.NextHops)
}

// Transit reports whether the LSP has a transit entry (an advertised
// label swapped towards the downstream next hops).
func (l LSP) Transit() bool {
	return !l.Egress && l.Local != NoLabel && len(l.NextHops) > 0
}

// Allocator hands out this router's labels (the label manager's dynamic
// range, owner "ldp").
type Allocator interface {
	Allocate() (uint32, error)
	Free(label uint32)
}
