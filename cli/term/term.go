// Package term is the interactive CLI front end: the `vpnos cli` process on a
// terminal (the console through `docker exec -it`, or an SSH session's PTY).
// It edits lines with github.com/c-bata/go-prompt and leaves the language
// to the daemon, which owns the session (see cli/proto):
//
//   - Enter sends the line (exec) and prints the output through a pager;
//   - Tab asks for completions and completes as VRP does (see tabber);
//   - `?` asks for help on the text before the cursor, prints it under the
//     line and shows the prompt and the input again;
//   - a question (e.g. uncommitted changes on leaving system view) reads
//     one answer line;
//   - Ctrl+Z is `return`, Ctrl+C clears the line.
//
// go-prompt's completion menu is not used at all: help and completion are
// printed as VRP prints them, which also keeps a menu from drawing over help
// text printed from a key binding.
package term

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	prompt "github.com/c-bata/go-prompt"
	runewidth "github.com/mattn/go-runewidth"

	"vpnos/cli/proto"
)

// Session is the daemon side of the session (a *proto.Client).
type Session interface {
	Do(req proto.Request) (proto.Response, error)
}

// front is one interactive session.
type front struct {
	sess Session
	con  *console
	out  io.Writer

	prompt       string
	screenLength int
	tabs         tabber

	err     error // the daemon connection failed
	ended   bool  // the line editor stopped because the terminal is gone
	afterCR bool  // plain mode: the last line ended with "\r"
}

// Terminal is the session's terminal, in raw mode from Open to Close.
type Terminal struct {
	con      *console
	out      io.Writer
	termType string
}

// Open puts the terminal on in (which must be one) in raw mode at once,
// before the daemon is reached, so that no key typed early (Ctrl+C, Ctrl+\)
// becomes a signal: keys stay input and wait for the session. SIGTERM and
// SIGHUP restore the terminal and end the process.
func Open(in *os.File, out io.Writer) (*Terminal, error) {
	con, err := newConsole(int(in.Fd()))
	if err != nil {
		return nil, fmt.Errorf("interactive CLI needs a terminal: %w", err)
	}
	if err := con.makeRaw(); err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	// Keys never become signals in raw mode; these keep a stray signal from
	// killing the session with the terminal left raw, or from printing the
	// runtime's stack dump (SIGQUIT) on the user's screen.
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-term
		con.restore()
		os.Exit(0)
	}()
	return &Terminal{con: con, out: out, termType: os.Getenv("TERM")}, nil
}

// Close puts the terminal back as it was.
func (t *Terminal) Close() { t.con.restore() }

// Run runs an interactive session on stdin/stdout (which must be a terminal)
// until the user logs out or the terminal goes away. open is the response to
// the session's open request.
func Run(sess Session, open proto.Response) error {
	t, err := Open(os.Stdin, os.Stdout)
	if err != nil {
		return err
	}
	defer t.Close()
	return t.Run(sess, open)
}

// Run runs the session until the user logs out or the terminal goes away.
// The editing (full or plain) is chosen from the terminal's type and size
// (see chooseEditing).
func (t *Terminal) Run(sess Session, open proto.Response) (err error) {
	defer func() {
		// A bug must not leave a stack dump on the user's screen.
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	f := &front{sess: sess, con: t.con, out: t.out, prompt: open.Prompt, screenLength: open.ScreenLength}
	f.tabs.ask = func(line string) (proto.Response, error) {
		return f.do(proto.Request{Op: proto.OpComplete, Line: line})
	}
	rows, cols := t.con.size()
	if chooseEditing(t.termType, rows, cols) == plainEditing {
		return f.plainLoop(f.con)
	}
	p, err := f.newPrompt()
	if err != nil {
		// No line editor (go-prompt needs /dev/tty): plain lines still work.
		fmt.Fprintf(f.out, "Info: Line editing is not available (%v).\n", err)
		return f.plainLoop(f.con)
	}
	con := t.con
	for {
		line := p.Input()
		if f.err != nil {
			return f.err
		}
		if f.ended {
			return nil // the terminal went away (a line ended by Enter still runs)
		}
		resp, err := f.exec(line)
		if err != nil {
			return err
		}
		if done, err := f.show(resp, con); done || err != nil {
			return err
		}
	}
}

// streamer is a session that can print a command's output while it runs
// and stop it (a *proto.Client).
type streamer interface {
	DoStream(req proto.Request, out func(string)) (proto.Response, error)
	Interrupt() error
}

// exec runs one line. Output of commands that print as they go (ping)
// appears at once, and Ctrl+C typed meanwhile stops the command.
func (f *front) exec(line string) (proto.Response, error) {
	req := proto.Request{Op: proto.OpExec, Line: line}
	st, ok := f.sess.(streamer)
	if !ok || f.con == nil {
		return f.do(req)
	}
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		f.con.watchInterrupt(done, func() { _ = st.Interrupt() })
	}()
	resp, err := st.DoStream(req, func(out string) { io.WriteString(f.out, out) })
	close(done)
	<-watched
	return f.after(req, resp, err)
}

// newPrompt builds the go-prompt line editor. go-prompt opens /dev/tty in its
// constructor and panics without one; our own console parser replaces it.
func (f *front) newPrompt() (p *prompt.Prompt, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("line editor: %v", r)
		}
	}()
	return prompt.New(
		func(string) {},
		func(prompt.Document) []prompt.Suggest { return nil },
		prompt.OptionParser(f.con),
		prompt.OptionWriter(quietWriter{prompt.NewStdoutWriter()}),
		prompt.OptionLivePrefix(func() (string, bool) { return f.prompt, true }),
		prompt.OptionPrefixTextColor(prompt.DefaultColor),
		prompt.OptionInputTextColor(prompt.DefaultColor),
		prompt.OptionMaxSuggestion(0),
		prompt.OptionAddKeyBind(prompt.KeyBind{Key: prompt.Tab, Fn: f.tab}),
		prompt.OptionAddASCIICodeBind(prompt.ASCIICodeBind{ASCIICode: []byte("?"), Fn: f.help}),
		prompt.OptionSetExitCheckerOnInput(func(string, bool) bool {
			f.ended = f.err != nil || f.con.goneKey()
			return f.ended
		}),
	), nil
}

