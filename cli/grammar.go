package cli

import (
	"fmt"
	"sort"
	"strings"
)

// The grammar: every command (configuration commands derived from the YANG
// modules, and the commands written in Go) is a syntax template compiled to
// its linear expansions ("sequences"). A line is matched against all
// sequences of a view at once, token by token, which gives unique-prefix
// abbreviation, the error kind and column, '?' help and Tab completion from
// the same data.

// token is one word of the input line.
type token struct {
	text string
	off  int // byte offset in the line
}

func tokenize(line string) []token {
	var out []token
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		out = append(out, token{line[i:j], i})
		i = j
	}
	return out
}

// node kinds of a parsed template.
type tnodeKind int

const (
	tKeyword tnodeKind = iota
	tParam
	tFlag
	tOpt
	tAlt
	tSeq
	tAny // [ a | b ] *: each alternative at most once, in any order
)

// tnode is a parsed syntax template.
type tnode struct {
	kind   tnodeKind
	word   string // keyword, or the parameter/flag name
	repeat bool
	// back, on a repeated parameter of a group "( kw {x} )...", is how
	// many keywords before it each further value repeats.
	back int
	kids []*tnode // seq / opt body / alternatives
}

// parseTemplate parses "a b {x}... [c {y}] ( d | e ) <f> [ g | h ] *
// ( k {z} )...".
func parseTemplate(s string) (*tnode, error) {
	toks := templateTokens(s)
	pos := 0
	n, err := parseTSeq(toks, &pos)
	if err != nil {
		return nil, fmt.Errorf("syntax %q: %w", s, err)
	}
	if pos != len(toks) {
		return nil, fmt.Errorf("syntax %q: unexpected %q", s, toks[pos])
	}
	return n, nil
}

func templateTokens(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		// Split brackets glued to words.
		for len(f) > 0 {
			switch f[0] {
			case '[', ']', '(', ')', '|':
				out = append(out, f[:1])
				f = f[1:]
				continue
			}
			i := strings.IndexAny(f, "[]()|")
			if i < 0 {
				out = append(out, f)
				break
			}
			out = append(out, f[:i])
			f = f[i:]
		}
	}
	return out
}

func parseTSeq(toks []string, pos *int) (*tnode, error) {
	seq := &tnode{kind: tSeq}
	var alts []*tnode
	for *pos < len(toks) {
		t := toks[*pos]
		switch {
		case t == "]" || t == ")":
			goto done
		case t == "|":
			alts = append(alts, seq)
			seq = &tnode{kind: tSeq}
			*pos++
		case t == "[" || t == "(":
			*pos++
			body, err := parseTSeq(toks, pos)
			if err != nil {
				return nil, err
			}
			want := "]"
			if t == "(" {
				want = ")"
			}
			if *pos >= len(toks) || toks[*pos] != want {
				return nil, fmt.Errorf("missing %s", want)
			}
			*pos++
			if t == "(" && *pos < len(toks) && toks[*pos] == "..." {
				// ( kw... {x} )...: the keywords and the value repeat.
				*pos++
				k := body.kids
				if body.kind != tSeq || len(k) < 2 || k[len(k)-1].kind != tParam || k[len(k)-1].repeat {
					return nil, fmt.Errorf("a repeated group is keywords and one parameter")
				}
				for _, kw := range k[:len(k)-1] {
					if kw.kind != tKeyword {
						return nil, fmt.Errorf("a repeated group is keywords and one parameter")
					}
				}
				k[len(k)-1].repeat = true
				k[len(k)-1].back = len(k) - 1
				seq.kids = append(seq.kids, k...)
				continue
			}
			switch {
			case t == "[" && *pos < len(toks) && toks[*pos] == "*":
				*pos++
				alts := []*tnode{body}
				if body.kind == tAlt {
					alts = body.kids
				}
				body = &tnode{kind: tAny, kids: alts}
			case t == "[":
				body = &tnode{kind: tOpt, kids: []*tnode{body}}
			}
			seq.kids = append(seq.kids, body)
		case strings.HasPrefix(t, "{"):
			rep := strings.HasSuffix(t, "...")
			t = strings.TrimSuffix(t, "...")
			if !strings.HasSuffix(t, "}") {
				return nil, fmt.Errorf("bad parameter %q", t)
			}
			seq.kids = append(seq.kids, &tnode{kind: tParam, word: t[1 : len(t)-1], repeat: rep})
			*pos++
		case strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">"):
			seq.kids = append(seq.kids, &tnode{kind: tFlag, word: t[1 : len(t)-1]})
			*pos++
		default:
			seq.kids = append(seq.kids, &tnode{kind: tKeyword, word: strings.ToLower(t)})
			*pos++
		}
	}
