package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/lab/labtest"
)

// The LDP convergence benchmark runs a generated line of ldpBenchNodes
// vpnos routers (r1 ... rN, r(i):eth2 -- r(i+1):eth1, MPLS on every link)
// and measures, in one run:
//
//   - the reference: the IGP, OSPF: the time from committing every
//     router's `ospf 1` (area 0 over its links and its loopback, the links
//     point-to-point; all routers at once, through their CLI) until both end
//     routers' routing tables hold an OSPF route to every other loopback;
//   - LDP: the time from committing `mpls ldp` (globally and on the links)
//     on every router at once until both end routers have an LDP LSP to
//     every other loopback.
//
// On a line, both ends having every LSP means every router has its LSPs:
// with ordered control, r1's LSP to rN exists only once every router on
// the way has a label for rN from its downstream neighbour (and so its own
// LSP), and rN's LSPs cover the other direction. Both figures share the
// way configuration reaches the routers and the polling, so ldp/igp is
// what LDP adds over the IGP's own convergence.
//
//	go test -run '^$' -bench LDPConvergence -benchtime 1x ./lab/e2e/
const ldpBenchNodes = 200

func ldpBenchLoopback(i int) string { return fmt.Sprintf("10.255.%d.%d", i/256, i%256) }

// ldpBenchLink returns the addresses of link i (r(i) -- r(i+1)): r(i)'s
// and r(i+1)'s.
func ldpBenchLink(i int) (string, string) {
	base := netip.AddrFrom4([4]byte{10, 1, byte(i * 4 / 256), byte(i * 4 % 256)})
	return base.Next().String(), base.Next().Next().String()
}

// ldpBenchLab writes the topology and the routers' startup files: MPLS on
// the links, no route and no LDP yet.
func ldpBenchLab(tb testing.TB, name string, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	var topo strings.Builder
	fmt.Fprintf(&topo, "name: %s\ntopology:\n  defaults:\n    kind: linux\n    env: {VPNOS_INTERFACE_WAIT: \"10\"}\n  nodes:\n", name)
	for i := 1; i <= n; i++ {
		node := fmt.Sprintf("r%d", i)
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "sysname %s\n#\nmpls lsr-id %s\n#\nmpls\n#\n", node, ldpBenchLoopback(i))
		if i > 1 {
			_, b := ldpBenchLink(i - 1)
			fmt.Fprintf(&cfg, "interface GigabitEthernet0/1/0\n undo shutdown\n ip address %s 255.255.255.252\n mpls\n#\n", b)
		}
		if i < n {
			a, _ := ldpBenchLink(i)
			fmt.Fprintf(&cfg, "interface GigabitEthernet0/2/0\n undo shutdown\n ip address %s 255.255.255.252\n mpls\n#\n", a)
		}
		fmt.Fprintf(&cfg, "interface LoopBack0\n ip address %s 255.255.255.255\n#\nreturn\n", ldpBenchLoopback(i))
		if err := os.MkdirAll(filepath.Join(dir, node), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, node, "startup.cfg"), []byte(cfg.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&topo, "    %s: {binds: [\"%s:/etc/vpnos/\"]}\n", node, filepath.Join(dir, node))
	}
	topo.WriteString("  links:\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&topo, "    - endpoints: [\"r%d:eth2\", \"r%d:eth1\"]\n", i, i+1)
	}
	file := filepath.Join(dir, name+".clab.yml")
	if err := os.WriteFile(file, []byte(topo.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return file
}

// ldpBenchOSPF is router i's OSPF configuration: area 0 over its links
// (point-to-point, hello 1 s, dead 4 s) and its loopback.
func ldpBenchOSPF(i, n int) []string {
	var out, nets []string
	if i > 1 {
		out = append(out, "interface GigabitEthernet0/1/0", "ospf network-type p2p", "ospf timer hello 1", "ospf timer dead 4", "quit")
		_, b := ldpBenchLink(i - 1)
		nets = append(nets, "network "+b+" 0.0.0.3")
	}
	if i < n {
		out = append(out, "interface GigabitEthernet0/2/0", "ospf network-type p2p", "ospf timer hello 1", "ospf timer dead 4", "quit")
		a, _ := ldpBenchLink(i)
		nets = append(nets, "network "+a+" 0.0.0.3")
	}
	out = append(out, "ospf 1 router-id "+ldpBenchLoopback(i), "area 0", "network "+ldpBenchLoopback(i)+" 0.0.0.0")
	return append(append(out, nets...), "quit", "quit")
}

// onAll runs a configuration change on every router, several at a time.
func onAll(tb testing.TB, l *labtest.Lab, n int, cmds func(i int) []string) {
	tb.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			line := "system-view; " + strings.Join(cmds(i), "; ") + "; commit"
			out, err := l.CLI(fmt.Sprintf("r%d", i), line)
			if err != nil || strings.Contains(out, "Error") {
				errs <- fmt.Errorf("r%d: %v\n%s", i, err, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

var (
	ospfRouteRow  = regexp.MustCompile(`(?m)^ *10\.255\.\d+\.\d+/32 +OSPF `)
	ldpIngressRow = regexp.MustCompile(`(?m)^10\.255\.\d+\.\d+/32 +NULL/\d+ `)
)

// untilEnds polls both end routers until each shows want rows of a
// display; it returns when the later one did.
func untilEnds(tb testing.TB, l *labtest.Lab, n int, cmd string, row *regexp.Regexp, want int, within time.Duration) {
	tb.Helper()
	for _, node := range []string{"r1", fmt.Sprintf("r%d", n)} {
		l.WaitCLI(tb, node, cmd, labtest.MatchFunc(func(out string) error {
			if got := len(row.FindAllString(out, -1)); got != want {
				return fmt.Errorf("%d of %d", got, want)
			}
			return nil
		}), within)
	}
}

func BenchmarkLDPConvergence200(b *testing.B) {
	needRoot(b)
	const n = ldpBenchNodes
	name := "vl-ldp200"
	labtest.CleanStale(b, name)
	file := ldpBenchLab(b, name, n)
	var igpT, ldpT time.Duration
	for it := 0; it < b.N; it++ {
		l := labtest.Up(b, file, labtest.Options{Binary: bin, Timeout: 10 * time.Minute})
		t0 := time.Now()
		onAll(b, l, n, func(i int) []string { return ldpBenchOSPF(i, n) })
		untilEnds(b, l, n, "display ip routing-table", ospfRouteRow, n-1, 5*time.Minute)
		igpT += time.Since(t0)

		t1 := time.Now()
		onAll(b, l, n, func(i int) []string {
			c := []string{"mpls ldp", "quit"}
			if i > 1 {
				c = append(c, "interface GigabitEthernet0/1/0", "mpls ldp", "quit")
			}
			if i < n {
				c = append(c, "interface GigabitEthernet0/2/0", "mpls ldp", "quit")
			}
			return c
		})
		untilEnds(b, l, n, "display mpls lsp protocol ldp", ldpIngressRow, n-1, 5*time.Minute)
		ldpT += time.Since(t1)
		if err := l.Down(); err != nil {
			b.Fatal(err)
		}
	}
	ldp := ldpT.Seconds() / float64(b.N)
	igp := igpT.Seconds() / float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ldp, "s-ldp")
	b.ReportMetric(igp, "s-ospf")
	b.ReportMetric(ldp/igp, "ldp/ospf")
	b.Logf("%d routers in a line: LDP converged in %.1fs after mpls ldp was committed everywhere; OSPF in %.1fs after ospf 1 was committed everywhere",
		n, ldp, igp)
}
