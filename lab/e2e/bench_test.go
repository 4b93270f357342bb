package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// scaleSizes are the lab sizes BenchmarkLabScale brings up.
var scaleSizes = []int{50, 100, 200, 400}

// scaleResult is one size's figures, per node.
type scaleResult struct {
	nodes                    int
	up, down, refUp, refDown time.Duration // per node
	cpu                      time.Duration // CPU of a node's processes until ready
	rss, pss, refRSS         float64       // KiB per node
}

// BenchmarkLabScale brings up and tears down generated lines of 50, 100, 200
// and 400 two-port nodes on the netns runtime (`vpnos lab up` until every
// CLI answers, `vpnos lab down`), and in the same run the same number of
// bare namespaces with the same veth links and one `sleep` process each. It
// reports, per node, the time of both and their ratio, the CPU a node's
// processes used until ready and its memory; the summary compares the cost
// per node at 400 with the cost at 50 (bring-up should grow linearly).
//
//	go test -run '^$' -bench LabScale -benchtime 1x ./lab/e2e/
func BenchmarkLabScale(b *testing.B) {
	needRoot(b)
	var results []scaleResult
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			r := benchScale(b, n)
			results = append(results, r)
		})
	}
	if len(results) < 2 {
		return
	}
	first, last := results[0], results[len(results)-1]
	var t strings.Builder
	fmt.Fprintf(&t, "\n| nodes | lab up | per node | reference per node | x ref | lab down | per node | reference per node | CPU per node | PSS per node | RSS per node |\n")
	fmt.Fprintf(&t, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		n := time.Duration(r.nodes)
		fmt.Fprintf(&t, "| %d | %.1f s | %.1f ms | %.2f ms | %.0f | %.1f s | %.1f ms | %.2f ms | %.0f ms | %.1f MiB | %.1f MiB |\n",
			r.nodes, (r.up * n).Seconds(), ms(r.up), ms(r.refUp), float64(r.up)/float64(r.refUp),
			(r.down * n).Seconds(), ms(r.down), ms(r.refDown), ms(r.cpu), r.pss/1024, r.rss/1024)
	}
	fmt.Fprintf(&t, "bring-up per node at %d is %.2fx the cost per node at %d (reference %.2fx); tear-down %.2fx (reference %.2fx)",
		last.nodes, float64(last.up)/float64(first.up), first.nodes, float64(last.refUp)/float64(first.refUp),
		float64(last.down)/float64(first.down), float64(last.refDown)/float64(first.refDown))
	// Printed, not logged: a benchmark with sub-benchmarks shows no log.
	fmt.Println(t.String())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func benchScale(b *testing.B, n int) scaleResult {
	lab := fmt.Sprintf("%s-s%d", prefix, n)
	labtest.CleanStale(b, lab)
	refClean(n)
	file := writeTopology(b, "scale.clab.yml", lineTopology(lab, n, "    env: {VPNOS_INTERFACE_WAIT: \"5\"}\n"))
	r := scaleResult{nodes: n}
	per := func(d time.Duration) time.Duration { return d / time.Duration(n) }
	for i := 0; i < b.N; i++ {
		l := labtest.Up(b, file, labtest.Options{Binary: bin, Timeout: 5 * time.Minute})
		st, err := l.State()
		if err != nil {
			b.Fatal(err)
		}
		r.rss, r.pss = labMemory(b, st)
		r.cpu = per(labCPU(b, st))
		start := time.Now()
		if err := l.Down(); err != nil {
			b.Fatal(err)
		}
		r.up, r.down = per(l.UpTime), per(time.Since(start))

		up, mem, err := refBringUp(n)
		if err != nil {
			refClean(n)
			b.Fatal(err)
		}
		start = time.Now()
		refClean(n)
		r.refUp, r.refDown, r.refRSS = per(up), per(time.Since(start)), mem
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(r.up), "ms-up/node")
	b.ReportMetric(ms(r.refUp), "ref-ms-up/node")
	b.ReportMetric(float64(r.up)/float64(r.refUp), "x-ref-up")
	b.ReportMetric(ms(r.down), "ms-down/node")
	b.ReportMetric(ms(r.refDown), "ref-ms-down/node")
	b.ReportMetric(ms(r.cpu), "cpu-ms/node")
	b.ReportMetric(r.pss/1024, "MiB-PSS/node")
	b.ReportMetric(r.rss/1024, "MiB-RSS/node")
	b.ReportMetric(r.refRSS/1024, "ref-MiB-RSS/node")
	b.Logf("%d nodes: up %.1fs (%.1f ms/node; reference %.2f ms/node), down %.1fs (%.1f ms/node; reference %.2f ms/node); per node CPU %.0f ms, PSS %.1f MiB, RSS %.1f MiB (sleep %.1f MiB)",
		n, (r.up * time.Duration(n)).Seconds(), ms(r.up), ms(r.refUp), (r.down * time.Duration(n)).Seconds(), ms(r.down), ms(r.refDown),
		ms(r.cpu), r.pss/1024, r.rss/1024, r.refRSS/1024)
	return r
}

