package ops

// Renderers of the `display ospf` commands: pure functions of the process
// snapshots (services/ospf.Snapshot), in VRP's layouts (reference §4.11 for
// the peer displays; the others as VRP prints them, unverified in detail).
// The commands themselves are registered with the OSPF integration.

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"vpnos/services/ospf"
	"vpnos/services/ospf/core"
	"vpnos/services/ospf/packet"
)

// ospfTitle is the first line of every OSPF display.
func ospfTitle(s ospf.Snapshot) string {
	return fmt.Sprintf("          OSPF Process %d with Router ID %s\n", s.Process, ospfAddr(s.RouterID))
}

func ospfAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// ospfPad left-aligns s in w columns (at least one space after).
func ospfPad(s string, w int) string {
	if len(s) >= w {
		return s + " "
	}
	return s + strings.Repeat(" ", w-len(s))
}

// ospfShortIf abbreviates an interface name as VRP's brief displays do
// (GigabitEthernet0/3/0 is GE0/3/0).
func ospfShortIf(name string) string {
	for long, short := range map[string]string{"GigabitEthernet": "GE", "Ethernet": "Eth", "LoopBack": "Loop"} {
		if rest, ok := strings.CutPrefix(name, long); ok {
			return short + rest
		}
	}
	return name
}

// ospfDuration prints hh:mm:ss (hours may exceed 24).
func ospfDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// ospfNbrState is the state as the peer displays print it.
func ospfNbrState(s core.NbrState) string { return s.String() }

// RenderOSPFPeer prints `display ospf [PROCESS] peer [brief]`.
func RenderOSPFPeer(snaps []ospf.Snapshot, brief, vrp5 bool) string {
	var b strings.Builder
	if brief && !vrp5 {
		b.WriteString("(M) Indicates MADJ interface\n")
	}
	for k, s := range snaps {
		if k > 0 {
			b.WriteString("\n")
		}
		b.WriteString(ospfTitle(s))
		if brief {
			renderOSPFPeerBrief(&b, s, vrp5)
		} else {
			renderOSPFPeerVerbose(&b, s)
		}
	}
	return b.String()
}

func renderOSPFPeerBrief(b *strings.Builder, s ospf.Snapshot, vrp5 bool) {
	type row struct{ area, ifname, nbr, state string }
	var rows []row
	full := 0
	for _, a := range s.Areas {
		for _, i := range a.Interfaces {
			for _, n := range i.Neighbors {
				name := s.DisplayName(i.Name)
				if !vrp5 {
					name = ospfShortIf(name)
				}
				rows = append(rows, row{a.ID.String(), name, n.RouterID.String(), ospfNbrState(n.State)})
				if n.State == core.NbrFull {
					full++
				}
			}
		}
	}
	if vrp5 {
		rule := " " + strings.Repeat("-", 76) + "\n"
		b.WriteString("                  Peer Statistic Information\n")
		b.WriteString(rule)
		b.WriteString(" " + ospfPad("Area Id", 17) + ospfPad("Interface", 33) + ospfPad("Neighbor id", 17) + "State\n")
		for _, r := range rows {
			b.WriteString(" " + ospfPad(r.area, 17) + ospfPad(r.ifname, 33) + ospfPad(r.nbr, 17) + r.state + "\n")
		}
		b.WriteString(rule)
		return
	}
	rule := strings.Repeat("-", 73) + "\n"
	b.WriteString("                   Peer Statistic Informations\n\n")
	fmt.Fprintf(b, "  Total number of peer(s): %d\n", len(rows))
	fmt.Fprintf(b, "  Peer(s) in full state: %d\n\n", full)
	b.WriteString(rule)
	b.WriteString(" " + ospfPad("Area Id", 16) + ospfPad("Interface", 15) + ospfPad("Neighbor id", 17) + "State\n")
	for _, r := range rows {
		b.WriteString(" " + ospfPad(r.area, 16) + ospfPad(r.ifname, 15) + ospfPad(r.nbr, 17) + r.state + "\n")
	}
	b.WriteString(rule)
}

