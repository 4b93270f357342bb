package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests build the image and run it in Docker, as containerlab would:
// not privileged, with NET_ADMIN, NET_RAW and SYS_ADMIN, CLAB_INTFS set,
// and the data links attached after the container has started.

const testImage = "vpnos:latest"

var buildOnce sync.Once
var buildErr error

func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// buildImage builds bin/vpnos and the image once per test binary.
func buildImage(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containers and move links")
	}
	buildOnce.Do(func() {
		root := repoRoot(t)
		cmd := exec.Command("make", "-C", root, "image")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("make image: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

func removeContainer(name string) { _ = exec.Command("docker", "rm", "-f", name).Run() }

func startNode(t testing.TB, name string, env ...string) int {
	t.Helper()
	removeContainer(name)
	args := []string{"run", "-d", "--name", name, "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SYS_ADMIN"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	run(t, "docker", append(args, testImage)...)
	t.Cleanup(func() { removeContainer(name) })
	pid, err := strconv.Atoi(run(t, "docker", "inspect", "-f", "{{.State.Pid}}", name))
	if err != nil || pid == 0 {
		t.Fatalf("container pid: %v", err)
	}
	return pid
}

// attach creates a veth pair whose one end becomes ethN inside the container.
func attach(t testing.TB, pid int, hostName, ifName string) {
	t.Helper()
	_ = exec.Command("ip", "link", "del", hostName).Run()
	tmp := hostName + "c"
	run(t, "ip", "link", "add", hostName, "mtu", "9500", "type", "veth", "peer", "name", tmp, "mtu", "9500")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", hostName).Run() })
	run(t, "ip", "link", "set", tmp, "netns", strconv.Itoa(pid))
	run(t, "nsenter", "-t", strconv.Itoa(pid), "-n", "ip", "link", "set", tmp, "name", ifName)
	run(t, "nsenter", "-t", strconv.Itoa(pid), "-n", "ip", "link", "set", ifName, "up")
	run(t, "ip", "link", "set", hostName, "up")
}

func cli(name, cmd string) (string, error) {
	out, err := exec.Command("docker", "exec", name, "cli", "-c", cmd).CombinedOutput()
	return string(out), err
}

func waitCLI(t testing.TB, name, cmd string, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var out string
	var err error
	for time.Now().Before(deadline) {
		out, err = cli(name, cmd)
		if err == nil && re.MatchString(out) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after %v, %q on %s gives (err %v):\n%s\nwanted %s", within, cmd, name, err, out, re)
	return ""
}

// daemonPID finds the vpnos daemon: the child of the container's PID 1.
func daemonPID(t testing.TB, initPID int) int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the parenthesised name: state, ppid, ...
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(initPID) || f[0] == "Z" {
			continue
		}
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.Contains(cmdline, []byte("\x00daemon")) {
			return pid
		}
	}
	return 0
}

func TestImageNodeWithLateLinks(t *testing.T) {
	buildImage(t)
	const node = "vt-img-node"
	pid := startNode(t, node, "CLAB_INTFS=2")
	// Links arrive after the container started, as containerlab wires them.
	time.Sleep(200 * time.Millisecond)
	attach(t, pid, "vt-img-h1", "eth1")
	attach(t, pid, "vt-img-h2", "eth2")
	both := regexp.MustCompile(`(?m)^GigabitEthernet0/1/0\s+up\s+up\s.*\n(?s:.*)^GigabitEthernet0/2/0\s+up\s+up\s`)
	waitCLI(t, node, "display interface brief", both, 15*time.Second)

	// The kernel alias carries the VRP name.
	alias := run(t, "nsenter", "-t", strconv.Itoa(pid), "-n", "ip", "-o", "link", "show", "eth1")
	if !strings.Contains(alias, "alias GigabitEthernet0/1/0") {
		t.Errorf("eth1 alias not set: %s", alias)
	}
	// A link going down is seen.
	run(t, "ip", "link", "set", "vt-img-h2", "down")
	waitCLI(t, node, "display interface brief", regexp.MustCompile(`(?m)^GigabitEthernet0/2/0\s+down\s+down`), 10*time.Second)
	run(t, "ip", "link", "set", "vt-img-h2", "up")
	waitCLI(t, node, "display interface brief", both, 10*time.Second)

	// The health check passes.
	waitHealthy(t, node, 20*time.Second)

	// Kill the daemon inside: the supervisor brings it back.
	first := daemonPID(t, pid)
	if first == 0 {
		t.Fatal("no daemon process in the container")
	}
	run(t, "kill", "-9", strconv.Itoa(first))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p := daemonPID(t, pid); p != 0 && p != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon not restarted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitCLI(t, node, "display interface brief", both, 15*time.Second)

	// docker stop returns quickly: the supervisor handles SIGTERM.
	start := time.Now()
	run(t, "docker", "stop", node)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("docker stop took %v", d)
	}
	if code := run(t, "docker", "inspect", "-f", "{{.State.ExitCode}}", node); code != "0" {
		t.Errorf("exit code %s", code)
	}
}

func waitHealthy(t testing.TB, node string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := run(t, "docker", "inspect", "-f", "{{.State.Health.Status}}", node)
		if st == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container health %q after %v", st, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestImageSmall(t *testing.T) {
	buildImage(t)
	size, err := strconv.ParseInt(run(t, "docker", "image", "inspect", "-f", "{{.Size}}", testImage), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image size %.1f MB", float64(size)/1e6)
	// The contract is an image under 25 MB.
	if size >= 25_000_000 {
		t.Fatalf("image is %d bytes, over the 25 MB target", size)
	}
	// The image holds the defaults and the cli link.
	out := run(t, "docker", "run", "--rm", "--entrypoint", "/usr/bin/vpnos", testImage, "version")
	if !strings.HasPrefix(out, "vpnos ") {
		t.Fatalf("version: %s", out)
	}
	// `cli` is on PATH and is the CLI front end.
	usage, _ := exec.CommandContext(context.Background(), "docker", "run", "--rm", "--entrypoint", "cli", testImage, "-h").CombinedOutput()
	if !strings.Contains(string(usage), "Usage of cli") {
		t.Fatalf("cli -h: %s", usage)
	}
}
