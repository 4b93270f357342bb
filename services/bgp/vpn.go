package bgp

import (
	"log/slog"
	"net/netip"
	"slices"

	"vpnos/services/bgp/packet"
)

// labelOwner is the owner tag of an instance's labels in the label manager.
func labelOwner(in *instance) string { return "bgp:vpn-instance:" + in.name }

// instanceLabel returns the per-instance label, allocating it on first use
// (or using the instance's own one, which its owner programs).
func (s *Speaker) instanceLabel(in *instance) (uint32, bool) {
	if in.label != 0 {
		return in.label, true
	}
	if in.vpn.StaticLabel != 0 {
		in.label = in.vpn.StaticLabel
		return in.label, true
	}
	if s.labels == nil {
		s.logf(slog.LevelError, PeerKey{}, "VPN instance %s: no label manager", in.name)
		return 0, false
	}
	l, err := s.labels.Allocate(labelOwner(in))
	if err != nil {
		s.logf(slog.LevelError, PeerKey{}, "VPN instance %s: no label: %v", in.name, err)
		return 0, false
	}
	in.label = l
	s.emit(ProgramLabel{Label: in.label, Instance: in.name})
	return in.label, true
}

// routeLabel returns the per-route label of a prefix, allocating it.
func (s *Speaker) routeLabel(in *instance, k packet.Prefix) (uint32, bool) {
	if l, ok := in.routeLabels[k]; ok {
		return l, true
	}
	if s.labels == nil {
		return 0, false
	}
	l, err := s.labels.Allocate(labelOwner(in))
	if err != nil {
		s.logf(slog.LevelError, PeerKey{}, "VPN instance %s: no label for %s: %v", in.name, k, err)
		return 0, false
	}
	in.routeLabels[k] = l
	s.emit(ProgramLabel{Label: l, Instance: in.name, Prefix: k.Netip()})
	return l, true
}

func (s *Speaker) freeLabel(in *instance, l uint32) {
	if l == in.vpn.StaticLabel {
		return // the instance's own label: its owner keeps it programmed
	}
	s.emit(RemoveLabel{Label: l, Instance: in.name})
	if s.labels != nil {
		_ = s.labels.Free(l, labelOwner(in))
	}
}

// freeInstanceLabels releases everything an instance holds.
func (s *Speaker) freeInstanceLabels(in *instance) {
	if in.vpn == nil {
		return
	}
	keys := make([]packet.Prefix, 0, len(in.routeLabels))
	for k := range in.routeLabels {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePrefix)
	for _, k := range keys {
		s.freeLabel(in, in.routeLabels[k])
		delete(in.routeLabels, k)
	}
	if in.label != 0 {
		s.freeLabel(in, in.label)
		in.label = 0
	}
}

// exportable reports whether an instance's best path leaves as VPNv4: its
// own routes and those of its CEs, never routes it imported.
func exportable(p *path) bool {
	return p != nil && (p.kind == kindLocal || p.kind == kindPeer)
}

