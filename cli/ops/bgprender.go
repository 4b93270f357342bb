package ops

// The BGP displays as pure renderers of the speaker's snapshots (package
// bgp): display bgp peer [verbose], display bgp vpnv4 all|vpn-instance
// peer, display bgp routing-table [P [M]|statistics], display bgp vpnv4
// all|vpn-instance|route-distinguisher routing-table [label|statistics|P
// [M]], in VRP8's layouts (vrp-reference §4.6 and §4.7).

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"vpnos/services/bgp"
	"vpnos/services/bgp/packet"
)

// asString prints an AS number as VRP does by default (no `as-notation
// plain`): a 4-byte AS in dotted notation (x.y), a 2-byte AS as a number.
func asString(as uint32) string {
	if as > 0xffff {
		return strconv.Itoa(int(as>>16)) + "." + strconv.Itoa(int(as&0xffff))
	}
	return strconv.Itoa(int(as))
}

// adminValue splits a route distinguisher or route target (type, then six
// bytes) into its administrator and assigned number, a 4-byte AS in
// dotted notation; ok is false for other types.
func adminValue(typ byte, b []byte) (admin, num string, ok bool) {
	switch typ {
	case 0:
		return strconv.Itoa(int(binary.BigEndian.Uint16(b[0:2]))), strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[2:6])), 10), true
	case 1:
		return netip.AddrFrom4([4]byte(b[0:4])).String(), strconv.Itoa(int(binary.BigEndian.Uint16(b[4:6]))), true
	case 2:
		return asString(binary.BigEndian.Uint32(b[0:4])), strconv.Itoa(int(binary.BigEndian.Uint16(b[4:6]))), true
	}
	return "", "", false
}

// rdString prints a route distinguisher ("65000:1", "10.255.0.1:1",
// "1.10:1" for a 4-byte AS).
func rdString(rd packet.RD) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(rd))
	if b[0] == 0 {
		if admin, num, ok := adminValue(b[1], b[2:]); ok {
			return admin + ":" + num
		}
	}
	return rd.String()
}

// extCommunityString prints an extended community as in the route
// details: "RT <65000 : 100>" for a route target.
func extCommunityString(e packet.ExtCommunity) string {
	if e.IsRouteTarget() {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(e))
		if admin, num, ok := adminValue(b[0], b[2:]); ok {
			return "RT <" + admin + " : " + num + ">"
		}
	}
	return e.String()
}

// communityString prints a community as VRP does ("<65000:1>", or the
// well-known names).
func communityString(c uint32) string {
	switch c {
	case 0xffffff01:
		return "no-export"
	case 0xffffff02:
		return "no-advertise"
	case 0xffffff03:
		return "no-export-subconfed"
	}
	return fmt.Sprintf("<%d:%d>", c>>16, c&0xffff)
}

// asPathString prints an AS path ("65000 64503", sets in braces, "" for an
// empty path).
func asPathString(p packet.ASPath) string {
	var parts []string
	for _, s := range p {
		asns := make([]string, len(s.ASNs))
		for i, a := range s.ASNs {
			asns[i] = asString(a)
		}
		switch s.Type {
		case packet.ASSet:
			parts = append(parts, "{"+strings.Join(asns, " ")+"}")
		case packet.ConfedSeq:
			parts = append(parts, "("+strings.Join(asns, " ")+")")
		case packet.ConfedSet:
			parts = append(parts, "[("+strings.Join(asns, " ")+")]")
		default:
			parts = append(parts, asns...)
		}
	}
	return strings.Join(parts, " ")
}

