package term

import (
	"io"
	"strings"

	"vpnos/cli/proto"
)

// editing is how a session edits its lines.
type editing int

const (
	// fullEditing is go-prompt: the line is redrawn with cursor movements
	// as it changes.
	fullEditing editing = iota
	// plainEditing is the way of a VRP terminal (see plainLoop): the prompt
	// alone at the start of its line, the typed text echoed as it came,
	// backspaces and spaces for editing, and no escape sequence at all.
	plainEditing
)

// chooseEditing picks the editing from what the client's terminal shows.
// Programs that drive a CLI by reading its screen (netmiko, scrapli,
// Ansible) ask for a terminal no person sits at: no type, "dumb", the bare
// "vt100" that paramiko asks for by default, or a window hundreds of rows
// tall or wide so that output neither wraps nor pages (scrapli asks for 255
// rows). They get the plain mode; every other terminal gets full line
// editing. rows and cols are 0 when the terminal does not know its size.
func chooseEditing(termType string, rows, cols int) editing {
	switch strings.ToLower(strings.TrimSpace(termType)) {
	case "", "dumb", "unknown", "vt100", "vt102":
		return plainEditing
	}
	if rows >= 250 || cols >= 500 {
		return plainEditing
	}
	return fullEditing
}

// plainLoop runs the session in plain mode. The prompt is printed without
// the separator after it (`<PE1>`, `[~PE1]`) so that it stands alone at the
// end of the output, where screen-scrapers look for it, and the input
// follows it directly, as on VRP; error carets, which the engine counts
// from a prompt with its separator, are moved left to match. Tab, `?` and
// the history work as in full mode, drawn with backspaces.
func (f *front) plainLoop(keys keySource) error {
	var ed lineEditor
	lw := &lastWriter{w: f.out, last: '\n'}
	f.out = lw
	for {
		if lw.last != '\n' && lw.last != '\r' {
			// Output that did not end its line: the prompt starts a new one.
			io.WriteString(f.out, "\n")
		}
		shown := strings.TrimRight(f.prompt, " ")
		shift := len(f.prompt) - len(shown)
		io.WriteString(f.out, shown)
		line, ok, err := f.readPlainLine(&ed, keys, shown, shift)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		ed.remember(line)
		resp, err := f.exec(line)
		if err != nil {
			return err
		}
		resp.Output = shiftCarets(resp.Output, shift)
		if done, err := f.show(resp, keys); done || err != nil {
			return err
		}
	}
}

// readPlainLine edits one line; ok is false when the terminal is gone.
func (f *front) readPlainLine(ed *lineEditor, keys keySource, shown string, shift int) (line string, ok bool, err error) {
	ed.reset()
	for {
		k, ok := keys.readKey()
		if !ok {
			return "", false, nil
		}
		if f.afterCR {
			// "\r\n" split over two reads is one Enter.
			f.afterCR = false
			if string(k) == "\n" {
				continue
			}
		}
		out, act := ed.key(k)
		io.WriteString(f.out, out)
		switch act {
		case actEnter:
			f.afterCR = string(k) == "\r"
			io.WriteString(f.out, ed.after()+"\n")
			return ed.text(), true, nil
		case actClear:
			// Ctrl+C: the line stays on the screen as typed; a new one starts.
			io.WriteString(f.out, ed.after()+"\n"+shown)
			ed.reset()
		case actTab:
			now, err := f.tabs.tab(ed.before())
			if err != nil {
				return "", false, err
			}
			io.WriteString(f.out, ed.replaceBefore(now))
		case actHelp:
			before, after := ed.before(), ed.after()
			resp, err := f.do(proto.Request{Op: proto.OpHelp, Line: before})
			if err != nil {
				return "", false, err
			}
			echo := after
			if after == "" {
				echo = "?"
			}
			io.WriteString(f.out, echo+"\n")
			f.page(shiftCarets(resp.Output, shift), keys)
			io.WriteString(f.out, shown+before+after+strings.Repeat("\b", width([]rune(after))))
		}
	}
}

// shiftCarets moves the caret line of each error (a line of spaces and one
// `^`, followed by a line starting with "Error:") n columns to the left.
func shiftCarets(out string, n int) string {
	if n <= 0 || !strings.Contains(out, "^\n") {
		return out
	}
	lines := strings.SplitAfter(out, "\n")
	for i := 0; i+1 < len(lines); i++ {
		l := lines[i]
		body := strings.TrimRight(l, "\n")
		if !strings.HasSuffix(body, "^") || strings.Trim(body[:len(body)-1], " ") != "" ||
			!strings.HasPrefix(lines[i+1], "Error:") {
			continue
		}
		cut := min(n, len(body)-1)
		lines[i] = l[cut:]
	}
	return strings.Join(lines, "")
}

// lastWriter remembers the last byte written.
type lastWriter struct {
	w    io.Writer
	last byte
}

func (l *lastWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}
