package bgp

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"vpnos/services/bgp/packet"
	"vpnos/yang/datastore"
)

// tree builds configuration trees as the CLI and NETCONF store them.
type tree struct{ t *datastore.Tree }

func newTree() *tree { return &tree{datastore.NewTree()} }

// set sets leaves under p ("<empty>" for a leaf of type empty); p alone
// creates the entry or presence container.
func (b *tree) set(p datastore.Path, leaves ...string) *tree {
	b.t.SetPresence(p)
	for i := 0; i+1 < len(leaves); i += 2 {
		v := leaves[i+1]
		if v == "<empty>" {
			v = ""
		}
		b.t.Set(p.Child(leaves[i]), v)
	}
	return b
}

var bgpInst = datastore.P("bgp", "instance", datastore.K("65000"))

func ifAddr(name, addr, mask string) datastore.Path {
	return datastore.P("interfaces", "interface", datastore.K(name), "ipv4", "address", datastore.K(addr))
}

func vrfAF(name string) datastore.Path {
	return datastore.P("vpn-instances", "vpn-instance", datastore.K(name), "ipv4-family")
}

// pe1Tree is the reference lab's PE1, with a group, an RR setting and
// policies on top.
func pe1Tree() *tree {
	b := newTree().
		set(ifAddr("LoopBack0", "10.255.0.1", ""), "mask", "255.255.255.255").
		set(ifAddr("LoopBack5", "10.255.0.9", ""), "mask", "255.255.255.255").
		set(ifAddr("GigabitEthernet0/1/0", "192.0.2.1", ""), "mask", "255.255.255.252").
		set(datastore.P("interfaces", "interface", datastore.K("GigabitEthernet0/1/0")), "vpn-instance", "red").
		set(vrfAF("red"), "route-distinguisher", "10.255.0.1:1", "import-route-policy", "red-in").
		set(vrfAF("red").Child("vpn-target", "65000:100", "export-extcommunity")).
		set(vrfAF("red").Child("vpn-target", "65000:100", "import-extcommunity")).
		set(vrfAF("red").Child("export-route-policy"), "name", "red-out", "add-ert-first", "<empty>").
		set(vrfAF("blue"), "route-distinguisher", "10.255.0.1:2", "apply-label", "per-route").
		set(vrfAF("blue").Child("vpn-target", "65000:200", "import-extcommunity")).
		set(vrfAF("green")).
		set(bgpInst, "keepalive", "20", "hold", "60").
		set(bgpInst.Child("group", "rr"), "type", "internal").
		set(bgpInst.Child("peer", "rr"), "connect-interface", "LoopBack0").
		set(bgpInst.Child("peer", "10.255.0.3"), "as-number", "65000", "connect-interface", "LoopBack0", "description", "to PE2").
		set(bgpInst.Child("peer", "10.255.0.10"), "group", "rr").
		set(bgpInst.Child("peer", "198.51.100.9"), "as-number", "1.10", "keepalive", "10", "hold", "30", "ignore", "<empty>").
		set(bgpInst.Child("peer", "198.51.100.9").Child("ebgp-max-hop"), "hops", "3").
		set(bgpInst.Child("ipv4-unicast"), "reflector-cluster-id", "7").
		set(bgpInst.Child("ipv4-unicast").Child("network", "172.16.9.0"), "mask", "255.255.255.0").
		set(bgpInst.Child("ipv4-unicast").Child("network", "10.0.0.0")).
		set(bgpInst.Child("ipv4-unicast").Child("import-route", "ospf"), "process-id", "1", "med", "20", "route-policy", "from-ospf").
		set(bgpInst.Child("ipv4-unicast").Child("peer", "198.51.100.9"), "enable", "false").
		set(bgpInst.Child("ipv4-unicast").Child("peer", "10.255.0.3"), "next-hop-local", "<empty>", "route-policy-export", "out").
		set(bgpInst.Child("vpnv4"), "policy-vpn-target", "false", "reflector-cluster-id", "10.0.0.7").
		set(bgpInst.Child("vpnv4").Child("peer", "10.255.0.3"), "enable", "<empty>").
		set(bgpInst.Child("vpnv4").Child("peer", "rr"), "enable", "<empty>", "reflect-client", "<empty>").
		set(bgpInst.Child("vpn-instance", "red"), "maximum-load-balancing", "2").
		set(bgpInst.Child("vpn-instance", "red").Child("import-route", "direct")).
		set(bgpInst.Child("vpn-instance", "red").Child("peer", "192.0.2.2"), "as-number", "64501", "substitute-as", "<empty>", "ip-prefix-import", "ce").
		set(bgpInst.Child("vpn-instance", "red").Child("peer", "192.0.2.2").Child("allow-as-loop"))
	return b
}

