package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
)

// The OSPF lab: five vpnos routers and FRR's ospfd, each piece checked
// on the one topology (brought up once: lab tests share it).
//
//	              10.1.12.0/30
//	        r1 --------------- r2 ---- ce   (VPN instance red on r2: OSPF 2 PE-CE,
//	         \  p2p        p2p / GE0/4/0     192.0.2.0/30, CE loopback 172.16.1.1)
//	10.1.13.0 \               / 10.1.23.0/30
//	           \     p2p     /
//	             r3 --------                    area 0: r1 r2 r3 (p2p triangle) and
//	             |  10.2.34.0/30 (area 1)        the broadcast segment 10.1.0.0/24:
//	             r4 ---- frr (p2p, area 1)       r1 (priority 100) r2 (50) r3 (1) frr (0)
//
// r3 is the ABR between area 0 and area 1; r4 imports a static route; FRR
// sits on the broadcast segment (area 0) and on a point-to-point link to
// r4 (area 1), and redistributes a connected network. The broadcast segment
// is a bridge in a namespace of the test, its ports veths added to the
// running nodes (the daemons pick up ports that appear late); its costs
// are 100, so the triangle carries the traffic.
const ospfLab = "vo-ospf"

const ospfTopology = `name: ` + ospfLab + `
topology:
  nodes:
    r1: {kind: linux, binds: ["r1:/etc/vpnos/"]}
    r2: {kind: linux, binds: ["r2:/etc/vpnos/"]}
    r3: {kind: linux, binds: ["r3:/etc/vpnos/"]}
    r4: {kind: linux, binds: ["r4:/etc/vpnos/"]}
    ce: {kind: linux, binds: ["ce:/etc/vpnos/"]}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
    - endpoints: ["r2:eth2", "r3:eth1"]
    - endpoints: ["r1:eth2", "r3:eth2"]
    - endpoints: ["r3:eth4", "r4:eth1"]
    - endpoints: ["r2:eth4", "ce:eth1"]
`

// fastP2P are the interface lines of a point-to-point core link.
const fastP2P = " ospf network-type p2p\n ospf timer hello 1\n ospf timer dead 4\n"

func bcast(prio int) string {
	return fmt.Sprintf(" ospf cost 100\n ospf timer hello 1\n ospf timer dead 4\n ospf dr-priority %d\n", prio)
}

var ospfConfigs = map[string]string{
	"r1": `sysname r1
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 10.1.12.1 255.255.255.252
` + fastP2P + `interface GigabitEthernet0/2/0
 undo shutdown
 ip address 10.1.13.1 255.255.255.252
` + fastP2P + `interface GigabitEthernet0/3/0
 undo shutdown
 ip address 10.1.0.1 255.255.255.0
` + bcast(100) + `interface LoopBack0
 ip address 10.255.0.1 255.255.255.255
ospf 1 router-id 10.255.0.1
 area 0
  network 10.1.0.0 0.0.255.255
  network 10.255.0.1 0.0.0.0
`,
	"r2": `sysname r2
ip vpn-instance red
 ipv4-family
  route-distinguisher 65000:1
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 10.1.12.2 255.255.255.252
` + fastP2P + `interface GigabitEthernet0/2/0
 undo shutdown
 ip address 10.1.23.1 255.255.255.252
` + fastP2P + `interface GigabitEthernet0/3/0
 undo shutdown
 ip address 10.1.0.2 255.255.255.0
` + bcast(50) + `interface GigabitEthernet0/4/0
 undo shutdown
 ip binding vpn-instance red
 ip address 192.0.2.1 255.255.255.252
 ospf timer hello 1
 ospf timer dead 4
interface LoopBack0
 ip address 10.255.0.2 255.255.255.255
interface LoopBack1
 ip binding vpn-instance red
 ip address 172.16.0.2 255.255.255.255
ospf 1 router-id 10.255.0.2
 area 0
  network 10.1.0.0 0.0.255.255
  network 10.255.0.2 0.0.0.0
ospf 2 router-id 172.16.0.2 vpn-instance red
 area 0
  network 192.0.2.0 0.0.0.3
  network 172.16.0.2 0.0.0.0
`,
	"r3": `sysname r3
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 10.1.23.2 255.255.255.252
` + fastP2P + `interface GigabitEthernet0/2/0
 undo shutdown
 ip address 10.1.13.2 255.255.255.252
` + fastP2P + `interface GigabitEthernet0/3/0
 undo shutdown
 ip address 10.1.0.3 255.255.255.0
` + bcast(1) + `interface GigabitEthernet0/4/0
 undo shutdown
 ip address 10.2.34.1 255.255.255.252
` + fastP2P + `interface LoopBack0
 ip address 10.255.0.3 255.255.255.255
ospf 1 router-id 10.255.0.3
 area 0
  network 10.1.0.0 0.0.255.255
  network 10.255.0.3 0.0.0.0
 area 1
  network 10.2.34.0 0.0.0.3
`,
	"r4": `sysname r4
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 10.2.34.2 255.255.255.252
` + fastP2P + `interface GigabitEthernet0/2/0
 undo shutdown
 ip address 10.2.45.1 255.255.255.252
` + fastP2P + `interface LoopBack0
 ip address 10.255.0.4 255.255.255.255
ospf 1 router-id 10.255.0.4
 import-route static type 1 cost 5
 area 1
  network 10.2.0.0 0.0.255.255
  network 10.255.0.4 0.0.0.0
ip route-static 172.20.0.0 255.255.255.0 NULL0
`,
	"ce": `sysname ce
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 192.0.2.2 255.255.255.252
 ospf timer hello 1
 ospf timer dead 4
interface LoopBack0
 ip address 172.16.1.1 255.255.255.255
ospf 1 router-id 172.16.1.1
 area 0
  network 192.0.2.0 0.0.0.3
  network 172.16.1.1 0.0.0.0
`,
}

