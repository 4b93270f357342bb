package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"vpnos/cli/proto"
	"vpnos/yang/datastore"
)

// gospec is a command written in Go.
type gospec struct {
	views   string // space-separated: user system sub any config
	syntax  string
	help    map[string]string
	display bool
	run     func(s *session, m *matchResult) *result
}

func (g gospec) in(v string) bool {
	for _, x := range strings.Fields(g.views) {
		if x == v || x == "any" || (x == "config" && (v == "system" || v == "sub")) {
			return true
		}
	}
	return false
}

// buildCommands compiles every command of every view. A command written
// in Go is compiled once and shared by the views that offer it (display
// commands are in all of them): it holds nothing of a view.
func (e *Engine) buildCommands() error {
	specs := e.builtins()
	compiled := make([]*command, len(specs))
	compile := func(i int) (*command, error) {
		if compiled[i] == nil {
			c, err := e.compileGo(specs[i])
			if err != nil {
				return nil, err
			}
			compiled[i] = c
		}
		return compiled[i], nil
	}
	for _, v := range e.views {
		kind := "sub"
		if v == e.system {
			kind = "system"
		}
		for _, cn := range v.cnodes {
			cn := cn
			if cn.virtual {
				continue
			}
			seqs, err := e.compileConfig(cn, cn.tmpl, false)
			if err != nil {
				return err
			}
			v.cmds = append(v.cmds, &command{seqs: seqs, cn: cn, run: func(s *session, m *matchResult) *result { return s.runConfig(cn, false, m) }})
			useqs, err := e.undoSequences(cn)
			if err != nil {
				return err
			}
			v.cmds = append(v.cmds, &command{seqs: useqs, cn: cn, undo: true, run: func(s *session, m *matchResult) *result { return s.runConfig(cn, true, m) }})
		}
		for i, g := range specs {
			if g.in(kind) {
				c, err := compile(i)
				if err != nil {
					return err
				}
				v.cmds = append(v.cmds, c)
			}
		}
	}
	for i, g := range specs {
		if g.in("user") {
			c, err := compile(i)
			if err != nil {
				return err
			}
			e.user.cmds = append(e.user.cmds, c)
		}
	}
	return nil
}

func (e *Engine) compileGo(g gospec) (*command, error) {
	t, err := parseTemplate(g.syntax)
	if err != nil {
		return nil, err
	}
	c := &command{display: g.display, run: g.run}
	for _, sq := range expand(t) {
		var seq []item
		for _, n := range sq {
			switch n.kind {
			case tKeyword, tFlag:
				h := g.help[n.word]
				if h == "" {
					h = keywordHelp[n.word]
				}
				seq = append(seq, item{kind: tKeyword, word: n.word, help: h})
			case tParam:
				name, typ, _ := strings.Cut(n.word, ":")
				p, err := e.goParam(name, typ, g.help[name])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", g.syntax, err)
				}
				seq = append(seq, item{kind: tParam, p: p, word: name})
			}
		}
		c.seqs = append(c.seqs, seq)
	}
	return c, nil
}

var intType = regexp.MustCompile(`^int<(\d+)-(\d+)>$`)