// quietWriter is go-prompt's terminal output without colours (go-prompt
// sets the default colour around every piece it draws) and window titles
// (it clears the title after every line): neither shows, and both are noise
// to anything reading the session.
type quietWriter struct{ prompt.ConsoleWriter }

func (quietWriter) SetColor(prompt.Color, prompt.Color, bool)                                   {}
func (quietWriter) SetDisplayAttributes(prompt.Color, prompt.Color, ...prompt.DisplayAttribute) {}
func (quietWriter) SetTitle(string)                                                             {}
func (quietWriter) ClearTitle()                                                                 {}

func (f *front) do(req proto.Request) (proto.Response, error) {
	resp, err := f.sess.Do(req)
	return f.after(req, resp, err)
}

// after records what a response says about the session.
func (f *front) after(req proto.Request, resp proto.Response, err error) (proto.Response, error) {
	if err != nil {
		f.err = fmt.Errorf("the routing daemon closed the session: %w", err)
		return resp, f.err
	}
	if resp.Prompt != "" {
		f.prompt = resp.Prompt
	}
	if req.Op != proto.OpComplete && req.Op != proto.OpHelp {
		f.screenLength = resp.ScreenLength
	}
	return resp, nil
}

// show prints a response, asking its questions; done is set when the session
// has ended.
func (f *front) show(resp proto.Response, keys keySource) (done bool, err error) {
	for {
		f.page(resp.Output, keys)
		if resp.Exit {
			return true, nil
		}
		if resp.Question == "" {
			return false, nil
		}
		io.WriteString(f.out, resp.Question)
		answer, ok := readLine(f.out, keys)
		io.WriteString(f.out, "\n")
		if !ok {
			return true, nil
		}
		if resp, err = f.do(proto.Request{Op: proto.OpAnswer, Line: answer}); err != nil {
			return true, err
		}
	}
}

func (f *front) page(text string, keys keySource) {
	if text == "" {
		return
	}
	rows := 0
	if f.con != nil {
		rows = int(f.con.GetWinSize().Row)
	}
	page(f.out, keys, text, pageLength(f.screenLength, rows))
}

// tab completes the word before the cursor.
func (f *front) tab(buf *prompt.Buffer) {
	before := buf.Document().TextBeforeCursor()
	now, err := f.tabs.tab(before)
	if err != nil || now == before {
		return
	}
	buf.DeleteBeforeCursor(len([]rune(before)))
	buf.InsertText(now, false, true)
}

// help answers `?`: the help for the text before the cursor is printed under
// the line, then the prompt and the input are written again, with the cursor
// where it was. go-prompt redraws its line relative to where it last left
// the cursor, so after this the terminal cursor must stand at the same offset
// from the new prompt as it stood from the old one.
func (f *front) help(buf *prompt.Buffer) {
	doc := buf.Document()
	before, after := doc.TextBeforeCursor(), doc.TextAfterCursor()
	prefix := f.prompt // the prompt the line was drawn with
	resp, err := f.do(proto.Request{Op: proto.OpHelp, Line: before})
	if err != nil {
		return
	}
	echo := after
	if after == "" {
		echo = "?"
	}
	io.WriteString(f.out, echo+"\n")
	f.page(resp.Output, f.con)
	ws := f.con.GetWinSize()
	io.WriteString(f.out, redraw(prefix, before, after, int(ws.Col)))
}

// redraw writes prompt and line and leaves the cursor after before, wrapping
// as go-prompt does (an explicit newline when the text fills the last column).
func redraw(prefix, before, after string, cols int) string {
	var b strings.Builder
	b.WriteString(prefix + before + after)
	end := runewidth.StringWidth(prefix + before + after)
	cur := runewidth.StringWidth(prefix + before)
	if cols <= 0 {
		cols = 80
	}
	if end > 0 && end%cols == 0 {
		b.WriteString("\n")
	}
	ey, cy := end/cols, cur/cols
	ex, cx := end%cols, cur%cols
	if ey > cy {
		fmt.Fprintf(&b, "\x1b[%dA", ey-cy)
	}
	switch {
	case ex > cx:
		fmt.Fprintf(&b, "\x1b[%dD", ex-cx)
	case cx > ex:
		fmt.Fprintf(&b, "\x1b[%dC", cx-ex)
	}
	return b.String()
}

// readLine reads an answer to a question: printable keys are echoed,
// Backspace erases, Ctrl+C erases the whole answer, Enter ends it. ok is
// false when the terminal is gone.
func readLine(w io.Writer, keys keySource) (string, bool) {
	var line []rune
	for {
		k, ok := keys.readKey()
		if !ok {
			return string(line), false
		}
		if len(k) == 0 {
			continue
		}
		switch {
		case string(k) == "\r" || string(k) == "\n":
			return string(line), true
		case len(k) == 1 && (k[0] == 0x7f || k[0] == 0x08):
			if len(line) > 0 {
				line = line[:len(line)-1]
				io.WriteString(w, "\b \b")
			}
		case len(k) == 1 && k[0] == ctrlC:
			io.WriteString(w, strings.Repeat("\b \b", len(line)))
			line = line[:0]
		case k[0] >= 0x20 && k[0] != 0x7f:
			line = append(line, []rune(string(k))...)
			io.WriteString(w, string(k))
		}
	}
}
