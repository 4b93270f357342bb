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
			Syntax:  "display mpls lsp",
			Display: true,
			Help:    map[string]string{"mpls": "MPLS information", "lsp": "Label switched paths"},
			Run: func(ctx context.Context, _ *cli.Args) (string, error) {
				lsps, err := o.d.RIB.StaticLSPs(ctx, "")
				if err != nil {
					return "", ribError(err)
				}
				return rib.RenderMPLSLSP(rib.StaticLSPSection(lsps)), nil
			},
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
