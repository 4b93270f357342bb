package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	// Col is the 1-based column of Text the error's caret points at (0:
	// the error has no caret).
	Col int
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
		s := e.fileSession(ctx, user)
		s.immediate = mode == immediate
		s.fastLoad = mode == fast
		return s.runFile(ctx, lines), s
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

// fileSession is a session that runs a configuration file: in the system
// view, configuring ports that are not present (yet).
func (e *Engine) fileSession(ctx context.Context, user string) *session {
	s := e.newSession(proto.Request{User: user})
	s.stack = []frame{{v: e.system}}
	s.preconfig = true
	s.reqCtx = ctx
	return s
}

// runFile runs the lines of a configuration file: a line at column 0 in
// the system view, an indented one in the view the lines before entered.
func (s *session) runFile(ctx context.Context, lines []string) []LineError {
	var errs []LineError
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' || t[0] == '!' || t == "return" || (t[0] == '[' && t[len(t)-1] == ']') {
			continue
		}
		if l[0] != ' ' && l[0] != '\t' {
			s.stack = s.stack[:1]
		}
		prompt := s.prompt()
		r := s.exec(ctx, l)
		if r.question != "" {
			s.pending = nil
		}
		if len(s.stack) == 0 || r.exit {
			s.stack = []frame{{v: s.e.system}}
		}
		if r.failed {
			errs = append(errs, LineError{Line: i + 1, Text: l, Message: errorText(r.out.String()), Col: caretCol(r.out.String(), prompt)})
		}
	}
	return errs
}

// caretCol finds the caret of an error output for a line typed after
// prompt: its 1-based column in the line, 0 when there is none.
func caretCol(out, prompt string) int {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == "^" {
			if c := strings.IndexByte(l, '^') - len(prompt); c >= 0 {
				return c + 1
			}
		}
	}
	return 0
}

// ParseConfig turns a configuration text into the configuration it
// describes, without committing it: each line is checked for syntax and
// types (the owners' rules hold when the tree is committed). It returns
// the lines it could not take.
func (e *Engine) ParseConfig(ctx context.Context, text string) (*datastore.Tree, []LineError) {
	s := e.fileSession(ctx, "file")
	s.fastLoad = true
	s.cand.Replace(datastore.NewTree())
	errs := s.runFile(ctx, strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n"))
	t := s.cand.Tree()
	s.cand.Close()
	return t, errs
}

// fileError is a configuration file that cannot be loaded: its first
// refused line.
type fileError struct {
	name string
	le   LineError
}

func (e *fileError) Error() string {
	return fmt.Sprintf("the file %s cannot be loaded: line %d is refused", e.name, e.le.Line)
}

// print writes the refusal with the line and its caret, as the CLI shows a
// refused line.
func (e *fileError) print(r *result) {
	r.printf("Error: The file %s cannot be loaded: line %d is refused.\n", e.name, e.le.Line)
	r.printf("%s\n", e.le.Text)
	if e.le.Col > 0 {
		r.printf("%s^\n", strings.Repeat(" ", e.le.Col-1))
	}
	r.printf("%s\n", e.le.Message)
	r.failed = true
}

// loadFile reads a configuration file by name (rollback configuration to
// file): the configuration it describes. A file with a line that cannot
// be taken is refused (a *fileError naming the line).
func (e *Engine) loadFile(ctx context.Context, name string) (*datastore.Tree, error) {
	if e.ReadFile == nil {
		return nil, errors.New("configuration files are not available")
	}
	text, err := e.ReadFile(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the file %s does not exist", name)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the file %s: %w", name, err)
	}
	t, errs := e.ParseConfig(ctx, text)
	if len(errs) > 0 {
		return nil, &fileError{name, errs[0]}
	}
	return t, nil
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