func renderOSPFPeerVerbose(b *strings.Builder, s ospf.Snapshot) {
	b.WriteString("                  Neighbors\n")
	for _, a := range s.Areas {
		for _, i := range a.Interfaces {
			if len(i.Neighbors) == 0 {
				continue
			}
			fmt.Fprintf(b, "\n Area %s interface %s(%s)'s neighbors\n", a.ID, i.Prefix.Addr(), ospfShortIf(s.DisplayName(i.Name)))
			for _, n := range i.Neighbors {
				mode := "Nbr is Slave"
				if n.Master {
					mode = "Nbr is Master"
				}
				fmt.Fprintf(b, " Router ID: %s Address: %s\n", ospfPad(n.RouterID.String(), 17), n.Addr)
				fmt.Fprintf(b, "   State: %s  Mode:%s  Priority: %d\n", ospfNbrState(n.State), mode, n.Priority)
				fmt.Fprintf(b, "   DR: %s  BDR: %s  MTU: %d\n", ospfAddr(n.DR), ospfAddr(n.BDR), i.MTU)
				fmt.Fprintf(b, "   Dead timer due in %d sec\n", int((n.DeadIn+time.Second-1)/time.Second))
				fmt.Fprintf(b, "   Retrans timer interval: %d\n", i.RetransmitInterval)
				if !n.FullSince.IsZero() {
					fmt.Fprintf(b, "   Neighbor is up for %s\n", ospfDuration(s.Now.Sub(n.FullSince)))
					fmt.Fprintf(b, "   Neighbor Up Time : %s\n", n.FullSince.In(s.Now.Location()).Format("2006-01-02 15:04:05"))
				}
				b.WriteString("   Authentication Sequence: [ 0 ]\n")
			}
		}
	}
}

// ospfIfType is the Type column of `display ospf interface`.
func ospfIfType(i ospf.InterfaceSnapshot) string {
	if i.Loopback || i.Type == core.PointToPoint {
		return "P2P"
	}
	return "Broadcast"
}

// ospfIfState is the State column: VRP runs loopbacks as point-to-point
// interfaces.
func ospfIfState(i ospf.InterfaceSnapshot) string {
	if i.State == core.IfLoopback {
		return core.IfPointToPoint.String()
	}
	return i.State.String()
}

// RenderOSPFInterface prints `display ospf [PROCESS] interface`.
func RenderOSPFInterface(snaps []ospf.Snapshot) string {
	var b strings.Builder
	for k, s := range snaps {
		if k > 0 {
			b.WriteString("\n")
		}
		b.WriteString(ospfTitle(s))
		b.WriteString("                  Interfaces\n")
		for _, a := range s.Areas {
			fmt.Fprintf(&b, "\n Area: %s (MPLS TE not enabled)\n", ospfPad(a.ID.String(), 15))
			b.WriteString(" " + ospfPad("IP Address", 16) + ospfPad("Type", 13) + ospfPad("State", 9) + ospfPad("Cost", 8) + ospfPad("Pri", 6) + ospfPad("DR", 16) + "BDR\n")
			for _, i := range a.Interfaces {
				line := " " + ospfPad(i.Prefix.Addr().String(), 16) + ospfPad(ospfIfType(i), 13) + ospfPad(ospfIfState(i), 9) +
					ospfPad(strconv.Itoa(int(i.Cost)), 8) + ospfPad(strconv.Itoa(int(i.Priority)), 6) + ospfPad(ospfAddr(i.DR), 16) + ospfAddr(i.BDR)
				b.WriteString(line + "\n")
			}
		}
	}
	return b.String()
}

// LSDB filters of `display ospf lsdb`.
var ospfLSDBKinds = map[string][]packet.LSAType{
	"router":  {packet.LSARouter},
	"network": {packet.LSANetwork},
	"summary": {packet.LSASummary},
	"asbr":    {packet.LSAASBRSummary},
	"ase":     {packet.LSAExternal},
}

// RenderOSPFLSDB prints `display ospf [PROCESS] lsdb [router | network |
// summary | asbr | ase]`: the table of every LSA without a kind, the LSAs
// of one kind in detail with it.
func RenderOSPFLSDB(snaps []ospf.Snapshot, kind string) string {
	var b strings.Builder
	for k, s := range snaps {
		if k > 0 {
			b.WriteString("\n")
		}
		b.WriteString(ospfTitle(s))
		if kind == "" {
			renderOSPFLSDBTable(&b, s)
		} else {
			renderOSPFLSDBDetail(&b, s, ospfLSDBKinds[kind])
		}
	}
	return b.String()
}

const ospfLSDBHeader = " Type      LinkState ID    AdvRouter          Age  Len   Sequence   Metric\n"

func ospfLSDBRow(l ospf.LSASnapshot) string {
	return " " + ospfPad(l.Type.String(), 10) + ospfPad(l.ID.String(), 16) + ospfPad(l.AdvRouter.String(), 16) +
		fmt.Sprintf("%5d  %-6d%08x %8d\n", l.Age, l.Length, uint32(l.Seq), l.Metric())
}

