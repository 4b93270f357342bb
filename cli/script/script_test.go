package script

import (
	"context"
	"io"
	"runtime"
	"strings"
	"testing"

	"vpnos/cli"
	"vpnos/cli/proto"
)

// engineDoer runs a script against a real CLI engine session.
type engineDoer struct{ s proto.Session }

func (d engineDoer) DoStream(req proto.Request, _ func(string)) (proto.Response, error) {
	return d.s.Handle(context.Background(), req), nil
}

// askForever is a session whose every answer is met by the same question.
type askForever struct{ asked int }

func (a *askForever) DoStream(proto.Request, func(string)) (proto.Response, error) {
	a.asked++
	return proto.Response{Question: "Continue?[Y/N]:"}, nil
}

func TestQuestions(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string
		saved  bool
		failed int
		want   string
	}{
		{"answered", []string{"save", "y"}, true, 0, "Info: Save the configuration successfully."},
		// A script that does not answer save has saved nothing: it says so
		// and fails.
		{"no answer left: cancelled", []string{"save"}, false, 1, "Warning: all configuration will be written to the device.\nAre you sure to continue?[Y/N]\n" + NoAnswer + "\n"},
		// The next line is the answer: not one the question takes, so it is
		// asked again, then cancelled once the lines run out; the session
		// stays in the system view with its change uncommitted.
		{"a wrong answer, then none", []string{"system-view", "sysname X", "return", "display this"}, false, 2, NoAnswer + "\n" + Discarded + "\n"},
		// Leaving views with uncommitted changes loses them: said, failed.
		{"uncommitted at the end", []string{"system-view", "sysname X"}, false, 1, Discarded},
		{"committed", []string{"system-view", "sysname X", "commit"}, false, 0, ""},
		{"committed on the way out", []string{"system-view", "sysname X", "return", "y", "display current-configuration"}, false, 0, "sysname X"},
		{"discarded on the way out", []string{"system-view", "sysname X", "return", "n"}, false, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cli.New(cli.Deps{Store: testStore(t)})
			if err != nil {
				t.Fatal(err)
			}
			saved := false
			e.SaveFunc = func(context.Context, string) error { saved = true; return nil }
			s, open := e.Open(context.Background(), proto.Request{User: "t", Source: "script"})
			var out strings.Builder
			failed, err := Run(engineDoer{s}, open.Prompt, tc.lines, &out, Options{})
			if err != nil || failed != tc.failed || saved != tc.saved || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("failed %d err %v saved %v:\n%s", failed, err, saved, out.String())
			}
		})
	}
	// A question that every answer brings back ends the script instead of
	// looping.
	a := &askForever{}
	var out strings.Builder
	failed, err := Run(a, "<X> ", []string{"reset"}, &out, Options{})
	if err != nil || failed != 2 || a.asked != 3 || !strings.Contains(out.String(), "Error: No answer to the question above; the script ends here.") {
		t.Fatalf("failed %d err %v asked %d:\n%s", failed, err, a.asked, out.String())
	}
}

// newHugeReader is a stream of commands with one line of n bytes in the
// middle, produced as it is read (never whole in memory).
func newHugeReader(n int64) io.Reader {
	return io.MultiReader(
		strings.NewReader("system-view\nsysname BEFORE\n"),
		strings.NewReader("description "),
		io.LimitReader(repeatReader('x'), n),
		strings.NewReader("\nsysname AFTER\r\ncommit\nreturn"),
	)
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestHugeStdinLine: a line of stdin over 1 MiB (here 64 MiB) is refused
// as one line, too long, and the lines after it still run.
func TestHugeStdinLine(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	lines, err := ReadLines(newHugeReader(64 << 20))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("%d MiB allocated to read the lines", grew>>20)
	}
	if len(lines) != 6 || len(lines[2]) != MaxLine || lines[3] != "sysname AFTER" || lines[5] != "return" {
		t.Fatalf("%d lines: %q %q", len(lines), lines[3:], lines[:2])
	}
	e, err := cli.New(cli.Deps{Store: testStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, open := e.Open(context.Background(), proto.Request{User: "t", Source: "script"})
	var out strings.Builder
	failed, err := Run(engineDoer{s}, open.Prompt, lines, &out, Options{})
	if err != nil || failed != 1 {
		t.Fatalf("failed %d, %v:\n%.500s", failed, err, out.String())
	}
	if !strings.Contains(out.String(), "Error: Unrecognized command found at '^' position.") {
		t.Fatalf("output:\n%.300s", out.String())
	}
	if got := e.CurrentConfig(); !strings.Contains(got, "sysname AFTER") {
		t.Fatalf("the lines after the long one did not run:\n%s", got)
	}
}