// labCPU is the CPU time (user and system) the processes of a netns lab's
// nodes have used so far.
func labCPU(t testing.TB, st *runner.State) time.Duration {
	t.Helper()
	var ticks int64
	for _, pids := range netnsPIDs(t, st) {
		for _, p := range pids {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
			if err != nil {
				continue
			}
			s := string(b)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
			var u, k int64
			fmt.Sscan(f[11], &u) // utime: field 14 of stat, 12th after the state
			fmt.Sscan(f[12], &k)
			ticks += u + k
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func refName(i int) string { return fmt.Sprintf("%s-ref-%d", prefix, i) }

// refClean removes the reference namespaces of a run of n and their
// processes (SIGKILL, then the namespaces go).
func refClean(n int) {
	var names []string
	for i := 1; i <= n; i++ {
		if _, err := os.Stat(runner.NetnsPath(refName(i))); err == nil {
			names = append(names, refName(i))
		}
	}
	for _, pids := range runner.NetnsProcs(names) {
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
	}
	for _, name := range names {
		_ = netns.DeleteNamed(name)
	}
}

// refBringUp creates n namespaces linked in a line and starts `sleep` in
// each; it returns the time taken and the RSS per process in KiB.
func refBringUp(n int) (time.Duration, float64, error) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	host, err := netns.Get()
	if err != nil {
		return 0, 0, err
	}
	defer host.Close()
	handles := make([]netns.NsHandle, n+1)
	defer func() {
		for _, h := range handles[1:] {
			h.Close()
		}
	}()
	for i := 1; i <= n; i++ {
		h, err := netns.NewNamed(refName(i))
		if err != nil {
			_ = netns.Set(host)
			return 0, 0, err
		}
		handles[i] = h
		if err := netns.Set(host); err != nil {
			return 0, 0, err
		}
	}
	for i := 1; i < n; i++ {
		la := netlink.NewLinkAttrs()
		la.Name, la.MTU, la.Namespace = "eth2", 9500, netlink.NsFd(int(handles[i]))
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth1", PeerNamespace: netlink.NsFd(int(handles[i+1]))}); err != nil {
			return 0, 0, err
		}
	}
	var cmds []*exec.Cmd
	for i := 1; i <= n; i++ {
		if err := netns.Set(handles[i]); err != nil {
			return 0, 0, err
		}
		cmd := exec.Command(sleep, "3600")
		err := cmd.Start()
		if serr := netns.Set(host); serr != nil {
			return 0, 0, serr
		}
		if err != nil {
			return 0, 0, err
		}
		cmds = append(cmds, cmd)
		go cmd.Wait()
	}
	d := time.Since(start)
	// Measure each sleep once it has finished exec, so that its memory is its own.
	var pids []int
	for _, c := range cmds {
		for i := 0; i < 1000; i++ {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", c.Process.Pid)); exe == sleep {
				break
			}
			runtime.Gosched()
		}
		pids = append(pids, c.Process.Pid)
	}
	rss, _ := memory(pids)
	return d, float64(rss) / float64(n), nil
}
