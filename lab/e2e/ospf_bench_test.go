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

// BenchmarkOSPFIdleMemory measures the memory of an idle vpnos node running
// OSPF with one Full neighbour (supervisor and daemon), beside FRR's zebra
// and ospfd doing the same in the same run: two vpnos nodes on one link,
// and two namespaces with FRR on one link. (The goal compares a
// node running OSPF, LDP and BGP with zebra, ospfd, ldpd and bgpd; this is
// its OSPF part.)
//
//	go test -run '^$' -bench OSPFIdleMemory -benchtime 1x ./lab/e2e/
func BenchmarkOSPFIdleMemory(b *testing.B) {
	needRoot(b)
	const lab = "vo-ospfmem"
	labtest.CleanStale(b, lab)
	dir := b.TempDir()
	for i, node := range []string{"r1", "r2"} {
		n := strconv.Itoa(i + 1)
		cfg := "sysname " + node + "\ninterface GigabitEthernet0/1/0\n undo shutdown\n ip address 10.9.0." + n + " 255.255.255.0\n" + fastP2P +
			"interface LoopBack0\n ip address 10.255.9." + n + " 255.255.255.255\nospf 1 router-id 10.255.9." + n +
			"\n area 0\n  network 10.9.0.0 0.0.0.255\n  network 10.255.9." + n + " 0.0.0.0\n"
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
	fns := []string{"vo-ospfmem-f1", "vo-ospfmem-f2"}
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
		n := strconv.Itoa(i + 1)
		ip("-n", ns, "addr", "add", "10.9.0."+n+"/24", "dev", "eth1")
		ip("-n", ns, "addr", "add", "10.255.9."+n+"/32", "dev", "lo")
		ip("-n", ns, "link", "set", "eth1", "up")
		frrs = append(frrs, labtest.StartFRR(b, ns, map[string]string{"ospfd": "interface eth1\n ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n!\n" +
			"router ospf\n ospf router-id 10.255.9." + n + "\n network 10.9.0.0/24 area 0\n network 10.255.9." + n + "/32 area 0\n"}))
	}

	var rss, pss, refRSS, refPSS float64
	for i := 0; i < b.N; i++ {
		l := labtest.Up(b, file, labtest.Options{Binary: bin})
		l.WaitCLI(b, "r1", "display ip routing-table 10.255.9.2", labtest.Contains("10.255.9.2/32    OSPF"), 30*time.Second)
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(frrs[0].KernelRoute("10.255.9.2"), "proto ospf") {
			if time.Now().After(deadline) {
				b.Fatal("FRR did not converge")
			}
			time.Sleep(100 * time.Millisecond)
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
	b.Logf("an idle node with OSPF Full: vpnos (supervisor + daemon) PSS %.1f MiB, RSS %.1f MiB; FRR zebra + ospfd PSS %.1f MiB, RSS %.1f MiB",
		pss/1024, rss/1024, refPSS/1024, refRSS/1024)
}
