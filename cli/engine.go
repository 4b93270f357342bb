// Package cli is the VRP language: views, grammar, help, completion and
// renderers. Sessions run inside the daemon (see os/mgmt); front ends only
// move lines and screens.
//
// The configuration commands, their help and their rendering are derived
// from the YANG modules (yang/modules) and their vpnos-cli-extensions
// statements; commands that are not configuration (display, commit, quit,
// ...) are registered in Go with the same grammar machinery.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"vpnos/cli/proto"
	"vpnos/services/iface"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// Deps is what the engine needs from the daemon. Every field is optional.
type Deps struct {
	// Sysname is the sysname before any is configured.
	Sysname string
	System  func() SystemInfo
	// Ports lists the discovered ports; when set, only those physical
	// interfaces can be configured.
	Ports func() []iface.Port
	Now   func() time.Time
	// Store is the datastore the daemon made, with the services that own
	// the configuration registered on it (required).
	Store *datastore.Store
	// CommitMode is "two-stage" (VRP8, default) or "immediate" (VRP5).
	CommitMode string
	Log        *slog.Logger
}

// DefaultScreenLength is the page length of interactive sessions.
const DefaultScreenLength = 24

// Engine creates CLI sessions; it implements proto.Engine.
type Engine struct {
	// SaveFunc writes the configuration text for `save`; the daemon sets it.
	SaveFunc func(ctx context.Context, text string) error
	// SaveWarning, when set, returns a warning `save` prints before it asks
	// to continue ("" for none): lines of the startup file refused at boot
	// that the save drops. The daemon sets it.
	SaveWarning func() string
	// ReadFile reads a configuration file of the device's configuration
	// folder by name (`rollback configuration to file`; "" is the startup
	// file, for display saved-configuration); the daemon sets it.
	ReadFile func(ctx context.Context, name string) (string, error)
	// Startup describes the startup configuration for display startup; the
	// daemon sets it.
	Startup func() StartupInfo

	deps   Deps
	schema *schema.Schema
	store  *datastore.Store
	system *view
	views  map[string]*view
	user   *view
	hooks  map[string]hook

	mu sync.Mutex // guards the command lists while Register adds to them

	// sessMu guards sessions and each session's line, history and last.
	sessMu   sync.Mutex
	sessions []*session
	// activity replaces the clock of display users (tests).
	activity func() time.Time
}

