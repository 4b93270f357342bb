package term

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"vpnos/cli/proto"
)

func TestSplitKey(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"display version\r", []string{"display version", "\r"}},
		{"a\r\nb\r\n", []string{"a", "\r", "b", "\r"}},
		{"?", []string{"?"}},
		{"dis?", []string{"dis", "?"}},
		{"description what? ok\r", []string{"description what? ok", "\r"}},
		{"\x1b[A\x1b[B", []string{"\x1b[A", "\x1b[B"}},
		{"\x1b[3~x", []string{"\x1b[3~", "x"}},
		{"\x1b[1;5C", []string{"\x1b[1;5C"}},
		{"\x1bOP", []string{"\x1bOP"}},
		{"\x1bb", []string{"\x1bb"}},
		{"\x1b", []string{"\x1b"}},
		{"\x1b\x1b[A", []string{"\x1b", "\x1b[A"}},
		{"ab\tc", []string{"ab", "\t", "c"}},
		{"\x04", []string{"\x1b[3~"}},
		{"\x03\x7f", []string{"\x03", "\x7f"}},
		{"ab\x1acd", []string{"ab", "\x05", "\x15", "return", "\r", "cd"}},
		{"héllo\r", []string{"héllo", "\r"}},
	} {
		var got []string
		b := []byte(tc.in)
		for len(b) > 0 {
			var k []byte
			k, b = splitKey(b)
			if len(k) == 0 {
				t.Fatalf("splitKey(%q) made no progress", b)
			}
			got = append(got, string(k))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("splitKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzSplitKey(f *testing.F) {
	for _, s := range []string{"abc\r\n", "\x1b[1;5C?", "\x1bO", "\x1b[", "?\x04"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Every key is cut from the input, which shrinks, except that
		// Ctrl+Z is rewritten as text that holds no Ctrl+Z (`return`
		// typed over the line): so the keys are at most a fixed multiple
		// of the input.
		limit := 10*len(b) + 1
		for keys := 0; len(b) > 0; keys++ {
			k, rest := splitKey(b)
			if len(k) == 0 || (len(rest) >= len(b) && b[0] != ctrlZ) {
				t.Fatalf("no progress on %q", b)
			}
			if keys > limit {
				t.Fatalf("more keys than the input can hold")
			}
			b = rest
		}
	})
}

// words is a fake completer over a keyword list.
func words(list ...string) func(string) (proto.Response, error) {
	return func(line string) (proto.Response, error) {
		f := strings.Fields(line)
		partial := ""
		if len(f) > 0 && !strings.HasSuffix(line, " ") {
			partial = f[len(f)-1]
		}
		var r proto.Response
		for _, w := range list {
			if strings.HasPrefix(w, strings.ToLower(partial)) {
				r.Candidates = append(r.Candidates, proto.Candidate{Text: w})
			}
		}
		r.Replace = len(partial)
		return r, nil
	}
}

func TestTab(t *testing.T) {
	kw := words("save", "screen-length", "system-view", "interface", "interface-group", "<cr>")
	for _, tc := range []struct {
		name  string
		start string
		want  []string // text after each Tab
	}{
		{"unique", "sys", []string{"system-view "}},
		{"unique after words", "display sc", []string{"display screen-length "}},
		{"uppercase", "SY", []string{"system-view "}},
		{"none", "xyz", []string{"xyz", "xyz"}},
		{"cycle without prefix gain", "s", []string{"save", "screen-length", "system-view", "save"}},
		{"common prefix then cycle", "in", []string{"interface", "interface", "interface-group", "interface"}},
		{"empty word lists all", "", []string{"save", "screen-length"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := &tabber{ask: kw}
			line := tc.start
			for i, want := range tc.want {
				got, err := tb.tab(line)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("Tab %d on %q = %q, want %q", i+1, line, got, want)
				}
				line = got
			}
		})
	}

	// Typing after a cycle starts over.
	tb := &tabber{ask: kw}
	if line, _ := tb.tab("s"); line != "save" {
		t.Fatalf("Tab on s = %q", line)
	}
	if line, _ := tb.tab("sc"); line != "screen-length " {
		t.Fatalf("after typing, Tab = %q", line)
	}

	// A failing daemon leaves the line alone.
	tb = &tabber{ask: func(string) (proto.Response, error) { return proto.Response{}, errors.New("gone") }}
	if got, err := tb.tab("dis"); err == nil || got != "dis" {
		t.Fatalf("Tab with a dead daemon = %q, %v", got, err)
	}
	// A Replace beyond the line is ignored rather than trusted.
	tb = &tabber{ask: func(string) (proto.Response, error) {
		return proto.Response{Candidates: []proto.Candidate{{Text: "x"}}, Replace: 99}, nil
	}}
	if got, _ := tb.tab("ab"); got != "abx " {
		t.Fatalf("Tab with a bad Replace = %q", got)
	}
}

