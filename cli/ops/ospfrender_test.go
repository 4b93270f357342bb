package ops

import (
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"vpnos/lab/golden"
	"vpnos/services/ospf"
	"vpnos/services/ospf/core"
	"vpnos/services/ospf/packet"
)

// ospfNet runs a few OSPF cores on a fake clock, delivering their packets
// to each other: the displays render real protocol state, reproducibly.
type ospfNet struct {
	now   time.Time
	cores map[string]*core.Core
	// links: "router/iface" -> peers on the segment, with addresses
	segs   map[string][]ospfPort
	groups map[string]map[netip.Addr]bool
}

type ospfPort struct {
	router, iface string
	addr          netip.Addr
}

func (n *ospfNet) step(router string, ev core.Event) {
	type pending struct {
		router string
		ev     core.Event
	}
	queue := []pending{{router, ev}}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, a := range n.cores[p.router].Step(n.now, p.ev) {
			switch a := a.(type) {
			case core.Join:
				n.group(p.router, a.Iface)[a.Group] = true
			case core.Leave:
				delete(n.group(p.router, a.Iface), a.Group)
			case core.Send:
				var src netip.Addr
				for _, port := range n.segs[p.router+"/"+a.Iface] {
					if port.router == p.router {
						src = port.addr
					}
				}
				for _, port := range n.segs[p.router+"/"+a.Iface] {
					if port.router == p.router {
						continue
					}
					if a.Dst.IsMulticast() && !n.group(port.router, port.iface)[a.Dst] || !a.Dst.IsMulticast() && a.Dst != port.addr {
						continue
					}
					queue = append(queue, pending{port.router, core.Receive{Iface: port.iface, Src: src, Dst: a.Dst, Data: a.Data}})
				}
			}
		}
	}
}

func (n *ospfNet) group(router, iface string) map[netip.Addr]bool {
	k := router + "/" + iface
	if n.groups[k] == nil {
		n.groups[k] = map[netip.Addr]bool{}
	}
	return n.groups[k]
}

func (n *ospfNet) advance(d time.Duration) {
	end := n.now.Add(d)
	for {
		var next time.Time
		var who string
		names := make([]string, 0, len(n.cores))
		for name := range n.cores {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if t := n.cores[name].NextDeadline(); !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next, who = t, name
			}
		}
		if next.IsZero() || next.After(end) {
			break
		}
		if next.After(n.now) {
			n.now = next
		}
		n.step(who, core.Tick{})
	}
	n.now = end
}

// ospfLab is the reference lab's core with OSPF: PE1 (10.255.0.1) and P
// (10.255.0.2) on a broadcast /30, P also ABR to area 1 where PE2
// (10.255.0.3) sits behind a point-to-point link; PE2 redistributes one
// static route.
func ospfLab(t *testing.T) []ospf.Snapshot {
	t.Helper()
	start := time.Date(2024, 5, 6, 9, 15, 2, 0, time.UTC)
	n := &ospfNet{now: start, cores: map[string]*core.Core{}, segs: map[string][]ospfPort{}, groups: map[string]map[netip.Addr]bool{}}
	rid := func(s string) packet.ID { id, _ := packet.ParseID(s); return id }
	n.cores["pe1"] = core.New(core.Config{RouterID: rid("10.255.0.1")})
	n.cores["p"] = core.New(core.Config{RouterID: rid("10.255.0.2")})
	n.cores["pe2"] = core.New(core.Config{RouterID: rid("10.255.0.3")})
	link := func(a, ai, aa, b, bi, ba string) {
		seg := []ospfPort{{a, ai, netip.MustParseAddr(aa)}, {b, bi, netip.MustParseAddr(ba)}}
		n.segs[a+"/"+ai] = seg
		n.segs[b+"/"+bi] = seg
	}
	link("pe1", "eth3", "198.51.100.1", "p", "eth1", "198.51.100.2")
	link("p", "eth2", "198.51.100.5", "pe2", "eth3", "198.51.100.6")
	ifc := func(name, prefix string, area packet.ID, typ core.NetworkType, lo bool, prio uint8) core.IfaceConfig {
		c := core.IfaceConfig{Name: name, Area: area, Prefix: netip.MustParsePrefix(prefix), Type: typ, Up: true, Loopback: lo, Priority: prio, Cost: 1}
		if lo {
			c.Cost = 0
		}
		return c
	}
	n.step("pe1", core.SetInterfaces{Interfaces: []core.IfaceConfig{
		ifc("LoopBack0", "10.255.0.1/32", 0, core.PointToPoint, true, 1),
		ifc("eth3", "198.51.100.1/30", 0, core.Broadcast, false, 1),
	}})
	n.step("p", core.SetInterfaces{Interfaces: []core.IfaceConfig{
		ifc("LoopBack0", "10.255.0.2/32", 0, core.PointToPoint, true, 1),
		ifc("eth1", "198.51.100.2/30", 0, core.Broadcast, false, 1),
		ifc("eth2", "198.51.100.5/30", 1, core.PointToPoint, false, 1),
	}})
	n.step("pe2", core.SetInterfaces{Interfaces: []core.IfaceConfig{
		ifc("LoopBack0", "10.255.0.3/32", 1, core.PointToPoint, true, 1),
		ifc("eth3", "198.51.100.6/30", 1, core.PointToPoint, false, 1),
	}})
	n.step("pe2", core.SetExternal{Routes: []core.External{{Prefix: netip.MustParsePrefix("172.16.3.0/24"), Type2: true, Metric: 1, Tag: 1}}})
	n.advance(47*time.Minute + 12*time.Second)
	names := map[string]string{"LoopBack0": "LoopBack0", "eth1": "GigabitEthernet0/1/0", "eth2": "GigabitEthernet0/2/0", "eth3": "GigabitEthernet0/3/0"}
	var out []ospf.Snapshot
	for _, r := range []string{"pe1", "p"} {
		c := n.cores[r]
		out = append(out, ospf.Snapshot{
			Process:            1,
			RouterID:           c.RouterID().Addr(),
			Snapshot:           c.Snapshot(n.now),
			Names:              names,
			BandwidthReference: 100,
			Now:                n.now,
			Started:            start,
		})
	}
	if len(out[0].Routes) < 5 {
		t.Fatalf("the lab did not converge: %+v", out[0].Routes)
	}
	return out
}

