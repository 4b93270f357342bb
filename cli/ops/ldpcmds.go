package ops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"vpnos/cli"
	"vpnos/services/fibapi"
	"vpnos/services/ldp"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
)

// LDP is what the LDP displays read (*ldp.Service implements it).
type LDP interface {
	// Snapshot copies LDP's state; ldp.ErrNotEnabled while `mpls ldp` is
	// not configured.
	Snapshot(ctx context.Context) (ldp.Snapshot, error)
}

var _ LDP = (*ldp.Service)(nil)

// errLDPOff is what the LDP displays answer while LDP is not configured.
var errLDPOff = errors.New("LDP is not enabled globally")

// ldpSnapshot reads LDP's state, or errLDPOff.
func (o *ops) ldpSnapshot(ctx context.Context) (ldp.Snapshot, error) {
	if o.d.LDP == nil {
		return ldp.Snapshot{}, errLDPOff
	}
	s, err := o.d.LDP.Snapshot(ctx)
	if errors.Is(err, ldp.ErrNotEnabled) {
		return ldp.Snapshot{}, errLDPOff
	}
	return s, err
}

// ldpCommands: display mpls ldp [session|peer|adjacency|lsp], display mpls
// interface, display tunnel-info all.
func (o *ops) ldpCommands() []cli.Command {
	help := map[string]string{
		"mpls": "MPLS information", "ldp": "LDP information", "session": "LDP sessions",
		"verbose": "Detailed information", "peer": "LDP peers", "adjacency": "LDP adjacencies",
		"lsp": "LDP LSPs", "dest": "Destination IP address", "len": "Mask length",
		"id": "Peer LSR ID", "all": "All",
	}
	return []cli.Command{
		{
			Views: "any", Syntax: "display mpls ldp", Display: true, Help: help,
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				s, err := o.ldpSnapshot(ctx)
				if errors.Is(err, errLDPOff) {
					// The global information says Inactive.
					return RenderMPLSLDP(ldp.Snapshot{HelloHold: ldp.DefaultHelloHold, KeepaliveHold: ldp.DefaultKeepaliveHold}), nil
				}
				if err != nil {
					return "", err
				}
				return RenderMPLSLDP(s), nil
			},
		},
		{
			Views: "any", Syntax: "display mpls ldp session [ verbose | {id:ip} ] *", Display: true, Help: help,
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				s, err := o.ldpSnapshot(ctx)
				if err != nil {
					return "", err
				}
				var peer netip.Addr
				if v, ok := a.Value("id"); ok {
					if peer, err = netip.ParseAddr(v); err != nil {
						return "", &cli.ArgError{Name: "id"}
					}
				}
				return RenderLDPSessions(s, a.Keyword("verbose"), peer), nil
			},
		},
		{
			Views: "any", Syntax: "display mpls ldp peer", Display: true, Help: help,
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				s, err := o.ldpSnapshot(ctx)
				if err != nil {
					return "", err
				}
				return RenderLDPPeers(s), nil
			},
		},
		{
			Views: "any", Syntax: "display mpls ldp adjacency", Display: true, Help: help,
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				s, err := o.ldpSnapshot(ctx)
				if err != nil {
					return "", err
				}
				return RenderLDPAdjacencies(s), nil
			},
		},
		{
			Views: "any", Syntax: "display mpls ldp lsp [ all | {dest:ip} {len:int<0-32>} ]", Display: true, Help: help,
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				s, err := o.ldpSnapshot(ctx)
				if err != nil {
					return "", err
				}
				var only netip.Prefix
				if d, ok := a.Value("dest"); ok {
					p, err := prefixArg(d, a)
					if err != nil {
						return "", err
					}
					only = p
				}
				return RenderLDPLSPs(s, only), nil
			},
		},
		{
			Views: "any", Syntax: "display mpls interface", Display: true,
			Help: map[string]string{"mpls": "MPLS information", "interface": "The interfaces with MPLS"},
			Run:  o.runMPLSInterface,
		},
		{
			Views: "any", Syntax: "display tunnel-info all", Display: true,
			Help: map[string]string{"tunnel-info": "Tunnel information", "all": "All tunnels"},
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				all, err := o.d.RIB.LSPs(ctx, "")
				if err != nil {
					return "", ribError(err)
				}
				return renderTunnelInfo(tunnels(all)), nil
			},
		},
	}
}

func prefixArg(dest string, a *cli.Args) (netip.Prefix, error) {
	addr, err := netip.ParseAddr(dest)
	if err != nil {
		return netip.Prefix{}, &cli.ArgError{Name: "dest"}
	}
	v, _ := a.Value("len")
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil {
		return netip.Prefix{}, &cli.ArgError{Name: "len"}
	}
	return netip.PrefixFrom(addr, n).Masked(), nil
}