// New makes an engine over deps.Store.
func New(d Deps) (*Engine, error) {
	if d.Store == nil {
		return nil, errors.New("cli: no datastore")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Sysname == "" {
		d.Sysname = "HUAWEI"
	}
	if d.CommitMode == "" {
		d.CommitMode = "two-stage"
	}
	e := &Engine{deps: d, hooks: defaultHooks(), store: d.Store, schema: d.Store.Schema}
	sys, views, err := buildViews(e.schema)
	if err != nil {
		return nil, fmt.Errorf("cli: %w", err)
	}
	e.system, e.views = sys, views
	e.user = &view{id: "user"}
	if err := e.buildCommands(); err != nil {
		return nil, fmt.Errorf("cli: %w", err)
	}
	return e, nil
}

// Store is the datastore; services register as participants on it.
func (e *Engine) Store() *datastore.Store { return e.store }

func (e *Engine) portExists(name string) bool {
	for _, p := range e.deps.Ports() {
		if p.Name == name {
			return true
		}
	}
	return false
}

// sysname is the committed sysname.
func (e *Engine) sysname() string {
	if v, ok := e.store.Running().Get(datastore.P("system", "sysname")); ok {
		return v
	}
	return e.deps.Sysname
}

// lastUpdate is the time of the last commit.
func (e *Engine) lastUpdate() time.Time {
	if c := e.store.Commits(); len(c) > 0 {
		return c[0].Time
	}
	return time.Time{}
}

// CurrentConfig renders the running configuration (what save writes).
func (e *Engine) CurrentConfig() string {
	return e.RenderConfig(e.store.Running(), e.lastUpdate(), "")
}

// Open starts a session.
func (e *Engine) Open(ctx context.Context, req proto.Request) (proto.Session, proto.Response) {
	s := e.newSession(req)
	e.register(s, req)
	return s, s.resp(&result{})
}

// pathVTY is the user-interface vty 0 4 configuration.
var pathVTY = datastore.P("user-interface", "vty")

func (e *Engine) newSession(req proto.Request) *session {
	user := req.User
	if user == "" {
		user = "admin"
	}
	screen := 0
	if req.Interactive {
		screen = DefaultScreenLength
		if req.Height > 2 {
			screen = req.Height - 1
		}
		if req.Source == "ssh" {
			if v, ok := e.store.Running().Get(pathVTY.Child("screen-length")); ok {
				screen, _ = strconv.Atoi(v)
			}
		}
	}
	return &session{e: e, user: user, cand: e.store.NewCandidate(), screen: screen, defScreen: screen, immediateMode: e.deps.CommitMode == "immediate"}
}

// result is the outcome of one request.
type result struct {
	out      strings.Builder
	failed   bool
	exit     bool
	question string
	pe       *parseError
}

func (r *result) printf(format string, a ...any) { fmt.Fprintf(&r.out, format, a...) }

// frame is one level of the view stack.
type frame struct {
	v    *view
	path datastore.Path
}

type session struct {
	e             *Engine
	user          string
	cand          *datastore.Candidate
	stack         []frame // empty: user view
	screen        int
	defScreen     int
	immediateMode bool // settings: VRP5
	immediate     bool // this system-view session commits each line
	pending       func(answer string) *result
	reqCtx        context.Context
	// errs caches the validation errors of the candidate (generation errsGen).
	errs    map[string]bool
	errsGen int
	// fastLoad skips the per-line validation (Replay's first pass).
	fastLoad bool
	// onTouch, when set with fastLoad, receives the tree items each
	// configuration line changed (Replay finds the lines a refusal names).
	onTouch func(keys []string)
	// preconfig lets a configuration file configure ports that are not
	// present (yet): their configuration is kept and takes effect when the
	// port appears. absent collects their names.
	preconfig bool
	absent    map[string]bool
	// live receives the output of streaming commands as it is produced
	// (nil: gather it into the response).
	live func(string)
	// line, source, remote, since, last and history serve display users
	// and display history-command (guarded by e.sessMu).
	line        line
	source      string
	remote      string
	since, last time.Time
	history     []string
}

// Close ends the session: its uncommitted changes are dropped and its line
// is free again.
func (s *session) Close() {
	s.e.unregister(s)
	s.cand.Close()
}

func (s *session) cur() *view {
	if len(s.stack) == 0 {
		return s.e.user
	}
	return s.stack[len(s.stack)-1].v
}

// prompt is the prompt including the separator the front end prints
// before the input.
func (s *session) prompt() string {
	p, _ := s.promptDirty()
	return p
}

// promptDirty is the prompt, and whether the session's view holds
// uncommitted changes (the prompt's '*').
func (s *session) promptDirty() (string, bool) {
	name := s.e.sysname()
	if len(s.stack) == 0 {
		return "<" + name + "> ", false
	}
	var suf strings.Builder
	for _, f := range s.stack[1:] {
		t := f.v.suffix
		if strings.HasPrefix(t, "+") {
			t = t[1:]
		} else {
			suf.Reset()
			suf.WriteByte('-')
		}
		suf.WriteString(expandSuffix(t, f.path))
	}
	if s.immediate {
		return "[" + name + suf.String() + "]", false
	}
	flag := "~"
	dirty := s.cand.Dirty()
	if dirty {
		flag = "*"
	}
	return "[" + flag + name + suf.String() + "] ", dirty
}

func expandSuffix(t string, p datastore.Path) string {
	if len(p) == 0 {
		return t
	}
	keys := p.Last().Keys
	for len(keys) > 0 && strings.Contains(t, "{") {
		i := strings.Index(t, "{")
		j := strings.Index(t[i:], "}")
		if j < 0 {
			break
		}
		t = t[:i] + keys[0] + t[i+j+1:]
		keys = keys[1:]
	}
	return t
}

func (s *session) resp(r *result) proto.Response {
	p, dirty := s.promptDirty()
	return proto.Response{Output: r.out.String(), Prompt: p, Question: r.question, Failed: r.failed, Exit: r.exit, ScreenLength: s.screen, Uncommitted: dirty}
}

// Handle answers one request.
func (s *session) Handle(ctx context.Context, req proto.Request) proto.Response {
	s.e.sessMu.Lock()
	s.last = s.e.activityNow()
	s.e.sessMu.Unlock()
	s.cand.Sync()
	s.reqCtx = ctx
	defer func() { s.reqCtx = nil }()
	switch req.Op {
	case proto.OpPrompt:
		return s.resp(&result{})
	case proto.OpExec, proto.OpAnswer:
		if s.pending != nil {
			return s.resp(s.answer(req.Line))
		}
		if req.Op == proto.OpAnswer {
			return s.resp(&result{})
		}
		return s.resp(s.exec(ctx, req.Line))
	case proto.OpHelp:
		return s.resp(s.help(req.Line))
	case proto.OpComplete:
		cands, replace := s.complete(req.Line)
		r := s.resp(&result{})
		r.Candidates, r.Replace = cands, replace
		return r
	}
	return s.resp(&result{})
}

// HandleStream is Handle, with the output of streaming commands (ping,
// tracert) handed to out while they run; ctx ends when the user interrupts.
func (s *session) HandleStream(ctx context.Context, req proto.Request, out func(string)) proto.Response {
	s.live = out
	defer func() { s.live = nil }()
	return s.Handle(ctx, req)
}

func (s *session) answer(line string) *result {
	p := s.pending
	s.pending = nil
	r := p(strings.TrimSpace(line))
	if r.question != "" && s.pending == nil {
		// The handler asked again without saying how to continue.
		s.pending = p
	}
	return r
}

// ask sets a question whose answer goes to f.
func (s *session) ask(r *result, q string, f func(answer string) *result) *result {
	r.question = q
	s.pending = f
	return r
}

// caret writes a parse error for a line typed after prompt.
func caret(r *result, prompt string, pe *parseError) {
	r.printf("%s^\n", strings.Repeat(" ", len(prompt)+pe.col))
	r.printf("Error: %s found at '^' position.\n", pe.kind)
	r.failed = true
}

// MaxLine is the longest command line, as on VRP.
const MaxLine = 3100

// exec runs one line.
func (s *session) exec(ctx context.Context, line string) *result {
	r := &result{}
	prompt := s.prompt()
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || trimmed[0] == '#' || trimmed[0] == '!' {
		return r
	}
	if len(line) > MaxLine {
		// The error near the start is the one to fix: only what goes past
		// the limit is "too many".
		cut, _, pe := splitFilter(line[:MaxLine])
		if pe == nil {
			_, pe = match(s, cut, s.cur().cmds)
		}
		if pe != nil && pe.col < MaxLine && pe.kind != errIncomplete {
			caret(r, prompt, pe)
			return r
		}
		caret(r, prompt, &parseError{errTooMany, MaxLine})
		return r
	}
	cmdLine, filter, ferr := splitFilter(line)
	if filter != nil || ferr != nil {
		// A '|' inside a value (a description) is not a filter.
		if wm, wpe := match(s, line, s.cur().cmds); wpe == nil && !wm.cmd.display {
			cmdLine, filter, ferr = line, nil, nil
		}
	}
	if ferr != nil {
		caret(r, prompt, ferr)
		return r
	}
	m, pe := match(s, cmdLine, s.cur().cmds)
	depth := len(s.stack)
	if pe != nil && !strings.HasPrefix(strings.ToLower(trimmed), "undo") {
		// A command of a parent view runs there and moves the session.
		for d := len(s.stack) - 1; d >= 1; d-- {
			if pm, ppe := match(s, cmdLine, s.stack[d-1].v.cmds); ppe == nil {
				m, pe, depth = pm, nil, d
				break
			}
		}
	}
	if pe != nil {
		caret(r, prompt, pe)
		return r
	}
	s.remember(line)
	if filter != nil && !m.cmd.display {
		caret(r, prompt, &parseError{errUnrecognized, filter.col})
		return r
	}
	saved := s.stack
	s.stack = s.stack[:depth]
	if filter != nil && s.live != nil {
		// Filtered output is gathered, then filtered.
		live := s.live
		s.live = nil
		defer func() { s.live = live }()
	}
	out := m.cmd.run(s, m)
	if out.failed && !out.exit && len(s.stack) == depth && depth != len(saved) {
		s.stack = saved
	}
	if out.pe != nil {
		// A column error found while running refers to the typed line.
		pe := out.pe
		out = &result{}
		caret(out, prompt, pe)
	}
	if filter != nil {
		filtered := filter.apply(out.out.String())
		out.out.Reset()
		out.out.WriteString(filtered)
	}
	return out
}
