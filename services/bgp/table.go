package bgp

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"

	"vpnos/services/bgp/packet"
)

// attrSet is an interned, immutable attribute set shared by every path
// that carries it (a million VPN routes share about as many sets as there
// are distinct targets).
type attrSet struct {
	packet.Attrs
	key  string
	refs int
	rts  []packet.ExtCommunity
}

// localPref is LOCAL_PREF with the default 100.
func (a *attrSet) localPref() uint32 {
	if a.HasLocalPref {
		return a.LocalPref
	}
	return 100
}

// attrKey is a compact binary form of everything in a set, its identity.
func attrKey(a *packet.Attrs) string {
	b := make([]byte, 0, 64)
	b = append(b, byte(a.Origin))
	for _, s := range a.ASPath {
		b = append(b, byte(s.Type), byte(len(s.ASNs)))
		for _, as := range s.ASNs {
			b = binary.BigEndian.AppendUint32(b, as)
		}
	}
	b = append(b, 0xff)
	if a.NextHop.IsValid() {
		n := a.NextHop.As4()
		b = append(b, 1, n[0], n[1], n[2], n[3])
	} else {
		b = append(b, 0)
	}
	flags := byte(0)
	if a.HasMED {
		flags |= 1
	}
	if a.HasLocalPref {
		flags |= 2
	}
	if a.AtomicAggregate {
		flags |= 4
	}
	if a.Aggregator != nil {
		flags |= 8
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint32(b, a.MED)
	b = binary.BigEndian.AppendUint32(b, a.LocalPref)
	if a.Aggregator != nil {
		b = binary.BigEndian.AppendUint32(b, a.Aggregator.AS)
		b = binary.BigEndian.AppendUint32(b, packet.Addr32(a.Aggregator.Addr))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Communities)))
	for _, c := range a.Communities {
		b = binary.BigEndian.AppendUint32(b, c)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.ExtCommunities)))
	for _, c := range a.ExtCommunities {
		b = binary.BigEndian.AppendUint64(b, uint64(c))
	}
	b = binary.BigEndian.AppendUint32(b, a.OriginatorID)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.ClusterList)))
	for _, c := range a.ClusterList {
		b = binary.BigEndian.AppendUint32(b, c)
	}
	for _, u := range a.Unknown {
		b = append(b, u.Flags, u.Type)
		b = binary.BigEndian.AppendUint16(b, uint16(len(u.Value)))
		b = append(b, u.Value...)
	}
	return string(b)
}

// interner keeps the attribute sets in use.
type interner struct {
	sets map[string]*attrSet
}

// get returns the shared set equal to a (taking a reference). a must not
// be changed afterwards.
func (in *interner) get(a *packet.Attrs) *attrSet {
	k := attrKey(a)
	if s, ok := in.sets[k]; ok {
		s.refs++
		return s
	}
	s := &attrSet{Attrs: *a, key: k, refs: 1, rts: a.RouteTargets()}
	in.sets[k] = s
	return s
}

func (in *interner) ref(s *attrSet) { s.refs++ }

func (in *interner) release(s *attrSet) {
	s.refs--
	if s.refs == 0 {
		delete(in.sets, s.key)
	}
}

// nexthop is a tracked next hop: its state comes from the RIB (SetNextHop).
type nexthop struct {
	key       nhKey
	refs      int
	reachable bool
	tunnel    bool
	cost      uint32
}

type nhKey struct {
	Instance string
	Addr     netip.Addr
}

// pathKind says where a path comes from.
type pathKind uint8

const (
	// kindPeer: learned from a peer of the table's instance (or VPNv4).
	kindPeer pathKind = iota
	// kindLocal: `network` or `import-route` of the table's instance.
	kindLocal
	// kindImported: a VPNv4 route from a peer, imported into a VPN
	// instance by target.
	kindImported
	// kindExport: a VPN instance's route in the VPNv4 table.
	kindExport
	// kindCrossed: a route of another local VPN instance imported by
	// target (local crossing).
	kindCrossed
)

