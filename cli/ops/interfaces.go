package ops

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"vpnos/cli"
	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/services/vrf"
	"vpnos/yang/datastore"
)

// ifView is one interface as the interface displays print it.
type ifView struct {
	Name     string // VRP name
	Kernel   string // eth1 for ports
	Instance string // "" for public
	// Primary is the primary address; Subs the others.
	Primary     netip.Prefix
	Subs        []netip.Prefix
	Description string
	AdminDown   bool
	PhyUp       bool
	ProtoUp     bool // line protocol (ports: link up; LoopBack, NULL: always, spoofing)
	Spoofing    bool // LoopBack and NULL0
	Present     bool
	Null        bool
}

// interfaces lists every interface in display order: the ports, the
// LoopBacks, then NULL0.
func (o *ops) interfaces() []ifView {
	st := o.d.VRF.State()
	run := o.store.Running()
	var out []ifView
	for _, in := range st.Interfaces {
		out = append(out, viewOf(in, run))
	}
	out = append(out, ifView{Name: "NULL0", PhyUp: true, ProtoUp: true, Spoofing: true, Present: true, Null: true})
	slices.SortFunc(out, func(a, b ifView) int { return compareIfNames(a.Name, b.Name) })
	return out
}

func viewOf(in vrf.Interface, run *datastore.Tree) ifView {
	v := ifView{
		Name: in.Name, Kernel: in.Kernel, AdminDown: in.Shutdown, Present: in.Present,
		Spoofing: in.Loopback,
	}
	if in.Instance != fibapi.Public {
		v.Instance = in.Instance
	}
	base := datastore.P("interfaces", "interface", datastore.K(in.Name))
	v.Description, _ = run.Get(base.Child("description"))
	// The primary address is the one configured without "sub".
	for _, a := range in.Addresses {
		sub := run.Exists(base.Child("ipv4").Child("address", a.Addr().String()).Child("sub"))
		if !sub && !v.Primary.IsValid() {
			v.Primary = a
			continue
		}
		v.Subs = append(v.Subs, a)
	}
	if !v.Primary.IsValid() && len(v.Subs) > 0 {
		v.Primary, v.Subs = v.Subs[0], v.Subs[1:]
	}
	if in.Loopback {
		v.PhyUp = !in.Shutdown
		v.ProtoUp = v.PhyUp
	} else {
		v.PhyUp = in.Present && in.Up && !in.Shutdown
		v.ProtoUp = v.PhyUp
	}
	return v
}

// ifTypeRank orders interface types as VRP lists them.
func ifTypeRank(t string) int {
	switch t {
	case "MEth":
		return 0
	case "GigabitEthernet":
		return 1
	case "LoopBack":
		return 3
	case "NULL":
		return 4
	}
	return 2
}

// splitIfName splits "GigabitEthernet0/1/0.100" into its type and numbers.
func splitIfName(s string) (string, []int) {
	i := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return s, nil
	}
	var nums []int
	for _, f := range strings.FieldsFunc(s[i:], func(r rune) bool { return r == '/' || r == '.' || r == ':' }) {
		n, _ := strconv.Atoi(f)
		nums = append(nums, n)
	}
	return s[:i], nums
}

