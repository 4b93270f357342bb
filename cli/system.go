package cli

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"vpnos/services/iface"
)

// VRPVersion is the VRP version string the CLI shows (display version,
// the first line of display current-configuration).
const VRPVersion = "V100R001C00"

// SystemInfo is what display version shows; the daemon fills it in.
type SystemInfo struct {
	Started  time.Time
	Version  string // the vpnos release
	Revision string // the source revision it was built from
	Kernel   string
	// Platform is one line per host capability (MPLS, VRF, namespaces...).
	Platform []string
	Backend  string // forwarding backend in use
}

// RenderVersion renders `display version`.
func RenderVersion(sysname string, si SystemInfo, now time.Time) string {
	up := now.Sub(si.Started)
	days := int(up.Hours()) / 24
	hours := int(up.Hours()) % 24
	mins := int(up.Minutes()) % 60
	var b strings.Builder
	b.WriteString("vpnos Versatile Routing Platform Software\n")
	fmt.Fprintf(&b, "VRP (R) software, Version 8.200 (vpnos %s)\n", VRPVersion)
	fmt.Fprintf(&b, "Build: vpnos %s, revision %s, %s\n", si.Version, si.Revision, runtime.Version())
	fmt.Fprintf(&b, "vpnos %s uptime is %d days, %d hours, %d minutes\n", sysname, days, hours, mins)
	b.WriteString("- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -\n")
	b.WriteString("Host platform:\n")
	fmt.Fprintf(&b, "  Kernel          : %s\n", si.Kernel)
	for _, l := range si.Platform {
		b.WriteString("  " + l + "\n")
	}
	fmt.Fprintf(&b, "  Forwarding      : %s\n", si.Backend)
	return b.String()
}

// InterfaceRow is one row of display interface brief.
type InterfaceRow struct {
	Name      string
	AdminDown bool
	PhyUp     bool
	ProtoUp   bool
	Spoofing  bool // LoopBack, NULL: protocol up(s)
	InErrors  uint64
	OutErrors uint64
}

// PortRows turns discovered data ports into interface rows (management port excluded).
func PortRows(ports []iface.Port) []InterfaceRow {
	var rows []InterfaceRow
	for _, p := range ports {
		if p.Mgmt {
			continue
		}
		rows = append(rows, InterfaceRow{Name: p.Name, AdminDown: !p.AdminUp, PhyUp: p.OperUp, ProtoUp: p.OperUp})
	}
	return rows
}

const interfaceLegend = `PHY: Physical
*down: administratively down
^down: standby
(l): loopback
(s): spoofing
(E): E-Trunk down
(b): BFD down
(B): Bit-error-detection down
(e): ETHOAM down
(d): Dampening Suppressed
(p): port alarm down
(ld): loop-detect trigger down
(mf): mac-flapping blocked
(c): CFM down
(sd): STP instance discarding
InUti/OutUti: input utility/output utility
`

// RenderInterfaceBrief renders `display interface brief`.
func RenderInterfaceBrief(rows []InterfaceRow) string {
	var b strings.Builder
	b.WriteString(interfaceLegend)
	b.WriteString("Interface                   PHY   Protocol  InUti OutUti   inErrors  outErrors\n")
	for _, r := range rows {
		phy := "up"
		if !r.PhyUp {
			phy = "down"
		}
		proto := "up"
		if !r.ProtoUp {
			proto = "down"
		}
		if r.Spoofing && r.ProtoUp {
			proto = "up(s)"
		}
		// "*down" starts one column left of the PHY column.
		name := fmt.Sprintf("%-28s", r.Name)
		if r.AdminDown {
			name = fmt.Sprintf("%-27s*", r.Name)
		}
		fmt.Fprintf(&b, "%s%-6s%-9s%6s%8s%10d%11d\n", name, phy, proto, "0%", "0%", r.InErrors, r.OutErrors)
	}
	return b.String()
}
