package supervisor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary plays every role, chosen by VPNOS_TEST_ROLE:
//
//	supervisor  runs Run() with this binary as the child (role child)
//	child       prints its pid and sleeps; with VPNOS_TEST_ORPHAN set, the
//	            first instance starts a grandchild and exits at once, so the
//	            grandchild is orphaned to the supervisor
//	grandchild  prints its pid to a file and exits shortly after
func TestMain(m *testing.M) {
	switch os.Getenv("VPNOS_TEST_ROLE") {
	case "supervisor":
		self, _ := os.Executable()
		env := append(os.Environ(), "VPNOS_TEST_ROLE=child")
		_ = Run(context.Background(), Config{
			Path: self, Env: env, Subreaper: true,
			MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
			Started: func(pid int) { fmt.Printf("started %d\n", pid) },
		})
		fmt.Println("supervisor exit")
		os.Exit(0)
	case "child":
		if marker := os.Getenv("VPNOS_TEST_ORPHAN"); marker != "" {
			if _, err := os.Stat(marker); err != nil {
				_ = os.WriteFile(marker, nil, 0o644)
				self, _ := os.Executable()
				gc := exec.Command(self)
				gc.Env = append(os.Environ(), "VPNOS_TEST_ROLE=grandchild")
				if err := gc.Start(); err != nil {
					os.Exit(3)
				}
				os.Exit(0) // orphan the grandchild
			}
		}
		if os.Getenv("VPNOS_TEST_IGNORE_TERM") != "" {
			signalIgnoreTerm()
		}
		// Sleep rather than select{}: with no other goroutine the runtime
		// would end a bare select{} at once as a deadlock.
		for {
			time.Sleep(time.Hour)
		}
	case "grandchild":
		_ = os.WriteFile(os.Getenv("VPNOS_TEST_ORPHAN")+".pid", []byte(strconv.Itoa(os.Getpid())), 0o644)
		time.Sleep(200 * time.Millisecond)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type supervised struct {
	cmd     *exec.Cmd
	started chan int
}

func startSupervisor(t *testing.T, extraEnv ...string) *supervised {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	// Under -race the runtime sleeps a second at exit unless told not to;
	// the stop time is what the test measures.
	cmd.Env = append(append(os.Environ(), "VPNOS_TEST_ROLE=supervisor", "GORACE=atexit_sleep_ms=0"), extraEnv...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &supervised{cmd: cmd, started: make(chan int, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "started "); ok {
				pid, _ := strconv.Atoi(p)
				s.started <- pid
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	return s
}

func (s *supervised) nextChild(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case pid := <-s.started:
		return pid
	case <-time.After(within):
		t.Fatalf("no daemon started within %v", within)
	}
	return 0
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state is the field after the parenthesised command name.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRestartsKilledDaemon(t *testing.T) {
	s := startSupervisor(t)
	first := s.nextChild(t, 5*time.Second)
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := s.nextChild(t, 5*time.Second)
	if second == first || !alive(second) {
		t.Fatalf("daemon not restarted: first %d second %d", first, second)
	}
	waitFor(t, 2*time.Second, "the killed daemon to be reaped", func() bool { return !pidExists(first) })
	// A daemon that exits on its own is restarted too.
	if err := syscall.Kill(second, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if third := s.nextChild(t, 5*time.Second); third == second {
		t.Fatal("daemon not restarted after exiting")
	}
}

func TestSIGTERMStopsEverythingInTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"daemon stops on TERM", nil},
		{"daemon ignores TERM and is killed", []string{"VPNOS_TEST_IGNORE_TERM=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSupervisor(t, tc.env...)
			child := s.nextChild(t, 5*time.Second)
			time.Sleep(50 * time.Millisecond) // let the child install its handlers
			start := time.Now()
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("supervisor exit: %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("supervisor did not stop within 2 s of SIGTERM")
			}
			t.Logf("stopped in %v", time.Since(start))
			if pidExists(child) {
				t.Fatalf("daemon %d still exists after the supervisor stopped", child)
			}
		})
	}
}

func TestReapsOrphans(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "orphan")
	s := startSupervisor(t, "VPNOS_TEST_ORPHAN="+marker)
	s.nextChild(t, 5*time.Second) // exits at once, leaving the grandchild
	s.nextChild(t, 5*time.Second) // restarted daemon
	var gpid int
	waitFor(t, 3*time.Second, "the grandchild's pid", func() bool {
		b, err := os.ReadFile(marker + ".pid")
		if err != nil {
			return false
		}
		gpid, _ = strconv.Atoi(string(b))
		return gpid > 0
	})
	// The grandchild exits after 200 ms; as an orphan it belongs to the
	// supervisor, which must reap it (a zombie keeps its /proc entry).
	waitFor(t, 3*time.Second, fmt.Sprintf("orphan %d to be reaped", gpid), func() bool { return !pidExists(gpid) })
}

func pidExists(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// A supervisor killed outright takes its daemon with it: a new supervisor on
// the same root must not find the old daemon still holding the node.
func TestDaemonDiesWithSupervisor(t *testing.T) {
	s := startSupervisor(t)
	child := s.nextChild(t, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	if !alive(child) {
		t.Fatalf("daemon %d is not running", child)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = s.cmd.Process.Wait()
	waitFor(t, 3*time.Second, fmt.Sprintf("daemon %d to end with its supervisor", child), func() bool { return !alive(child) })
}