type keys struct {
	k   []string
	out *bytes.Buffer
}

func (k *keys) readKey() ([]byte, bool) {
	if len(k.k) == 0 {
		return nil, false
	}
	s := k.k[0]
	k.k = k.k[1:]
	if k.out != nil {
		k.out.WriteString("{" + s + "}")
	}
	return []byte(s), true
}

func TestPager(t *testing.T) {
	var text strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&text, "line%d\n", i)
	}
	erase := "\r" + strings.Repeat(" ", len(MoreText)) + "\r"
	more := MoreText
	for _, tc := range []struct {
		name string
		n    int
		keys []string
		want string
		all  bool
	}{
		{"fits", 10, nil, "line1\n...line10\n", true},
		{"no paging", 0, nil, "line1\n...line10\n", true},
		{"space pages", 4, []string{" ", " "}, "line1\n...line4\n" + more + "{ }" + erase + "line5\n...line8\n" + more + "{ }" + erase + "line9\nline10\n", true},
		{"enter steps", 8, []string{"\r", "x", "\r"}, "line1\n...line8\n" + more + "{\r}" + erase + "line9\n" + more + "{x}{\r}" + erase + "line10\n", true},
		{"ctrl-c stops", 4, []string{"\x03"}, "line1\n...line4\n" + more + "{\x03}" + erase, false},
		{"q stops", 4, []string{"q"}, "line1\n...line4\n" + more + "{q}" + erase, false},
		{"terminal gone", 4, nil, "line1\n...line4\n" + more + "\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			all := page(&out, &keys{k: tc.keys, out: &out}, text.String(), tc.n)
			want := expand(tc.want)
			if out.String() != want || all != tc.all {
				t.Fatalf("page = %q (%v)\nwant  %q (%v)", out.String(), all, want, tc.all)
			}
		})
	}
}

// expand turns "lineA\n...lineB\n" into the lines A..B.
func expand(s string) string {
	for {
		i := strings.Index(s, "\n...line")
		if i < 0 {
			return s
		}
		j := strings.LastIndex(s[:i], "line")
		var a, b int
		fmt.Sscanf(s[j:], "line%d", &a)
		fmt.Sscanf(s[i+4:], "line%d", &b)
		var r strings.Builder
		for x := a; x <= b; x++ {
			fmt.Fprintf(&r, "line%d\n", x)
		}
		end := i + 4 + len(fmt.Sprintf("line%d\n", b))
		s = s[:j] + r.String() + s[end:]
	}
}

func TestPageLength(t *testing.T) {
	for _, tc := range []struct{ screen, rows, want int }{
		{0, 24, 0}, {24, 50, 24}, {24, 24, 23}, {24, 0, 24}, {100, 10, 9}, {5, 1, 5},
	} {
		if got := pageLength(tc.screen, tc.rows); got != tc.want {
			t.Errorf("pageLength(%d, %d) = %d, want %d", tc.screen, tc.rows, got, tc.want)
		}
	}
}

func TestRedraw(t *testing.T) {
	for _, tc := range []struct {
		prefix, before, after string
		cols                  int
		want                  string
	}{
		{"<HUAWEI> ", "display ", "", 80, "<HUAWEI> display "},
		{"<HUAWEI> ", "dis", "play", 80, "<HUAWEI> display\x1b[4D"},
		// 10 columns: "<R> abcdef" fills the row exactly: go-prompt adds a newline.
		{"<R> ", "abcdef", "", 10, "<R> abcdef\n"},
		{"<R> ", "abc", "defgh", 10, "<R> abcdefgh\x1b[1A\x1b[5C"},
	} {
		if got := redraw(tc.prefix, tc.before, tc.after, tc.cols); got != tc.want {
			t.Errorf("redraw(%q,%q,%q,%d) = %q, want %q", tc.prefix, tc.before, tc.after, tc.cols, got, tc.want)
		}
	}
}

