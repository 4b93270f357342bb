package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vpnos/lab/golden"

	"vpnos/cli/proto"
	"vpnos/services/iface"
	"vpnos/services/owners"
	"vpnos/yang/datastore"
)

var testEpoch = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

// testEngine has three ports and a clock that advances one second per call.
func testEngine(t testing.TB, mode string) *Engine {
	t.Helper()
	now := testEpoch
	clock := func() time.Time { now = now.Add(time.Second); return now }
	st := testStore(t)
	st.Now = clock
	e, err := New(Deps{
		Store:      st,
		Sysname:    "HUAWEI",
		CommitMode: mode,
		Now:        clock,
		Ports: func() []iface.Port {
			return []iface.Port{
				{Kernel: "eth1", Name: "GigabitEthernet0/1/0", AdminUp: true, OperUp: true},
				{Kernel: "eth2", Name: "GigabitEthernet0/2/0", AdminUp: true, OperUp: true},
				{Kernel: "eth3", Name: "GigabitEthernet0/3/0", AdminUp: true, OperUp: true},
			}
		},
		System: func() SystemInfo { return SystemInfo{Started: testEpoch, Backend: "userspace"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	// Configuration files are those of testdata/files ("" is the startup
	// file, startup.cfg).
	e.ReadFile = func(_ context.Context, name string) (string, error) {
		if name == "" {
			name = "startup.cfg"
		}
		b, err := os.ReadFile(filepath.Join("testdata", "files", name))
		return string(b), err
	}
	e.activity = func() time.Time { return testEpoch }
	e.Startup = func() StartupInfo {
		return StartupInfo{Software: "/usr/bin/vpnos (vpnos test)", File: "/etc/vpnos/startup.cfg", Loaded: true}
	}
	return e
}

// testStore is a datastore where the services' rules own the
// configuration, as in the daemon (without their effects).
func testStore(t testing.TB) *datastore.Store {
	t.Helper()
	st, err := owners.NewStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// runTranscript feeds input lines to sessions and returns the screen.
// Input syntax: a line ending in '?' asks for help, one ending in "<TAB>"
// asks for completion; "@session N" switches to session N (opened on first
// use); "@screen" prints the session's screen length; "@load FILE" loads
// testdata/files/FILE as the startup configuration is loaded; answers to
// questions are the lines that follow.
func runTranscript(t testing.TB, e *Engine, input string) string {
	ctx := context.Background()
	var b strings.Builder
	sessions := map[string]*session{}
	prompts := map[string]string{}
	cur := "1"
	open := func(name string) {
		if _, ok := sessions[name]; ok {
			return
		}
		s, resp := e.Open(ctx, proto.Request{Op: proto.OpOpen, User: "user" + name, Interactive: true})
		sessions[name] = s.(*session)
		prompts[name] = resp.Prompt
	}
	open(cur)
	lines := strings.Split(strings.TrimRight(input, "\n"), "\n")
	var question string
	for _, line := range lines {
		s := sessions[cur]
		switch {
		case strings.HasPrefix(line, "@session "):
			cur = strings.TrimPrefix(line, "@session ")
			open(cur)
			fmt.Fprintf(&b, "--- session %s\n", cur)
			continue
		case strings.HasPrefix(line, "@load "):
			name := strings.TrimPrefix(line, "@load ")
			text, err := e.ReadFile(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			errs, err := e.Replay(ctx, text)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "--- loaded %s\n", name)
			for _, le := range errs {
				fmt.Fprintf(&b, "--- line %d refused: %s\n", le.Line, le.Message)
			}
			continue
		case line == "@screen":
			resp := s.Handle(ctx, proto.Request{Op: proto.OpPrompt})
			fmt.Fprintf(&b, "--- screen-length %d\n", resp.ScreenLength)
			continue
		}
		if question != "" {
			resp := s.Handle(ctx, proto.Request{Op: proto.OpAnswer, Line: line})
			fmt.Fprintf(&b, "%s%s\n", question, line)
			b.WriteString(resp.Output)
			question = resp.Question
			prompts[cur] = resp.Prompt
			continue
		}
		p := prompts[cur]
		var resp proto.Response
		switch {
		case strings.HasSuffix(line, "<TAB>"):
			l := strings.TrimSuffix(line, "<TAB>")
			resp = s.Handle(ctx, proto.Request{Op: proto.OpComplete, Line: l})
			var c []string
			for _, x := range resp.Candidates {
				c = append(c, x.Text)
			}
			fmt.Fprintf(&b, "%s%s<TAB>\n", p, l)
			fmt.Fprintf(&b, "[completions: %s; replace %d]\n", strings.Join(c, " "), resp.Replace)
		case strings.HasSuffix(line, "?"):
			l := strings.TrimSuffix(line, "?")
			resp = s.Handle(ctx, proto.Request{Op: proto.OpHelp, Line: l})
			fmt.Fprintf(&b, "%s%s?\n", p, l)
			b.WriteString(resp.Output)
		default:
			resp = s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: line})
			fmt.Fprintf(&b, "%s%s\n", p, line)
			b.WriteString(resp.Output)
		}
		question = resp.Question
		prompts[cur] = resp.Prompt
		if resp.Exit {
			fmt.Fprintf(&b, "--- session %s closed\n", cur)
			delete(sessions, cur)
			open(cur)
		}
	}
	if question != "" {
		fmt.Fprintf(&b, "%s\n", question)
	}
	return b.String()
}

func TestTranscripts(t *testing.T) {
	golden.Files(t, "testdata/transcripts/*.txt", func(t *testing.T, name, in string) string {
		mode := "two-stage"
		if strings.HasPrefix(name, "immediate") {
			mode = "immediate"
		}
		return runTranscript(t, testEngine(t, mode), in)
	})
}
