package rib

// LSPs and how they become forwarding state.
//
// Every LSP belongs to an owner (OwnerStatic for `static-lsp`, OwnerLDP,
// OwnerBGP, OwnerVPNInstance for the VPN instances' own labels); an owner
// replaces its LSPs with SetLSPs or changes some with UpdateLSPs. Labels come
// from the label manager, asked by the owner (in Prepare for configuration):
// the RIB only refuses an in-label another LSP already programs.
//
// An LSP follows the route of its FEC (FEC in Instance): its next hops are
// those of the FEC's best route, and Out gives the out-label per next hop
// (matched by the gateway address the route names or resolves to), so an IGP
// change moves the LSP and an ECMP route gives an ECMP LSP. A static LSP is
// Explicit instead: Out names its one next hop (a directly connected gateway
// and/or an interface).
//
//   - ingress: while Up (the FEC has an active forwarding route and at least
//     one next hop resolves), the FIB entry of the FEC prefix is replaced by
//     the LSP's next hops with their out-labels pushed (nothing for implicit
//     null, label 0 for explicit null). The IP route stays in the routing
//     table and in displays. Everything resolved through the FEC route
//     inherits the path: BGP VPN routes (NextHop.Tunnel) need it and get
//     [LSP label, VPN label]; plain IP traffic to the FEC and routes recursing
//     over it are labelled too. With several owners' ingress LSPs for one
//     FEC, the first Up one in owner order (static, ldp, bgp, then by name)
//     carries the traffic.
//   - transit: an incoming-label entry swapping the in-label for the out-label
//     of each next hop (implicit null: pop, penultimate-hop popping).
//   - egress: an incoming-label entry popping the label. Without a FEC (or an
//     Explicit one), or when the FEC is one of the router's own addresses, the
//     packet is looked up in Instance (a static egress LSP, a per-instance VPN
//     label); when the FEC has a forwarding route, the packet is sent along it
//     (a per-route VPN label towards a CE).
//
// An in-interface (InInterface) keeps an LSP down while that interface is
// not up. Label 0 (explicit null) arriving is the forwarder's: it pops it
// and looks the packet up in the instance of the port it arrived on.

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"vpnos/services/fibapi"
)

// LSP owners vpnos uses.
const (
	OwnerStatic      = "static"
	OwnerLDP         = "ldp"
	OwnerBGP         = "bgp"
	OwnerVPNInstance = "vpn-instance"
)

// ownerRank orders owners: the first Up ingress LSP of a FEC in this order
// carries its traffic.
func ownerRank(o string) int {
	switch o {
	case OwnerStatic:
		return 0
	case OwnerLDP:
		return 1
	case OwnerBGP:
		return 2
	}
	return 3
}