// exportRoute keeps the VPNv4 table in step with a VPN instance's best path
// to k: exported with the instance's RD, export targets and label.
func (s *Speaker) exportRoute(in *instance, k packet.Prefix, d *dest) {
	if in.vpn == nil || (in.exported == 0 && (len(in.vpn.ExportRTs) == 0 || in.dying)) {
		return
	}
	vk := packet.VPNPrefix{RD: in.vpn.RD, Prefix: k}
	probe := path{kind: kindExport}
	cur := s.vpn.find(vk, &probe)
	var best *path
	if !in.dying {
		best = d.best()
	}
	var a packet.Attrs
	ok := exportable(best) && len(in.vpn.ExportRTs) > 0
	if ok {
		a, ok = s.exportAttrs(in, k, best)
	}
	if !ok {
		if cur != nil {
			s.removeVPN(vk, &probe)
			in.exported--
		}
		if l, ok := in.routeLabels[k]; ok {
			s.freeLabel(in, l)
			delete(in.routeLabels, k)
		}
		if in.exported == 0 && in.label != 0 && in.vpn.LabelMode == LabelPerInstance && in.vpn.StaticLabel == 0 {
			// The instance exports nothing any more: its label goes.
			s.freeLabel(in, in.label)
			in.label = 0
		}
		return
	}
	var label uint32
	if in.vpn.LabelMode == LabelPerRoute {
		label, ok = s.routeLabel(in, k)
	} else {
		label, ok = s.instanceLabel(in)
	}
	if !ok {
		return
	}
	o := &origin{inst: in, ebgp: best.ebgp()}
	if best.kind == kindLocal {
		o.proto, o.network, o.nexthops = best.orig.proto, best.orig.network, best.orig.nexthops
	} else {
		o.nexthops = []NextHop{{Gateway: best.nh.key.Addr}}
	}
	np := path{kind: kindExport, attrs: s.attrs.get(&a), label: label, orig: o}
	if cur != nil && cur.equal(&np) && cur.orig.ebgp == o.ebgp {
		s.attrs.release(np.attrs)
		return
	}
	if cur == nil {
		in.exported++
	}
	s.upsertVPN(vk, np)
}

// exportAttrs are the attributes an instance's best path leaves with as
// VPNv4: its route targets replaced by the instance's export targets, and
// the instance's export route-policy applied (before the targets are
// attached, or after with add-ert-first); ok false when the policy denies.
func (s *Speaker) exportAttrs(in *instance, k packet.Prefix, best *path) (packet.Attrs, bool) {
	a := best.attrs.Attrs
	var ecs []packet.ExtCommunity
	for _, e := range a.ExtCommunities {
		if !e.IsRouteTarget() {
			ecs = append(ecs, e)
		}
	}
	if in.vpn.ExportPolicy == "" {
		a.ExtCommunities = append(ecs, in.vpn.ExportRTs...)
		return a, true
	}
	if in.vpn.ExportAddERTFirst {
		ecs = append(ecs, in.vpn.ExportRTs...)
	}
	a = *a.Clone()
	a.ExtCommunities = ecs
	var nh netip.Addr
	if best.nh != nil {
		nh = best.nh.key.Addr
	}
	if _, ok := s.filter("", in.vpn.ExportPolicy, k, &a, nh, best.pref); !ok {
		return a, false
	}
	if !in.vpn.ExportAddERTFirst {
		for _, rt := range in.vpn.ExportRTs {
			if !slices.Contains(a.ExtCommunities, rt) {
				a.ExtCommunities = append(a.ExtCommunities, rt)
			}
		}
	}
	return a, true
}

// reexportAll re-evaluates every export of an instance (targets or label
// mode changed).
func (s *Speaker) reexportAll(in *instance) {
	for k := range in.routes.dests {
		in.routes.touch(k, in.routes.dests[k])
	}
}

// reimport re-evaluates the imports of one instance against the whole
// VPNv4 table (its import targets changed, or it is new).
func (s *Speaker) reimport(in *instance) {
	for k, d := range s.vpn.dests {
		for i := range d.paths {
			v := &d.paths[i]
			want := !in.dying && in.importsAny(v.attrs.rts) && !(v.kind == kindExport && v.orig.inst == in)
			var ip path
			var tmp *attrSet
			if want {
				ip, tmp, want = s.importedFor(in, k, v)
			}
			if want {
				if cur := in.routes.find(k.Prefix, &ip); cur != nil && cur.equal(&ip) && cur.pref == ip.pref {
					if tmp != nil {
						s.attrs.release(tmp)
					}
					continue
				}
				s.hold(&ip)
				if tmp != nil {
					s.attrs.release(tmp)
				}
				s.upsertUnicast(in, k.Prefix, ip)
			} else {
				probe := importedFrom(k, v)
				s.removeUnicast(in, k.Prefix, &probe)
			}
		}
	}
}
