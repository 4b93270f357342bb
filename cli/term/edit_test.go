package term

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"vpnos/cli/proto"
)

// TestLineEditor feeds keys and checks what is written (the echo a
// screen-scraper reads) and the line that results.
func TestLineEditor(t *testing.T) {
	left, right, up, down, del := "\x1b[D", "\x1b[C", "\x1b[A", "\x1b[B", "\x1b[3~"
	for _, tc := range []struct {
		name string
		hist []string
		keys []string
		echo string
		line string
		pos  int
		act  editAction
	}{
		{"typed text is echoed as it came", nil, []string{"display version"}, "display version", "display version", 15, actNone},
		{"key by key", nil, []string{"d", "i", "s"}, "dis", "dis", 3, actNone},
		{"backspace at the end", nil, []string{"abc", "\x7f"}, "abc\b \b", "ab", 2, actNone},
		{"backspace at the start does nothing", nil, []string{"\x7f", "\x08"}, "", "", 0, actNone},
		{"insert in the middle", nil, []string{"ac", left, "b"}, "ac\bbc\b", "abc", 2, actNone},
		{"delete under the cursor", nil, []string{"abc", left, left, del}, "abc\b\bc \b\b", "ac", 1, actNone},
		{"right rewrites what it passes", nil, []string{"abc", "\x01", right, right}, "abc\b\b\bab", "abc", 2, actNone},
		{"home and end", nil, []string{"abc", "\x01", "\x05"}, "abc\b\b\babc", "abc", 3, actNone},
		{"ctrl+u erases before the cursor", nil, []string{"abc", left, "\x15"}, "abc\b\b\bc  \b\b\b", "c", 0, actNone},
		{"ctrl+k erases after the cursor", nil, []string{"abc", left, left, "\x0b"}, "abc\b\b  \b\b", "a", 1, actNone},
		{"ctrl+w erases a word", nil, []string{"ip route", "\x17"}, "ip route\b\b\b\b\b     \b\b\b\b\b", "ip ", 3, actNone},
		{"history up and down", []string{"display version", "sys"}, []string{"dis", up, up, down, down},
			"dis\b\b\bsys\b\b\bdisplay version" + strings.Repeat("\b", 15) + "sys" + strings.Repeat(" ", 12) + strings.Repeat("\b", 15) + "dis",
			"dis", 3, actNone},
		{"no history older than the first", []string{"a"}, []string{up, up}, "a", "a", 1, actNone},
		{"enter", nil, []string{"abc", "\r"}, "abc", "abc", 3, actEnter},
		{"tab", nil, []string{"dis", "\t"}, "dis", "dis", 3, actTab},
		{"help", nil, []string{"dis", "?"}, "dis", "dis", 3, actHelp},
		{"ctrl+c", nil, []string{"dis", "\x03"}, "dis", "dis", 3, actClear},
		{"other control keys and sequences are ignored", nil, []string{"a", "\x07", "\x1b[1;5C", "\x1bOP", "b"}, "ab", "ab", 2, actNone},
		{"wide runes take two columns", nil, []string{"a漢", "\x7f"}, "a漢\b\b  \b\b", "a", 1, actNone},
		{"C1 controls and broken UTF-8 are not echoed", nil, []string{"a\u009b31m\xff\u200bb"}, "a31mb", "a31mb", 5, actNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e lineEditor
			for _, h := range tc.hist {
				e.remember(h)
			}
			e.reset()
			var echo strings.Builder
			act := actNone
			for _, k := range tc.keys {
				var out string
				out, act = e.key([]byte(k))
				echo.WriteString(out)
			}
			if echo.String() != tc.echo || e.text() != tc.line || e.pos != tc.pos || act != tc.act {
				t.Fatalf("echo %q line %q pos %d act %d\nwant %q line %q pos %d act %d",
					echo.String(), e.text(), e.pos, act, tc.echo, tc.line, tc.pos, tc.act)
			}
		})
	}
}

// screenLine replays plain-mode output on one unbounded line: text
// overwrites, a backspace moves left.
type screenLine struct {
	cells []rune
	col   int
}

