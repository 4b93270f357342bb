package bgp

import (
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sort"

	"vpnos/services/bgp/packet"
)

// nexthop returns the tracked next hop (taking a reference); a new one is
// unresolved until the RIB answers the WatchNextHop it causes.
func (s *Speaker) nexthop(inst string, addr netip.Addr) *nexthop {
	k := nhKey{Instance: inst, Addr: addr}
	n := s.nhs[k]
	if n == nil {
		n = &nexthop{key: k}
		s.nhs[k] = n
		s.emit(WatchNextHop{Instance: inst, Addr: addr})
	}
	n.refs++
	return n
}

func (s *Speaker) releaseNH(n *nexthop) {
	if n == nil {
		return
	}
	n.refs--
	if n.refs == 0 {
		delete(s.nhs, n.key)
		s.emit(UnwatchNextHop{Instance: n.key.Instance, Addr: n.key.Addr})
	}
}

// hold takes the references a path stored in a table owns.
func (s *Speaker) hold(p *path) {
	s.attrs.ref(p.attrs)
	if p.nh != nil {
		p.nh.refs++
	}
}

func (s *Speaker) release(p *path) {
	s.attrs.release(p.attrs)
	s.releaseNH(p.nh)
}

// upsertUnicast stores p (whose references the caller took) in an
// instance's table.
func (s *Speaker) upsertUnicast(in *instance, k packet.Prefix, p path) {
	old, ok := in.routes.upsert(k, p)
	if ok {
		s.release(&old)
	} else if p.kind == kindPeer {
		p.src.prefixes[0]++
	}
}

func (s *Speaker) removeUnicast(in *instance, k packet.Prefix, probe *path) bool {
	old, ok := in.routes.remove(k, probe)
	if !ok {
		return false
	}
	if old.kind == kindPeer {
		old.src.prefixes[0]--
	}
	s.release(&old)
	return true
}

// upsertVPN stores a VPNv4 path and imports it into the instances whose
// import targets match.
func (s *Speaker) upsertVPN(k packet.VPNPrefix, p path) {
	old, ok := s.vpn.upsert(k, p)
	if ok {
		s.importVPN(k, &old, &p)
		s.release(&old)
		return
	}
	if p.kind == kindPeer {
		p.src.prefixes[1]++
	}
	s.importVPN(k, nil, &p)
}

func (s *Speaker) removeVPN(k packet.VPNPrefix, probe *path) bool {
	old, ok := s.vpn.remove(k, probe)
	if !ok {
		return false
	}
	if old.kind == kindPeer {
		old.src.prefixes[1]--
	}
	s.importVPN(k, &old, nil)
	s.release(&old)
	return true
}