// bgpUpDown prints the Up/Down column: hh:mm:ss under a day, else hours and
// minutes (0049h18m).
func bgpUpDown(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	if s < 86400 {
		return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%04dh%02dm", s/3600, s/60%60)
}

// hms prints "00h57m53s" (BGP current state: Established, Up for ...).
func hms(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%02dh%02dm%02ds", s/3600, s/60%60, s%60)
}

func hasFamily(fs []packet.Family, f packet.Family) bool { return slices.Contains(fs, f) }

// BGPPeerView selects the peers of one `display bgp ... peer`.
type BGPPeerView struct {
	// VPNv4: the VPNv4 peers then the VPN instances' peers (`display bgp
	// vpnv4 all peer`); Instance: only that instance's peers (`display bgp
	// vpnv4 vpn-instance NAME peer`); neither: the IPv4 unicast peers of
	// the public instance (`display bgp peer`).
	VPNv4    bool
	Instance string
}

// bgpPeerGroups returns the peers a view lists: the public ones first,
// then per VPN instance (in configuration order) its own.
func bgpPeerGroups(sum bgp.Summary, peers []bgp.PeerSnapshot, v BGPPeerView) (public []bgp.PeerSnapshot, vrfs [][]bgp.PeerSnapshot, names []string) {
	byInst := map[string][]bgp.PeerSnapshot{}
	for _, p := range peers {
		if p.Key.Instance == bgp.PublicInstance {
			switch {
			case v.Instance != "":
			case v.VPNv4 && hasFamily(p.ConfFamilies, packet.VPNv4):
				public = append(public, p)
			case !v.VPNv4 && hasFamily(p.ConfFamilies, packet.IPv4Unicast):
				public = append(public, p)
			}
			continue
		}
		byInst[p.Key.Instance] = append(byInst[p.Key.Instance], p)
	}
	if !v.VPNv4 && v.Instance == "" {
		return public, nil, nil
	}
	for _, in := range sum.Instances {
		if (v.Instance == "" || v.Instance == in.Name) && len(byInst[in.Name]) > 0 {
			vrfs = append(vrfs, byInst[in.Name])
			names = append(names, in.Name)
		}
	}
	return public, vrfs, names
}

// RenderBGPPeers prints `display bgp peer`, `display bgp vpnv4 all peer`
// and `display bgp vpnv4 vpn-instance NAME peer` (§4.6).
func RenderBGPPeers(sum bgp.Summary, peers []bgp.PeerSnapshot, v BGPPeerView, now time.Time) string {
	if sum.AS == 0 {
		return ""
	}
	public, vrfs, names := bgpPeerGroups(sum, peers, v)
	total, up := 0, 0
	count := func(ps []bgp.PeerSnapshot) {
		for _, p := range ps {
			total++
			if p.State == bgp.Established {
				up++
			}
		}
	}
	count(public)
	for _, ps := range vrfs {
		count(ps)
	}
	var b strings.Builder
	fmt.Fprintf(&b, " BGP local router ID : %s\n", sum.RouterID)
	fmt.Fprintf(&b, " Local AS number : %s\n", asString(sum.AS))
	fmt.Fprintf(&b, "%sPeers in established state : %d\n\n", pad(fmt.Sprintf(" Total number of peers : %d", total), 43), up)
	b.WriteString("  Peer            V          AS  MsgRcvd  MsgSent  OutQ  Up/Down       State  PrefRcv\n\n")
	row := func(p bgp.PeerSnapshot, vpn bool) {
		pref := 0
		if p.State == bgp.Established {
			pref = p.PrefixesUnicast
			if vpn {
				pref = p.PrefixesVPNv4
			}
		}
		fmt.Fprintf(&b, "  %s4%12s%9d%9d%6d %s%12s%9d\n", pad(p.Key.Addr.String(), 16), asString(p.AS),
			p.MsgIn, p.MsgOut, 0, bgpUpDown(now.Sub(p.StateSince)), p.State, pref)
	}
	for _, p := range public {
		row(p, v.VPNv4)
	}
	if v.Instance != "" {
		for _, ps := range vrfs {
			for _, p := range ps {
				row(p, false)
			}
		}
		return b.String()
	}
	if len(vrfs) > 0 {
		b.WriteString("  Peer of vpn instance:\n")
	}
	for i, ps := range vrfs {
		fmt.Fprintf(&b, "  VPN-Instance %s, router ID %s:\n", names[i], sum.RouterID)
		for _, p := range ps {
			row(p, false)
		}
	}
	return b.String()
}

// BGPPeerDetail is one peer of `display bgp peer verbose`: its snapshot
// and its route counts per family.
type BGPPeerDetail struct {
	Peer           bgp.PeerSnapshot
	Unicast, VPNv4 bgp.PeerRouteCounts
}

// familyName names a family as the verbose display does.
func familyName(f packet.Family) string {
	switch f {
	case packet.IPv4Unicast:
		return "IPv4 Unicast"
	case packet.VPNv4:
		return "VPNv4 Unicast"
	}
	return fmt.Sprint(f)
}

func timeStamp(t time.Time) string { return t.Format("2006-01-02 15:04:05-07:00") }

// RenderBGPPeersVerbose prints `display bgp ... peer [ADDRESS] verbose`:
// one block per peer.
func RenderBGPPeersVerbose(sum bgp.Summary, peers []BGPPeerDetail, vpn bool, now time.Time) string {
	var b strings.Builder
	const in = "         "
	for _, d := range peers {
		p := d.Peer
		b.WriteString("\n")
		fmt.Fprintf(&b, "%sBGP Peer is %s,  remote AS %s\n", in, p.Key.Addr, asString(p.AS))
		typ := "IBGP"
		if p.EBGP {
			typ = "EBGP"
		}
		fmt.Fprintf(&b, "%sType: %s link\n", in, typ)
		rid := p.RemoteID
		if !rid.IsValid() {
			rid = netip.IPv4Unspecified()
		}
		fmt.Fprintf(&b, "%sBGP version 4, Remote router ID %s\n", in, rid)
		if p.State == bgp.Established {
			fmt.Fprintf(&b, "%sBGP current state: Established, Up for %s\n", in, hms(now.Sub(p.StateSince)))
		} else {
			fmt.Fprintf(&b, "%sBGP current state: %s\n", in, p.State)
		}
		fmt.Fprintf(&b, "%sBGP last state: %s\n", in, p.PrevState)
		fmt.Fprintf(&b, "%sBGP Peer Up count: %d\n", in, p.EstablishedCnt)
		c := d.Unicast
		if vpn && p.Key.Instance == bgp.PublicInstance {
			// The VPNv4 peers' VPNv4 routes; a VPN instance's peers
			// have their instance's IPv4 routes.
			c = d.VPNv4
		}
		fmt.Fprintf(&b, "%sReceived total routes: %d\n", in, c.Received)
		fmt.Fprintf(&b, "%sReceived active routes total: %d\n", in, c.Active)
		fmt.Fprintf(&b, "%sAdvertised total routes: %d\n", in, c.Advertised)
		fmt.Fprintf(&b, "%sConfigured: Connect-retry Time: %d sec\n", in, int(p.ConnectRetry/time.Second))
		fmt.Fprintf(&b, "%sConfigured: Active Hold Time: %d sec   Keepalive Time:%d sec\n", in, int(p.ConfHoldTime/time.Second), int(p.ConfKeepalive/time.Second))
		if p.PeerCaps != nil {
			fmt.Fprintf(&b, "%sReceived  : Active Hold Time: %d sec\n", in, int(p.PeerHoldTime/time.Second))
			fmt.Fprintf(&b, "%sNegotiated: Active Hold Time: %d sec   Keepalive Time:%d sec\n", in, int(p.HoldTime/time.Second), int(p.Keepalive/time.Second))
			fmt.Fprintf(&b, "%sPeer optional capabilities:\n", in)
			if len(p.PeerCaps.Families) > 0 {
				fmt.Fprintf(&b, "%sPeer supports bgp multi-protocol extension\n", in)
			}
			if p.PeerCaps.RouteRefresh {
				fmt.Fprintf(&b, "%sPeer supports bgp route refresh capability\n", in)
			}
			if p.PeerCaps.AS4 {
				fmt.Fprintf(&b, "%sPeer supports bgp 4-byte-as capability\n", in)
			}
			for _, f := range p.ConfFamilies {
				state := "advertised"
				if p.PeerCaps.Has(f) {
					state = "advertised and received"
				}
				fmt.Fprintf(&b, "%sAddress family %s: %s\n", in, familyName(f), state)
			}
		}
		counts := func(title string, m bgp.MsgCounts) {
			fmt.Fprintf(&b, " %s: Total %d messages\n", title, m.Total())
			for _, l := range []struct {
				name string
				n    uint64
			}{{"Update messages", m.Update}, {"Open messages", m.Open}, {"KeepAlive messages", m.Keepalive},
				{"Notification messages", m.Notification}, {"Refresh messages", m.Refresh}} {
				fmt.Fprintf(&b, "                  %s%d\n", pad(l.name, 31), l.n)
			}
		}
		counts("Received", p.In)
		counts("Sent", p.Out)
		b.WriteString(" Authentication type configured: None\n")
		for _, l := range []struct {
			what string
			t    time.Time
		}{{"Last keepalive received", p.In.LastKeepalive}, {"Last keepalive sent    ", p.Out.LastKeepalive},
			{"Last update    received", p.In.LastUpdate}, {"Last update    sent    ", p.Out.LastUpdate}} {
			if !l.t.IsZero() {
				fmt.Fprintf(&b, " %s: %s\n", l.what, timeStamp(l.t))
			}
		}
		b.WriteString(" Optional capabilities:\n")
		b.WriteString(" Route refresh capability has been enabled\n")
		b.WriteString(" 4-byte-as capability has been enabled\n")
		fmt.Fprintf(&b, " Peer Preferred Value: %d\n", p.PreferredValue)
	}
	return b.String()
}

// bgpLegend is the head of every BGP routing table display.
func bgpLegend(b *strings.Builder, routerID netip.Addr) {
	fmt.Fprintf(b, " BGP Local router ID is %s\n", routerID)
	b.WriteString(" Status codes: * - valid, > - best, d - damped, x - best external, a - add path,\n")
	b.WriteString("               h - history,  i - internal, s - suppressed, S - Stale\n")
	b.WriteString("               Origin : i - IGP, e - EGP, ? - incomplete\n")
	b.WriteString(" RPKI validation codes: V - valid, I - invalid, N - not-found\n")
}

const bgpTableHeader = "      Network            NextHop        MED        LocPrf    PrefVal Path/Ogn\n"

// statusCode is the status column of a path: * valid, > best, i internal.
func statusCode(p bgp.PathSnapshot) string {
	s := []byte("   ")
	if p.Usable {
		s[0] = '*'
	}
	if p.Best {
		s[1] = '>'
	}
	if p.Internal {
		s[2] = 'i'
	}
	return string(s)
}

func nextHopString(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// bgpRows prints the rows of routes (columns 1, 6, 25, 41, 52, 63, 70); a
// further path of a destination leaves the network blank.
func bgpRows(b *strings.Builder, routes []bgp.RouteSnapshot, keep func(bgp.PathSnapshot) bool) {
	for _, r := range routes {
		first := true
		for _, p := range r.Paths {
			if keep != nil && !keep(p) {
				continue
			}
			net := ""
			if first {
				net = r.Prefix.String()
			}
			first = false
			med, lp := "", ""
			if p.HasMED {
				med = strconv.FormatUint(uint64(p.MED), 10)
			}
			if p.HasLocalPref {
				lp = strconv.FormatUint(uint64(p.LocalPref), 10)
			}
			line := " " + pad(statusCode(p), 5) + pad(net, 19) + pad(nextHopString(p.NextHop), 16) + pad(med, 11) +
				pad(lp, 11) + pad(strconv.Itoa(int(p.PrefVal)), 7) + asPathString(p.ASPath) + p.Origin.String()
			b.WriteString(line + "\n")
		}
	}
}

func countPaths(routes []bgp.RouteSnapshot, keep func(bgp.PathSnapshot) bool) int {
	n := 0
	for _, r := range routes {
		for _, p := range r.Paths {
			if keep == nil || keep(p) {
				n++
			}
		}
	}
	return n
}

// RenderBGPTable prints `display bgp routing-table` (the public table).
func RenderBGPTable(sum bgp.Summary, routes []bgp.RouteSnapshot) string {
	if sum.AS == 0 {
		return ""
	}
	var b strings.Builder
	bgpLegend(&b, sum.RouterID)
	fmt.Fprintf(&b, "\n\n Total Number of Routes: %d\n", countPaths(routes, nil))
	b.WriteString(bgpTableHeader + "\n")
	bgpRows(&b, routes, nil)
	return b.String()
}

// BGPInstanceTable is one VPN instance's BGP table.
type BGPInstanceTable struct {
	Name   string
	Routes []bgp.RouteSnapshot
}

// splitRD groups VPNv4 routes (sorted by RD) by RD.
func splitRD(routes []bgp.RouteSnapshot) [][]bgp.RouteSnapshot {
	var out [][]bgp.RouteSnapshot
	for i, r := range routes {
		if i == 0 || r.RD != routes[i-1].RD {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], r)
	}
	return out
}

// RenderBGPVPNTable prints `display bgp vpnv4 all routing-table`: the
// VPNv4 table by RD, then the VPN instances' tables (§4.7), under the
// total of the VPNv4 table (all). The other forms pass only what they show
// and all false: `route-distinguisher RD routing-table` the RD's routes,
// `vpn-instance NAME routing-table` the one instance.
func RenderBGPVPNTable(sum bgp.Summary, vpn []bgp.RouteSnapshot, insts []BGPInstanceTable, all bool) string {
	if sum.AS == 0 {
		return ""
	}
	var b strings.Builder
	bgpLegend(&b, sum.RouterID)
	b.WriteString("\n\n")
	if all {
		fmt.Fprintf(&b, " Total number of routes from all PE: %d\n", countPaths(vpn, nil))
	}
	for i, rd := range splitRD(vpn) {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, " Route Distinguisher: %s\n\n\n", rdString(rd[0].RD))
		b.WriteString(bgpTableHeader + "\n")
		bgpRows(&b, rd, nil)
	}
	for i, in := range insts {
		if all || i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, " VPN-Instance %s, Router ID %s:\n\n", in.Name, sum.RouterID)
		fmt.Fprintf(&b, " Total Number of Routes: %d\n", countPaths(in.Routes, nil))
		if len(in.Routes) > 0 {
			b.WriteString(bgpTableHeader + "\n")
			bgpRows(&b, in.Routes, nil)
		}
	}
	return b.String()
}

