package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"vpnos/yang/datastore"
)

// bigConfig is a large PE: 40 VPN instances, 100 LoopBacks, 300 static routes.
func bigConfig() string {
	var b strings.Builder
	b.WriteString("sysname BIG\n#\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "ip vpn-instance v%d\n ipv4-family\n  route-distinguisher 65000:%d\n  vpn-target 65000:%d export-extcommunity\n  vpn-target 65000:%d import-extcommunity\n#\n", i, i, i, i)
	}
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "interface LoopBack%d\n ip binding vpn-instance v%d\n ip address 10.%d.%d.1 255.255.255.255\n#\n", i, i%40, i/200, i%200)
	}
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "ip route-static vpn-instance v%d 172.%d.%d.0 255.255.255.0 192.0.2.2\n", i%40, 16+i/250, i%250)
	}
	b.WriteString("#\nreturn\n")
	return b.String()
}

// BenchmarkReplayBig loads a large configuration as the daemon loads its
// startup file, beside the reference of committing the same tree straight
// into the datastore (validation and commit without the CLI grammar): the
// ratio is what parsing VRP lines costs on top.
func BenchmarkReplayBig(b *testing.B) {
	text := bigConfig()
	var want *datastore.Tree
	var replayT, commitT time.Duration
	for b.Loop() {
		e := testEngine(b, "two-stage")
		start := time.Now()
		errs, err := e.Replay(context.Background(), text)
		replayT += time.Since(start)
		if err != nil || len(errs) > 0 {
			b.Fatal(err, errs)
		}
		want = e.store.Running()
		f := testEngine(b, "two-stage")
		start = time.Now()
		c := f.store.NewCandidate()
		c.Replace(want.Clone())
		if _, err := c.Commit(context.Background(), "bench", ""); err != nil {
			b.Fatal(err)
		}
		commitT += time.Since(start)
	}
	b.ReportMetric(float64(replayT.Microseconds())/float64(b.N), "µs/replay")
	b.ReportMetric(float64(commitT.Microseconds())/float64(b.N), "ref-µs/commit")
	b.ReportMetric(float64(replayT)/float64(commitT), "ratio")
}

// BenchmarkRenderBig renders the large configuration as VRP text (display
// current-configuration, save), beside the reference of encoding the same
// tree as JSON (the commit records).
func BenchmarkRenderBig(b *testing.B) {
	e := testEngine(b, "two-stage")
	if errs, _ := e.Replay(context.Background(), bigConfig()); len(errs) > 0 {
		b.Fatal(errs)
	}
	tree := e.store.Running()
	var renderT, jsonT time.Duration
	for b.Loop() {
		start := time.Now()
		_ = e.CurrentConfig()
		mid := time.Now()
		if _, err := json.Marshal(tree); err != nil {
			b.Fatal(err)
		}
		renderT += mid.Sub(start)
		jsonT += time.Since(mid)
	}
	b.ReportMetric(float64(renderT.Microseconds())/float64(b.N), "µs/render")
	b.ReportMetric(float64(jsonT.Microseconds())/float64(b.N), "ref-µs/json")
	b.ReportMetric(float64(renderT)/float64(jsonT), "ratio")
}

// BenchmarkReplayOneBadLine loads a startup file of 1,000 VPN instances
// with one duplicate RD among them (refused; the rest loads in one commit),
// beside the reference of loading the same file without the bad line. The
// ratio is what the bad line costs; memory is the bytes allocated per load.
func BenchmarkReplayOneBadLine(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			good := vpnInstancesText(n) + "return\n"
			bad := vpnInstancesText(n) + "ip vpn-instance dup\n ipv4-family\n  route-distinguisher 65000:7\n#\nreturn\n"
			var badT, goodT time.Duration
			var badB, goodB uint64
			var ms runtime.MemStats
			load := func(text string, wantErrs int) (time.Duration, uint64) {
				e := testEngine(b, "two-stage")
				runtime.ReadMemStats(&ms)
				alloc := ms.TotalAlloc
				start := time.Now()
				errs, err := e.Replay(context.Background(), text)
				d := time.Since(start)
				runtime.ReadMemStats(&ms)
				if err != nil || len(errs) != wantErrs {
					b.Fatal(err, errs)
				}
				return d, ms.TotalAlloc - alloc
			}
			for b.Loop() {
				d, m := load(bad, 1)
				badT, badB = badT+d, badB+m
				d, m = load(good, 0)
				goodT, goodB = goodT+d, goodB+m
			}
			nb := float64(b.N)
			b.ReportMetric(float64(badT.Milliseconds())/nb, "ms/load")
			b.ReportMetric(float64(badB)/nb/(1<<20), "MB-alloc/load")
			b.ReportMetric(float64(goodT.Milliseconds())/nb, "ref-ms/load")
			b.ReportMetric(float64(goodB)/nb/(1<<20), "ref-MB-alloc/load")
			b.ReportMetric(float64(badT)/float64(goodT), "ratio")
		})
	}
}