func (s *screenLine) write(t *testing.T, out string) {
	for _, r := range out {
		switch {
		case r == '\b':
			if s.col == 0 {
				t.Fatalf("backspace at column 0 in %q", out)
			}
			s.col--
		case r < 0x20 || r == 0x7f:
			t.Fatalf("control character %q written in plain mode: %q", r, out)
		default:
			for len(s.cells) <= s.col {
				s.cells = append(s.cells, ' ')
			}
			s.cells[s.col] = r
			s.col++
		}
	}
}

// TestLineEditorScreen types random keys and checks after each one that the
// screen shows exactly the line, with the cursor where the editor has it.
func TestLineEditorScreen(t *testing.T) {
	keys := []string{"a", "b", "xyz", " ", "\x7f", "\x1b[3~", "\x1b[D", "\x1b[C", "\x01", "\x05",
		"\x15", "\x0b", "\x17", "\x1b[A", "\x1b[B", "ip route-static"}
	rng := rand.New(rand.NewSource(1))
	for run := range 200 {
		var e lineEditor
		e.remember("display current-configuration")
		e.remember("sys")
		e.reset()
		var scr screenLine
		var typed []string
		for range 40 {
			k := keys[rng.Intn(len(keys))]
			typed = append(typed, k)
			out, _ := e.key([]byte(k))
			scr.write(t, out)
			shown := strings.TrimRight(string(scr.cells), " ")
			if shown != strings.TrimRight(e.text(), " ") || scr.col != e.pos {
				t.Fatalf("run %d after %q: screen %q cursor %d, line %q pos %d", run, typed, shown, scr.col, e.text(), e.pos)
			}
		}
	}
}

// FuzzLineEditor feeds any input, cut into keys as the console cuts it:
// the editor never writes a control character other than backspace, never
// backs up past the start of the line, and the cursor on the screen stays
// where the editor has it.
func FuzzLineEditor(f *testing.F) {
	for _, s := range []string{"display version\r", "ab\x7f\x1b[D\x1b[Dx\x15", "\x1b[A\x1b[Bq\t?\x03", "a漢\x1b[D\x17\xc2\x9b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e lineEditor
		e.remember("display current-configuration")
		e.remember("漢字 sysname")
		e.reset()
		col := 0
		for len(b) > 0 {
			var k []byte
			k, b = splitKey(b)
			out, act := e.key(k)
			for _, r := range out {
				switch {
				case r == '\b':
					col--
				case r < 0x20 || (r >= 0x7f && r <= 0x9f):
					t.Fatalf("control %q written for key %q", r, k)
				default:
					col += width([]rune{r})
				}
				if col < 0 {
					t.Fatalf("backed up past the start of the line for key %q", k)
				}
			}
			if want := width(e.buf[:e.pos]); col != want {
				t.Fatalf("after key %q the screen cursor is at %d, the editor's at %d", k, col, want)
			}
			if act == actEnter || act == actClear {
				e.reset()
				col = 0
			}
		}
	})
}

func TestLineEditorLimits(t *testing.T) {
	var e lineEditor
	e.key([]byte(strings.Repeat("x", maxLine+10)))
	if len(e.buf) != maxLine {
		t.Fatalf("line of %d runes kept, want at most %d", len(e.buf), maxLine)
	}
	if out, _ := e.key([]byte("y")); out != "" {
		t.Fatalf("typing on a full line echoed %q", out)
	}
	for i := range maxHistory + 20 {
		e.remember(fmt.Sprint("line ", i))
	}
	e.remember(fmt.Sprint("line ", maxHistory+19)) // the same again: kept once
	if len(e.hist) != maxHistory || e.hist[len(e.hist)-1] != fmt.Sprint("line ", maxHistory+19) {
		t.Fatalf("history of %d lines, last %q", len(e.hist), e.hist[len(e.hist)-1])
	}
}