// importedPath keeps an instance's paths that carry a VPN label (those
// imported from the VPNv4 table) in the label view.
func importedPath(p bgp.PathSnapshot) bool { return p.Imported }

// bgpLabelRows prints the label view's rows (columns 1, 8, 26, 44): no
// masks, In/Out Label as <in>/NULL for a local route, NULL/<out> for a
// remote one.
func bgpLabelRows(b *strings.Builder, routes []bgp.RouteSnapshot, keep func(bgp.PathSnapshot) bool) {
	for _, r := range routes {
		first := true
		for _, p := range r.Paths {
			if keep != nil && !keep(p) {
				continue
			}
			net := ""
			if first {
				net = r.Prefix.Addr().String()
			}
			first = false
			label := fmt.Sprintf("NULL/%d", p.Label)
			if p.Local {
				label = fmt.Sprintf("%d/NULL", p.Label)
			}
			b.WriteString(" " + pad(statusCode(p), 7) + pad(net, 18) + pad(nextHopString(p.NextHop), 18) + label + "\n")
		}
	}
}

const bgpLabelHeader = "        Network           NextHop           In/Out Label\n"

// RenderBGPVPNLabels prints `display bgp vpnv4 all routing-table label`
// (and the vpn-instance form with all false).
func RenderBGPVPNLabels(sum bgp.Summary, vpn []bgp.RouteSnapshot, insts []BGPInstanceTable, all bool) string {
	if sum.AS == 0 {
		return ""
	}
	var b strings.Builder
	bgpLegend(&b, sum.RouterID)
	b.WriteString("\n\n")
	if all {
		fmt.Fprintf(&b, " Total number of routes from all PE: %d\n", countPaths(vpn, nil))
	}
	for i, rd := range splitRD(vpn) {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, " Route Distinguisher: %s\n", rdString(rd[0].RD))
		b.WriteString(bgpLabelHeader + "\n")
		bgpLabelRows(&b, rd, nil)
	}
	for i, in := range insts {
		if all || i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, " VPN-Instance %s, router ID %s:\n", in.Name, sum.RouterID)
		n := countPaths(in.Routes, importedPath)
		fmt.Fprintf(&b, " Total Number of Routes: %d\n", n)
		if n > 0 {
			b.WriteString(bgpLabelHeader + "\n")
			bgpLabelRows(&b, in.Routes, importedPath)
		}
	}
	return b.String()
}

