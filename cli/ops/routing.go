package ops

import (
	"context"
	"net/netip"
	"strconv"

	"vpnos/cli"
	"vpnos/services/rib"
)

// routingCommands: display ip routing-table, display mpls lsp, display mpls
// static-lsp. The layouts are the RIB's renderers.
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
			Syntax:  "display mpls lsp [verbose | include {dest:ip} {len:int<0-32>} | vpn-instance {vrf:vpn-name}]",
			Display: true,
			Help: map[string]string{
				"mpls": "MPLS information", "lsp": "Label switched paths", "verbose": "Detailed information",
				"include": "The LSPs of one FEC", "dest": "Destination IP address", "len": "Mask length",
				"vpn-instance": "The LSPs of a VPN instance", "vrf": "VPN instance name",
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
				name, _ := a.Value("name")
				lsps, err := o.d.RIB.StaticLSPs(ctx, name)
				if err != nil {
					return "", ribError(err)
				}
				return rib.RenderStaticLSPs(lsps, a.Keyword("verbose")), nil
			},
		},
	}
}

// runMPLSLSP prints the LSPs this router knows: the static ones for now
// (LDP and BGP add their sections when they exist). A VPN instance has no
// LSP of its own until BGP installs VPN labels, so only its header shows.
func (o *ops) runMPLSLSP(ctx context.Context, a *cli.Args) (string, error) {
	if name, ok := a.Value("vrf"); ok {
		if _, err := o.instance(name); err != nil {
			return "", err
		}
		return rib.RenderMPLSLSP(), nil
	}
	lsps, err := o.d.RIB.StaticLSPs(ctx, "")
	if err != nil {
		return "", ribError(err)
	}
	static := rib.StaticLSPSection(lsps)
	if d, ok := a.Value("dest"); ok {
		addr, err := netip.ParseAddr(d)
		if err != nil {
			return "", &cli.ArgError{Name: "dest"}
		}
		n, _ := strconv.Atoi(func() string { v, _ := a.Value("len"); return v }())
		static = static.Only(netip.PrefixFrom(addr, n))
	}
	if a.Keyword("verbose") {
		return rib.RenderMPLSLSPVerbose(static), nil
	}
	return rib.RenderMPLSLSP(static), nil
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
	return rib.RenderRoutingTable(snap, rib.TableOptions{Verbose: a.Keyword("verbose"), VRP5: o.d.VRP5}), nil
}