func TestChooseEditing(t *testing.T) {
	for _, tc := range []struct {
		term       string
		rows, cols int
		want       editing
	}{
		{"xterm-256color", 40, 120, fullEditing},
		{"xterm", 24, 80, fullEditing},
		{"screen", 50, 200, fullEditing},
		{"tmux-256color", 0, 0, fullEditing}, // docker exec -it: size not known yet
		{"vt100", 24, 80, plainEditing},      // paramiko's default (netmiko, Ansible)
		{"VT100", 24, 80, plainEditing},
		{"", 255, 80, plainEditing},      // scrapligo's system transport without TERM
		{"xterm", 255, 80, plainEditing}, // scrapligo's standard transport
		{"dumb", 24, 80, plainEditing},
		{"xterm", 1000, 511, plainEditing},
		{"xterm", 60, 511, plainEditing},
	} {
		if got := chooseEditing(tc.term, tc.rows, tc.cols); got != tc.want {
			t.Errorf("chooseEditing(%q, %d, %d) = %d, want %d", tc.term, tc.rows, tc.cols, got, tc.want)
		}
	}
}

func TestShiftCarets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"         ^\nError: Unrecognized command found at '^' position.\n", 1,
			"        ^\nError: Unrecognized command found at '^' position.\n"},
		{"      ^\nError: x\n", 0, "      ^\nError: x\n"},
		{"^\nError: x\n", 1, "^\nError: x\n"}, // never past column 0
		// Not an error caret: left alone.
		{"  ^\nInfo: x\n", 1, "  ^\nInfo: x\n"},
		{"a ^\nError: x\n", 1, "a ^\nError: x\n"},
		{"line\n   ^\nError: one\n   ^\nError: two\n", 2, "line\n ^\nError: one\n ^\nError: two\n"},
	} {
		if got := shiftCarets(tc.in, tc.n); got != tc.want {
			t.Errorf("shiftCarets(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// TestPlainEditing: Tab, `?`, the history, Ctrl+C and a "\r\n" split over
// two reads, in the plain mode against the fake engine.
func TestPlainEditing(t *testing.T) {
	sess := &direct{s: &fakeSession{sysname: "HUAWEI"}}
	var out bytes.Buffer
	f := &front{sess: sess, out: &out, prompt: "<HUAWEI> ", screenLength: 0}
	f.tabs.ask = func(line string) (proto.Response, error) {
		return sess.Do(proto.Request{Op: proto.OpComplete, Line: line})
	}
	in := &keys{k: []string{
		"sys", "\t", "\r", "\n", // Tab completes; the "\n" of "\r\n" is not a second Enter
		"dis", "\t", "?", "ver", "\r",
		"s", "?", "\x03",
		"\x1b[A", "\r", // the history: display version again
		"bogus", "\r",
		"quit", "\r", "quit", "\r",
	}}
	if err := f.plainLoop(in); err != nil {
		t.Fatal(err)
	}
	want := "<HUAWEI>system-view\n" +
		"[~HUAWEI]display ?\n" +
		"  version                 Display version information\n" +
		"  current-configuration   Current configuration\n" +
		"  interface               Interface status and configuration information\n" +
		"  interface-group         Interface group\n" +
		"[~HUAWEI]display ver\n" +
		"vpnos Versatile Routing Platform Software\n" +
		"[~HUAWEI]s?\n  sysname\n[~HUAWEI]s\n" +
		"[~HUAWEI]display ver\n" +
		"vpnos Versatile Routing Platform Software\n" +
		"[~HUAWEI]bogus\n" +
		"         ^\nError: Unrecognized command found at '^' position.\n" +
		"[~HUAWEI]quit\n<HUAWEI>quit\n"
	if got := backspaced(out.String()); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s\nraw: %q", got, want, out.String())
	}
	if fmt.Sprint(sess.ops) != fmt.Sprint([]string{"complete:sys", "exec:system-view ", "complete:dis", "help:display ", "exec:display ver",
		"help:s", "exec:display ver", "exec:bogus", "exec:quit", "exec:quit"}) {
		t.Fatalf("requests %q", sess.ops)
	}
}

// backspaced applies backspaces (a line at a time) to show what a terminal
// shows.
func backspaced(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		var scr []rune
		col := 0
		for _, r := range l {
			if r == '\b' {
				col--
				continue
			}
			for len(scr) <= col {
				scr = append(scr, ' ')
			}
			scr[col] = r
			col++
		}
		lines = append(lines, strings.TrimRight(string(scr), " "))
	}
	return strings.Join(lines, "\n")
}
