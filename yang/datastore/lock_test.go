package datastore

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

func TestLocks(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	nc1 := Origin{Session: s.NewSessionID(), User: "admin", Interface: "netconf"}
	nc2 := Origin{Session: s.NewSessionID(), User: "bob", Interface: "netconf"}
	if nc1.Session == nc2.Session || nc1.Session == 0 {
		t.Fatalf("session ids %d and %d", nc1.Session, nc2.Session)
	}
	ctx1, ctx2 := WithOrigin(ctx, nc1), WithOrigin(ctx, nc2)

	if err := s.Lock(DatastoreRunning, nc1); err != nil {
		t.Fatal(err)
	}
	var le *LockError
	// The holder cannot take it twice, nor can another session.
	for _, o := range []Origin{nc1, nc2} {
		if err := s.Lock(DatastoreRunning, o); !errors.As(err, &le) || le.Holder.Session != nc1.Session {
			t.Fatalf("second lock by %d: %v", o.Session, err)
		}
	}
	// A CLI candidate (no origin) and another session cannot commit; the
	// holder can.
	cli := s.NewCandidate()
	cli.Tree().Set(P("system", "sysname"), "CLI")
	if _, err := cli.Commit(ctx, "alice", ""); !errors.As(err, &le) || le.Datastore != DatastoreRunning {
		t.Fatalf("CLI commit under a lock: %v", err)
	}
	if got := err2text(cli.Commit(ctx, "alice", "")); got != "the running configuration is locked by NETCONF session 1 (user admin)" {
		t.Fatalf("message: %q", got)
	}
	other := s.NewCandidate()
	other.Tree().Set(P("system", "sysname"), "OTHER")
	if _, err := other.Commit(ctx2, "bob", ""); !errors.As(err, &le) {
		t.Fatalf("other session's commit under a lock: %v", err)
	}
	if _, err := s.Rollback(ctx, FirstCommitID, "alice"); err == nil {
		t.Fatal("rollback under a lock")
	}
	mine := s.NewCandidate()
	mine.Tree().Set(P("system", "sysname"), "MINE")
	id, err := mine.Commit(ctx1, "admin", "")
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Commits()[0]; r.ID != id || r.Interface != "netconf" || r.User != "admin" {
		t.Fatalf("record %+v", r)
	}
	// The system's own commits pass.
	sys := s.NewCandidate()
	sys.Tree().Set(P("system", "sysname"), "SYS")
	if _, err := sys.Commit(WithoutLocks(ctx), "trial", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(DatastoreRunning, nc2.Session); !errors.As(err, &le) {
		t.Fatalf("unlock by another session: %v", err)
	}
	if err := s.Unlock(DatastoreRunning, nc1.Session); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(DatastoreRunning, nc1.Session); err == nil {
		t.Fatal("unlock of an unlocked datastore")
	}
	// The CLI candidate changed the sysname the others committed since:
	// a conflict, until its session refreshes it.
	var ce *ConflictError
	if _, err := cli.Commit(ctx, "alice", ""); !errors.As(err, &ce) {
		t.Fatalf("CLI commit after unlock: %v", err)
	}
	cli.Refresh()
	if _, err := cli.Commit(ctx, "alice", ""); err != nil {
		t.Fatalf("CLI commit after refresh: %v", err)
	}
}

func err2text(_ int, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCandidateLockRefusedWhileOthersHaveChanges(t *testing.T) {
	s := newStore(t)
	nc1 := Origin{Session: s.NewSessionID(), User: "admin", Interface: "netconf"}
	nc2 := Origin{Session: s.NewSessionID(), User: "bob", Interface: "netconf"}
	own := s.NewCandidate()
	own.SetOrigin(nc1)
	own.Tree().Set(P("system", "sysname"), "OWN")
	own.Dirty()
	// The session's own changes do not stand in the way.
	if err := s.Lock(DatastoreCandidate, nc1); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(DatastoreCandidate, nc1.Session); err != nil {
		t.Fatal(err)
	}
	// Another session's do, until it discards them or closes.
	theirs := s.NewCandidate()
	theirs.SetOrigin(nc2)
	theirs.Tree().Set(P("system", "sysname"), "THEIRS")
	theirs.Dirty()
	var le *LockError
	if err := s.Lock(DatastoreCandidate, nc1); !errors.As(err, &le) || !le.Uncommitted || le.Holder.Session != nc2.Session {
		t.Fatalf("lock with another session's changes: %v", err)
	}
	// Running can still be locked.
	if err := s.Lock(DatastoreRunning, nc1); err != nil {
		t.Fatal(err)
	}
	theirs.Discard()
	if err := s.Lock(DatastoreCandidate, nc1); err != nil {
		t.Fatalf("lock after discard: %v", err)
	}
	if got := len(s.Locks()); got != 2 {
		t.Fatalf("%d locks", got)
	}
	s.ReleaseLocks(nc1.Session)
	if got := len(s.Locks()); got != 0 {
		t.Fatalf("%d locks after release", got)
	}

	// A CLI session's changes (no origin) count too; a candidate dropped
	// without Close stops counting once collected.
	func() {
		cli := s.NewCandidate()
		cli.Tree().Set(P("system", "sysname"), "CLI")
		cli.Dirty()
		if err := s.Lock(DatastoreCandidate, nc1); !errors.As(err, &le) || le.Holder.Session != 0 {
			t.Fatalf("lock with a CLI session's changes: %v", err)
		}
		runtime.KeepAlive(cli)
	}()
	if err := s.Lock(DatastoreCandidate, nc1); err != nil {
		t.Fatalf("lock after the CLI candidate was dropped: %v", err)
	}
	s.ReleaseLocks(nc1.Session)
	closed := s.NewCandidate()
	closed.Tree().Set(P("system", "sysname"), "CLOSED")
	closed.Dirty()
	closed.Close()
	if err := s.Lock(DatastoreCandidate, nc1); err != nil {
		t.Fatalf("lock after Close: %v", err)
	}
	runtime.KeepAlive(closed)
}
