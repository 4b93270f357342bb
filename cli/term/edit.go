package term

import (
	"strings"
	"unicode"
	"unicode/utf8"

	runewidth "github.com/mattn/go-runewidth"
)

// lineEditor is the line editing of the plain mode (see plain.go): the
// editing a VRP terminal offers, drawn with nothing but the typed text,
// backspaces and spaces, so that a program reading the screen sees exactly
// what it sent. It is a pure state machine: key takes one key (as cut by
// splitKey) and returns the bytes to write and what the caller must do.
//
// Keys: printable text is inserted at the cursor; Backspace, Delete
// (Ctrl+D), Left/Right (Ctrl+B/Ctrl+F), Home/End (Ctrl+A/Ctrl+E), Ctrl+U
// (erase before the cursor), Ctrl+K (erase after it), Ctrl+W (erase the word
// before it), Up/Down (Ctrl+P/Ctrl+N) walk the history. Enter, Tab, `?`
// and Ctrl+C are handed back to the caller.
type lineEditor struct {
	buf []rune
	pos int

	hist  []string
	hidx  int    // index into hist while walking it; len(hist) = the line being typed
	draft []rune // the line being typed, kept while walking the history
}

// maxLine bounds the line held (VRP refuses lines over 3100 characters; the
// engine says so for anything longer than that, up to this bound).
const maxLine = 8192

// maxHistory is the number of lines remembered.
const maxHistory = 100

type editAction int

const (
	actNone  editAction = iota
	actEnter            // the line is complete
	actTab              // complete the word before the cursor
	actHelp             // help for the text before the cursor
	actClear            // Ctrl+C: drop the line
)

// reset starts a new, empty line.
func (e *lineEditor) reset() {
	e.buf, e.pos, e.draft = e.buf[:0], 0, nil
	e.hidx = len(e.hist)
}

func (e *lineEditor) text() string   { return string(e.buf) }
func (e *lineEditor) before() string { return string(e.buf[:e.pos]) }
func (e *lineEditor) after() string  { return string(e.buf[e.pos:]) }

// remember adds a line that was run to the history.
func (e *lineEditor) remember(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	if n := len(e.hist); n > 0 && e.hist[n-1] == line {
		return
	}
	e.hist = append(e.hist, line)
	if len(e.hist) > maxHistory {
		e.hist = append(e.hist[:0], e.hist[len(e.hist)-maxHistory:]...)
	}
}

// key applies one key.
func (e *lineEditor) key(k []byte) (out string, act editAction) {
	if len(k) == 0 {
		return "", actNone
	}
	s := string(k)
	switch s {
	case "\r", "\n":
		return "", actEnter
	case "\t":
		return "", actTab
	case "?":
		return "", actHelp
	case "\x03":
		return "", actClear
	case "\x7f", "\x08":
		if e.pos == 0 {
			return "", actNone
		}
		return e.set(append(e.buf[:e.pos-1:e.pos-1], e.buf[e.pos:]...), e.pos-1), actNone
	case "\x1b[3~": // Delete (also Ctrl+D, see splitKey)
		if e.pos == len(e.buf) {
			return "", actNone
		}
		return e.set(append(e.buf[:e.pos:e.pos], e.buf[e.pos+1:]...), e.pos), actNone
	case "\x1b[D", "\x1bOD", "\x02":
		return e.set(e.buf, max(e.pos-1, 0)), actNone
	case "\x1b[C", "\x1bOC", "\x06":
		return e.set(e.buf, min(e.pos+1, len(e.buf))), actNone
	case "\x1b[H", "\x1bOH", "\x1b[1~", "\x1b[7~", "\x01":
		return e.set(e.buf, 0), actNone
	case "\x1b[F", "\x1bOF", "\x1b[4~", "\x1b[8~", "\x05":
		return e.set(e.buf, len(e.buf)), actNone
	case "\x15": // Ctrl+U
		return e.set(append([]rune{}, e.buf[e.pos:]...), 0), actNone
	case "\x0b": // Ctrl+K
		return e.set(e.buf[:e.pos:e.pos], e.pos), actNone
	case "\x17": // Ctrl+W
		i := e.pos
		for i > 0 && e.buf[i-1] == ' ' {
			i--
		}
		for i > 0 && e.buf[i-1] != ' ' {
			i--
		}
		return e.set(append(e.buf[:i:i], e.buf[e.pos:]...), i), actNone
	case "\x1b[A", "\x1bOA", "\x10":
		return e.walk(-1), actNone
	case "\x1b[B", "\x1bOB", "\x0e":
		return e.walk(+1), actNone
	}
	if k[0] < 0x20 || k[0] == 0x7f {
		return "", actNone // other control keys and escape sequences
	}
	ins := printable(s)
	if room := maxLine - len(e.buf); len(ins) > room {
		ins = ins[:max(room, 0)]
	}
	if len(ins) == 0 {
		return "", actNone
	}
	nb := make([]rune, 0, len(e.buf)+len(ins))
	nb = append(nb, e.buf[:e.pos]...)
	nb = append(nb, ins...)
	nb = append(nb, e.buf[e.pos:]...)
	return e.set(nb, e.pos+len(ins)), actNone
}

