package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// bgpLab is the name of the reference lab's copy the BGP tests run.
const bgpLab = "b2-l3vpn"

// peerRow matches an Established row of display bgp ... peer.
func peerRow(addr string, as int) labtest.Matcher {
	return labtest.Regexp(`(?m)^ +` + regexp.QuoteMeta(addr) + ` +4 +` + strconv.Itoa(as) + ` +.* Established +\d+$`)
}

// routeRow matches a row of display ip routing-table: prefix, protocol and
// next hop.
func routeRow(prefix, proto, nexthop string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^ *` + regexp.QuoteMeta(prefix) + ` +` + proto + ` +\d+ +\d+ +\S+ +` + regexp.QuoteMeta(nexthop) + ` `)
}

func hasRoute(prefix, proto, nexthop string) labtest.Matcher {
	re := routeRow(prefix, proto, nexthop)
	return labtest.MatchFunc(func(out string) error {
		if !re.MatchString(out) {
			return fmt.Errorf("no %s route to %s through %s", proto, prefix, nexthop)
		}
		return nil
	})
}

func noRoute(prefix string) labtest.Matcher {
	re := regexp.MustCompile(`(?m)^ *` + regexp.QuoteMeta(prefix) + ` `)
	return labtest.MatchFunc(func(out string) error {
		if re.MatchString(out) {
			return fmt.Errorf("a route to %s is still there", prefix)
		}
		return nil
	})
}

// vpnLabel reads the per-instance label of a VPN instance from display ip
// vpn-instance verbose (the label BGP advertises).
func vpnLabel(t *testing.T, l *labtest.Lab, node, vpn string) uint32 {
	t.Helper()
	var label uint32
	l.WaitCLI(t, node, "display ip vpn-instance verbose "+vpn, labtest.MatchFunc(func(out string) error {
		m := regexp.MustCompile(`Per-Instance Label : (\d+)\n`).FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("no per-instance label")
		}
		n, _ := strconv.ParseUint(m[1], 10, 32)
		label = uint32(n)
		return nil
	}), 10*time.Second)
	return label
}

// daemonPID returns the PID of the vpnos daemon of a netns lab node: the
// child of the node's supervisor (vpnos boot).
func daemonPID(t *testing.T, node string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", "clab-"+bgpLab+"-"+node).Output()
	if err != nil {
		t.Fatalf("pids of %s: %v", node, err)
	}
	pids := strings.Fields(string(out))
	in := map[string]bool{}
	for _, p := range pids {
		in[p] = true
	}
	for _, p := range pids {
		stat, err := exec.Command("cat", "/proc/"+p+"/stat").Output()
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		cmd, _ := exec.Command("cat", "/proc/"+p+"/cmdline").Output()
		if len(f) > 1 && in[f[1]] && strings.Contains(string(cmd), "daemon") {
			n, _ := strconv.Atoi(p)
			return n
		}
	}
	var b strings.Builder
	for _, p := range pids {
		cmd, _ := exec.Command("cat", "/proc/"+p+"/cmdline").Output()
		fmt.Fprintf(&b, "%s %q\n", p, cmd)
	}
	t.Fatalf("no daemon among the processes of %s:\n%s", node, b.String())
	return 0
}

// TestL3VPNBGP runs the reference lab (lab/l3vpn) with BGP: VPNv4 between
// the PEs' loopbacks over the OSPF and LDP core, EBGP to the red CEs,
// static routes to the blue CEs. CE to CE pings cross the core in both VPNs
// with the same addresses, labelled twice on the PE-P link (P's LDP label
// for the far PE above the far PE's VPN label); the VPNs stay apart; a CE's
// withdrawn route leaves the far PE within seconds; a PE daemon killed
// comes back and its routes with it; two CEs at the same address on one PE,
// in two VPN instances, each have their EBGP session; and a session to an
// address the core does not reach stays down inside the node.
func TestL3VPNBGP(t *testing.T) {
	needRoot(t)
	labtest.CleanStale(t, bgpLab)
	topo, dir := labCopy(t, "l3vpn", "l3vpn.clab.yml", bgpLab, "")
	l := labtest.Up(t, topo, labtest.Options{Binary: bin, Runtime: runner.RuntimeNetns})
	for _, n := range []string{"PE1", "P", "PE2", "CE-A", "CE-B", "CE-C", "CE-D"} {
		b, err := os.ReadFile(filepath.Join(dir, n, "startup.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := string(b)
		l.WaitCLI(t, n, "display current-configuration", labtest.MatchFunc(func(out string) error {
			return sameConfig(cfg, out)
		}), 20*time.Second)
	}
	const (
		lanA, lanC = "172.16.1.0/24", "172.16.3.0/24"
		hostA      = "172.16.1.1"
		hostC      = "172.16.3.1"
	)

	t.Run("sessions", func(t *testing.T) {
		// The core comes up first (OSPF, LDP), then the IBGP session
		// between the loopbacks.
		l.WaitCLI(t, "PE1", "display bgp vpnv4 all peer", peerRow("10.255.0.3", 65000), 60*time.Second)
		l.WaitCLI(t, "PE2", "display bgp vpnv4 all peer", peerRow("10.255.0.1", 65000), 10*time.Second)
		l.WaitCLI(t, "PE1", "display bgp vpnv4 vpn-instance red peer", peerRow("192.0.2.2", 64501), 30*time.Second)
		l.WaitCLI(t, "PE2", "display bgp vpnv4 vpn-instance red peer", peerRow("203.0.113.2", 64503), 30*time.Second)
		l.WaitCLI(t, "CE-A", "display bgp peer", peerRow("192.0.2.1", 65000), 10*time.Second)
	})

	t.Run("routes", func(t *testing.T) {
		// red: the far CE's LAN by IBGP through the far PE, the near one
		// by EBGP from the CE; blue: the far LAN by IBGP (the far PE
		// exports its static route), the near one static.
		for _, c := range []struct{ pe, far, vpn, near, nearProto, nearNH string }{
			{"PE1", "10.255.0.3", "red", lanA, "EBGP", "192.0.2.2"},
			{"PE1", "10.255.0.3", "blue", lanA, "Static", "192.0.2.6"},
			{"PE2", "10.255.0.1", "red", lanC, "EBGP", "203.0.113.2"},
			{"PE2", "10.255.0.1", "blue", lanC, "Static", "203.0.113.6"},
		} {
			farLAN := lanC
			if c.pe == "PE2" {
				farLAN = lanA
			}
			l.WaitCLI(t, c.pe, "display ip routing-table vpn-instance "+c.vpn, labtest.All(
				hasRoute(farLAN, "IBGP", c.far), hasRoute(c.near, c.nearProto, c.nearNH)), 30*time.Second)
		}
		// The CEs of red learn the far LAN by EBGP.
		l.WaitCLI(t, "CE-A", "display ip routing-table", hasRoute(lanC, "EBGP", "192.0.2.1"), 15*time.Second)
		l.WaitCLI(t, "CE-C", "display ip routing-table", hasRoute(lanA, "EBGP", "203.0.113.1"), 15*time.Second)
		// Each instance holds its own routes only: the other VPN's PE-CE
		// links are not there, nor is the public instance's core.
		// (Destinations only: the VPN routes' next hop is the far PE.)
		dest := func(partial string) *regexp.Regexp { return regexp.MustCompile(`(?m)^ *` + regexp.QuoteMeta(partial)) }
		out, _ := l.CLI("PE1", "display ip routing-table vpn-instance red")
		for _, bad := range []string{"203.0.113.4/30", "192.0.2.4/30", "10.255.0.", "198.51.100."} {
			if dest(bad).MatchString(out) {
				t.Errorf("PE1 red holds %s:\n%s", bad, out)
			}
		}
		out, _ = l.CLI("PE1", "display ip routing-table")
		for _, bad := range []string{"172.16.", "192.0.2.", "203.0.113."} {
			if dest(bad).MatchString(out) {
				t.Errorf("PE1's public table holds %s:\n%s", bad, out)
			}
		}
		l.WaitCLI(t, "PE1", "display bgp vpnv4 all routing-table", labtest.All(
			labtest.Regexp(`Route Distinguisher: 10\.255\.0\.3:1`), labtest.Regexp(`Route Distinguisher: 10\.255\.0\.3:2`)), 5*time.Second)
	})

	t.Run("ce-to-ce", func(t *testing.T) {
		var toPE2 uint32
		l.WaitCLI(t, "PE1", "display mpls lsp protocol ldp", ingressLSP("10.255.0.3/32", "GE0/3/0", &toPE2), 15*time.Second)
		labels := map[string]uint32{"red": vpnLabel(t, l, "PE2", "red"), "blue": vpnLabel(t, l, "PE2", "blue")}
		if labels["red"] == labels["blue"] {
			t.Fatalf("red and blue share the label %d on PE2", labels["red"])
		}
		for _, c := range []struct{ from, vpn, other string }{{"CE-A", "red", "CE-D"}, {"CE-B", "blue", "CE-C"}} {
			wire := startCapture(t, l, "P", "eth1")
			last := startCapture(t, l, "PE2", "eth3")
			other := startCapture(t, l, c.other, "eth1")
			pingOK(t, l, c.from, "ping -c 3 -a "+hostA+" "+hostC, hostC)
			// On the PE-P link: P's LDP label for PE2 above PE2's label
			// of the VPN instance.
			wire.wait(t, fmt.Sprintf("%s echoes labelled %d/%d", c.vpn, toPE2, labels[c.vpn]), 3, func(f frame) bool {
				return icmpBetween(hostA, hostC, icmpEcho)(f) && len(f.Labels) == 2 &&
					f.Labels[0].Label == toPE2 && f.Labels[1].Label == labels[c.vpn]
			}, 2*time.Second)
			// P popped its label (PE2 advertised implicit null): the VPN
			// label alone reaches PE2.
			last.wait(t, fmt.Sprintf("%s echoes labelled %d on the last link", c.vpn, labels[c.vpn]), 3, func(f frame) bool {
				return icmpBetween(hostA, hostC, icmpEcho)(f) && len(f.Labels) == 1 && f.Labels[0].Label == labels[c.vpn]
			}, 2*time.Second)
			// The other VPN's site with the same LAN saw none of it.
			if n := len(other.match(func(f frame) bool { return f.HasIP && f.Proto == 1 })); n != 0 {
				t.Errorf("%d ICMP packets of %s reached %s", n, c.vpn, c.other)
			}
			wire.close()
			last.close()
			other.close()
		}
		pingOK(t, l, "CE-C", "ping -c 2 -a "+hostC+" "+hostA, hostA)
		pingOK(t, l, "CE-D", "ping -c 2 -a "+hostC+" "+hostA, hostA)
	})

	t.Run("isolated", func(t *testing.T) {
		// red reaches nothing of blue (and the reverse), nor the core.
		pingFails(t, l, "CE-A", "ping -c 1 -t 300 -a "+hostA+" 203.0.113.6")
		pingFails(t, l, "CE-B", "ping -c 1 -t 300 -a "+hostA+" 203.0.113.2")
		pingFails(t, l, "CE-A", "ping -c 1 -t 300 -a "+hostA+" 10.255.0.3")
		l.WaitCLI(t, "PE1", "display ip routing-table vpn-instance blue", noRoute("203.0.113.0/30"), time.Second)
	})

	t.Run("withdraw", func(t *testing.T) {
		// CE-C stops announcing its LAN: it leaves PE1's red (and CE-A)
		// within seconds; blue's route to the same LAN stays.
		configure(t, l, "CE-C", "bgp 64503", "ipv4-family unicast", "undo network 172.16.3.0 255.255.255.0")
		start := time.Now()
		l.WaitCLI(t, "PE1", "display ip routing-table vpn-instance red", noRoute(lanC), 5*time.Second)
		t.Logf("withdrawn from PE1's red within %v", time.Since(start).Round(time.Millisecond))
		l.WaitCLI(t, "CE-A", "display ip routing-table", noRoute(lanC), 5*time.Second)
		l.WaitCLI(t, "PE1", "display ip routing-table vpn-instance blue", hasRoute(lanC, "IBGP", "10.255.0.3"), time.Second)
		pingFails(t, l, "CE-A", "ping -c 1 -t 300 -a "+hostA+" "+hostC)
		configure(t, l, "CE-C", "bgp 64503", "ipv4-family unicast", "network 172.16.3.0 255.255.255.0")
		l.WaitCLI(t, "PE1", "display ip routing-table vpn-instance red", hasRoute(lanC, "IBGP", "10.255.0.3"), 10*time.Second)
		pingOK(t, l, "CE-A", "ping -c 2 -a "+hostA+" "+hostC, hostC)
	})

	t.Run("pe-daemon-killed", func(t *testing.T) {
		// PE2's daemon dies: the supervisor starts it again from its
		// startup configuration, the sessions come back and so do the
		// routes and the pings.
		upCount := func(out string) int {
			m := regexp.MustCompile(`BGP Peer Up count: (\d+)`).FindStringSubmatch(out)
			if m == nil {
				return -1
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}
		out := l.WaitCLI(t, "PE1", "display bgp peer 10.255.0.3 verbose", labtest.Regexp(`BGP current state: Established`), 5*time.Second)
		ups := upCount(out)
		pid := daemonPID(t, "PE2")
		if err := exec.Command("kill", "-9", strconv.Itoa(pid)).Run(); err != nil {
			t.Fatal(err)
		}
		// The session went down (the kernel closed PE2's end) and came up
		// again with the new daemon.
		l.WaitCLI(t, "PE1", "display bgp peer 10.255.0.3 verbose", labtest.MatchFunc(func(out string) error {
			if n := upCount(out); n <= ups || !strings.Contains(out, "BGP current state: Established") {
				return fmt.Errorf("up count %d (was %d), not Established again", n, ups)
			}
			return nil
		}), 90*time.Second)
		for _, vpn := range []string{"red", "blue"} {
			l.WaitCLI(t, "PE1", "display ip routing-table vpn-instance "+vpn, hasRoute(lanC, "IBGP", "10.255.0.3"), 30*time.Second)
		}
		if p := daemonPID(t, "PE2"); p == pid {
			t.Errorf("PE2's daemon is still %d", p)
		}
		pingOK(t, l, "CE-A", "ping -c 2 -a "+hostA+" "+hostC, hostC)
		pingOK(t, l, "CE-B", "ping -c 2 -a "+hostA+" "+hostC, hostC)
	})

	t.Run("unreachable-peer", func(t *testing.T) {
		// A peer at an address the core does not reach: its session
		// stays down (the SYN goes no further than the node's forwarder,
		// which has no route; the attempt times out within 10 seconds and
		// the session goes to Active) and the others stay up.
		configure(t, l, "PE1", "bgp 65000", "peer 10.255.0.99 as-number 65000", "peer 10.255.0.99 connect-interface LoopBack0",
			"ipv4-family vpnv4", "peer 10.255.0.99 enable")
		l.WaitCLI(t, "PE1", "display bgp peer 10.255.0.99 verbose", labtest.All(
			labtest.Regexp(`BGP current state: Active`), labtest.Regexp(`BGP last state: Connect`)), 30*time.Second)
		for range 3 {
			out, _ := l.CLI("PE1", "display bgp vpnv4 all peer")
			if peerRow("10.255.0.99", 65000).Match(out) == nil {
				t.Fatalf("a session to an unreachable address is Established:\n%s", out)
			}
		}
		l.WaitCLI(t, "PE1", "display bgp vpnv4 all peer", peerRow("10.255.0.3", 65000), time.Second)
		configure(t, l, "PE1", "bgp 65000", "undo peer 10.255.0.99")
	})

	t.Run("same-ce-address-two-vpns", func(t *testing.T) {
		// CE-B moves to CE-A's addresses (192.0.2.2 towards 192.0.2.1)
		// and speaks EBGP to PE1 in blue: PE1 has two sessions to
		// 192.0.2.2, one in each instance, and both VPNs carry on.
		configure(t, l, "PE1", "undo ip route-static vpn-instance blue 172.16.1.0 255.255.255.0 192.0.2.6",
			"interface GigabitEthernet0/2/0", "ip address 192.0.2.1 255.255.255.252", "quit",
			"bgp 65000", "ipv4-family vpn-instance blue", "peer 192.0.2.2 as-number 64502")
		configure(t, l, "CE-B", "undo ip route-static 0.0.0.0 0.0.0.0 192.0.2.5",
			"interface GigabitEthernet0/1/0", "ip address 192.0.2.2 255.255.255.252", "quit",
			"bgp 64502", "peer 192.0.2.1 as-number 65000", "ipv4-family unicast", "network 172.16.1.0 255.255.255.0", "peer 192.0.2.1 enable")
		l.WaitCLI(t, "PE1", "display bgp vpnv4 vpn-instance blue peer", peerRow("192.0.2.2", 64502), 30*time.Second)
		l.WaitCLI(t, "PE1", "display bgp vpnv4 vpn-instance red peer", peerRow("192.0.2.2", 64501), 5*time.Second)
		l.WaitCLI(t, "PE1", "display ip routing-table vpn-instance blue", hasRoute(lanA, "EBGP", "192.0.2.2"), 15*time.Second)
		l.WaitCLI(t, "PE2", "display ip routing-table vpn-instance blue", hasRoute(lanA, "IBGP", "10.255.0.1"), 15*time.Second)
		l.WaitCLI(t, "CE-B", "display ip routing-table", hasRoute(lanC, "EBGP", "192.0.2.1"), 15*time.Second)
		pingOK(t, l, "CE-B", "ping -c 2 -a "+hostA+" "+hostC, hostC)
		pingOK(t, l, "CE-A", "ping -c 2 -a "+hostA+" "+hostC, hostC)
		pingOK(t, l, "CE-D", "ping -c 2 -a "+hostC+" "+hostA, hostA)
	})
}