// RenderBGPStats prints `display bgp routing-table statistics`.
func RenderBGPStats(sum bgp.Summary, st bgp.TableStats) string {
	if sum.AS == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, " Total Number of Routes: %d\n", st.Paths)
	fmt.Fprintf(&b, " Total Number of Prefix Advertised to RM : %d\n", st.Best)
	fmt.Fprintf(&b, " Total Number of Best Routes: %d\n", st.Best)
	b.WriteString(" Total Number of Best-external Routes: 0\n")
	return b.String()
}

// BGPInstanceStats is one instance's line of the VPN statistics.
type BGPInstanceStats struct {
	Name  string
	Stats bgp.TableStats
}

// RenderBGPVPNStats prints `display bgp vpnv4 all routing-table
// statistics` (all) or the vpn-instance form.
func RenderBGPVPNStats(sum bgp.Summary, vpn bgp.TableStats, insts []BGPInstanceStats, all bool) string {
	if sum.AS == 0 {
		return ""
	}
	var b strings.Builder
	if all {
		fmt.Fprintf(&b, " Total number of routes from all PE: %d\n", vpn.Paths)
	}
	for _, in := range insts {
		fmt.Fprintf(&b, " VPN-Instance %s, Router ID %s:\n", in.Name, sum.RouterID)
		fmt.Fprintf(&b, " Total Number of Routes: %d\n", in.Stats.Paths)
	}
	return b.String()
}