// origin describes the local route a kindLocal, kindExport or kindCrossed
// path stands for.
type origin struct {
	inst *instance
	// proto is the RIB protocol of a kindLocal path (network or
	// import-route); for an export of a CE route it is zero.
	proto Protocol
	// network is set for `network` (ORIGIN IGP); import-route gives
	// ORIGIN incomplete.
	network bool
	// nexthops are where the route points in inst (for local crossing).
	nexthops []NextHop
	// ebgp: the exported route was learned from an EBGP CE.
	ebgp bool
}

// path is one route to a destination. It is a value: a change replaces it.
type path struct {
	src   *peer
	attrs *attrSet
	nh    *nexthop
	orig  *origin
	rd    packet.RD
	label uint32
	// pref is the preferred value of the peer in the path's family.
	pref uint16
	kind pathKind
}

func (p *path) same(q *path) bool {
	return p.kind == q.kind && p.src == q.src && p.rd == q.rd &&
		(p.kind != kindCrossed || p.orig.inst == q.orig.inst)
}

// equal reports whether two paths would be advertised and installed alike.
func (p *path) equal(q *path) bool {
	if !p.same(q) || p.attrs != q.attrs || p.nh != q.nh || p.label != q.label {
		return false
	}
	if (p.orig == nil) != (q.orig == nil) {
		return false
	}
	return p.orig == nil || p.orig == q.orig || slices.Equal(p.orig.nexthops, q.orig.nexthops)
}

func (p *path) local() bool { return p.kind == kindLocal || p.kind == kindExport }

func (p *path) ebgp() bool {
	switch p.kind {
	case kindPeer:
		return p.src.ebgp
	case kindExport:
		return p.orig.ebgp
	}
	return false
}

// dest is one destination: its paths, the selected ones first.
type dest struct {
	paths []path
	nsel  uint8
	mark  uint8 // markDirty, markPending
	// one holds the first path: most destinations have a single path,
	// and it comes with the destination in one allocation.
	one [1]path
}

const (
	markDirty   = 1 << iota // in the table's dirty list
	markPending             // in the table's pending list
)

func (d *dest) selected() []path { return d.paths[:d.nsel] }

func (d *dest) best() *path {
	if d.nsel == 0 {
		return nil
	}
	return &d.paths[0]
}

// keyed is a destination with its key.
type keyed[K comparable] struct {
	k K
	d *dest
}

// dirtyEntry is a changed destination with its selection before the first
// change of the step.
type dirtyEntry[K comparable] struct {
	keyed[K]
	old []path
}

// table is one RIB of destinations keyed by K (an IPv4 prefix or a
// VPN-IPv4 prefix). Destinations changed in a step are listed in dirty
// (with their selection before the change) and, until their selection is
// recomputed, in pending; marks on the destinations keep the lists free of
// duplicates without a map lookup. A destination left without paths stays
// in the map until the end of the step (flush), so pointers to it hold.
type table[K comparable] struct {
	dests   map[K]*dest
	dirty   []dirtyEntry[K]
	pending []keyed[K]
	spare   []keyed[K] // the previous pending list, reused
	less    func(a, b K) int
}

func newTable[K comparable](less func(a, b K) int) *table[K] {
	return &table[K]{dests: map[K]*dest{}, less: less}
}

func (t *table[K]) sortKeyed(l []keyed[K]) {
	slices.SortFunc(l, func(a, b keyed[K]) int { return t.less(a.k, b.k) })
}

// takePending returns the destinations to recompute, sorted, and clears
// their pending marks.
func (t *table[K]) takePending() []keyed[K] {
	p := t.pending
	t.pending = t.spare[:0]
	t.sortKeyed(p)
	for _, e := range p {
		e.d.mark &^= markPending
	}
	t.spare = p
	return p
}

// takeDirty returns the changed destinations, sorted, and clears their
// dirty marks.
func (t *table[K]) takeDirty() []dirtyEntry[K] {
	dl := t.dirty
	t.dirty = nil
	slices.SortFunc(dl, func(a, b dirtyEntry[K]) int { return t.less(a.k, b.k) })
	for _, e := range dl {
		e.d.mark &^= markDirty
	}
	return dl
}

// recycle keeps a processed dirty list's storage for the next step.
func (t *table[K]) recycle(dl []dirtyEntry[K]) {
	clear(dl)
	if t.dirty == nil {
		t.dirty = dl[:0]
	}
}

