package netconf

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// testServer is a server over a fresh datastore.
func testServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Store == nil {
		sc, err := schema.Load()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Store = datastore.New(sc, nil)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client is a minimal NETCONF client over an in-memory connection.
type client struct {
	t       testing.TB
	conn    net.Conn
	r       *Reader
	w       *Writer
	id      uint32
	hello   *Node
	msgID   atomic.Int64
	done    chan error
	chunked bool
}

// dial opens a session as user; base11 selects chunked framing.
func dial(t testing.TB, s *Server, user string, base11 bool) *client {
	t.Helper()
	a, b := net.Pipe()
	c := &client{t: t, conn: a, r: NewReader(a, 0), w: NewWriter(a), done: make(chan error, 1)}
	go func() { c.done <- s.Serve(context.Background(), b, user, "192.0.2.99") }()
	t.Cleanup(func() { a.Close(); <-c.done })
	caps := "<capability>" + CapBase10 + "</capability>"
	if base11 {
		caps += "<capability>" + CapBase11 + "</capability>"
	}
	wrote := make(chan error, 1)
	go func() {
		wrote <- c.w.WriteMessage([]byte(`<hello xmlns="` + nsBase + `"><capabilities>` + caps + `</capabilities></hello>`))
	}()
	msg, err := c.r.ReadMessage()
	if err != nil {
		t.Fatalf("server hello: %v", err)
	}
	h, err := Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	c.hello = h
	var sid uint64
	fmt.Sscan(h.Child(nsBase, "session-id").TrimText(), &sid)
	c.id = uint32(sid)
	if err := <-wrote; err != nil {
		t.Fatalf("client hello: %v", err)
	}
	if base11 {
		c.r.SetChunked()
		c.w.SetChunked()
		c.chunked = true
	}
	return c
}

// raw sends a message and returns the parsed reply.
func (c *client) raw(msg string) *Node {
	c.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- c.w.WriteMessage([]byte(msg)) }()
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := c.r.ReadMessage()
	if err != nil {
		c.t.Fatalf("reply to %.200s: %v", msg, err)
	}
	if err := <-errc; err != nil {
		c.t.Fatal(err)
	}
	x, err := Parse(b)
	if err != nil {
		c.t.Fatalf("reply %s: %v", b, err)
	}
	return x
}

// rpc sends an operation (the rpc element's content) and returns the reply.
func (c *client) rpc(op string) *Node {
	c.t.Helper()
	id := c.msgID.Add(1)
	r := c.raw(fmt.Sprintf(`<rpc message-id="%d" xmlns="%s">%s</rpc>`, id, nsBase, op))
	if got, _ := r.Attr("", "message-id"); got != fmt.Sprint(id) {
		c.t.Fatalf("reply message-id %q, want %d: %s", got, id, r)
	}
	return r
}

// ok runs an operation that must succeed.
func (c *client) ok(op string) *Node {
	c.t.Helper()
	r := c.rpc(op)
	if e := r.Child(nsBase, "rpc-error"); e != nil {
		c.t.Fatalf("%.300s: %s", op, r)
	}
	return r
}

// fail runs an operation that must fail with tag and returns the first error.
func (c *client) fail(op, tag string) *Node {
	c.t.Helper()
	r := c.rpc(op)
	e := r.Child(nsBase, "rpc-error")
	if e == nil {
		c.t.Fatalf("%.300s succeeded: %s", op, r)
	}
	if got := e.Child(nsBase, "error-tag").TrimText(); got != tag {
		c.t.Fatalf("%.300s: error-tag %s, want %s: %s", op, got, tag, r)
	}
	return e
}

// config returns the data of get-config from source, with an optional
// filter element.
func (c *client) config(source, filter string) *Node {
	c.t.Helper()
	r := c.ok("<get-config><source><" + source + "/></source>" + filter + "</get-config>")
	return r.Child(nsBase, "data")
}

func (c *client) close() {
	c.t.Helper()
	c.ok("<close-session/>")
	select {
	case err := <-c.done:
		c.done <- err
	case <-time.After(5 * time.Second):
		c.t.Fatal("session did not end after close-session")
	}
}

// errText is an rpc-error's tag, path and message on one line.
func errText(e *Node) string {
	var parts []string
	for _, n := range []string{"error-type", "error-tag", "error-app-tag", "error-path", "error-message"} {
		if x := e.Child(nsBase, n); x != nil {
			parts = append(parts, n+"="+x.TrimText())
		}
	}
	if info := e.Child(nsBase, "error-info"); info != nil {
		for _, k := range info.Children {
			parts = append(parts, k.Local+"="+k.TrimText())
		}
	}
	return strings.Join(parts, " ")
}

var _ = io.EOF
