package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Command is a command written outside this package: displays of the
// services (display ip routing-table, display mpls lsp, ...), ping,
// tracert. It uses the same grammar machinery as the configuration
// commands: abbreviation, '?' help, Tab, error carets and filters.
type Command struct {
	// Views lists where the command exists: "user", "system", "sub" (every
	// view below system), "config" (system and sub) or "any".
	Views string
	// Syntax is a template: keywords, [optional], ( a | b ), [ a | b ] * (each
	// at most once, in any order) and parameters
	// {name:type} with type one of int<lo-hi>, text (rest of the line),
	// word (one token), ip (IPv4 address), mask (length or dotted mask,
	// given as a length), interface (canonical name), vpn-instance (an
	// existing instance name), vpn-name (any word, Tab completes the
	// existing instance names; the command checks it), iftype (an
	// interface type alone, canonical: GigabitEthernet, LoopBack ...).
	Syntax string
	// Help describes keywords and parameters by name for '?'.
	Help map[string]string
	// Display commands accept "| include/exclude/begin <regex>".
	Display bool
	// Run executes the command; its output is printed as is. An error is
	// printed as "Error: <err>."; an *ArgError marks a parameter with '^'.
	Run func(ctx context.Context, a *Args) (string, error)
	// Stream, instead of Run, executes a command that prints as it goes
	// (ping, tracert): what it writes to w reaches the user at once, and ctx
	// ends when the user interrupts it (Ctrl+C). Errors as for Run.
	Stream func(ctx context.Context, a *Args, w io.Writer) error
}

// liveWriter writes to the session's live output, or gathers into r.
type liveWriter struct {
	s *session
	r *result
}

func (w liveWriter) Write(p []byte) (int, error) {
	if w.s.live != nil {
		w.s.live(string(p))
		return len(p), nil
	}
	return w.r.out.Write(p)
}

// Args are the parameters and keywords of a matched command.
type Args struct {
	m    *matchResult
	User string
	// View is the current view's prompt suffix ("" in system view).
	Sysname string
}

// Value returns the first value of parameter name.
func (a *Args) Value(name string) (string, bool) { return a.m.value(name) }

// Values returns every value of a repeated parameter.
func (a *Args) Values(name string) []string { return a.m.values(name) }

// Has reports whether the parameter was given.
func (a *Args) Has(name string) bool { return a.m.has(name) }

// Keyword reports whether the matched form contains keyword kw (for
// optional keywords such as "verbose").
func (a *Args) Keyword(kw string) bool {
	for _, it := range a.m.cmd.seqs[a.m.seq] {
		if it.kind == tKeyword && it.word == kw {
			return true
		}
	}
	return false
}

// ArgError reports a wrong parameter value found while running; the caret
// points at the parameter.
type ArgError struct{ Name string }

func (e *ArgError) Error() string { return "wrong parameter " + e.Name }

// Register adds a command to the views it names. Call it before sessions
// are opened.
func (e *Engine) Register(c Command) error {
	if (c.Run == nil) == (c.Stream == nil) || c.Syntax == "" {
		return errors.New("cli: Register: syntax and one of run and stream are required")
	}
	run := func(s *session, m *matchResult) *result {
		r := &result{}
		args := &Args{m: m, User: s.user, Sysname: s.e.sysname()}
		var err error
		if c.Stream != nil {
			err = c.Stream(s.ctx(), args, liveWriter{s: s, r: r})
		} else {
			var out string
			out, err = c.Run(s.ctx(), args)
			r.out.WriteString(out)
		}
		if err != nil {
			var ae *ArgError
			if errors.As(err, &ae) {
				for _, b := range m.binds {
					if b.name == ae.Name {
						r.pe = &parseError{errWrongParam, b.off}
					}
				}
				if r.pe == nil {
					r.pe = &parseError{errWrongParam, 0}
				}
				r.failed = true
				return r
			}
			r.printf("Error: %s.\n", strings.TrimSuffix(capitalize(err.Error()), "."))
			r.failed = true
		}
		return r
	}
	g := gospec{views: c.Views, syntax: c.Syntax, help: c.Help, display: c.Display, run: run}
	cmd, err := e.compileGo(g)
	if err != nil {
		return fmt.Errorf("cli: Register: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range e.views {
		kind := "sub"
		if v == e.system {
			kind = "system"
		}
		if g.in(kind) {
			v.cmds = append(v.cmds, cmd)
		}
	}
	if g.in("user") {
		e.user.cmds = append(e.user.cmds, cmd)
	}
	return nil
}

func ipParam(p *param, help string) {
	p.match = func(_ *session, _ string, toks []token) (string, int) {
		a, err := netip.ParseAddr(toks[0].text)
		if err != nil || !a.Is4() {
			return "", 0
		}
		return a.String(), 1
	}
	p.hints = []hintRow{{"X.X.X.X", help}}
}
