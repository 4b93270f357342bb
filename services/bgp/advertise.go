package bgp

import (
	"log/slog"
	"net/netip"
	"slices"

	"vpnos/services/bgp/packet"
	"vpnos/services/policy"
)

// groupKey is everything that shapes what a peer is sent in a family:
// peers with equal keys form an update group and share the encoded
// UPDATEs (RFC 4271 leaves this to the implementation; FRR and VRP call it
// update groups).
type groupKey struct {
	inst     string
	family   packet.Family
	ebgp     bool
	peerAS   uint32 // external groups: the AS substituted / checked
	as4      bool
	local    netip.Addr // the session's local address: next hop self
	client   bool
	nhLocal  bool
	defRoute bool
	substAS  bool
	advComm  bool
	advExt   bool
	// expPolicy and expPrefix are the export route-policy and ip-prefix.
	expPolicy string
	expPrefix string
}

type group struct {
	key     groupKey
	members []*peer // sorted by key
}

func (s *Speaker) groupKeyFor(p *peer, f packet.Family) groupKey {
	af := p.af(f)
	k := groupKey{inst: p.key.Instance, family: f, ebgp: p.ebgp, as4: p.neg.AS4, local: p.local,
		client: af.ReflectClient, nhLocal: af.NextHopLocal, advComm: p.cfg.AdvertiseCommunity || af.AdvertiseCommunity,
		advExt: p.cfg.AdvertiseExtCommunity, expPolicy: af.ExportPolicy, expPrefix: af.ExportPrefix}
	if p.ebgp {
		k.peerAS = p.cfg.AS
		k.substAS = af.SubstituteAS
	}
	if f == packet.IPv4Unicast {
		k.defRoute = af.DefaultRouteAdvertise
	}
	return k
}

func (s *Speaker) joinGroup(p *peer, f packet.Family) {
	k := s.groupKeyFor(p, f)
	g := s.groups[k]
	if g == nil {
		g = &group{key: k}
		s.groups[k] = g
	}
	i, _ := slices.BinarySearchFunc(g.members, p, func(a, b *peer) int { return comparePeerKey(a.key, b.key) })
	g.members = slices.Insert(g.members, i, p)
	p.groups[famIdx(f)] = g
}

func (s *Speaker) leaveGroup(p *peer, g *group) {
	if i := slices.Index(g.members, p); i >= 0 {
		g.members = slices.Delete(g.members, i, i+1)
	}
	if len(g.members) == 0 {
		delete(s.groups, g.key)
	}
}

// groupsOf lists the update groups of a table, in a fixed order.
func (s *Speaker) groupsOf(inst string, f packet.Family) []*group {
	var out []*group
	for k, g := range s.groups {
		if k.inst == inst && k.family == f {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *group) int { return comparePeerKey(a.members[0].key, b.members[0].key) })
	return out
}

// outRoute is what one destination is advertised as: the encoded
// attributes (NEXT_HOP included for IPv4 unicast), the MP next hop and
// the label (VPNv4).
type outRoute struct {
	attrs string
	nh    netip.Addr
	label uint32
}

// target is who a bucket goes to: one peer, or a group except up to two
// members (the peers a route came from, which get their own view).
type target struct {
	g    *group
	only *peer
	excl [2]*peer
}

type bucketKey struct {
	t        target
	withdraw bool
	out      outRoute
}

type bucket struct {
	key      bucketKey
	family   packet.Family
	prefixes []packet.Prefix
	vpn      []packet.VPNRoute
}

type memoKey struct {
	set   *attrSet
	g     *group
	nh    netip.Addr
	mode  uint8
	srcID uint32
	def   bool
}

// batch collects the UPDATEs of one flush, bucketed by recipients and
// attributes so that each bucket is encoded once and packed.
type batch struct {
	s       *Speaker
	buckets map[bucketKey]*bucket
	order   []*bucket
	memo    map[memoKey]string
	eor     map[*peer][]packet.Family
}

func (s *Speaker) newBatch() *batch {
	return &batch{s: s, buckets: map[bucketKey]*bucket{}, memo: map[memoKey]string{}, eor: map[*peer][]packet.Family{}}
}

