package sshd

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// conn is the part of a connection the login checks look at.
type conn struct {
	user string
	ip   string
}

func (c conn) User() string          { return c.user }
func (c conn) SessionID() []byte     { return nil }
func (c conn) ClientVersion() []byte { return []byte("SSH-2.0-test") }
func (c conn) ServerVersion() []byte { return []byte("SSH-2.0-vpnos") }
func (c conn) RemoteAddr() net.Addr  { return &net.TCPAddr{IP: net.ParseIP(c.ip), Port: 40000} }
func (c conn) LocalAddr() net.Addr   { return &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 22} }

// TestAuthLimits checks the login checks with their limiter: wrong
// passwords block their address and, in numbers, everybody's passwords;
// every refusal is logged, a block once; keys still work.
func TestAuthLimits(t *testing.T) {
	var log syncBuffer
	key, authLine := newKey(t)
	a := NewAuth(AuthConfig{
		Username: "admin", Password: "secret", AuthorizedKeys: []string{authLine},
		FailDelay: time.Millisecond,
		Limiter:   NewLimiter(Limits{PerSource: 3, Overall: 5}),
		Log:       slog.New(slog.NewTextHandler(&log, nil)),
	})
	pw := func(ip, user, pass string) bool {
		_, err := a.Password(conn{user, ip}, []byte(pass))
		return err == nil
	}
	if !pw("192.0.2.1", "admin", "secret") {
		t.Fatal("the right password was refused")
	}
	for range 3 {
		if pw("192.0.2.1", "admin", "guess") {
			t.Fatal("a wrong password was accepted")
		}
	}
	if pw("192.0.2.1", "admin", "secret") || pw("192.0.2.1", "admin", "secret") {
		t.Fatal("the right password from a blocked address was accepted")
	}
	if !pw("192.0.2.2", "admin", "secret") {
		t.Fatal("another address was refused")
	}
	if _, err := a.PublicKey(conn{"admin", "192.0.2.1"}, key.PublicKey()); err != nil {
		t.Fatalf("a key from a blocked address was refused: %v", err)
	}
	// Two more failures from elsewhere reach the overall limit of 5.
	pw("198.51.100.1", "root", "x")
	pw("198.51.100.2", "admin", "y")
	if pw("203.0.113.1", "admin", "secret") {
		t.Fatal("a password was accepted while password logins are suspended")
	}
	l := log.String()
	for _, want := range []string{
		`msg="ssh login failed" user=admin remote=192.0.2.1:40000 method=password`,
		`msg="ssh logins from an address blocked" address=192.0.2.1 failures=3 window=1m0s`,
		`msg="ssh login refused" user=admin remote=192.0.2.1:40000 method=password reason="too many failed logins from this address"`,
		`msg="ssh login failed" user=root remote=198.51.100.1:40000`,
		`msg="ssh password logins suspended for everybody" failures=5`,
		`msg="ssh login refused" user=admin remote=203.0.113.1:40000 method=password reason="too many failed logins overall"`,
	} {
		if !strings.Contains(l, want) {
			t.Fatalf("log lacks %q:\n%s", want, l)
		}
	}
	// The second refusal of the same block is not logged at Info or above.
	if n := strings.Count(l, `reason="too many failed logins from this address"`); n != 1 {
		t.Fatalf("the block's refusals logged %d times, want once:\n%s", n, l)
	}
}

// TestAuthorizedKeysFile: keys in the settings folder's authorized_keys
// file work without a restart, go when removed, and a key with options
// (which vpnos cannot honour) is refused.
func TestAuthorizedKeysFile(t *testing.T) {
	var log syncBuffer
	path := filepath.Join(t.TempDir(), "authorized_keys")
	a := NewAuth(AuthConfig{Username: "admin", AuthorizedKeysFile: path, Log: slog.New(slog.NewTextHandler(&log, nil))})
	key, line := newKey(t)
	other, otherLine := newKey(t)
	restricted, restrictedLine := newKey(t)
	ok := func(k ssh.Signer, user string) bool {
		_, err := a.PublicKey(conn{user, "192.0.2.1"}, k.PublicKey())
		return err == nil
	}
	if ok(key, "admin") {
		t.Fatal("a key was accepted with no authorized_keys file")
	}
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		// A new modification time even on coarse clocks.
		future := time.Now().Add(time.Duration(len(text)) * time.Second)
		os.Chtimes(path, future, future)
	}
	write("# lab keys\n\n" + line + "\nnot a key\n" + `from="10.0.0.0/8" ` + restrictedLine + "\n")
	if !ok(key, "admin") || ok(other, "admin") || ok(key, "root") || ok(restricted, "admin") {
		t.Fatal("authorized_keys not applied as written")
	}
	for _, want := range []string{`msg="ignoring an authorized key"`, "line=4", "line=5", "key options (from=\\\"10.0.0.0/8\\\") are not supported"} {
		if !strings.Contains(log.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, log.String())
		}
	}
	write(otherLine + "\n")
	if ok(key, "admin") || !ok(other, "admin") {
		t.Fatal("a changed authorized_keys file was not read again")
	}
	os.Remove(path)
	if ok(other, "admin") {
		t.Fatal("a key was accepted after the file was removed")
	}
}

// TestDaemonPasswordGuessing guesses passwords in parallel against a
// running daemon, as the tester did (200 guesses in 1.1 s): only
// the first few are checked, the address is blocked (even for the right
// password), it is logged, and a key still logs in.
func TestDaemonPasswordGuessing(t *testing.T) {
	root := t.TempDir()
	port := freePort(t)
	key, authLine := newKey(t)
	writeSettings(t, root, port, "")
	if err := os.WriteFile(filepath.Join(root, "etc", "vpnos", AuthorizedKeysFile), []byte(authLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := StartDaemon(t, root, port)
	var wg sync.WaitGroup
	var accepted atomic.Int32
	start := time.Now()
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, err := d.Dial("admin", []ssh.AuthMethod{ssh.Password(fmt.Sprint("guess", i))}, nil); err == nil {
				accepted.Add(1)
				c.Close()
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != 0 {
		t.Fatalf("%d guesses accepted", accepted.Load())
	}
	t.Logf("60 parallel guesses refused in %v", time.Since(start))
	if _, err := d.Dial("admin", []ssh.AuthMethod{ssh.Password("admin")}, nil); err == nil {
		t.Fatal("the right password was accepted from the blocked address")
	}
	l := d.Log.String()
	if n := strings.Count(l, `msg="ssh login failed"`); n != 5 {
		t.Fatalf("%d passwords checked, want the limit of 5:\n%s", n, l)
	}
	for _, want := range []string{`msg="ssh logins from an address blocked" proc=daemon service=sshd address=127.0.0.1 failures=5`,
		`msg="ssh login refused"`, `msg="ssh connections refused: too many waiting to log in"`} {
		if !strings.Contains(l, want) {
			t.Fatalf("log lacks %q:\n%s", want, l)
		}
	}
	c, err := d.Dial("admin", []ssh.AuthMethod{ssh.PublicKeys(key)}, nil)
	if err != nil {
		t.Fatalf("key login from the blocked address: %v", err)
	}
	s, _ := c.NewSession()
	out, err := s.CombinedOutput("display version")
	c.Close()
	if err != nil || !bytes.Contains(out, []byte("VRP (R) software")) {
		t.Fatalf("exec after a key login: %v\n%s", err, out)
	}
}

func TestSourceOf(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 5}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 6}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "@x", Net: "unix"}, "@x"},
	} {
		if got := sourceOf(tc.addr); got != tc.want {
			t.Errorf("sourceOf(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
