package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
)

// site is a customer site of the reference lab: a CE in one VPN instance of
// a PE, behind a /30 link.
type site struct {
	ce, pe, vpn string
	// port of the PE towards the CE, and the node's link name for it.
	pePort, peLink string
	peAddr, ceAddr string
	lan, lanAddr   string
	// the PE's link subnet of this site
	subnet, bcast string
}

// The reference lab: two VPNs whose CEs behind one PE use the same LAN.
var sites = []site{
	{"CE-A", "PE1", "red", "GigabitEthernet0/1/0", "eth1", "192.0.2.1", "192.0.2.2", "172.16.1.0/24", "172.16.1.1", "192.0.2.0/30", "192.0.2.3/32"},
	{"CE-B", "PE1", "blue", "GigabitEthernet0/2/0", "eth2", "192.0.2.5", "192.0.2.6", "172.16.1.0/24", "172.16.1.1", "192.0.2.4/30", "192.0.2.7/32"},
	{"CE-C", "PE2", "red", "GigabitEthernet0/1/0", "eth1", "203.0.113.1", "203.0.113.2", "172.16.3.0/24", "172.16.3.1", "203.0.113.0/30", "203.0.113.3/32"},
	{"CE-D", "PE2", "blue", "GigabitEthernet0/2/0", "eth2", "203.0.113.5", "203.0.113.6", "172.16.3.0/24", "172.16.3.1", "203.0.113.4/30", "203.0.113.7/32"},
}

// twin is the site of the other VPN behind the same PE.
func twin(s site) site {
	for _, o := range sites {
		if o.pe == s.pe && o.vpn != s.vpn {
			return o
		}
	}
	panic("no twin site for " + s.ce)
}

// far is the site of the same VPN behind the other PE.
func far(s site) site {
	for _, o := range sites {
		if o.pe != s.pe && o.vpn == s.vpn {
			return o
		}
	}
	panic("no far site for " + s.ce)
}

// loopback is the LoopBack0 address of the site's PE.
func (s site) loopback() string {
	if s.pe == "PE1" {
		return "10.255.0.1"
	}
	return "10.255.0.3"
}

// routingTable matches display ip routing-table output whose destinations
// are exactly want (the instance holds nothing else), with the given rows.
func routingTable(want []string, rows ...labtest.Row) labtest.Matcher {
	return labtest.MatchFunc(func(out string) error {
		got, err := labtest.ParseTable(out, "Destination/Mask")
		if err != nil {
			return err
		}
		var dests []string
		for _, r := range got {
			if d := r["Destination/Mask"]; d != "" {
				dests = append(dests, d)
			}
		}
		sort.Strings(dests)
		w := append([]string(nil), want...)
		sort.Strings(w)
		if strings.Join(dests, " ") != strings.Join(w, " ") {
			return fmt.Errorf("destinations %v, want %v", dests, w)
		}
		return labtest.HasRows(got, rows...)
	})
}

// TestVPNInstances runs the reference lab (lab/l3vpn: OSPF and LDP in the
// core) and checks that the two VPN instances of each PE, whose CEs use the
// same LAN, are separate: each CE reaches its own PE's instance address and
// nothing of the other VPN or of the public instance; a PE's ping in an
// instance reaches the LAN address in that instance's CE, as captured on the
// CE links; the routing tables hold each instance's routes (its own, and the
// far site's by BGP) and nothing else;
// and the PEs' loopbacks, learnt by OSPF, reach each other over the LDP LSPs.
func TestVPNInstances(t *testing.T) { runtimes(t, testVPNInstances) }

