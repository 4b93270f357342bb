package term

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vpnos/lab/labtest"

	"vpnos/os/mgmt"
)

// vpnosBinary builds the vpnos command once for the package's tests.
func vpnosBinary(t *testing.T) string { return labtest.Binary(t) }

// Tmux drives a program in a tmux pane, as a person at a terminal would.
type Tmux struct {
	t      *testing.T
	socket string
	target string
}

// StartTmux runs command in a detached tmux session of the given size, on a
// tmux server of its own.
func StartTmux(t *testing.T, command string, cols, rows int) *Tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is needed for the terminal tests: %v", err)
	}
	m := &Tmux{t: t, socket: fmt.Sprintf("vt-term-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6), target: "cli"}
	m.run("kill-server")
	if out, err := m.cmd("new-session", "-d", "-s", m.target, "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), command).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { m.run("kill-server") })
	return m
}

func (m *Tmux) cmd(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-L", m.socket}, args...)...)
}

func (m *Tmux) run(args ...string) string {
	out, _ := m.cmd(args...).CombinedOutput()
	return string(out)
}

// Type sends literal text.
func (m *Tmux) Type(text string) {
	m.t.Helper()
	if out, err := m.cmd("send-keys", "-t", m.target, "-l", text).CombinedOutput(); err != nil {
		m.t.Fatalf("send-keys %q: %v %s", text, err, out)
	}
}

// Key sends named keys (Tab, Enter, C-c, C-z, Space, BSpace).
func (m *Tmux) Key(keys ...string) {
	m.t.Helper()
	if out, err := m.cmd(append([]string{"send-keys", "-t", m.target}, keys...)...).CombinedOutput(); err != nil {
		m.t.Fatalf("send-keys %v: %v %s", keys, err, out)
	}
}

// Screen is the visible pane, trailing blank lines removed.
func (m *Tmux) Screen() string {
	out, err := m.cmd("capture-pane", "-t", m.target, "-p").Output()
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(out), "\n ")
}

// History is the pane with its scrollback, trailing blank lines removed.
func (m *Tmux) History() string {
	out, err := m.cmd("capture-pane", "-t", m.target, "-p", "-S", "-").Output()
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(out), "\n ")
}

// LastLine is the last non-blank line of the pane.
func (m *Tmux) LastLine() string {
	s := m.Screen()
	return s[strings.LastIndex(s, "\n")+1:]
}

