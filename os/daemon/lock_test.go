package daemon

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
)

func TestLockState(t *testing.T) {
	dir := t.TempDir()
	release, err := LockState(dir, "daemon.lock")
	if err != nil {
		t.Fatal(err)
	}
	// A second holder on the same root is refused, and told who holds it.
	_, err = LockState(dir, "daemon.lock")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	// Another name is another lock (boot and daemon each hold one).
	relBoot, err := LockState(dir, "boot.lock")
	if err != nil {
		t.Fatal(err)
	}
	relBoot()
	release()
	release, err = LockState(dir, "daemon.lock")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release()
}

// One root, one supervisor, one daemon: a second `vpnos boot` on the root of
// a running one is refused and starts nothing; a boot killed outright takes
// its daemon with it, and a new boot on the root then comes up.
func TestOneBootPerRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	bin := labtest.Binary(t)
	const ns = "vc-lock-test"
	_ = exec.Command("ip", "netns", "del", ns).Run()
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	root := t.TempDir()
	cfg := filepath.Join(root, "etc", "vpnos")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "vpnos.yaml"), []byte("ssh_port: 0\nnetconf_port: 0\ninterface_wait: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boot := func() (*exec.Cmd, *bytes.Buffer) {
		var out bytes.Buffer
		cmd := exec.Command("ip", "netns", "exec", ns, bin, "boot", "--root", root)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Env = append(os.Environ(), "CLAB_INTFS=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, &out
	}
	answers := func() bool {
		return exec.Command("ip", "netns", "exec", ns, bin, "cli", "--root", root, "-c", "display version").Run() == nil
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	first, firstOut := boot()
	waitUntil("the first node to answer", answers)
	daemonPid := func() int {
		b, _ := os.ReadFile(filepath.Join(root, "var", "lib", "vpnos", "daemon.lock"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}
	pid := daemonPid()
	if pid == 0 {
		t.Fatalf("no daemon pid in the lock file:\n%s", firstOut)
	}

	second, secondOut := boot()
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(secondOut.String(), "another vpnos boot runs on this root") {
			t.Fatalf("second boot: %v\n%s", err, secondOut)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("a second boot on the same root keeps running:\n%s", secondOut)
	}
	if daemonPid() != pid {
		t.Fatalf("the daemon changed: %d, then %d", pid, daemonPid())
	}

	_ = first.Process.Kill()
	_ = first.Wait()
	waitUntil("the daemon to end with its boot", func() bool {
		// Gone, or a zombie waiting for whoever adopted it.
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		return len(f) > 0 && f[0] == "Z"
	})
	boot()
	waitUntil("a new boot to answer", answers)
}