func testVPNInstances(t *testing.T, rt string) {
	l := upCopy(t, rt, "l3vpn", "l3vpn.clab.yml", "vpn", "PE1", "P", "PE2", "CE-A", "CE-B", "CE-C", "CE-D")

	t.Run("routing-tables", func(t *testing.T) {
		for _, s := range sites {
			o, f := twin(s), far(s)
			// The own LAN: from the CE by EBGP in red, static in blue;
			// the far site's LAN and PE-CE link: IBGP from the far PE
			// (import-route direct, and static in blue).
			lan := labtest.Row{"Destination/Mask": s.lan, "Proto": "Static", "Pre": "60", "Flags": "RD", "NextHop": s.ceAddr, "Interface": s.pePort}
			if s.vpn == "red" {
				lan["Proto"], lan["Pre"] = "EBGP", "255"
			}
			m := routingTable(
				[]string{s.lan, s.subnet, s.peAddr + "/32", s.bcast, "255.255.255.255/32", f.lan, f.subnet},
				lan,
				labtest.Row{"Destination/Mask": s.subnet, "Proto": "Direct", "NextHop": s.peAddr, "Interface": s.pePort},
				labtest.Row{"Destination/Mask": f.lan, "Proto": "IBGP", "Pre": "255", "NextHop": f.loopback(), "Interface": "GigabitEthernet0/3/0"},
				labtest.Row{"Destination/Mask": f.subnet, "Proto": "IBGP", "Pre": "255", "NextHop": f.loopback(), "Interface": "GigabitEthernet0/3/0"},
			)
			// OSPF, LDP and then BGP come up first.
			out := l.WaitCLI(t, s.pe, "display ip routing-table vpn-instance "+s.vpn, m, 60*time.Second)
			if strings.Contains(out, o.pePort) || !strings.Contains(out, "Routing Table: "+s.vpn+"\n") {
				t.Errorf("%s %s: the table shows the other instance:\n%s", s.pe, s.vpn, out)
			}
		}
		// The public tables know the core (OSPF: the far PE's loopback and
		// the far core link) and no customer address.
		for pe, peer := range map[string][]string{"PE1": {"10.255.0.3/32", "198.51.100.2", "198.51.100.4/30"}, "PE2": {"10.255.0.1/32", "198.51.100.5", "198.51.100.0/30"}} {
			out := l.WaitCLI(t, pe, "display ip routing-table", labtest.Rows("Destination/Mask",
				labtest.Row{"Destination/Mask": peer[0], "Proto": "OSPF", "Pre": "10", "Cost": "2", "NextHop": peer[1], "Interface": "GigabitEthernet0/3/0"},
				labtest.Row{"Destination/Mask": "10.255.0.2/32", "Proto": "OSPF", "Cost": "1", "NextHop": peer[1]},
				labtest.Row{"Destination/Mask": peer[2], "Proto": "OSPF", "Cost": "2", "NextHop": peer[1]}), 30*time.Second)
			for _, bad := range []string{"172.16.", "192.0.2.", "203.0.113.", "GigabitEthernet0/1/0", "GigabitEthernet0/2/0"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s public table holds %s:\n%s", pe, bad, out)
				}
			}
		}
		l.WaitCLI(t, "PE1", "display ip vpn-instance", labtest.All(
			labtest.Regexp(`(?m)^ +red +10\.255\.0\.1:1 +IPv4$`),
			labtest.Regexp(`(?m)^ +blue +10\.255\.0\.1:2 +IPv4$`)), 5*time.Second)
	})

	t.Run("ce-reaches-own-instance", func(t *testing.T) {
		for _, s := range sites {
			pingOK(t, l, s.ce, "ping -c 2 "+s.peAddr, s.peAddr)
			// From the LAN address both CEs of a PE share: the PE routes
			// the answer by the instance's own route to the LAN (EBGP
			// from the CE in red, static in blue).
			pingOK(t, l, s.ce, "ping -c 2 -a "+s.lanAddr+" "+s.peAddr, s.peAddr)
		}
	})

	t.Run("ce-reaches-nothing-else", func(t *testing.T) {
		for _, s := range sites {
			o := twin(s)
			for _, dst := range []string{o.peAddr, o.ceAddr, "10.255.0.1", "10.255.0.3", "198.51.100.1", "198.51.100.6"} {
				if dst == s.peAddr {
					continue
				}
				pingFails(t, l, s.ce, "ping -c 1 -t 300 "+dst)
			}
		}
		// A PE's instance reaches nothing of its twin either.
		for _, s := range sites {
			o := twin(s)
			pingFails(t, l, s.pe, "ping -vpn-instance "+s.vpn+" -c 1 -t 300 "+o.ceAddr)
			pingFails(t, l, s.pe, "ping -vpn-instance "+s.vpn+" -c 1 -t 300 "+o.peAddr)
		}
		// Nor does the public instance reach customer addresses.
		pingFails(t, l, "PE1", "ping -c 1 -t 300 192.0.2.2")
		pingFails(t, l, "PE1", "ping -c 1 -t 300 172.16.1.1")
	})

	t.Run("overlapping-lan", func(t *testing.T) {
		// The PE pings and traces the LAN address both of its CEs use, in
		// one instance at a time; the echoes and probes arrive at that
		// instance's CE only, and the answers come back from it.
		for _, s := range sites {
			o := twin(s)
			here := startCapture(t, l, s.ce, "eth1")
			there := startCapture(t, l, o.ce, "eth1")
			back := startCapture(t, l, s.pe, s.peLink)
			pingOK(t, l, s.pe, "ping -vpn-instance "+s.vpn+" -c 3 "+s.lanAddr, s.lanAddr)
			here.wait(t, "echo requests from the PE", 3, icmpBetween(s.peAddr, s.lanAddr, icmpEcho), 2*time.Second)
			back.wait(t, "echo replies from the CE", 3, icmpBetween(s.lanAddr, s.peAddr, icmpReply), 2*time.Second)
			tracertHops(t, l, s.pe, "tracert -vpn-instance "+s.vpn+" "+s.lanAddr, s.lanAddr)
			if n := len(there.match(func(f frame) bool { return f.HasIP && (f.Proto == 1 || f.Proto == 17) })); n != 0 {
				t.Errorf("%s ping/tracert -vpn-instance %s: %d ICMP or UDP packets reached %s", s.pe, s.vpn, n, o.ce)
			}
			here.close()
			there.close()
			back.close()
		}
	})

	t.Run("core-lsp", func(t *testing.T) {
		// The core runs LDP: sessions on both core links, and each PE's
		// loopback traffic to the other PE carries P's LDP label on the
		// first link and none on the last (penultimate-hop popping).
		l.WaitCLI(t, "P", "display mpls ldp session", sessionsOperational("10.255.0.1", "10.255.0.3"), 30*time.Second)
		var toPE2, toPE1 uint32
		l.WaitCLI(t, "PE1", "display mpls lsp protocol ldp", ingressLSP("10.255.0.3/32", "GE0/3/0", &toPE2), 15*time.Second)
		l.WaitCLI(t, "PE2", "display mpls lsp protocol ldp", ingressLSP("10.255.0.1/32", "GE0/3/0", &toPE1), 15*time.Second)
		pIn := startCapture(t, l, "P", "eth1")
		pe2In := startCapture(t, l, "PE2", "eth3")
		defer pIn.close()
		defer pe2In.close()
		request := icmpBetween("10.255.0.1", "10.255.0.3", icmpEcho)
		pingOK(t, l, "PE1", "ping -c 3 -a 10.255.0.1 10.255.0.3", "10.255.0.3")
		pIn.wait(t, fmt.Sprintf("echo requests labelled %d", toPE2), 3, func(f frame) bool {
			return request(f) && len(f.Labels) == 1 && f.Labels[0].Label == toPE2
		}, 2*time.Second)
		pe2In.wait(t, "echo requests unlabelled on the last link", 3, func(f frame) bool {
			return request(f) && f.EtherType == etherIPv4
		}, 2*time.Second)
		tracertHops(t, l, "PE1", "tracert -a 10.255.0.1 10.255.0.3", "198.51.100.2", "10.255.0.3")
		tracertHops(t, l, "PE2", "tracert -a 10.255.0.3 10.255.0.1", "198.51.100.5", "10.255.0.1")
		l.WaitCLI(t, "PE1", "ping lsp -c 2 ip 10.255.0.3 32", labtest.Regexp(`2 packet\(s\) received`), 15*time.Second)
		// No static LSP is left in the core.
		for _, node := range []string{"PE1", "P", "PE2"} {
			l.WaitCLI(t, node, "display mpls static-lsp", lspState(map[string]staticLSPRow{}), 5*time.Second)
		}
	})

	// Last, as it changes the configuration: a packet arriving at a PE with
	// the pinned label of a VPN instance (apply-label per-instance static N)
	// is forwarded in that instance. Static routes (preference 60) take
	// over from BGP's (255): red's route to the far site resolves through a
	// public route whose static LSP's label P swaps to the far PE's pinned
	// label of red, and BGP advertises the pinned label from then on.
	t.Run("pinned-vpn-label", func(t *testing.T) {
		const (
			cea, cec     = "172.16.1.1", "172.16.3.1"
			toPE2, toPE1 = 1000, 1001 // red's labels on PE2 and PE1
		)
		configure(t, l, "PE1",
			"ip route-static 172.16.3.0 255.255.255.0 198.51.100.2",
			"static-lsp ingress red-to-pe2 destination 172.16.3.0 24 nexthop 198.51.100.2 out-label 300",
			"ip route-static vpn-instance red 172.16.3.0 255.255.255.0 172.16.3.1 public")
		configure(t, l, "PE2",
			"ip route-static 172.16.1.0 255.255.255.0 198.51.100.5",
			"static-lsp ingress red-to-pe1 destination 172.16.1.0 24 nexthop 198.51.100.5 out-label 301",
			"ip route-static vpn-instance red 172.16.1.0 255.255.255.0 172.16.1.1 public")
		configure(t, l, "P",
			fmt.Sprintf("static-lsp transit red-to-pe2 in-label 300 nexthop 198.51.100.6 out-label %d", toPE2),
			fmt.Sprintf("static-lsp transit red-to-pe1 in-label 301 nexthop 198.51.100.1 out-label %d", toPE1))
		pe2In := startCapture(t, l, "PE2", "eth3")
		pe1In := startCapture(t, l, "PE1", "eth3")
		ceD := startCapture(t, l, "CE-D", "eth1")
		defer pe2In.close()
		defer pe1In.close()
		defer ceD.close()
		request := func(label uint32) func(frame) bool {
			return func(f frame) bool {
				return icmpBetween(cea, cec, icmpEcho)(f) && len(f.Labels) == 1 && f.Labels[0].Label == label
			}
		}
		reply := func(label uint32) func(frame) bool {
			return func(f frame) bool {
				return icmpBetween(cec, cea, icmpReply)(f) && len(f.Labels) == 1 && f.Labels[0].Label == label
			}
		}
		// The labels reach PE2, which has no entry for them yet: dropped.
		l.WaitCLI(t, "PE1", "display mpls static-lsp red-to-pe2", labtest.Regexp(`(?m) Up$`), 10*time.Second)
		l.WaitCLI(t, "P", "display mpls static-lsp red-to-pe2", labtest.Regexp(`(?m) Up$`), 10*time.Second)
		pingFails(t, l, "CE-A", "ping -c 1 -t 300 -a "+cea+" "+cec)
		pe2In.wait(t, "echo requests labelled "+fmt.Sprint(toPE2), 1, request(toPE2), 2*time.Second)

		// Pinned, the labels are reserved and programmed: the echo crosses
		// the core in red and comes back.
		configure(t, l, "PE2", "ip vpn-instance red", "ipv4-family", fmt.Sprintf("apply-label per-instance static %d", toPE2))
		configure(t, l, "PE1", "ip vpn-instance red", "ipv4-family", fmt.Sprintf("apply-label per-instance static %d", toPE1))
		l.WaitCLI(t, "PE2", "display mpls lsp", labtest.Regexp(fmt.Sprintf(`(?m)^-/- +%d/NULL +-/- +red$`, toPE2)), 10*time.Second)
		l.WaitCLI(t, "PE2", "display ip vpn-instance verbose red", labtest.Regexp(fmt.Sprintf(`Per-Instance Label : %d\n`, toPE2)), 5*time.Second)
		pe2In.reset()
		pe1In.reset()
		pingOK(t, l, "CE-A", "ping -c 3 -a "+cea+" "+cec, cec)
		pe2In.wait(t, "echo requests labelled "+fmt.Sprint(toPE2), 3, request(toPE2), 2*time.Second)
		pe1In.wait(t, "echo replies labelled "+fmt.Sprint(toPE1), 3, reply(toPE1), 2*time.Second)
		// Blue's site with the same LAN saw none of it.
		if n := len(ceD.match(func(f frame) bool { return f.HasIP && f.Proto == 1 })); n != 0 {
			t.Errorf("%d ICMP packets reached CE-D (blue)", n)
		}
		// A label that another owner holds cannot be pinned.
		out, _ := l.CLI("PE2", "system-view; static-lsp egress taken in-label 1002; commit; ip vpn-instance blue; ipv4-family; apply-label per-instance static 1002; commit")
		if !strings.Contains(out, "Error: VPN instance blue cannot use the static label 1002: static LSP taken uses it.") {
			t.Errorf("pinning a taken label:\n%s", out)
		}
	})
}