// WaitFor polls the screen until ok holds, failing the test after 10 s.
func (m *Tmux) WaitFor(what string, ok func(screen string) bool) string {
	m.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := m.Screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("timed out waiting for %s; screen:\n%s", what, s)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// WaitLast waits until the last line is exactly want (trailing spaces are
// not visible in a capture).
func (m *Tmux) WaitLast(want string) string {
	m.t.Helper()
	return m.WaitFor(fmt.Sprintf("last line %q", want), func(s string) bool {
		return s[strings.LastIndex(s, "\n")+1:] == strings.TrimRight(want, " ")
	})
}

// WaitContains waits until the screen holds every line of block, in order and
// consecutive.
func (m *Tmux) WaitContains(block string) string {
	m.t.Helper()
	return m.WaitFor(fmt.Sprintf("lines\n%s", block), func(s string) bool {
		return strings.Contains(trimLines(s), trimLines(block))
	})
}

func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func startFakeDaemon(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	srv := &mgmt.Server{Path: filepath.Join(dir, "mgmt.sock"), Engine: fakeEngine{}, Log: slog.New(slog.DiscardHandler)}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv.Path
}

// TestTerminal drives `vpnos cli` in a real terminal (tmux) against a fake
// engine: Tab, ?, the pager, questions, Ctrl+C, Ctrl+Z and logout.
func TestTerminal(t *testing.T) {
	bin := vpnosBinary(t)
	sock := startFakeDaemon(t)
	m := StartTmux(t, fmt.Sprintf("%s cli --socket %s; echo EXIT=$?; sleep 60", bin, sock), 100, 30)
	m.WaitLast("<HUAWEI> ")

	// Tab: a unique match is completed with a trailing space.
	m.Type("sys")
	m.Key("Tab")
	m.WaitLast("<HUAWEI> system-view")
	m.Type("x")
	m.WaitLast("<HUAWEI> system-view x")
	m.Key("BSpace", "Enter")
	m.WaitLast("[~HUAWEI] ")

	// `?` after a word and a space: help under the line, then the line again,
	// and typing goes on where it was.
	m.Type("dis")
	m.Key("Tab")
	m.WaitLast("[~HUAWEI] display")
	m.Type("?")
	m.WaitContains(`[~HUAWEI] display ?
  version                 Display version information
  current-configuration   Current configuration
  interface               Interface status and configuration information
  interface-group         Interface group
[~HUAWEI] display`)
	m.Type("ver")
	m.Key("Enter")
	m.WaitContains("[~HUAWEI] display ver\nvpnos Versatile Routing Platform Software\n[~HUAWEI]")

	// `?` right after a partial word lists the matching keywords.
	m.Type("s")
	m.Type("?")
	m.WaitContains("[~HUAWEI] s?\n  sysname\n[~HUAWEI] s")
	// Ctrl+C drops the line.
	m.Key("C-c")
	m.Key("Enter")
	m.WaitFor("an empty line accepted after Ctrl+C", func(s string) bool {
		return strings.HasSuffix(trimLines(s), "[~HUAWEI] s\n[~HUAWEI]\n[~HUAWEI]")
	})

	// Several matches: the common prefix, then each candidate in turn.
	m.Type("display int")
	m.Key("Tab")
	m.WaitLast("[~HUAWEI] display interface")
	m.Key("Tab")
	m.WaitLast("[~HUAWEI] display interface")
	m.Key("Tab")
	m.WaitLast("[~HUAWEI] display interface-group")
	m.Key("Tab")
	m.WaitLast("[~HUAWEI] display interface")
	m.Key("C-c")
	m.WaitLast("[~HUAWEI] ")

	// No match: the line stays.
	m.Type("display zz")
	m.Key("Tab")
	m.Type("!")
	m.WaitLast("[~HUAWEI] display zz!")
	m.Key("C-c")
	m.WaitLast("[~HUAWEI] ")

	// The pager: 24 lines, More; Space: 24 more; Enter: one more; q stops.
	m.Type("display current-configuration")
	m.Key("Enter")
	m.WaitFor("the first page", func(s string) bool {
		return strings.Contains(s, "config-line-24\n  ---- More ----") && !strings.Contains(s, "config-line-25")
	})
	m.Key("Space")
	m.WaitFor("the second page", func(s string) bool {
		return strings.Contains(s, "config-line-48\n  ---- More ----") && !strings.Contains(s, "config-line-49")
	})
	m.Key("Enter")
	m.WaitFor("one more line", func(s string) bool {
		return strings.Contains(s, "config-line-49\n  ---- More ----") && !strings.Contains(s, "config-line-50")
	})
	m.Type("q")
	s := m.WaitLast("[~HUAWEI] ")
	if strings.Contains(s, "More") || strings.Contains(s, "config-line-50") {
		t.Fatalf("pager did not stop cleanly:\n%s", s)
	}

	// A change, then Ctrl+Z: `return` asks about the uncommitted change.
	m.Type("sysn PE1")
	m.Key("Enter")
	m.WaitLast("[*HUAWEI] ")
	m.Key("C-z")
	m.WaitContains("[*HUAWEI] return\nWarning: Uncommitted configurations found, commit them before exiting? [Y(yes)/N(no)/C(cancel)]:")
	m.Key("Enter")
	m.WaitContains("Error: Please choose 'YES', 'NO' or 'CANCEL' first before pressing 'Enter'. [Y/N/C]:")
	m.Type("x")
	m.Key("BSpace")
	m.Type("n")
	m.Key("Enter")
	m.WaitContains("[Y/N/C]:n\n<HUAWEI>")

	m.Type("save")
	m.Key("Enter")
	m.WaitContains("<HUAWEI> save\nWarning: All configurations will be written to the device.\nAre you sure to continue?[Y/N]:")
	m.Type("y")
	m.Key("Enter")
	m.WaitContains("Are you sure to continue?[Y/N]:y\nInfo: Save the configuration successfully.\n<HUAWEI>")

	// An unknown command, then logout.
	m.Type("bogus")
	m.Key("Enter")
	m.WaitContains("<HUAWEI> bogus\n         ^\nError: Unrecognized command found at '^' position.\n<HUAWEI>")
	m.Type("quit")
	m.Key("Enter")
	m.WaitContains("<HUAWEI> quit\nEXIT=0")
}

// TestTerminalPaste pastes several lines at once: every line must run, in
// order, none swallowed by the line editor.
func TestTerminalPaste(t *testing.T) {
	bin := vpnosBinary(t)
	sock := startFakeDaemon(t)
	m := StartTmux(t, fmt.Sprintf("%s cli --socket %s; echo EXIT=$?; sleep 60", bin, sock), 100, 30)
	m.WaitLast("<HUAWEI> ")
	m.Type("system-view\rsysname PE1\rdisplay version\rcommit\rquit\r")
	m.WaitContains(`<HUAWEI> system-view
[~HUAWEI] sysname PE1
[*HUAWEI] display version
vpnos Versatile Routing Platform Software
[*HUAWEI] commit
[~HUAWEI] quit
<HUAWEI>`)
}