// TestOSPFDisplays renders every OSPF display of PE1 and P and compares
// with the golden file (go test -run TestOSPFDisplays -update).
func TestOSPFDisplays(t *testing.T) {
	snaps := ospfLab(t)
	pe1, p := snaps[0:1], snaps[1:2]
	var b strings.Builder
	show := func(cmd, out string) {
		b.WriteString("<PE1> " + cmd + "\n" + out + "\n")
	}
	show("display ospf peer brief", RenderOSPFPeer(pe1, true, false))
	show("display ospf peer brief (VRP5)", RenderOSPFPeer(pe1, true, true))
	show("display ospf peer", RenderOSPFPeer(pe1, false, false))
	show("display ospf interface", RenderOSPFInterface(pe1))
	show("display ospf lsdb", RenderOSPFLSDB(pe1, ""))
	show("display ospf lsdb router", RenderOSPFLSDB(pe1, "router"))
	show("display ospf lsdb network", RenderOSPFLSDB(pe1, "network"))
	show("display ospf lsdb summary", RenderOSPFLSDB(pe1, "summary"))
	show("display ospf lsdb ase", RenderOSPFLSDB(pe1, "ase"))
	show("display ospf routing", RenderOSPFRouting(pe1))
	show("display ospf brief", RenderOSPFBrief(pe1))
	b.WriteString("--- the ABR\n")
	show("display ospf peer brief", RenderOSPFPeer(p, true, false))
	show("display ospf interface", RenderOSPFInterface(p))
	show("display ospf lsdb", RenderOSPFLSDB(p, ""))
	show("display ospf routing", RenderOSPFRouting(p))
	show("display ospf brief", RenderOSPFBrief(p))
	golden.Check(t, "testdata/ospf-displays.golden", b.String())
}

// The peer displays keep VRP's columns whatever the name lengths.
func TestOSPFPeerBriefColumns(t *testing.T) {
	snaps := ospfLab(t)
	out := RenderOSPFPeer(snaps[1:2], true, false)
	lines := strings.Split(out, "\n")
	var hdr, row string
	for k, l := range lines {
		if strings.HasPrefix(l, " Area Id") {
			hdr, row = l, lines[k+1]
		}
	}
	for _, col := range []string{"Interface", "Neighbor id", "State"} {
		at := strings.Index(hdr, col)
		if at < 0 || at >= len(row) || row[at-1] != ' ' || row[at] == ' ' {
			t.Errorf("column %s at %d does not line up:\n%s\n%s", col, at, hdr, row)
		}
	}
	if !strings.Contains(out, "GE0/1/0") {
		t.Errorf("interface not abbreviated:\n%s", out)
	}
}
