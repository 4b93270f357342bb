package vrf

import (
	"net/netip"
	"strings"

	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/yang/datastore"
)

// The rules of the configuration the vrf service owns (/vpn-instances and
// /interfaces). They are pure: Validate reads the trees of the change and
// nothing else, so every front end (the CLI, the startup file, NETCONF)
// meets the same refusals with the same sentences.

var (
	pathInstances  = datastore.P("vpn-instances")
	pathInterfaces = datastore.P("interfaces")
)

// RDDependents are the settings of a VPN instance's IPv4 family that need
// its route distinguisher: they are refused without one, and VRP's `undo
// route-distinguisher` removes them.
var RDDependents = []string{"vpn-target", "apply-label", "apply-label-static", "import-route-policy", "export-route-policy", "tnl-policy"}

// Validate checks the configuration of a change (see datastore.Validator).
func (s *Service) Validate(c *datastore.Change) []*datastore.RuleError { return Validate(c) }

// Validate returns the refusals of the VPN instance and interface rules.
func Validate(c *datastore.Change) []*datastore.RuleError {
	var errs []*datastore.RuleError
	errs = append(errs, validateInstances(c)...)
	errs = append(errs, validateInterfaces(c.New)...)
	return errs
}

func instanceName(it *datastore.Item) string { return it.Path.Last().Keys[0] }

func validateInstances(c *datastore.Change) []*datastore.RuleError {
	var errs []*datastore.RuleError
	t := c.New
	rds := map[string]string{}
	// Incoming labels in use: static LSPs first, then pinned instance labels.
	labels := map[string]string{}
	for _, kind := range []string{"transit", "egress"} {
		for _, e := range t.Entries(datastore.P("static-lsps"), kind) {
			if l, ok := t.Get(e.Path.Child("in-label")); ok {
				labels[l] = "static LSP " + e.Path.Last().Keys[0]
			}
		}
	}
	for _, vi := range t.Entries(pathInstances, "vpn-instance") {
		name := instanceName(vi)
		if name == fibapi.Public {
			errs = append(errs, datastore.Refuse(vi.Path, "The name %s is reserved for the public instance", fibapi.Public))
		}
		af := vi.Path.Child("ipv4-family")
		rdPath := af.Child("route-distinguisher")
		rd, hasRD := t.Get(rdPath)
		if !hasRD {
			for _, dep := range RDDependents {
				if t.Exists(af.Child(dep)) {
					errs = append(errs, datastore.Refuse(af.Child(dep), "The route-distinguisher of VPN instance %s must be configured before %s", name, dep))
					break
				}
			}
		} else {
			if other, dup := rds[rd]; dup {
				errs = append(errs, datastore.Refuse(rdPath, "The route-distinguisher %s of VPN instance %s is already used by VPN instance %s", rd, name, other))
			} else {
				rds[rd] = name
			}
			if e := rdInPlace(c, rdPath, name, rd); e != nil {
				errs = append(errs, e)
			}
		}
		// A pinned instance label (apply-label per-instance static L) needs
		// the per-instance mode, and no other instance or static LSP may
		// use the same incoming label.
		lp := af.Child("apply-label-static")
		if l, ok := t.Get(lp); ok {
			if mode, set := t.Get(af.Child("apply-label")); set && mode != "per-instance" {
				errs = append(errs, datastore.Refuse(lp, "A static label needs apply-label per-instance (VPN instance %s)", name))
			}
			if other, dup := labels[l]; dup {
				errs = append(errs, datastore.Refuse(lp, "VPN instance %s cannot use the static label %s: %s uses it", name, l, other))
			}
			labels[l] = "VPN instance " + name
		}
	}
	return errs
}

// rdInPlace refuses changing a route distinguisher in one step: the old one
// is removed first, because every route of the instance was advertised with
// it. Against running (Old) that takes a commit of its own; within a
// candidate (Prev, an RD not committed yet) an undo. A rollback may jump
// across the rule.
func rdInPlace(c *datastore.Change, rdPath datastore.Path, name, rd string) *datastore.RuleError {
	if c.Rollback {
		return nil
	}
	if c.Old != nil {
		if was, had := c.Old.Get(rdPath); had && was != rd {
			return datastore.Refuse(rdPath, "The route-distinguisher of VPN instance %s cannot be changed from %s to %s; remove it and commit first", name, was, rd)
		}
	}
	if c.Prev != nil {
		if was, had := c.Prev.Get(rdPath); had && was != rd {
			return datastore.Refuse(rdPath, "The route-distinguisher cannot be changed; undo the current one (%s) first", was)
		}
	}
	return nil
}

