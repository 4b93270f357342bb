package bgp

import (
	"net/netip"

	"vpnos/services/bgp/packet"
	"vpnos/services/policy"
)

// Routing policies in the speaker (issue 10, item 2's uses):
//
//   - peer X ip-prefix NAME import and peer X route-policy NAME import, per
//     family, on every route received (a denied route is treated as
//     withdrawn; a permitted one is stored with the attributes the policy
//     set);
//   - peer X ip-prefix NAME export and peer X route-policy NAME export on
//     every route advertised (the policy sees the route as it is in the
//     table; the next hop, AS prepending and the other per-peer changes
//     follow);
//   - import-route ... route-policy NAME and network ... route-policy NAME
//     on the routes originated;
//   - a VPN instance's import route-policy on every VPNv4 route imported
//     into it by target, and its export route-policy on every route it
//     exports (before the export targets are attached, or after with
//     add-ert-first).
//
// The policies are a policy.Set (immutable) handed in with SetPolicies.
// When a new set arrives, the speaker compares it with the one it had
// (policy.Diff) and refreshes what uses a changed policy or prefix list,
// without resetting a session: received routes are asked for again with
// ROUTE-REFRESH (RFC 2918), advertised ones are re-evaluated and the
// differences sent, originated, imported and exported ones re-evaluated.
// A name that no policy carries denies every route (a prefix list that
// does not exist filters nothing), as the policy package reads VRP.

// SetPolicies replaces the routing policies.
type SetPolicies struct{ Set *policy.Set }

func (SetPolicies) event() {}

// emptyPolicies is the set before any is given.
var emptyPolicies = policy.Compile(policy.Config{}, nil)

func (s *Speaker) policies() *policy.Set {
	if s.pol == nil {
		return emptyPolicies
	}
	return s.pol
}

// policyRoute is a route as the policies see it.
func policyRoute(k packet.Prefix, a *packet.Attrs, nh netip.Addr, pref uint16) policy.Route {
	r := policy.Route{Prefix: k.Netip(), NextHop: nh, Cost: 0, LocalPref: 100, PreferredValue: uint32(pref)}
	if a.HasMED {
		r.Cost = a.MED
	}
	if a.HasLocalPref {
		r.LocalPref = a.LocalPref
	}
	if len(a.ASPath) > 0 {
		r.ASPath = make([]policy.Segment, len(a.ASPath))
		for i, sg := range a.ASPath {
			r.ASPath[i] = policy.Segment{Type: policy.SegmentType(sg.Type), ASNs: sg.ASNs}
		}
	}
	r.Communities = a.Communities
	if len(a.ExtCommunities) > 0 {
		r.ExtCommunities = make([]policy.ExtCommunity, len(a.ExtCommunities))
		for i, e := range a.ExtCommunities {
			r.ExtCommunities[i] = policy.ExtCommunity(e)
		}
	}
	return r
}

// applyResult writes what a permitting policy set into attributes (a is
// a copy the caller owns) and returns the preferred value.
func applyResult(a *packet.Attrs, res policy.Result, pref uint16) uint16 {
	r := &res.Route
	if res.Set&policy.AttrCost != 0 {
		a.MED, a.HasMED = r.Cost, true
	}
	if res.Set&policy.AttrLocalPref != 0 {
		a.LocalPref, a.HasLocalPref = r.LocalPref, true
	}
	if res.Set&policy.AttrPreferredValue != 0 {
		pref = uint16(r.PreferredValue)
	}
	if res.Set&policy.AttrASPath != 0 {
		a.ASPath = make(packet.ASPath, len(r.ASPath))
		for i, sg := range r.ASPath {
			a.ASPath[i] = packet.Segment{Type: packet.SegmentType(sg.Type), ASNs: append([]uint32(nil), sg.ASNs...)}
		}
	}
	if res.Set&policy.AttrCommunities != 0 {
		a.Communities = append([]uint32(nil), r.Communities...)
	}
	if res.Set&policy.AttrExtCommunities != 0 {
		a.ExtCommunities = make([]packet.ExtCommunity, len(r.ExtCommunities))
		for i, e := range r.ExtCommunities {
			a.ExtCommunities[i] = packet.ExtCommunity(e)
		}
	}
	return pref
}

