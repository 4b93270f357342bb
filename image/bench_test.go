package image

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkImage reports, for vpnos:latest and, beside it, for a reference
// image holding only a static pause binary (measured in the same run):
//   - the image size,
//   - the time from `docker run` until the CLI (for the reference: a trivial
//     docker exec) answers,
//   - the idle resident memory of what runs in the container.
//
// Run with: go test -run '^$' -bench Image -benchtime 1x ./image/
func BenchmarkImage(b *testing.B) {
	buildImage(b)
	ref := buildPauseImage(b)

	size := func(img string) float64 {
		n, err := strconv.ParseFloat(run(b, "docker", "image", "inspect", "-f", "{{.Size}}", img), 64)
		if err != nil {
			b.Fatal(err)
		}
		return n / 1e6
	}
	vSize, rSize := size(testImage), size(ref)

	var vReady, rReady time.Duration
	var vRSS, rRSS, vPSS, rPSS, vStartPSS float64
	for i := 0; i < b.N; i++ {
		d, rss, pss, early := startAndMeasure(b, "vt-bench-vpnos", testImage, []string{"cli", "-c", "display version"})
		vReady += d
		vRSS += rss
		vPSS += pss
		vStartPSS += early
		d, rss, pss, _ = startAndMeasure(b, "vt-bench-ref", ref, []string{"/pause", "true"})
		rReady += d
		rRSS += rss
		rPSS += pss
	}
	n := float64(b.N)
	b.ReportMetric(vSize, "MB-image")
	b.ReportMetric(rSize, "MB-ref-image")
	b.ReportMetric(float64(vReady.Milliseconds())/n, "ms-to-cli")
	b.ReportMetric(float64(rReady.Milliseconds())/n, "ms-ref-to-exec")
	b.ReportMetric(vRSS/n, "MiB-idle-rss")
	b.ReportMetric(rRSS/n, "MiB-ref-rss")
	// PSS counts the binary's pages, shared by the supervisor and the
	// daemon, once.
	b.ReportMetric(vPSS/n, "MiB-idle-pss")
	b.ReportMetric(vStartPSS/n, "MiB-2s-pss")
	b.ReportMetric(rPSS/n, "MiB-ref-pss")
	b.ReportMetric(float64(vReady)/float64(rReady), "ready-ratio")
	b.ReportMetric(vRSS/rRSS, "rss-ratio")
	b.ReportMetric(vPSS/rPSS, "pss-ratio")
}

// startAndMeasure starts a container, polls exec until it succeeds, and sums
// the RSS and PSS of its processes once idle: 6 s after it answered, past
// the end of its start (the daemon returns its start-up heap 3 s after the
// startup configuration is in). early is the PSS 2 s after it answered.
func startAndMeasure(b *testing.B, name, img string, probe []string) (ready time.Duration, rss, pss, early float64) {
	b.Helper()
	removeContainer(name)
	defer removeContainer(name)
	start := time.Now()
	run(b, "docker", "run", "-d", "--name", name, "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SYS_ADMIN", img)
	for {
		if err := exec.Command("docker", append([]string{"exec", name}, probe...)...).Run(); err == nil {
			ready = time.Since(start)
			break
		}
		if time.Since(start) > 30*time.Second {
			b.Fatalf("%s never answered", name)
		}
		time.Sleep(5 * time.Millisecond)
	}
	pid, _ := strconv.Atoi(run(b, "docker", "inspect", "-f", "{{.State.Pid}}", name))
	time.Sleep(2 * time.Second)
	_, early = treeMem(pid)
	time.Sleep(4 * time.Second) // idle
	rss, pss = treeMem(pid)
	return ready, rss, pss, early
}

// treeMem sums Rss and Pss (MiB) of pid and its descendants.
func treeMem(root int) (rss, pss float64) {
	parent := map[int]int{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		if len(f) > 1 {
			parent[pid], _ = strconv.Atoi(f[1])
		}
	}
	inTree := func(p int) bool {
		for i := 0; i < 64 && p > 1; i++ {
			if p == root {
				return true
			}
			p = parent[p]
		}
		return p == root
	}
	var rssKB, pssKB float64
	for pid := range parent {
		if !inTree(pid) {
			continue
		}
		rollup, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		for _, l := range strings.Split(string(rollup), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 {
				continue
			}
			n, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "Rss:":
				rssKB += n
			case "Pss:":
				pssKB += n
			}
		}
	}
	return rssKB / 1024, pssKB / 1024
}

// buildPauseImage builds the reference image from testdata/pause.
func buildPauseImage(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "pause"), "./testdata/pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build pause: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY pause /pause\nENTRYPOINT [\"/pause\"]\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	const tag = "vpnos-bench-pause:latest"
	run(b, "docker", "build", "-q", "-t", tag, dir)
	return tag
}
