package ops

import (
	"context"
	"errors"
	"net/netip"
	"strconv"

	"vpnos/cli"
	"vpnos/services/bgp"
	"vpnos/services/bgp/packet"
)

// BGP is what the BGP displays read from the speaker (*bgp.Service
// implements it). Every call is one snapshot taken by the speaker's owner
// goroutine.
type BGP interface {
	// Summary: local AS (0 when BGP is not configured), router ID and the
	// VPN instances with their labels.
	Summary(ctx context.Context) (bgp.Summary, error)
	// Peers: every peer, sorted by instance and address.
	Peers(ctx context.Context) ([]bgp.PeerSnapshot, error)
	// PeerRoutes: a peer's received, active and advertised routes.
	PeerRoutes(ctx context.Context, k bgp.PeerKey) (unicast, vpnv4 bgp.PeerRouteCounts, err error)
	// Routes: an instance's table (bgp.PublicInstance or a VPN instance);
	// with a valid filter only that prefix, with where it is advertised.
	Routes(ctx context.Context, instance string, filter netip.Prefix) ([]bgp.RouteSnapshot, error)
	// VPNRoutes: the VPNv4 table, sorted by RD and prefix; filter as above.
	VPNRoutes(ctx context.Context, filter netip.Prefix) ([]bgp.RouteSnapshot, error)
	// Stats counts an instance's table, or the VPNv4 table (vpn).
	Stats(ctx context.Context, instance string, vpn bool) (bgp.TableStats, error)
}

var (
	_ BGP = (*bgp.Service)(nil)
	_ BGP = (*bgp.Runner)(nil)
)

var (
	errNoPeer = errors.New("The peer does not exist")
	errBadRD  = errors.New("The route distinguisher is invalid")
)

var bgpHelp = map[string]string{
	"bgp": "BGP information", "peer": "Peers", "verbose": "Detailed information",
	"vpnv4": "VPNv4 address family", "all": "All VPNv4 routes and peers",
	"vpn-instance": "A VPN instance", "vrf": "VPN instance name", "routing-table": "BGP routing table",
	"label": "Labelled routes", "statistics": "Route statistics", "dest": "Destination IP address",
	"mask": "Mask or mask length", "addr": "Peer address",
	"route-distinguisher": "A route distinguisher", "rd": "Route distinguisher (X:Y)",
}

// bgpCommands: the BGP displays, when the daemon runs BGP.
func (o *ops) bgpCommands() []cli.Command {
	if o.d.BGP == nil {
		return nil
	}
	cmd := func(syntax string, run func(context.Context, *cli.Args) (string, error)) cli.Command {
		return cli.Command{Views: "any", Syntax: syntax, Display: true, Help: bgpHelp, Run: run}
	}
	return []cli.Command{
		cmd("display bgp peer [{addr:ip}] [verbose]", func(ctx context.Context, a *cli.Args) (string, error) {
			return o.runBGPPeers(ctx, a, BGPPeerView{})
		}),
		cmd("display bgp vpnv4 all peer [{addr:ip}] [verbose]", func(ctx context.Context, a *cli.Args) (string, error) {
			return o.runBGPPeers(ctx, a, BGPPeerView{VPNv4: true})
		}),
		cmd("display bgp vpnv4 vpn-instance {vrf:vpn-name} peer [{addr:ip}] [verbose]", func(ctx context.Context, a *cli.Args) (string, error) {
			name, _ := a.Value("vrf")
			if _, err := o.instance(name); err != nil {
				return "", err
			}
			return o.runBGPPeers(ctx, a, BGPPeerView{Instance: name})
		}),
		cmd("display bgp routing-table [statistics | {dest:ip} [{mask:mask}]]", o.runBGPTable),
		cmd("display bgp vpnv4 all routing-table [label | statistics | {dest:ip} [{mask:mask}]]", func(ctx context.Context, a *cli.Args) (string, error) {
			return o.runBGPVPNTable(ctx, a, "", nil)
		}),
		cmd("display bgp vpnv4 vpn-instance {vrf:vpn-name} routing-table [label | statistics | {dest:ip} [{mask:mask}]]", func(ctx context.Context, a *cli.Args) (string, error) {
			name, _ := a.Value("vrf")
			if _, err := o.instance(name); err != nil {
				return "", err
			}
			return o.runBGPVPNTable(ctx, a, name, nil)
		}),
		cmd("display bgp vpnv4 route-distinguisher {rd:word} routing-table [{dest:ip} [{mask:mask}]]", func(ctx context.Context, a *cli.Args) (string, error) {
			v, _ := a.Value("rd")
			rd, err := packet.ParseRD(v)
			if err != nil {
				return "", errBadRD
			}
			return o.runBGPVPNTable(ctx, a, "", &rd)
		}),
	}
}

