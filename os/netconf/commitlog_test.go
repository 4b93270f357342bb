package netconf

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"vpnos/yang/datastore"
)

// The commit log is one for both front ends: a NETCONF commit gets a label
// the CLI's rollback can name, and NETCONF rolls back to points the CLI
// made.
func TestCommitLogOverNETCONF(t *testing.T) {
	ctx := context.Background()
	s := testServer(t, Config{})
	st := s.store
	c := dial(t, s, "admin", true)
	has := func(name string) bool {
		_, ok := st.Running().Get(datastore.P("vpn-instances", "vpn-instance", datastore.K(name)))
		return ok
	}
	label := func(l string) string { return `<label xmlns="` + nsCommit + `">` + l + `</label>` }

	c.ok(editCandidate(vpns(vpnXML("red", "65000:1"))))
	c.ok(`<commit>` + label("with-red") + `<description xmlns="` + nsCommit + `">add red</description></commit>`)
	red := st.Commits()[0]
	if red.Label != "with-red" || red.Description != "add red" || red.Interface != "netconf" {
		t.Fatalf("record %+v", red)
	}
	// A CLI commit (another front end, the same log).
	cli := st.NewCandidate()
	cli.Tree().SetPresence(datastore.P("vpn-instances", "vpn-instance", datastore.K("blue")))
	cliID, err := cli.CommitWith(ctx, datastore.CommitOptions{User: "alice", Label: "with-blue"})
	if err != nil {
		t.Fatal(err)
	}
	// A label already in the log is refused, and nothing is committed.
	c.ok(editCandidate(vpns(vpnXML("green", "65000:3"))))
	e := c.fail(`<commit>`+label("with-blue")+`</commit>`, TagInvalidValue)
	if !strings.Contains(e.String(), "already used by commit") || has("green") {
		t.Fatalf("duplicate label: %s", e)
	}
	c.fail(`<commit>`+label("9lives")+`</commit>`, TagInvalidValue)
	// Rollback needs a clean candidate.
	c.fail(`<rollback xmlns="`+nsCommit+`"><commit-id>`+itoa(red.ID)+`</commit-id></rollback>`, TagOperationFailed)
	c.ok("<discard-changes/>")

	// To the commit-id: the configuration the commit made (red, no blue).
	r := c.ok(`<rollback xmlns="` + nsCommit + `"><commit-id>` + itoa(red.ID) + `</commit-id></rollback>`)
	if !has("red") || has("blue") || r.Child(nsCommit, "commit-id").TrimText() != itoa(cliID.ID+1) {
		t.Fatalf("rollback to %d: %s", red.ID, r)
	}
	if rec := st.Commits()[0]; rec.User != "admin" || rec.Interface != "netconf" {
		t.Fatalf("rollback record %+v", rec)
	}
	// To the CLI's label, then back by last 1.
	c.ok(`<rollback xmlns="` + nsCommit + `"><label>with-blue</label></rollback>`)
	if !has("blue") {
		t.Fatal("rollback to label with-blue")
	}
	c.ok(`<rollback xmlns="` + nsCommit + `"><last>1</last></rollback>`)
	if has("blue") {
		t.Fatal("rollback last 1")
	}
	// Already that configuration: ok without a new commit.
	n := len(st.Commits())
	if r := c.ok(`<rollback xmlns="` + nsCommit + `"><last>1</last></rollback>`); r.Child(nsCommit, "commit-id") != nil && len(st.Commits()) == n {
		t.Fatalf("no-op rollback: %s", r)
	}
	c.fail(`<rollback xmlns="`+nsCommit+`"><label>nope</label></rollback>`, TagInvalidValue)
	c.fail(`<rollback xmlns="`+nsCommit+`"><commit-id>7</commit-id></rollback>`, TagInvalidValue)
	c.fail(`<rollback xmlns="`+nsCommit+`"/>`, TagMissingElement)

	// set-label: the CLI finds it; without a label it clears.
	c.ok(`<set-label xmlns="` + nsCommit + `"><commit-id>` + itoa(red.ID) + `</commit-id>` + label("red-again") + `</set-label>`)
	if id, ok := st.LabelID("red-again"); !ok || id != red.ID {
		t.Fatal("set-label")
	}
	c.ok(`<set-label xmlns="` + nsCommit + `"><commit-id>` + itoa(red.ID) + `</commit-id></set-label>`)
	if _, ok := st.LabelID("red-again"); ok {
		t.Fatal("set-label without a label kept it")
	}
	c.fail(`<set-label xmlns="`+nsCommit+`"><commit-id>`+itoa(red.ID)+`</commit-id>`+label("with-blue")+`</set-label>`, TagInvalidValue)
	// The module is announced.
	found := false
	for _, x := range c.hello.Child(nsBase, "capabilities").Children {
		found = found || strings.HasPrefix(x.TrimText(), nsCommit+"?module=vpnos-commit")
	}
	if !found {
		t.Fatal("vpnos-commit not announced")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Two sessions that set the same leaf conflict: the one that commits
// second is refused, naming the node and the other's commit, until it
// discards its changes.
func TestConflictOverNETCONF(t *testing.T) {
	s := testServer(t, Config{})
	a := dial(t, s, "alice", true)
	b := dial(t, s, "bob", true)
	sys := func(name string) string {
		return editCandidate(`<system xmlns="` + nsSys + `"><sysname>` + name + `</sysname></system>`)
	}
	a.ok(sys("FROM-A"))
	b.ok(sys("FROM-B"))
	a.ok("<commit/>")
	e := b.fail("<commit/>", TagOperationFailed)
	if !strings.Contains(e.String(), "user alice changed this node in commit") || !strings.Contains(e.String(), "sysname") {
		t.Fatalf("conflict: %s", e)
	}
	if v, _ := s.store.Running().Get(datastore.P("system", "sysname")); v != "FROM-A" {
		t.Fatalf("running %q", v)
	}
	b.ok("<discard-changes/>")
	b.ok(sys("FROM-B"))
	b.ok("<commit/>")
	if v, _ := s.store.Running().Get(datastore.P("system", "sysname")); v != "FROM-B" {
		t.Fatalf("running %q", v)
	}
}