func (b *batch) add(t target, f packet.Family, withdraw bool, out outRoute, k packet.Prefix, vk packet.VPNPrefix) {
	key := bucketKey{t: t, withdraw: withdraw, out: out}
	bk := b.buckets[key]
	if bk == nil {
		bk = &bucket{key: key, family: f}
		b.buckets[key] = bk
		b.order = append(b.order, bk)
	}
	if f == packet.VPNv4 {
		bk.vpn = append(bk.vpn, packet.VPNRoute{VPNPrefix: vk, Label: out.label})
	} else {
		bk.prefixes = append(bk.prefixes, k)
	}
}

var defaultPrefix = packet.Prefix{}

// advertise compares what a group's members were sent for a destination
// with what they should now have, and queues the difference.
func (b *batch) advertise(g *group, k packet.Prefix, vk packet.VPNPrefix, old, nw *path) {
	f := g.key.family
	isDef := f == packet.IPv4Unicast && k == defaultPrefix
	var specials []*peer
	for _, p := range []*path{old, nw} {
		if p != nil && p.src != nil && !slices.Contains(specials, p.src) {
			if i, found := slices.BinarySearchFunc(g.members, p.src, func(a, b *peer) int { return comparePeerKey(a.key, b.key) }); found && g.members[i] == p.src {
				specials = append(specials, p.src)
			}
		}
	}
	pol := b.s.policies()
	diff := func(t target, to *peer) {
		o, okO := b.s.outFor(old, g, to, isDef, k, b, pol)
		n, okN := b.s.outFor(nw, g, to, isDef, k, b, pol)
		switch {
		case okN && (!okO || o != n):
			b.add(t, f, false, n, k, vk)
		case okO && !okN:
			b.add(t, f, true, outRoute{}, k, vk)
		}
	}
	if len(g.members) > len(specials) {
		t := target{g: g}
		copy(t.excl[:], specials)
		diff(t, nil)
	}
	for _, sp := range specials {
		diff(target{only: sp}, sp)
	}
}

// dump queues the whole table of a family for one peer, then End-of-RIB.
func (b *batch) dump(p *peer, f packet.Family) {
	g := p.groups[famIdx(f)]
	t := target{only: p}
	pol := b.s.policies()
	if f == packet.VPNv4 {
		for _, k := range b.s.vpn.sortedKeys() {
			if out, ok := b.s.outFor(b.s.vpn.dests[k].best(), g, p, false, k.Prefix, b, pol); ok {
				b.add(t, f, false, out, k.Prefix, k)
			}
		}
	} else {
		tb := p.inst.routes
		sentDef := false
		for _, k := range tb.sortedKeys() {
			isDef := k == defaultPrefix
			if out, ok := b.s.outFor(tb.dests[k].best(), g, p, isDef, k, b, pol); ok {
				b.add(t, f, false, out, k, packet.VPNPrefix{})
				sentDef = sentDef || isDef
			}
		}
		if g.key.defRoute && !sentDef {
			if out, ok := b.s.outFor(nil, g, p, true, defaultPrefix, b, pol); ok {
				b.add(t, f, false, out, defaultPrefix, packet.VPNPrefix{})
			}
		}
	}
	b.eor[p] = append(b.eor[p], f)
}

// readvertise sends p the differences between what it was sent in f
// under rv (its former group and policies) and what it is sent now.
func (b *batch) readvertise(p *peer, f packet.Family, rv *readvertise) {
	g := p.groups[famIdx(f)]
	t := target{only: p}
	pol := b.s.policies()
	diff := func(best *path, isDef bool, k packet.Prefix, vk packet.VPNPrefix) {
		o, okO := b.s.outFor(best, rv.g, p, isDef, k, b, rv.pol)
		n, okN := b.s.outFor(best, g, p, isDef, k, b, pol)
		switch {
		case okN && (!okO || o != n):
			b.add(t, f, false, n, k, vk)
		case okO && !okN:
			b.add(t, f, true, outRoute{}, k, vk)
		}
	}
	if f == packet.VPNv4 {
		for _, k := range b.s.vpn.sortedKeys() {
			diff(b.s.vpn.dests[k].best(), false, k.Prefix, k)
		}
		return
	}
	tb := p.inst.routes
	sawDef := false
	for _, k := range tb.sortedKeys() {
		d := tb.dests[k]
		if k == defaultPrefix && d.best() != nil {
			sawDef = true
		}
		diff(d.best(), k == defaultPrefix, k, packet.VPNPrefix{})
	}
	if !sawDef {
		diff(nil, true, defaultPrefix, packet.VPNPrefix{})
	}
}