// sortedKeys returns every destination, sorted.
func (t *table[K]) sortedKeys() []K {
	keys := make([]K, 0, len(t.dests))
	for k := range t.dests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, t.less)
	return keys
}

func comparePrefix(a, b packet.Prefix) int {
	if c := cmp.Compare(a.Addr, b.Addr); c != 0 {
		return c
	}
	return cmp.Compare(a.Len, b.Len)
}

func compareVPN(a, b packet.VPNPrefix) int {
	if c := cmp.Compare(a.RD, b.RD); c != 0 {
		return c
	}
	return comparePrefix(a.Prefix, b.Prefix)
}

// touch records a destination's selection before its first change and
// queues it for recomputation.
func (t *table[K]) touch(k K, d *dest) {
	if d.mark&markDirty == 0 {
		d.mark |= markDirty
		var old []path
		if d.nsel > 0 {
			old = slices.Clone(d.paths[:d.nsel])
		}
		t.dirty = append(t.dirty, dirtyEntry[K]{keyed: keyed[K]{k, d}, old: old})
	}
	if d.mark&markPending == 0 {
		d.mark |= markPending
		t.pending = append(t.pending, keyed[K]{k, d})
	}
}

// upsert adds p or replaces the path with the same identity. It returns
// the replaced path (ok false when none).
func (t *table[K]) upsert(k K, p path) (old path, ok bool) {
	d := t.dests[k]
	if d == nil {
		d = &dest{}
		d.one[0] = p
		d.paths = d.one[:1:1]
		t.dests[k] = d
		t.touch(k, d)
		return path{}, false
	}
	t.touch(k, d)
	for i := range d.paths {
		if d.paths[i].same(&p) {
			old = d.paths[i]
			d.paths[i] = p
			return old, true
		}
	}
	if len(d.paths) == 0 {
		d.paths = d.one[:0:1]
	}
	d.paths = append(d.paths, p)
	return path{}, false
}

// remove deletes the path with p's identity.
func (t *table[K]) remove(k K, p *path) (old path, ok bool) {
	d := t.dests[k]
	if d == nil {
		return path{}, false
	}
	for i := range d.paths {
		if d.paths[i].same(p) {
			t.touch(k, d)
			old = d.paths[i]
			d.paths = slices.Delete(d.paths, i, i+1)
			if i < int(d.nsel) {
				d.nsel--
			}
			if len(d.paths) == 0 {
				d.paths = d.one[:0:1]
			}
			return old, true
		}
	}
	return path{}, false
}

// find returns the path with p's identity.
func (t *table[K]) find(k K, p *path) *path {
	d := t.dests[k]
	if d == nil {
		return nil
	}
	for i := range d.paths {
		if d.paths[i].same(p) {
			return &d.paths[i]
		}
	}
	return nil
}

// usable reports whether a path may be selected: its next hop resolves,
// and an imported VPN route has a tunnel to it.
func usable(p *path) bool {
	switch p.kind {
	case kindLocal, kindExport, kindCrossed:
		return true
	case kindImported:
		return p.nh != nil && p.nh.reachable && p.nh.tunnel
	}
	return p.nh != nil && p.nh.reachable
}

func (p *path) prefVal() uint16 { return p.pref }

func (p *path) igpCost() uint32 {
	if p.nh == nil || p.kind == kindLocal || p.kind == kindExport {
		return 0
	}
	return p.nh.cost
}

func (p *path) med() uint32 {
	if p.attrs.HasMED {
		return p.attrs.MED
	}
	return 0
}

// routerID is the BGP identifier tie-breaker: the ORIGINATOR_ID of a
// reflected route, else the sending peer's identifier, ours for local ones.
func (p *path) routerID(own uint32) uint32 {
	if p.attrs.OriginatorID != 0 {
		return p.attrs.OriginatorID
	}
	if p.src != nil {
		return p.src.remoteID
	}
	return own
}

func (p *path) peerAddr() netip.Addr {
	if p.src != nil {
		return p.src.key.Addr
	}
	return netip.IPv4Unspecified()
}

// neighbourAS is the AS a route was learned from, for MED comparison.
func (p *path) neighbourAS() uint32 { return p.attrs.ASPath.First() }