// lsdbOrder sorts as VRP lists: by type, then link state ID, then
// advertising router.
func lsdbOrder(ls []ospf.LSASnapshot) []ospf.LSASnapshot {
	out := slices.Clone(ls)
	slices.SortStableFunc(out, func(a, b ospf.LSASnapshot) int {
		if a.Type != b.Type {
			return int(a.Type) - int(b.Type)
		}
		if a.ID != b.ID {
			if a.ID < b.ID {
				return -1
			}
			return 1
		}
		if a.AdvRouter < b.AdvRouter {
			return -1
		}
		if a.AdvRouter > b.AdvRouter {
			return 1
		}
		return 0
	})
	return out
}

func renderOSPFLSDBTable(b *strings.Builder, s ospf.Snapshot) {
	b.WriteString("                  Link State Database\n")
	for _, a := range s.Areas {
		fmt.Fprintf(b, "\n                          Area: %s\n", a.ID)
		b.WriteString(ospfLSDBHeader)
		for _, l := range lsdbOrder(a.LSAs) {
			b.WriteString(ospfLSDBRow(l))
		}
	}
	if len(s.External) > 0 {
		b.WriteString("\n                  AS External Database\n")
		b.WriteString(ospfLSDBHeader)
		for _, l := range lsdbOrder(s.External) {
			b.WriteString(ospfLSDBRow(l))
		}
	}
}

func ospfOptions(o packet.Options) string {
	var parts []string
	for _, f := range []struct {
		bit  packet.Options
		name string
	}{{packet.OptDC, "DC"}, {packet.OptEA, "EA"}, {packet.OptNP, "NP"}, {packet.OptMC, "MC"}, {packet.OptE, "E"}} {
		if o&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, " ")
}

func ospfRouterFlags(f uint8) string {
	var parts []string
	if f&packet.RouterB != 0 {
		parts = append(parts, "ABR")
	}
	if f&packet.RouterE != 0 {
		parts = append(parts, "ASBR")
	}
	if f&packet.RouterV != 0 {
		parts = append(parts, "VL")
	}
	return strings.Join(parts, " ")
}

func renderOSPFLSDBDetail(b *strings.Builder, s ospf.Snapshot, types []packet.LSAType) {
	ext := slices.Contains(types, packet.LSAExternal)
	write := func(l ospf.LSASnapshot) {
		if !slices.Contains(types, l.Type) {
			return
		}
		opts := ospfOptions(l.Options)
		fmt.Fprintf(b, "\n  Type      : %s\n", l.Type)
		fmt.Fprintf(b, "  Ls id     : %s\n", l.ID)
		fmt.Fprintf(b, "  Adv rtr   : %s\n", l.AdvRouter)
		fmt.Fprintf(b, "  Ls age    : %d\n", l.Age)
		fmt.Fprintf(b, "  Len       : %d\n", l.Length)
		switch body := l.Body.(type) {
		case *packet.RouterLSA:
			if f := ospfRouterFlags(body.Flags); f != "" {
				opts = strings.TrimSpace(f + "  " + opts)
			}
		}
		fmt.Fprintf(b, "  Options   :  %s\n", opts)
		fmt.Fprintf(b, "  seq#      : %08x\n", uint32(l.Seq))
		fmt.Fprintf(b, "  chksum    : 0x%x\n", l.Checksum)
		switch body := l.Body.(type) {
		case *packet.RouterLSA:
			fmt.Fprintf(b, "  Link count: %d\n", len(body.Links))
			for _, link := range body.Links {
				fmt.Fprintf(b, "   * Link ID: %s\n", link.ID)
				fmt.Fprintf(b, "     Data   : %s\n", link.Data)
				fmt.Fprintf(b, "     Link Type: %s\n", link.Type)
				fmt.Fprintf(b, "     Metric : %d\n", link.Metric)
			}
		case *packet.NetworkLSA:
			fmt.Fprintf(b, "  Net mask  : %s\n", body.Mask)
			for _, r := range body.Routers {
				fmt.Fprintf(b, "     Attached Router    %s\n", r)
			}
		case *packet.SummaryLSA:
			fmt.Fprintf(b, "  Net mask  : %s\n", body.Mask)
			fmt.Fprintf(b, "  Tos 0  metric: %d\n", body.Metric)
		case *packet.ExternalLSA:
			etype := 1
			if body.Type2 {
				etype = 2
			}
			fmt.Fprintf(b, "  Net mask  : %s\n", body.Mask)
			fmt.Fprintf(b, "  TOS 0  Metric: %d\n", body.Metric)
			fmt.Fprintf(b, "  E type    : %d\n", etype)
			fmt.Fprintf(b, "  Forwarding Address : %s\n", body.Forward)
			fmt.Fprintf(b, "  Tag       : %d\n", body.Tag)
		}
	}
	if ext {
		b.WriteString("                  Link State Database\n")
		for _, l := range lsdbOrder(s.External) {
			write(l)
		}
		return
	}
	for _, a := range s.Areas {
		fmt.Fprintf(b, "                          Area: %s\n", a.ID)
		b.WriteString("                  Link State Database\n")
		for _, l := range lsdbOrder(a.LSAs) {
			write(l)
		}
		b.WriteString("\n")
	}
}