done:
	if len(alts) > 0 {
		alts = append(alts, seq)
		return &tnode{kind: tAlt, kids: alts}, nil
	}
	return seq, nil
}

// expand returns every linear sequence of a template.
func expand(n *tnode) [][]*tnode {
	switch n.kind {
	case tKeyword, tParam, tFlag:
		return [][]*tnode{{n}}
	case tOpt:
		return append([][]*tnode{{}}, expand(n.kids[0])...)
	case tAlt:
		var out [][]*tnode
		for _, k := range n.kids {
			out = append(out, expand(k)...)
		}
		return out
	case tAny:
		// Every ordered choice of distinct alternatives, none included.
		var out [][]*tnode
		used := make([]bool, len(n.kids))
		var rec func(prefix []*tnode)
		rec = func(prefix []*tnode) {
			out = append(out, append([]*tnode(nil), prefix...))
			for i, k := range n.kids {
				if used[i] {
					continue
				}
				used[i] = true
				for _, e := range expand(k) {
					rec(append(prefix[:len(prefix):len(prefix)], e...))
				}
				used[i] = false
			}
		}
		rec(nil)
		return out
	case tSeq:
		out := [][]*tnode{{}}
		for _, k := range n.kids {
			var next [][]*tnode
			for _, tail := range expand(k) {
				for _, head := range out {
					s := append(append([]*tnode{}, head...), tail...)
					next = append(next, s)
				}
			}
			out = next
		}
		return out
	}
	return nil
}

// param is a typed parameter of a command.
type param struct {
	name string
	// match tries to read the parameter at toks[0:]; it returns the value
	// and how many tokens it used (0: no match).
	match func(s *session, line string, toks []token) (string, int)
	hints []hintRow // '?' rows
	// enum lists keyword-like values (completed and listed like keywords).
	enum []string
	// complete offers values for Tab and "pre?" (interface types, names
	// of existing objects).
	complete func(s *session) []string
	// more answers '?' after tokens that begin the parameter without
	// completing it (an interface type alone): the rows of what may
	// follow, nil when toks do not begin it.
	more func(s *session, toks []token) []hintRow
}

type hintRow struct{ hint, help string }

// item is one step of a sequence.
type item struct {
	kind   tnodeKind // tKeyword, tParam or tFlag
	word   string    // keyword, or the flag's keyword
	help   string
	p      *param
	repeat bool
	// back: a further value of this repeated parameter comes after the
	// back keywords before it again (rt 1:1 rt 2:2).
	back int
	// max is how many values a repeated parameter takes (0: 8).
	max int
}

// maxRepeat is how many values a repeated parameter takes by default.
const maxRepeat = 8

// command is one entry of a view's grammar.
type command struct {
	seqs [][]item
	// help of the first keyword for '?' at the start of the line.
	run func(s *session, m *matchResult) *result
	// fromConfig marks commands derived from the schema.
	cn   *cnode
	undo bool
	// display commands accept "| include/exclude/begin".
	display bool
}

// binding is a matched parameter or flag.
type binding struct {
	name   string
	value  string
	off    int
	isFlag bool
}

// matchResult is a successful parse.
type matchResult struct {
	cmd   *command
	seq   int
	binds []binding
	kws   int
}

// values returns every value bound to name (repeated parameters give many).
func (m *matchResult) values(name string) []string {
	var out []string
	for _, b := range m.binds {
		if b.name == name {
			out = append(out, b.value)
		}
	}
	return out
}

