package datastore

import (
	"fmt"
	"net/netip"
	"strings"

	"vpnos/yang/schema"
)

// Paths of the nodes the default rules look at.
var (
	pathVPN        = P("vpn-instances", "vpn-instance")
	pathInterfaces = P("interfaces", "interface")
	pathMPLS       = P("mpls")
)

// RuleError is a semantic error; its text is a sentence for the user.
type RuleError struct{ Msg string }

func (e *RuleError) Error() string { return e.Msg }

func ruleErr(format string, a ...any) error { return &RuleError{Msg: fmt.Sprintf(format, a...)} }

func defaultRules(_ *schema.Schema) []namedRule {
	return []namedRule{
		{"vrf-af-needs-rd", ruleRDFirst, false},
		{"rd-unique", ruleRDUnique, false},
		{"rd-in-place", ruleRDInPlace, true},
		{"interface-addresses", ruleAddresses, false},
		{"mpls-order", ruleMPLS, false},
		{"static-lsp", ruleStaticLSP, false},
		{"static-vpn-label", ruleStaticVPNLabel, false},
		{"static-route", ruleStaticRoute, false},
	}
}

// afDependents are the VRF AF settings that need its route distinguisher
// (undo route-distinguisher removes them).
var afDependents = []string{"vpn-target", "apply-label", "apply-label-static", "import-route-policy", "export-route-policy", "tnl-policy"}

// AFDependents lists the VRF AF settings that need the route distinguisher.
func AFDependents() []string { return afDependents }

// vpnInstances returns the instance entries in creation order.
func vpnInstances(t *Tree) []*Item { return t.Entries(pathVPN.Parent(), "vpn-instance") }

func ruleRDFirst(_, t *Tree) []error {
	var errs []error
	for _, vi := range vpnInstances(t) {
		af := vi.Path.Child("ipv4-family")
		if _, ok := t.Get(af.Child("route-distinguisher")); ok {
			continue
		}
		for _, dep := range afDependents {
			if t.Exists(af.Child(dep)) {
				errs = append(errs, ruleErr("The route-distinguisher of VPN instance %s must be configured before %s", vi.Path.Last().Keys[0], dep))
				break
			}
		}
	}
	return errs
}

// ruleRDInPlace refuses changing an instance's RD in one commit: the old
// one must be removed (and committed) first.
func ruleRDInPlace(old, t *Tree) []error {
	var errs []error
	if old == nil {
		return nil
	}
	for _, vi := range vpnInstances(t) {
		p := vi.Path.Child("ipv4-family").Child("route-distinguisher")
		was, had := old.Get(p)
		now, has := t.Get(p)
		if had && has && was != now {
			errs = append(errs, ruleErr("The route-distinguisher of VPN instance %s cannot be changed from %s to %s; remove it and commit first", vi.Path.Last().Keys[0], was, now))
		}
	}
	return errs
}

func ruleRDUnique(_, t *Tree) []error {
	var errs []error
	seen := map[string]string{}
	for _, vi := range vpnInstances(t) {
		name := vi.Path.Last().Keys[0]
		rd, ok := t.Get(vi.Path.Child("ipv4-family").Child("route-distinguisher"))
		if !ok {
			continue
		}
		if other, dup := seen[rd]; dup {
			errs = append(errs, ruleErr("The route-distinguisher %s of VPN instance %s is already used by VPN instance %s", rd, name, other))
			continue
		}
		seen[rd] = name
		if err := checkRD(rd); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkRD applies the numeric limits of the RD/RT formats.
func checkRD(rd string) error {
	if err := CheckRD(rd); err != nil {
		return ruleErr("%s", err)
	}
	return nil
}

// CheckRD checks an RD or RT: ASN2:NN, ASN4:NN2, x.y:NN2 or IP:NN2; 0:0 is invalid.
func CheckRD(rd string) error {
	admin, num, ok := strings.Cut(rd, ":")
	bad := fmt.Errorf("the value %s is not a valid route distinguisher or route target", rd)
	if !ok || admin == "" || num == "" {
		return bad
	}
	n, err := parseUint(num, 32)
	if err != nil {
		return bad
	}
	switch strings.Count(admin, ".") {
	case 0:
		a, err := parseUint(admin, 32)
		if err != nil || (a > 65535 && n > 65535) || (a == 0 && n == 0) {
			return bad
		}
	case 1:
		x, y, _ := strings.Cut(admin, ".")
		a, err1 := parseUint(x, 16)
		b, err2 := parseUint(y, 16)
		if err1 != nil || err2 != nil || n > 65535 || (a == 0 && b == 0 && n == 0) {
			return bad
		}
	case 3:
		if _, err := netip.ParseAddr(admin); err != nil || n > 65535 {
			return bad
		}
	default:
		return bad
	}
	return nil
}

func parseUint(s string, bits int) (uint64, error) {
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("bad number")
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number")
		}
		v = v*10 + uint64(c-'0')
	}
	if v>>bits != 0 {
		return 0, fmt.Errorf("out of range")
	}
	return v, nil
}

