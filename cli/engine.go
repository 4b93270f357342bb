// Package cli is the VRP language: views, grammar, help, completion and
// renderers. Sessions run inside the daemon (see os/mgmt); front ends only
// move lines and screens.
//
// This first engine knows only the user view and a few display commands; the
// full language grows here.
package cli

import (
	"context"
	"strings"
	"time"

	"vpnos/cli/proto"
	"vpnos/os/mgmt"
	"vpnos/services/iface"
)

// Deps is what the engine needs from the daemon.
type Deps struct {
	Sysname string
	System  func() SystemInfo
	Ports   func() []iface.Port
	Now     func() time.Time
}

// Engine creates CLI sessions.
type Engine struct {
	deps Deps
}

// NewEngine makes an engine.
func NewEngine(d Deps) *Engine {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Engine{deps: d}
}

// Open starts a session.
func (e *Engine) Open(ctx context.Context, req proto.Request) (mgmt.Session, proto.Response) {
	s := &session{e: e}
	return s, proto.Response{Prompt: s.prompt()}
}

type session struct {
	e *Engine
}

func (s *session) prompt() string { return "<" + s.e.deps.Sysname + "> " }

func (s *session) Close() {}

func (s *session) Handle(ctx context.Context, req proto.Request) proto.Response {
	switch req.Op {
	case proto.OpPrompt:
		return proto.Response{Prompt: s.prompt()}
	case proto.OpExec:
		out, failed, exit := s.exec(req.Line)
		return proto.Response{Output: out, Failed: failed, Exit: exit, Prompt: s.prompt()}
	}
	return proto.Response{Prompt: s.prompt()}
}

func (s *session) exec(line string) (string, bool, bool) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", false, false
	}
	match := func(word, kw string) bool { return len(word) > 0 && strings.HasPrefix(kw, strings.ToLower(word)) }
	switch {
	case match(f[0], "quit") && len(f) == 1:
		return "", false, true
	case len(f) >= 2 && match(f[0], "display") && match(f[1], "version"):
		return RenderVersion(s.e.deps.Sysname, s.e.deps.System(), s.e.deps.Now()), false, false
	case len(f) >= 3 && match(f[0], "display") && match(f[1], "interface") && match(f[2], "brief"):
		return RenderInterfaceBrief(PortRows(s.e.deps.Ports())), false, false
	}
	col := len(s.prompt()) + strings.Index(line, f[0])
	return strings.Repeat(" ", col) + "^\nError: Unrecognized command found at '^' position.\n", true, false
}