// peerOf parses the optional peer address of a peer display.
func peerOf(a *cli.Args) (netip.Addr, bool, error) {
	v, ok := a.Value("addr")
	if !ok {
		return netip.Addr{}, false, nil
	}
	addr, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, false, &cli.ArgError{Name: "addr"}
	}
	return addr, true, nil
}

func (o *ops) runBGPPeers(ctx context.Context, a *cli.Args, v BGPPeerView) (string, error) {
	sum, err := o.d.BGP.Summary(ctx)
	if err != nil {
		return "", err
	}
	peers, err := o.d.BGP.Peers(ctx)
	if err != nil {
		return "", err
	}
	addr, one, err := peerOf(a)
	if err != nil {
		return "", err
	}
	if !one && !a.Keyword("verbose") {
		return RenderBGPPeers(sum, peers, v, o.d.Now()), nil
	}
	public, vrfs, _ := bgpPeerGroups(sum, peers, v)
	var shown []bgp.PeerSnapshot
	shown = append(shown, public...)
	for _, ps := range vrfs {
		shown = append(shown, ps...)
	}
	var details []BGPPeerDetail
	for _, p := range shown {
		if one && p.Key.Addr != addr {
			continue
		}
		u, vpn, err := o.d.BGP.PeerRoutes(ctx, p.Key)
		if err != nil {
			return "", err
		}
		details = append(details, BGPPeerDetail{Peer: p, Unicast: u, VPNv4: vpn})
	}
	if sum.AS == 0 {
		return "", nil
	}
	if one && len(details) == 0 {
		return "", errNoPeer
	}
	return RenderBGPPeersVerbose(sum, details, v.VPNv4, o.d.Now()), nil
}

// bgpPrefix reads {dest:ip} [{mask:mask}]: ok is false without a
// destination; exact is false without a mask (longest match).
func bgpPrefix(a *cli.Args) (p netip.Prefix, exact, ok bool, err error) {
	d, ok := a.Value("dest")
	if !ok {
		return netip.Prefix{}, false, false, nil
	}
	addr, err := netip.ParseAddr(d)
	if err != nil || !addr.Is4() {
		return netip.Prefix{}, false, false, &cli.ArgError{Name: "dest"}
	}
	m, exact := a.Value("mask")
	n := 32
	if exact {
		if n, err = strconv.Atoi(m); err != nil {
			return netip.Prefix{}, false, false, &cli.ArgError{Name: "mask"}
		}
	}
	return netip.PrefixFrom(addr, n).Masked(), exact, true, nil
}

// longest finds the routes of the longest prefix containing p.Addr() with
// get (one snapshot call per length, longest first); exact asks p only.
func longest(p netip.Prefix, exact bool, get func(netip.Prefix) ([]bgp.RouteSnapshot, error)) ([]bgp.RouteSnapshot, error) {
	if exact {
		return get(p)
	}
	for n := 32; n >= 0; n-- {
		rs, err := get(netip.PrefixFrom(p.Addr(), n).Masked())
		if err != nil || len(rs) > 0 {
			return rs, err
		}
	}
	return nil, nil
}

func (o *ops) runBGPTable(ctx context.Context, a *cli.Args) (string, error) {
	sum, err := o.d.BGP.Summary(ctx)
	if err != nil {
		return "", err
	}
	if a.Keyword("statistics") {
		st, err := o.d.BGP.Stats(ctx, bgp.PublicInstance, false)
		if err != nil {
			return "", err
		}
		return RenderBGPStats(sum, st), nil
	}
	p, exact, one, err := bgpPrefix(a)
	if err != nil {
		return "", err
	}
	if !one {
		rs, err := o.d.BGP.Routes(ctx, bgp.PublicInstance, netip.Prefix{})
		if err != nil {
			return "", err
		}
		return RenderBGPTable(sum, rs), nil
	}
	rs, err := longest(p, exact, func(q netip.Prefix) ([]bgp.RouteSnapshot, error) {
		return o.d.BGP.Routes(ctx, bgp.PublicInstance, q)
	})
	if err != nil {
		return "", err
	}
	d, err := o.bgpDetail(ctx, rs, nil)
	if err != nil {
		return "", err
	}
	return RenderBGPRouteDetail(sum, rs, d), nil
}

// bgpInstances lists the VPN instances an `all` display shows: those with
// `ipv4-family vpn-instance` in BGP or with routes, in configuration order
// (only: that one).
func bgpInstances(sum bgp.Summary, only string, nonEmpty func(string) bool) []string {
	var out []string
	for _, in := range sum.Instances {
		if only != "" {
			if in.Name == only {
				out = append(out, in.Name)
			}
			continue
		}
		if in.BGP || nonEmpty(in.Name) {
			out = append(out, in.Name)
		}
	}
	if only != "" && len(out) == 0 {
		// A configured instance BGP does not know (no RD yet): shown
		// empty.
		out = append(out, only)
	}
	return out
}