// compareUpToIGP compares two usable paths through the IGP cost step (the
// steps that make paths equal for load balancing). Negative: a is better.
func compareUpToIGP(a, b *path) int {
	// 1. Preferred value: higher.
	if c := cmp.Compare(b.prefVal(), a.prefVal()); c != 0 {
		return c
	}
	// 2. Local preference: higher.
	if c := cmp.Compare(b.attrs.localPref(), a.attrs.localPref()); c != 0 {
		return c
	}
	// 3. Locally originated over learned.
	if a.local() != b.local() {
		if a.local() {
			return -1
		}
		return 1
	}
	// 4. AS path: shorter.
	if c := cmp.Compare(a.attrs.ASPath.Len(), b.attrs.ASPath.Len()); c != 0 {
		return c
	}
	// 5. Origin: IGP, EGP, incomplete.
	if c := cmp.Compare(a.attrs.Origin, b.attrs.Origin); c != 0 {
		return c
	}
	// 6. MED: lower, between routes from the same neighbour AS.
	if a.neighbourAS() == b.neighbourAS() {
		if c := cmp.Compare(a.med(), b.med()); c != 0 {
			return c
		}
	}
	// 7. EBGP over IBGP.
	if a.ebgp() != b.ebgp() {
		if a.ebgp() {
			return -1
		}
		return 1
	}
	// 8. IGP cost to the next hop: lower.
	return cmp.Compare(a.igpCost(), b.igpCost())
}

// comparePaths orders usable paths best first (VRP's order).
func comparePaths(a, b *path, own uint32) int {
	if c := compareUpToIGP(a, b); c != 0 {
		return c
	}
	// 9. Cluster list: shorter.
	if c := cmp.Compare(len(a.attrs.ClusterList), len(b.attrs.ClusterList)); c != 0 {
		return c
	}
	// 10. Router ID (originator ID when reflected): lower.
	if c := cmp.Compare(a.routerID(own), b.routerID(own)); c != 0 {
		return c
	}
	// 11. Peer address: lower.
	if c := a.peerAddr().Compare(b.peerAddr()); c != 0 {
		return c
	}
	// Deterministic remainder: kind, RD, label.
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	if c := cmp.Compare(a.rd, b.rd); c != 0 {
		return c
	}
	return cmp.Compare(a.label, b.label)
}

// nhAddr is the next-hop address used to tell load-balanced paths apart.
func (p *path) nhAddr() netip.Addr {
	if p.nh != nil {
		return p.nh.key.Addr
	}
	return netip.Addr{}
}

// selectPaths orders d's paths and sets how many are selected: the best,
// plus up to maxPaths-1 more equal to it through the IGP cost with the same
// AS path and another next hop (maximum load-balancing).
func selectPaths(d *dest, own uint32, maxPaths int) {
	slices.SortStableFunc(d.paths, func(a, b path) int {
		ua, ub := usable(&a), usable(&b)
		if ua != ub {
			if ua {
				return -1
			}
			return 1
		}
		if !ua {
			return 0
		}
		return comparePaths(&a, &b, own)
	})
	if len(d.paths) == 0 || !usable(&d.paths[0]) {
		d.nsel = 0
		return
	}
	if maxPaths < 1 {
		maxPaths = 1
	}
	n := 1
	best := &d.paths[0]
	if maxPaths > 1 && best.kind != kindLocal && best.kind != kindExport {
		for i := 1; i < len(d.paths) && n < maxPaths; i++ {
			p := &d.paths[i]
			if !usable(p) || compareUpToIGP(best, p) != 0 || !best.attrs.ASPath.Equal(p.attrs.ASPath) || p.kind == kindLocal {
				continue
			}
			dup := false
			for j := 0; j < n; j++ {
				if d.paths[j].nhAddr() == p.nhAddr() && d.paths[j].kind != kindCrossed {
					dup = true
				}
			}
			if dup {
				continue
			}
			// Move the load-balanced path right after the selected ones.
			if i != n {
				q := *p
				copy(d.paths[n+1:i+1], d.paths[n:i])
				d.paths[n] = q
			}
			n++
		}
	}
	if n > 255 {
		n = 255
	}
	d.nsel = uint8(n)
}
