package datastore

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestCheck: Check answers what Commit would (validation errors with the
// nodes they are about, a participant's refusal) and leaves running, the
// commit log and the participants as they were: every Prepare is undone by
// an Abort, and nothing is applied.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	s := New(newStore(t).Schema, nil)
	a := &recorder{name: "a"}
	b := &recorder{name: "b", fail: errors.New("no labels left")}
	s.Register(a, "/system", "/vpn-instances", "/interfaces", "/user-interface", "/mpls", "/static-lsps")
	s.Register(b, "/static-routes")

	c := s.NewCandidate()
	c.Tree().Set(P("system", "sysname"), "PE1")
	if err := c.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.calls, []string{"prepare", "abort"}) {
		t.Fatalf("calls %v", a.calls)
	}
	c.Tree().Set(redAF.Child("tnl-policy"), "x")
	err := c.Check(ctx)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errs) != 1 {
		t.Fatalf("%v", err)
	}
	if p, ok := ErrorPath(ve.Errs[0]); !ok || p.String() != redAF.Child("tnl-policy").String() {
		t.Fatalf("path %v %v of %v", p, ok, ve.Errs[0])
	}
	c.Tree().Delete(red)
	c.Tree().SetPresence(P("static-routes", "route", K("10.0.0.0", "255.0.0.0", "192.0.2.1")))
	a.calls = nil
	if err := c.Check(ctx); err == nil || !errors.Is(err, b.fail) {
		t.Fatalf("%v", err)
	}
	if !slices.Equal(a.calls, []string{"prepare", "abort"}) || !slices.Equal(b.calls, []string{"prepare"}) {
		t.Fatalf("calls %v %v", a.calls, b.calls)
	}
	if len(s.Commits()) != 0 || s.Running().Len() != 0 || len(a.applied)+len(b.applied) != 0 {
		t.Fatal("Check committed")
	}
	if !c.Dirty() {
		t.Fatal("the candidate lost its changes")
	}
}
