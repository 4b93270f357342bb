package ldp

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"vpnos/yang/datastore"
)

// The LDP configuration as VRP writes it:
//
//	mpls lsr-id 10.255.0.1            (services/mpls)
//	mpls                              (services/mpls)
//	 label advertise implicit-null    (services/mpls; LDP reads it)
//	 lsp-trigger host                 LDP
//	mpls ldp                          LDP
//	 lsr-id 10.255.0.1                LDP (the MPLS LSR ID when not set)
//	interface GigabitEthernet0/3/0
//	 mpls                             (services/mpls)
//	 mpls ldp                         LDP
//	 mpls ldp timer hello-hold 15     LDP
//	 mpls ldp timer keepalive-hold 45 LDP
//
// The participant owns Prefixes; the MPLS settings it reads belong to
// services/mpls, whose Apply tells LDP about their changes (Follow).

// Prefixes are the configuration paths LDP owns.
var Prefixes = []string{
	"/mpls/ldp",
	"/mpls/enable/lsp-trigger",
	"/interfaces/interface/mpls-ldp",
	"/interfaces/interface/mpls-ldp-hello-hold",
	"/interfaces/interface/mpls-ldp-keepalive-hold",
}

var (
	pathMPLS   = datastore.P("mpls")
	pathEnable = datastore.P("mpls", "enable")
	pathLDP    = datastore.P("mpls", "ldp")
	pathIfaces = datastore.P("interfaces")
)

// Interface leaves of LDP.
const (
	leafIfLDP       = "mpls-ldp"
	leafIfHelloHold = "mpls-ldp-hello-hold"
	leafIfKAHold    = "mpls-ldp-keepalive-hold"
)

// FromTree reads the LDP configuration of the public network from a
// configuration tree (pure). Values the rules refuse (Validate) are read as
// best they can be; a tree that passed validation reads exactly.
func FromTree(t *datastore.Tree) Config {
	var c Config
	c.Enabled = t.Exists(pathLDP)
	if v, ok := t.Get(pathLDP.Child("lsr-id")); ok {
		c.LSRID, _ = netip.ParseAddr(v)
	} else if v, ok := t.Get(pathMPLS.Child("lsr-id")); ok {
		c.LSRID, _ = netip.ParseAddr(v)
	}
	switch v, _ := t.Get(pathEnable.Child("lsp-trigger")); v {
	case "all":
		c.Trigger = TriggerAll
	case "none":
		c.Trigger = TriggerNone
	}
	switch v, _ := t.Get(pathEnable.Child("label-advertise")); v {
	case "explicit-null":
		c.Advertise = AdvertiseExplicitNull
	case "non-null":
		c.Advertise = AdvertiseNonNull
	}
	for _, ifc := range t.Entries(pathIfaces, "interface") {
		if !t.Exists(ifc.Path.Child(leafIfLDP)) {
			continue
		}
		ic := InterfaceConfig{Name: ifc.Path.Last().Keys[0]}
		ic.HelloHold = seconds(t, ifc.Path.Child(leafIfHelloHold))
		ic.KeepaliveHold = seconds(t, ifc.Path.Child(leafIfKAHold))
		c.Interfaces = append(c.Interfaces, ic)
	}
	return c
}

func seconds(t *datastore.Tree, p datastore.Path) time.Duration {
	v, ok := t.Get(p)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// Validate returns the refusals of the LDP rules for the configuration a
// change leads to (pure; see datastore.Validator).
func Validate(c *datastore.Change) []*datastore.RuleError {
	t := c.New
	var errs []*datastore.RuleError
	ldpOn := t.Exists(pathLDP)
	mplsOn := t.Exists(pathEnable)
	if ldpOn && !mplsOn {
		errs = append(errs, datastore.Refuse(pathLDP, "MPLS must be enabled globally before LDP is enabled"))
	}
	if v, ok := t.Get(pathLDP.Child("lsr-id")); ok {
		if a, err := netip.ParseAddr(v); err != nil || !usableLSRID(a) {
			errs = append(errs, datastore.Refuse(pathLDP.Child("lsr-id"), "The LSR ID %s is not a unicast address", v))
		}
	}
	for _, ifc := range t.Entries(pathIfaces, "interface") {
		name := ifc.Path.Last().Keys[0]
		on := t.Exists(ifc.Path.Child(leafIfLDP))
		if on {
			switch {
			case strings.HasPrefix(name, "LoopBack") || strings.EqualFold(name, "NULL0"):
				errs = append(errs, datastore.Refuse(ifc.Path.Child(leafIfLDP), "LDP cannot be enabled on %s", name))
			case !ldpOn:
				errs = append(errs, datastore.Refuse(ifc.Path.Child(leafIfLDP), "LDP must be enabled globally before it is enabled on %s", name))
			case !t.Exists(ifc.Path.Child("mpls")):
				errs = append(errs, datastore.Refuse(ifc.Path.Child(leafIfLDP), "MPLS must be enabled on %s before LDP is enabled there", name))
			}
			if v, bound := t.Get(ifc.Path.Child("vpn-instance")); bound && v != "" {
				errs = append(errs, datastore.Refuse(ifc.Path.Child(leafIfLDP), "LDP runs in the public network only, and %s is bound to VPN instance %s", name, v))
			}
		}
		for _, leaf := range []string{leafIfHelloHold, leafIfKAHold} {
			if _, set := t.Get(ifc.Path.Child(leaf)); set && !on {
				errs = append(errs, datastore.Refuse(ifc.Path.Child(leaf), "LDP must be enabled on %s before its LDP timers are set", name))
			}
		}
	}
	return errs
}

// usableLSRID: an LSR ID is a unicast address (not 0.0.0.0, loopback,
// multicast or broadcast).
func usableLSRID(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// Participant is the datastore participant of the LDP configuration
// (Prefixes). LDP reserves nothing at commit time (its labels are chosen at
// run time, from the label manager's dynamic range), so Prepare accepts
// and Abort releases nothing; Apply hands the new configuration to the
// service.
type Participant struct {
	// Service runs LDP (nil: validation only, for front-end tests).
	Service *Service
	Log     *slog.Logger
}

// Validate implements datastore.Validator.
func (p *Participant) Validate(c *datastore.Change) []*datastore.RuleError { return Validate(c) }

// Prepare implements datastore.Participant.
func (p *Participant) Prepare(ctx context.Context, c *datastore.Change) error { return nil }

// Apply implements datastore.Participant.
func (p *Participant) Apply(ctx context.Context, c *datastore.Change) { p.Load(c.New) }

// Abort implements datastore.Participant.
func (p *Participant) Abort(ctx context.Context, c *datastore.Change) {}

// Follow is the hook services/mpls calls when it applies a change of the
// MPLS settings LDP reads (the LSR ID, label advertise).
func (p *Participant) Follow(ctx context.Context, c *datastore.Change) { p.Load(c.New) }

// Load hands the service the configuration of a running tree (the
// daemon's start, a restarted service).
func (p *Participant) Load(t *datastore.Tree) {
	if p.Service != nil {
		p.Service.Configure(FromTree(t))
	}
}