func TestFromTree(t *testing.T) {
	c, errs := FromTree(pe1Tree().t)
	if len(errs) > 0 {
		t.Fatalf("refused: %v", errs)
	}
	if c.AS != 65000 || c.RouterID != netip.MustParseAddr("10.255.0.9") || c.Timers != (Timers{Keepalive: 20, Hold: 60, Set: true}) {
		t.Errorf("AS %d, router ID %s (the highest LoopBack address), timers %+v", c.AS, c.RouterID, c.Timers)
	}
	if len(c.Groups) != 1 || c.Groups[0].Name != "rr" || c.Groups[0].External || c.Groups[0].Options.SourceAddr != netip.MustParseAddr("10.255.0.1") ||
		!c.Groups[0].AF[packet.VPNv4].Enabled || !c.Groups[0].AF[packet.VPNv4].ReflectClient {
		t.Errorf("groups %+v", c.Groups)
	}
	peers := map[PeerKey]Peer{}
	for _, p := range c.Resolve() {
		peers[p.Key()] = p
	}
	pe2 := peers[key("", "10.255.0.3")]
	if pe2.AS != 65000 || pe2.SourceAddr != netip.MustParseAddr("10.255.0.1") || pe2.Description != "to PE2" ||
		!pe2.AF[packet.IPv4Unicast].Enabled || !pe2.AF[packet.IPv4Unicast].NextHopLocal || pe2.AF[packet.IPv4Unicast].ExportPolicy != "out" ||
		!pe2.AF[packet.VPNv4].Enabled {
		t.Errorf("10.255.0.3: %+v", pe2)
	}
	rr := peers[key("", "10.255.0.10")]
	if rr.AS != 65000 || rr.SourceAddr != netip.MustParseAddr("10.255.0.1") || !rr.AF[packet.VPNv4].ReflectClient {
		t.Errorf("member of rr: %+v", rr)
	}
	eb := peers[key("", "198.51.100.9")]
	if eb.AS != 65546 || eb.EBGPMaxHop != 3 || !eb.Ignore || eb.Timers != (Timers{Keepalive: 10, Hold: 30, Set: true}) ||
		eb.AF[packet.IPv4Unicast].Enabled || !eb.NoUnicast {
		t.Errorf("198.51.100.9 (AS 1.10): %+v", eb)
	}
	ce := peers[key("red", "192.0.2.2")]
	if ce.AS != 64501 || !ce.AF[packet.IPv4Unicast].SubstituteAS || ce.AF[packet.IPv4Unicast].AllowASLoop != 1 ||
		ce.AF[packet.IPv4Unicast].ImportPrefix != "ce" {
		t.Errorf("CE: %+v", ce)
	}
	wantNets := []Network{{Prefix: netip.MustParsePrefix("172.16.9.0/24")}, {Prefix: netip.MustParsePrefix("10.0.0.0/8")}}
	if !slices.Equal(c.Unicast.Networks, wantNets) || c.Unicast.ClusterID != 7 ||
		!slices.Equal(c.Unicast.Imports, []ImportRoute{{Protocol: ProtoOSPF, ProcessID: 1, MED: 20, HasMED: true, Policy: "from-ospf"}}) {
		t.Errorf("unicast %+v", c.Unicast)
	}
	if c.VPNv4 == nil || !c.VPNv4.NoPolicyVPNTarget || c.VPNv4.ClusterID != 0x0a000007 {
		t.Errorf("vpnv4 %+v", c.VPNv4)
	}
	if len(c.Instances) != 2 {
		t.Fatalf("instances %+v (green has no RD)", c.Instances)
	}
	blue, red := c.Instances[0], c.Instances[1]
	if blue.Name != "blue" || blue.LabelMode != LabelPerRoute || blue.BGP != nil || len(blue.ImportRTs) != 1 || len(blue.ExportRTs) != 0 {
		t.Errorf("blue %+v", blue)
	}
	if red.RD.String() != "10.255.0.1:1" || red.ImportPolicy != "red-in" || red.ExportPolicy != "red-out" || !red.ExportAddERTFirst ||
		red.BGP == nil || red.BGP.MaxLoadBalancing != 2 || len(red.BGP.Imports) != 1 {
		t.Errorf("red %+v %+v", red, red.BGP)
	}
}

func TestFromTreeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(b *tree)
		path string
		want string
	}{
		{"second process", func(b *tree) { b.set(datastore.P("bgp", "instance", datastore.K("65001"))) },
			"/bgp/instance[65001]", "BGP is already running with AS number 65000"},
		{"peer in a VPN instance without RD", func(b *tree) {
			b.set(bgpInst.Child("vpn-instance", "green").Child("peer", "10.9.9.9"), "as-number", "64999")
		}, "/bgp/instance[65000]/vpn-instance[green]", "The route distinguisher of VPN instance green is not configured"},
		{"peer without an AS", func(b *tree) { b.set(bgpInst.Child("peer", "10.9.9.9"), "description", "x") },
			"/bgp/instance[65000]/peer[10.9.9.9]", "The peer 10.9.9.9 does not exist"},
		{"EBGP peer in an internal group", func(b *tree) { b.set(bgpInst.Child("peer", "198.51.100.9"), "group", "rr") },
			"/bgp/instance[65000]/peer[198.51.100.9]/group", "The EBGP peer 198.51.100.9 cannot join the internal group rr"},
		{"IBGP peer in an external group", func(b *tree) {
			b.set(bgpInst.Child("group", "ce"), "type", "external").set(bgpInst.Child("peer", "10.255.0.3"), "group", "ce")
		}, "/bgp/instance[65000]/peer[10.255.0.3]/group", "The IBGP peer 10.255.0.3 cannot join the external group ce"},
		{"a group that does not exist", func(b *tree) { b.set(bgpInst.Child("vpnv4").Child("peer", "nogroup"), "enable", "<empty>") },
			"/bgp/instance[65000]/vpnv4/peer[nogroup]", "The peer group nogroup does not exist"},
		{"a peer unknown in the family", func(b *tree) { b.set(bgpInst.Child("vpnv4").Child("peer", "10.9.9.9"), "enable", "<empty>") },
			"/bgp/instance[65000]/vpnv4/peer[10.9.9.9]", "The peer 10.9.9.9 does not exist"},
		{"AS number of an internal group", func(b *tree) { b.set(bgpInst.Child("peer", "rr"), "as-number", "64999") },
			"/bgp/instance[65000]/peer[rr]/as-number", "The AS number cannot be configured for the internal group rr"},
		{"hold below three keepalives", func(b *tree) { b.set(bgpInst, "keepalive", "30", "hold", "60") },
			"/bgp/instance[65000]/hold", "The hold time 60 must be at least three times the keepalive time 30"},
		{"ebgp-max-hop on IBGP", func(b *tree) { b.set(bgpInst.Child("peer", "10.255.0.3").Child("ebgp-max-hop")) },
			"/bgp/instance[65000]/peer[10.255.0.3]/ebgp-max-hop", "is an IBGP peer; ebgp-max-hop applies to EBGP peers"},
		{"reflect-client on EBGP", func(b *tree) {
			b.set(bgpInst.Child("ipv4-unicast").Child("peer", "198.51.100.9"), "reflect-client", "<empty>")
		}, "/bgp/instance[65000]/peer[198.51.100.9]", "is an EBGP peer; it cannot be a reflect-client"},
		{"connect-interface that does not exist", func(b *tree) { b.set(bgpInst.Child("peer", "10.255.0.3"), "connect-interface", "LoopBack9") },
			"/bgp/instance[65000]/peer[10.255.0.3]/connect-interface", "The interface LoopBack9 does not exist"},
		{"connect-interface in another instance", func(b *tree) {
			b.set(bgpInst.Child("peer", "10.255.0.3"), "connect-interface", "GigabitEthernet0/1/0")
		}, "/bgp/instance[65000]/peer[10.255.0.3]/connect-interface", "is not in the peer's routing instance"},
		{"import-route ospf without a process", func(b *tree) {
			b.t.Delete(bgpInst.Child("ipv4-unicast").Child("import-route", "ospf").Child("process-id"))
		},
			"/bgp/instance[65000]/ipv4-unicast/import-route[ospf]", "import-route ospf needs the OSPF process ID"},
		{"network not on its mask", func(b *tree) {
			b.set(bgpInst.Child("ipv4-unicast").Child("network", "10.1.1.1"), "mask", "255.255.255.0")
		},
			"/bgp/instance[65000]/ipv4-unicast/network[10.1.1.1]", "does not match the mask"},
		{"no router ID", func(b *tree) {
			for _, ifc := range []string{"LoopBack0", "LoopBack5", "GigabitEthernet0/1/0"} {
				b.t.Delete(datastore.P("interfaces", "interface", datastore.K(ifc)))
			}
			b.t.Delete(bgpInst.Child("peer", "rr").Child("connect-interface"))
			b.t.Delete(bgpInst.Child("peer", "10.255.0.3").Child("connect-interface"))
		}, "/bgp/instance[65000]", "BGP needs a router ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := pe1Tree()
			tc.mod(b)
			_, errs := FromTree(b.t)
			for _, e := range errs {
				if e.Path.String() == tc.path && strings.Contains(e.Msg, tc.want) {
					return
				}
			}
			t.Errorf("want %q at %s, got %v", tc.want, tc.path, errs)
			for _, e := range errs {
				t.Logf("  %s: %s", e.Path, e.Msg)
			}
		})
	}
}

func TestValidateOnlyWithBGP(t *testing.T) {
	b := newTree().set(vrfAF("red"))
	if errs := Validate(&datastore.Change{New: b.t}); len(errs) != 0 {
		t.Errorf("without bgp: %v", errs)
	}
}
