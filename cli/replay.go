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
// Lines that cannot be taken are reported with their line numbers and the
// rest loads, in that one commit: a big file with one bad line does not
// turn into a commit per line, and the commit log keeps its rollback
// points.
//
// A line starting at column 0 runs in the system view, an indented one in
// the view the lines before it entered. A refused line at column 0 that
// would have entered a view takes the indented lines after it with it
// (they belong to that view); any other refused line leaves the view as it
// was, so one stray line inside a block costs only itself.
//
// The lines run without the owners' rules first (syntax and types are
// checked per line) and the result is committed. When the commit is
// refused, the lines that broke it are found and left out, and the rest is
// committed: a refusal about a value that one line set names that line at
// once; otherwise the file's blocks are tried by halves with the
// datastore's Check (validation and the services' reservations, undone),
// and the lines of a failing block one by one, as an interactive session
// would refuse them.
func (e *Engine) ReplayAs(ctx context.Context, text, user string) ([]LineError, error) {
	if user == "" {
		user = "startup"
	}
	ld := &loader{e: e, ctx: ctx, user: user, lines: strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n"), refused: map[int]string{}}
	ld.openers = e.viewOpeners()
	return ld.load()
}

// maxAttributions bounds the rounds that take out the lines a refused
// commit names before the loader tries the file by halves.
const maxAttributions = 8

// loader loads one configuration file.
type loader struct {
	e       *Engine
	ctx     context.Context
	user    string
	lines   []string
	openers [][]string
	// refused holds the refused lines (index) with their messages.
	refused map[int]string
	// only, when set, restricts a run to these lines (the trials of the
	// search by halves).
	only map[int]bool

	// Filled by each run: dep[i] is the line that entered the view line i
	// ran in (-1: the system view; -2: the line did not run), opens[i]
	// tells that line i entered a view, and touched maps each tree item to
	// the lines that changed it, in order.
	dep      []int
	opens    []bool
	touched  map[string][]int
	openedAt map[string][]int // the lines that entered a view at a node
}

func (l *loader) load() ([]LineError, error) {
	for round := 0; ; round++ {
		s := l.run()
		if !s.cand.Dirty() {
			l.e.logAbsent(s)
			return l.errors(), nil
		}
		_, err := s.cand.Commit(l.ctx, l.user, "configuration file")
		if err == nil || errors.Is(err, datastore.ErrNoChange) {
			l.e.logAbsent(s)
			return l.errors(), nil
		}
		s.cand.Close()
		if round < maxAttributions && l.attribute(err) {
			l.e.deps.Log.Info("configuration file does not commit as a whole; leaving out the lines the refusal names", "err", err)
			continue
		}
		l.e.deps.Log.Info("configuration file does not commit as a whole; searching the lines that break it", "err", err)
		if err := l.search(); err != nil {
			return l.errors(), err
		}
	}
}

// errors lists the refused lines in file order.
func (l *loader) errors() []LineError {
	idx := make([]int, 0, len(l.refused))
	for i := range l.refused {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]LineError, 0, len(idx))
	for _, i := range idx {
		out = append(out, LineError{Line: i + 1, Text: l.lines[i], Message: l.refused[i]})
	}
	return out
}

// skip tells whether line i holds no command.
func skip(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || t[0] == '#' || t[0] == '!' || t == "return" || (t[0] == '[' && t[len(t)-1] == ']')
}

func sameFrame(a, b frame) bool { return a.v == b.v && a.path.String() == b.path.String() }

// run executes the lines that are not refused (and, during a search, are
// among only) into a new candidate, without the owners' rules; lines
// refused by their syntax or types are added to refused.
func (l *loader) run() *session {
	e := l.e
	s := e.newSession(proto.Request{User: l.user})
	s.stack = []frame{{v: e.system}}
	s.fastLoad = true
	s.preconfig = true
	s.reqCtx = l.ctx
	n := len(l.lines)
	l.dep, l.opens, l.touched, l.openedAt = make([]int, n), make([]bool, n), map[string][]int{}, map[string][]int{}
	cur := 0
	s.onTouch = func(keys []string) {
		for _, k := range keys {
			l.touched[k] = append(l.touched[k], cur)
		}
	}
	frames := []int{-1} // the line that entered each frame of s.stack
	blocked := -1       // a refused line at column 0 that would have entered a view
	for i, line := range l.lines {
		l.dep[i] = -2
		if skip(line) {
			continue
		}
		top := line[0] != ' ' && line[0] != '\t'
		if top {
			blocked = -1
		}
		if _, no := l.refused[i]; no || (l.only != nil && !l.only[i]) {
			continue
		}
		if blocked >= 0 {
			l.refused[i] = blockedMsg(blocked)
			continue
		}
		before := append([]frame(nil), s.stack...)
		beforeFrames := append([]int(nil), frames...)
		if top {
			s.stack, frames = s.stack[:1], frames[:1]
		}
		l.dep[i] = frames[len(frames)-1]
		cur = i
		r := s.exec(l.ctx, line)
		if r.question != "" {
			s.pending = nil
		}
		if len(s.stack) == 0 || r.exit {
			s.stack = []frame{{v: e.system}}
		}
		if r.failed {
			l.refused[i] = errorText(r.out.String())
			l.dep[i] = -2
			switch {
			case top && l.opener(line):
				// Its indented lines belong to the view it did not enter.
				blocked = i
				s.stack, frames = s.stack[:1], frames[:1]
			default:
				// A stray line: the view stays as it was.
				s.stack, frames = before, beforeFrames
			}
			continue
		}
		// Frames the line entered are its own.
		keep := 0
		for keep < len(s.stack) && keep < len(frames) && keep < len(before) && sameFrame(s.stack[keep], before[keep]) {
			keep++
		}
		if top && keep > 1 {
			keep = 1
		}
		frames = frames[:min(keep, len(frames))]
		for len(frames) < len(s.stack) {
			k := s.stack[len(frames)].path.String()
			l.openedAt[k] = append(l.openedAt[k], i)
			frames = append(frames, i)
			l.opens[i] = true
		}
	}
	return s
}

