// Package mgmt serves the management socket: a unix stream socket carrying
// newline-delimited JSON (see cli/proto). Each connection is one CLI session,
// owned by the daemon; the front end (the `vpnos cli` process, the SSH
// server) only moves lines and screens.
package mgmt

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"vpnos/cli/proto"
	"vpnos/os/serve"
)

// Session is one CLI session inside the daemon.
type Session interface {
	// Handle answers one request. It must not block for long.
	Handle(ctx context.Context, req proto.Request) proto.Response
	// Close ends the session (discarding anything uncommitted).
	Close()
}

// Engine creates sessions; the VRP language engine implements it.
type Engine interface {
	Open(ctx context.Context, req proto.Request) (Session, proto.Response)
}

// Server accepts connections on a unix socket.
type Server struct {
	Path   string
	Engine Engine
	Log    *slog.Logger

	mu sync.Mutex
	ln net.Listener
}

// Listen creates the socket (replacing a stale one) with mode 0660.
func (s *Server) Listen() error {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
		return fmt.Errorf("mgmt: %w", err)
	}
	_ = os.Remove(s.Path)
	ln, err := net.Listen("unix", s.Path)
	if err != nil {
		return fmt.Errorf("mgmt: listen %s: %w", s.Path, err)
	}
	_ = os.Chmod(s.Path, 0o660)
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Serve accepts sessions until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("mgmt: Serve before Listen")
	}
	if err := serve.Conns(ctx, ln, s.serveConn); err != nil {
		return fmt.Errorf("mgmt: %w", err)
	}
	return nil
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	enc := json.NewEncoder(c)
	var sess Session
	defer func() {
		if sess != nil {
			sess.Close()
		}
	}()
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req proto.Request
		if err := json.Unmarshal(line, &req); err != nil {
			_ = enc.Encode(proto.Response{Output: "Error: Malformed management request.\n", Failed: true})
			continue
		}
		var resp proto.Response
		switch {
		case req.Op == proto.OpOpen && sess == nil:
			sess, resp = s.open(ctx, req)
		case sess == nil:
			resp = proto.Response{Output: "Error: No session; open one first.\n", Failed: true}
		case req.Op == proto.OpClose:
			_ = enc.Encode(proto.Response{Exit: true})
			return
		default:
			resp = s.handle(ctx, sess, req)
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
		if resp.Exit {
			return
		}
	}
}

// open and handle contain a panic in the engine to the session that raised it.
func (s *Server) open(ctx context.Context, req proto.Request) (sess Session, resp proto.Response) {
	defer func() {
		if p := recover(); p != nil {
			s.Log.Error("cli session open panicked", "panic", p)
			sess, resp = nil, proto.Response{Output: "Error: Internal error.\n", Failed: true, Exit: true}
		}
	}()
	return s.Engine.Open(ctx, req)
}

func (s *Server) handle(ctx context.Context, sess Session, req proto.Request) (resp proto.Response) {
	defer func() {
		if p := recover(); p != nil {
			s.Log.Error("cli command panicked", "op", req.Op, "line", req.Line, "panic", p)
			resp = proto.Response{Output: "Error: Internal error while executing the command.\n", Failed: true}
		}
	}()
	return sess.Handle(ctx, req)
}

// Client is one session seen from a front end.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
	enc  *json.Encoder
}

// Dial connects to the daemon and opens a session.
func Dial(ctx context.Context, path string, open proto.Request) (*Client, proto.Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, proto.Response{}, fmt.Errorf("connect to vpnos daemon at %s: %w", path, err)
	}
	cl := &Client{conn: c, r: bufio.NewReaderSize(c, 64<<10), enc: json.NewEncoder(c)}
	open.Op = proto.OpOpen
	resp, err := cl.Do(open)
	if err != nil {
		c.Close()
		return nil, resp, err
	}
	return cl, resp, nil
}

// Do sends one request and waits for its response.
func (c *Client) Do(req proto.Request) (proto.Response, error) {
	if err := c.enc.Encode(req); err != nil {
		return proto.Response{}, fmt.Errorf("mgmt send: %w", err)
	}
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return proto.Response{}, fmt.Errorf("mgmt receive: %w", err)
	}
	var resp proto.Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return proto.Response{}, fmt.Errorf("mgmt decode: %w", err)
	}
	return resp, nil
}

// Close ends the session.
func (c *Client) Close() error {
	_, _ = c.Do(proto.Request{Op: proto.OpClose})
	return c.conn.Close()
}
