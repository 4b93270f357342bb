package ops

// The VRP layouts of the RIB's snapshots: display ip routing-table, display
// mpls static-lsp, display mpls lsp.

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/rib"
)

// tableOptions select the form of `display ip routing-table`.
type tableOptions struct {
	Verbose bool
	// VRP5 selects the VRP5 layout (title `Routing Tables: Public`, legend R
	// and D only, wider columns); the default is VRP8's.
	VRP5 bool
}

const (
	dashes78 = "------------------------------------------------------------------------------"
	dashes79 = "-------------------------------------------------------------------------------"
)

// pad left-aligns s in w columns, always leaving at least one space.
func pad(s string, w int) string {
	if len(s) >= w {
		return s + " "
	}
	return s + strings.Repeat(" ", w-len(s))
}

func addrOrZero(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// renderRoutingTable prints `display ip routing-table [vpn-instance NAME]
// [verbose]` from a snapshot. Without Verbose only active routes are shown
// (one row per next hop; an equal-cost path adds a row with a blank
// destination); with Verbose every route, active or not, gets a block.
func renderRoutingTable(s rib.Snapshot, o tableOptions) string {
	var b strings.Builder
	if o.VRP5 {
		b.WriteString("Route Flags: R - relay, D - download to fib\n")
	} else {
		b.WriteString("Route Flags: R - relay, D - download to fib, T - to vpn-instance, B - black hole route\n")
	}
	b.WriteString(dashes78 + "\n")
	name := s.Instance
	if o.VRP5 {
		if name == fibapi.Public {
			name = "Public"
		}
		fmt.Fprintf(&b, "Routing Tables: %s\n", name)
	} else {
		fmt.Fprintf(&b, "Routing Table: %s\n", name)
	}
	rows := s.Routes
	if !o.Verbose {
		rows = s.Filter(func(e rib.RouteEntry) bool { return e.Active }).Routes
	}
	dests, routes := rib.Snapshot{Routes: rows}.Counts(false)
	fmt.Fprintf(&b, "         Destinations : %s Routes : %d\n\n", pad(fmt.Sprint(dests), 8), routes)
	if o.Verbose {
		renderVerbose(&b, rows)
		return b.String()
	}
	writeRouteRows(&b, rows, o.VRP5)
	return b.String()
}

// writeRouteRows writes the column titles and one row per route entry (a
// second next hop of a prefix leaves Destination/Mask blank).
func writeRouteRows(b *strings.Builder, rows []rib.RouteEntry, vrp5 bool) {
	if vrp5 {
		b.WriteString("Destination/Mask    Proto   Pre  Cost      Flags NextHop         Interface\n\n")
	} else {
		b.WriteString("Destination/Mask    Proto  Pre  Cost     Flags NextHop         Interface\n\n")
	}
	var last netip.Prefix
	for i, e := range rows {
		dest := ""
		if i == 0 || e.Prefix != last {
			dest = e.Prefix.String()
		}
		last = e.Prefix
		var line string
		if vrp5 {
			line = pad(fmt.Sprintf("%17s", dest), 20) + pad(e.Protocol.String(), 8) + pad(fmt.Sprint(e.Preference), 5) +
				pad(fmt.Sprint(e.Cost), 10) + fmt.Sprintf("%3s", e.Flags()) + "   " + pad(addrOrZero(e.NextHop), 16) + e.Interface
		} else {
			line = pad(fmt.Sprintf("%16s", dest), 20) + pad(e.Protocol.String(), 7) + pad(fmt.Sprint(e.Preference), 5) +
				pad(fmt.Sprint(e.Cost), 9) + pad(e.Flags(), 6) + pad(addrOrZero(e.NextHop), 16) + e.Interface
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

// formatAge prints a route age as VRP does: 00h05m12s, or 3d04h05m past a day.
func formatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	if s < 86400 {
		return fmt.Sprintf("%02dh%02dm%02ds", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%dd%02dh%02dm", s/86400, s/3600%24, s/60%60)
}

func labelList(ls []uint32) string {
	if len(ls) == 0 {
		return "NULL"
	}
	var parts []string
	for _, l := range ls {
		parts = append(parts, fmt.Sprint(l))
	}
	return strings.Join(parts, " ")
}

func routeState(e rib.RouteEntry) string {
	var s string
	switch {
	case !e.Valid:
		s = "Invalid"
	case e.Active:
		s = "Active"
	default:
		s = "Inactive"
	}
	if e.Local {
		s += " NoAdv"
	} else {
		s += " Adv"
	}
	if e.Relay && e.Valid {
		s += " Relied"
	}
	return s
}

func priority(p rib.Protocol) string {
	switch p {
	case rib.Direct:
		return "high"
	case rib.IBGP, rib.EBGP:
		return "low"
	}
	return "medium"
}

func renderVerbose(b *strings.Builder, rows []rib.RouteEntry) {
	kv := func(k1, v1, k2, v2 string) {
		line := fmt.Sprintf("%13s: %s%10s: %s", k1, pad(v1, 19), k2, v2)
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	for _, e := range rows {
		fmt.Fprintf(b, "Destination: %s\n", e.Prefix)
		kv("Protocol", e.Protocol.String(), "Process ID", "0")
		kv("Preference", fmt.Sprint(e.Preference), "Cost", fmt.Sprint(e.Cost))
		neighbour := "0.0.0.0"
		if e.Protocol == rib.IBGP || e.Protocol == rib.EBGP {
			neighbour = addrOrZero(e.NextHop)
		}
		kv("NextHop", addrOrZero(e.NextHop), "Neighbour", neighbour)
		kv("State", routeState(e), "Age", formatAge(e.Age))
		kv("Tag", fmt.Sprint(e.Tag), "Priority", priority(e.Protocol))
		kv("Label", labelList(e.Labels), "QoSInfo", "0x0")
		kv("IndirectID", "0x0", "Instance", "")
		kv("RelayNextHop", addrOrZero(e.RelayNextHop), "Interface", e.Interface)
		tunnel := "0x0"
		if e.TunnelName != "" {
			tunnel = tunnelName(e.TunnelOwner, e.TunnelName)
		}
		kv("TunnelID", tunnel, "Flags", e.Flags())
		b.WriteString("\n")
	}
}

// tunnelName names an LSP in the TunnelID field ("static-lsp NAME").
func tunnelName(owner, name string) string {
	if owner == rib.OwnerStatic {
		return "static-lsp " + name
	}
	return owner + " " + name
}

// compactIfName shortens an interface name the way compact VRP tables do
// (GigabitEthernet0/3/0 -> GE0/3/0, LoopBack0 -> Loop0).
func compactIfName(s string) string {
	for _, p := range [...][2]string{
		{"GigabitEthernet", "GE"}, {"InLoopBack", "InLoop"}, {"LoopBack", "Loop"}, {"Ethernet", "Eth"},
	} {
		if rest, ok := strings.CutPrefix(s, p[0]); ok {
			return p[1] + rest
		}
	}
	return s
}

func dashIf(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// staticLSP is a static LSP as its displays show it.
type staticLSP struct {
	Name                      string
	Role                      rib.LSPRole
	FEC                       netip.Prefix
	InLabel, OutLabel         uint32
	NextHop                   netip.Addr
	InInterface, OutInterface string // "" for none
	Up                        bool
}

// staticLSPs turns the RIB's static LSPs into what the displays show: the
// outgoing interface is the configured one, else the one of the connected
// subnet of the next hop.
func staticLSPs(all []rib.LSPStatus) []staticLSP {
	var out []staticLSP
	for _, l := range all {
		if l.Owner != rib.OwnerStatic {
			continue
		}
		s := staticLSP{Name: l.Name, Role: l.Role, FEC: l.FEC, InLabel: l.InLabel, InInterface: l.InInterface, Up: l.Up}
		if len(l.Out) > 0 {
			s.OutLabel, s.NextHop, s.OutInterface = l.Out[0].Label, l.Out[0].Gateway, l.OutInterface
		}
		out = append(out, s)
	}
	return out
}

func (l staticLSP) labels() (in, out string) {
	in, out = "NULL", "NULL"
	if l.Role != rib.Ingress {
		in = fmt.Sprint(l.InLabel)
	}
	if l.Role != rib.Egress {
		out = fmt.Sprint(l.OutLabel)
	}
	return in, out
}

func (l staticLSP) fec() string {
	if l.Role == rib.Ingress {
		return l.FEC.String()
	}
	return "-/-"
}

func upDown(up bool) string {
	if up {
		return "Up"
	}
	return "Down"
}

// renderStaticLSPs prints `display mpls static-lsp [NAME] [verbose]`.
func renderStaticLSPs(lsps []staticLSP, verbose bool) string {
	var b strings.Builder
	up := 0
	for _, l := range lsps {
		if l.Up {
			up++
		}
	}
	fmt.Fprintf(&b, "TOTAL          : %s STATIC LSP(S)\n", pad(fmt.Sprint(len(lsps)), 14))
	fmt.Fprintf(&b, "UP             : %s STATIC LSP(S)\n", pad(fmt.Sprint(up), 14))
	fmt.Fprintf(&b, "DOWN           : %s STATIC LSP(S)\n", pad(fmt.Sprint(len(lsps)-up), 14))
	if verbose {
		for i, l := range lsps {
			in, out := l.labels()
			nh := "-"
			if l.NextHop.IsValid() {
				nh = l.NextHop.String()
			}
			field := func(k, v string) { fmt.Fprintf(&b, " %s:  %s\n", pad(k, 20)[:20], v) }
			field("No", fmt.Sprint(i+1))
			field("LSP-Name", l.Name)
			field("LSR-Type", l.Role.String())
			field("FEC", l.fec())
			field("In-Label", in)
			field("Out-Label", out)
			field("In-Interface", dashIf(l.InInterface))
			field("Out-Interface", dashIf(l.OutInterface))
			field("NextHop", nh)
			field("Static-Lsp Type", "Normal")
			field("Lsp Status", upDown(l.Up))
			b.WriteString("\n")
		}
		return b.String()
	}
	// Wide enough for a transit LSP between two ports with full names
	// (GigabitEthernet0/1/0/GigabitEthernet0/3/0) and two 20-bit labels.
	fmt.Fprintf(&b, "%s%s%s%s%s\n", pad("Name", 20), pad("FEC", 19), pad("I/O Label", 17), pad("I/O If", 44), "Status")
	for _, l := range lsps {
		in, out := l.labels()
		fmt.Fprintf(&b, "%s%s%s%s%s\n", pad(l.Name, 20), pad(l.fec(), 19), pad(in+"/"+out, 17),
			pad(dashIf(l.InInterface)+"/"+dashIf(l.OutInterface), 44), upDown(l.Up))
	}
	return b.String()
}

// lspRow is one row of `display mpls lsp`.
type lspRow struct {
	FEC            string // "10.255.0.3/32", or "-/-"
	InLabel        string // "NULL", "3", "48061"
	OutLabel       string
	InIf, OutIf    string // compact names, "-" for none
	VRF            string
	NotEstablished bool // printed with a leading '*'
	// For verbose: the next hop ("" none), the router's role ("Ingress",
	// "Transit", "Egress") and the label operation ("PUSH", "SWAP", "POP").
	NextHop, LSRType, Operation string
	InIfName, OutIfName         string // full interface names, "" for none
}

// lspSection is one `LSP Information: <Title>` part of `display mpls lsp`
// (Title "LDP LSP", "STATIC LSP", "BGP LSP").
type lspSection struct {
	Title string
	Rows  []lspRow
}

// sectionTitle is the section an owner's LSPs are listed in.
func sectionTitle(owner string) string {
	switch owner {
	case rib.OwnerStatic:
		return "STATIC LSP"
	case rib.OwnerLDP:
		return "LDP LSP"
	case rib.OwnerBGP, rib.OwnerVPNInstance:
		return "BGP LSP"
	}
	return strings.ToUpper(owner) + " LSP"
}

// lspSections turns the RIB's LSPs into the sections of `display mpls lsp`,
// LDP first, then static, then BGP (VPN labels), as VRP lists them. Only
// LSPs that are up are listed (VRP lists established LSPs); an LSP with
// several next hops (ECMP) gives a row per next hop.
func lspSections(all []rib.LSPStatus) []lspSection {
	order := []string{"LDP LSP", "STATIC LSP", "BGP LSP"}
	rows := map[string][]lspRow{}
	for _, l := range all {
		if !l.Up {
			continue
		}
		title := sectionTitle(l.Owner)
		if !slicesContains(order, title) {
			order = append(order, title)
		}
		base := lspRow{FEC: "-/-", InLabel: "NULL", OutLabel: "NULL", InIf: "-", OutIf: "-",
			LSRType: l.Role.String(), InIfName: l.InInterface}
		if l.FEC.IsValid() && (l.Role == rib.Ingress || l.Owner != rib.OwnerStatic) {
			base.FEC = l.FEC.String()
		}
		if l.Role != rib.Ingress {
			base.InLabel = fmt.Sprint(l.InLabel)
		}
		base.InIf = dashIf(compactIfName(l.InInterface))
		if l.Instance != fibapi.Public {
			base.VRF = l.Instance
		}
		switch {
		case l.Role == rib.Ingress:
			base.Operation = "PUSH"
		case l.Role == rib.Egress:
			base.Operation = "POP"
		default:
			base.Operation = "SWAP"
		}
		if len(l.Hops) == 0 {
			rows[title] = append(rows[title], base)
			continue
		}
		for _, h := range l.Hops {
			row := base
			row.OutIf, row.OutIfName = dashIf(compactIfName(h.Interface)), h.Interface
			if h.Gateway.IsValid() {
				row.NextHop = h.Gateway.String()
			}
			// The label this router puts on: the innermost one it pushes
			// or swaps to; none for implicit null (a pop).
			if n := len(h.Labels); n > 0 && l.Role != rib.Egress {
				row.OutLabel = fmt.Sprint(h.Labels[n-1])
			} else if l.Role != rib.Egress {
				row.OutLabel = "3"
				if l.Role == rib.Transit {
					row.Operation = "POP"
				}
			}
			rows[title] = append(rows[title], row)
		}
	}
	var out []lspSection
	for _, t := range order {
		if len(rows[t]) > 0 {
			out = append(out, lspSection{Title: t, Rows: rows[t]})
		}
	}
	return out
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// only keeps the rows of the section whose FEC is p (`display mpls lsp
// include IP LEN`).
func (s lspSection) only(p netip.Prefix) lspSection {
	out := lspSection{Title: s.Title}
	for _, r := range s.Rows {
		if r.FEC == p.Masked().String() {
			out.Rows = append(out.Rows, r)
		}
	}
	return out
}

// lspSectionTitle writes the title lines of a `display mpls lsp` section.
func lspSectionTitle(b *strings.Builder, title string) {
	b.WriteString(dashes79 + "\n")
	fmt.Fprintf(b, "                 LSP Information: %s\n", title)
	b.WriteString(dashes79 + "\n")
}

// renderMPLSLSPVerbose prints `display mpls lsp verbose`: each LSP of each
// section as a block of fields, numbered within its section.
func renderMPLSLSPVerbose(sections ...lspSection) string {
	var b strings.Builder
	for _, s := range sections {
		if len(s.Rows) == 0 {
			continue
		}
		lspSectionTitle(&b, s.Title)
		for i, r := range s.Rows {
			field := func(k, v string) {
				if v == "" {
					v = "-"
				}
				fmt.Fprintf(&b, "  %s:  %s\n", pad(k, 20), v)
			}
			b.WriteString("\n")
			field("No", fmt.Sprint(i+1))
			field("VrfIndex", r.VRF)
			field("Fec", r.FEC)
			field("Nexthop", r.NextHop)
			field("In-Label", r.InLabel)
			field("Out-Label", r.OutLabel)
			field("In-Interface", r.InIfName)
			field("Out-Interface", r.OutIfName)
			field("LsrType", r.LSRType)
			field("Label Operation", r.Operation)
		}
	}
	return b.String()
}

// renderMPLSLSP prints `display mpls lsp` with the given sections in order
// (LDP first when it exists, then static). Sections without rows are left out.
func renderMPLSLSP(sections ...lspSection) string {
	var b strings.Builder
	b.WriteString("Flag after Out IF: (I) - RLFA Iterated LSP, (I*) - Normal and RLFA Iterated LSP\n")
	b.WriteString("Flag after LDP FRR: (L) - Logic FRR LSP\n")
	for _, s := range sections {
		if len(s.Rows) == 0 {
			continue
		}
		lspSectionTitle(&b, s.Title)
		b.WriteString("FEC                In/Out Label    In/Out IF                      Vrf Name\n")
		for _, r := range s.Rows {
			fec := r.FEC
			if r.NotEstablished {
				fec = "*" + fec
			}
			line := pad(fec, 19) + pad(r.InLabel+"/"+r.OutLabel, 16) + pad(r.InIf+"/"+r.OutIf, 31) + r.VRF
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	return b.String()
}
