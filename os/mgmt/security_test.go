package mgmt

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"vpnos/cli/proto"
)

func startServer(t *testing.T, path string) *Server {
	t.Helper()
	srv := &Server{Path: path, Engine: &echoEngine{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv
}

// TestHelperDial is not a test: TestSessionUserFromPeer runs the test
// binary with it as another user, to open a session from that user.
func TestHelperDial(t *testing.T) {
	path := os.Getenv("VQ_MGMT_DIAL")
	if path == "" {
		return
	}
	cl, open, err := proto.Dial(context.Background(), path, proto.Request{User: "admin"})
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	defer cl.Close()
	fmt.Printf("PROMPT=%s\n", open.Prompt)
}

// TestSessionUserFromPeer: the user a session records comes from the
// peer's credentials. Root names it (the SSH server passes the login);
// another user is itself, whatever it asks for.
func TestSessionUserFromPeer(t *testing.T) {
	dir, err := os.MkdirTemp("", "vq-mgmt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "mgmt.sock")
	startServer(t, path)

	if os.Geteuid() != 0 {
		// Not root: this process is itself.
		me, _ := user.Current()
		_, open, err := proto.Dial(context.Background(), path, proto.Request{User: "admin"})
		if err != nil || open.Prompt != "<"+me.Username+"> " {
			t.Fatalf("open as %s: %+v %v", me.Username, open, err)
		}
		return
	}
	_, open, err := proto.Dial(context.Background(), path, proto.Request{User: "alice"})
	if err != nil || open.Prompt != "<alice> " {
		t.Fatalf("root names the user: %+v %v", open, err)
	}
	// A process of user nobody (the socket opened to it for the test) asks
	// for admin and is nobody.
	os.Chmod(path, 0o666)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	var uid, gid uint32
	fmt.Sscan(nobody.Uid, &uid)
	fmt.Sscan(nobody.Gid, &gid)
	// The test binary, where nobody may run it.
	bin := filepath.Join(dir, "mgmt.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperDial$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "VQ_MGMT_DIAL="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PROMPT=<nobody> ") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

// TestOversizedRequest: a request line over proto.MaxRequest is refused
// with an error without being read into memory, and the session goes on.
func TestOversizedRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mgmt.sock")
	startServer(t, path)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	send := func(s string) {
		if _, err := io.WriteString(c, s); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() string {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	send(`{"op":"open","user":"bob"}` + "\n")
	recv()

	const size = 64 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	go func() {
		chunk := []byte(strings.Repeat("x", 1<<20))
		io.WriteString(c, `{"op":"exec","line":"`)
		for n := 0; n < size; n += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
		io.WriteString(c, `"}`+"\n"+`{"op":"exec","line":"display version"}`+"\n")
	}()
	if got := recv(); !strings.Contains(got, `Error: The request is too long (over 65536 bytes); a command line has at most 3100 characters.`) || !strings.Contains(got, `"failed":true`) {
		t.Fatalf("oversized request: %.300s", got)
	}
	if got := recv(); !strings.Contains(got, "DISPLAY VERSION") {
		t.Fatalf("the session did not go on: %.300s", got)
	}
	runtime.ReadMemStats(&after)
	// The test's writer allocates its 1 MiB chunk; the server must not
	// have held the 64 MiB line.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("%d MiB allocated while a %d MiB request was refused", grew>>20, size>>20)
	}
}