// compareIfNames orders by type, then numerically (GE0/2/0 before GE0/10/0).
func compareIfNames(a, b string) int {
	ta, na := splitIfName(a)
	tb, nb := splitIfName(b)
	if c := ifTypeRank(ta) - ifTypeRank(tb); c != 0 {
		return c
	}
	if c := strings.Compare(ta, tb); c != 0 {
		return c
	}
	if c := slices.Compare(na, nb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func (o *ops) interfaceCommands() []cli.Command {
	return []cli.Command{
		{
			Views:   "any",
			Syntax:  "display ip interface brief [{type:iftype} [{num:word}]]",
			Display: true,
			Help: map[string]string{
				"ip": "IP information", "interface": "IP information of interfaces",
				"brief": "Brief information of status and configuration", "num": "Interface number",
			},
			Run: func(_ context.Context, a *cli.Args) (string, error) {
				ifs := o.interfaces()
				if typ, ok := a.Value("type"); ok {
					num, one := a.Value("num")
					ifs = slices.DeleteFunc(ifs, func(v ifView) bool {
						return !cli.IsOfType(v.Name, typ) || one && v.Name != typ+num
					})
					if one && len(ifs) == 0 {
						return "", errNoInterface
					}
				}
				return renderIPInterfaceBrief(ifs, o.d.VRP5), nil
			},
		},
		{
			Views:   "any",
			Syntax:  "display interface [{name:interface}]",
			Display: true,
			Help: map[string]string{
				"interface": "Interface status and configuration", "name": "Interface type and number",
			},
			Run: o.runDisplayInterface,
		},
	}
}

const ipBriefLegend = `*down: administratively down
!down: FIB overload down
^down: standby
(l): loopback
(s): spoofing
(d): Dampening Suppressed
(E): E-Trunk down
`

// physical renders the Physical column: "*down" starts one column left.
func (v ifView) physical() string {
	switch {
	case v.AdminDown:
		return "*down"
	case v.PhyUp:
		return "up"
	}
	return "down"
}

func (v ifView) protocol() string {
	s := "down"
	if v.ProtoUp && (v.Primary.IsValid() || v.Spoofing) {
		s = "up"
	}
	if v.Spoofing && s == "up" {
		s += "(s)"
	}
	return s
}

// vpnCell shows the instance, "--" for none, truncated names end in "...".
func vpnCell(name string) string {
	const w = 15
	switch {
	case name == "":
		return "--"
	case len(name) > w:
		return name[:w-3] + "..."
	}
	return name
}

// renderIPInterfaceBrief prints `display ip interface brief` (reference
// §4.3). Protocol is up when the interface is up and has an address
// (LoopBack and NULL0: spoofing, always up unless shut down).
func renderIPInterfaceBrief(ifs []ifView, vrp5 bool) string {
	var b strings.Builder
	b.WriteString(ipBriefLegend)
	var phyUp, protoUp int
	for _, v := range ifs {
		if v.PhyUp {
			phyUp++
		}
		if strings.HasPrefix(v.protocol(), "up") {
			protoUp++
		}
	}
	fmt.Fprintf(&b, "The number of interface that is UP in Physical is %d\n", phyUp)
	fmt.Fprintf(&b, "The number of interface that is DOWN in Physical is %d\n", len(ifs)-phyUp)
	fmt.Fprintf(&b, "The number of interface that is UP in Protocol is %d\n", protoUp)
	fmt.Fprintf(&b, "The number of interface that is DOWN in Protocol is %d\n\n", len(ifs)-protoUp)
	nameW, addrW, phyW, protoW := 28, 19, 9, 9
	if vrp5 {
		nameW, addrW, phyW, protoW = 34, 21, 11, 0
		b.WriteString("Interface                         IP Address/Mask      Physical   Protocol\n")
	} else {
		b.WriteString("Interface                   IP Address/Mask    Physical Protocol VPN\n")
	}
	for _, v := range ifs {
		addr := "unassigned"
		if v.Primary.IsValid() {
			addr = v.Primary.String()
		}
		phy := v.physical()
		var line string
		if strings.HasPrefix(phy, "*") {
			line = pad(v.Name, nameW) + pad(addr, addrW-1) + pad(phy, phyW+1)
		} else {
			line = pad(v.Name, nameW) + pad(addr, addrW) + pad(phy, phyW)
		}
		if vrp5 {
			line += v.protocol()
		} else {
			line += pad(v.protocol(), protoW) + vpnCell(v.Instance)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return b.String()
}

func (o *ops) runDisplayInterface(_ context.Context, a *cli.Args) (string, error) {
	ifs := o.interfaces()
	if name, ok := a.Value("name"); ok {
		i := slices.IndexFunc(ifs, func(v ifView) bool { return v.Name == name })
		if i < 0 {
			return "", errNoInterface
		}
		ifs = ifs[i : i+1]
	}
	ports := map[string]iface.Port{}
	if o.d.Ports != nil {
		for _, p := range o.d.Ports.Ports() {
			ports[p.Kernel] = p
		}
	}
	var b strings.Builder
	for i, v := range ifs {
		if i > 0 {
			b.WriteString("\n")
		}
		p, hasPort := ports[v.Kernel]
		var c *PortCounters
		if o.d.Counters != nil && v.Kernel != "" {
			if pc, ok := o.d.Counters.Counters(v.Kernel); ok {
				c = &pc
			}
		}
		renderInterface(&b, v, p, hasPort, c)
	}
	return b.String(), nil
}

// macVRP prints a MAC address as VRP does (00e0-fc12-3456).
func macVRP(m []byte) string {
	if len(m) != 6 {
		return ""
	}
	return fmt.Sprintf("%02x%02x-%02x%02x-%02x%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// renderInterface prints one block of `display interface`.
func renderInterface(b *strings.Builder, v ifView, p iface.Port, hasPort bool, c *PortCounters) {
	state := "DOWN"
	switch {
	case v.AdminDown:
		state = "Administratively DOWN"
	case v.PhyUp:
		state = "UP"
	}
	proto := "DOWN"
	if v.ProtoUp {
		proto = "UP"
		if v.Spoofing {
			proto = "UP (spoofing)"
		}
	}
	fmt.Fprintf(b, "%s current state : %s\n", v.Name, state)
	fmt.Fprintf(b, "Line protocol current state : %s\n", proto)
	desc := v.Description
	if desc == "" {
		desc = "HUAWEI, " + v.Name + " Interface"
	}
	fmt.Fprintf(b, "Description: %s\n", desc)
	mtu := 1500
	if hasPort && p.MTU > 0 {
		mtu = p.MTU
	}
	if v.Spoofing {
		mtu = 1500
	}
	fmt.Fprintf(b, "Route Port,The Maximum Transmit Unit is %d\n", mtu)
	if !v.Primary.IsValid() {
		b.WriteString("Internet protocol processing : disabled\n")
	} else {
		fmt.Fprintf(b, "Internet Address is %s\n", v.Primary)
		for _, s := range v.Subs {
			fmt.Fprintf(b, "Internet Address is %s Sub\n", s)
		}
	}
	if hasPort {
		if mac := macVRP(p.MAC); mac != "" {
			fmt.Fprintf(b, "IP Sending Frames' Format is PKTFMT_ETHNT_2, Hardware address is %s\n", mac)
		}
	}
	if c != nil {
		b.WriteString("Statistics last cleared:never\n")
		fmt.Fprintf(b, "    Input:  %d packets, %d bytes\n", c.RxPackets, c.RxBytes)
		fmt.Fprintf(b, "    Output: %d packets, %d bytes\n", c.TxPackets, c.TxBytes)
		fmt.Fprintf(b, "    Input drops: %d, Output drops: %d\n", c.RxDrops, c.TxDrops)
	}
}