func (e *Engine) goParam(name, typ, help string) (*param, error) {
	p := &param{name: name}
	switch {
	case intType.MatchString(typ):
		mm := intType.FindStringSubmatch(typ)
		lo, _ := strconv.ParseUint(mm[1], 10, 64)
		hi, _ := strconv.ParseUint(mm[2], 10, 64)
		p.match = func(_ *session, _ string, toks []token) (string, int) {
			n, err := strconv.ParseUint(toks[0].text, 10, 64)
			if err != nil || n < lo || n > hi {
				return "", 0
			}
			return strconv.FormatUint(n, 10), 1
		}
		p.hints = []hintRow{{fmt.Sprintf("INTEGER<%d-%d>", lo, hi), help}}
	case typ == "text":
		p.match = func(_ *session, line string, toks []token) (string, int) {
			v := strings.TrimRight(line[toks[0].off:], " \t")
			if utf8.RuneCountInString(v) > 60 || e.schema.CheckText(v) != nil {
				return "", 0
			}
			return v, len(toks)
		}
		p.hints = []hintRow{{"TEXT<1-60>", help}}
	case typ == "ip":
		ipParam(p, help)
	case typ == "word":
		p.match = func(_ *session, _ string, toks []token) (string, int) { return toks[0].text, 1 }
		p.hints = []hintRow{{"STRING<1-255>", help}}
	case typ == "mask":
		p.match = func(_ *session, _ string, toks []token) (string, int) {
			v := toks[0].text
			if n, err := strconv.Atoi(v); err == nil && strconv.Itoa(n) == v && n >= 0 && n <= 32 {
				return v, 1
			}
			if n, ok := datastore.MaskLen(v); ok {
				return strconv.Itoa(n), 1
			}
			return "", 0
		}
		p.hints = []hintRow{{"INTEGER<0-32>", "Length of IP address mask"}, {"X.X.X.X", "IP address mask"}}
	case typ == "vpn-instance":
		p.match = func(s *session, _ string, toks []token) (string, int) {
			v := toks[0].text
			if _, ok := s.e.store.Running().Get(datastore.P("vpn-instances", "vpn-instance", datastore.K(v))); !ok {
				return "", 0
			}
			return v, 1
		}
		p.complete = vpnInstanceNames
		p.hints = []hintRow{{"STRING<1-31>", help}}
	case typ == "vpn-name":
		// Any word, completed with the configured instances: the command
		// itself says when the instance does not exist.
		p.match = func(_ *session, _ string, toks []token) (string, int) { return toks[0].text, 1 }
		p.complete = vpnInstanceNames
		p.hints = []hintRow{{"STRING<1-31>", help}}
	case typ == "label":
		// A commit label (VRP's rules: see datastore.CheckLabel).
		p.match = func(_ *session, _ string, toks []token) (string, int) {
			if datastore.CheckLabel(toks[0].text) != nil {
				return "", 0
			}
			return toks[0].text, 1
		}
		p.hints = []hintRow{{"STRING<1-256>", help}}
	case typ == "cfgfile":
		// A configuration file of the device's configuration folder.
		p.match = func(_ *session, _ string, toks []token) (string, int) {
			v := toks[0].text
			if len(v) < 5 || len(v) > 64 || !strings.HasSuffix(strings.ToLower(v), ".cfg") || strings.ContainsAny(v, "/\\") || strings.HasPrefix(v, ".") {
				return "", 0
			}
			return v, 1
		}
		p.hints = []hintRow{{"STRING<5-64>", help}}
	case typ == "iftype":
		// An interface type alone (display ... brief GigabitEthernet).
		p.enum = ifTypes
		p.match = func(_ *session, _ string, toks []token) (string, int) {
			if t := ifType(toks[0].text); t != "" && !strings.ContainsAny(toks[0].text, "0123456789") {
				return t, 1
			}
			return "", 0
		}
		for _, t := range ifTypes {
			p.hints = append(p.hints, hintRow{t, t + " interface"})
		}
	case typ == "interface":
		p.match = func(_ *session, _ string, toks []token) (string, int) { return parseIfName(toks) }
		p.complete = func(*session) []string { return []string{"GigabitEthernet", "LoopBack"} }
		p.hints = ifTypeRows(ifTypes)
		p.more = ifMore(ifTypes)
	case typ == "section":
		secs := e.sections()
		p.enum = secs
		p.match = func(_ *session, _ string, toks []token) (string, int) { return uniquePrefix(secs, toks[0].text) }
		for _, s := range secs {
			p.hints = append(p.hints, hintRow{s, "Configuration of " + s})
		}
	default:
		return nil, fmt.Errorf("unknown parameter type %q", typ)
	}
	return p, nil
}

