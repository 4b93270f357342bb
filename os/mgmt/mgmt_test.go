package mgmt

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vpnos/cli/proto"
)

type echoEngine struct{ opened int }

type echoSession struct{ n int }

func (e *echoEngine) Open(ctx context.Context, req proto.Request) (proto.Session, proto.Response) {
	e.opened++
	return &echoSession{}, proto.Response{Prompt: "<" + req.User + "> "}
}

func (s *echoSession) Handle(ctx context.Context, req proto.Request) proto.Response {
	s.n++
	switch req.Line {
	case "panic":
		panic("engine bug")
	case "quit":
		return proto.Response{Exit: true}
	}
	return proto.Response{Output: strings.ToUpper(req.Line) + "\n", Prompt: "<x> "}
}

func (s *echoSession) Close() {}

func TestServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s", "mgmt.sock")
	srv := &Server{Path: path, Engine: &echoEngine{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	cl, open, err := proto.Dial(ctx, path, proto.Request{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if open.Prompt != "<alice> " {
		t.Fatalf("open prompt %q", open.Prompt)
	}
	resp, err := cl.Do(proto.Request{Op: proto.OpExec, Line: "display version"})
	if err != nil || resp.Output != "DISPLAY VERSION\n" {
		t.Fatalf("exec: %+v %v", resp, err)
	}
	// A panic in the engine is contained to that command.
	resp, err = cl.Do(proto.Request{Op: proto.OpExec, Line: "panic"})
	if err != nil || !resp.Failed || !strings.HasPrefix(resp.Output, "Error:") {
		t.Fatalf("panic: %+v %v", resp, err)
	}
	resp, err = cl.Do(proto.Request{Op: proto.OpExec, Line: "still here"})
	if err != nil || resp.Output != "STILL HERE\n" {
		t.Fatalf("after panic: %+v %v", resp, err)
	}

	// Malformed input gets an error line, not a dropped daemon.
	raw, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Write([]byte("{not json\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	_ = raw.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := raw.Read(buf)
	if !strings.Contains(string(buf[:n]), "Malformed") {
		t.Fatalf("malformed answer: %s", buf[:n])
	}
	// Requests before open are refused.
	if _, err := raw.Write([]byte(`{"op":"exec","line":"x"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	n, _ = raw.Read(buf)
	if !strings.Contains(string(buf[:n]), "No session") {
		t.Fatalf("exec before open: %s", buf[:n])
	}
	raw.Close()

	resp, err = cl.Do(proto.Request{Op: proto.OpExec, Line: "quit"})
	if err != nil || !resp.Exit {
		t.Fatalf("quit: %+v %v", resp, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return")
	}
}