type ifAddr struct {
	ifname, vrf string
	pfx         netip.Prefix
	sub         bool
}

func interfaceAddresses(t *Tree) []ifAddr {
	var out []ifAddr
	for _, ifc := range t.Entries(pathInterfaces.Parent(), "interface") {
		name := ifc.Path.Last().Keys[0]
		vrf, _ := t.Get(ifc.Path.Child("vpn-instance"))
		for _, a := range t.Entries(ifc.Path.Child("ipv4"), "address") {
			ip, err := netip.ParseAddr(a.Path.Last().Keys[0])
			if err != nil {
				continue
			}
			m, _ := t.Get(a.Path.Child("mask"))
			l, ok := MaskLen(m)
			if !ok {
				continue
			}
			_, sub := t.Get(a.Path.Child("sub"))
			out = append(out, ifAddr{name, vrf, netip.PrefixFrom(ip, l), sub})
		}
	}
	return out
}

func ruleAddresses(_, t *Tree) []error {
	var errs []error
	addrs := interfaceAddresses(t)
	primaries := map[string]int{}
	subs := map[string]int{}
	lsrID, _ := t.Get(pathMPLS.Child("lsr-id"))
	for i, a := range addrs {
		if a.sub {
			subs[a.ifname]++
		} else {
			primaries[a.ifname]++
		}
		l := a.pfx.Bits()
		if l == 32 && !strings.HasPrefix(a.ifname, "LoopBack") {
			errs = append(errs, ruleErr("The mask length 32 is allowed on LoopBack interfaces only (%s)", a.ifname))
		}
		if l < 31 {
			net := a.pfx.Masked().Addr()
			bcast := lastAddr(a.pfx)
			if a.pfx.Addr() == net || a.pfx.Addr() == bcast {
				errs = append(errs, ruleErr("The address %s/%d on %s is a network or broadcast address", a.pfx.Addr(), l, a.ifname))
			}
		}
		for _, b := range addrs[:i] {
			if a.vrf != b.vrf {
				continue
			}
			if a.pfx.Masked().Overlaps(b.pfx.Masked()) {
				errs = append(errs, ruleErr("The address %s/%d on %s conflicts with %s/%d on %s", a.pfx.Addr(), l, a.ifname, b.pfx.Addr(), b.pfx.Bits(), b.ifname))
			}
		}
		if a.vrf != "" && lsrID != "" && a.pfx.Addr().String() == lsrID {
			errs = append(errs, ruleErr("The interface %s holds the MPLS LSR ID and cannot be bound to a VPN instance", a.ifname))
		}
	}
	for ifn, n := range primaries {
		if n > 1 {
			errs = append(errs, ruleErr("The interface %s has more than one primary address", ifn))
		}
	}
	for ifn := range subs {
		if primaries[ifn] == 0 {
			errs = append(errs, ruleErr("The interface %s has a secondary address but no primary address", ifn))
		}
		if subs[ifn] > 255 {
			errs = append(errs, ruleErr("The interface %s has more than 255 secondary addresses", ifn))
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

func ruleMPLS(_, t *Tree) []error {
	var errs []error
	_, hasLSR := t.Get(pathMPLS.Child("lsr-id"))
	mplsOn := t.Exists(pathMPLS.Child("enable"))
	ldpOn := t.Exists(pathMPLS.Child("ldp"))
	if mplsOn && !hasLSR {
		errs = append(errs, ruleErr("The MPLS LSR ID must be configured before MPLS is enabled"))
	}
	if ldpOn && !mplsOn {
		errs = append(errs, ruleErr("MPLS must be enabled globally before MPLS LDP"))
	}
	for _, ifc := range t.Entries(pathInterfaces.Parent(), "interface") {
		name := ifc.Path.Last().Keys[0]
		_, ifMPLS := t.Get(ifc.Path.Child("mpls"))
		_, ifLDP := t.Get(ifc.Path.Child("mpls-ldp"))
		if ifMPLS && !mplsOn {
			errs = append(errs, ruleErr("MPLS must be enabled globally before it is enabled on %s", name))
		}
		if ifLDP && !ifMPLS {
			errs = append(errs, ruleErr("MPLS must be enabled on %s before MPLS LDP", name))
		}
		if ifLDP && !ldpOn {
			errs = append(errs, ruleErr("MPLS LDP must be enabled globally before it is enabled on %s", name))
		}
	}
	return errs
}

func ruleStaticLSP(_, t *Tree) []error {
	var errs []error
	base := P("static-lsps")
	mplsOn := t.Exists(pathMPLS.Child("enable"))
	inLabels := map[string]string{}
	for _, kind := range []string{"ingress", "transit", "egress"} {
		for _, e := range t.Entries(base, kind) {
			name := e.Path.Last().Keys[0]
			if !mplsOn {
				errs = append(errs, ruleErr("MPLS must be enabled globally before static LSP %s", name))
			}
			if kind == "ingress" {
				_, nh := t.Get(e.Path.Child("nexthop"))
				_, oif := t.Get(e.Path.Child("outgoing-interface"))
				if !nh && !oif {
					errs = append(errs, ruleErr("The static LSP %s needs a next hop or an outgoing interface", name))
				}
			}
			if kind == "transit" {
				_, nh := t.Get(e.Path.Child("nexthop"))
				_, oif := t.Get(e.Path.Child("outgoing-interface"))
				if !nh && !oif {
					errs = append(errs, ruleErr("The static LSP %s needs a next hop or an outgoing interface", name))
				}
			}
			if l, ok := t.Get(e.Path.Child("in-label")); ok {
				if other, dup := inLabels[l]; dup {
					errs = append(errs, ruleErr("The in-label %s of static LSP %s is already used by static LSP %s", l, name, other))
				}
				inLabels[l] = name
			}
		}
	}
	return errs
}

// ruleStaticVPNLabel: a pinned instance label (apply-label per-instance
// static L) needs the per-instance mode, and no other instance or static
// LSP may use the same incoming label.
func ruleStaticVPNLabel(_, t *Tree) []error {
	var errs []error
	used := map[string]string{}
	for _, kind := range []string{"transit", "egress"} {
		for _, e := range t.Entries(P("static-lsps"), kind) {
			if l, ok := t.Get(e.Path.Child("in-label")); ok {
				used[l] = "static LSP " + e.Path.Last().Keys[0]
			}
		}
	}
	for _, vi := range vpnInstances(t) {
		name := vi.Path.Last().Keys[0]
		af := vi.Path.Child("ipv4-family")
		l, ok := t.Get(af.Child("apply-label-static"))
		if !ok {
			continue
		}
		if mode, set := t.Get(af.Child("apply-label")); set && mode != "per-instance" {
			errs = append(errs, ruleErr("A static label needs apply-label per-instance (VPN instance %s)", name))
		}
		if other, dup := used[l]; dup {
			errs = append(errs, ruleErr("VPN instance %s cannot use the static label %s: %s uses it", name, l, other))
		}
		used[l] = "VPN instance " + name
	}
	return errs
}

func ruleStaticRoute(_, t *Tree) []error {
	var errs []error
	base := P("static-routes")
	for _, list := range []string{"route", "vpn-route"} {
		for _, e := range t.Entries(base, list) {
			keys := e.Path.Last().Keys
			nh := keys[len(keys)-1]
			pfx, mask := keys[len(keys)-3], keys[len(keys)-2]
			if _, ok := t.Get(e.Path.Child("next-hop-address")); ok {
				if _, err := netip.ParseAddr(nh); err == nil {
					errs = append(errs, ruleErr("The route %s %s: a next-hop address follows an interface only", pfx, mask))
				}
			}
			_, nhErr := netip.ParseAddr(nh)
			nhVPN, viaVPN := t.Get(e.Path.Child("next-hop-vpn"))
			_, viaPublic := t.Get(e.Path.Child("public"))
			if (viaVPN || viaPublic) && nhErr != nil {
				errs = append(errs, ruleErr("The route %s %s: a next hop in another instance must be an address", pfx, mask))
			}
			if list == "vpn-route" && viaVPN && nhVPN == keys[0] {
				errs = append(errs, ruleErr("The route %s %s: the next hop is in the route's own VPN instance; give it without vpn-instance", pfx, mask))
			}
			if a, err := netip.ParseAddr(pfx); err == nil {
				if l, ok := MaskLen(mask); ok && netip.PrefixFrom(a, l).Masked().Addr() != a {
					errs = append(errs, ruleErr("The destination address %s and mask %s do not match", pfx, mask))
				}
			}
		}
	}
	return errs
}
