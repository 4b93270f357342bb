package mgmt

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vpnos/cli/proto"
)

// tickEngine's sessions stream one line per tick until interrupted, then
// print a summary, as ping does.
type tickEngine struct{}

type tickSession struct{}

func (tickEngine) Open(ctx context.Context, req proto.Request) (proto.Session, proto.Response) {
	return tickSession{}, proto.Response{Prompt: "> "}
}

func (tickSession) Handle(ctx context.Context, req proto.Request) proto.Response {
	return proto.Response{Output: "plain " + req.Line + "\n", Prompt: "> "}
}

func (tickSession) HandleStream(ctx context.Context, req proto.Request, out func(string)) proto.Response {
	if req.Line != "tick" {
		return tickSession{}.Handle(ctx, req)
	}
	n := 0
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for n < 1000 {
		select {
		case <-ctx.Done():
			out("interrupted\n")
			return proto.Response{Output: "summary " + strings.Repeat("x", n%1+1) + "\n", Prompt: "> "}
		case <-t.C:
			n++
			out("tick\n")
		}
	}
	return proto.Response{Output: "never\n"}
}

func (tickSession) Close() {}

func TestStreamingAndInterrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mgmt.sock")
	srv := &Server{Path: path, Engine: tickEngine{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
	cl, _, err := proto.Dial(ctx, path, proto.Request{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	parts := make(chan string, 100)
	got := make(chan proto.Response, 1)
	go func() {
		resp, err := cl.DoStream(proto.Request{Op: proto.OpExec, Line: "tick"}, func(s string) { parts <- s })
		if err != nil {
			t.Error(err)
		}
		got <- resp
	}()
	// Partial output arrives while the command runs.
	for i := 0; i < 3; i++ {
		select {
		case p := <-parts:
			if p != "tick\n" {
				t.Fatalf("partial %q", p)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no partial output while the command runs")
		}
	}
	if err := cl.Interrupt(); err != nil {
		t.Fatal(err)
	}
	var resp proto.Response
	select {
	case resp = <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("interrupt did not stop the command")
	}
	if resp.Output != "summary x\n" || resp.More {
		t.Fatalf("final response %+v", resp)
	}
	// Output written after the interrupt was delivered before the end.
	found := false
	for len(parts) > 0 {
		if <-parts == "interrupted\n" {
			found = true
		}
	}
	if !found {
		t.Fatal("output after the interrupt was lost")
	}
	// The session goes on; Do gathers partial output into one response.
	r, err := cl.Do(proto.Request{Op: proto.OpExec, Line: "x"})
	if err != nil || r.Output != "plain x\n" {
		t.Fatalf("after interrupt: %+v %v", r, err)
	}
}
