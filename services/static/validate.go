package static

import (
	"fmt"
	"net/netip"
	"sort"

	"vpnos/yang/datastore"
)

// The rules of the static configuration (/static-routes and /static-lsps).
// Validate is pure: the CLI, the startup file and NETCONF meet the same
// refusals.

// Validate checks the configuration of a change (see datastore.Validator).
func (p *Participant) Validate(c *datastore.Change) []*datastore.RuleError { return Validate(c) }

// Validate returns the refusals of the static route and static LSP rules.
func Validate(c *datastore.Change) []*datastore.RuleError {
	return append(validateLSPs(c.New), validateRoutes(c.New)...)
}

func validateLSPs(t *datastore.Tree) []*datastore.RuleError {
	var errs []*datastore.RuleError
	base := datastore.P("static-lsps")
	mplsOn := t.Exists(datastore.P("mpls", "enable"))
	inLabels := map[string]string{}
	fecs := map[netip.Prefix]string{}
	// In creation order, so that of two LSPs with one in-label (or one
	// destination) the later one is refused, as a session refuses it.
	var all []*datastore.Item
	for _, kind := range []string{"ingress", "transit", "egress"} {
		all = append(all, t.Entries(base, kind)...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Seq < all[j].Seq })
	for _, e := range all {
		kind := e.Path.Last().Name
		name := e.Path.Last().Keys[0]
		if !mplsOn {
			errs = append(errs, datastore.Refuse(e.Path, "MPLS must be enabled globally before static LSP %s", name))
		}
		if kind != "egress" {
			nhv, nh := t.Get(e.Path.Child("nexthop"))
			if a, err := netip.ParseAddr(nhv); nh && err == nil && !HostAddress(a) {
				errs = append(errs, datastore.Refuse(e.Path.Child("nexthop"), "The next hop %s of static LSP %s is not a valid host address", nhv, name))
			}
			_, oif := t.Get(e.Path.Child("outgoing-interface"))
			if !nh && !oif {
				errs = append(errs, datastore.Refuse(e.Path, "The static LSP %s needs a next hop or an outgoing interface", name))
			}
		}
		if kind == "ingress" {
			dst, _ := t.Get(e.Path.Child("destination"))
			mask, _ := t.Get(e.Path.Child("mask"))
			a, err := netip.ParseAddr(dst)
			n, ok := datastore.MaskLen(mask)
			if err != nil || !ok {
				continue // the schema refuses it
			}
			fec := netip.PrefixFrom(a, n).Masked()
			if other, dup := fecs[fec]; dup {
				errs = append(errs, datastore.Refuse(e.Path.Child("destination"), "The destination %s %s of static LSP %s is already used by static LSP %s", dst, mask, name, other))
			}
			fecs[fec] = name
		}
		if l, ok := t.Get(e.Path.Child("in-label")); ok {
			if other, dup := inLabels[l]; dup {
				errs = append(errs, datastore.Refuse(e.Path.Child("in-label"), "The in-label %s of static LSP %s is already used by static LSP %s", l, name, other))
			}
			inLabels[l] = name
		}
	}
	return errs
}

// routeName is how a refusal names a static route: "10.0.0.0 8" or
// "10.0.0.0 8 of VPN instance red".
func routeName(list string, keys []string) string {
	pfx, mask := keys[len(keys)-3], keys[len(keys)-2]
	if list == "vpn-route" {
		return fmt.Sprintf("%s %s of VPN instance %s", pfx, mask, keys[0])
	}
	return pfx + " " + mask
}

func validateRoutes(t *datastore.Tree) []*datastore.RuleError {
	var errs []*datastore.RuleError
	base := datastore.P("static-routes")
	exists := func(vpn string) bool {
		_, ok := t.Get(datastore.P("vpn-instances", "vpn-instance", datastore.K(vpn)))
		return ok
	}
	for _, list := range []string{"route", "vpn-route"} {
		for _, e := range t.Entries(base, list) {
			keys := e.Path.Last().Keys
			nh := keys[len(keys)-1]
			pfx, mask := keys[len(keys)-3], keys[len(keys)-2]
			nhAddr, nhErr := netip.ParseAddr(nh)
			if nhErr == nil && !HostAddress(nhAddr) {
				errs = append(errs, datastore.Refuse(e.Path, "The route %s %s: the next hop %s is not a valid host address", pfx, mask, nh))
			}
			if v, ok := t.Get(e.Path.Child("next-hop-address")); ok {
				if a, err := netip.ParseAddr(v); err == nil && !HostAddress(a) {
					errs = append(errs, datastore.Refuse(e.Path.Child("next-hop-address"), "The route %s %s: the next hop %s is not a valid host address", pfx, mask, v))
				}
			}
			if _, ok := t.Get(e.Path.Child("next-hop-address")); ok && nhErr == nil {
				errs = append(errs, datastore.Refuse(e.Path, "The route %s %s: a next-hop address follows an interface only", pfx, mask))
			}
			nhVPN, viaVPN := t.Get(e.Path.Child("next-hop-vpn"))
			// A route depends on the instances it names: deleting one
			// deletes its routes (the CLI's undo ip vpn-instance does).
			if list == "vpn-route" && !exists(keys[0]) {
				errs = append(errs, datastore.Refuse(e.Path, "The static route %s needs VPN instance %s, which does not exist", routeName(list, keys), keys[0]))
			}
			if viaVPN && !exists(nhVPN) {
				errs = append(errs, datastore.Refuse(e.Path.Child("next-hop-vpn"), "The static route %s resolves its next hop in VPN instance %s, which does not exist", routeName(list, keys), nhVPN))
			}
			_, viaPublic := t.Get(e.Path.Child("public"))
			if (viaVPN || viaPublic) && nhErr != nil {
				errs = append(errs, datastore.Refuse(e.Path, "The route %s %s: a next hop in another instance must be an address", pfx, mask))
			}
			if list == "vpn-route" && viaVPN && nhVPN == keys[0] {
				errs = append(errs, datastore.Refuse(e.Path, "The route %s %s: the next hop is in the route's own VPN instance; give it without vpn-instance", pfx, mask))
			}
			if a, err := netip.ParseAddr(pfx); err == nil {
				if l, ok := datastore.MaskLen(mask); ok && netip.PrefixFrom(a, l).Masked().Addr() != a {
					errs = append(errs, datastore.Refuse(e.Path, "The destination address %s and mask %s do not match", pfx, mask))
				}
			}
		}
	}
	return errs
}

// HostAddress tells whether a is an address a host may have, and so a next
// hop: not 0.0.0.0/8 (this network), 127.0.0.0/8 (the host's own
// loopback), multicast (224.0.0.0/4) or the reserved and broadcast
// addresses above it.
func HostAddress(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()[0]
	return b != 0 && b != 127 && b < 224
}