// vpnInstances lists the VPN instances, sorted by name.
func (s *Speaker) vpnInstances() []*instance {
	if s.vpnList != nil {
		return s.vpnList
	}
	out := make([]*instance, 0, len(s.insts))
	for _, in := range s.insts {
		if in.vpn != nil {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	s.vpnList = out
	return out
}

// instList lists the instances: those being removed first, then the
// others sorted by name.
func (s *Speaker) instList() []*instance {
	out := make([]*instance, 0, len(s.insts)+len(s.dying))
	out = append(out, s.dying...)
	live := make([]*instance, 0, len(s.insts))
	for _, in := range s.insts {
		live = append(live, in)
	}
	sort.Slice(live, func(i, j int) bool { return live[i].name < live[j].name })
	return append(out, live...)
}

// importedFrom is the path a VPNv4 path becomes in an importing instance.
func importedFrom(k packet.VPNPrefix, v *path) path {
	p := path{src: v.src, attrs: v.attrs, nh: v.nh, orig: v.orig, rd: k.RD, label: v.label, pref: v.pref, kind: kindImported}
	if v.kind == kindExport {
		p.kind = kindCrossed
		p.nh = nil
		p.label = 0
	}
	return p
}

// importedFor is the path a VPNv4 path becomes in an importing instance,
// after the instance's import route-policy (ok false: denied). tmp, when
// set, is an attribute set the caller releases once the path holds its
// references.
func (s *Speaker) importedFor(in *instance, k packet.VPNPrefix, v *path) (p path, tmp *attrSet, ok bool) {
	p = importedFrom(k, v)
	if in.vpn == nil || in.vpn.ImportPolicy == "" {
		return p, nil, true
	}
	a := *v.attrs.Attrs.Clone()
	var nh netip.Addr
	if v.nh != nil {
		nh = v.nh.key.Addr
	}
	pref, ok := s.filter("", in.vpn.ImportPolicy, k.Prefix, &a, nh, v.pref)
	if !ok {
		return path{}, nil, false
	}
	p.attrs, p.pref = s.attrs.get(&a), pref
	return p, p.attrs, true
}

// importVPN follows a VPNv4 path change (old and/or new nil) into every
// VPN instance: imported where a target matches, removed where it no
// longer does. A local export is never imported back into its own
// instance.
func (s *Speaker) importVPN(k packet.VPNPrefix, old, nw *path) {
	for _, in := range s.vpnInstances() {
		if in.dying {
			continue
		}
		if nw != nil && in.importsAny(nw.attrs.rts) && !(nw.kind == kindExport && nw.orig.inst == in) {
			if ip, tmp, ok := s.importedFor(in, k, nw); ok {
				s.hold(&ip)
				if tmp != nil {
					s.attrs.release(tmp)
				}
				s.upsertUnicast(in, k.Prefix, ip)
				continue
			}
		}
		if old != nil {
			probe := importedFrom(k, old)
			s.removeUnicast(in, k.Prefix, &probe)
		}
	}
}

// update applies an UPDATE from an Established peer.
func (s *Speaker) update(p *peer, u *packet.Update) {
	for _, is := range u.Issues {
		s.logf(slog.LevelWarn, p.key, "RFC 7606 %s", is)
	}
	uni, vpn := p.neg.Has(packet.IPv4Unicast), p.neg.Has(packet.VPNv4)
	if uni {
		for _, k := range u.Withdrawn {
			s.withdrawUnicast(p, k)
		}
	}
	if mu := u.MPUnreach; mu != nil {
		switch {
		case mu.Family == packet.IPv4Unicast && uni:
			for _, k := range mu.Prefixes {
				s.withdrawUnicast(p, k)
			}
		case mu.Family == packet.VPNv4 && vpn:
			for _, k := range mu.VPN {
				s.withdrawVPN(p, k)
			}
		}
	}
	type uniAnn struct {
		nh       netip.Addr
		prefixes []packet.Prefix
	}
	var uas []uniAnn
	if len(u.NLRI) > 0 && uni {
		nh := netip.Addr{}
		if u.Attrs != nil {
			nh = u.Attrs.NextHop
		}
		uas = append(uas, uniAnn{nh, u.NLRI})
	}
	var vpnRoutes []packet.VPNRoute
	var vpnNH netip.Addr
	if mr := u.MPReach; mr != nil {
		switch {
		case mr.Family == packet.IPv4Unicast && uni:
			uas = append(uas, uniAnn{mr.NextHop, mr.Prefixes})
		case mr.Family == packet.VPNv4 && vpn:
			vpnRoutes, vpnNH = mr.VPN, mr.NextHop
		case !mr.Unsupported:
			s.logf(slog.LevelDebug, p.key, "routes of %s, a family not negotiated, ignored", mr.Family)
		}
	}
	if len(uas) == 0 && len(vpnRoutes) == 0 {
		return
	}
	reason := ""
	switch {
	case u.TreatAsWithdraw:
		reason = "treat-as-withdraw"
	case u.Attrs == nil:
		reason = "no path attributes"
	default:
		reason = s.rejectAttrs(p, u.Attrs)
	}
	if reason != "" {
		if reason != "treat-as-withdraw" {
			s.logf(slog.LevelDebug, p.key, "routes withdrawn: %s", reason)
		}
		for _, ua := range uas {
			for _, k := range ua.prefixes {
				s.withdrawUnicast(p, k)
			}
		}
		for _, r := range vpnRoutes {
			s.withdrawVPN(p, r.VPNPrefix)
		}
		return
	}
	a := *u.Attrs
	a.NextHop = netip.Addr{} // next hops live in the paths
	set := s.attrs.get(&a)
	defer s.attrs.release(set)
	for _, ua := range uas {
		if !s.usableNextHop(p, ua.nh) {
			s.logf(slog.LevelDebug, p.key, "next hop %s refused", ua.nh)
			for _, k := range ua.prefixes {
				s.withdrawUnicast(p, k)
			}
			continue
		}
		pref := p.af(packet.IPv4Unicast).PreferredValue
		for _, k := range ua.prefixes {
			as, pv, ok := s.importFilter(p, packet.IPv4Unicast, k, set, ua.nh, pref)
			if !ok {
				s.withdrawUnicast(p, k) // denied by the import policy
				continue
			}
			n := s.nexthop(p.inst.name, ua.nh)
			s.upsertUnicast(p.inst, k, path{src: p, attrs: as, nh: n, pref: pv, kind: kindPeer})
		}
	}
	if len(vpnRoutes) > 0 {
		if !s.usableNextHop(p, vpnNH) {
			s.logf(slog.LevelDebug, p.key, "next hop %s refused", vpnNH)
			vpnRoutes = s.withdrawAllVPN(p, vpnRoutes)
		}
		vaf := p.af(packet.VPNv4)
		filtered := vaf.ImportPolicy != "" || vaf.ImportPrefix != ""
		if len(vpnRoutes) > 0 && !filtered && !s.keepAllVPN() && !s.anyInstanceImports(set.rts) {
			// policy vpn-target: no local instance imports these.
			vpnRoutes = s.withdrawAllVPN(p, vpnRoutes)
		}
		for _, r := range vpnRoutes {
			as, pv, ok := s.importFilter(p, packet.VPNv4, r.Prefix, set, vpnNH, vaf.PreferredValue)
			if ok && filtered && !s.keepAllVPN() && !s.anyInstanceImports(as.rts) {
				s.attrs.release(as)
				ok = false
			}
			if !ok {
				s.withdrawVPN(p, r.VPNPrefix)
				continue
			}
			n := s.nexthop(PublicInstance, vpnNH)
			s.upsertVPN(r.VPNPrefix, path{src: p, attrs: as, nh: n, label: r.Label, pref: pv, kind: kindPeer})
		}
	}
}

func (s *Speaker) withdrawAllVPN(p *peer, rs []packet.VPNRoute) []packet.VPNRoute {
	for _, r := range rs {
		s.withdrawVPN(p, r.VPNPrefix)
	}
	return nil
}

func (s *Speaker) withdrawUnicast(p *peer, k packet.Prefix) {
	s.removeUnicast(p.inst, k, &path{src: p, kind: kindPeer})
}

func (s *Speaker) withdrawVPN(p *peer, k packet.VPNPrefix) {
	s.removeVPN(k, &path{src: p, kind: kindPeer})
}

func (s *Speaker) keepAllVPN() bool { return s.cfg.VPNv4 != nil && s.cfg.VPNv4.NoPolicyVPNTarget }

func (s *Speaker) anyInstanceImports(rts []packet.ExtCommunity) bool {
	for _, in := range s.insts {
		if in.vpn != nil && !in.dying && in.importsAny(rts) {
			return true
		}
	}
	return false
}

// usableNextHop refuses a next hop that is this router (RFC 4271 §5.1.3).
func (s *Speaker) usableNextHop(p *peer, nh netip.Addr) bool {
	return nh.Is4() && nh != p.local && packet.Addr32(nh) != s.routerID && !nh.IsUnspecified()
}

// clusterID of a family: configured, else the router ID.
func (s *Speaker) clusterID(f packet.Family) uint32 {
	var id uint32
	if f == packet.VPNv4 && s.cfg.VPNv4 != nil {
		id = s.cfg.VPNv4.ClusterID
	} else if f == packet.IPv4Unicast {
		id = s.cfg.Unicast.ClusterID
	}
	if id == 0 {
		id = s.routerID
	}
	return id
}

func (s *Speaker) betweenClients(f packet.Family) bool {
	if f == packet.VPNv4 {
		return s.cfg.VPNv4 == nil || !s.cfg.VPNv4.NoReflectBetweenClients
	}
	return !s.cfg.Unicast.NoReflectBetweenClients
}

// rejectAttrs applies the loop checks on receipt; a reason means the
// routes are withdrawn.
func (s *Speaker) rejectAttrs(p *peer, a *packet.Attrs) string {
	allow := int(p.af(packet.IPv4Unicast).AllowASLoop)
	if p.cfg.AF[packet.VPNv4].AllowASLoop > uint8(allow) {
		allow = int(p.cfg.AF[packet.VPNv4].AllowASLoop)
	}
	if n := a.ASPath.Count(s.cfg.AS); n > allow {
		return "AS path contains the local AS"
	}
	if p.ebgp && a.ASPath.First() != p.cfg.AS {
		return "first AS of the path is not the peer's"
	}
	if !p.ebgp {
		if a.OriginatorID != 0 && a.OriginatorID == s.routerID {
			return "ORIGINATOR_ID is this router"
		}
		for _, f := range famByIdx {
			cid := s.clusterID(f)
			for _, c := range a.ClusterList {
				if c == cid {
					return "CLUSTER_LIST contains this cluster"
				}
			}
		}
	}
	return ""
}

// ribRoute records a RIB route and re-evaluates what BGP originates for
// its prefix.
func (s *Speaker) ribRoute(e RIBRoute) {
	in := s.insts[normInstance(e.Instance)]
	if in == nil {
		return
	}
	if e.Reset {
		keys := make([]packet.Prefix, 0, len(in.rib))
		for k := range in.rib {
			keys = append(keys, k)
		}
		clear(in.rib)
		slices.SortFunc(keys, comparePrefix)
		for _, k := range keys {
			s.refreshLocal(in, k)
		}
		return
	}
	k, err := packet.PrefixFrom(e.Prefix)
	if err != nil {
		return
	}
	if e.Delete {
		delete(in.rib, k)
	} else {
		e.NextHops = slices.Clone(e.NextHops)
		in.rib[k] = e
	}
	s.refreshLocal(in, k)
}

// refreshLocal sets the locally originated path of a prefix from `network`
// and `import-route` and the RIB's active route.
func (s *Speaker) refreshLocal(in *instance, k packet.Prefix) {
	probe := path{kind: kindLocal}
	r, ok := in.rib[k]
	var want *path
	if ok && in.af != nil && !in.dying {
		network, polName := false, ""
		for _, n := range in.af.Networks {
			if pk, err := packet.PrefixFrom(n.Prefix); err == nil && pk == k {
				network, polName = true, n.Policy
			}
		}
		var imp *ImportRoute
		for i := range in.af.Imports {
			if in.af.Imports[i].Protocol == r.Protocol {
				imp = &in.af.Imports[i]
			}
		}
		if !network && imp != nil {
			polName = imp.Policy
		}
		if network || imp != nil {
			a := packet.Attrs{Origin: packet.OriginIncomplete, MED: r.Cost, HasMED: true}
			if network {
				a.Origin = packet.OriginIGP
			} else if imp.HasMED {
				a.MED = imp.MED
			}
			var nh netip.Addr
			if len(r.NextHops) > 0 {
				nh = r.NextHops[0].Gateway
			}
			if pref, ok := s.filter("", polName, k, &a, nh, 0); ok {
				want = &path{kind: kindLocal, attrs: s.attrs.get(&a), pref: pref,
					orig: &origin{inst: in, proto: r.Protocol, network: network, nexthops: r.NextHops}}
			}
		}
	}
	cur := in.routes.find(k, &probe)
	switch {
	case want == nil && cur != nil:
		s.removeUnicast(in, k, &probe)
	case want != nil && cur != nil && cur.equal(want) && cur.pref == want.pref:
		s.attrs.release(want.attrs)
	case want != nil:
		s.upsertUnicast(in, k, *want)
	}
}

// nextHopState records the RIB's view of a next hop and re-evaluates the
// destinations that use it.
func (s *Speaker) nextHopState(e NextHopState) {
	n := s.nhs[nhKey{Instance: normInstance(e.Instance), Addr: e.Addr}]
	if n == nil {
		return
	}
	if n.reachable == e.Reachable && n.tunnel == e.Tunnel && n.cost == e.Cost {
		return
	}
	n.reachable, n.tunnel, n.cost = e.Reachable, e.Tunnel, e.Cost
	touchUsing(s.vpn, n)
	for _, in := range s.instList() {
		touchUsing(in.routes, n)
	}
}

func touchUsing[K comparable](t *table[K], n *nexthop) {
	// Map order does not matter: the lists are sorted before use.
	for k, d := range t.dests {
		for i := range d.paths {
			if d.paths[i].nh == n {
				t.touch(k, d)
				break
			}
		}
	}
}

// flush recomputes every changed destination (following exports and
// imports until nothing moves), then turns the differences into RIB
// changes and UPDATEs, and sends the table dumps that are due.
func (s *Speaker) flush() {
	for round := 0; round < 16; round++ {
		work := false
		for _, in := range s.instList() {
			for _, e := range in.routes.takePending() {
				work = true
				selectPaths(e.d, s.routerID, in.maxPaths())
				s.exportRoute(in, e.k, e.d)
			}
		}
		for _, e := range s.vpn.takePending() {
			work = true
			selectPaths(e.d, s.routerID, 1)
		}
		if !work {
			break
		}
	}
	b := s.newBatch()
	for _, in := range s.instList() {
		groups := s.groupsOf(in.name, packet.IPv4Unicast)
		dl := in.routes.takeDirty()
		for _, e := range dl {
			k, d, old := e.k, e.d, e.old
			sel := d.selected()
			s.installDiff(in, k, old, sel)
			var ob, nb *path
			if len(old) > 0 {
				ob = &old[0]
			}
			if len(sel) > 0 {
				nb = &sel[0]
			}
			for _, g := range groups {
				b.advertise(g, k, packet.VPNPrefix{}, ob, nb)
			}
			if len(d.paths) == 0 {
				delete(in.routes.dests, k)
			}
		}
		in.routes.recycle(dl)
	}
	vgroups := s.groupsOf(PublicInstance, packet.VPNv4)
	vdl := s.vpn.takeDirty()
	for _, e := range vdl {
		k, d, old := e.k, e.d, e.old
		var ob, nb *path
		if len(old) > 0 {
			ob = &old[0]
		}
		nb = d.best()
		for _, g := range vgroups {
			b.advertise(g, k.Prefix, k, ob, nb)
		}
		if len(d.paths) == 0 {
			delete(s.vpn.dests, k)
		}
	}
	s.vpn.recycle(vdl)
	for _, in := range s.dying {
		s.freeInstanceLabels(in)
	}
	s.dying = nil
	// Re-evaluations of what peers were sent (export policies or settings
	// changed), then dumps for peers that came up or asked for a refresh.
	for _, key := range s.sortedPeerKeys() {
		p := s.peers[key]
		for i, f := range famByIdx {
			rv := p.readv[i]
			if rv == nil {
				continue
			}
			p.readv[i] = nil
			if !p.up || p.pending[i] {
				continue
			}
			if p.groups[i] == nil {
				s.joinGroup(p, f)
			}
			b.readvertise(p, f, rv)
		}
	}
	for _, key := range s.sortedPeerKeys() {
		p := s.peers[key]
		if !p.up {
			continue
		}
		for i, f := range famByIdx {
			if !p.pending[i] {
				continue
			}
			p.pending[i] = false
			if p.groups[i] == nil {
				s.joinGroup(p, f)
			}
			b.dump(p, f)
		}
	}
	b.send()
}

// installDiff emits the RIB change of one destination of an instance.
func (s *Speaker) installDiff(in *instance, k packet.Prefix, old, sel []path) {
	or, ok1 := s.ribRouteOf(in, k, old)
	nr, ok2 := s.ribRouteOf(in, k, sel)
	switch {
	case ok2 && (!ok1 || !reflect.DeepEqual(or, nr)):
		s.emit(InstallRoute{Instance: in.name, Route: nr})
	case ok1 && !ok2:
		s.emit(RemoveRoute{Instance: in.name, Prefix: k.Netip()})
	}
}

// ribRouteOf is the route BGP installs for a selection (none when the
// best is locally originated: it came from the RIB).
func (s *Speaker) ribRouteOf(in *instance, k packet.Prefix, sel []path) (Route, bool) {
	if len(sel) == 0 || sel[0].kind == kindLocal {
		return Route{}, false
	}
	best := &sel[0]
	r := Route{Prefix: k.Netip(), EBGP: best.ebgp(), Preference: 255, MED: best.med()}
	for i := range sel {
		p := &sel[i]
		switch p.kind {
		case kindPeer:
			r.NextHops = append(r.NextHops, NextHop{Gateway: p.nh.key.Addr})
		case kindImported:
			r.NextHops = append(r.NextHops, NextHop{Gateway: p.nh.key.Addr, Instance: PublicInstance, Label: p.label, Tunnel: true})
		case kindCrossed:
			for _, nh := range p.orig.nexthops {
				nh.Instance = p.orig.inst.name
				r.NextHops = append(r.NextHops, nh)
			}
		}
	}
	if len(r.NextHops) == 0 {
		return Route{}, false
	}
	return r, true
}
