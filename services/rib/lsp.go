package rib

// Static LSPs (VRP `static-lsp ingress|transit|egress`) and how they become
// forwarding state:
//
//   - ingress: the LSP carries the traffic of its FEC. While it is Up (its
//     outgoing interface is up, its next hop is directly connected, and the
//     routing table holds an active route matching the FEC exactly), the FIB
//     entry of the FEC prefix in the public instance is replaced by the LSP's
//     next hop with the out-label pushed (nothing pushed for out-label 3,
//     label 0 for explicit null). The IP route itself stays in the routing
//     table and is displayed unchanged. Everything resolved through the FEC
//     route inherits its path: BGP VPN routes (NextHop.Tunnel) need it and
//     get [LSP label, VPN label]; plain IP traffic to the FEC, and static or
//     BGP routes recursing over it, are labelled too, so pings across the
//     core use the LSP.
//   - transit: an incoming-label entry swapping in-label for out-label (out
//     3: pop, penultimate-hop popping; out 0: swap to explicit null).
//   - egress: an incoming-label entry popping the label and looking the
//     packet up in the public instance.
//
// Label 0 (explicit null) is not programmed: the forwarder pops it and
// looks the packet up in the instance of the port it arrived on.
//
// In-labels of transit and egress LSPs are reserved in the label manager
// (static range, owner "static-lsp:NAME"); a label another owner holds is
// refused.

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"vpnos/services/fibapi"
)

type lspState struct {
	StaticLSP
	up bool
}

// LSPStatus is a static LSP with its state, for displays.
type LSPStatus struct {
	StaticLSP
	Up bool
	// InInterface and OutInterface are VRP names ("" when none applies).
	InInterface  string
	OutInterface string
}

func lspOwner(name string) string { return "static-lsp:" + name }

// ValidateStaticLSPs checks a complete set of static LSPs without applying it
// (for a configuration's prepare phase). Label conflicts with other owners
// are only found by SetStaticLSPs.
func ValidateStaticLSPs(lsps []StaticLSP) error {
	names := map[string]bool{}
	fecs := map[netip.Prefix]string{}
	inLabels := map[uint32]string{}
	for _, l := range lsps {
		if l.Name == "" {
			return fmt.Errorf("%w: empty name", ErrBadLSP)
		}
		if names[l.Name] {
			return fmt.Errorf("%w: %s configured twice", ErrBadLSP, l.Name)
		}
		names[l.Name] = true
		switch l.Role {
		case Ingress:
			if !l.FEC.IsValid() || !l.FEC.Addr().Is4() {
				return fmt.Errorf("%w: %s: destination %v is not IPv4", ErrBadLSP, l.Name, l.FEC)
			}
			if other, ok := fecs[l.FEC.Masked()]; ok {
				return fmt.Errorf("%w: %s: destination %v is already used by %s", ErrBadLSP, l.Name, l.FEC.Masked(), other)
			}
			fecs[l.FEC.Masked()] = l.Name
		case Transit, Egress:
			if l.InLabel < 16 || l.InLabel > 1<<20-1 {
				return fmt.Errorf("%w: %s: in-label %d out of range", ErrBadLSP, l.Name, l.InLabel)
			}
			if other, ok := inLabels[l.InLabel]; ok {
				return fmt.Errorf("%w: %s: in-label %d is already used by %s", ErrBadLSP, l.Name, l.InLabel, other)
			}
			inLabels[l.InLabel] = l.Name
		default:
			return fmt.Errorf("%w: %s: unknown role %d", ErrBadLSP, l.Name, l.Role)
		}
		if l.Role != Egress {
			if !l.NextHop.IsValid() && l.OutInterface == "" {
				return fmt.Errorf("%w: %s needs a next hop or an outgoing interface", ErrBadLSP, l.Name)
			}
			if l.NextHop.IsValid() && !l.NextHop.Is4() {
				return fmt.Errorf("%w: %s: next hop %v is not IPv4", ErrBadLSP, l.Name, l.NextHop)
			}
			if !validOutLabel(l.OutLabel) {
				return fmt.Errorf("%w: %s: out-label %d", ErrBadLSP, l.Name, l.OutLabel)
			}
		}
	}
	return nil
}

