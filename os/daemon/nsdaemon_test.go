package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/cli/proto"
	"vpnos/os/settings"
)

// The daemon tests that need a network run the daemon in this test binary,
// started again inside a network namespace of its own (ip netns exec), with
// a port eth1 (GigabitEthernet0/1/0) whose veth peer is in a host
// namespace at 192.0.2.2/30.

// nsPair makes the daemon's namespace ns and the host's hostNS, joined by
// eth1 and hostIf (192.0.2.2/30), both up with their loopbacks; they are
// removed when the test ends (and before, if an earlier run left them).
// run runs a command and fails the test if it fails.
func nsPair(t *testing.T, ns, hostNS, hostIf string) (run func(args ...string)) {
	t.Helper()
	run = func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	cleanup := func() {
		for _, n := range []string{ns, hostNS} {
			_ = exec.Command("ip", "netns", "del", n).Run()
		}
	}
	cleanup()
	t.Cleanup(cleanup)
	run("ip", "netns", "add", ns)
	run("ip", "netns", "add", hostNS)
	run("ip", "link", "add", "eth1", "netns", ns, "type", "veth", "peer", "name", hostIf, "netns", hostNS)
	run("ip", "-n", hostNS, "addr", "add", "192.0.2.2/30", "dev", hostIf)
	run("ip", "-n", hostNS, "link", "set", hostIf, "up")
	run("ip", "-n", hostNS, "link", "set", "lo", "up")
	run("ip", "-n", ns, "link", "set", "eth1", "up")
	run("ip", "-n", ns, "link", "set", "lo", "up")
	return run
}

// runInNS runs the test named test again inside ns, with helperEnv=1 and
// env set (the test then plays the daemon's side), and fails t unless it
// passes. It returns the run's output.
func runInNS(t *testing.T, ns, test, helperEnv string, timeout time.Duration, env ...string) string {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.timeout="+timeout.String())
	cmd.Env = append(append(os.Environ(), helperEnv+"=1", "CLAB_INTFS=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\n--- PASS: "+test) {
		t.Fatalf("the daemon in %s: %v\n%s", ns, err, out)
	}
	return string(out)
}

// testDaemon is a daemon running in the test's process.
type testDaemon struct {
	s   *settings.Settings
	d   *Daemon
	ctx context.Context
	log *syncLog
}

// startDaemonHere starts a daemon in this process, on a fresh root whose startup file is
// startup, with the settings of env; tune may change it before it runs.
// It stops when the test ends, and its log is shown if the test failed.
func startDaemonHere(t *testing.T, startup string, env []string, tune func(*Daemon)) *testDaemon {
	t.Helper()
	root := t.TempDir()
	cfgDir := filepath.Join(root, "etc", "vpnos")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "startup.cfg"), []byte(startup), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := settings.Load(settings.Options{Root: root, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	td := &testDaemon{s: s, log: &syncLog{}}
	td.d, err = New(s, slog.New(slog.NewTextHandler(td.log, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(td.d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	td.ctx = ctx
	done := make(chan error, 1)
	go func() { done <- td.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("the daemon did not stop")
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", td.log.String())
		}
	})
	return td
}

// cli runs lines in one CLI session; it stops at the first that fails.
func (td *testDaemon) cli(lines ...string) (string, error) {
	cctx, c := context.WithTimeout(td.ctx, 20*time.Second)
	defer c()
	cl, _, err := proto.Dial(cctx, td.s.SocketPath(), proto.Request{User: "test", Source: "script"})
	if err != nil {
		return "", err
	}
	defer cl.Close()
	var b strings.Builder
	for _, l := range lines {
		resp, err := cl.Do(proto.Request{Op: proto.OpExec, Line: l})
		if err != nil {
			return b.String(), err
		}
		b.WriteString(resp.Output)
		if resp.Failed {
			return b.String(), fmt.Errorf("%q failed: %s", l, resp.Output)
		}
	}
	return b.String(), nil
}

// syncLog is a log buffer written by many goroutines.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
