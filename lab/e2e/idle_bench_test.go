package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// BenchmarkIdleMemory measures the memory of an idle vpnos node running
// OSPF, LDP and BGP (supervisor and daemon) beside FRR's zebra, ospfd, ldpd
// and bgpd doing the same in the same run: two vpnos nodes on one link, and
// two namespaces with FRR on one link. Each pair has its OSPF adjacency
// Full, its LDP session Operational over the link and an IBGP session
// between the loopbacks with IPv4 unicast and VPNv4 enabled, Established.
// No VPN instance on either side (FRR's VRFs need kernel VRF devices, which
// this kernel lacks), so both sides carry the same state.
//
//	go test -run '^$' -bench IdleMemory -benchtime 1x ./lab/e2e/
func BenchmarkIdleMemory(b *testing.B) {
	needRoot(b)
	const lab = "vo-idlemem"
	labtest.CleanStale(b, lab)
	dir := b.TempDir()
	for i, node := range []string{"r1", "r2"} {
		n, peer := strconv.Itoa(i+1), strconv.Itoa(2-i)
		lo := "10.255.9." + n
		cfg := "sysname " + node + "\nmpls lsr-id " + lo + "\nmpls\nmpls ldp\n" +
			"interface GigabitEthernet0/1/0\n undo shutdown\n ip address 10.9.0." + n + " 255.255.255.0\n mpls\n mpls ldp\n" + fastP2P +
			"interface LoopBack0\n ip address " + lo + " 255.255.255.255\n" +
			"bgp 65000\n router-id " + lo + "\n peer 10.255.9." + peer + " as-number 65000\n peer 10.255.9." + peer + " connect-interface LoopBack0\n" +
			" ipv4-family unicast\n  peer 10.255.9." + peer + " enable\n ipv4-family vpnv4\n  peer 10.255.9." + peer + " enable\n" +
			"ospf 1 router-id " + lo + "\n area 0\n  network 10.9.0.0 0.0.0.255\n  network " + lo + " 0.0.0.0\n"
		if err := os.MkdirAll(filepath.Join(dir, node), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, node, "startup.cfg"), []byte(cfg), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	file := filepath.Join(dir, "mem.clab.yml")
	topo := "name: " + lab + "\ntopology:\n  nodes:\n    r1: {kind: linux, binds: [\"r1:/etc/vpnos/\"]}\n    r2: {kind: linux, binds: [\"r2:/etc/vpnos/\"]}\n" +
		"  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n"
	if err := os.WriteFile(file, []byte(topo), 0o644); err != nil {
		b.Fatal(err)
	}
	// FRR's pair.
	fns := []string{"vo-idlemem-f1", "vo-idlemem-f2"}
	clean := func() {
		for _, ns := range fns {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	}
	clean()
	b.Cleanup(clean)
	ip := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			b.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range fns {
		ip("netns", "add", ns)
		ip("-n", ns, "link", "set", "lo", "up")
	}
	ip("link", "add", "eth1", "netns", fns[0], "type", "veth", "peer", "name", "eth1", "netns", fns[1])
	var frrs []*labtest.FRR
	for i, ns := range fns {
		n, peer := strconv.Itoa(i+1), strconv.Itoa(2-i)
		lo := "10.255.9." + n
		ip("-n", ns, "addr", "add", "10.9.0."+n+"/24", "dev", "eth1")
		ip("-n", ns, "addr", "add", lo+"/32", "dev", "lo")
		ip("-n", ns, "link", "set", "eth1", "up")
		frrs = append(frrs, labtest.StartFRR(b, ns, map[string]string{
			"ospfd": "interface eth1\n ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n!\n" +
				"router ospf\n ospf router-id " + lo + "\n network 10.9.0.0/24 area 0\n network " + lo + "/32 area 0\n",
			"ldpd": "mpls ldp\n router-id " + lo + "\n address-family ipv4\n  discovery transport-address " + lo +
				"\n  interface eth1\n  exit\n exit-address-family\nexit\n",
			"bgpd": "router bgp 65000\n bgp router-id " + lo + "\n no bgp ebgp-requires-policy\n neighbor 10.255.9." + peer +
				" remote-as 65000\n neighbor 10.255.9." + peer + " update-source " + lo + "\n address-family ipv4 unicast\n  neighbor 10.255.9." + peer +
				" activate\n exit-address-family\n address-family ipv4 vpn\n  neighbor 10.255.9." + peer + " activate\n exit-address-family\n",
		}))
	}
	frrUp := func() (bool, string) {
		ldp, _ := frrs[0].Vtysh("show mpls ldp neighbor")
		bgp, _ := frrs[0].Vtysh("show bgp neighbors 10.255.9.2")
		route := frrs[0].KernelRoute("10.255.9.2")
		return strings.Contains(route, "proto ospf") && strings.Contains(ldp, "OPERATIONAL") && strings.Contains(bgp, "BGP state = Established"),
			route + "\n" + ldp + "\n" + bgp
	}

	var rss, pss, refRSS, refPSS float64
	for i := 0; i < b.N; i++ {
		l := labtest.Up(b, file, labtest.Options{Binary: bin})
		l.WaitCLI(b, "r1", "display ip routing-table 10.255.9.2", labtest.Contains("10.255.9.2/32    OSPF"), 30*time.Second)
		l.WaitCLI(b, "r1", "display mpls ldp session", labtest.Regexp(`(?m)^ 10\.255\.9\.2:0 +Operational `), 60*time.Second)
		l.WaitCLI(b, "r1", "display bgp peer", labtest.Regexp(`(?m)^ *10\.255\.9\.2 .*Established`), 60*time.Second)
		deadline := time.Now().Add(60 * time.Second)
		for {
			ok, out := frrUp()
			if ok {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("FRR did not come up (OSPF route, LDP session, BGP session):\n%s", out)
			}
			time.Sleep(200 * time.Millisecond)
		}
		st, err := l.State()
		if err != nil {
			b.Fatal(err)
		}
		n, err := st.Node("r1")
		if err != nil {
			b.Fatal(err)
		}
		pids, err := runner.NetnsPIDs(n.Runtime)
		if err != nil {
			b.Fatal(err)
		}
		r, p := memory(pids)
		rss, pss = float64(r), float64(p)
		fpids, err := runner.NetnsPIDs(fns[0])
		if err != nil {
			b.Fatal(err)
		}
		r, p = memory(fpids)
		refRSS, refPSS = float64(r), float64(p)
		if err := l.Down(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(pss/1024, "MiB-PSS")
	b.ReportMetric(rss/1024, "MiB-RSS")
	b.ReportMetric(refPSS/1024, "ref-MiB-PSS")
	b.ReportMetric(refRSS/1024, "ref-MiB-RSS")
	b.ReportMetric(pss/refPSS, "x-ref-PSS")
	b.Logf("an idle node with OSPF Full, LDP Operational, IBGP (unicast + VPNv4) Established: vpnos (supervisor + daemon) PSS %.1f MiB, RSS %.1f MiB; FRR zebra + ospfd + ldpd + bgpd PSS %.1f MiB, RSS %.1f MiB",
		pss/1024, rss/1024, refPSS/1024, refRSS/1024)
}
