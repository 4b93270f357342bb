package ldp

import (
	"net/netip"

	"vpnos/services/fibapi"
	"vpnos/services/rib"
)

// The RIB's view of LDP's LSPs: owner rib.OwnerLDP, in the public
// instance, named after their role and FEC ("ingress 10.255.0.3/32",
// "transit 10.255.0.3/32", "egress 10.255.0.3/32"). They follow the FEC's
// route: Out gives the out-label per next-hop gateway.

// RIBName is the name of the RIB LSP of a role for a FEC.
func RIBName(role rib.LSPRole, fec netip.Prefix) string {
	switch role {
	case rib.Ingress:
		return "ingress " + fec.String()
	case rib.Transit:
		return "transit " + fec.String()
	}
	return "egress " + fec.String()
}

// RIBLSPs turns an LSP into the RIB's LSPs: an ingress LSP when
// lsp-trigger selects the FEC, a transit LSP swapping the advertised label
// towards the next hops, an egress LSP popping an advertised non-null label
// at the FEC's egress (implicit null programs nothing; explicit null is
// popped by the forwarder itself).
func (l LSP) RIBLSPs() []rib.LSP {
	var out []rib.LSP
	var outs []rib.LSPOut
	for _, h := range l.NextHops {
		// Matched by gateway: route next hops carry resolved gateways.
		outs = append(outs, rib.LSPOut{Gateway: h.Gateway, Label: h.Out})
	}
	if l.Egress {
		if l.Local != NoLabel && l.Local >= 16 {
			out = append(out, rib.LSP{Name: RIBName(rib.Egress, l.FEC), Role: rib.Egress,
				Instance: fibapi.Public, FEC: l.FEC, InLabel: l.Local})
		}
		return out
	}
	if len(outs) == 0 {
		return nil
	}
	if l.Ingress {
		out = append(out, rib.LSP{Name: RIBName(rib.Ingress, l.FEC), Role: rib.Ingress,
			Instance: fibapi.Public, FEC: l.FEC, Out: outs})
	}
	if l.Local != NoLabel && l.Local >= 16 {
		out = append(out, rib.LSP{Name: RIBName(rib.Transit, l.FEC), Role: rib.Transit,
			Instance: fibapi.Public, FEC: l.FEC, InLabel: l.Local, Out: outs})
	}
	return out
}

// RIBUpdate turns a change into the arguments of rib.Service.UpdateLSPs
// for owner rib.OwnerLDP: the LSPs to set, and the names to delete (the
// roles a FEC no longer has; names that do not exist are ignored there).
func (c LSPsChanged) RIBUpdate() (set []rib.LSP, del []string) {
	roles := []rib.LSPRole{rib.Ingress, rib.Transit, rib.Egress}
	for _, l := range c.Set {
		ls := l.RIBLSPs()
		have := map[rib.LSPRole]bool{}
		for _, r := range ls {
			have[r.Role] = true
		}
		set = append(set, ls...)
		for _, r := range roles {
			if !have[r] {
				del = append(del, RIBName(r, l.FEC))
			}
		}
	}
	for _, p := range c.Delete {
		for _, r := range roles {
			del = append(del, RIBName(r, p))
		}
	}
	return set, del
}