// filter runs an ip-prefix and a route-policy (either may be "") on a
// route: ok false when denied; the attributes and preferred value after
// the policy otherwise (a is changed only when the policy permits).
func (s *Speaker) filter(prefixList, routePolicy string, k packet.Prefix, a *packet.Attrs, nh netip.Addr, pref uint16) (uint16, bool) {
	set := s.policies()
	if prefixList != "" && !set.PermitPrefix(prefixList, k.Netip()) {
		return pref, false
	}
	if routePolicy == "" {
		return pref, true
	}
	res := set.Evaluate(routePolicy, policyRoute(k, a, nh, pref))
	if !res.Permit {
		return pref, false
	}
	return applyResult(a, res, pref), true
}

// importFilter applies a peer's import policies of family f to one route:
// ok false when denied; the interned attributes to store otherwise (the
// caller owns one reference) and the preferred value.
func (s *Speaker) importFilter(p *peer, f packet.Family, k packet.Prefix, set *attrSet, nh netip.Addr, pref uint16) (*attrSet, uint16, bool) {
	af := p.af(f)
	if af.ImportPrefix == "" && af.ImportPolicy == "" {
		s.attrs.ref(set)
		return set, pref, true
	}
	a := *set.Attrs.Clone()
	pref, ok := s.filter(af.ImportPrefix, af.ImportPolicy, k, &a, nh, pref)
	if !ok {
		return nil, 0, false
	}
	return s.attrs.get(&a), pref, true
}

// setPolicies takes a new policy set and refreshes what uses a changed
// policy or prefix list.
func (s *Speaker) setPolicies(set *policy.Set) {
	if set == nil {
		set = emptyPolicies
	}
	old := s.policies()
	if set == old {
		return
	}
	changed := map[policy.Ref]bool{}
	for _, e := range policy.Diff(old, set) {
		changed[e.Ref] = true
	}
	s.pol = set
	if len(changed) == 0 {
		return
	}
	pol := func(n string) bool { return n != "" && changed[policy.Ref{Kind: policy.KindPolicy, Name: n}] }
	pfx := func(n string) bool { return n != "" && changed[policy.Ref{Kind: policy.KindPrefixList, Name: n}] }
	for _, k := range s.sortedPeerKeys() {
		p := s.peers[k]
		if !p.up {
			continue
		}
		for _, f := range p.neg.Families {
			af := p.af(f)
			if pol(af.ImportPolicy) || pfx(af.ImportPrefix) {
				s.askRefresh(p, f)
			}
			if pol(af.ExportPolicy) || pfx(af.ExportPrefix) {
				s.queueReadvertise(p, f, old)
			}
		}
	}
	for _, in := range s.instList() {
		if in.dying {
			continue
		}
		local := false
		if in.af != nil {
			for _, n := range in.af.Networks {
				local = local || pol(n.Policy)
			}
			for _, i := range in.af.Imports {
				local = local || pol(i.Policy)
			}
		}
		if local {
			s.refreshAllLocal(in)
		}
		if in.vpn != nil {
			if pol(in.vpn.ImportPolicy) {
				s.reimport(in)
			}
			if pol(in.vpn.ExportPolicy) {
				s.reexportAll(in)
			}
		}
	}
}

// askRefresh asks a peer for its routes of f again (its import policy
// changed); without the route-refresh capability only a reset would.
func (s *Speaker) askRefresh(p *peer, f packet.Family) {
	if p.neg.RouteRefresh {
		s.send(p, packet.EncodeRouteRefresh(f))
		return
	}
	s.logf(logWarn, p.key, "the import policy of %s changed; the peer cannot refresh routes: reset the session to apply it", f)
}

// readvertise is a pending re-evaluation of what one peer was sent in a
// family: under the group and policies it had, and now.
type readvertise struct {
	g   *group
	pol *policy.Set
}

// queueReadvertise records what p was sent f under (its group and the
// policies before the change); flush sends the differences.
func (s *Speaker) queueReadvertise(p *peer, f packet.Family, old *policy.Set) {
	i := famIdx(f)
	if p.readv[i] != nil || p.groups[i] == nil || p.pending[i] {
		return // already queued, or a full dump is due anyway
	}
	p.readv[i] = &readvertise{g: p.groups[i], pol: old}
}
