package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

const benchNodes = 50

// BenchmarkBringUp50 measures `vpnos lab up` of 50 nodes in a line on the
// netns runtime (until every node's CLI answers), and the memory per node,
// against a reference measured in the same run: 50 namespaces with the same
// veth links and one `sleep` process each.
//
//	go test -run '^$' -bench BringUp50 -benchtime 3x ./lab/e2e/
func BenchmarkBringUp50(b *testing.B) {
	needRoot(b)
	labtest.CleanStale(b, prefix+"-bench")
	refClean()
	file := writeTopology(b, "bench.clab.yml", lineTopology(prefix+"-bench", benchNodes, "    env: {VPNOS_INTERFACE_WAIT: \"5\"}\n"))

	var upTotal, refTotal time.Duration
	var rss, pss, refRSS float64
	for i := 0; i < b.N; i++ {
		l := labtest.Up(b, file, labtest.Options{Binary: bin})
		upTotal += l.UpTime
		if i == 0 {
			st, err := l.State()
			if err != nil {
				b.Fatal(err)
			}
			rss, pss = labMemory(b, st)
		}
		if err := l.Down(); err != nil {
			b.Fatal(err)
		}

		d, mem, err := refBringUp(benchNodes)
		refClean()
		if err != nil {
			b.Fatal(err)
		}
		refTotal += d
		if i == 0 {
			refRSS = mem
		}
	}
	up := upTotal.Seconds() / float64(b.N)
	ref := refTotal.Seconds() / float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(up, "s/lab-up")
	b.ReportMetric(ref, "ref-s/lab-up")
	b.ReportMetric(up/ref, "x-ref-time")
	b.ReportMetric(rss/1024, "MiB-RSS/node")
	b.ReportMetric(pss/1024, "MiB-PSS/node")
	b.ReportMetric(refRSS/1024, "ref-MiB-RSS/node")
	b.ReportMetric(rss/refRSS, "x-ref-RSS")
	b.Logf("%d nodes: vpnos lab up %.2fs (reference: namespaces, links and sleep processes %.3fs); per node RSS %.1f MiB, PSS %.1f MiB (reference sleep RSS %.1f MiB)",
		benchNodes, up, ref, rss/1024, pss/1024, refRSS/1024)
}

func refName(i int) string { return fmt.Sprintf("%s-ref-%d", prefix, i) }

// refClean removes reference namespaces and their processes.
func refClean() {
	for i := 1; i <= benchNodes; i++ {
		name := refName(i)
		if h, err := netns.GetFromName(name); err == nil {
			h.Close()
			pids, _ := runner.NetnsPIDs(name)
			for _, p := range pids {
				_ = unix.Kill(p, unix.SIGKILL)
			}
			_ = netns.DeleteNamed(name)
		}
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
