package datastore

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// The configuration datastores a session can lock (RFC 6241 §7.5). Every
// session edits a private candidate; a lock on either datastore keeps every
// other session from committing, and the candidate lock is refused while
// another session has uncommitted changes in its candidate.
const (
	DatastoreRunning   = "running"
	DatastoreCandidate = "candidate"
)

// Origin tells the datastore who makes a change: the session id (0 for a
// session without one, such as a CLI session or the startup file), the user
// and the front end ("netconf", "cli", ...). Front ends put it in the context
// of Commit and Rollback with WithOrigin; the commit record keeps the front
// end as its Interface.
type Origin struct {
	Session   uint32
	User      string
	Interface string
	// Terminal is the user's line as VRP's User-Intf names it ("VTY 0",
	// "CON 0"); the commit record keeps it.
	Terminal string
}

func (o Origin) String() string {
	switch {
	case o.Session != 0 && o.Interface == "netconf":
		return fmt.Sprintf("NETCONF session %d (user %s)", o.Session, o.User)
	case o.Session != 0:
		return fmt.Sprintf("session %d (user %s)", o.Session, o.User)
	case o.User != "":
		return fmt.Sprintf("a CLI session of user %s", o.User)
	}
	return "a CLI session"
}

type originKey struct{}
type bypassKey struct{}

// WithOrigin returns ctx carrying o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the origin ctx carries (the zero Origin if none).
func OriginFrom(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}

// WithoutLocks marks ctx for a commit the system makes on its own (a
// confirmed commit rolled back when its time runs out): it passes every lock.
func WithoutLocks(ctx context.Context) context.Context {
	return context.WithValue(ctx, bypassKey{}, true)
}

// LockInfo is a lock held on a datastore.
type LockInfo struct {
	Datastore string
	Holder    Origin
	Since     time.Time
}

// LockError is a lock that cannot be taken, or a change refused because of
// another session's lock.
type LockError struct {
	Datastore string
	// Holder holds the lock, or (Uncommitted) has uncommitted changes.
	Holder      Origin
	Uncommitted bool
}

func (e *LockError) Error() string {
	if e.Uncommitted {
		return fmt.Sprintf("the %s configuration cannot be locked: %s has uncommitted changes", e.Datastore, e.Holder)
	}
	return fmt.Sprintf("the %s configuration is locked by %s", e.Datastore, e.Holder)
}

// lockTable holds the locks and the open candidates of a Store (the zero
// value is ready).
type lockTable struct {
	mu       sync.Mutex
	locks    map[string]LockInfo
	cands    map[*candidateRef]struct{}
	lastSess atomic.Uint32
}

// candidateRef tracks a candidate without keeping it alive: a session that
// ends without closing its candidate leaves it to the garbage collector.
type candidateRef struct {
	p weak.Pointer[Candidate]
}

func (l *lockTable) track(c *Candidate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cands == nil {
		l.cands = map[*candidateRef]struct{}{}
	}
	r := &candidateRef{p: weak.Make(c)}
	c.ref = r
	l.cands[r] = struct{}{}
}

// NewSessionID returns a session id no other session of this store has
// (1, 2, ...).
func (s *Store) NewSessionID() uint32 { return s.locks.lastSess.Add(1) }

// SetOrigin names the session that edits the candidate (a lock refusal
// names it when it has uncommitted changes; its own lock ignores them).
func (c *Candidate) SetOrigin(o Origin) {
	c.store.locks.mu.Lock()
	defer c.store.locks.mu.Unlock()
	c.origin = o
}

// Close tells the store the candidate is no longer used: its changes no
// longer stand in the way of a candidate lock.
func (c *Candidate) Close() {
	l := &c.store.locks
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.cands, c.ref)
	c.dirty.Store(false)
}

// Lock takes the lock on a datastore (DatastoreRunning or DatastoreCandidate)
// for o.Session. It fails with a *LockError while another session (or o's
// own) holds it, and, for the candidate, while another session has
// uncommitted changes in its candidate (as far as its last Dirty call told).
func (s *Store) Lock(datastore string, o Origin) error {
	if datastore != DatastoreRunning && datastore != DatastoreCandidate {
		return fmt.Errorf("no datastore %q to lock", datastore)
	}
	if o.Session == 0 {
		return fmt.Errorf("a lock needs a session id")
	}
	for attempt := 0; ; attempt++ {
		l := &s.locks
		l.mu.Lock()
		if h, ok := l.locks[datastore]; ok {
			l.mu.Unlock()
			return &LockError{Datastore: datastore, Holder: h.Holder}
		}
		if datastore == DatastoreCandidate {
			if other, dirty := l.dirtyOther(o.Session); dirty {
				l.mu.Unlock()
				if attempt == 0 {
					// A candidate whose session ended without closing it
					// only goes away with a collection.
					runtime.GC()
					continue
				}
				return &LockError{Datastore: datastore, Holder: other, Uncommitted: true}
			}
		}
		if l.locks == nil {
			l.locks = map[string]LockInfo{}
		}
		l.locks[datastore] = LockInfo{Datastore: datastore, Holder: o, Since: s.Now()}
		l.mu.Unlock()
		s.Log.Info("configuration locked", "datastore", datastore, "session", o.Session, "user", o.User, "via", o.Interface)
		return nil
	}
}

// dirtyOther finds a candidate of another session with uncommitted changes.
func (l *lockTable) dirtyOther(session uint32) (Origin, bool) {
	for r := range l.cands {
		c := r.p.Value()
		if c == nil {
			delete(l.cands, r)
			continue
		}
		if c.dirty.Load() && (c.origin.Session == 0 || c.origin.Session != session) {
			return c.origin, true
		}
	}
	return Origin{}, false
}

// Unlock releases the lock session holds on a datastore.
func (s *Store) Unlock(datastore string, session uint32) error {
	l := &s.locks
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.locks[datastore]
	switch {
	case !ok:
		return fmt.Errorf("the %s configuration is not locked", datastore)
	case h.Holder.Session != session:
		return &LockError{Datastore: datastore, Holder: h.Holder}
	}
	delete(l.locks, datastore)
	s.Log.Info("configuration unlocked", "datastore", datastore, "session", session)
	return nil
}

// ReleaseLocks releases every lock of a session (it ended or was killed).
func (s *Store) ReleaseLocks(session uint32) {
	l := &s.locks
	l.mu.Lock()
	defer l.mu.Unlock()
	for ds, h := range l.locks {
		if h.Holder.Session == session {
			delete(l.locks, ds)
			s.Log.Info("configuration unlocked", "datastore", ds, "session", session, "why", "session ended")
		}
	}
}

// Locks lists the locks held, by datastore name.
func (s *Store) Locks() []LockInfo {
	l := &s.locks
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LockInfo, 0, len(l.locks))
	for _, h := range l.locks {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Datastore < out[j].Datastore })
	return out
}

// CheckLocks tells whether a change by ctx's origin may be committed: not
// while another session holds a lock (a commit of the system's own, see
// WithoutLocks, always may).
func (s *Store) CheckLocks(ctx context.Context) error {
	if ctx.Value(bypassKey{}) != nil {
		return nil
	}
	o := OriginFrom(ctx)
	l := &s.locks
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ds := range []string{DatastoreRunning, DatastoreCandidate} {
		if h, ok := l.locks[ds]; ok && (o.Session == 0 || h.Holder.Session != o.Session) {
			return &LockError{Datastore: ds, Holder: h.Holder}
		}
	}
	return nil
}
