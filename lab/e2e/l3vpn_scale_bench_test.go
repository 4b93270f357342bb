package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vpnos/lab/gen"
	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// l3vpnScaleNodes is the size of the lab BenchmarkL3VPNScale converges.
const l3vpnScaleNodes = 200

// BenchmarkL3VPNScale brings up the generated 200-node L3VPN lab (a ring of
// 12 P routers, 62 PEs, two route reflectors in one cluster, 2 VPNs with a
// CE on every PE: 124 CEs; OSPF and LDP in the core, IBGP VPNv4 PE-RR,
// static PE-CE) on the netns runtime and measures, from the start of
// `vpnos lab up`, the time until every CE has pinged every remote site of
// its VPN (61 each, 7,564 pairs). The reference, in the same run: the same
// 200 nodes and links with no configuration but their sysname, brought up
// until every node is ready. It also reports when the last node was ready,
// when the last OSPF adjacency went Full, the last LDP session Operational
// and the last BGP session Established (from the nodes' logs), and the
// memory per node, by role.
//
//	go test -run '^$' -bench L3VPNScale -benchtime 1x ./lab/e2e/
func BenchmarkL3VPNScale(b *testing.B) {
	needRoot(b)
	c := gen.ForNodes("sc-l3vpn200", l3vpnScaleNodes, 2)
	lab, err := c.Generate()
	if err != nil {
		b.Fatal(err)
	}
	file, err := lab.Write(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ref := *lab
	ref.Name = "sc-l3ref200"
	ref.Topology = strings.Replace(lab.Topology, "name: "+lab.Name+"\n", "name: "+ref.Name+"\n", 1)
	ref.Nodes = nil
	for _, n := range lab.Nodes {
		n.Config = "#\nsysname " + n.Name + "\n#\nreturn\n"
		ref.Nodes = append(ref.Nodes, n)
	}
	refFile, err := ref.Write(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	labtest.CleanStale(b, lab.Name)
	labtest.CleanStale(b, ref.Name)
	opts := labtest.Options{Binary: bin, Timeout: 5 * time.Minute}

	var refUp, up, conv time.Duration
	var ph phases
	var mem roleMemory
	var cpu time.Duration
	var roleCPU, readyCPU map[string]time.Duration
	var readyLine string
	var pings, lost int
	var first time.Duration
	for i := 0; i < b.N; i++ {
		lr := labtest.Up(b, refFile, opts)
		refUp += lr.UpTime
		if err := lr.Down(); err != nil {
			b.Fatal(err)
		}

		start := time.Now()
		l := labtest.Up(b, file, opts)
		up += l.UpTime
		stReady, err := l.State()
		if err != nil {
			b.Fatal(err)
		}
		readyCPU = labRoleCPU(b, stReady, lab)
		for _, line := range strings.Split(l.UpOutput, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "nodes ready") {
				readyLine = strings.TrimSpace(line)
			}
		}
		res := untilVPNsReach(l, lab, 16, start.Add(5*time.Minute))
		if len(res.missing) > 0 {
			b.Fatalf("%d CE -> site pairs not reached within 5 minutes, e.g.\n  %s", len(res.missing),
				strings.Join(res.missing[:min(20, len(res.missing))], "\n  "))
		}
		conv += res.last.Sub(start)
		first += res.first.Sub(start)
		pings, lost = pings+res.pings, lost+res.lost
		ph = logPhases(b, filepath.Join(l.Workdir(), lab.Name), lab, start)
		st, err := l.State()
		if err != nil {
			b.Fatal(err)
		}
		mem = labRoleMemory(b, l, lab)
		cpu = labCPU(b, st) / time.Duration(len(lab.Nodes))
		roleCPU = labRoleCPU(b, st, lab)
		if err := l.Down(); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	s := func(d time.Duration) float64 { return d.Seconds() / n }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(s(conv), "s-converged")
	b.ReportMetric(s(up), "s-ready")
	b.ReportMetric(s(refUp), "ref-s-ready(no-config)")
	b.ReportMetric(s(conv)/s(refUp), "converged/ref")
	b.ReportMetric(ph.ospf.Seconds(), "s-ospf-full")
	b.ReportMetric(ph.ldp.Seconds(), "s-ldp-up")
	b.ReportMetric(ph.bgp.Seconds(), "s-bgp-up")
	b.ReportMetric(mem.all.pss/1024, "MiB-PSS/node")
	b.ReportMetric(mem.all.rss/1024, "MiB-RSS/node")
	b.ReportMetric(ms(cpu), "cpu-ms/node")
	var roles []string
	for _, r := range []string{"P", "PE", "RR", "CE"} {
		m := mem.role[r]
		roles = append(roles, fmt.Sprintf("%s %.0f ms (%.0f ms when ready) %.1f/%.1f MiB", r, ms(roleCPU[r]), ms(readyCPU[r]), m.pss/1024, m.rss/1024))
	}
	b.Logf("%d nodes (%d P, %d PE, 2 RR, %d CE; %d VPNs): every CE pinged its %d remote sites %.1fs after lab up started "+
		"(%s; nodes ready at %.1fs; last OSPF Full %.1fs, last LDP session %.1fs, last BGP session %.1fs; "+
		"every CE reached a first remote site at %.1fs; %d pings, %d lost); "+
		"reference (same nodes and links, no configuration) ready in %.1fs: %.2fx. "+
		"Per node: CPU %.0f ms, PSS %.1f MiB, RSS %.1f MiB (CPU, PSS/RSS by role: %s)",
		c.Nodes(), c.P, c.PE, c.PE*c.VPNs, c.VPNs, c.PE-1, s(conv), readyLine, s(up), ph.ospf.Seconds(), ph.ldp.Seconds(), ph.bgp.Seconds(),
		s(first), pings/b.N, lost/b.N, s(refUp), s(conv)/s(refUp), ms(cpu), mem.all.pss/1024, mem.all.rss/1024, strings.Join(roles, ", "))
}

// phases are the times, after lab up started, of the last protocol event
// of each kind in the nodes' logs.
type phases struct{ ospf, ldp, bgp time.Duration }

var (
	logTime   = regexp.MustCompile(`^time=(\S+) `)
	ospfFull  = regexp.MustCompile(`msg="neighbour state change".* to=Full `)
	ldpUp     = regexp.MustCompile(`msg="ldp: session".* state=Operational `)
	bgpUp     = regexp.MustCompile(`msg="bgp: session established`)
	phaseKeys = []*regexp.Regexp{ospfFull, ldpUp, bgpUp}
)

// logPhases reads every node's boot.log in dir (the lab's folder).
func logPhases(tb testing.TB, dir string, lab *gen.Lab, start time.Time) phases {
	tb.Helper()
	var last [3]time.Time
	for _, n := range lab.Nodes {
		f, err := os.Open(filepath.Join(dir, n.Name, "boot.log"))
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			for k, re := range phaseKeys {
				if !re.MatchString(line) {
					continue
				}
				m := logTime.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				if t, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && t.After(last[k]) {
					last[k] = t
				}
			}
		}
		f.Close()
	}
	since := func(t time.Time) time.Duration {
		if t.IsZero() {
			return 0
		}
		return t.Sub(start)
	}
	return phases{ospf: since(last[0]), ldp: since(last[1]), bgp: since(last[2])}
}

type memFigures struct{ rss, pss float64 } // KiB per node

type roleMemory struct {
	all  memFigures
	role map[string]memFigures
}

// labRoleMemory is the memory of the lab's node processes per node, in all
// and by role.
func labRoleMemory(tb testing.TB, l *labtest.Lab, lab *gen.Lab) roleMemory {
	tb.Helper()
	st, err := l.State()
	if err != nil {
		tb.Fatal(err)
	}
	pids := netnsPIDs(tb, st)
	sum := map[string]memFigures{}
	count := map[string]int{}
	var all memFigures
	for _, n := range lab.Nodes {
		r, p := memory(pids[n.Name])
		m := sum[n.Role]
		m.rss += float64(r)
		m.pss += float64(p)
		sum[n.Role] = m
		count[n.Role]++
		all.rss += float64(r)
		all.pss += float64(p)
	}
	out := roleMemory{role: map[string]memFigures{}}
	for r, m := range sum {
		out.role[r] = memFigures{rss: m.rss / float64(count[r]), pss: m.pss / float64(count[r])}
	}
	out.all = memFigures{rss: all.rss / float64(len(lab.Nodes)), pss: all.pss / float64(len(lab.Nodes))}
	return out
}

// labRoleCPU is the CPU time the node processes have used so far, per node
// of each role.
func labRoleCPU(tb testing.TB, st *runner.State, lab *gen.Lab) map[string]time.Duration {
	tb.Helper()
	pids := netnsPIDs(tb, st)
	sum := map[string]time.Duration{}
	count := map[string]int{}
	for _, n := range lab.Nodes {
		sum[n.Role] += procCPU(pids[n.Name])
		count[n.Role]++
	}
	for r := range sum {
		sum[r] /= time.Duration(count[r])
	}
	return sum
}

// procCPU is the CPU time (user and system) processes have used so far.
func procCPU(pids []int) time.Duration {
	var ticks int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		var u, k int64
		fmt.Sscan(f[11], &u)
		fmt.Sscan(f[12], &k)
		ticks += u + k
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}
