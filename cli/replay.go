package cli

import (
	"context"
	"errors"
	"sort"
	"strings"

	"vpnos/cli/proto"
	"vpnos/yang/datastore"
)

// LineError is a line of a configuration file that could not be taken.
type LineError struct {
	Line    int    // 1-based line number
	Text    string // the line
	Message string // the error, without the caret line
}

// Replay loads a configuration text as user "startup"; see ReplayAs.
func (e *Engine) Replay(ctx context.Context, text string) ([]LineError, error) {
	return e.ReplayAs(ctx, text, "startup")
}

// ReplayAs loads a configuration text (a startup file, as display
// current-configuration prints it) into running as one commit by user.
// Lines that fail are reported with their line numbers and the rest still
// loads. A line starting at column 0 is run in the system view; indented
// lines run in the view the previous lines entered.
//
// The first pass checks syntax and types per line and the owners' rules
// once, at the commit. If that commit is refused, a second pass checks
// every line as an interactive session does (the datastore's rules refuse
// the lines that break them) and commits what is left, once. Only if a
// service still refuses that commit (a resource it cannot reserve), each
// line is committed on its own, so that everything valid still loads and
// the refused lines are named.
func (e *Engine) ReplayAs(ctx context.Context, text, user string) ([]LineError, error) {
	if user == "" {
		user = "startup"
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	const (
		fast = iota
		checked
		immediate
	)
	run := func(mode int) ([]LineError, *session) {
		s := e.newSession(proto.Request{User: user})
		s.stack = []frame{{v: e.system}}
		s.immediate = mode == immediate
		s.fastLoad = mode == fast
		s.preconfig = true
		s.reqCtx = ctx
		var errs []LineError
		for i, l := range lines {
			t := strings.TrimSpace(l)
			if t == "" || t[0] == '#' || t[0] == '!' || t == "return" || (t[0] == '[' && t[len(t)-1] == ']') {
				continue
			}
			if l[0] != ' ' && l[0] != '\t' {
				s.stack = s.stack[:1]
			}
			r := s.exec(ctx, l)
			if r.question != "" {
				s.pending = nil
			}
			if len(s.stack) == 0 || r.exit {
				s.stack = []frame{{v: e.system}}
			}
			if r.failed {
				errs = append(errs, LineError{Line: i + 1, Text: l, Message: errorText(r.out.String())})
			}
		}
		return errs, s
	}
	for _, mode := range []int{fast, checked} {
		errs, s := run(mode)
		if !s.cand.Dirty() {
			return errs, nil
		}
		_, err := s.cand.Commit(ctx, user, "configuration file")
		if err == nil || errors.Is(err, datastore.ErrNoChange) {
			e.logAbsent(s)
			return errs, nil
		}
		if mode == fast {
			e.deps.Log.Info("configuration file does not commit as a whole; checking it line by line", "err", err)
		} else {
			e.deps.Log.Warn("configuration file does not commit; committing it line by line", "err", err)
		}
	}
	errs, s := run(immediate)
	e.logAbsent(s)
	return errs, nil
}

// logAbsent names the ports a configuration file configured that are not
// present: their configuration waits for them.
func (e *Engine) logAbsent(s *session) {
	if len(s.absent) == 0 || e.deps.Log == nil {
		return
	}
	names := make([]string, 0, len(s.absent))
	for n := range s.absent {
		names = append(names, n)
	}
	sort.Strings(names)
	e.deps.Log.Warn("configuration kept for ports that are not present; it applies when they appear", "ports", strings.Join(names, " "))
}

// errorText keeps the message lines of an error output (not the caret).
func errorText(out string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if strings.TrimSpace(l) == "^" {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, " ")
}
