// Package mgmt serves the management socket: a unix stream socket carrying
// newline-delimited JSON (see cli/proto, which also holds the client and
// the session interfaces). Each connection is one CLI session, owned by the
// daemon; the front end (the `vpnos cli` process, the SSH server) only
// moves lines and screens.
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
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"vpnos/cli/proto"
	"vpnos/os/serve"
)

// Who a session is: the management socket is mode 0660 (root and the
// group root may connect), and the daemon reads the peer's credentials
// from the socket (SO_PEERCRED). A peer running as root (uid 0: the SSH
// server's CLI process, `docker exec node cli`) may name the session's
// user in its open request (the SSH login; "admin" by default). Any other
// process is its own login name (or "uid-N" without one), whatever it asks
// for: the commit log records who made each change.

// Server accepts connections on a unix socket.
type Server struct {
	Path   string
	Engine proto.Engine
	Log    *slog.Logger
	// LookupUser names a uid (default: the login name from the user
	// database, else "uid-N").
	LookupUser func(uid uint32) string

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

// peerUID returns the uid of the process at the other end of c.
func peerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, errors.New("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return cred.Uid, nil
}

// sessionUser is the user a session of peer uid records: the name it asks
// for from root, its own name from anyone else.
func (s *Server) sessionUser(uid uint32, asked string) string {
	if uid == 0 {
		return asked
	}
	name := s.lookupUser(uid)
	if asked != "" && asked != name {
		s.Log.Debug("management session: user name not taken from a peer that is not root", "uid", uid, "asked", asked, "user", name)
	}
	return name
}

func (s *Server) lookupUser(uid uint32) string {
	if s.LookupUser != nil {
		return s.LookupUser(uid)
	}
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		return u.Username
	}
	return fmt.Sprintf("uid-%d", uid)
}

// opMalformed and opTooLong mark requests the reader could not take.
const (
	opMalformed = "malformed"
	opTooLong   = "too-long"
)

// readRequest reads one request line of at most proto.MaxRequest bytes; a
// longer one is read through and dropped, and comes back as opTooLong.
func readRequest(r *bufio.Reader) (proto.Request, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		if err != nil {
			return proto.Request{}, err
		}
		return proto.Request{Op: opTooLong}, nil
	}
	if err != nil {
		return proto.Request{}, err
	}
	var req proto.Request
	if err := json.Unmarshal(line, &req); err != nil {
		req = proto.Request{Op: opMalformed}
	}
	return req, nil
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	uid, err := peerUID(c)
	if err != nil {
		s.Log.Warn("management connection without peer credentials; refused", "err", err)
		return
	}
	enc := json.NewEncoder(c)
	var sess proto.Session
	defer func() {
		if sess != nil {
			sess.Close()
		}
	}()
	// A reader goroutine, so that an interrupt can arrive while a command
	// runs.
	reqs := make(chan proto.Request)
	go func() {
		defer close(reqs)
		r := bufio.NewReaderSize(c, proto.MaxRequest)
		for {
			req, err := readRequest(r)
			if err != nil {
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()
	var queued []proto.Request
	next := func() (proto.Request, bool) {
		if len(queued) > 0 {
			req := queued[0]
			queued = queued[1:]
			return req, true
		}
		req, ok := <-reqs
		return req, ok
	}
	for {
		req, ok := next()
		if !ok {
			return
		}
		var resp proto.Response
		switch {
		case req.Op == opMalformed:
			resp = proto.Response{Output: "Error: Malformed management request.\n", Failed: true}
		case req.Op == opTooLong:
			resp = proto.Response{Output: fmt.Sprintf("Error: The request is too long (over %d bytes); a command line has at most 3100 characters.\n", proto.MaxRequest), Failed: true}
		case req.Op == proto.OpInterrupt:
			continue // nothing is running
		case req.Op == proto.OpOpen && sess == nil:
			req.User = s.sessionUser(uid, req.User)
			sess, resp = s.open(ctx, req)
		case sess == nil:
			resp = proto.Response{Output: "Error: No session; open one first.\n", Failed: true}
		case req.Op == proto.OpClose:
			_ = enc.Encode(proto.Response{Exit: true})
			return
		default:
			var more []proto.Request
			resp, more = s.run(ctx, sess, req, enc, reqs)
			queued = append(queued, more...)
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
		if resp.Exit {
			return
		}
	}
}

// run handles one request. A streaming session's exec prints partial
// output as it comes, and an interrupt arriving meanwhile cancels it; other
// requests arriving meanwhile are returned to be handled afterwards.
func (s *Server) run(ctx context.Context, sess proto.Session, req proto.Request, enc *json.Encoder, reqs <-chan proto.Request) (proto.Response, []proto.Request) {
	st, ok := sess.(proto.Streamer)
	if !ok || (req.Op != proto.OpExec && req.Op != proto.OpAnswer) {
		return s.handle(ctx, sess, req), nil
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	partial := make(chan string)
	done := make(chan proto.Response, 1)
	go func() {
		// The loop below receives until done, so output written after an
		// interrupt (ping's statistics) is still delivered.
		done <- s.handleStream(rctx, st, req, func(out string) { partial <- out })
	}()
	var later []proto.Request
	for {
		select {
		case out := <-partial:
			_ = enc.Encode(proto.Response{Output: out, More: true})
		case resp := <-done:
			return resp, later
		case r, ok := <-reqs:
			switch {
			case !ok:
				cancel()
				reqs = nil
			case r.Op == proto.OpInterrupt:
				cancel()
			default:
				later = append(later, r)
			}
		}
	}
}

// open and handle contain a panic in the engine to the session that raised it.
func (s *Server) open(ctx context.Context, req proto.Request) (sess proto.Session, resp proto.Response) {
	defer func() {
		if p := recover(); p != nil {
			s.Log.Error("cli session open panicked", "panic", p)
			sess, resp = nil, proto.Response{Output: "Error: Internal error.\n", Failed: true, Exit: true}
		}
	}()
	return s.Engine.Open(ctx, req)
}

func (s *Server) handle(ctx context.Context, sess proto.Session, req proto.Request) (resp proto.Response) {
	defer func() {
		if p := recover(); p != nil {
			s.Log.Error("cli command panicked", "op", req.Op, "line", req.Line, "panic", p)
			resp = proto.Response{Output: "Error: Internal error while executing the command.\n", Failed: true}
		}
	}()
	return sess.Handle(ctx, req)
}

func (s *Server) handleStream(ctx context.Context, st proto.Streamer, req proto.Request, out func(string)) (resp proto.Response) {
	defer func() {
		if p := recover(); p != nil {
			s.Log.Error("cli command panicked", "op", req.Op, "line", req.Line, "panic", p)
			resp = proto.Response{Output: "Error: Internal error while executing the command.\n", Failed: true}
		}
	}()
	return st.HandleStream(ctx, req, out)
}