// ldpSectionRows completes the LDP section of display mpls lsp built from
// the RIB's LDP LSPs with the egress rows of the router's own FECs whose
// advertised label is implicit or explicit null (3/NULL, 0/NULL): the RIB
// programs nothing for them. Rows are ordered by FEC, then egress, ingress,
// transit.
func ldpSectionRows(rows []lspRow, s ldp.Snapshot) []lspRow {
	for _, f := range s.FECs {
		if f.Egress && (f.Local == 3 || f.Local == 0) {
			rows = append(rows, lspRow{FEC: f.FEC.String(), InLabel: labelText(f.Local), OutLabel: "NULL",
				InIf: "-", OutIf: "-", LSRType: "Egress", Operation: "POP"})
		}
	}
	rank := map[string]int{"Egress": 0, "Ingress": 1, "Transit": 2}
	slices.SortStableFunc(rows, func(a, b lspRow) int {
		pa, _ := netip.ParsePrefix(a.FEC)
		pb, _ := netip.ParsePrefix(b.FEC)
		if c := pa.Addr().Compare(pb.Addr()); c != 0 {
			return c
		}
		if c := cmp.Compare(pa.Bits(), pb.Bits()); c != 0 {
			return c
		}
		return cmp.Compare(rank[a.LSRType], rank[b.LSRType])
	})
	return rows
}

// withLDP puts the egress rows of LDP's own FECs into the LDP section of
// sections (adding the section when the RIB has no LDP LSP).
func withLDP(sections []lspSection, s ldp.Snapshot) []lspSection {
	for i := range sections {
		if sections[i].Title == "LDP LSP" {
			sections[i].Rows = ldpSectionRows(sections[i].Rows, s)
			return sections
		}
	}
	sec := lspSection{Title: "LDP LSP", Rows: ldpSectionRows(nil, s)}
	if len(sec.Rows) == 0 {
		return sections
	}
	return append([]lspSection{sec}, sections...)
}

// mplsInterface is one row of display mpls interface, from the running
// configuration (interfaces with `mpls`), the interfaces' state and the
// LSPs leaving through them.
func (o *ops) runMPLSInterface(ctx context.Context, a *cli.Args) (string, error) {
	run := o.store.Running()
	state := o.d.VRF.State()
	all, err := o.d.RIB.LSPs(ctx, "")
	if err != nil {
		return "", ribError(err)
	}
	count := map[string]int{}
	for _, l := range all {
		if !l.Up {
			continue
		}
		for _, h := range l.Hops {
			count[strings.ToLower(h.Interface)]++
		}
	}
	mtu := map[string]int{}
	if o.d.Ports != nil {
		for _, p := range o.d.Ports.Ports() {
			mtu[p.Name] = p.MTU
		}
	}
	var rows []MPLSInterface
	for _, ifc := range run.Entries(datastore.P("interfaces"), "interface") {
		name := ifc.Path.Last().Keys[0]
		if _, on := run.Get(ifc.Path.Child("mpls")); !on {
			continue
		}
		in := state.Interfaces[name]
		rows = append(rows, MPLSInterface{Name: name, Up: in.Up, LSPs: count[strings.ToLower(name)], MTU: mtu[name]})
	}
	return RenderMPLSInterfaces(rows), nil
}

// tunnel is one row of display tunnel-info.
type tunnel struct {
	ID          uint64
	Type        string // "ldp", "lsp" (static)
	Destination netip.Addr
	Up          bool
}

// tunnels lists the ingress LSPs of the public instance as VRP's tunnel
// manager does: each is a tunnel to its FEC's address that VPN routes can
// iterate over.
func tunnels(all []rib.LSPStatus) []tunnel {
	var out []tunnel
	n := map[string]uint64{}
	for _, l := range all {
		if l.Role != rib.Ingress || l.Instance != fibapi.Public {
			continue
		}
		var typ string
		var kind uint64
		switch l.Owner {
		case rib.OwnerLDP:
			typ, kind = "ldp", 3
		case rib.OwnerStatic:
			typ, kind = "lsp", 1
		default:
			continue
		}
		n[typ]++
		out = append(out, tunnel{ID: kind<<32 | n[typ], Type: typ, Destination: l.FEC.Addr(), Up: l.Up})
	}
	slices.SortFunc(out, func(a, b tunnel) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// renderTunnelInfo prints display tunnel-info all.
func renderTunnelInfo(ts []tunnel) string {
	var b strings.Builder
	rule := strings.Repeat("-", 88) + "\n"
	b.WriteString("Tunnel ID            Type                Destination                             Status\n")
	b.WriteString(rule)
	for _, t := range ts {
		st := "DOWN"
		if t.Up {
			st = "UP"
		}
		fmt.Fprintf(&b, "%s%s%s%s\n", pad(fmt.Sprintf("0x%018x", t.ID), 21), pad(t.Type, 20), pad(t.Destination.String(), 40), st)
	}
	b.WriteString(rule)
	return b.String()
}