// SetStaticLSPs replaces the whole set of static LSPs (a repeated command
// with the same name replaces the old values; a name left out is removed).
// Nothing changes if the set is invalid or an in-label is taken.
func (r *RIB) SetStaticLSPs(lsps []StaticLSP) error {
	if err := ValidateStaticLSPs(lsps); err != nil {
		return err
	}
	for _, l := range lsps {
		for o, m := range r.extLabels {
			if _, used := m[l.InLabel]; used && l.Role != Ingress {
				return fmt.Errorf("static-lsp %s: %w: in-label %d is used by %s", l.Name, ErrExists, l.InLabel, o)
			}
		}
	}
	type hold struct {
		label uint32
		owner string
	}
	want := map[hold]bool{}
	for _, l := range lsps {
		if l.Role != Ingress {
			want[hold{l.InLabel, lspOwner(l.Name)}] = true
		}
	}
	var freed, taken []hold
	for _, name := range sortedKeys(r.lsps) {
		l := r.lsps[name]
		h := hold{l.InLabel, lspOwner(l.Name)}
		if l.Role != Ingress && !want[h] {
			if r.labels.Free(h.label, h.owner) == nil {
				freed = append(freed, h)
			}
		}
	}
	for _, l := range lsps {
		if l.Role == Ingress {
			continue
		}
		h := hold{l.InLabel, lspOwner(l.Name)}
		_, held := r.labels.Owner(h.label)
		if err := r.labels.Reserve(h.label, h.owner); err != nil {
			for _, t := range taken {
				_ = r.labels.Free(t.label, t.owner)
			}
			for _, f := range freed {
				_ = r.labels.Reserve(f.label, f.owner)
			}
			return fmt.Errorf("static-lsp %s: %w", l.Name, err)
		}
		if !held {
			taken = append(taken, h)
		}
	}
	r.lspsChanged() // old FECs
	r.lsps = map[string]*lspState{}
	clear(r.ingressFEC)
	for _, l := range lsps {
		l.FEC = l.FEC.Masked()
		st := &lspState{StaticLSP: l}
		r.lsps[l.Name] = st
		if l.Role == Ingress {
			r.ingressFEC[l.FEC] = st
		}
	}
	r.ingressOrder = sortedFECs(r.ingressFEC)
	r.lspsChanged() // new FECs
	return nil
}

// lspsChanged recomputes label entries and the FEC routes of ingress LSPs.
func (r *RIB) lspsChanged() {
	r.lspDirty = true
	if in := r.instances[fibapi.Public]; in != nil {
		for _, p := range r.ingressOrder {
			if d := in.dests[p]; d != nil {
				r.enqueue(d)
			}
		}
	}
}

func sortedFECs(m map[netip.Prefix]*lspState) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.SortFunc(out, cmpPrefix)
	return out
}

// connectedPort is the up interface whose subnet route covers a (the
// longest match must be a direct subnet route of the public instance).
func (r *RIB) connectedPort(a netip.Addr) *Port {
	in := r.instances[fibapi.Public]
	for l := 32; l >= 0; l-- {
		if in.lenCount[l] == 0 {
			continue
		}
		d := in.dests[netip.PrefixFrom(a, l).Masked()]
		if d == nil || !d.want.set {
			continue
		}
		b := d.best[0]
		if b.direct == nil || b.direct.local {
			return nil
		}
		if p := r.ports[b.direct.port]; p != nil && p.Up {
			return p
		}
		return nil
	}
	return nil
}

func (r *RIB) lspPort(name string) *Port {
	p := r.lookupPort(name)
	if p == nil || !p.Up || p.Instance != fibapi.Public {
		return nil
	}
	return p
}

// lspOutHop resolves an LSP's outgoing side (without labels).
func (r *RIB) lspOutHop(l StaticLSP) (fibapi.NextHop, bool) {
	var port *Port
	if l.OutInterface != "" {
		if port = r.lspPort(l.OutInterface); port == nil {
			return fibapi.NextHop{}, false
		}
	}
	if l.NextHop.IsValid() {
		if port == nil {
			if port = r.connectedPort(l.NextHop); port == nil {
				return fibapi.NextHop{}, false
			}
		}
		return fibapi.NextHop{Port: port.Name, Gateway: l.NextHop}, true
	}
	return fibapi.NextHop{Port: port.Name}, true
}

func (r *RIB) lspInOK(l StaticLSP) bool {
	return l.InInterface == "" || r.lspPort(l.InInterface) != nil
}

func sameLabel(a, b fibapi.LabelEntry) bool {
	return a.InLabel == b.InLabel && a.Op == b.Op && a.Instance == b.Instance && slices.EqualFunc(a.NextHops, b.NextHops, sameHop)
}