// runConfig performs a configuration line.
func (s *session) runConfig(cn *cnode, undo bool, m *matchResult) *result {
	r := &result{}
	store := s.e.store
	// A refused line is undone through the tree's checkpoint (no copy of
	// the whole candidate per line).
	tree := s.cand.Tree()
	cp := tree.Checkpoint()
	defer tree.Release()
	if s.fastLoad {
		r := s.runConfigUnchecked(cn, undo, m, cp)
		if s.onTouch != nil && !r.failed {
			s.onTouch(tree.ChangedSince(cp))
		}
		return r
	}
	if s.errsGen != s.cand.Gen() || s.errs == nil {
		s.errs = errSet(store.Validate(s.cand.Base(), tree))
	}
	oldErrs := s.errs
	// The owners' rules about transitions (an RD is not changed in place)
	// hold from the candidate before the line as from running.
	prev := tree.Clone()
	ed := &edit{s: s, cn: cn, m: m, undo: undo, tree: tree, base: s.stack[len(s.stack)-1].path}
	target, err := ed.apply()
	if err != nil {
		tree.Revert(cp)
		return editError(err, m)
	}
	// Validated before empty port entries are pruned: entering a port's
	// view is an edit of that port (the management port is refused there).
	newErrs := store.ValidateEdit(s.cand.Base(), prev, tree)
	for _, err := range newErrs {
		if !oldErrs[err.Error()] {
			tree.Revert(cp)
			r.printf("Error: %s.\n", userText(err))
			r.failed = true
			return r
		}
	}
	pruneInterfaces(tree)
	s.errs, s.errsGen = errSet(newErrs), s.cand.Gen()
	for _, l := range ed.info {
		r.printf("%s\n", l)
	}
	if cn.view != nil && !undo {
		s.stack = append(s.stack, frame{v: cn.view, path: target})
	}
	if s.immediate {
		id, err := s.cand.Commit(s.ctx(), s.user, "")
		if err != nil && !errors.Is(err, datastore.ErrNoChange) {
			s.cand.Discard()
			if cn.view != nil && !undo {
				s.stack = s.stack[:len(s.stack)-1]
			}
			s.printCommitError(r, err)
		}
		recordWarning(r, id, s.e.store.RecordError(id))
	}
	return r
}

// editError reports a refused edit: a wrong parameter with its caret, or a
// sentence.
func editError(err error, m *matchResult) *result {
	r := &result{failed: true}
	var pw *parseErrorWrap
	if errors.As(err, &pw) {
		col := 0
		for _, b := range m.binds {
			if b.name == pw.name && (pw.value == "" || b.value == pw.value) {
				col = b.off
				break
			}
		}
		r.pe = &parseError{pw.kind, col}
		return r
	}
	r.printf("Error: %s.\n", capitalize(err.Error()))
	return r
}

// runConfigUnchecked edits without validating the tree (a bulk load that
// validates once at its commit).
func (s *session) runConfigUnchecked(cn *cnode, undo bool, m *matchResult, cp datastore.Checkpoint) *result {
	r := &result{}
	ed := &edit{s: s, cn: cn, m: m, undo: undo, tree: s.cand.Tree(), base: s.stack[len(s.stack)-1].path}
	target, err := ed.apply()
	if err != nil {
		s.cand.Tree().Revert(cp)
		return editError(err, m)
	}
	pruneInterfaces(s.cand.Tree())
	if cn.view != nil && !undo {
		s.stack = append(s.stack, frame{v: cn.view, path: target})
	}
	return r
}

// ctx is the context of the request being handled, carrying the session's
// origin for the datastore (its user and line for the commit records).
func (s *session) ctx() context.Context {
	ctx := s.reqCtx
	if ctx == nil {
		ctx = context.Background()
	}
	return datastore.WithOrigin(ctx, s.origin())
}

func errSet(errs []error) map[string]bool {
	m := map[string]bool{}
	for _, e := range errs {
		m[e.Error()] = true
	}
	return m
}

// userText turns a validation error into the sentence after "Error: ".
func userText(err error) string {
	var re *datastore.RuleError
	if errors.As(err, &re) {
		return re.Msg
	}
	var mr *datastore.MissingRef
	if errors.As(err, &mr) {
		return capitalize(mr.Error())
	}
	return capitalize(err.Error())
}

// conflictLine is VRP's line for a commit that lost to another user's.
const conflictLine = "Commit canceled, the configuration conflicted with other user..."