type ifAddr struct {
	ifname, vrf string
	path        datastore.Path
	pfx         netip.Prefix
	sub         bool
}

func interfaceAddresses(t *datastore.Tree) []ifAddr {
	var out []ifAddr
	for _, ifc := range t.Entries(pathInterfaces, "interface") {
		name := ifc.Path.Last().Keys[0]
		vrf, _ := t.Get(ifc.Path.Child("vpn-instance"))
		for _, a := range t.Entries(ifc.Path.Child("ipv4"), "address") {
			ip, err := netip.ParseAddr(a.Path.Last().Keys[0])
			if err != nil {
				continue
			}
			m, _ := t.Get(a.Path.Child("mask"))
			l, ok := datastore.MaskLen(m)
			if !ok {
				continue
			}
			_, sub := t.Get(a.Path.Child("sub"))
			out = append(out, ifAddr{name, vrf, a.Path, netip.PrefixFrom(ip, l), sub})
		}
	}
	return out
}

func validateInterfaces(t *datastore.Tree) []*datastore.RuleError {
	var errs []*datastore.RuleError
	for _, ifc := range t.Entries(pathInterfaces, "interface") {
		if name := ifc.Path.Last().Keys[0]; name == iface.ManagementName {
			errs = append(errs, datastore.Refuse(ifc.Path, "The management interface %s cannot be configured", name))
		}
	}
	addrs := interfaceAddresses(t)
	primaries := map[string]int{}
	subs := map[string]int{}
	where := map[string]datastore.Path{}
	for i, a := range addrs {
		where[a.ifname] = a.path.Parent().Parent()
		if a.sub {
			subs[a.ifname]++
		} else {
			primaries[a.ifname]++
		}
		l := a.pfx.Bits()
		if !hostAddress(a.pfx.Addr()) {
			errs = append(errs, datastore.Refuse(a.path, "The address %s on %s is not a valid host address", a.pfx.Addr(), a.ifname))
			continue
		}
		if l == 32 && !strings.HasPrefix(a.ifname, "LoopBack") {
			errs = append(errs, datastore.Refuse(a.path, "The mask length 32 is allowed on LoopBack interfaces only (%s)", a.ifname))
		}
		if l < 31 {
			if a.pfx.Addr() == a.pfx.Masked().Addr() || a.pfx.Addr() == lastAddr(a.pfx) {
				errs = append(errs, datastore.Refuse(a.path, "The address %s/%d on %s is a network or broadcast address", a.pfx.Addr(), l, a.ifname))
			}
		}
		for _, b := range addrs[:i] {
			if a.vrf == b.vrf && a.pfx.Masked().Overlaps(b.pfx.Masked()) {
				errs = append(errs, datastore.Refuse(a.path, "The address %s/%d on %s conflicts with %s/%d on %s", a.pfx.Addr(), l, a.ifname, b.pfx.Addr(), b.pfx.Bits(), b.ifname))
			}
		}
	}
	for ifn, n := range primaries {
		if n > 1 {
			errs = append(errs, datastore.Refuse(where[ifn], "The interface %s has more than one primary address", ifn))
		}
	}
	for ifn := range subs {
		if primaries[ifn] == 0 {
			errs = append(errs, datastore.Refuse(where[ifn], "The interface %s has a secondary address but no primary address", ifn))
		}
		if subs[ifn] > 255 {
			errs = append(errs, datastore.Refuse(where[ifn], "The interface %s has more than 255 secondary addresses", ifn))
		}
	}
	return errs
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= ^uint32(0) >> p.Bits()
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// hostAddress tells whether an interface may have the address a: not
// 0.0.0.0/8 (this network), 127.0.0.0/8 (the host's own loopback,
// InLoopBack0 on VRP), multicast (224.0.0.0/4) or the reserved and
// broadcast addresses above it.
func hostAddress(a netip.Addr) bool {
	b := a.As4()[0]
	return a.Is4() && b != 0 && b != 127 && b < 224
}
