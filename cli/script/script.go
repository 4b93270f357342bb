// Package script runs CLI commands without a terminal: `vpnos cli -c
// "cmd; cmd"`, commands piped on stdin, automation. It uses the same
// management-socket session as the interactive front end, so the grammar is
// the same.
package script

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"vpnos/cli/proto"
)

// Doer sends one request to the session; partial output of a command
// that is still running goes to out as it arrives.
type Doer interface {
	DoStream(req proto.Request, out func(string)) (proto.Response, error)
}

// Options controls echoing.
type Options struct {
	// Echo prints "PROMPT COMMAND" before each command's output, as a
	// terminal log would. Errors are always printed with their command line,
	// so that the caret points at the right column.
	Echo bool
}

// SplitCommands splits a -c argument on ';' (a ';' inside a command can be
// written as '\;').
func SplitCommands(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ';':
			cur.WriteByte(';')
			i++
		case s[i] == ';':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if t := strings.TrimSpace(cur.String()); t != "" || len(out) == 0 {
		out = append(out, t)
	}
	return out
}

// Messages of a script that leaves something undone. Both make the script
// fail, so that automation notices.
const (
	// NoAnswer follows a question the script's lines did not answer: the
	// command was cancelled (save saved nothing, quit stayed in the view).
	NoAnswer = "Error: The question above was not answered; the command was cancelled."
	// Discarded ends a script that leaves configuration uncommitted.
	Discarded = "Error: Uncommitted configurations found; the script ended without committing them, so they are discarded."
)

// Run executes lines one by one. The first prompt comes from the open
// response. Answers to questions are taken from the following lines. Output
// of commands that print as they run (ping) is written as it arrives. It
// returns the number of failed commands: a refused line, a question the
// lines leave unanswered (cancelled, see NoAnswer), and uncommitted
// configuration at the end (see Discarded) each count.
func Run(d Doer, prompt string, lines []string, w io.Writer, o Options) (failed int, err error) {
	var last proto.Response
	for i := 0; i < len(lines); i++ {
		line := cut(lines[i])
		if o.Echo {
			fmt.Fprintf(w, "%s%s\n", prompt, line)
		}
		streamed := false
		live := func(out string) {
			streamed = true
			fmt.Fprint(w, out)
		}
		resp, err := d.DoStream(proto.Request{Op: proto.OpExec, Line: line}, live)
		if err != nil {
			return failed, err
		}
		// Questions are answered by the next lines. Once the lines run
		// out, the question is cancelled ("C", then "N" for the questions
		// that only take yes or no), said, and counted as a failure; one
		// that still asks ends the script.
		unanswered := []string{"C", "N"}
		cancelled := false
		for resp.Question != "" {
			var answer string
			switch {
			case !cancelled && i+1 < len(lines):
				i++
				answer = lines[i]
			case len(unanswered) > 0:
				if !cancelled {
					fmt.Fprint(w, resp.Output)
					fmt.Fprintf(w, "%s\n%s\n", resp.Question, NoAnswer)
					failed++
					cancelled = true
				}
				answer, unanswered = unanswered[0], unanswered[1:]
			default:
				fmt.Fprint(w, resp.Output)
				fmt.Fprintf(w, "%s\nError: No answer to the question above; the script ends here.\n", resp.Question)
				return failed + 1, nil
			}
			// What came before the question (a warning) is shown in
			// either mode; a terminal log also shows the question and
			// its answer.
			if !cancelled {
				fmt.Fprint(w, resp.Output)
				if o.Echo {
					fmt.Fprintf(w, "%s%s\n", resp.Question, answer)
				}
			}
			resp.Output = ""
			if resp, err = d.DoStream(proto.Request{Op: proto.OpAnswer, Line: answer}, live); err != nil {
				return failed, err
			}
		}
		if cancelled {
			// The cancelling answers' own output is not the script's.
			resp.Output = ""
		}
		// An error is shown under its command line (for the caret), unless
		// the command already printed as it ran.
		if !o.Echo && resp.Failed && !streamed {
			fmt.Fprintf(w, "%s%s\n", prompt, line)
		}
		fmt.Fprint(w, resp.Output)
		if resp.Failed {
			failed++
		}
		if resp.Prompt != "" {
			prompt = resp.Prompt
		}
		last = resp
		if resp.Exit {
			break
		}
	}
	if last.Uncommitted && !last.Exit {
		fmt.Fprintf(w, "%s\n", Discarded)
		failed++
	}
	return failed, nil
}

// MaxLine is the longest line a script sends: a longer one (a stray file
// piped in, a line of 100 MB) is cut there rather than read whole or sent
// whole, and the daemon refuses it, as any line over 3,100 characters; the
// lines after it still run.
const MaxLine = 8 << 10

// cut shortens a line to MaxLine bytes (on a character boundary).
func cut(line string) string {
	if len(line) <= MaxLine {
		return line
	}
	i := MaxLine
	for i > 0 && !utf8.RuneStart(line[i]) {
		i--
	}
	return line[:i]
}

// ReadLines reads commands from r, one per line; of a line longer than
// MaxLine only the first MaxLine bytes are kept (and read into memory).
func ReadLines(r io.Reader) ([]string, error) {
	var lines []string
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		var line []byte
		chunk, err := br.ReadSlice('\n')
		for {
			if room := MaxLine + 1 - len(line); room > 0 {
				line = append(line, chunk[:min(room, len(chunk))]...)
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
			chunk, err = br.ReadSlice('\n')
		}
		if len(line) > 0 || err == nil {
			l := strings.TrimRight(string(line), "\n")
			lines = append(lines, cut(strings.TrimRight(l, "\r")))
		}
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
	}
}