// runBGPVPNTable serves the vpnv4 routing-table displays: all (instance
// "" and rd nil), one instance, or one RD.
func (o *ops) runBGPVPNTable(ctx context.Context, a *cli.Args, instance string, rd *packet.RD) (string, error) {
	sum, err := o.d.BGP.Summary(ctx)
	if err != nil {
		return "", err
	}
	all := instance == "" && rd == nil
	if a.Keyword("statistics") {
		vst, err := o.d.BGP.Stats(ctx, "", true)
		if err != nil {
			return "", err
		}
		var insts []BGPInstanceStats
		stats := map[string]bgp.TableStats{}
		for _, in := range sum.Instances {
			if stats[in.Name], err = o.d.BGP.Stats(ctx, in.Name, false); err != nil {
				return "", err
			}
		}
		for _, n := range bgpInstances(sum, instance, func(n string) bool { return stats[n].Paths > 0 }) {
			insts = append(insts, BGPInstanceStats{Name: n, Stats: stats[n]})
		}
		return RenderBGPVPNStats(sum, vst, insts, all), nil
	}
	p, exact, one, err := bgpPrefix(a)
	if err != nil {
		return "", err
	}
	filter := netip.Prefix{}
	if one && exact {
		filter = p
	}
	var vpn []bgp.RouteSnapshot
	if instance == "" {
		get := func(q netip.Prefix) ([]bgp.RouteSnapshot, error) {
			rs, err := o.d.BGP.VPNRoutes(ctx, q)
			if rd != nil {
				var keep []bgp.RouteSnapshot
				for _, r := range rs {
					if r.RD == *rd {
						keep = append(keep, r)
					}
				}
				rs = keep
			}
			return rs, err
		}
		if one {
			vpn, err = longest(p, exact, get)
		} else {
			vpn, err = get(filter)
		}
		if err != nil {
			return "", err
		}
	}
	var insts []BGPInstanceTable
	if rd == nil {
		tables := map[string][]bgp.RouteSnapshot{}
		for _, in := range sum.Instances {
			if instance != "" && in.Name != instance {
				continue
			}
			get := func(q netip.Prefix) ([]bgp.RouteSnapshot, error) { return o.d.BGP.Routes(ctx, in.Name, q) }
			var rs []bgp.RouteSnapshot
			if one {
				rs, err = longest(p, exact, get)
			} else {
				rs, err = get(filter)
			}
			if err != nil {
				return "", err
			}
			tables[in.Name] = rs
		}
		for _, n := range bgpInstances(sum, instance, func(n string) bool { return len(tables[n]) > 0 }) {
			if one && len(tables[n]) == 0 {
				continue
			}
			insts = append(insts, BGPInstanceTable{Name: n, Routes: tables[n]})
		}
	}
	switch {
	case one:
		d, err := o.bgpDetail(ctx, vpn, insts)
		if err != nil {
			return "", err
		}
		return RenderBGPVPNRouteDetail(sum, vpn, insts, instance == "", d), nil
	case a.Keyword("label"):
		return RenderBGPVPNLabels(sum, vpn, insts, all), nil
	}
	return RenderBGPVPNTable(sum, vpn, insts, all), nil
}

// bgpDetail gathers the peers' router IDs and the RIB's relay of every
// next hop the detailed routes use (VPN routes resolve in the public
// instance, an instance's own routes in the instance).
func (o *ops) bgpDetail(ctx context.Context, public []bgp.RouteSnapshot, insts []BGPInstanceTable) (BGPDetail, error) {
	d := BGPDetail{RemoteIDs: map[bgp.PeerKey]netip.Addr{}, Relays: map[bgp.PeerKey]Relay{}}
	peers, err := o.d.BGP.Peers(ctx)
	if err != nil {
		return d, err
	}
	for _, p := range peers {
		d.RemoteIDs[p.Key] = p.RemoteID
	}
	relay := func(inst string, nh netip.Addr) {
		k := bgp.PeerKey{Instance: inst, Addr: nh}
		if _, done := d.Relays[k]; done || !nh.IsValid() {
			return
		}
		res, ok, err := o.d.RIB.Lookup(ctx, inst, nh)
		if err != nil || !ok || len(res.NextHops) == 0 {
			return
		}
		h := res.NextHops[0]
		r := Relay{NextHop: h.Gateway, Interface: h.Interface}
		if !r.NextHop.IsValid() {
			r.NextHop = nh // directly attached: the next hop itself
		}
		d.Relays[k] = r
	}
	for _, r := range public {
		for _, p := range r.Paths {
			if !p.Local {
				relay(bgp.PublicInstance, p.NextHop)
			}
		}
	}
	for _, in := range insts {
		for _, r := range in.Routes {
			for _, p := range r.Paths {
				switch {
				case p.Local:
				case p.Imported:
					relay(bgp.PublicInstance, p.NextHop)
				default:
					relay(in.Name, p.NextHop)
				}
			}
		}
	}
	return d, nil
}
