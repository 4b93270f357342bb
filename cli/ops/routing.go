package ops

import (
	"context"
	"net/netip"
	"slices"
	"strconv"

	"vpnos/cli"
	"vpnos/services/rib"
)

// routingCommands: display ip routing-table, display mpls lsp, display mpls
// static-lsp, rendered from the RIB's snapshots (ribrender.go).
func (o *ops) routingCommands() []cli.Command {
	return []cli.Command{
		{
			Views:   "any",
			Syntax:  "display ip routing-table [vpn-instance {vrf:vpn-name}] [{dest:ip} [{mask:mask}]] [verbose]",
			Display: true,
			Help: map[string]string{
				"ip": "IP information", "routing-table": "IP routing table",
				"vpn-instance": "VPN instance", "vrf": "VPN instance name",
				"dest": "Destination IP address", "verbose": "Detailed information",
			},
			Run: o.runRoutingTable,
		},
		{
			Views:   "any",
			Syntax:  "display mpls lsp [protocol ( ldp | static )] [verbose | include {dest:ip} {len:int<0-32>} | vpn-instance {vrf:vpn-name}]",
			Display: true,
			Help: map[string]string{
				"mpls": "MPLS information", "lsp": "Label switched paths", "verbose": "Detailed information",
				"include": "The LSPs of one FEC", "dest": "Destination IP address", "len": "Mask length",
				"vpn-instance": "The LSPs of a VPN instance", "vrf": "VPN instance name",
				"protocol": "The LSPs of one protocol", "ldp": "LDP LSPs", "static": "Static LSPs",
			},
			Run: o.runMPLSLSP,
		},
		{
			Views:   "any",
			Syntax:  "display mpls static-lsp [{name:word}] [verbose]",
			Display: true,
			Help: map[string]string{
				"mpls": "MPLS information", "static-lsp": "Static LSPs",
				"name": "Static LSP name", "verbose": "Detailed information",
			},
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				all, err := o.d.RIB.LSPs(ctx, rib.OwnerStatic)
				if err != nil {
					return "", ribError(err)
				}
				lsps := staticLSPs(all)
				if name, ok := a.Value("name"); ok {
					lsps = slices.DeleteFunc(lsps, func(l staticLSP) bool { return l.Name != name })
					if len(lsps) == 0 {
						return "", errNoLSP
					}
				}
				return renderStaticLSPs(lsps, a.Keyword("verbose")), nil
			},
		},
	}
}

// runMPLSLSP prints the LSPs this router knows, by owner: LDP, static, and
// the VPN labels (BGP LSP). With vpn-instance, only the LSPs of that
// instance (its VPN labels).
func (o *ops) runMPLSLSP(ctx context.Context, a *cli.Args) (string, error) {
	all, err := o.d.RIB.LSPs(ctx, "")
	if err != nil {
		return "", ribError(err)
	}
	if name, ok := a.Value("vrf"); ok {
		inst, err := o.instance(name)
		if err != nil {
			return "", err
		}
		all = slices.DeleteFunc(all, func(l rib.LSPStatus) bool { return l.Instance != inst })
	}
	switch {
	case a.Keyword("ldp"):
		all = slices.DeleteFunc(all, func(l rib.LSPStatus) bool { return l.Owner != rib.OwnerLDP })
	case a.Keyword("static"):
		all = slices.DeleteFunc(all, func(l rib.LSPStatus) bool { return l.Owner != rib.OwnerStatic })
	}
	sections := lspSections(all)
	if _, vrf := a.Value("vrf"); !vrf && !a.Keyword("static") {
		// The router's own FECs (3/NULL) are LDP's, not programmed.
		if s, err := o.ldpSnapshot(ctx); err == nil {
			sections = withLDP(sections, s)
		}
	}
	if d, ok := a.Value("dest"); ok {
		addr, err := netip.ParseAddr(d)
		if err != nil {
			return "", &cli.ArgError{Name: "dest"}
		}
		n, _ := strconv.Atoi(func() string { v, _ := a.Value("len"); return v }())
		for i := range sections {
			sections[i] = sections[i].only(netip.PrefixFrom(addr, n))
		}
	}
	if a.Keyword("verbose") {
		return renderMPLSLSPVerbose(sections...), nil
	}
	return renderMPLSLSP(sections...), nil
}

func (o *ops) runRoutingTable(ctx context.Context, a *cli.Args) (string, error) {
	name, _ := a.Value("vrf")
	inst, err := o.instance(name)
	if err != nil {
		return "", err
	}
	snap, err := o.d.RIB.Snapshot(ctx, inst)
	if err != nil {
		return "", ribError(err)
	}
	if d, ok := a.Value("dest"); ok {
		addr, err := netip.ParseAddr(d)
		if err != nil {
			return "", &cli.ArgError{Name: "dest"}
		}
		if m, ok := a.Value("mask"); ok {
			n, err := strconv.Atoi(m)
			if err != nil {
				return "", &cli.ArgError{Name: "mask"}
			}
			snap = snap.Exact(netip.PrefixFrom(addr, n))
		} else {
			snap = snap.Match(addr)
		}
	}
	return renderRoutingTable(snap, tableOptions{Verbose: a.Keyword("verbose"), VRP5: o.d.VRP5}), nil
}
