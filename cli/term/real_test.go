package term

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startDaemon runs `vpnos daemon --root DIR` (no SSH) and returns its
// management socket once it answers.
func startDaemon(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	etc := filepath.Join(root, "etc", "vpnos")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "vpnos.yaml"), []byte("ssh_port: 0\ninterface_wait: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := exec.Command(vpnosBinary(t), "daemon", "--root", root)
	cmd.Stderr = &log
	cmd.Env = append(os.Environ(), "CLAB_INTFS=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	sock := filepath.Join(root, "var", "lib", "vpnos", "mgmt.sock")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		select {
		case <-done:
			t.Fatalf("daemon exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon socket %s not ready", sock)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTerminalRealEngine drives `vpnos cli` against the real daemon and VRP
// engine in tmux, as a person would: `?` after a partial word and after a
// space, Tab on abbreviations, and the question about uncommitted changes.
func TestTerminalRealEngine(t *testing.T) {
	bin := vpnosBinary(t)
	sock := startDaemon(t)
	m := StartTmux(t, fmt.Sprintf("%s cli --socket %s; echo EXIT=$?; sleep 60", bin, sock), 120, 40)
	m.WaitLast("<HUAWEI> ")

	// `dis?`: the keywords starting with dis; the input stays.
	m.Type("dis")
	m.Type("?")
	m.WaitContains("<HUAWEI> dis?\n  display\n<HUAWEI> dis")
	// Tab completes it, `?` lists what may follow.
	m.Key("Tab")
	m.WaitLast("<HUAWEI> display")
	m.Type("?")
	s := m.WaitFor("help for display", func(s string) bool {
		return strings.HasSuffix(s, "\n<HUAWEI> display") && strings.Contains(s, "<HUAWEI> display ?\n")
	})
	help := s[strings.Index(s, "<HUAWEI> display ?\n"):]
	for _, kw := range []string{"current-configuration", "version", "interface"} {
		if !strings.Contains(help, "\n  "+kw+" ") {
			t.Fatalf("help for display lacks %s:\n%s", kw, help)
		}
	}
	// Typing goes on after the help: an abbreviation and Tab.
	m.Type("cu")
	m.Key("Tab")
	m.WaitLast("<HUAWEI> display current-configuration")
	m.Key("Enter")
	m.WaitContains("#\nreturn\n<HUAWEI>")

	// sys Tab, then a change and Ctrl+Z: the question about uncommitted changes.
	m.Type("sys")
	m.Key("Tab")
	m.WaitLast("<HUAWEI> system-view")
	m.Key("Enter")
	m.WaitLast("[~HUAWEI] ")
	m.Type("sysname PE9")
	m.Key("Enter")
	m.WaitLast("[*HUAWEI] ")
	m.Key("C-z")
	m.WaitContains("[*HUAWEI] return\nWarning: Uncommitted configurations found, commit them before exiting? [Y(yes)/N(no)/C(cancel)]:")
	m.Type("y")
	m.Key("Enter")
	m.WaitLast("<PE9> ")

	// The pager on a long configuration (40 LoopBacks, configured by a
	// script beforehand), then screen-length 0 temporary turns it off.
	var script []string
	script = append(script, "system-view")
	for i := 0; i < 40; i++ {
		script = append(script, fmt.Sprintf("interface LoopBack%d", i), fmt.Sprintf("ip address 10.0.0.%d 32", i), "quit")
	}
	script = append(script, "commit")
	if out, err := exec.Command(bin, "cli", "--socket", sock, "-c", strings.Join(script, ";")).CombinedOutput(); err != nil {
		t.Fatalf("configure LoopBacks: %v\n%s", err, out)
	}
	m.Type("display current-configuration")
	m.Key("Enter")
	first := m.WaitFor("the first page", func(s string) bool { return strings.HasSuffix(s, "\n"+MoreText) })
	firstPage := first[strings.LastIndex(first, "<PE9> display current-configuration\n"):]
	if n := strings.Count(firstPage, "\n"); n != 25 { // the command line and 24 lines
		t.Fatalf("first page has %d lines, want 24 (the screen length):\n%s", n-1, firstPage)
	}
	m.Key("C-c")
	m.WaitLast("<PE9> ")
	m.Type("screen-length 0 temporary")
	m.Key("Enter")
	m.WaitLast("<PE9> ")
	m.Type("display current-configuration")
	m.Key("Enter")
	m.WaitContains("interface LoopBack39\n ip address 10.0.0.39 255.255.255.255\n#\nreturn\n<PE9>")
	h := m.History()
	last := h[strings.LastIndex(h, "<PE9> display current-configuration\n"):]
	if strings.Contains(last, "More") || !strings.Contains(last, "interface LoopBack0\n") {
		t.Fatalf("not shown whole after screen-length 0 temporary:\n%s", last)
	}

	m.Type("quit")
	m.Key("Enter")
	m.WaitContains("<PE9> quit\nEXIT=0")
}
