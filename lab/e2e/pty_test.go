package e2e

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"vpnos/lab/labtest"
)

// screen collects what a terminal shows.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor polls the screen until it shows want after position from.
func (s *screen) waitFor(t *testing.T, from int, want string, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		out := s.String()
		if i := strings.Index(out[from:], want); i >= 0 {
			return from + i + len(want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal does not show %q within %s; it shows %q", want, within, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNetnsInteractiveCLI opens a node's CLI on a terminal with `vpnos lab cli`.
func TestNetnsInteractiveCLI(t *testing.T) {
	needRoot(t)
	labtest.CleanStale(t, prefix+"-tty")
	file := writeTopology(t, "tty.clab.yml", lineTopology(prefix+"-tty", 2, ""))
	l := labtest.Up(t, file, labtest.Options{Binary: bin})

	cmd := exec.Command(bin, "lab", "cli", "--workdir", l.Workdir(), file, "r2")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var scr screen
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			scr.Write(buf[:n])
			if err != nil {
				close(done)
				return
			}
		}
	}()
	pos := scr.waitFor(t, 0, "<HUAWEI>", 10*time.Second)
	if _, err := tty.Write([]byte("display interface brief\r")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, pos, "GigabitEthernet0/1/0", 10*time.Second)
	if _, err := tty.Write([]byte("quit\r")); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("lab cli: %v\n%s", err, scr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("lab cli does not exit after quit:\n%s", scr.String())
	}
}
