package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"vpnos/lab/labtest"
)

// dockerScaleSizes are the lab sizes BenchmarkDockerLabScale brings up.
var dockerScaleSizes = []int{25, 50, 100}

// BenchmarkDockerLabScale brings up and tears down generated lines of 25, 50
// and 100 two-port nodes on the Docker runtime, and in the same run the same
// number of containers of a static `sleep` image on a bridge network with
// the same veth links (created 4 at a time and removed 8 at a time, as the
// runner does). It reports both per node; the summary compares the cost per
// node of the largest lab with the smallest.
//
//	go test -run '^$' -bench DockerLabScale -benchtime 1x ./lab/e2e/
func BenchmarkDockerLabScale(b *testing.B) {
	needRoot(b)
	image := labtest.Image(b, bin)
	ref := sleeperImage(b)
	var results []scaleResult
	for _, n := range dockerScaleSizes {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			results = append(results, benchDockerScale(b, n, image, ref))
		})
	}
	if len(results) < 2 {
		return
	}
	first, last := results[0], results[len(results)-1]
	fmt.Printf("docker: bring-up per node at %d is %.2fx the cost per node at %d (reference %.2fx); tear-down %.2fx (reference %.2fx)\n",
		last.nodes, float64(last.up)/float64(first.up), first.nodes, float64(last.refUp)/float64(first.refUp),
		float64(last.down)/float64(first.down), float64(last.refDown)/float64(first.refDown))
}

func benchDockerScale(b *testing.B, n int, image, ref string) scaleResult {
	lab := fmt.Sprintf("%s-d%d", prefix, n)
	mgmtNet, refNet := prefix+"-dscale", prefix+"-dscale-ref"
	labtest.CleanStale(b, lab)
	dockerRefClean(b, n, refNet)
	defaults := fmt.Sprintf("    image: %s\n    cap-add: [NET_ADMIN, NET_RAW, SYS_ADMIN]\n    env: {VPNOS_INTERFACE_WAIT: \"5\"}\n", image)
	file := writeTopology(b, "dscale.clab.yml", withMgmt(lineTopology(lab, n, defaults), mgmtNet, "172.29.64.0/22"))
	r := scaleResult{nodes: n}
	per := func(d time.Duration) time.Duration { return d / time.Duration(n) }
	for i := 0; i < b.N; i++ {
		l := labtest.Up(b, file, labtest.Options{Binary: bin, Runtime: "docker", Timeout: 5 * time.Minute})
		start := time.Now()
		if err := l.Down(); err != nil {
			b.Fatal(err)
		}
		r.up, r.down = per(l.UpTime), per(time.Since(start))

		up, err := dockerRefUp(n, ref, refNet)
		start = time.Now()
		dockerRefClean(b, n, refNet)
		if err != nil {
			b.Fatal(err)
		}
		r.refUp, r.refDown = per(up), per(time.Since(start))
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(r.up), "ms-up/node")
	b.ReportMetric(ms(r.refUp), "ref-ms-up/node")
	b.ReportMetric(float64(r.up)/float64(r.refUp), "x-ref-up")
	b.ReportMetric(ms(r.down), "ms-down/node")
	b.ReportMetric(ms(r.refDown), "ref-ms-down/node")
	b.Logf("%d nodes: up %.1fs (%.0f ms/node; reference %.0f ms/node), down %.1fs (%.0f ms/node; reference %.0f ms/node)",
		n, (r.up * time.Duration(n)).Seconds(), ms(r.up), ms(r.refUp), (r.down * time.Duration(n)).Seconds(), ms(r.down), ms(r.refDown))
	return r
}

// sleeperImage builds, once, an image holding only a static program that
// waits for a signal: the reference containers.
func sleeperImage(b *testing.B) string {
	const tag = "vpnos-bench-sleep:latest"
	dir := b.TempDir()
	src := "package main\n\nimport (\n\t\"os\"\n\t\"os/signal\"\n\t\"syscall\"\n)\n\n" +
		"func main() {\n\tc := make(chan os.Signal, 1)\n\tsignal.Notify(c, syscall.SIGTERM, syscall.SIGINT)\n\t<-c\n}\n"
	for name, text := range map[string]string{
		"main.go":    src,
		"go.mod":     "module sleep\n\ngo 1.22\n",
		"Dockerfile": "FROM scratch\nCOPY sleep /sleep\nENTRYPOINT [\"/sleep\"]\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", "sleep", ".")
	build.Dir, build.Env = dir, append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build the reference program: %v\n%s", err, out)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		b.Fatalf("build the reference image: %v\n%s", err, out)
	}
	return tag
}

func dockerRefName(i int) string { return fmt.Sprintf("%s-dref-%d", prefix, i) }

// dockerRefUp runs n reference containers on their own bridge network, 4 at
// a time, and links them in a line with veths, as the runner wires a lab.
func dockerRefUp(n int, image, network string) (time.Duration, error) {
	start := time.Now()
	if out, err := exec.Command("docker", "network", "create", "--driver", "bridge", "--subnet", "172.29.72.0/22", network).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("docker network create: %v: %s", err, out)
	}
	pids := make([]int, n+1)
	errs := make([]error, n+1)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, err := exec.Command("docker", "run", "--detach", "--name", dockerRefName(i), "--network", network, image).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("docker run: %v: %s", err, out)
				return
			}
			out, err = exec.Command("docker", "container", "inspect", "--format", "{{.State.Pid}}", dockerRefName(i)).Output()
			if err == nil {
				_, err = fmt.Sscan(strings.TrimSpace(string(out)), &pids[i])
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	for i := 1; i < n; i++ {
		a, err := netns.GetFromPid(pids[i])
		if err != nil {
			return 0, err
		}
		z, err := netns.GetFromPid(pids[i+1])
		if err != nil {
			a.Close()
			return 0, err
		}
		la := netlink.NewLinkAttrs()
		la.Name, la.MTU, la.Namespace = "eth2", 9500, netlink.NsFd(int(a))
		err = netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth1", PeerNamespace: netlink.NsFd(int(z))})
		a.Close()
		z.Close()
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// dockerRefClean removes the reference containers (8 at a time) and their
// network.
func dockerRefClean(b *testing.B, n int, network string) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_ = exec.Command("docker", "rm", "--force", dockerRefName(i)).Run()
		}()
	}
	wg.Wait()
	_ = exec.Command("docker", "network", "rm", network).Run()
}