// printable keeps the runes of typed text that a terminal shows as they
// are: C1 controls (U+0080-U+009F, which some terminals read as ESC
// sequences), other non-printing runes and bytes that are not UTF-8 are
// dropped, so that echoing input never sends a control sequence.
func printable(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r != utf8.RuneError && unicode.IsPrint(r) {
			out = append(out, r)
		}
	}
	return out
}

// walk moves through the history: -1 to older lines, +1 to newer ones.
func (e *lineEditor) walk(dir int) string {
	i := e.hidx + dir
	if i < 0 || i > len(e.hist) {
		return ""
	}
	if e.hidx == len(e.hist) {
		e.draft = append([]rune{}, e.buf...)
	}
	e.hidx = i
	line := e.draft
	if i < len(e.hist) {
		line = []rune(e.hist[i])
	}
	nb := append([]rune{}, line...)
	return e.set(nb, len(nb))
}

// replaceBefore puts text in place of what stands before the cursor (Tab).
func (e *lineEditor) replaceBefore(text string) string {
	ins := []rune(text)
	nb := append(append([]rune{}, ins...), e.buf[e.pos:]...)
	if len(nb) > maxLine {
		return ""
	}
	return e.set(nb, len(ins))
}

// set makes (buf, pos) the new state and returns what turns the old line on
// the screen into the new one, with the cursor at pos.
func (e *lineEditor) set(buf []rune, pos int) string {
	out := redrawPlain(e.buf, e.pos, buf, pos)
	e.buf = append([]rune(nil), buf...)
	e.pos = pos
	return out
}

// redrawPlain turns old (cursor at op) into nu (cursor at np) on a screen
// where only text, backspace and space are written: the cursor goes back
// to the first rune that differs (or forward, by writing the runes it
// passes), the new tail is written, blanks cover what is left of the old
// one, and backspaces bring the cursor to np.
func redrawPlain(old []rune, op int, nu []rune, np int) string {
	var b strings.Builder
	if equalRunes(old, nu) {
		if np < op {
			b.WriteString(strings.Repeat("\b", width(old[np:op])))
		} else {
			b.WriteString(string(nu[op:np]))
		}
		return b.String()
	}
	p := 0
	for p < len(old) && p < len(nu) && old[p] == nu[p] {
		p++
	}
	if op > p {
		b.WriteString(strings.Repeat("\b", width(old[p:op])))
	} else {
		b.WriteString(string(nu[op:p]))
	}
	b.WriteString(string(nu[p:]))
	if extra := width(old[p:]) - width(nu[p:]); extra > 0 {
		b.WriteString(strings.Repeat(" ", extra))
		b.WriteString(strings.Repeat("\b", extra))
	}
	b.WriteString(strings.Repeat("\b", width(nu[np:])))
	return b.String()
}

func equalRunes(a, b []rune) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func width(r []rune) int {
	w := 0
	for _, c := range r {
		w += max(runewidth.RuneWidth(c), 1)
	}
	return w
}