func blockedMsg(opener int) string {
	return fmt.Sprintf("Error: Line %d, which enters the view of this line, was refused.", opener+1)
}

// viewOpeners lists the leading keywords of the system view's commands
// that enter a view (interface, ip vpn-instance, mpls ...).
func (e *Engine) viewOpeners() [][]string {
	var out [][]string
	for _, c := range e.system.cmds {
		if c.cn == nil || c.cn.view == nil || c.undo {
			continue
		}
		for _, seq := range c.seqs {
			var kws []string
			for _, it := range seq {
				if it.kind != tKeyword {
					break
				}
				kws = append(kws, it.word)
			}
			if len(kws) > 0 {
				out = append(out, kws)
			}
		}
	}
	return out
}

// opener tells whether a line starts like a command that enters a view
// (its keywords, perhaps abbreviated, whatever its parameters).
func (l *loader) opener(line string) bool {
	toks := tokenize(line)
next:
	for _, kws := range l.openers {
		if len(toks) < len(kws) {
			continue
		}
		for j, kw := range kws {
			if !strings.HasPrefix(kw, strings.ToLower(toks[j].text)) {
				continue next
			}
		}
		return true
	}
	return false
}

// refuse refuses line i with msg, and the lines that ran in a view it
// entered.
func (l *loader) refuse(i int, msg string) {
	l.refused[i] = msg
	if !l.opens[i] {
		return
	}
	for j := i + 1; j < len(l.lines); j++ {
		for d := l.dep[j]; d >= 0; d = l.dep[d] {
			if d == i {
				if _, done := l.refused[j]; !done {
					l.refused[j] = blockedMsg(i)
				}
				break
			}
		}
	}
}

// attribute refuses the lines a refused commit names: each refusal is
// about a node, and the line that entered that node's view (an instance
// that may not exist) or else the last line that changed it (an RD used
// twice, an address) is refused, with the lines in the views it entered.
// It reports false when some refusal names no node a line made; nothing is
// refused then.
func (l *loader) attribute(err error) bool {
	var ve *datastore.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	blame := map[int]string{}
	for _, x := range ve.Errs {
		p, ok := datastore.ErrorPath(x)
		if !ok {
			return false
		}
		by := l.openedAt[p.String()]
		if len(by) == 0 {
			by = l.touched[p.String()]
		}
		if len(by) == 0 {
			return false
		}
		i := by[len(by)-1]
		if _, dup := blame[i]; !dup {
			blame[i] = "Error: " + userText(x) + "."
		}
	}
	for i, msg := range blame {
		l.refuse(i, msg)
	}
	return len(blame) > 0
}

// search finds the lines that keep the file from committing, with the
// datastore's Check: the file's blocks (a line at column 0 and the lines
// in the views it entered) are tried by halves on top of those already
// taken; a block that fails on its own is tried line by line. What is left
// commits as one.
func (l *loader) search() error {
	l.only = nil
	l.run()
	var blocks [][]int
	root := map[int]int{}
	for i := range l.lines {
		if l.dep[i] == -2 {
			continue
		}
		r := i
		for l.dep[r] >= 0 {
			r = l.dep[r]
		}
		if r == i {
			root[i] = len(blocks)
			blocks = append(blocks, []int{i})
		} else {
			blocks[root[r]] = append(blocks[root[r]], i)
		}
	}
	dep, opens := l.dep, l.opens
	taken := map[int]bool{}
	check := func(extra []int) error {
		l.only = map[int]bool{}
		for i := range taken {
			l.only[i] = true
		}
		for _, i := range extra {
			l.only[i] = true
		}
		s := l.run()
		defer s.cand.Close()
		err := s.cand.Check(l.ctx)
		if errors.Is(err, datastore.ErrNoChange) {
			return nil
		}
		return err
	}
	take := func(ls []int) {
		for _, i := range ls {
			taken[i] = true
		}
	}
	var try func(bs [][]int) error
	try = func(bs [][]int) error {
		if err := l.ctx.Err(); err != nil {
			return err
		}
		var all []int
		for _, b := range bs {
			all = append(all, b...)
		}
		err := check(all)
		if err == nil {
			take(all)
			return nil
		}
		if len(bs) > 1 {
			if err := try(bs[:len(bs)/2]); err != nil {
				return err
			}
			return try(bs[len(bs)/2:])
		}
		// One block: its first line, then each of the others.
		b := bs[0]
		if err := check(b[:1]); err != nil {
			l.dep, l.opens = dep, opens
			l.refuse(b[0], l.commitText(err))
			return nil
		}
		take(b[:1])
		for _, i := range b[1:] {
			if _, no := l.refused[i]; no {
				continue
			}
			if err := check([]int{i}); err != nil {
				l.dep, l.opens = dep, opens
				l.refuse(i, l.commitText(err))
				continue
			}
			taken[i] = true
		}
		return nil
	}
	err := try(blocks)
	l.only = nil
	return err
}

// commitText is the message a session prints for a refused commit.
func (l *loader) commitText(err error) string {
	s := l.e.newSession(proto.Request{User: l.user})
	defer s.cand.Close()
	r := &result{}
	s.printCommitError(r, err)
	return errorText(r.out.String())
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
