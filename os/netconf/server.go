// Package netconf is the NETCONF server of vpnos (RFC 6241 over SSH, RFC
// 6242). It works on the same datastore as the CLI: every session edits a
// private candidate, commits go through the datastore's validation and its
// participants, locks live in the datastore so that CLI and NETCONF
// sessions meet them, and commits made on either side are seen at once on
// the other. It imports yang/, never cli/: the XML documents are converted
// to and from datastore trees by the YANG schema alone.
package netconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"vpnos/yang/datastore"
)

// Capability URIs (RFC 6241 §8, RFC 6242).
const (
	CapBase10          = "urn:ietf:params:netconf:base:1.0"
	CapBase11          = "urn:ietf:params:netconf:base:1.1"
	CapCandidate       = "urn:ietf:params:netconf:capability:candidate:1.0"
	CapConfirmed10     = "urn:ietf:params:netconf:capability:confirmed-commit:1.0"
	CapConfirmed11     = "urn:ietf:params:netconf:capability:confirmed-commit:1.1"
	CapValidate10      = "urn:ietf:params:netconf:capability:validate:1.0"
	CapValidate11      = "urn:ietf:params:netconf:capability:validate:1.1"
	CapRollbackOnError = "urn:ietf:params:netconf:capability:rollback-on-error:1.0"
	CapWritableRunning = "urn:ietf:params:netconf:capability:writable-running:1.0"
	CapXPath           = "urn:ietf:params:netconf:capability:xpath:1.0"
)

// Config configures a Server.
type Config struct {
	Store *datastore.Store
	// Model is built from Store's schema when nil.
	Model *Model
	// State gives the operational state of <get> (none when nil).
	State State
	// Confirmer runs commits and confirmed commits (the in-package
	// adapter over Store when nil).
	Confirmer Confirmer
	Log       *slog.Logger
	// MaxMessage bounds a received message (DefaultMaxMessage when 0).
	MaxMessage int
	// HelloTimeout bounds the wait for the client's hello (60 s when 0).
	HelloTimeout time.Duration
	// IdleTimeout closes a session without any message for so long (0: never).
	IdleTimeout time.Duration
	// MaxSessions bounds the sessions served at once (32 when 0).
	MaxSessions int
}

// Server serves NETCONF sessions over any byte stream (an SSH channel of
// the netconf subsystem).
type Server struct {
	cfg     Config
	store   *datastore.Store
	model   *Model
	confirm Confirmer
	log     *slog.Logger
	caps    []string
	started time.Time

	mu       sync.Mutex
	sessions map[uint32]*session
	stats    stats
	// big admits one message larger than bigMessage at a time.
	big chan struct{}
}

// bigMessage is the size above which messages are handled one at a time.
const bigMessage = 1 << 20

type stats struct {
	sessions, badHellos, dropped atomic.Uint32
	inRPCs, inBadRPCs, outErrors atomic.Uint32
}

// New makes a server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("netconf: no datastore")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.HelloTimeout <= 0 {
		cfg.HelloTimeout = 60 * time.Second
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 32
	}
	m := cfg.Model
	if m == nil {
		var err error
		if m, err = NewModel(cfg.Store.Schema, nil, MonitoringModule, StateModule, CommitModule); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, store: cfg.Store, model: m, confirm: cfg.Confirmer, log: cfg.Log, started: time.Now(), sessions: map[uint32]*session{}, big: make(chan struct{}, 1)}
	if s.confirm == nil {
		s.confirm = newConfirmer(cfg.Store)
	}
	s.caps = []string{CapBase10, CapBase11, CapCandidate, CapConfirmed10, CapConfirmed11, CapValidate10, CapValidate11,
		CapRollbackOnError, CapWritableRunning, CapXPath}
	for _, md := range m.Modules {
		s.caps = append(s.caps, md.Capability())
	}
	return s, nil
}

// Model is the server's schema model.
func (s *Server) Model() *Model { return s.model }

// Capabilities are the capabilities the server's hello announces.
func (s *Server) Capabilities() []string { return append([]string(nil), s.caps...) }

func (s *Server) sessionList() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, ss)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (s *Server) session(id uint32) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// ErrTooManySessions refuses a session beyond Config.MaxSessions.
var ErrTooManySessions = errors.New("netconf: too many sessions")

// Serve runs one session on rw (closed on return) for an authenticated
// user until the client closes it, close-session, kill-session or ctx ends.
func (s *Server) Serve(ctx context.Context, rw io.ReadWriteCloser, user, remote string) error {
	defer rw.Close()
	s.mu.Lock()
	if len(s.sessions) >= s.cfg.MaxSessions {
		s.mu.Unlock()
		s.log.Warn("netconf session refused: too many sessions", "user", user, "remote", remote)
		return ErrTooManySessions
	}
	id := s.store.NewSessionID()
	ss := newSession(s, id, rw, user, remote)
	s.sessions[id] = ss
	s.mu.Unlock()
	s.stats.sessions.Add(1)
	defer func() {
		s.mu.Lock()
		delete(s.sessions, id)
		s.mu.Unlock()
	}()
	err := ss.run(ctx)
	switch {
	case err == nil, errors.Is(err, errClosed):
		err = nil
	case ss.killed.Load():
		err = nil
	default:
		s.stats.dropped.Add(1)
	}
	s.log.Info("netconf session ended", "session", id, "user", user, "remote", remote, "err", err)
	return err
}

// errClosed is the end of a session by close-session.
var errClosed = errors.New("session closed")

func (s *Server) String() string {
	return fmt.Sprintf("netconf server (%d sessions)", len(s.sessionList()))
}
