package vrf

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/yang/datastore"
)

type cfg struct{ t *datastore.Tree }

func newCfg() *cfg { return &cfg{datastore.NewTree()} }

func (c *cfg) vpn(names ...string) *cfg {
	for _, n := range names {
		c.t.SetPresence(datastore.P("vpn-instances", "vpn-instance", datastore.K(n)))
	}
	return c
}

func (c *cfg) bind(ifName, vpn string) *cfg {
	c.t.Set(datastore.P("interfaces", "interface", datastore.K(ifName), "vpn-instance"), vpn)
	return c
}

func (c *cfg) addr(ifName, ip, mask string) *cfg {
	c.t.Set(datastore.P("interfaces", "interface", datastore.K(ifName), "ipv4", "address", datastore.K(ip), "mask"), mask)
	return c
}

func (c *cfg) shut(ifName string) *cfg {
	c.t.Set(datastore.P("interfaces", "interface", datastore.K(ifName), "shutdown"), "true")
	return c
}

func ports(names ...string) []iface.Port {
	var out []iface.Port
	for _, n := range names {
		out = append(out, iface.Port{Kernel: n, Name: iface.SlotStyle.VRPName(n), AdminUp: true, OperUp: true, Mgmt: n == "eth0"})
	}
	return out
}

func render(acts []Action) string {
	var b strings.Builder
	for _, a := range acts {
		fmt.Fprintf(&b, "%s", a.Kind)
		if a.Instance != "" {
			fmt.Fprintf(&b, " %s", a.Instance)
		}
		if a.Interface != "" {
			fmt.Fprintf(&b, " %s", a.Interface)
		}
		switch a.Kind {
		case SetAddresses:
			fmt.Fprintf(&b, " %v", a.Addresses)
		case SetLink:
			fmt.Fprintf(&b, " up=%v", a.Up)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestFromConfig(t *testing.T) {
	c := newCfg().vpn("red", "blue").bind("GigabitEthernet0/1/0", "red").addr("GigabitEthernet0/1/0", "192.0.2.1", "255.255.255.252").
		addr("LoopBack0", "10.255.0.1", "255.255.255.255").addr("GigabitEthernet0/9/0", "10.9.9.1", "255.255.255.0").shut("GigabitEthernet0/2/0")
	d := FromConfig(c.t, ports("eth0", "eth1", "eth2"), iface.SlotStyle)
	if strings.Join(d.Instances, ",") != "red,blue" {
		t.Fatalf("instances %v", d.Instances)
	}
	for _, tc := range []struct {
		name string
		want Interface
	}{
		{"GigabitEthernet0/1/0", Interface{Name: "GigabitEthernet0/1/0", Kernel: "eth1", Instance: "red", Present: true, Up: true,
			Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/30")}}},
		{"GigabitEthernet0/2/0", Interface{Name: "GigabitEthernet0/2/0", Kernel: "eth2", Instance: fibapi.Public, Present: true, Shutdown: true}},
		{"LoopBack0", Interface{Name: "LoopBack0", Instance: fibapi.Public, Loopback: true, Present: true, Up: true,
			Addresses: []netip.Prefix{netip.MustParsePrefix("10.255.0.1/32")}}},
		// Configured, but the link is not there (yet).
		{"GigabitEthernet0/9/0", Interface{Name: "GigabitEthernet0/9/0", Kernel: "eth9", Instance: fibapi.Public,
			Addresses: []netip.Prefix{netip.MustParsePrefix("10.9.9.1/24")}}},
	} {
		got, ok := d.Interfaces[tc.name]
		if !ok || !sameInterface(got, tc.want) {
			t.Errorf("%s = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if _, ok := d.Interfaces[iface.ManagementName]; ok {
		t.Error("the management port must not be an instance interface")
	}
}

func TestPlan(t *testing.T) {
	base := newCfg().vpn("red").bind("GigabitEthernet0/1/0", "red").addr("GigabitEthernet0/1/0", "192.0.2.1", "255.255.255.252").
		addr("GigabitEthernet0/3/0", "198.51.100.1", "255.255.255.252").addr("LoopBack0", "10.255.0.1", "255.255.255.255")
	empty := Desired{Interfaces: map[string]Interface{}}
	p := ports("eth1", "eth3")
	for _, tc := range []struct {
		name       string
		have, want Desired
		plan       string
	}{
		{"from nothing", empty, FromConfig(base.t, p, iface.SlotStyle), `create-instance red
bind-port red GigabitEthernet0/1/0
set-link red GigabitEthernet0/1/0 up=true
set-addresses red GigabitEthernet0/1/0 [192.0.2.1/30]
bind-port _public_ GigabitEthernet0/3/0
set-link _public_ GigabitEthernet0/3/0 up=true
set-addresses _public_ GigabitEthernet0/3/0 [198.51.100.1/30]
set-addresses _public_ LoopBack0 [10.255.0.1/32]
`},
		{"nothing changed", FromConfig(base.t, p, iface.SlotStyle), FromConfig(base.t, p, iface.SlotStyle), ""},
		{"port vanishes", FromConfig(base.t, p, iface.SlotStyle), FromConfig(base.t, ports("eth3"), iface.SlotStyle),
			"unbind-port red GigabitEthernet0/1/0\n"},
		{"late port arrives", FromConfig(base.t, ports("eth3"), iface.SlotStyle), FromConfig(base.t, p, iface.SlotStyle), `bind-port red GigabitEthernet0/1/0
set-link red GigabitEthernet0/1/0 up=true
set-addresses red GigabitEthernet0/1/0 [192.0.2.1/30]
`},
		{"unbind and delete instance", FromConfig(base.t, p, iface.SlotStyle),
			FromConfig(newCfg().addr("GigabitEthernet0/3/0", "198.51.100.1", "255.255.255.252").addr("LoopBack0", "10.255.0.1", "255.255.255.255").t, p, iface.SlotStyle),
			"bind-port _public_ GigabitEthernet0/1/0\nset-link _public_ GigabitEthernet0/1/0 up=true\ndelete-instance red\n"},
		{"loopback moves instance", FromConfig(base.t, p, iface.SlotStyle),
			FromConfig(newCfg().vpn("red").bind("GigabitEthernet0/1/0", "red").addr("GigabitEthernet0/1/0", "192.0.2.1", "255.255.255.252").
				addr("GigabitEthernet0/3/0", "198.51.100.1", "255.255.255.252").bind("LoopBack0", "red").addr("LoopBack0", "10.255.0.1", "255.255.255.255").t, p, iface.SlotStyle),
			"set-addresses _public_ LoopBack0 []\nset-addresses red LoopBack0 [10.255.0.1/32]\n"},
		{"shutdown and readdress", FromConfig(base.t, p, iface.SlotStyle),
			FromConfig(newCfg().vpn("red").bind("GigabitEthernet0/1/0", "red").addr("GigabitEthernet0/1/0", "192.0.2.1", "255.255.255.252").
				addr("GigabitEthernet0/3/0", "198.51.100.5", "255.255.255.252").shut("GigabitEthernet0/3/0").addr("LoopBack0", "10.255.0.1", "255.255.255.255").t, p, iface.SlotStyle),
			"set-link _public_ GigabitEthernet0/3/0 up=false\nset-addresses _public_ GigabitEthernet0/3/0 [198.51.100.5/30]\n"},
		{"loopback removed", FromConfig(base.t, p, iface.SlotStyle),
			FromConfig(newCfg().vpn("red").bind("GigabitEthernet0/1/0", "red").addr("GigabitEthernet0/1/0", "192.0.2.1", "255.255.255.252").
				addr("GigabitEthernet0/3/0", "198.51.100.1", "255.255.255.252").t, p, iface.SlotStyle),
			"set-addresses _public_ LoopBack0 []\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := render(Plan(tc.have, tc.want)); got != tc.plan {
				t.Fatalf("plan:\n%s\nwant:\n%s", got, tc.plan)
			}
		})
	}
}

// The primary address comes first (OSPF runs on it), the secondary ones
// after it in address order.
func TestFromConfigPrimaryFirst(t *testing.T) {
	c := newCfg().addr("GigabitEthernet0/1/0", "10.9.0.1", "255.255.255.0").addr("GigabitEthernet0/1/0", "10.1.0.1", "255.255.255.0").
		addr("GigabitEthernet0/1/0", "10.5.0.1", "255.255.0.0")
	for _, sub := range []string{"10.1.0.1", "10.5.0.1"} {
		c.t.Set(datastore.P("interfaces", "interface", datastore.K("GigabitEthernet0/1/0"), "ipv4", "address", datastore.K(sub), "sub"), "")
	}
	d := FromConfig(c.t, ports("eth1"), iface.SlotStyle)
	got := fmt.Sprint(d.Interfaces["GigabitEthernet0/1/0"].Addresses)
	if want := "[10.9.0.1/24 10.1.0.1/24 10.5.0.1/16]"; got != want {
		t.Errorf("addresses %s, want %s", got, want)
	}
}