// Transformation modes (memo keys).
const (
	modeLocal uint8 = iota + 1
	modeReflect
	modeEBGPLearned
	modeImported
	modeDefault
)

// outFor computes what p is advertised as to a member of g (to: a given
// peer, nil: any member that is not the path's source). ok false: not
// advertised.
func (s *Speaker) outFor(p *path, g *group, to *peer, isDef bool, k packet.Prefix, b *batch, pol *policy.Set) (outRoute, bool) {
	f := g.key.family
	var set *attrSet
	var mode uint8
	var srcID uint32
	switch {
	case isDef && g.key.defRoute:
		mode = modeDefault
	case p == nil:
		return outRoute{}, false
	default:
		if to != nil && p.src == to {
			return outRoute{}, false // never back to where it came from
		}
		set = p.attrs
		switch p.kind {
		case kindLocal, kindExport:
			mode = modeLocal
		case kindImported, kindCrossed:
			mode = modeImported
		case kindPeer:
			if p.src.ebgp {
				mode = modeEBGPLearned
			} else {
				if !g.key.ebgp {
					// RFC 4456 §6: from a client to everyone (to
					// clients only with reflect between-clients),
					// from a non-client to clients only.
					if p.src.client(f) {
						if g.key.client && !s.betweenClients(f) {
							return outRoute{}, false
						}
					} else if !g.key.client {
						return outRoute{}, false
					}
				} else if f == packet.VPNv4 {
					// Inter-AS option B (a new label) is not done.
					return outRoute{}, false
				}
				mode = modeReflect
				srcID = p.src.remoteID
			}
		}
	}
	// The next hop.
	var nh netip.Addr
	self := g.key.local
	switch {
	case g.key.ebgp, mode == modeLocal, mode == modeDefault, mode == modeImported:
		nh = self
	case mode == modeEBGPLearned && g.key.nhLocal:
		nh = self
	default:
		nh = p.nh.key.Addr
	}
	if !nh.IsValid() {
		return outRoute{}, false
	}
	out := outRoute{nh: nh}
	if f == packet.VPNv4 {
		out.label = p.label
	}
	if g.key.expPrefix != "" && !pol.PermitPrefix(g.key.expPrefix, k.Netip()) {
		return outRoute{}, false
	}
	if g.key.expPolicy != "" {
		// The export policy sees the route as the table has it; the
		// result depends on the prefix, so nothing is shared.
		base, pref := packet.Attrs{Origin: packet.OriginIGP}, uint16(0)
		if set != nil {
			base, pref = *set.Attrs.Clone(), p.pref
		}
		res := pol.Evaluate(g.key.expPolicy, policyRoute(k, &base, nh, pref))
		if !res.Permit {
			return outRoute{}, false
		}
		applyResult(&base, res, pref)
		a := s.transform(base, g, mode, srcID)
		if res.Set&policy.AttrCost != 0 {
			a.MED, a.HasMED = res.Route.Cost, true
		}
		if res.Set&policy.AttrLocalPref != 0 && !g.key.ebgp {
			a.LocalPref, a.HasLocalPref = res.Route.LocalPref, true
		}
		if f == packet.IPv4Unicast {
			a.NextHop = nh
		}
		enc, err := packet.EncodeAttrs(&a, packet.Options{AS4: g.key.as4})
		if err != nil {
			s.logf(slog.LevelError, PeerKey{}, "cannot encode attributes: %v", err)
			return outRoute{}, false
		}
		out.attrs = string(enc)
		return out, true
	}
	mk := memoKey{set: set, g: g, mode: mode, srcID: srcID, def: isDef}
	if f == packet.IPv4Unicast {
		mk.nh = nh
	}
	if enc, ok := b.memo[mk]; ok {
		out.attrs = enc
		return out, enc != ""
	}
	base := packet.Attrs{Origin: packet.OriginIGP}
	if set != nil {
		base = set.Attrs
	}
	a := s.transform(base, g, mode, srcID)
	if f == packet.IPv4Unicast {
		a.NextHop = nh
	}
	enc, err := packet.EncodeAttrs(&a, packet.Options{AS4: g.key.as4})
	if err != nil {
		s.logf(slog.LevelError, PeerKey{}, "cannot encode attributes: %v", err)
	}
	b.memo[mk] = string(enc)
	out.attrs = string(enc)
	return out, len(enc) > 0
}

