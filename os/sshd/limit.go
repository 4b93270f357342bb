package sshd

import (
	"sync"
	"time"
)

// Limits bound password guessing. A zero field takes its default.
type Limits struct {
	// PerSource is the number of failed logins one source address may make
	// within Window; the next attempt blocks the source (default 5).
	PerSource int
	// Window is the period failures are counted over (default 1 minute).
	Window time.Duration
	// Block is how long a source is blocked the first time; each further
	// block of the same source doubles it, up to MaxBlock (defaults 1 minute
	// and 30 minutes). A successful login resets the source.
	Block, MaxBlock time.Duration
	// Overall is the number of failed logins from all sources together
	// within Window after which password logins stop for everybody for
	// Block (default 30); public keys still work.
	Overall int
	// PendingPerSource and PendingOverall cap the connections that have not
	// logged in yet, from one source and in all (defaults 8 and 64).
	PendingPerSource, PendingOverall int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.PerSource, 5)
	def(&l.Overall, 30)
	def(&l.PendingPerSource, 8)
	def(&l.PendingOverall, 64)
	defD(&l.Window, time.Minute)
	defD(&l.Block, time.Minute)
	defD(&l.MaxBlock, 30*time.Minute)
	if l.MaxBlock < l.Block {
		l.MaxBlock = l.Block
	}
	return l
}

// Verdict is the limiter's answer to a login attempt.
type Verdict int

const (
	// Allowed: check the password, then report the outcome with Done.
	Allowed Verdict = iota
	// SourceBlocked: the source made too many failed attempts.
	SourceBlocked
	// AllBlocked: too many failed attempts overall.
	AllBlocked
)

// Event is something the limiter did that is worth a log line.
type Event int

const (
	NoEvent Event = iota
	// BlockedSource: this failure blocked its source.
	BlockedSource
	// BlockedAll: this failure stopped password logins for everybody.
	BlockedAll
)

type sourceState struct {
	fails    []time.Time // within the window, oldest first
	inflight int         // checks allowed and not yet done
	until    time.Time   // blocked until
	strikes  int         // blocks so far (the next lasts Block<<strikes)
	told     bool        // the refusal of the current block was logged
	pending  int         // connections not logged in yet
}

// Limiter counts failed logins per source address and overall. It is safe
// for concurrent use and takes the time as an argument, so that it can be
// tested without a clock. A check that is in progress counts as a failure
// until it is done, so that parallel guesses cannot overtake the count.
// The SSH server and the NETCONF server share one Limiter.
type Limiter struct {
	mu       sync.Mutex
	lim      Limits
	src      map[string]*sourceState
	all      []time.Time // failures from every source within the window
	inflight int
	allUntil time.Time
	allTold  bool
	pending  int
}

// NewLimiter returns a limiter with the limits (zero fields: defaults).
func NewLimiter(l Limits) *Limiter {
	return &Limiter{lim: l.withDefaults(), src: map[string]*sourceState{}}
}

// Limits are the limits in force.
func (l *Limiter) Limits() Limits { return l.lim }

func (l *Limiter) state(now time.Time, source string) *sourceState {
	st := l.src[source]
	if st == nil {
		if len(l.src) >= 4096 {
			l.sweep(now)
		}
		st = &sourceState{}
		l.src[source] = st
	}
	return st
}

// sweep forgets sources with nothing to remember.
func (l *Limiter) sweep(now time.Time) {
	for k, st := range l.src {
		if st.inflight == 0 && st.pending == 0 && st.strikes == 0 && now.After(st.until) &&
			(len(st.fails) == 0 || now.Sub(st.fails[len(st.fails)-1]) > l.lim.Window) {
			delete(l.src, k)
		}
	}
}

func prune(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= window {
		i++
	}
	return ts[i:]
}

// Begin asks whether a password check for source may go ahead at now. When
// it is Allowed, Done must follow. first is set on the first refusal of a
// block (the one worth logging); until is when the block ends.
func (l *Limiter) Begin(now time.Time, source string) (v Verdict, until time.Time, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(now, source)
	if now.Before(st.until) {
		first = !st.told
		st.told = true
		return SourceBlocked, st.until, first
	}
	if now.Before(l.allUntil) {
		first = !l.allTold
		l.allTold = true
		return AllBlocked, l.allUntil, first
	}
	st.fails = prune(st.fails, now, l.lim.Window)
	l.all = prune(l.all, now, l.lim.Window)
	if len(st.fails)+st.inflight >= l.lim.PerSource {
		// Only reached by attempts racing the one that blocks: refuse.
		return SourceBlocked, now.Add(l.lim.Block), false
	}
	if len(l.all)+l.inflight >= l.lim.Overall {
		return AllBlocked, now.Add(l.lim.Block), false
	}
	st.inflight++
	l.inflight++
	return Allowed, time.Time{}, false
}

// Done reports the outcome of a check that Begin allowed.
func (l *Limiter) Done(now time.Time, source string, failed bool) (ev Event, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(now, source)
	if st.inflight > 0 {
		st.inflight--
	}
	if l.inflight > 0 {
		l.inflight--
	}
	if !failed {
		st.fails, st.strikes, st.until, st.told = nil, 0, time.Time{}, false
		return NoEvent, time.Time{}
	}
	st.fails = append(prune(st.fails, now, l.lim.Window), now)
	l.all = append(prune(l.all, now, l.lim.Window), now)
	if len(st.fails) >= l.lim.PerSource {
		d := l.lim.Block << min(st.strikes, 16)
		if d > l.lim.MaxBlock || d <= 0 {
			d = l.lim.MaxBlock
		}
		st.strikes++
		st.until, st.told, st.fails = now.Add(d), false, nil
		ev, until = BlockedSource, st.until
	}
	if len(l.all) >= l.lim.Overall {
		l.allUntil, l.allTold, l.all = now.Add(l.lim.Block), false, nil
		ev, until = BlockedAll, l.allUntil
	}
	return ev, until
}

// Admit reserves a place for a connection from source that has not logged
// in yet; release gives it back (call it once the handshake is over).
func (l *Limiter) Admit(now time.Time, source string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(now, source)
	if st.pending >= l.lim.PendingPerSource || l.pending >= l.lim.PendingOverall {
		return nil, false
	}
	st.pending++
	l.pending++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			st.pending--
			l.pending--
		})
	}, true
}