// Relay is where the RIB sends traffic for a BGP next hop: the resolving
// route's gateway and interface.
type Relay struct {
	NextHop   netip.Addr
	Interface string
}

// BGPDetail is what a route detail display needs beyond the routes: the
// peers' router IDs, and the relay of each next hop (keyed by instance
// and address; VPN routes resolve in the public instance).
type BGPDetail struct {
	RemoteIDs map[bgp.PeerKey]netip.Addr
	Relays    map[bgp.PeerKey]Relay
}

func originName(o packet.Origin) string {
	switch o {
	case packet.OriginIGP:
		return "igp"
	case packet.OriginEGP:
		return "egp"
	}
	return "incomplete"
}

// pathsLine is " Paths:   N available, B best, S select, 0 best-external, 0 add-path".
func pathsLine(b *strings.Builder, r bgp.RouteSnapshot) {
	best, sel := 0, 0
	for _, p := range r.Paths {
		if p.Best {
			best++
		}
		if p.Selected {
			sel++
		}
	}
	fmt.Fprintf(b, " Paths:   %d available, %d best, %d select, 0 best-external, 0 add-path\n", len(r.Paths), best, sel)
}

// bgpEntry prints one path of a route in detail. vpn: a VPNv4 table entry
// (RD and labels); relayIn is the instance its next hop resolves in.
func bgpEntry(b *strings.Builder, r bgp.RouteSnapshot, p bgp.PathSnapshot, vpn bool, relayIn string, d BGPDetail) {
	fmt.Fprintf(b, " BGP routing table entry information of %s:\n", r.Prefix)
	switch {
	case vpn:
		fmt.Fprintf(b, " Route Distinguisher: %s\n", rdString(r.RD))
	case p.Imported:
		fmt.Fprintf(b, " Route Distinguisher: %s\n", rdString(p.RD))
	}
	if vpn || p.Imported {
		if p.Local {
			fmt.Fprintf(b, " Label information (Received/Applied): NULL/%d\n", p.Label)
		} else {
			fmt.Fprintf(b, " Label information (Received/Applied): %d/NULL\n", p.Label)
		}
	}
	from, rid := "0.0.0.0", "0.0.0.0"
	if p.From.Addr.IsValid() {
		from = p.From.Addr.String()
		if id, ok := d.RemoteIDs[p.From]; ok && id.IsValid() {
			rid = id.String()
		}
	}
	fmt.Fprintf(b, " From: %s (%s)\n", from, rid)
	if !p.Local && p.NextHop.IsValid() {
		if rel, ok := d.Relays[bgp.PeerKey{Instance: relayIn, Addr: p.NextHop}]; ok {
			fmt.Fprintf(b, " Relay IP Nexthop: %s\n", nextHopString(rel.NextHop))
			if rel.Interface != "" {
				fmt.Fprintf(b, " Relay IP Out-Interface: %s\n", rel.Interface)
			}
		}
	}
	fmt.Fprintf(b, " Original nexthop: %s\n", nextHopString(p.NextHop))
	b.WriteString(" Qos information : 0x0\n")
	if len(p.Communities) > 0 {
		cs := make([]string, len(p.Communities))
		for i, c := range p.Communities {
			cs[i] = communityString(c)
		}
		fmt.Fprintf(b, " Community: %s\n", strings.Join(cs, ", "))
	}
	if len(p.ExtCommunities) > 0 {
		es := make([]string, len(p.ExtCommunities))
		for i, e := range p.ExtCommunities {
			es[i] = extCommunityString(e)
		}
		fmt.Fprintf(b, " Ext-Community: %s\n", strings.Join(es, ", "))
	}
	path := asPathString(p.ASPath)
	if path == "" {
		path = "Nil"
	}
	parts := []string{"AS-path " + path, "origin " + originName(p.Origin)}
	if p.HasMED {
		parts = append(parts, fmt.Sprintf("MED %d", p.MED))
	}
	if p.HasLocalPref {
		parts = append(parts, fmt.Sprintf("localpref %d", p.LocalPref))
	}
	parts = append(parts, fmt.Sprintf("pref-val %d", p.PrefVal))
	if p.Usable {
		parts = append(parts, "valid")
	}
	switch {
	case p.Local:
		parts = append(parts, "local")
	case p.Internal:
		parts = append(parts, "internal")
	default:
		parts = append(parts, "external")
	}
	if p.Best {
		parts = append(parts, "best")
	}
	if p.Selected {
		parts = append(parts, "select")
	}
	parts = append(parts, "pre 255")
	if p.Internal && !p.Local && p.Usable {
		parts = append(parts, fmt.Sprintf("IGP cost %d", p.IGPCost))
	}
	fmt.Fprintf(b, " %s\n", strings.Join(parts, ", "))
	if p.OriginatorID.IsValid() {
		fmt.Fprintf(b, " Originator: %s\n", p.OriginatorID)
	}
	if len(p.ClusterList) > 0 {
		cl := make([]string, len(p.ClusterList))
		for i, c := range p.ClusterList {
			cl[i] = c.String()
		}
		fmt.Fprintf(b, " Cluster list: %s\n", strings.Join(cl, ", "))
	}
	if p.Best && len(r.AdvertisedTo) > 0 {
		fmt.Fprintf(b, " Advertised to such %d peers:\n", len(r.AdvertisedTo))
		for _, k := range r.AdvertisedTo {
			fmt.Fprintf(b, "    %s\n", k.Addr)
		}
	} else {
		b.WriteString(" Not advertised to any peer yet\n")
	}
}

