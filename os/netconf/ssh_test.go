package netconf

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"vpnos/os/sshd"
)

// startSSH serves srv's netconf subsystem over SSH on a free port of
// 127.0.0.1 (user admin, password admin) and returns the address.
func startSSH(t testing.TB, srv *Server) string {
	t.Helper()
	cfg := sshd.Config{
		Addr:        "127.0.0.1:0",
		HostKeyPath: filepath.Join(t.TempDir(), "hostkey"),
		Auth:        sshd.AuthConfig{Username: "admin", Password: "admin", FailDelay: time.Millisecond},
		Subsystems:  map[string]sshd.Subsystem{"netconf": srv.Subsystem},
	}
	ss, err := sshd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ss.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ss.Addr().String()
}

// sshSubsystem opens the netconf subsystem as user/password.
func sshSubsystem(t testing.TB, addr, user, password string) (ssh.Channel, *ssh.Client, error) {
	t.Helper()
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		return nil, nil, err
	}
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	go ssh.DiscardRequests(reqs)
	ok, err := ch.SendRequest("subsystem", true, ssh.Marshal(struct{ Name string }{"netconf"}))
	if err != nil || !ok {
		c.Close()
		return nil, nil, err
	}
	return ch, c, nil
}

func TestSSHSubsystem(t *testing.T) {
	srv := testServer(t, Config{})
	addr := startSSH(t, srv)
	if _, _, err := sshSubsystem(t, addr, "admin", "wrong"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	ch, c, err := sshSubsystem(t, addr, "admin", "admin")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, w := NewReader(ch, 0), NewWriter(ch)
	hello, err := r.ReadMessage()
	if err != nil || !strings.Contains(string(hello), CapCandidate) {
		t.Fatalf("hello %q: %v", hello, err)
	}
	if err := w.WriteMessage([]byte(`<hello xmlns="` + nsBase + `"><capabilities><capability>` + CapBase11 + `</capability></capabilities></hello>`)); err != nil {
		t.Fatal(err)
	}
	r.SetChunked()
	w.SetChunked()
	if err := w.WriteMessage([]byte(`<rpc message-id="1" xmlns="` + nsBase + `"><get><filter><netconf-state xmlns="` + nsMonitoring + `"><sessions/></netconf-state></filter></get></rpc>`)); err != nil {
		t.Fatal(err)
	}
	reply, err := r.ReadMessage()
	if err != nil || !strings.Contains(string(reply), "<username>admin</username><source-host>127.0.0.1</source-host>") {
		t.Fatalf("reply %s: %v", reply, err)
	}
	// A shell is not served on the NETCONF port.
	ch2, _, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := ch2.SendRequest("shell", true, nil); ok {
		t.Fatal("a shell on the NETCONF port")
	}
	if ok, _ := ch2.SendRequest("subsystem", true, ssh.Marshal(struct{ Name string }{"sftp"})); ok {
		t.Fatal("sftp served")
	}
	// close-session ends the channel.
	if err := w.WriteMessage([]byte(`<rpc message-id="2" xmlns="` + nsBase + `"><close-session/></rpc>`)); err != nil {
		t.Fatal(err)
	}
	if reply, err := r.ReadMessage(); err != nil || !strings.Contains(string(reply), "<ok/>") {
		t.Fatalf("close-session: %s %v", reply, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.sessionList()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("session still listed after close-session")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := r.ReadMessage(); err == nil {
		t.Fatal("channel still open after close-session")
	}
}

// A client that stops reading, or sends a message slowly, holds only its
// own session.
func TestSlowClientsDoNotBlockOthers(t *testing.T) {
	srv := testServer(t, Config{})
	addr := startSSH(t, srv)
	// A slow sender: half a message, then nothing.
	slow, c1, err := sshSubsystem(t, addr, "admin", "admin")
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if _, err := slow.Write([]byte(`<hello xmlns="` + nsBase + `"><capabilities><capability>` + CapBase10 + `</capability></capabilities></hello>]]>]]><rpc message-id="1" xmlns="`)); err != nil {
		t.Fatal(err)
	}
	// A reader that never reads: asks for a large answer many times.
	stuck, c2, err := sshSubsystem(t, addr, "admin", "admin")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	w := NewWriter(stuck)
	_ = w.WriteMessage([]byte(`<hello xmlns="` + nsBase + `"><capabilities><capability>` + CapBase10 + `</capability></capabilities></hello>`))
	go func() {
		for i := 0; i < 200; i++ {
			if w.WriteMessage([]byte(`<rpc message-id="x" xmlns="`+nsBase+`"><get-schema xmlns="`+nsMonitoring+`"><identifier>ietf-netconf-monitoring</identifier></get-schema></rpc>`)) != nil {
				return
			}
		}
	}()
	// Others are served meanwhile.
	for i := 0; i < 3; i++ {
		ch, c, err := sshSubsystem(t, addr, "admin", "admin")
		if err != nil {
			t.Fatal(err)
		}
		r, w := NewReader(ch, 0), NewWriter(ch)
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		_ = w.WriteMessage([]byte(`<hello xmlns="` + nsBase + `"><capabilities><capability>` + CapBase10 + `</capability></capabilities></hello>`))
		_ = w.WriteMessage([]byte(`<rpc message-id="1" xmlns="` + nsBase + `"><lock><target><running/></target></lock></rpc>`))
		if reply, err := r.ReadMessage(); err != nil || !strings.Contains(string(reply), "<ok/>") {
			t.Fatalf("session %d: %s %v", i, reply, err)
		}
		_ = w.WriteMessage([]byte(`<rpc message-id="2" xmlns="` + nsBase + `"><unlock><target><running/></target></unlock></rpc>`))
		if reply, err := r.ReadMessage(); err != nil || !strings.Contains(string(reply), "<ok/>") {
			t.Fatalf("session %d: %s %v", i, reply, err)
		}
		c.Close()
	}
}