// joined returns the values bound to name separated by single spaces (a
// repeated parameter of a leaf that is not a list key stores them so).
func (m *matchResult) joined(name string) (string, bool) {
	v := m.values(name)
	if len(v) == 0 {
		return "", false
	}
	return strings.Join(v, " "), true
}

func (m *matchResult) value(name string) (string, bool) {
	v := m.values(name)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func (m *matchResult) has(name string) bool { _, ok := m.value(name); return ok }

// Error kinds of VRP.
const (
	errUnrecognized = "Unrecognized command"
	errWrongParam   = "Wrong parameter"
	errIncomplete   = "Incomplete command"
	errTooMany      = "Too many parameters"
	errAmbiguous    = "Ambiguous command"
)

// parseError is a failed parse; col is the byte offset in the line.
type parseError struct {
	kind string
	col  int
}

// state is one live alternative during matching.
type state struct {
	cmd   *command
	seq   int
	pos   int
	reps  int
	skip  int // tokens still consumed by a multi-token parameter
	binds []binding
	kws   int
}

func (st *state) cur() *item {
	s := st.cmd.seqs[st.seq]
	if st.pos >= len(s) {
		return nil
	}
	return &s[st.pos]
}

func (st *state) done() bool { return st.pos >= len(st.cmd.seqs[st.seq]) }

func (st state) with(pos, reps int, b *binding, kw bool) state {
	n := st
	n.pos, n.reps = pos, reps
	if b != nil {
		n.binds = append(append([]binding{}, st.binds...), *b)
	}
	if kw {
		n.kws++
	}
	return n
}

func initialStates(cmds []*command) []state {
	var out []state
	for _, c := range cmds {
		for i := range c.seqs {
			out = append(out, state{cmd: c, seq: i})
		}
	}
	return out
}

// step advances states over token i. It returns the new states, or a parse
// error when none survives.
func step(s *session, line string, toks []token, i int, states []state) ([]state, *parseError) {
	tok := toks[i]
	low := strings.ToLower(tok.text)
	// Keywords expected here.
	var kwExact, kwPrefix []string
	seen := map[string]bool{}
	for _, st := range states {
		if st.skip > 0 {
			continue
		}
		it := st.cur()
		if it == nil || it.kind == tParam || seen[it.word] {
			continue
		}
		seen[it.word] = true
		if it.word == low {
			kwExact = append(kwExact, it.word)
		} else if strings.HasPrefix(it.word, low) {
			kwPrefix = append(kwPrefix, it.word)
		}
	}
	chosen := ""
	ambiguous := false
	switch {
	case len(kwExact) > 0:
		chosen = kwExact[0]
	case len(kwPrefix) == 1:
		chosen = kwPrefix[0]
	case len(kwPrefix) > 1:
		ambiguous = true
	}
	var next []state
	expectParam, expectKw, atEnd := false, false, false
	for _, st := range states {
		if st.skip > 0 {
			n := st
			n.skip--
			next = append(next, n)
			continue
		}
		it := st.cur()
		if it == nil {
			atEnd = true
			continue
		}
		switch it.kind {
		case tKeyword, tFlag:
			expectKw = true
			if chosen != "" && it.word == chosen {
				var b *binding
				if it.kind == tFlag {
					b = &binding{name: it.word, off: tok.off, isFlag: true}
				}
				// A keyword keeps the count of a repeated group it starts.
				next = append(next, st.with(st.pos+1, st.reps, b, true))
			}
		case tParam:
			expectParam = true
			v, n := it.p.match(s, line, toks[i:])
			if n == 0 {
				continue
			}
			b := &binding{name: it.p.name, value: v, off: tok.off}
			adv := st.with(st.pos+1, 0, b, false)
			adv.skip = n - 1
			next = append(next, adv)
			max := it.max
			if max == 0 {
				max = maxRepeat
			}
			if it.repeat && st.reps < max-1 {
				stay := st.with(st.pos-it.back, st.reps+1, b, false)
				stay.skip = n - 1
				next = append(next, stay)
			}
		}
	}
	if len(next) > 0 {
		return next, nil
	}
	switch {
	case ambiguous:
		return nil, &parseError{errAmbiguous, tok.off}
	case i == 0:
		return nil, &parseError{errUnrecognized, tok.off}
	case expectParam:
		return nil, &parseError{errWrongParam, tok.off}
	case expectKw:
		return nil, &parseError{errUnrecognized, tok.off}
	case atEnd:
		return nil, &parseError{errTooMany, tok.off}
	}
	return nil, &parseError{errUnrecognized, tok.off}
}

// match parses a whole line against cmds.
func match(s *session, line string, cmds []*command) (*matchResult, *parseError) {
	toks := tokenize(line)
	states := initialStates(cmds)
	for i := range toks {
		var perr *parseError
		states, perr = step(s, line, toks, i, states)
		if perr != nil {
			return nil, perr
		}
	}
	var best *state
	for i := range states {
		st := &states[i]
		if st.skip > 0 || !st.done() {
			continue
		}
		if best == nil || st.kws > best.kws {
			best = st
		}
	}
	if best == nil {
		return nil, &parseError{errIncomplete, len(strings.TrimRight(line, " \t"))}
	}
	return &matchResult{cmd: best.cmd, seq: best.seq, binds: best.binds, kws: best.kws}, nil
}

// helpEntry is one row of '?' output.
type helpEntry struct {
	word, help string
	param      bool
}

// nextItems lists what may follow the complete tokens of line; partial is
// the unfinished last word ("" when the line ends with a space).
func nextItems(s *session, line string, cmds []*command) (entries []helpEntry, cr bool, partial string, perr *parseError) {
	toks := tokenize(line)
	endsSpace := line == "" || strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t")
	if !endsSpace && len(toks) > 0 {
		partial = toks[len(toks)-1].text
		toks = toks[:len(toks)-1]
	}
	states := initialStates(cmds)
	for i := range toks {
		prev := states
		states, perr = step(s, line, toks, i, states)
		if perr != nil {
			// The rest of the line may begin a parameter that continues
			// after it ("interface GigabitEthernet ?").
			for _, st := range prev {
				if it := st.cur(); st.skip == 0 && it != nil && it.kind == tParam && it.p.more != nil && partial == "" {
					if rows := it.p.more(s, toks[i:]); rows != nil {
						for _, r := range rows {
							entries = append(entries, helpEntry{word: r.hint, help: r.help, param: true})
						}
						return entries, false, partial, nil
					}
				}
			}
			return nil, false, partial, perr
		}
	}
	seen := map[string]bool{}
	low := strings.ToLower(partial)
	for _, st := range states {
		if st.skip > 0 {
			continue
		}
		it := st.cur()
		if it == nil {
			cr = true
			continue
		}
		switch it.kind {
		case tKeyword, tFlag:
			if !strings.HasPrefix(it.word, low) || seen["k"+it.word] {
				continue
			}
			seen["k"+it.word] = true
			entries = append(entries, helpEntry{word: it.word, help: it.help})
		case tParam:
			if len(it.p.enum) > 0 {
				for i, n := range it.p.enum {
					if !strings.HasPrefix(strings.ToLower(n), low) || seen["k"+n] {
						continue
					}
					seen["k"+n] = true
					entries = append(entries, helpEntry{word: n, help: it.p.hints[i].help})
				}
				continue
			}
			if partial != "" {
				if it.p.complete != nil {
					for _, n := range it.p.complete(s) {
						if strings.HasPrefix(strings.ToLower(n), low) && !seen["k"+n] {
							seen["k"+n] = true
							entries = append(entries, helpEntry{word: n, help: it.p.hints[0].help})
						}
					}
				}
				continue
			}
			for _, h := range it.p.hints {
				if seen["p"+h.hint+h.help] {
					continue
				}
				seen["p"+h.hint+h.help] = true
				entries = append(entries, helpEntry{word: h.hint, help: h.help, param: true})
			}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].param != entries[j].param {
			return entries[i].param
		}
		if entries[i].param {
			return false
		}
		return entries[i].word < entries[j].word
	})
	return entries, cr, partial, nil
}
