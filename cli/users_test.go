package cli

import (
	"context"
	"regexp"
	"testing"

	"vpnos/cli/proto"
	"vpnos/yang/datastore"
)

// SSH sessions get VTY lines (freed when they close), show their client's
// address in display users, and their commits name the line.
func TestUserLines(t *testing.T) {
	e := testEngine(t, "two-stage")
	ctx := context.Background()
	open := func(src, remote string) proto.Session {
		s, _ := e.Open(ctx, proto.Request{User: "admin", Source: src, Remote: remote})
		return s
	}
	run := func(s proto.Session, lines ...string) string {
		var out string
		for _, l := range lines {
			r := s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: l})
			if r.Failed {
				t.Fatalf("%s: %s", l, r.Output)
			}
			out = r.Output
		}
		return out
	}
	a := open("ssh", "192.0.2.9")
	b := open("ssh", "192.0.2.10")
	con := open("console", "")
	out := run(con, "display users")
	for _, want := range []string{
		`(?m)^  34  VTY 0   00:00:00  SSH    192\.0\.2\.9 +pass +no$`,
		`(?m)^  35  VTY 1   00:00:00  SSH    192\.0\.2\.10 +pass +no$`,
		`(?m)^\+ 0   CON 0   00:00:00 +pass +no$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("display users lacks %s:\n%s", want, out)
		}
	}
	a.Close()
	c := open("ssh", "192.0.2.11")
	if out := run(c, "display users"); !regexp.MustCompile(`(?m)^\+ 34  VTY 0 .*192\.0\.2\.11`).MatchString(out) {
		t.Fatalf("the freed VTY 0 was not given again:\n%s", out)
	}
	run(b, "system-view", "sysname X", "commit")
	if r := e.Store().Commits()[0]; r.Terminal != "VTY 1" || r.User != "admin" {
		t.Fatalf("commit record %+v", r)
	}
	if out := run(b, "display configuration commit list verbose 1"); !regexp.MustCompile(`(?m)^  User-Intf: VTY 1$`).MatchString(out) {
		t.Fatalf("commit list:\n%s", out)
	}
}

// The verbose commit list names the front end that made each commit in
// VRP's Type field: CLI for the CLI's sessions, NETCONF for a NETCONF
// session's (which has no terminal line).
func TestCommitListType(t *testing.T) {
	e := testEngine(t, "two-stage")
	ctx := context.Background()
	s, _ := e.Open(ctx, proto.Request{User: "admin", Source: "ssh", Remote: "192.0.2.9"})
	for _, l := range []string{"system-view", "sysname A", "commit"} {
		if r := s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: l}); r.Failed {
			t.Fatalf("%s: %s", l, r.Output)
		}
	}
	c := e.Store().NewCandidate()
	c.Tree().Set(datastore.P("system", "sysname"), "B")
	nctx := datastore.WithOrigin(ctx, datastore.Origin{Session: 5, User: "netops", Interface: "netconf"})
	if _, err := c.Commit(nctx, "netops", ""); err != nil {
		t.Fatal(err)
	}
	out := s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: "display configuration commit list verbose 2"}).Output
	for _, want := range []string{
		`(?m)^1\) CommitId: \d+\n +Label: -\n +User: netops\n +User-Intf: -\n +Type: NETCONF$`,
		`(?m)^2\) CommitId: \d+\n +Label: -\n +User: admin\n +User-Intf: VTY 0\n +Type: CLI$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("commit list lacks %s:\n%s", want, out)
		}
	}
}
