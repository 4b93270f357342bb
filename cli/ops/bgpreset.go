package ops

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	"vpnos/cli"
	"vpnos/services/bgp"
	"vpnos/services/bgp/packet"
)

// BGPControl restarts and refreshes BGP sessions (*bgp.Runner implements
// it): `reset bgp ...` and `refresh bgp ...` in the user view.
type BGPControl interface {
	Peers(ctx context.Context) ([]bgp.PeerSnapshot, error)
	// Reset restarts the sessions of peers (every one when nil: `reset
	// bgp all`, when a system router ID that changed takes effect).
	Reset(ctx context.Context, peers []bgp.PeerKey) error
	// Refresh asks peers for their routes again (import) and sends them
	// ours again (export).
	Refresh(ctx context.Context, peers []bgp.PeerKey, importRoutes, exportRoutes bool) error
}

var _ BGPControl = (*bgp.Runner)(nil)

var errNoBGPPeer = errors.New("The specified peer does not exist")

var bgpControlHelp = map[string]string{
	"reset": "Reset operation", "refresh": "Soft reset of BGP sessions", "bgp": "BGP",
	"all": "All peers", "external": "All EBGP peers", "internal": "All IBGP peers",
	"addr": "Peer address", "vpnv4": "Peers of the VPNv4 address family",
	"vpn-instance": "Peers of a VPN instance", "vrf": "VPN instance name",
	"ipv4-family": "IPv4 address family", "import": "Ask the peers for their routes again",
	"export": "Send the peers the routes again",
}

// bgpControlCommands: reset bgp and refresh bgp.
func (o *ops) bgpControlCommands() []cli.Command {
	if o.d.BGPControl == nil {
		return nil
	}
	const who = "( all | external | internal | {addr:ip} )"
	return []cli.Command{
		{Views: "user", Syntax: "reset bgp [ vpnv4 | vpn-instance {vrf:vpn-name} ipv4-family ] " + who, Help: bgpControlHelp,
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				if a.Keyword("all") && !a.Keyword("vpnv4") && !a.Keyword("vpn-instance") {
					// reset bgp all: every session of the process, which
					// also takes a new system router ID.
					return "", o.d.BGPControl.Reset(ctx, nil)
				}
				keys, err := o.bgpPeersOf(ctx, a)
				if err != nil {
					return "", err
				}
				return "", o.d.BGPControl.Reset(ctx, keys)
			}},
		{Views: "user", Syntax: "refresh bgp [ vpnv4 | vpn-instance {vrf:vpn-name} ipv4-family ] " + who + " ( import | export )", Help: bgpControlHelp,
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				keys, err := o.bgpPeersOf(ctx, a)
				if err != nil {
					return "", err
				}
				return "", o.d.BGPControl.Refresh(ctx, keys, a.Keyword("import"), a.Keyword("export"))
			}},
	}
}

// bgpPeersOf selects the peers a reset or refresh names: of the public
// instance (in every family, or those in VPNv4) or of one VPN instance;
// all of them, the EBGP or IBGP ones, or one by address.
func (o *ops) bgpPeersOf(ctx context.Context, a *cli.Args) ([]bgp.PeerKey, error) {
	inst := bgp.PublicInstance
	if v, ok := a.Value("vrf"); ok {
		name, err := o.instance(v)
		if err != nil {
			return nil, err
		}
		inst = name
	}
	peers, err := o.d.BGPControl.Peers(ctx)
	if err != nil {
		return nil, err
	}
	var addr netip.Addr
	if v, ok := a.Value("addr"); ok {
		if addr, err = netip.ParseAddr(v); err != nil {
			return nil, &cli.ArgError{Name: "addr"}
		}
	}
	keys := []bgp.PeerKey{}
	for _, p := range peers {
		switch {
		case p.Key.Instance != inst,
			a.Keyword("vpnv4") && !slices.Contains(p.Families, packet.VPNv4),
			a.Keyword("external") && !p.EBGP,
			a.Keyword("internal") && p.EBGP,
			addr.IsValid() && p.Key.Addr != addr:
			continue
		}
		keys = append(keys, p.Key)
	}
	if addr.IsValid() && len(keys) == 0 {
		return nil, errNoBGPPeer
	}
	return keys, nil
}