// FRR: priority 0 on the broadcast segment (never DR or BDR), point-to-point
// towards r4, and a connected network redistributed.
const ospfFRR = `hostname frr
interface vof-b
 ip ospf hello-interval 1
 ip ospf dead-interval 4
 ip ospf priority 0
 ip ospf cost 100
!
interface vof-p
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
!
router ospf
 ospf router-id 10.255.0.100
 network 10.1.0.0/24 area 0
 network 10.2.45.0/30 area 1
 network 10.255.0.100/32 area 0
 redistribute connected
`

// Namespaces of the test itself: the broadcast segment's bridge and FRR.
const (
	ospfSwitchNS = "vo-ospf-sw"
	ospfFRRNS    = "vo-ospf-frr"
)

func ospfCleanNamespaces() {
	for _, ns := range []string{ospfFRRNS, ospfSwitchNS} {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, pid := range strings.Fields(string(out)) {
			exec.Command("kill", "-9", pid).Run()
		}
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

// TestOSPF runs the OSPF lab: adjacencies on point-to-point links and on
// the broadcast segment (DR and BDR as the priorities say), loopbacks
// reachable across the areas by ping, the ABR, AS-external routes, FRR's
// ospfd Full on both network types with routes both ways, OSPF as the
// PE-CE protocol of a VPN instance, and a reroute in the triangle when a
// link goes down (and back when it comes up).
func TestOSPF(t *testing.T) {
	needRoot(t)
	labtest.CleanStale(t, ospfLab)
	ospfCleanNamespaces()
	t.Cleanup(ospfCleanNamespaces)
	dir := t.TempDir()
	for node, cfg := range ospfConfigs {
		if err := os.MkdirAll(filepath.Join(dir, node), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, node, "startup.cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "ospf.clab.yml")
	if err := os.WriteFile(file, []byte(ospfTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, file, labtest.Options{Binary: bin})
	st, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	nodeNS := func(node string) string {
		n, err := st.Node(node)
		if err != nil {
			t.Fatal(err)
		}
		return n.Runtime
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	// The broadcast segment: a bridge, one port per router, FRR's last.
	ip("netns", "add", ospfSwitchNS)
	ip("netns", "add", ospfFRRNS)
	ip("-n", ospfSwitchNS, "link", "add", "br0", "type", "bridge")
	ip("-n", ospfSwitchNS, "link", "set", "br0", "up")
	for _, r := range []string{"r1", "r2", "r3"} {
		ip("link", "add", "eth3", "netns", nodeNS(r), "type", "veth", "peer", "name", "vos-"+r, "netns", ospfSwitchNS)
		ip("-n", ospfSwitchNS, "link", "set", "vos-"+r, "master", "br0", "up")
		ip("-n", nodeNS(r), "link", "set", "eth3", "up")
	}
	ip("link", "add", "vof-b", "netns", ospfFRRNS, "type", "veth", "peer", "name", "vos-frr", "netns", ospfSwitchNS)
	ip("-n", ospfSwitchNS, "link", "set", "vos-frr", "master", "br0", "up")
	ip("link", "add", "vof-p", "netns", ospfFRRNS, "type", "veth", "peer", "name", "eth2", "netns", nodeNS("r4"))
	ip("-n", nodeNS("r4"), "link", "set", "eth2", "up")
	ip("-n", ospfFRRNS, "link", "set", "lo", "up")
	ip("-n", ospfFRRNS, "addr", "add", "10.255.0.100/32", "dev", "lo")
	ip("-n", ospfFRRNS, "addr", "add", "172.30.0.1/24", "dev", "lo")
	ip("-n", ospfFRRNS, "addr", "add", "10.1.0.100/24", "dev", "vof-b")
	ip("-n", ospfFRRNS, "addr", "add", "10.2.45.2/30", "dev", "vof-p")
	ip("-n", ospfFRRNS, "link", "set", "vof-b", "up")
	ip("-n", ospfFRRNS, "link", "set", "vof-p", "up")
	frr := labtest.StartFRR(t, ospfFRRNS, map[string]string{"ospfd": ospfFRR})

	peer := func(area, ifc, nbr, state string) labtest.Matcher {
		return labtest.Regexp(fmt.Sprintf(`(?m)^ %s\s+%s\s+%s\s+%s$`, regexp.QuoteMeta(area), regexp.QuoteMeta(ifc), regexp.QuoteMeta(nbr), state))
	}
	const within = 30 * time.Second

	t.Run("point-to-point", func(t *testing.T) {
		l.WaitCLI(t, "r1", "display ospf peer brief", labtest.All(
			peer("0.0.0.0", "GE0/1/0", "10.255.0.2", "Full"),
			peer("0.0.0.0", "GE0/2/0", "10.255.0.3", "Full")), within)
		l.WaitCLI(t, "r3", "display ospf peer brief", labtest.All(
			peer("0.0.0.1", "GE0/4/0", "10.255.0.4", "Full"),
			peer("0.0.0.0", "GE0/1/0", "10.255.0.2", "Full")), within)
		out := l.WaitCLI(t, "r1", "display ospf interface", labtest.Regexp(`10\.1\.12\.1\s+P2P\s+P-2-P`), within)
		t.Logf("r1:\n%s", out)
	})

	t.Run("broadcast DR and BDR", func(t *testing.T) {
		// r1 (priority 100) is the DR, r2 (50) the BDR; r3 and FRR are
		// DROthers: Full with the DR and the BDR, 2-Way with each other.
		l.WaitCLI(t, "r3", "display ospf peer brief", labtest.All(
			peer("0.0.0.0", "GE0/3/0", "10.255.0.1", "Full"),
			peer("0.0.0.0", "GE0/3/0", "10.255.0.2", "Full"),
			peer("0.0.0.0", "GE0/3/0", "10.255.0.100", "2-Way")), within)
		l.WaitCLI(t, "r1", "display ospf peer brief", labtest.All(
			peer("0.0.0.0", "GE0/3/0", "10.255.0.2", "Full"),
			peer("0.0.0.0", "GE0/3/0", "10.255.0.3", "Full"),
			peer("0.0.0.0", "GE0/3/0", "10.255.0.100", "Full")), within)
		for _, r := range []string{"r1", "r2", "r3"} {
			l.WaitCLI(t, r, "display ospf interface", labtest.Regexp(`10\.1\.0\.\d+\s+Broadcast\s+(DR|BDR|DROther)\s+100\s+\d+\s+10\.1\.0\.1\s+10\.1\.0\.2`), within)
		}
		l.WaitCLI(t, "r1", "display ospf interface", labtest.Regexp(`10\.1\.0\.1\s+Broadcast\s+DR\s`), within)
		l.WaitCLI(t, "r2", "display ospf interface", labtest.Regexp(`10\.1\.0\.2\s+Broadcast\s+BDR\s`), within)
		l.WaitCLI(t, "r3", "display ospf interface", labtest.Regexp(`10\.1\.0\.3\s+Broadcast\s+DROther\s`), within)
		// The DR originates the segment's network LSA, listing all four.
		l.WaitCLI(t, "r2", "display ospf lsdb network", labtest.All(
			labtest.Contains("Ls id     : 10.1.0.1"), labtest.Contains("Attached Router    10.255.0.100"),
			labtest.Contains("Attached Router    10.255.0.3")), within)
	})

	t.Run("loopbacks across the core", func(t *testing.T) {
		route := func(dst, proto, nh string) labtest.Matcher {
			return labtest.Rows("Destination/Mask", labtest.Row{"Destination/Mask": dst, "Proto": proto, "NextHop": nh})
		}
		l.WaitCLI(t, "r1", "display ip routing-table", labtest.All(
			route("10.255.0.2/32", "OSPF", "10.1.12.2"),
			route("10.255.0.3/32", "OSPF", "10.1.13.2"),
			route("10.255.0.4/32", "OSPF", "10.1.13.2"),   // inter-area, through the ABR
			route("10.2.34.0/30", "OSPF", "10.1.13.2"),    // r3's area 1 link
			route("10.1.23.0/30", "OSPF", "10.1.12.2"),    // ECMP: both neighbours
			route("172.20.0.0/24", "O_ASE", "10.1.13.2"),  // r4's static route, imported
			route("172.30.0.0/24", "O_ASE", "10.1.0.100"), // FRR's connected network
		), within)
		for _, dst := range []string{"10.255.0.2", "10.255.0.3", "10.255.0.4", "10.255.0.100"} {
			l.WaitCLI(t, "r1", "ping -c 1 -a 10.255.0.1 "+dst, labtest.Contains("1 packet(s) received"), within)
		}
		out := l.WaitCLI(t, "r1", "display ip routing-table 172.20.0.0 24", labtest.Regexp(`O_ASE\s+150\s+7\s`), within) // type 1: 5 + 2
		t.Logf("r1:\n%s", out)
		// The customer's routes stay in the VPN instance.
		if out, err := l.CLI("r1", "display ip routing-table 172.16.1.1"); err != nil || strings.Contains(out, "172.16.1.1/32") {
			t.Errorf("the customer's loopback leaked into the core: %v\n%s", err, out)
		}
	})

	t.Run("ABR", func(t *testing.T) {
		l.WaitCLI(t, "r3", "display ospf brief", labtest.Regexp(`RouterID: 10\.255\.0\.3\s+Border Router: AREA`), within)
		// r4 (area 1) learns area 0 through summary LSAs of r3 (and FRR,
		// the other ABR) and reaches r1's loopback through r3.
		l.WaitCLI(t, "r4", "display ospf lsdb summary", labtest.All(
			labtest.Regexp(`Ls id     : 10\.255\.0\.1\n  Adv rtr   : 10\.255\.0\.3\n`)), within)
		l.WaitCLI(t, "r4", "display ospf routing", labtest.Regexp(`10\.255\.0\.1/32\s+2\s+Inter-area\s+10\.2\.34\.1\s+10\.255\.0\.3\s+0\.0\.0\.1`), within)
		l.WaitCLI(t, "r4", "ping -c 1 -a 10.255.0.4 10.255.0.1", labtest.Contains("1 packet(s) received"), within)
	})

	t.Run("FRR", func(t *testing.T) {
		deadline := time.Now().Add(within)
		for {
			nbrs, err := frr.OSPFNeighbors()
			if err == nil && nbrs["10.255.0.1"] == "Full/DR" && nbrs["10.255.0.2"] == "Full/Backup" &&
				nbrs["10.255.0.3"] == "2-Way/DROther" && nbrs["10.255.0.4"] == "Full/-" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("FRR's neighbours %v (%v)", nbrs, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// zebra installed vpnos's routes: loopbacks of both areas and r4's
		// imported static route.
		for _, p := range []string{"10.255.0.1", "10.255.0.4", "172.20.0.0/24"} {
			deadline := time.Now().Add(within)
			for !strings.Contains(frr.KernelRoute(p), "proto ospf") {
				if time.Now().After(deadline) {
					t.Fatalf("FRR has no OSPF route to %s: %q", p, frr.KernelRoute(p))
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		// And vpnos reaches FRR's loopback and connected network.
		l.WaitCLI(t, "r4", "display ip routing-table", labtest.All(
			labtest.Rows("Destination/Mask", labtest.Row{"Destination/Mask": "10.255.0.100/32", "Proto": "OSPF", "NextHop": "10.2.45.2"}),
			labtest.Rows("Destination/Mask", labtest.Row{"Destination/Mask": "172.30.0.0/24", "Proto": "O_ASE", "NextHop": "10.2.45.2"})), within)
		l.WaitCLI(t, "r4", "ping -c 1 10.255.0.100", labtest.Contains("1 packet(s) received"), within)
	})

	t.Run("PE-CE in a VPN instance", func(t *testing.T) {
		l.WaitCLI(t, "r2", "display ospf 2 peer brief", peer("0.0.0.0", "GE0/4/0", "172.16.1.1", "Full"), within)
		l.WaitCLI(t, "r2", "display ip routing-table vpn-instance red", labtest.Rows("Destination/Mask",
			labtest.Row{"Destination/Mask": "172.16.1.1/32", "Proto": "OSPF", "NextHop": "192.0.2.2", "Interface": "GigabitEthernet0/4/0"}), within)
		l.WaitCLI(t, "ce", "display ip routing-table", labtest.Rows("Destination/Mask",
			labtest.Row{"Destination/Mask": "172.16.0.2/32", "Proto": "OSPF", "NextHop": "192.0.2.1"}), within)
		l.WaitCLI(t, "r2", "ping -vpn-instance red -c 1 -a 172.16.0.2 172.16.1.1", labtest.Contains("1 packet(s) received"), within)
		// Neither side learns the other's instance: the public process
		// knows nothing of the CE, the CE nothing of the core.
		if out, err := l.CLI("r2", "display ip routing-table 172.16.1.1"); err != nil || strings.Contains(out, "172.16.1.1/32") {
			t.Errorf("r2's public instance has the CE's route: %v\n%s", err, out)
		}
		if out, err := l.CLI("ce", "display ip routing-table 10.255.0.1"); err != nil || strings.Contains(out, "10.255.0.1/32") {
			t.Errorf("the CE has a core route: %v\n%s", err, out)
		}
		out := l.WaitCLI(t, "r2", "display ospf 2 brief", labtest.Contains("VPN-Instance: red"), within)
		t.Logf("r2:\n%s", out)
	})

	t.Run("reroute in the triangle", func(t *testing.T) {
		direct := labtest.Rows("Destination/Mask", labtest.Row{"Destination/Mask": "10.255.0.2/32", "Proto": "OSPF", "Cost": "1", "NextHop": "10.1.12.2"})
		around := labtest.Rows("Destination/Mask", labtest.Row{"Destination/Mask": "10.255.0.2/32", "Proto": "OSPF", "Cost": "2", "NextHop": "10.1.13.2"})
		l.WaitCLI(t, "r1", "display ip routing-table 10.255.0.2", direct, within)
		// r1's port to r2 goes down: the route moves to r3 at once (the
		// port's state, not the dead interval); r2's side moves too.
		start := time.Now()
		ip("-n", nodeNS("r1"), "link", "set", "eth1", "down")
		l.WaitCLI(t, "r1", "display ip routing-table 10.255.0.2", around, within)
		t.Logf("r1's route to r2's loopback moved after %s", time.Since(start).Round(time.Millisecond))
		l.WaitCLI(t, "r2", "display ip routing-table 10.255.0.1", labtest.Rows("Destination/Mask",
			labtest.Row{"Destination/Mask": "10.255.0.1/32", "Proto": "OSPF", "NextHop": "10.1.23.2"}), within)
		l.WaitCLI(t, "r1", "ping -c 1 -a 10.255.0.1 10.255.0.2", labtest.Contains("1 packet(s) received"), within)
		l.WaitCLI(t, "r1", "display ospf peer brief", labtest.MatchFunc(func(out string) error {
			if strings.Contains(out, "GE0/1/0") {
				return fmt.Errorf("a neighbour on the port that is down")
			}
			return nil
		}), within)
		// Back up: the adjacency comes back and the route with it.
		ip("-n", nodeNS("r1"), "link", "set", "eth1", "up")
		l.WaitCLI(t, "r1", "display ospf peer brief", peer("0.0.0.0", "GE0/1/0", "10.255.0.2", "Full"), within)
		l.WaitCLI(t, "r1", "display ip routing-table 10.255.0.2", direct, within)
	})
}