// ospfRouteType is the Type column of `display ospf routing`.
func ospfRouteType(r ospf.Route) string {
	switch r.Type {
	case core.IntraArea:
		if r.Transit {
			return "Transit"
		}
		return "Stub"
	case core.InterArea:
		return "Inter-area"
	case core.External1:
		return "Type1"
	}
	return "Type2"
}

// ospfNextHop is the NextHop column: the gateway, or for an attached
// network this router's address on it.
func ospfNextHop(s ospf.Snapshot, nh ospf.NextHop) string {
	if nh.Gateway.IsValid() {
		return nh.Gateway.String()
	}
	for _, a := range s.Areas {
		for _, i := range a.Interfaces {
			if i.Name == nh.Iface {
				return i.Prefix.Addr().String()
			}
		}
	}
	return "0.0.0.0"
}

// RenderOSPFRouting prints `display ospf [PROCESS] routing`: one row per
// next hop.
func RenderOSPFRouting(snaps []ospf.Snapshot) string {
	var b strings.Builder
	for k, s := range snaps {
		if k > 0 {
			b.WriteString("\n")
		}
		b.WriteString(ospfTitle(s))
		b.WriteString("                   Routing Tables\n\n")
		b.WriteString(" Routing for Network\n")
		b.WriteString(" " + ospfPad("Destination", 19) + ospfPad("Cost", 6) + ospfPad("Type", 11) + ospfPad("NextHop", 16) + ospfPad("AdvRouter", 16) + "Area\n")
		var intra, inter, ase int
		var ext []ospf.Route
		for _, r := range s.Routes {
			switch r.Type {
			case core.IntraArea:
				intra++
			case core.InterArea:
				inter++
			default:
				ase++
				ext = append(ext, r)
				continue
			}
			for _, nh := range r.NextHops {
				b.WriteString(" " + ospfPad(r.Prefix.String(), 19) + ospfPad(strconv.Itoa(int(r.Cost)), 6) + ospfPad(ospfRouteType(r), 11) +
					ospfPad(ospfNextHop(s, nh), 16) + ospfPad(r.AdvRouter.String(), 16) + r.Area.String() + "\n")
			}
		}
		if len(ext) > 0 {
			b.WriteString("\n Routing for ASEs\n")
			b.WriteString(" " + ospfPad("Destination", 19) + ospfPad("Cost", 10) + ospfPad("Type", 11) + ospfPad("Tag", 12) + ospfPad("NextHop", 16) + "AdvRouter\n")
			for _, r := range ext {
				for _, nh := range r.NextHops {
					b.WriteString(" " + ospfPad(r.Prefix.String(), 19) + ospfPad(strconv.Itoa(int(r.Cost)), 10) + ospfPad(ospfRouteType(r), 11) +
						ospfPad(strconv.Itoa(int(r.Tag)), 12) + ospfPad(ospfNextHop(s, nh), 16) + r.AdvRouter.String() + "\n")
				}
			}
		}
		fmt.Fprintf(&b, "\n Total Nets: %d\n", len(s.Routes))
		fmt.Fprintf(&b, " Intra Area: %d  Inter Area: %d  ASE: %d  NSSA: 0\n", intra, inter, ase)
	}
	return b.String()
}

