package sshd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"vpnos/lab/labtest"

	"github.com/vishvananda/netns"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// vpnosBinary builds the vpnos command once for the package's tests.
func vpnosBinary(t *testing.T) string { return labtest.Binary(t) }

// syncBuffer collects a process's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Daemon is a `vpnos daemon --root DIR` started by a test, with SSH on a free
// port of 127.0.0.1.
type Daemon struct {
	t     *testing.T
	Root  string
	Port  int
	NetNS string // run in this named network namespace ("": the test's own)
	Log   *syncBuffer
	cmd   *exec.Cmd
	done  chan struct{}
}

// Settings writes <root>/etc/vpnos/vpnos.yaml.
func writeSettings(t *testing.T, root string, port int, extra string) {
	t.Helper()
	dir := filepath.Join(root, "etc", "vpnos")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("ssh_port: %d\nssh_listen: 127.0.0.1\ninterface_wait: 0\nlog_level: debug\n%s", port, extra)
	if err := os.WriteFile(filepath.Join(dir, "vpnos.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartDaemon starts the daemon on root (settings already written) and waits
// until SSH accepts connections.
func StartDaemon(t *testing.T, root string, port int) *Daemon {
	return StartDaemonIn(t, "", root, port)
}

// StartDaemonIn starts the daemon in the named network namespace netns.
func StartDaemonIn(t *testing.T, netns, root string, port int) *Daemon {
	t.Helper()
	d := &Daemon{t: t, Root: root, Port: port, NetNS: netns, Log: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(vpnosBinary(t), "daemon", "--root", root)
	if netns != "" {
		d.cmd = exec.Command("ip", "netns", "exec", netns, vpnosBinary(t), "daemon", "--root", root)
	}
	d.cmd.Stdout = d.Log
	d.cmd.Stderr = d.Log
	d.cmd.Env = append(os.Environ(), "CLAB_INTFS=")
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(d.Stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := d.dialTCP()
		if err == nil {
			c.Close()
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("daemon exited:\n%s", d.Log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("SSH not listening on %s:\n%s", d.Addr(), d.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *Daemon) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Port)) }

// Stop stops the daemon (SIGTERM, then SIGKILL).
func (d *Daemon) Stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// dialTCP connects to the SSH port, from inside the daemon's namespace.
func (d *Daemon) dialTCP() (net.Conn, error) {
	if d.NetNS == "" {
		return net.DialTimeout("tcp", d.Addr(), time.Second)
	}
	return dialInNetns(d.NetNS, d.Addr())
}

// dialInNetns connects from inside a named network namespace: the socket is
// made on a thread switched into it, and stays there.
func dialInNetns(name, addr string) (net.Conn, error) {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	c, derr := net.DialTimeout("tcp", addr, time.Second)
	if err := netns.Set(orig); err != nil {
		// The thread stays locked and is discarded with the goroutine.
		return nil, errors.Join(derr, err)
	}
	runtime.UnlockOSThread()
	return c, derr
}

// Dial logs in; hostKey receives the server's host key.
func (d *Daemon) Dial(user string, auth []ssh.AuthMethod, hostKey *ssh.PublicKey) (*ssh.Client, error) {
	c, err := d.dialTCP()
	if err != nil {
		return nil, err
	}
	sc, chans, reqs, err := ssh.NewClientConn(c, d.Addr(), &ssh.ClientConfig{
		User: user,
		Auth: auth,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if hostKey != nil {
				*hostKey = key
			}
			return nil
		},
		Timeout: 10 * time.Second,
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]`)

// Screen reads a PTY session's output and waits for text in it.
type Screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
	eof chan struct{}
}

func NewScreen(r io.Reader) *Screen {
	s := &Screen{eof: make(chan struct{})}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			s.mu.Lock()
			s.buf.Write(b[:n])
			s.mu.Unlock()
			if err != nil {
				close(s.eof)
				return
			}
		}
	}()
	return s
}

// Text is everything received so far, escape sequences removed.
func (s *Screen) Text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.ReplaceAllString(s.buf.String(), "")
}

// Expect waits until the text after position from contains want; it returns
// the position after it.
func (s *Screen) Expect(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		txt := s.Text()
		if from > len(txt) {
			from = len(txt)
		}
		if i := strings.Index(txt[from:], want); i >= 0 {
			return from + i + len(want)
		}
		select {
		case <-s.eof:
			t.Fatalf("session ended before %q; got:\n%s", want, txt)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q; got:\n%s", want, txt)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

// TestDaemonSSH runs the daemon and logs in with an SSH client library:
// passwords, keys, exec requests, an interactive PTY session with a resize,
// the persistent host key, and the idle timeout.
func TestDaemonSSH(t *testing.T) {
	root := t.TempDir()
	port := freePort(t)
	key, authLine := newKey(t)
	otherKey, _ := newKey(t)
	writeSettings(t, root, port, fmt.Sprintf("authorized_keys:\n  - %q\n", authLine))
	d := StartDaemon(t, root, port)
	password := []ssh.AuthMethod{ssh.Password("admin")}

	var hostKey ssh.PublicKey
	t.Run("password and exec", func(t *testing.T) {
		c, err := d.Dial("admin", password, &hostKey)
		if err != nil {
			t.Fatalf("login: %v\n%s", err, d.Log)
		}
		defer c.Close()
		s, _ := c.NewSession()
		out, err := s.CombinedOutput("display version")
		if err != nil || !strings.Contains(string(out), "VRP (R) software, Version 8.200") {
			t.Fatalf("exec display version: %v\n%s", err, out)
		}
		s, _ = c.NewSession()
		out, err = s.CombinedOutput("display version; display interface brief")
		if err != nil || !strings.Contains(string(out), "VRP (R) software") || !strings.Contains(string(out), "Interface                   PHY") {
			t.Fatalf("exec of two commands: %v\n%s", err, out)
		}
		s, _ = c.NewSession()
		out, err = s.CombinedOutput("bogus")
		var ee *ssh.ExitError
		if !errors.As(err, &ee) || ee.ExitStatus() != 1 || !strings.Contains(string(out), "Error: Unrecognized command found at '^' position.") {
			t.Fatalf("exec of a bad command: %v\n%s", err, out)
		}
		// `ssh -t host cmd`: the command runs on a PTY, so lines end in CRLF
		// for the client's raw terminal.
		s, _ = c.NewSession()
		if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
			t.Fatal(err)
		}
		out, err = s.CombinedOutput("display version")
		if err != nil || !strings.Contains(string(out), "VRP (R) software, Version 8.200 (vpnos") || !strings.Contains(string(out), "\r\n") {
			t.Fatalf("exec on a terminal: %v\n%q", err, out)
		}
		// A script on stdin, no terminal.
		s, _ = c.NewSession()
		s.Stdin = strings.NewReader("display version\n")
		out, err = s.CombinedOutput("")
		if err != nil || !strings.Contains(string(out), "VRP (R) software") {
			t.Fatalf("script on stdin: %v\n%s", err, out)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		for _, tc := range []struct{ user, pass string }{{"admin", "wrong"}, {"root", "admin"}} {
			start := time.Now()
			_, err := d.Dial(tc.user, []ssh.AuthMethod{ssh.Password(tc.pass)}, nil)
			if err == nil {
				t.Fatalf("%s/%s accepted", tc.user, tc.pass)
			}
			if el := time.Since(start); el < 900*time.Millisecond {
				t.Fatalf("%s/%s refused after %v; want a delay of about 1 s", tc.user, tc.pass, el)
			}
			want := fmt.Sprintf(`msg="ssh login failed" proc=daemon service=sshd user=%s remote=127.0.0.1:`, tc.user)
			if !strings.Contains(d.Log.String(), want) {
				t.Fatalf("failed login not logged as %q:\n%s", want, d.Log)
			}
		}
	})

	t.Run("keyboard-interactive", func(t *testing.T) {
		answer := func(pass string) ssh.AuthMethod {
			return ssh.KeyboardInteractive(func(user, instruction string, questions []string, echos []bool) ([]string, error) {
				if len(questions) != 1 || questions[0] != "Password: " || echos[0] {
					return nil, fmt.Errorf("unexpected questions %q %v", questions, echos)
				}
				return []string{pass}, nil
			})
		}
		c, err := d.Dial("admin", []ssh.AuthMethod{answer("admin")}, nil)
		if err != nil {
			t.Fatalf("keyboard-interactive login: %v", err)
		}
		c.Close()
		start := time.Now()
		if _, err := d.Dial("admin", []ssh.AuthMethod{answer("nope")}, nil); err == nil {
			t.Fatal("a wrong keyboard-interactive password was accepted")
		}
		if el := time.Since(start); el < 900*time.Millisecond {
			t.Fatalf("refused after %v; want a delay of about 1 s", el)
		}
	})

	t.Run("public key", func(t *testing.T) {
		c, err := d.Dial("admin", []ssh.AuthMethod{ssh.PublicKeys(key)}, nil)
		if err != nil {
			t.Fatalf("key login: %v", err)
		}
		s, _ := c.NewSession()
		out, err := s.CombinedOutput("display version")
		c.Close()
		if err != nil || !strings.Contains(string(out), "VRP (R) software") {
			t.Fatalf("exec: %v\n%s", err, out)
		}
		if _, err := d.Dial("admin", []ssh.AuthMethod{ssh.PublicKeys(otherKey)}, nil); err == nil {
			t.Fatal("an unknown key was accepted")
		}
		if _, err := d.Dial("other", []ssh.AuthMethod{ssh.PublicKeys(key)}, nil); err == nil {
			t.Fatal("the key was accepted for another user")
		}
	})

	t.Run("pty session", func(t *testing.T) {
		c, err := d.Dial("admin", password, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, _ := c.NewSession()
		if err := s.RequestPty("xterm", 30, 100, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
			t.Fatal(err)
		}
		in, _ := s.StdinPipe()
		out, _ := s.StdoutPipe()
		scr := NewScreen(out)
		if err := s.Shell(); err != nil {
			t.Fatal(err)
		}
		pos := scr.Expect(t, 0, "<HUAWEI> ")
		io.WriteString(in, "display version\r")
		pos = scr.Expect(t, pos, "<HUAWEI> display version")
		pos = scr.Expect(t, pos, "VRP (R) software, Version 8.200")
		pos = scr.Expect(t, pos, "<HUAWEI> ")

		// The CLI process runs on a PTY of the size asked, and follows resizes.
		pid := sessionPID(t, d)
		checkSize(t, pid, 30, 100)
		if err := s.WindowChange(50, 132); err != nil {
			t.Fatal(err)
		}
		checkSize(t, pid, 50, 132)

		io.WriteString(in, "quit\r")
		done := make(chan error, 1)
		go func() { done <- s.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("session ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("quit did not end the session")
		}
		if err := syscall.Kill(pid, 0); err == nil {
			time.Sleep(500 * time.Millisecond)
			if syscall.Kill(pid, 0) == nil {
				t.Fatalf("CLI process %d still runs after quit", pid)
			}
		}
	})

	t.Run("netconf subsystem is not served here", func(t *testing.T) {
		c, err := d.Dial("admin", password, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, _ := c.NewSession()
		if err := s.RequestSubsystem("netconf"); err == nil {
			t.Fatal("subsystem netconf accepted on the CLI port")
		}
	})

	t.Run("host key kept across restarts, idle timeout", func(t *testing.T) {
		path := filepath.Join(root, "var", "lib", "vpnos", HostKeyFile)
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("host key file: %v %v", st, err)
		}
		d.Stop()
		writeSettings(t, root, port, fmt.Sprintf("idle_timeout: 2\nauthorized_keys:\n  - %q\n", authLine))
		d2 := StartDaemon(t, root, port)
		var again ssh.PublicKey
		c, err := d2.Dial("admin", password, &again)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if hostKey == nil || !bytes.Equal(again.Marshal(), hostKey.Marshal()) {
			t.Fatal("the host key changed across a restart")
		}
		s, _ := c.NewSession()
		// vt100: the plain mode (what paramiko asks for) closes on idle as well.
		if err := s.RequestPty("vt100", 24, 80, nil); err != nil {
			t.Fatal(err)
		}
		out, _ := s.StdoutPipe()
		scr := NewScreen(out)
		start := time.Now()
		if err := s.Shell(); err != nil {
			t.Fatal(err)
		}
		scr.Expect(t, 0, "<HUAWEI>")
		select {
		case <-scr.eof:
		case <-time.After(10 * time.Second):
			t.Fatal("idle session not closed")
		}
		if el := time.Since(start); el < 2*time.Second {
			t.Fatalf("idle session closed after %v, before the 2 s timeout", el)
		}
		if !strings.Contains(scr.Text(), "idle for too long") {
			t.Fatalf("no idle message:\n%s", scr.Text())
		}

		// user-interface vty 0 4 sets the page length and the idle timeout
		// of later SSH sessions, over the settings.
		s, _ = c.NewSession()
		cfg := "system-view; user-interface vty 0 4; screen-length 5; idle-timeout 0 4; commit"
		if out, err := s.CombinedOutput(cfg); err != nil {
			t.Fatalf("vty configuration: %v\n%s", err, out)
		}
		s, _ = c.NewSession()
		if err := s.RequestPty("vt100", 40, 80, nil); err != nil {
			t.Fatal(err)
		}
		in, _ := s.StdinPipe()
		out, _ = s.StdoutPipe()
		scr = NewScreen(out)
		if err := s.Shell(); err != nil {
			t.Fatal(err)
		}
		scr.Expect(t, 0, "<HUAWEI>")
		fmt.Fprint(in, "display current-configuration\r")
		scr.Expect(t, 0, "---- More ----")
		if got := strings.Count(scr.Text()[strings.Index(scr.Text(), "display current-configuration"):], "\n"); got > 7 {
			t.Fatalf("%d lines before the pager, want a page of 5:\n%s", got, scr.Text())
		}
		fmt.Fprint(in, "q")
		start = time.Now()
		select {
		case <-scr.eof:
		case <-time.After(15 * time.Second):
			t.Fatal("idle session not closed")
		}
		if el := time.Since(start); el < 3500*time.Millisecond {
			t.Fatalf("idle session closed after %v, before the vty's 4 s timeout", el)
		}
	})
}

var pidRE = regexp.MustCompile(`msg="ssh session started".* pid=(\d+)`)

// sessionPID is the CLI process of the latest interactive session.
func sessionPID(t *testing.T, d *Daemon) int {
	t.Helper()
	m := pidRE.FindAllStringSubmatch(d.Log.String(), -1)
	if len(m) == 0 {
		t.Fatalf("no session in the log:\n%s", d.Log)
	}
	pid, _ := strconv.Atoi(m[len(m)-1][1])
	return pid
}

// checkSize waits until the terminal of pid has the size.
func checkSize(t *testing.T, pid, rows, cols int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, err := os.Open(fmt.Sprintf("/proc/%d/fd/0", pid))
		if err != nil {
			t.Fatalf("CLI stdin: %v", err)
		}
		ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
		f.Close()
		if err == nil && int(ws.Row) == rows && int(ws.Col) == cols {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal size %dx%d (%v), want %dx%d", ws.Row, ws.Col, err, rows, cols)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHostKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", HostKeyFile)
	s1, created, err := LoadOrCreateHostKey(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if s1.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Fatalf("key type %s", s1.PublicKey().Type())
	}
	os.Chmod(path, 0o644)
	s2, created, err := LoadOrCreateHostKey(path)
	if err != nil || created || !bytes.Equal(s1.PublicKey().Marshal(), s2.PublicKey().Marshal()) {
		t.Fatalf("reload: %v %v", created, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v not tightened", st.Mode())
	}
	os.WriteFile(path, []byte("garbage"), 0o600)
	if _, _, err := LoadOrCreateHostKey(path); err == nil {
		t.Fatal("a corrupted host key was accepted")
	}
}