func (s *session) printCommitError(r *result, err error) {
	r.failed = true
	var ce *datastore.ConflictError
	if errors.As(err, &ce) {
		for _, e := range ce.Errs {
			r.printf("Error: %s.\n", userText(e))
		}
		for _, c := range ce.Conflicts {
			if c.ID != 0 {
				r.printf("Error: %s was changed by %s (commit %d) after this session changed it.\n", s.describe(c.Path), c.User, c.ID)
			} else {
				r.printf("Error: %s was changed by another user after this session changed it.\n", s.describe(c.Path))
			}
		}
		r.printf("%s\n", conflictLine)
		if len(ce.Conflicts) > 0 {
			r.printf("Info: Run refresh configuration candidate to keep this session's changes, or clear configuration candidate to drop them.\n")
		}
		return
	}
	var ve *datastore.ValidationError
	if errors.As(err, &ve) {
		for _, e := range ve.Errs {
			r.printf("Error: %s.\n", userText(e))
		}
		return
	}
	r.printf("Error: %s.\n", capitalize(err.Error()))
}

// filter is "| include/exclude/begin <regex>" or "| count".
type filter struct {
	kind string
	re   *regexp.Regexp
	col  int
}

// filterKinds are the filters of display commands, with their help.
var filterKinds = []hintRow{
	{"begin", "Begin with the line that matches"},
	{"count", "Count the lines of the output"},
	{"exclude", "Match the lines that do not match"},
	{"include", "Match the lines that match"},
}

func splitFilter(line string) (string, *filter, *parseError) {
	toks := tokenize(line)
	for i, t := range toks {
		if !strings.HasPrefix(t.text, "|") {
			continue
		}
		f := &filter{col: t.off}
		rest := toks[i:]
		if t.text != "|" {
			// "|include": treat the glued word as the next token.
			rest = append([]token{{"|", t.off}, {t.text[1:], t.off + 1}}, toks[i+1:]...)
		}
		if len(rest) < 2 {
			return "", nil, &parseError{errIncomplete, len(strings.TrimRight(line, " \t"))}
		}
		kw := strings.ToLower(rest[1].text)
		for _, k := range filterKinds {
			if strings.HasPrefix(k.hint, kw) {
				if f.kind != "" {
					return "", nil, &parseError{errAmbiguous, rest[1].off}
				}
				f.kind = k.hint
			}
		}
		if f.kind == "" || kw == "" {
			return "", nil, &parseError{errUnrecognized, rest[1].off}
		}
		if f.kind == "count" {
			if len(rest) > 2 {
				return "", nil, &parseError{errTooMany, rest[2].off}
			}
			return line[:t.off], f, nil
		}
		if len(rest) < 3 {
			return "", nil, &parseError{errIncomplete, len(strings.TrimRight(line, " \t"))}
		}
		expr := strings.TrimRight(line[rest[2].off:], " \t")
		re, err := regexp.Compile(expr)
		if err != nil {
			return "", nil, &parseError{errWrongParam, rest[2].off}
		}
		f.re = re
		return line[:t.off], f, nil
	}
	return line, nil, nil
}

func (f *filter) apply(out string) string {
	var b strings.Builder
	started := false
	n := 0
	for _, l := range strings.SplitAfter(out, "\n") {
		if l == "" {
			continue
		}
		text := strings.TrimSuffix(l, "\n")
		switch f.kind {
		case "count":
			n++
		case "include":
			if f.re.MatchString(text) {
				b.WriteString(l)
			}
		case "exclude":
			if !f.re.MatchString(text) {
				b.WriteString(l)
			}
		case "begin":
			if started || f.re.MatchString(text) {
				started = true
				b.WriteString(l)
			}
		}
	}
	if f.kind == "count" {
		return fmt.Sprintf("Total lines: %d\n", n)
	}
	return b.String()
}