func (r *RIB) computeLabels() {
	want := map[uint32]fibapi.LabelEntry{}
	for _, name := range sortedKeys(r.lsps) {
		l := r.lsps[name]
		switch l.Role {
		case Transit:
			hop, ok := r.lspOutHop(l.StaticLSP)
			l.up = ok && r.lspInOK(l.StaticLSP)
			if l.up {
				if l.OutLabel != fibapi.LabelImplicitNull {
					hop.Labels = []uint32{l.OutLabel}
				}
				want[l.InLabel] = fibapi.LabelEntry{InLabel: l.InLabel, Op: fibapi.Swap, NextHops: []fibapi.NextHop{hop}}
			}
		case Egress:
			l.up = r.lspInOK(l.StaticLSP)
			if l.up {
				want[l.InLabel] = fibapi.LabelEntry{InLabel: l.InLabel, Op: fibapi.PopLookup, Instance: fibapi.Public}
			}
		}
	}
	for _, owner := range sortedKeys(r.extLabels) {
		for l, e := range r.extLabels[owner] {
			if _, taken := want[l]; !taken {
				want[l] = e
			}
		}
	}
	for k := range r.labelWant {
		r.labelChange[k] = true
	}
	for k := range want {
		r.labelChange[k] = true
	}
	r.labelWant = want
}

// StaticLSPs returns the static LSPs with their status, sorted by name;
// with a name, only that one (ErrNoLSP if it does not exist).
func (r *RIB) StaticLSPs(name string) ([]LSPStatus, error) {
	r.settle()
	var out []LSPStatus
	for _, n := range sortedKeys(r.lsps) {
		if name != "" && n != name {
			continue
		}
		l := r.lsps[n]
		st := LSPStatus{StaticLSP: l.StaticLSP, Up: l.up}
		if l.Role != Egress {
			if p := r.lookupPort(l.OutInterface); p != nil {
				st.OutInterface = p.VRPName
			} else if l.OutInterface != "" {
				st.OutInterface = l.OutInterface
			} else if hop, ok := r.lspOutHop(l.StaticLSP); ok {
				st.OutInterface = r.ports[hop.Port].VRPName
			}
		}
		if l.InInterface != "" {
			st.InInterface = l.InInterface
			if p := r.lookupPort(l.InInterface); p != nil {
				st.InInterface = p.VRPName
			}
		}
		out = append(out, st)
	}
	if name != "" && len(out) == 0 {
		return nil, fmt.Errorf("static-lsp %s: %w", name, ErrNoLSP)
	}
	return out, nil
}

// ErrNoLSP: no static LSP of that name.
var ErrNoLSP = errors.New("no such static LSP")

// SetLabelEntries replaces the incoming-label entries of one owner (for
// example "bgp": a per-instance VPN label popping into its instance). The
// entries are programmed as given; labels must come from the label manager
// so that owners never collide. A label already used by a static LSP or
// another owner is refused.
func (r *RIB) SetLabelEntries(owner string, entries []fibapi.LabelEntry) error {
	if owner == "" {
		return fmt.Errorf("%w: label entries without an owner", ErrBadLSP)
	}
	m := map[uint32]fibapi.LabelEntry{}
	for _, e := range entries {
		if e.InLabel < 16 || e.InLabel > 1<<20-1 {
			return fmt.Errorf("%w: %s: in-label %d out of range", ErrBadLSP, owner, e.InLabel)
		}
		if _, dup := m[e.InLabel]; dup {
			return fmt.Errorf("%w: %s: in-label %d given twice", ErrBadLSP, owner, e.InLabel)
		}
		switch e.Op {
		case fibapi.PopLookup:
			if e.Instance == "" {
				return fmt.Errorf("%w: %s: in-label %d pops into no instance", ErrBadLSP, owner, e.InLabel)
			}
		case fibapi.Swap:
			if len(e.NextHops) == 0 {
				return fmt.Errorf("%w: %s: in-label %d swaps to no next hop", ErrBadLSP, owner, e.InLabel)
			}
			for _, h := range e.NextHops {
				for _, l := range h.Labels {
					if !validOutLabel(l) || l == fibapi.LabelImplicitNull {
						return fmt.Errorf("%w: %s: in-label %d: out-label %d", ErrBadLSP, owner, e.InLabel, l)
					}
				}
			}
		default:
			return fmt.Errorf("%w: %s: in-label %d: unknown operation %d", ErrBadLSP, owner, e.InLabel, e.Op)
		}
		for _, l := range r.lsps {
			if l.Role != Ingress && l.InLabel == e.InLabel {
				return fmt.Errorf("%w: in-label %d is used by static-lsp %s", ErrExists, e.InLabel, l.Name)
			}
		}
		for o, other := range r.extLabels {
			if _, used := other[e.InLabel]; used && o != owner {
				return fmt.Errorf("%w: in-label %d is used by %s", ErrExists, e.InLabel, o)
			}
		}
		e.NextHops = slices.Clone(e.NextHops)
		m[e.InLabel] = e
	}
	if len(m) == 0 {
		delete(r.extLabels, owner)
	} else {
		r.extLabels[owner] = m
	}
	r.lspDirty = true
	return nil
}
