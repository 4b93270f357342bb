package netconf_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/crypto/ssh"

	"vpnos/lab/labtest"
)

// TestMain removes the vpnos binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	labtest.RemoveBinary()
	os.Exit(code)
}

// e2eNetns is the namespace of the end-to-end test's daemon, so that it can
// own port 830 (and 22) of its management side.
const e2eNetns = "vn-nc-e2e"

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// inNetns connects to addr from inside the test's namespace.
func inNetns(addr string) (net.Conn, error) {
	ns, err := netns.GetFromName(e2eNetns)
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
		return nil, errors.Join(derr, err) // the thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
	return c, derr
}

// hostKey logs in on addr and returns the server's host key.
func hostKey(addr string) (ssh.PublicKey, error) {
	c, err := inNetns(addr)
	if err != nil {
		return nil, err
	}
	var key ssh.PublicKey
	sc, chans, reqs, err := ssh.NewClientConn(c, addr, &ssh.ClientConfig{
		User: "admin", Auth: []ssh.AuthMethod{ssh.Password("admin")},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error { key = k; return nil },
		Timeout:         10 * time.Second,
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	ssh.NewClient(sc, chans, reqs).Close()
	return key, nil
}

// ncclientScript commits a VPN instance on 127.0.0.1:830 and prints the
// session id.
const ncclientScript = `
from ncclient import manager
m = manager.connect(host="127.0.0.1", port=830, username="admin", password="admin",
                    hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)
m.edit_config(target="candidate", config='<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    '<vpn-instances xmlns="urn:vpnos:yang:vpnos-vpn-instance"><vpn-instance><name>e2e</name>'
    '<ipv4-family><route-distinguisher>65000:830</route-distinguisher></ipv4-family>'
    '</vpn-instance></vpn-instances></config>')
m.commit()
print(m.session_id)
m.close_session()
`

// TestDaemonPort830 runs a whole daemon (settings defaults: NETCONF on
// port 830, SSH on 22, admin/admin) in a namespace of its own, commits
// through ncclient on port 830 and reads the result with the CLI.
func TestDaemonPort830(t *testing.T) {
	bin := labtest.Binary(t)
	clean := func() { _ = exec.Command("ip", "netns", "del", e2eNetns).Run() }
	clean()
	t.Cleanup(clean)
	if out, err := exec.Command("ip", "netns", "add", e2eNetns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	if out, err := exec.Command("ip", "-n", e2eNetns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v\n%s", err, out)
	}
	root := t.TempDir()
	etc := filepath.Join(root, "etc", "vpnos")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "vpnos.yaml"), []byte("interface_wait: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &syncBuf{}
	cmd := exec.Command("ip", "netns", "exec", e2eNetns, bin, "daemon", "--root", root)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "CLAB_INTFS=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	defer func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", log)
		}
	}()
	// Both ports answer, with one host key.
	var k830, k22 ssh.PublicKey
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err830, err22 error
		k830, err830 = hostKey("127.0.0.1:830")
		k22, err22 = hostKey("127.0.0.1:22")
		if err830 == nil && err22 == nil {
			break
		}
		select {
		case <-done:
			t.Fatal("the daemon exited")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ports 830 and 22 not serving: %v, %v", err830, err22)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !bytes.Equal(k830.Marshal(), k22.Marshal()) {
		t.Fatal("NETCONF and SSH show different host keys")
	}

	py := exec.Command("ip", "netns", "exec", e2eNetns, "/usr/bin/python3", "-c", ncclientScript)
	out, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("ncclient on port 830: %v\n%s", err, out)
	}
	sid := strings.TrimSpace(string(out))

	cli := func(c string) string {
		t.Helper()
		out, err := exec.Command("ip", "netns", "exec", e2eNetns, bin, "cli", "--root", root, "-c", c).CombinedOutput()
		if err != nil {
			t.Fatalf("cli %q: %v\n%s", c, err, out)
		}
		return string(out)
	}
	if got := cli("display current-configuration"); !strings.Contains(got, "ip vpn-instance e2e\n ipv4-family\n  route-distinguisher 65000:830") {
		t.Fatalf("the CLI does not show the NETCONF commit:\n%s", got)
	}
	if got := cli("display configuration commit list"); !strings.Contains(got, "admin") {
		t.Fatalf("commit list:\n%s", got)
	}
	// The README's ncclient example works as written (on this daemon's address).
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, example, ok := strings.Cut(string(readme), "With ncclient")
	_, example, _ = strings.Cut(example, "```python\n")
	example, _, ok2 := strings.Cut(example, "```")
	if !ok || !ok2 || !strings.Contains(example, `host="clab-pe-pair-pe1", port=830`) {
		t.Fatalf("no ncclient example in the README")
	}
	example = strings.Replace(example, `host="clab-pe-pair-pe1"`, `host="127.0.0.1"`, 1)
	out, err = exec.Command("ip", "netns", "exec", e2eNetns, "/usr/bin/python3", "-c", example).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "<name>red</name>") || !strings.Contains(string(out), "<route-distinguisher>65000:1</route-distinguisher>") {
		t.Fatalf("the README's ncclient example: %v\n%s", err, out)
	}
	if got := cli("display current-configuration configuration vpn-instance"); !strings.Contains(got, "ip vpn-instance red") {
		t.Fatalf("the README example's instance is not in the CLI:\n%s", got)
	}
	if !strings.Contains(log.String(), "netconf session started") || !strings.Contains(log.String(), "session="+sid) {
		t.Fatalf("the daemon log does not show NETCONF session %s", sid)
	}
}