// filterHelp answers '?' after the '|' of a display command ("display
// current-configuration | ?"); nil when line has no such '|'.
func (s *session) filterHelp(line string) *result {
	toks := tokenize(line)
	bar := -1
	for i, t := range toks {
		if strings.HasPrefix(t.text, "|") {
			bar = i
			break
		}
	}
	if bar < 0 {
		return nil
	}
	off := toks[bar].off
	if m, pe := match(s, line[:off], s.cur().cmds); pe != nil || !m.cmd.display {
		return nil
	}
	r := &result{}
	rest := tokenize(line[off+1:])
	endsSpace := strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") || strings.HasSuffix(line, "|")
	switch {
	case len(rest) == 0:
		for _, k := range filterKinds {
			r.printf("  %-25s %s\n", k.hint, k.help)
		}
	case len(rest) == 1 && !endsSpace:
		var words []string
		for _, k := range filterKinds {
			if strings.HasPrefix(k.hint, strings.ToLower(rest[0].text)) {
				words = append(words, k.hint)
			}
		}
		if len(words) == 0 {
			caret(r, s.prompt(), &parseError{errUnrecognized, off + 1 + rest[0].off})
			return r
		}
		for _, w := range words {
			r.printf("  %s\n", w)
		}
	default:
		_, f, pe := splitFilter(line[:off] + "|" + rest[0].text + " x")
		switch {
		case pe != nil && f == nil && (pe.kind == errUnrecognized || pe.kind == errAmbiguous):
			caret(r, s.prompt(), &parseError{pe.kind, off + 1 + rest[0].off})
		case f != nil && f.kind == "count" || pe != nil && pe.kind == errTooMany:
			if len(rest) > 1 {
				caret(r, s.prompt(), &parseError{errTooMany, off + 1 + rest[1].off})
				return r
			}
			r.printf("  %s\n", "<cr>")
		case len(rest) == 1:
			r.printf("  %-25s %s\n", "STRING<1-255>", "Regular expression")
		default:
			r.printf("  %s\n", "<cr>")
		}
	}
	return r
}

// help answers '?' for line (the text before the '?').
func (s *session) help(line string) *result {
	if r := s.filterHelp(line); r != nil {
		return r
	}
	r := &result{}
	cmdLine, filter, _ := splitFilter(line)
	if filter != nil {
		line = cmdLine
	}
	entries, cr, partial, pe := nextItems(s, line, s.cur().cmds)
	if pe != nil {
		caret(r, s.prompt(), pe)
		return r
	}
	if partial != "" {
		if len(entries) == 0 {
			caret(r, s.prompt(), &parseError{errUnrecognized, strings.LastIndex(line, partial)})
			return r
		}
		for i := 0; i < len(entries); i += 2 {
			if i+1 < len(entries) {
				r.printf("  %-40s%s\n", entries[i].word, entries[i+1].word)
			} else {
				r.printf("  %s\n", entries[i].word)
			}
		}
		return r
	}
	for _, en := range entries {
		r.printf("  %-25s %s\n", en.word, en.help)
	}
	if cr && s.displayEnds(line) {
		r.printf("  %-25s %s\n", "|", "Matching output")
	}
	if cr {
		r.printf("  %s\n", "<cr>")
	}
	return r
}

// displayEnds reports whether line is a whole display command (which a
// filter may follow).
func (s *session) displayEnds(line string) bool {
	m, pe := match(s, line, s.cur().cmds)
	return pe == nil && m.cmd.display
}

// complete answers Tab: the keywords that can replace the last partial word.
func (s *session) complete(line string) ([]proto.Candidate, int) {
	entries, _, partial, pe := nextItems(s, line, s.cur().cmds)
	if pe != nil {
		return nil, 0
	}
	var out []proto.Candidate
	for _, en := range entries {
		if en.param {
			continue
		}
		out = append(out, proto.Candidate{Text: en.word, Description: en.help})
	}
	return out, len(partial)
}

// uniquePrefix matches a typed word against lower-case words: an exact
// match, or the only word it abbreviates. It returns the word and 1 token,
// or 0 tokens when nothing or several words match.
func uniquePrefix(words []string, typed string) (string, int) {
	low := strings.ToLower(typed)
	found := ""
	for _, w := range words {
		if w == low {
			return w, 1
		}
		if strings.HasPrefix(w, low) {
			if found != "" {
				return "", 0
			}
			found = w
		}
	}
	if found == "" {
		return "", 0
	}
	return found, 1
}

// vpnInstanceNames lists the committed VPN instances, for completion.
func vpnInstanceNames(s *session) []string {
	var out []string
	for _, it := range s.e.store.Running().Entries(datastore.P("vpn-instances"), "vpn-instance") {
		out = append(out, it.Path.Last().Keys[0])
	}
	return out
}