func TestReadLine(t *testing.T) {
	var out bytes.Buffer
	got, ok := readLine(&out, &keys{k: []string{"y", "x", "\x7f", "\x1b[A", "es", "\r", "ignored"}})
	if !ok || got != "yes" || out.String() != "yx\b \bes" {
		t.Fatalf("readLine = %q %v, echoed %q", got, ok, out.String())
	}
	out.Reset()
	got, ok = readLine(&out, &keys{k: []string{"ab", "\x03", "N", "\n"}})
	if !ok || got != "N" {
		t.Fatalf("readLine after Ctrl+C = %q %v", got, ok)
	}
	if _, ok := readLine(&out, &keys{k: []string{"Y"}}); ok {
		t.Fatal("readLine without Enter on a closed terminal reported ok")
	}
}

// direct is a Session straight onto a fake engine session.
type direct struct {
	s   *fakeSession
	ops []string
}

func (d *direct) Do(req proto.Request) (proto.Response, error) {
	d.ops = append(d.ops, req.Op+":"+req.Line)
	return d.s.Handle(context.Background(), req), nil
}

// TestPlainLoop runs the plain mode: exec, questions, the pager, logout.
// The prompt stands without its separator and the input follows it.
func TestPlainLoop(t *testing.T) {
	sess := &direct{s: &fakeSession{sysname: "HUAWEI"}}
	var out bytes.Buffer
	f := &front{sess: sess, out: &out, prompt: "<HUAWEI> ", screenLength: 24}
	in := &keys{k: []string{
		"system-view", "\r", "sysname X", "\r", "return", "\r", "\r", "n", "\r",
		"display current-configuration", "\r", " ", " ",
		"quit", "\r",
	}}
	if err := f.plainLoop(in); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"exec:system-view", "exec:sysname X", "exec:return", "answer:", "answer:n",
		"exec:display current-configuration", "exec:quit",
	}
	if fmt.Sprint(sess.ops) != fmt.Sprint(want) {
		t.Fatalf("requests %q, want %q", sess.ops, want)
	}
	o := out.String()
	for _, part := range []string{
		"<HUAWEI>system-view\n[~HUAWEI]sysname X\n[*HUAWEI]return\nWarning: Uncommitted configurations found",
		"[Y(yes)/N(no)/C(cancel)]:\nError: Please choose 'YES', 'NO' or 'CANCEL' first before pressing 'Enter'. [Y/N/C]:n\n<HUAWEI>",
		"config-line-24\n" + MoreText,
		"config-line-60\n<HUAWEI>quit\n",
	} {
		if !strings.Contains(o, part) {
			t.Fatalf("output lacks %q:\n%s", part, o)
		}
	}
	if strings.Contains(o, "\x1b") {
		t.Fatalf("escape sequence in plain mode:\n%q", o)
	}
}

// TestConsole feeds a console from a pipe: keys come one by one, nothing
// after Enter until go-prompt starts the next line, and the end of input is
// seen by go-prompt (an Escape for its exit checker) and by readKey.
func TestConsole(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := &console{fd: int(r.Fd())}
	read := func() string {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if k, err := c.Read(); err == nil {
				return string(k)
			}
		}
		return "<none>"
	}
	w.WriteString("display ver\r" + "next\r")
	for _, want := range []string{"display ver", "\r"} {
		if got := read(); got != want {
			t.Fatalf("Read = %q, want %q", got, want)
		}
	}
	if k, err := c.Read(); err == nil {
		t.Fatalf("Read after Enter = %q; the next line must wait", k)
	}
	c.mu.Lock()
	c.gated = false // what Setup does for the next line
	c.mu.Unlock()
	if got := read(); got != "next" {
		t.Fatalf("next line starts with %q", got)
	}
	if k, ok := c.readKey(); !ok || string(k) != "\r" {
		t.Fatalf("readKey = %q %v", k, ok)
	}
	w.Close()
	if k, ok := c.readKey(); ok {
		t.Fatalf("readKey after the end = %q", k)
	}
	if c.goneKey() {
		t.Fatal("end of input reported before go-prompt was told")
	}
	if got := read(); got != "\x1b" || !c.goneKey() {
		t.Fatalf("Read after the end = %q, want Escape", got)
	}
}
