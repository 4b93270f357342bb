package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"vpnos/cli/proto"
)

func TestStreamingCommand(t *testing.T) {
	e, err := New(Deps{Sysname: "PE1", Store: testStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Register(Command{
		Views: "any", Syntax: "count {n:int<1-9>}", Display: true,
		Stream: func(ctx context.Context, a *Args, w io.Writer) error {
			v, _ := a.Value("n")
			var n int
			fmt.Sscan(v, &n)
			for i := 1; i <= n; i++ {
				fmt.Fprintf(w, "line %d\n", i)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := e.Open(context.Background(), proto.Request{})
	st, ok := sess.(proto.Streamer)
	if !ok {
		t.Fatal("engine sessions must stream")
	}
	var live []string
	resp := st.HandleStream(context.Background(), proto.Request{Op: proto.OpExec, Line: "count 3"}, func(s string) { live = append(live, s) })
	if strings.Join(live, "") != "line 1\nline 2\nline 3\n" || resp.Output != "" {
		t.Fatalf("live %q, final %q", live, resp.Output)
	}
	// With a filter the output is gathered and filtered.
	live = nil
	resp = st.HandleStream(context.Background(), proto.Request{Op: proto.OpExec, Line: "count 3 | include 2"}, func(s string) { live = append(live, s) })
	if len(live) != 0 || resp.Output != "line 2\n" {
		t.Fatalf("filtered: live %q, final %q", live, resp.Output)
	}
	// Without a live writer (scripts through Handle) it is gathered too.
	resp = sess.Handle(context.Background(), proto.Request{Op: proto.OpExec, Line: "count 2"})
	if resp.Output != "line 1\nline 2\n" {
		t.Fatalf("gathered %q", resp.Output)
	}
}