func cmpOwner(a, b string) int {
	if c := cmp.Compare(ownerRank(a), ownerRank(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// LSP is one label switched path as its owner hands it to the RIB.
type LSP struct {
	// Name is unique per owner (a static LSP's name; LDP: the FEC).
	Name string
	Role LSPRole
	// Instance is where FEC is looked up and where an egress LSP without a
	// forwarding FEC delivers: fibapi.Public or a VPN instance (required).
	Instance string
	// FEC is the route the LSP follows: required for an ingress LSP and for
	// a transit LSP that is not Explicit; optional for an egress LSP.
	FEC netip.Prefix
	// InLabel is the incoming label of a transit or egress LSP (16 and up).
	InLabel uint32
	// InInterface (a VRP name, optional) keeps the LSP down while that
	// interface is not up.
	InInterface string
	// Out gives the out-labels of an ingress or transit LSP. Unless Explicit,
	// the next hops are those of the FEC's best route, and an Out entry gives
	// the label of the next hops whose gateway (as the route names it, or as
	// it resolved) is Out.Gateway (and whose interface is Out.Interface, when
	// set); next hops without an entry are left out, and the LSP is down when
	// none is left. An egress LSP has no Out.
	Out []LSPOut
	// Explicit: Out holds exactly one entry that is the next hop itself (a
	// static LSP): an outgoing interface of Instance, and/or a gateway on a
	// directly connected subnet of Instance. An Explicit ingress LSP is Up
	// while its FEC has an active route, whatever that route's next hops.
	Explicit bool
}

// LSPOut is the out-label for one next hop.
type LSPOut struct {
	Gateway   netip.Addr
	Interface string // VRP name
	// Label is pushed (ingress) or swapped to (transit): implicit null (3)
	// pops or pushes nothing, explicit null (0) is sent as is.
	Label uint32
}

// LSPStatus is an LSP with its state, for displays and protocols.
type LSPStatus struct {
	Owner string
	LSP
	Up bool
	// Carrying: this ingress LSP is the one its FEC's traffic takes.
	Carrying bool
	// Hops are the next hops in use with the labels pushed (ingress) or
	// swapped to (transit, and an egress LSP forwarding along its FEC); empty
	// for an egress LSP popping into PopInstance, and while down.
	Hops []Hop
	// PopInstance is where an Up egress LSP looks packets up ("" otherwise).
	PopInstance string
	// OutInterface is, for an Explicit LSP with a next hop, the interface it
	// leaves through: the configured one, or the one of the connected subnet
	// of its gateway, even while the LSP is down ("" when unknown).
	OutInterface string
}

type fecKey struct {
	inst   string
	prefix netip.Prefix
}

// fecEntry is what the LSPs of one FEC share: the FEC route's FIB entry
// before an ingress LSP replaced it, and the LSPs (ingress ones first, each
// group in owner order).
type fecEntry struct {
	ip   fibEntry
	lsps []*lspState
}

type lspState struct {
	LSP
	owner string
	up    bool
	hops  []Hop
	pop   string // egress: the instance looked up in
	// dirty: the label entry must be recomputed (in r.lspDirty).
	dirty bool
}

// labelEntry is an incoming-label entry as the RIB computes it (next hops
// by VRP name); fibLabel turns it into the forwarder's.
type labelEntry struct {
	inLabel  uint32
	op       fibapi.LabelOp
	hops     []Hop
	instance string
}

func sameLabel(a, b labelEntry) bool {
	return a.inLabel == b.inLabel && a.op == b.op && a.instance == b.instance && slices.EqualFunc(a.hops, b.hops, sameHop)
}

func (r *RIB) fibLabel(e labelEntry) fibapi.LabelEntry {
	out := fibapi.LabelEntry{InLabel: e.inLabel, Op: e.op, Instance: e.instance}
	for _, h := range e.hops {
		out.NextHops = append(out.NextHops, fibapi.NextHop{Port: r.kernel(h.Interface), Gateway: h.Gateway, Labels: slices.Clone(h.Labels)})
	}
	return out
}

// ErrNoLSP: no LSP of that owner and name.
var ErrNoLSP = errors.New("no such LSP")

func (l *LSP) validate(owner string) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s %s: %s", ErrBadLSP, owner, l.Name, fmt.Sprintf(format, a...))
	}
	if l.Name == "" {
		return fmt.Errorf("%w: %s: an LSP without a name", ErrBadLSP, owner)
	}
	if l.Instance == "" {
		return bad("no instance (the public instance is %s)", fibapi.Public)
	}
	if l.FEC.IsValid() && !l.FEC.Addr().Is4() {
		return bad("FEC %v is not IPv4", l.FEC)
	}
	switch l.Role {
	case Ingress:
		if !l.FEC.IsValid() {
			return bad("an ingress LSP needs a FEC")
		}
		if l.InLabel != 0 {
			return bad("an ingress LSP has no in-label")
		}
	case Transit, Egress:
		if l.InLabel < 16 || l.InLabel > 1<<20-1 {
			return bad("in-label %d out of range", l.InLabel)
		}
		if l.Role == Transit && !l.Explicit && !l.FEC.IsValid() {
			return bad("a transit LSP needs a FEC or an explicit next hop")
		}
	default:
		return bad("unknown role %d", l.Role)
	}
	if l.Role == Egress {
		if len(l.Out) > 0 {
			return bad("an egress LSP has no out-label")
		}
		return nil
	}
	if len(l.Out) == 0 {
		return bad("no out-label")
	}
	if l.Explicit && len(l.Out) != 1 {
		return bad("an explicit LSP has one next hop, not %d", len(l.Out))
	}
	for _, o := range l.Out {
		if !validOutLabel(o.Label) {
			return bad("out-label %d", o.Label)
		}
		if o.Gateway.IsValid() && !o.Gateway.Is4() {
			return bad("next hop %v is not IPv4", o.Gateway)
		}
		if l.Explicit && !o.Gateway.IsValid() && o.Interface == "" {
			return bad("needs a next hop or an outgoing interface")
		}
	}
	return nil
}

// ValidateLSPs checks a complete set of one owner's LSPs on their own
// (names, roles, labels, one ingress LSP per FEC), without a RIB.
func ValidateLSPs(owner string, lsps []LSP) error {
	if owner == "" {
		return fmt.Errorf("%w: LSPs without an owner", ErrBadLSP)
	}
	names := map[string]bool{}
	fecs := map[fecKey]string{}
	in := map[uint32]string{}
	for i := range lsps {
		l := &lsps[i]
		if err := l.validate(owner); err != nil {
			return err
		}
		if names[l.Name] {
			return fmt.Errorf("%w: %s %s given twice", ErrBadLSP, owner, l.Name)
		}
		names[l.Name] = true
		if l.Role == Ingress {
			k := fecKey{l.Instance, l.FEC.Masked()}
			if other, ok := fecs[k]; ok {
				return fmt.Errorf("%w: %s %s: FEC %v is already used by %s", ErrBadLSP, owner, l.Name, k.prefix, other)
			}
			fecs[k] = l.Name
		} else {
			if other, ok := in[l.InLabel]; ok {
				return fmt.Errorf("%w: %s %s: in-label %d is already used by %s", ErrBadLSP, owner, l.Name, l.InLabel, other)
			}
			in[l.InLabel] = l.Name
		}
	}
	return nil
}

// SetLSPs replaces every LSP of owner (nil removes them all). Nothing
// changes if the set is invalid. An in-label that another LSP already
// programs (labels come from the label manager, so only the order of two
// owners' changes within one commit can cause this) is not programmed
// until that LSP goes: this LSP is down meanwhile.
func (r *RIB) SetLSPs(owner string, lsps []LSP) error {
	if err := ValidateLSPs(owner, lsps); err != nil {
		return err
	}
	for _, name := range sortedKeys(r.lsps[owner]) {
		r.removeLSP(r.lsps[owner][name])
	}
	for _, l := range lsps {
		r.addLSP(owner, l)
	}
	return nil
}

// UpdateLSPs changes some LSPs of owner: set adds or replaces (by name), del
// removes (names that do not exist are ignored). Nothing changes on error.
func (r *RIB) UpdateLSPs(owner string, set []LSP, del []string) error {
	if err := ValidateLSPs(owner, set); err != nil {
		return err
	}
	gone := map[string]bool{}
	for _, n := range del {
		gone[n] = true
	}
	for _, l := range set {
		gone[l.Name] = true // replaced
	}
	// One ingress LSP per FEC among what stays.
	for _, l := range set {
		for _, name := range sortedKeys(r.lsps[owner]) {
			o := r.lsps[owner][name]
			if gone[name] {
				continue
			}
			if l.Role == Ingress && o.Role == Ingress && o.Instance == l.Instance && o.FEC == l.FEC.Masked() {
				return fmt.Errorf("%w: %s %s: FEC %v is already used by %s", ErrBadLSP, owner, l.Name, o.FEC, name)
			}
		}
	}
	for _, n := range del {
		if l := r.lsps[owner][n]; l != nil {
			r.removeLSP(l)
		}
	}
	for _, l := range set {
		if o := r.lsps[owner][l.Name]; o != nil {
			r.removeLSP(o)
		}
		r.addLSP(owner, l)
	}
	return nil
}

func (r *RIB) addLSP(owner string, l LSP) {
	l.FEC = l.FEC.Masked()
	l.Out = slices.Clone(l.Out)
	st := &lspState{LSP: l, owner: owner}
	if r.lsps[owner] == nil {
		r.lsps[owner] = map[string]*lspState{}
	}
	r.lsps[owner][l.Name] = st
	if l.FEC.IsValid() {
		k := fecKey{l.Instance, l.FEC}
		fe := r.lspFEC[k]
		if fe == nil {
			fe = &fecEntry{}
			if d := r.dest(k); d != nil {
				fe.ip = r.ipEntry(d)
			}
			r.lspFEC[k] = fe
		}
		i, _ := slices.BinarySearchFunc(fe.lsps, st, cmpLSP)
		fe.lsps = slices.Insert(fe.lsps, i, st)
	}
	if l.Explicit || l.InInterface != "" {
		i, _ := slices.BinarySearchFunc(r.ifLSPs, st, cmpLSP)
		r.ifLSPs = slices.Insert(r.ifLSPs, i, st)
	}
	if l.Role != Ingress {
		if r.ilm[l.InLabel] == nil {
			r.ilm[l.InLabel] = st
		} else {
			w := r.ilmWait[l.InLabel]
			i, _ := slices.BinarySearchFunc(w, st, cmpLSP)
			r.ilmWait[l.InLabel] = slices.Insert(w, i, st)
		}
	}
	r.lspChanged(st)
}

func (r *RIB) removeLSP(st *lspState) {
	delete(r.lsps[st.owner], st.Name)
	if len(r.lsps[st.owner]) == 0 {
		delete(r.lsps, st.owner)
	}
	if st.FEC.IsValid() {
		k := fecKey{st.Instance, st.FEC}
		if fe := r.lspFEC[k]; fe != nil {
			fe.lsps = slices.DeleteFunc(fe.lsps, func(x *lspState) bool { return x == st })
			if len(fe.lsps) == 0 {
				delete(r.lspFEC, k)
			}
		}
	}
	r.ifLSPs = slices.DeleteFunc(r.ifLSPs, func(x *lspState) bool { return x == st })
	if st.Role != Ingress {
		if r.ilm[st.InLabel] == st {
			delete(r.ilm, st.InLabel)
			if _, ok := r.labelWant[st.InLabel]; ok {
				delete(r.labelWant, st.InLabel)
				r.labelChange[st.InLabel] = true
			}
			// The label goes to the first LSP waiting for it.
			if w := r.ilmWait[st.InLabel]; len(w) > 0 {
				r.ilm[st.InLabel] = w[0]
				r.lspChanged(w[0])
				if len(w) == 1 {
					delete(r.ilmWait, st.InLabel)
				} else {
					r.ilmWait[st.InLabel] = w[1:]
				}
			}
		} else if w := slices.DeleteFunc(r.ilmWait[st.InLabel], func(x *lspState) bool { return x == st }); len(w) > 0 {
			r.ilmWait[st.InLabel] = w
		} else {
			delete(r.ilmWait, st.InLabel)
		}
	}
	if st.Role == Ingress {
		if d := r.dest(fecKey{st.Instance, st.FEC}); d != nil {
			r.enqueue(d)
		}
	}
	st.dirty = false // never recomputed again
}

// cmpLSP orders LSPs: ingress ones first, then by owner, then by name.
func cmpLSP(a, b *lspState) int {
	if (a.Role == Ingress) != (b.Role == Ingress) {
		if a.Role == Ingress {
			return -1
		}
		return 1
	}
	if c := cmpOwner(a.owner, b.owner); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

func (r *RIB) dest(k fecKey) *dest {
	in := r.instances[k.inst]
	if in == nil || in.deleted {
		return nil
	}
	return in.dests[k.prefix]
}

// lspChanged schedules an LSP's recomputation: an ingress LSP through its
// FEC's destination, the others through their label entry.
func (r *RIB) lspChanged(st *lspState) {
	if st.Role == Ingress {
		if d := r.dest(fecKey{st.Instance, st.FEC}); d != nil {
			r.enqueue(d)
		} else {
			st.up, st.hops = false, nil
		}
		return
	}
	if !st.dirty {
		st.dirty = true
		r.lspDirty = append(r.lspDirty, st)
	}
}

// interfaceLSPs: an interface changed, so every LSP naming interfaces is
// recomputed (they are few: static LSPs).
func (r *RIB) interfaceLSPs() {
	for _, st := range r.ifLSPs {
		r.lspChanged(st)
	}
}

// instancesChanged: an instance came or went, so egress LSPs (which pop
// into instances) are recomputed.
func (r *RIB) instancesChanged() {
	for _, owner := range sortedKeys(r.lsps) {
		for _, name := range sortedKeys(r.lsps[owner]) {
			if st := r.lsps[owner][name]; st.Role == Egress {
				r.lspChanged(st)
			}
		}
	}
}

// explicitCovered: d changed, so explicit LSPs whose gateway it covers
// (their next hop must be directly connected) are recomputed.
func (r *RIB) explicitCovered(d *dest) {
	for _, st := range r.ifLSPs {
		if st.Explicit && len(st.Out) > 0 && st.Instance == d.inst.name && st.Out[0].Gateway.IsValid() && d.prefix.Contains(st.Out[0].Gateway) {
			r.lspChanged(st)
		}
	}
}

// ipEntry is d's FIB entry as its routes make it (before an ingress LSP).
func (r *RIB) ipEntry(d *dest) fibEntry {
	if len(d.best) == 0 {
		return fibEntry{}
	}
	w := fibEntry{set: true, kind: d.best[0].kind}
	if w.kind == fibapi.Forward && len(d.best) == 1 && len(d.best[0].paths) == 1 {
		// One path: share its next hops (never modified once built).
		if p := d.best[0].paths[0]; p.ok && !p.drop {
			w.hops = p.hops
		}
	} else if w.kind == fibapi.Forward {
		for _, rt := range d.best {
			for _, p := range rt.paths {
				if p.ok && !p.drop {
					w.hops = append(w.hops, p.hops...)
				}
			}
		}
		slices.SortFunc(w.hops, cmpHop)
		w.hops = slices.CompactFunc(w.hops, sameHop)
	}
	if w.kind == fibapi.Forward && len(w.hops) == 0 {
		w = fibEntry{} // never hand out a forward entry without next hops
	}
	return w
}

// fecChanged is called from computeWant for a destination some LSP follows:
// its transit and egress LSPs are recomputed, and the first Up ingress LSP
// replaces its FIB entry.
func (r *RIB) fecChanged(d *dest, fe *fecEntry) {
	// The transit and egress LSPs are recomputed whenever d is (their next
	// hops follow the route's, which may change without changing its FIB
	// entry: another gateway resolving the same way).
	fe.ip = d.want
	for _, st := range fe.lsps {
		if st.Role != Ingress {
			r.lspChanged(st)
		}
	}
	ip := d.want
	for _, st := range fe.lsps {
		if st.Role != Ingress {
			break
		}
		st.hops, st.up = nil, false
		if !ip.set || ip.kind != fibapi.Forward {
			continue
		}
		if st.Explicit {
			if h, ok := r.explicitHop(st); ok {
				st.hops, st.up = []Hop{h}, true
			}
		} else {
			st.hops = r.followHops(d, st)
			st.up = len(st.hops) > 0
		}
		if st.up && d.lsp == nil {
			d.want = fibEntry{set: true, kind: fibapi.Forward, hops: st.hops}
			d.lsp = st
		}
	}
}

// followHops are the next hops of d's best routes that have an out-label
// in st.Out, with it pushed below their own labels.
func (r *RIB) followHops(d *dest, st *lspState) []Hop {
	var out []Hop
	for _, rt := range d.best {
		for i, p := range rt.paths {
			if !p.ok || p.drop {
				continue
			}
			var given netip.Addr
			if rt.direct == nil && i < len(rt.NextHops) {
				given = rt.NextHops[i].Gateway
			}
			for _, h := range p.hops {
				o, ok := matchOut(st.Out, given, h)
				if !ok {
					continue
				}
				nh := Hop{Interface: h.Interface, Gateway: h.Gateway}
				if len(h.Labels) > 0 || o.Label != fibapi.LabelImplicitNull {
					nh.Labels = slices.Clone(h.Labels)
					if o.Label != fibapi.LabelImplicitNull {
						nh.Labels = append(nh.Labels, o.Label)
					}
				}
				out = append(out, nh)
			}
		}
	}
	slices.SortFunc(out, cmpHop)
	return slices.CompactFunc(out, sameHop)
}

func matchOut(outs []LSPOut, given netip.Addr, h Hop) (LSPOut, bool) {
	for _, o := range outs {
		if o.Interface != "" && !strings.EqualFold(o.Interface, h.Interface) {
			continue
		}
		switch {
		case o.Gateway.IsValid() && (o.Gateway == h.Gateway || o.Gateway == given):
			return o, true
		case !o.Gateway.IsValid() && o.Interface != "":
			return o, true
		}
	}
	return LSPOut{}, false
}

// connectedPort is the up interface whose subnet route covers a in an
// instance: the longest direct subnet route that matches. Routes of other
// protocols more specific than the subnet are passed over (a host route to
// the neighbour, as ip route-static 10.0.1.2 32 10.0.1.2, keeps it directly
// connected); an address of the router's own is not a next hop.
func (r *RIB) connectedPort(inst string, a netip.Addr) *Port {
	in := r.instances[inst]
	if in == nil || in.deleted {
		return nil
	}
	for l := 32; l >= 0; l-- {
		if in.lenCount[l] == 0 {
			continue
		}
		d := in.dests[netip.PrefixFrom(a, l).Masked()]
		if d == nil || !d.want.set {
			continue
		}
		b := d.best[0]
		if b.direct == nil {
			continue
		}
		if b.direct.local {
			return nil
		}
		if p := r.ports[b.direct.port]; p != nil && p.Up {
			return p
		}
		return nil
	}
	return nil
}

// lspPort is an up, non-loopback interface of the instance.
func (r *RIB) lspPort(name, inst string) *Port {
	p := r.lookupPort(name)
	if p == nil || !p.Up || p.Loopback || p.Instance != inst {
		return nil
	}
	return p
}

// explicitHop resolves an explicit LSP's next hop, with its out-label.
func (r *RIB) explicitHop(st *lspState) (Hop, bool) {
	o := st.Out[0]
	var port *Port
	if o.Interface != "" {
		if port = r.lspPort(o.Interface, st.Instance); port == nil {
			return Hop{}, false
		}
	}
	if o.Gateway.IsValid() && port == nil {
		if port = r.connectedPort(st.Instance, o.Gateway); port == nil {
			return Hop{}, false
		}
	}
	h := Hop{Interface: port.Name, Gateway: o.Gateway}
	if o.Label != fibapi.LabelImplicitNull {
		h.Labels = []uint32{o.Label}
	}
	return h, true
}

func (r *RIB) lspInOK(st *lspState) bool {
	return st.InInterface == "" || r.lspPort(st.InInterface, fibapi.Public) != nil
}

// computeLabels recomputes the label entries of the LSPs marked dirty.
func (r *RIB) computeLabels() {
	if len(r.lspDirty) == 0 {
		return
	}
	for _, st := range r.lspDirty {
		if !st.dirty {
			continue // removed meanwhile
		}
		st.dirty = false
		e, ok := r.resolveLabel(st)
		st.up = ok
		if r.ilm[st.InLabel] != st {
			st.hops, st.pop = nil, ""
			continue // never touch the holder's entry
		}
		if ok {
			st.hops, st.pop = e.hops, e.instance
			if old, had := r.labelWant[st.InLabel]; !had || !sameLabel(old, e) {
				r.labelWant[st.InLabel] = e
				r.labelChange[st.InLabel] = true
			}
			continue
		}
		st.hops, st.pop = nil, ""
		if _, had := r.labelWant[st.InLabel]; had {
			delete(r.labelWant, st.InLabel)
			r.labelChange[st.InLabel] = true
		}
	}
	clear(r.lspDirty)
	r.lspDirty = r.lspDirty[:0]
}

// resolveLabel computes the label entry of a transit or egress LSP.
func (r *RIB) resolveLabel(st *lspState) (labelEntry, bool) {
	e := labelEntry{inLabel: st.InLabel}
	if r.ilm[st.InLabel] != st || !r.lspInOK(st) {
		return e, false // the label is another LSP's (for now)
	}
	var fe *fecEntry
	var d *dest
	if st.FEC.IsValid() {
		fe = r.lspFEC[fecKey{st.Instance, st.FEC}]
		d = r.dest(fecKey{st.Instance, st.FEC})
	}
	switch st.Role {
	case Transit:
		e.op = fibapi.Swap
		if st.Explicit {
			h, ok := r.explicitHop(st)
			if !ok {
				return e, false
			}
			e.hops = []Hop{h}
			return e, true
		}
		if d == nil || fe == nil || !fe.ip.set || fe.ip.kind != fibapi.Forward {
			return e, false
		}
		e.hops = r.followHops(d, st)
		return e, len(e.hops) > 0
	case Egress:
		if _, err := r.inst(st.Instance); err != nil {
			return e, false
		}
		if st.Explicit || !st.FEC.IsValid() || (fe != nil && fe.ip.set && fe.ip.kind == fibapi.Local) {
			e.op, e.instance = fibapi.PopLookup, st.Instance
			return e, true
		}
		if fe == nil || !fe.ip.set || fe.ip.kind != fibapi.Forward {
			return e, false
		}
		e.op, e.hops = fibapi.Swap, fe.ip.hops
		return e, true
	}
	return e, false
}

// LSPs returns the LSPs of owner ("" for every owner, in owner order), each
// owner's sorted by name.
func (r *RIB) LSPs(owner string) []LSPStatus {
	r.settle()
	owners := sortedKeys(r.lsps)
	slices.SortFunc(owners, cmpOwner)
	var out []LSPStatus
	for _, o := range owners {
		if owner != "" && o != owner {
			continue
		}
		for _, name := range sortedKeys(r.lsps[o]) {
			st := r.lsps[o][name]
			s := LSPStatus{Owner: o, LSP: st.LSP, Up: st.up, Hops: cloneHops(st.hops), PopInstance: st.pop}
			s.Out = slices.Clone(st.Out)
			if st.Explicit && len(st.Out) > 0 {
				if p := r.lookupPort(st.Out[0].Interface); p != nil {
					s.OutInterface = p.Name
				} else if h, ok := r.explicitHop(st); ok {
					s.OutInterface = h.Interface
				} else {
					s.OutInterface = st.Out[0].Interface
				}
			}
			if st.Role == Ingress && st.up {
				if d := r.dest(fecKey{st.Instance, st.FEC}); d != nil && d.lsp == st {
					s.Carrying = true
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// LSP returns one LSP of an owner (ErrNoLSP if there is none).
func (r *RIB) LSP(owner, name string) (LSPStatus, error) {
	if r.lsps[owner][name] == nil {
		return LSPStatus{}, fmt.Errorf("%s %s: %w", owner, name, ErrNoLSP)
	}
	for _, s := range r.LSPs(owner) {
		if s.Name == name {
			return s, nil
		}
	}
	return LSPStatus{}, fmt.Errorf("%s %s: %w", owner, name, ErrNoLSP)
}

// TunnelTo tells whether an LSP carries traffic to addr in an instance: the
// longest-match route towards addr is the FEC of an Up ingress LSP (what a
// next hop with Tunnel set needs). It returns that LSP.
func (r *RIB) TunnelTo(instance string, addr netip.Addr) (LSPStatus, bool) {
	in, err := r.inst(instance)
	if err != nil || !addr.Is4() {
		return LSPStatus{}, false
	}
	r.settle()
	d := r.longest(in, addr, nil)
	if d == nil || d.lsp == nil {
		return LSPStatus{}, false
	}
	st := d.lsp
	return LSPStatus{Owner: st.owner, LSP: st.LSP, Up: true, Carrying: true, Hops: cloneHops(st.hops)}, true
}

// longest is the longest-match destination with a FIB entry for addr in an
// instance (skip excluded).
func (r *RIB) longest(in *instance, addr netip.Addr, skip *dest) *dest {
	for l := 32; l >= 0; l-- {
		if in.lenCount[l] == 0 {
			continue
		}
		d := in.dests[netip.PrefixFrom(addr, l).Masked()]
		if d == nil || !d.want.set || d == skip {
			continue
		}
		return d
	}
	return nil
}
