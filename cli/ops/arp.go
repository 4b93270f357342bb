package ops

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"vpnos/cli"
	"vpnos/services/fibapi"
)

// display arp: the ARP entries of the instances' host stacks, read from
// each instance's kernel neighbour table inside its namespace (the
// router's own traffic resolves its neighbours there), with one interface
// entry per address of the interfaces.

// arpRow is one entry of display arp.
type arpRow struct {
	IP        netip.Addr
	MAC       net.HardwareAddr
	Type      string // "I -" interface, "D-0" dynamic, "S" static
	Interface string // VRP name
	Instance  string // "" for the public instance
}

func (o *ops) arpCommands() []cli.Command {
	return []cli.Command{{
		Views:   "any",
		Syntax:  "display arp [ all | interface {ifname:interface} | vpn-instance {vrf:vpn-name} ]",
		Display: true,
		Help: map[string]string{
			"arp": "ARP entries", "all": "The ARP entries of every instance",
			"interface": "The ARP entries of one interface", "ifname": "Interface type and number",
			"vpn-instance": "The ARP entries of one VPN instance", "vrf": "VPN instance name",
		},
		Run: o.runDisplayARP,
	}}
}

func (o *ops) runDisplayARP(_ context.Context, a *cli.Args) (string, error) {
	instances := append([]string{fibapi.Public}, o.d.VRF.State().Instances...)
	if name, ok := a.Value("vrf"); ok {
		inst, err := o.instance(name)
		if err != nil {
			return "", err
		}
		instances = []string{inst}
	}
	ifname, oneIf := a.Value("ifname")
	if oneIf && !slices.ContainsFunc(o.interfaces(), func(v ifView) bool { return v.Name == ifname && v.Present }) {
		return "", errNoInterface
	}
	rows, err := o.arpRows(slices.Compact(instances))
	if err != nil {
		return "", err
	}
	if oneIf {
		rows = slices.DeleteFunc(rows, func(r arpRow) bool { return r.Interface != ifname })
	}
	return renderARP(rows), nil
}

// arpRows reads the ARP entries of the instances.
func (o *ops) arpRows(instances []string) ([]arpRow, error) {
	byKernel := map[string]map[string]ifView{} // instance -> kernel name -> interface
	for _, v := range o.interfaces() {
		if v.Kernel == "" || !v.Present {
			continue
		}
		inst := v.Instance
		if inst == "" {
			inst = fibapi.Public
		}
		if byKernel[inst] == nil {
			byKernel[inst] = map[string]ifView{}
		}
		byKernel[inst][v.Kernel] = v
	}
	var rows []arpRow
	for _, inst := range instances {
		ifs := byKernel[inst]
		show := inst
		if inst == fibapi.Public {
			show = ""
		}
		err := o.d.NS.Do(inst, func() error {
			links, err := netlink.LinkList()
			if err != nil {
				return err
			}
			names := map[int]string{}
			for _, l := range links {
				at := l.Attrs()
				v, ok := ifs[at.Name]
				if !ok {
					continue
				}
				names[at.Index] = v.Name
				for _, p := range append([]netip.Prefix{v.Primary}, v.Subs...) {
					if p.IsValid() {
						rows = append(rows, arpRow{IP: p.Addr(), MAC: at.HardwareAddr, Type: "I -", Interface: v.Name, Instance: show})
					}
				}
			}
			neighs, err := netlink.NeighList(0, netlink.FAMILY_V4)
			if err != nil {
				return err
			}
			for _, n := range neighs {
				name, ok := names[n.LinkIndex]
				ip, okIP := netip.AddrFromSlice(n.IP.To4())
				if !ok || !okIP || len(n.HardwareAddr) != 6 || n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED|netlink.NUD_NOARP) != 0 || n.State == netlink.NUD_NONE {
					continue
				}
				typ := "D-0"
				if n.State&netlink.NUD_PERMANENT != 0 {
					typ = "S"
				}
				rows = append(rows, arpRow{IP: ip, MAC: n.HardwareAddr, Type: typ, Interface: name, Instance: show})
			}
			return nil
		})
		if err != nil {
			// An instance whose namespace is not there (yet) has no entries.
			o.d.Log.Debug("display arp", "instance", inst, "err", err)
		}
	}
	slices.SortStableFunc(rows, func(a, b arpRow) int {
		if c := strings.Compare(a.Instance, b.Instance); c != 0 {
			return c
		}
		return a.IP.Compare(b.IP)
	})
	return rows, nil
}

// renderARP prints display arp in VRP's layout.
func renderARP(rows []arpRow) string {
	var b strings.Builder
	b.WriteString("IP ADDRESS      MAC ADDRESS     EXPIRE(M) TYPE        INTERFACE      VPN-INSTANCE\n")
	b.WriteString("                                          VLAN/CEVLAN PVC\n")
	b.WriteString(dashes78 + "\n")
	var dyn, static, ifc int
	for _, r := range rows {
		switch r.Type {
		case "I -":
			ifc++
		case "S":
			static++
		default:
			dyn++
		}
		line := pad(r.IP.String(), 16) + pad(macVRP(r.MAC), 16) + pad("", 10) + pad(r.Type, 12) + pad(compactIfName(r.Interface), 15) + r.Instance
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	b.WriteString(dashes78 + "\n")
	fmt.Fprintf(&b, "Total:%s Dynamic:%s Static:%s Interface:%d\n", pad(fmt.Sprint(len(rows)), 9), pad(fmt.Sprint(dyn), 7), pad(fmt.Sprint(static), 5), ifc)
	return b.String()
}
