package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// The labs of route reflection and VPN topologies (lab/rr, lab/rr-hier,
// lab/hub-spoke) run under the prefix rr: their namespaces are clab-rr-*.
const rrPrefix = "rr"

// rrLabCopy copies lab/<folder>/<file> under the name rr-<name>, with its
// binds made absolute, so that the test does not collide with the same lab
// brought up by hand (`vpnos lab up lab/<folder>/<file>`).
func rrLabCopy(t testing.TB, folder, file, name string) string {
	t.Helper()
	root, err := labtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "lab", folder)
	src, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^name: .*$`).ReplaceAllString(string(src), "name: "+rrPrefix+"-"+name)
	text = regexp.MustCompile(`"([A-Za-z0-9-]+):/etc/vpnos/"`).ReplaceAllString(text, `"`+dir+`/$1:/etc/vpnos/"`)
	labtest.CleanStale(t, rrPrefix+"-"+name)
	return writeTopology(t, file, text)
}

// sameStartup checks that every node of lab/<folder> runs its startup.cfg,
// as display current-configuration prints it.
func sameStartup(t testing.TB, l *labtest.Lab, folder string) {
	t.Helper()
	root, err := labtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := l.Nodes()
	if err != nil {
		t.Fatal(err)
	}
	waitStartupLoaded(t, l, filepath.Join(root, "lab", folder), 10*time.Second, nodes...)
}

// bgpPeerStates reads the peer rows of display bgp [vpnv4 all] peer
// (Peer V AS MsgRcvd MsgSent OutQ Up/Down State PrefRcv): peer -> state.
func bgpPeerStates(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 8 && regexpMatch(`^\d+\.\d+\.\d+\.\d+$`, f[0]) && f[1] == "4" {
			m[f[0]] = f[7]
		}
	}
	return m
}

// bgpPeers matches display bgp [vpnv4 all] peer: each peer in the state
// given.
func bgpPeers(state string, peers ...string) labtest.Matcher {
	return labtest.MatchFunc(func(out string) error {
		got := bgpPeerStates(out)
		for _, p := range peers {
			if got[p] != state {
				return fmt.Errorf("peer %s is %q, want %s", p, got[p], state)
			}
		}
		return nil
	})
}

// bgpPeerNot matches display bgp [vpnv4 all] peer when peer is listed and
// not Established.
func bgpPeerNot(peer string) labtest.Matcher {
	return labtest.MatchFunc(func(out string) error {
		switch st, ok := bgpPeerStates(out)[peer]; {
		case !ok:
			return fmt.Errorf("%s not listed", peer)
		case st == "Established":
			return fmt.Errorf("%s still Established", peer)
		}
		return nil
	})
}

// without matches output that does not contain s.
func without(s string) labtest.Matcher {
	return labtest.MatchFunc(func(out string) error {
		if strings.Contains(out, s) {
			return fmt.Errorf("%q still there", s)
		}
		return nil
	})
}

// paths matches the detail of one VPNv4 prefix (display bgp vpnv4 all
// routing-table P M): n paths, each with every line of want.
func paths(n int, want ...string) labtest.Matcher {
	return labtest.MatchFunc(func(out string) error {
		got := strings.Count(out, "BGP routing table entry information of")
		if got != n {
			return fmt.Errorf("%d paths, want %d", got, n)
		}
		for _, w := range want {
			if c := strings.Count(out, w); c != n {
				return fmt.Errorf("%q in %d paths, want %d", w, c, n)
			}
		}
		return nil
	})
}

// vpnRoute matches display ip routing-table vpn-instance: prefix through
// the interface given.
func vpnRoute(prefix, proto, iface string) labtest.Matcher {
	return labtest.Rows("Destination/Mask", labtest.Row{"Destination/Mask": prefix, "Proto": proto, "Interface": iface})
}

// killNode ends every process of a netns lab node at once (the router
// loses power: its sessions end without a NOTIFICATION).
func killNode(t testing.TB, l *labtest.Lab, node string) {
	t.Helper()
	st, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := st.Node(node)
	if err != nil {
		t.Fatal(err)
	}
	pids := runner.NetnsProcs([]string{ns.Runtime})[ns.Runtime]
	if len(pids) == 0 {
		t.Fatalf("%s: no process", node)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %s (%d): %v", node, pid, err)
		}
	}
}

// within polls a CLI command until it matches and logs how long it took.
func within(t testing.TB, l *labtest.Lab, since time.Time, node, cmd string, m labtest.Matcher, d time.Duration, what string) {
	t.Helper()
	l.WaitCLI(t, node, cmd, m, d)
	t.Logf("%s: %s after %s", node, what, time.Since(since).Round(10*time.Millisecond))
}

// TestRouteReflectorPair (lab/rr): two reflectors of cluster 0.0.0.1, each
// a client of the other, serve PE1 and PE2. Both PEs see both reflectors
// Established and get each route twice (Originator the other PE, Cluster
// list 0.0.0.1), while each reflector keeps only the PE's path (the other
// reflector's copy carries its own cluster: a loop). A prefix withdrawn at
// CE1 leaves both reflectors and PE2 within seconds. CE1 reaches CE2 over
// the VPN before and after PE1 loses its preferred core link and RR1 loses
// power; RR2 alone carries a new route afterwards.
func TestRouteReflectorPair(t *testing.T) {
	needRoot(t)
	l := labtest.Up(t, rrLabCopy(t, "rr", "rr.clab.yml", "pair"), labtest.Options{Binary: bin})
	sameStartup(t, l, "rr")
	start := time.Now()
	for _, pe := range []string{"PE1", "PE2"} {
		l.WaitCLI(t, pe, "display bgp vpnv4 all peer", bgpPeers("Established", "10.255.0.11", "10.255.0.12"), 60*time.Second)
	}
	for rr, other := range map[string]string{"RR1": "10.255.0.12", "RR2": "10.255.0.11"} {
		l.WaitCLI(t, rr, "display bgp vpnv4 all peer", bgpPeers("Established", "10.255.0.1", "10.255.0.3", other), 30*time.Second)
	}
	t.Logf("sessions Established %s after the lab came up", time.Since(start).Round(10*time.Millisecond))

	// Each reflector: one path, PE1's; PE2: two, one from each reflector.
	for _, rr := range []string{"RR1", "RR2"} {
		l.WaitCLI(t, rr, "display bgp vpnv4 all routing-table 172.16.11.0 24",
			paths(1, "From: 10.255.0.1 (10.255.0.1)", "Original nexthop: 10.255.0.1"), 30*time.Second)
	}
	l.WaitCLI(t, "PE2", "display bgp vpnv4 vpn-instance red routing-table 172.16.11.0 24",
		paths(2, "Originator: 10.255.0.1", "Cluster list: 0.0.0.1", "Original nexthop: 10.255.0.1"), 30*time.Second)
	l.WaitCLI(t, "PE2", "display ip routing-table vpn-instance red", vpnRoute("172.16.11.0/24", "IBGP", "GigabitEthernet0/3/0"), 10*time.Second)
	pingOK(t, l, "CE1", "ping -c 3 -a 172.16.1.1 172.16.3.1", "172.16.3.1")

	// A withdrawal leaves everyone: no reflector keeps it alive.
	configure(t, l, "CE1", "bgp 64501", "ipv4-family unicast", "undo network 172.16.11.0 255.255.255.0")
	gone := time.Now()
	for _, n := range []string{"RR1", "RR2", "PE2"} {
		within(t, l, gone, n, "display bgp vpnv4 all routing-table", without("172.16.11.0"), 5*time.Second, "172.16.11.0/24 withdrawn")
	}
	within(t, l, gone, "PE2", "display ip routing-table vpn-instance red", without("172.16.11.0"), 5*time.Second, "172.16.11.0/24 out of red")
	// And stays gone (a stuck route would come back from the other
	// reflector).
	for _, n := range []string{"RR1", "RR2", "PE2"} {
		if out, err := l.CLI(n, "display bgp vpnv4 all routing-table"); err != nil || strings.Contains(out, "172.16.11.0") {
			t.Fatalf("%s: 172.16.11.0/24 came back: %v\n%s", n, err, out)
		}
	}

	// PE1 loses its preferred core link (through P1): the VPN follows OSPF
	// and LDP to P2.
	configure(t, l, "PE1", "interface GigabitEthernet0/3/0", "shutdown")
	l.WaitCLI(t, "PE1", "display ip routing-table vpn-instance red", vpnRoute("172.16.3.0/24", "IBGP", "GigabitEthernet0/4/0"), 20*time.Second)
	pingOK(t, l, "CE1", "ping -c 3 -a 172.16.1.1 172.16.3.1", "172.16.3.1")

	// RR1 loses power: both PEs keep RR2, and the VPN works.
	killNode(t, l, "RR1")
	down := time.Now()
	for _, pe := range []string{"PE1", "PE2"} {
		within(t, l, down, pe, "display bgp vpnv4 all peer", bgpPeerNot("10.255.0.11"), 15*time.Second, "RR1 down")
		l.WaitCLI(t, pe, "display bgp vpnv4 all peer", bgpPeers("Established", "10.255.0.12"), time.Second)
	}
	l.WaitCLI(t, "PE2", "display bgp vpnv4 vpn-instance red routing-table 172.16.1.0 24",
		paths(1, "From: 10.255.0.12 (10.255.0.12)", "Originator: 10.255.0.1"), 5*time.Second)
	pingOK(t, l, "CE1", "ping -c 3 -a 172.16.1.1 172.16.3.1", "172.16.3.1")

	// RR2 alone carries a new route.
	configure(t, l, "CE1", "bgp 64501", "ipv4-family unicast", "network 172.16.11.0 255.255.255.0")
	back := time.Now()
	within(t, l, back, "PE2", "display ip routing-table vpn-instance red", vpnRoute("172.16.11.0/24", "IBGP", "GigabitEthernet0/4/0"), 5*time.Second, "172.16.11.0/24 back through RR2")
	pingOK(t, l, "CE2", "ping -c 3 -a 172.16.3.1 172.16.11.1", "172.16.11.1")
}

// TestHubAndSpoke (lab/hub-spoke): spoke PEs export 100:1 and import only
// the hub's 200:1; the hub PE imports the spokes' routes into vpn_in, hands
// them to the hub CE, and takes them back through vpn_out (peer
// allow-as-loop: the path holds 65000 already) to export them with 200:1.
// SPE1 and SPE2 peer with each other, yet neither imports the other's
// routes: spoke-to-spoke traffic crosses the hub CE (tracert shows it),
// and stops when the hub CE's vpn_out link goes, though every spoke route
// is still at the hub PE.
func TestHubAndSpoke(t *testing.T) {
	needRoot(t)
	l := labtest.Up(t, rrLabCopy(t, "hub-spoke", "hub-spoke.clab.yml", "hub"), labtest.Options{Binary: bin})
	sameStartup(t, l, "hub-spoke")
	l.WaitCLI(t, "HubPE", "display bgp vpnv4 all peer", bgpPeers("Established", "10.255.0.2", "10.255.0.3", "192.0.2.2", "192.0.2.6"), 60*time.Second)
	l.WaitCLI(t, "SPE1", "display bgp vpnv4 all peer", bgpPeers("Established", "10.255.0.1", "10.255.0.3", "203.0.113.2"), 30*time.Second)
	l.WaitCLI(t, "SPE2", "display bgp vpnv4 all peer", bgpPeers("Established", "10.255.0.1", "10.255.0.2", "203.0.113.6"), 30*time.Second)

	// The hub's vpn_out holds both spokes' LANs, learned back from the hub
	// CE with 65000 in the path.
	l.WaitCLI(t, "HubPE", "display bgp vpnv4 vpn-instance vpn_out routing-table", labtest.All(
		labtest.Regexp(`172\.16\.1\.0/24 +192\.0\.2\.6 .* 65410 65000 64511i`),
		labtest.Regexp(`172\.16\.2\.0/24 +192\.0\.2\.6 .* 65410 65000 64512i`)), 30*time.Second)
	// Each spoke reaches the other spoke's LAN through the hub PE only.
	for spoke, other := range map[string]string{"SPE1": "172.16.2.0/24", "SPE2": "172.16.1.0/24"} {
		l.WaitCLI(t, spoke, "display ip routing-table vpn-instance spoke", labtest.Rows("Destination/Mask",
			labtest.Row{"Destination/Mask": other, "Proto": "IBGP", "NextHop": "10.255.0.1"},
			labtest.Row{"Destination/Mask": "172.16.0.0/24", "Proto": "IBGP", "NextHop": "10.255.0.1"}), 30*time.Second)
	}
	// SPE2 sends SPE1 its route (RD 10.255.0.3:1) over their session, and
	// SPE1 does not import it: no route of that RD in its table.
	l.WaitCLI(t, "HubPE", "display bgp vpnv4 route-distinguisher 10.255.0.3:1 routing-table", labtest.Contains("172.16.2.0/24"), 10*time.Second)
	if out, err := l.CLI("SPE1", "display bgp vpnv4 all routing-table"); err != nil || strings.Contains(out, "10.255.0.3:1") {
		t.Fatalf("SPE1 keeps a route of SPE2's RD: %v\n%s", err, out)
	}

	pingOK(t, l, "SCE1", "ping -c 3 -a 172.16.1.1 172.16.2.1", "172.16.2.1")
	pingOK(t, l, "SCE2", "ping -c 3 -a 172.16.2.1 172.16.1.1", "172.16.1.1")
	pingOK(t, l, "SCE1", "ping -c 3 -a 172.16.1.1 172.16.0.1", "172.16.0.1")
	// SPE1, the hub PE in vpn_out, the hub CE, the hub PE in vpn_in, SPE2.
	tracertHops(t, l, "SCE1", "tracert -m 8 -a 172.16.1.1 172.16.2.1",
		"203.0.113.1", "192.0.2.5", "192.0.2.6", "192.0.2.1", "203.0.113.5", "172.16.2.1")

	// Without the hub CE's way back into vpn_out the spokes cannot reach
	// each other, though the hub PE still has both spokes' routes.
	configure(t, l, "HubCE", "interface GigabitEthernet0/2/0", "shutdown")
	l.WaitCLI(t, "SPE1", "display ip routing-table vpn-instance spoke", without("172.16.2.0/24"), 15*time.Second)
	l.WaitCLI(t, "HubPE", "display ip routing-table vpn-instance vpn_in", labtest.Rows("Destination/Mask",
		labtest.Row{"Destination/Mask": "172.16.1.0/24", "NextHop": "10.255.0.2"},
		labtest.Row{"Destination/Mask": "172.16.2.0/24", "NextHop": "10.255.0.3"}), 5*time.Second)
	pingFails(t, l, "SCE1", "ping -c 2 -a 172.16.1.1 172.16.2.1")
	configure(t, l, "HubCE", "interface GigabitEthernet0/2/0", "undo shutdown")
	pingOK(t, l, "SCE1", "ping -c 3 -a 172.16.1.1 172.16.2.1", "172.16.2.1")
}

// TestHierarchicalReflection (lab/rr-hier): PE1 -> RR1 (cluster 0.0.0.10)
// -> RR0 (top, cluster its router ID) -> RR2 (cluster 0.0.0.20) -> PE2.
// Each PE gets the other's routes with the first originator and all three
// clusters, the nearest first; the reflectors, without instances, keep a
// VPN (blue) that PE1 does not import; CE1 reaches CE2 and not blue; a
// prefix withdrawn at CE2 leaves every reflector and PE1 within seconds.
func TestHierarchicalReflection(t *testing.T) {
	needRoot(t)
	l := labtest.Up(t, rrLabCopy(t, "rr-hier", "rr-hier.clab.yml", "hier"), labtest.Options{Binary: bin})
	sameStartup(t, l, "rr-hier")
	for node, peers := range map[string][]string{
		"PE1": {"10.255.0.11"}, "RR1": {"10.255.0.1", "10.255.0.10"}, "RR0": {"10.255.0.11", "10.255.0.12"},
		"RR2": {"10.255.0.10", "10.255.0.3"}, "PE2": {"10.255.0.12"},
	} {
		l.WaitCLI(t, node, "display bgp vpnv4 all peer", bgpPeers("Established", peers...), 60*time.Second)
	}
	l.WaitCLI(t, "PE2", "display bgp vpnv4 vpn-instance red routing-table 172.16.1.0 24",
		paths(1, "From: 10.255.0.12 (10.255.0.12)", "Originator: 10.255.0.1", "Cluster list: 0.0.0.20, 10.255.0.10, 0.0.0.10", "Original nexthop: 10.255.0.1"), 30*time.Second)
	l.WaitCLI(t, "PE1", "display bgp vpnv4 vpn-instance red routing-table 172.16.3.0 24",
		paths(1, "From: 10.255.0.11 (10.255.0.11)", "Originator: 10.255.0.3", "Cluster list: 0.0.0.10, 10.255.0.10, 0.0.0.20", "Original nexthop: 10.255.0.3"), 30*time.Second)
	// The top reflector shows how it got PE1's route: from RR1, one cluster.
	l.WaitCLI(t, "RR0", "display bgp vpnv4 all routing-table 172.16.1.0 24",
		paths(1, "From: 10.255.0.11 (10.255.0.11)", "Originator: 10.255.0.1", "Cluster list: 0.0.0.10"), 5*time.Second)
	// Blue: every reflector keeps it, PE1 (no blue instance) does not.
	for _, rr := range []string{"RR2", "RR0", "RR1"} {
		l.WaitCLI(t, rr, "display bgp vpnv4 route-distinguisher 10.255.0.3:2 routing-table", labtest.Contains("172.16.9.0/24"), 10*time.Second)
	}
	if out, err := l.CLI("PE1", "display bgp vpnv4 all routing-table"); err != nil || strings.Contains(out, "172.16.9.0") {
		t.Fatalf("PE1 keeps blue's route: %v\n%s", err, out)
	}
	pingOK(t, l, "CE1", "ping -c 3 -a 172.16.1.1 172.16.3.1", "172.16.3.1")
	pingOK(t, l, "PE2", "ping -c 1 -vpn-instance blue 172.16.9.1", "172.16.9.1")
	pingFails(t, l, "CE1", "ping -c 2 -a 172.16.1.1 172.16.9.1")

	configure(t, l, "CE2", "bgp 64502", "ipv4-family unicast", "undo network 172.16.3.0 255.255.255.0")
	gone := time.Now()
	for _, n := range []string{"RR2", "RR0", "RR1", "PE1"} {
		within(t, l, gone, n, "display bgp vpnv4 all routing-table", without("172.16.3.0"), 5*time.Second, "172.16.3.0/24 withdrawn")
	}
	within(t, l, gone, "PE1", "display ip routing-table vpn-instance red", without("172.16.3.0"), 5*time.Second, "172.16.3.0/24 out of red")
	pingFails(t, l, "CE1", "ping -c 2 -a 172.16.1.1 172.16.3.1")
}

// TestExtranet (lab/extranet): the shared site's instance on PE2 imports
// and exports both VPNs' targets (100:1 and 200:1); vpna and vpnb on PE1
// each import only their own. Both VPNs reach the shared site and it
// reaches both; they do not reach each other.
func TestExtranet(t *testing.T) {
	needRoot(t)
	l := labtest.Up(t, rrLabCopy(t, "extranet", "extranet.clab.yml", "extra"), labtest.Options{Binary: bin})
	sameStartup(t, l, "extranet")
	l.WaitCLI(t, "PE1", "display bgp vpnv4 all peer", bgpPeers("Established", "10.255.0.2", "192.0.2.2", "192.0.2.6"), 60*time.Second)
	l.WaitCLI(t, "PE2", "display ip routing-table vpn-instance shared", labtest.Rows("Destination/Mask",
		labtest.Row{"Destination/Mask": "172.16.1.0/24", "Proto": "IBGP", "NextHop": "10.255.0.1"},
		labtest.Row{"Destination/Mask": "172.16.2.0/24", "Proto": "IBGP", "NextHop": "10.255.0.1"}), 30*time.Second)
	for inst, other := range map[string]string{"vpna": "172.16.2.0", "vpnb": "172.16.1.0"} {
		out := l.WaitCLI(t, "PE1", "display ip routing-table vpn-instance "+inst, labtest.Rows("Destination/Mask",
			labtest.Row{"Destination/Mask": "172.16.100.0/24", "Proto": "IBGP", "NextHop": "10.255.0.2"}), 30*time.Second)
		if strings.Contains(out, other) {
			t.Errorf("%s holds the other VPN's %s:\n%s", inst, other, out)
		}
	}
	pingOK(t, l, "CE-A", "ping -c 3 -a 172.16.1.1 172.16.100.1", "172.16.100.1")
	pingOK(t, l, "CE-B", "ping -c 3 -a 172.16.2.1 172.16.100.1", "172.16.100.1")
	pingOK(t, l, "CE-S", "ping -c 3 -a 172.16.100.1 172.16.1.1", "172.16.1.1")
	pingOK(t, l, "CE-S", "ping -c 3 -a 172.16.100.1 172.16.2.1", "172.16.2.1")
	pingFails(t, l, "CE-A", "ping -c 2 -a 172.16.1.1 172.16.2.1")
	pingFails(t, l, "CE-B", "ping -c 2 -a 172.16.2.1 172.16.1.1")
}