func bgpDetailHead(b *strings.Builder, sum bgp.Summary) {
	fmt.Fprintf(b, " BGP local router ID : %s\n", sum.RouterID)
	fmt.Fprintf(b, " Local AS number : %s\n", asString(sum.AS))
}

// RenderBGPRouteDetail prints `display bgp routing-table P [M]` (the
// public table).
func RenderBGPRouteDetail(sum bgp.Summary, routes []bgp.RouteSnapshot, d BGPDetail) string {
	if sum.AS == 0 {
		return ""
	}
	var b strings.Builder
	bgpDetailHead(&b, sum)
	for _, r := range routes {
		pathsLine(&b, r)
		for i, p := range r.Paths {
			if i > 0 {
				b.WriteString("\n")
			}
			bgpEntry(&b, r, p, false, bgp.PublicInstance, d)
		}
	}
	return b.String()
}

// RenderBGPVPNRouteDetail prints `display bgp vpnv4 all routing-table P
// [M]` (all: the VPNv4 entries by RD, then each instance's) and the
// vpn-instance and route-distinguisher forms.
func RenderBGPVPNRouteDetail(sum bgp.Summary, vpn []bgp.RouteSnapshot, insts []BGPInstanceTable, all bool, d BGPDetail) string {
	if sum.AS == 0 {
		return ""
	}
	var b strings.Builder
	bgpDetailHead(&b, sum)
	for _, r := range vpn {
		if all {
			fmt.Fprintf(&b, "\n Total routes of Route Distinguisher(%s): %d\n", rdString(r.RD), len(r.Paths))
		}
		for i, p := range r.Paths {
			if i > 0 {
				b.WriteString("\n")
			}
			bgpEntry(&b, r, p, true, bgp.PublicInstance, d)
		}
	}
	for _, in := range insts {
		for _, r := range in.Routes {
			if all {
				fmt.Fprintf(&b, "\n Total routes of vpn-instance %s: %d\n", in.Name, len(r.Paths))
			} else {
				fmt.Fprintf(&b, " VPN-Instance %s, Router ID %s:\n", in.Name, sum.RouterID)
				pathsLine(&b, r)
			}
			for i, p := range r.Paths {
				if i > 0 {
					b.WriteString("\n")
				}
				relayIn := in.Name
				if p.Imported {
					relayIn = bgp.PublicInstance
				}
				bgpEntry(&b, r, p, false, relayIn, d)
			}
		}
	}
	return b.String()
}