// RenderOSPFBrief prints `display ospf [PROCESS] brief`.
func RenderOSPFBrief(snaps []ospf.Snapshot) string {
	var b strings.Builder
	for k, s := range snaps {
		if k > 0 {
			b.WriteString("\n")
		}
		b.WriteString(ospfTitle(s))
		b.WriteString("                  OSPF Protocol Information\n\n")
		border := ""
		switch {
		case s.ABR && s.ASBR:
			border = "AREA AS"
		case s.ABR:
			border = "AREA"
		case s.ASBR:
			border = "AS"
		}
		fmt.Fprintf(&b, " RouterID: %s Border Router: %s\n", ospfPad(ospfAddr(s.RouterID), 16), border)
		if s.VPNInstance != "" {
			fmt.Fprintf(&b, " VPN-Instance: %s\n", s.VPNInstance)
		}
		b.WriteString(" Multi-VPN-Instance is not enabled\n")
		b.WriteString(" Graceful-restart capability: disabled\n")
		fmt.Fprintf(&b, " Spf-schedule-interval: hold %dms\n", s.SPFHold.Milliseconds())
		fmt.Fprintf(&b, " Lsa-originate-interval: %dms  Lsa-arrival-interval: %dms\n", s.MinLSInterval.Milliseconds(), s.MinLSArrival.Milliseconds())
		b.WriteString(" Default ASE parameters: Metric: 1 Tag: 1 Type: 2\n")
		b.WriteString(" Route Preference: 10\n")
		b.WriteString(" ASE Route Preference: 150\n")
		fmt.Fprintf(&b, " SPF Computation Count: %d\n", s.SPFRuns)
		b.WriteString(" RFC 1583 Compatible\n")
		fmt.Fprintf(&b, " Bandwidth reference: %d Mbps\n", s.BandwidthReference)
		if len(s.Imports) > 0 {
			var ims []string
			for _, im := range s.Imports {
				ims = append(ims, im.Protocol)
			}
			fmt.Fprintf(&b, " Import routes: %s\n", strings.Join(ims, " "))
		}
		exchanging, up := 0, 0
		for _, a := range s.Areas {
			for _, i := range a.Interfaces {
				if i.State != core.IfDown {
					up++
				}
				for _, n := range i.Neighbors {
					if n.State == core.NbrExchange || n.State == core.NbrLoading {
						exchanging++
					}
				}
			}
		}
		stubs := 0
		for _, a := range s.Areas {
			if a.Stub {
				stubs++
			}
		}
		fmt.Fprintf(&b, " Area Count: %d   Stub Area Count: %d   Nssa Area Count: 0\n", len(s.Areas), stubs)
		fmt.Fprintf(&b, " ExChange/Loading Neighbors: %d\n", exchanging)
		fmt.Fprintf(&b, " Process total up interface count: %d\n", up)
		for _, a := range s.Areas {
			flag := "Normal"
			switch {
			case a.Stub && a.NoSummary:
				flag = "Stub (no summary)"
			case a.Stub:
				flag = "Stub"
			}
			areaUp := 0
			for _, i := range a.Interfaces {
				if i.State != core.IfDown {
					areaUp++
				}
			}
			fmt.Fprintf(&b, "\n Area: %s (MPLS TE not enabled)\n", ospfPad(a.ID.String(), 15))
			fmt.Fprintf(&b, " Authtype: None   Area flag: %s\n", flag)
			fmt.Fprintf(&b, " SPF scheduled Count: %d\n", a.SPFRuns)
			fmt.Fprintf(&b, " Area interface up count: %d\n", areaUp)
			for _, i := range a.Interfaces {
				fmt.Fprintf(&b, "\n Interface: %s (%s)\n", i.Prefix.Addr(), s.DisplayName(i.Name))
				fmt.Fprintf(&b, " Cost: %s State: %s Type: %s MTU: %d\n", ospfPad(strconv.Itoa(int(i.Cost)), 7), ospfPad(ospfIfState(i), 10), ospfPad(ospfIfType(i), 12), i.MTU)
				if i.Type == core.Broadcast && !i.Loopback {
					fmt.Fprintf(&b, " Priority: %d\n", i.Priority)
					fmt.Fprintf(&b, " Designated Router: %s\n", ospfAddr(i.DR))
					fmt.Fprintf(&b, " Backup Designated Router: %s\n", ospfAddr(i.BDR))
				}
				fmt.Fprintf(&b, " Timers: Hello %d , Dead %d , Poll  120 , Retransmit %d , Transmit Delay %d\n",
					i.HelloInterval, i.DeadInterval, i.RetransmitInterval, i.TransDelay)
				if i.Passive {
					b.WriteString(" Silent interface: Yes\n")
				}
			}
		}
	}
	return b.String()
}