// transform builds the attributes sent for a path (RFC 4271 §5, RFC 4456
// §8, VRP's defaults).
func (s *Speaker) transform(a packet.Attrs, g *group, mode uint8, srcID uint32) packet.Attrs {
	a.ASPath = a.ASPath.Clone()
	f := g.key.family
	if g.key.ebgp {
		if g.key.substAS {
			a.ASPath = a.ASPath.Replace(g.key.peerAS, s.cfg.AS)
		}
		a.ASPath = a.ASPath.Prepend(s.cfg.AS, 1)
		a.HasLocalPref, a.LocalPref = false, 0
		a.OriginatorID, a.ClusterList = 0, nil
		if mode != modeLocal {
			// A MED learned from another AS goes no further.
			a.HasMED, a.MED = false, 0
		}
	} else {
		if !a.HasLocalPref {
			a.HasLocalPref, a.LocalPref = true, 100
		}
		if mode == modeReflect {
			if a.OriginatorID == 0 {
				a.OriginatorID = srcID
			}
			a.ClusterList = append([]uint32{s.clusterID(f)}, a.ClusterList...)
		} else {
			a.OriginatorID, a.ClusterList = 0, nil
		}
	}
	if !g.key.advComm {
		a.Communities = nil
	}
	if f != packet.VPNv4 && !g.key.advExt {
		a.ExtCommunities = nil
	}
	return a
}

// send encodes the buckets and emits one Send per peer.
func (b *batch) send() {
	per := map[*peer][][]byte{}
	var peers []*peer
	deliver := func(p *peer, msgs [][]byte) {
		if !p.up {
			return
		}
		if _, ok := per[p]; !ok {
			peers = append(peers, p)
		}
		per[p] = append(per[p], msgs...)
	}
	for _, bk := range b.order {
		var msgs [][]byte
		var err error
		switch {
		case bk.family == packet.VPNv4 && bk.key.withdraw:
			vp := make([]packet.VPNPrefix, len(bk.vpn))
			for i := range bk.vpn {
				vp[i] = bk.vpn[i].VPNPrefix
			}
			msgs = packet.AppendVPNWithdraws(nil, vp)
		case bk.family == packet.VPNv4:
			msgs, err = packet.AppendVPNUpdates(nil, []byte(bk.key.out.attrs), bk.key.out.nh, bk.vpn)
		case bk.key.withdraw:
			msgs = packet.AppendIPv4Withdraws(nil, bk.prefixes)
		default:
			msgs, err = packet.AppendIPv4Updates(nil, []byte(bk.key.out.attrs), bk.prefixes)
		}
		if err != nil {
			b.s.logf(slog.LevelError, PeerKey{}, "cannot build UPDATE: %v", err)
			continue
		}
		t := bk.key.t
		if t.only != nil {
			deliver(t.only, msgs)
			continue
		}
		for _, m := range t.g.members {
			if m != t.excl[0] && m != t.excl[1] {
				deliver(m, msgs)
			}
		}
	}
	for p, fams := range b.eor {
		for _, f := range fams {
			deliver(p, [][]byte{packet.EncodeEndOfRIB(f)})
		}
	}
	slices.SortFunc(peers, func(a, b *peer) int { return comparePeerKey(a.key, b.key) })
	for _, p := range peers {
		p.updOut += uint64(len(per[p]))
		b.s.send(p, per[p]...)
	}
}
