// Package mailbox hands a service's news to a slow reader without ever
// blocking the service or queueing without bound: a Mailbox keeps one value
// per key (the latest, or a merge of the values the reader has not taken
// yet) and a channel that signals "something is waiting". The RIB's watches
// and the vrf service's subscriptions deliver through it.
package mailbox

import "sync"

// Mailbox holds, per key, the value the reader has not taken yet. The zero
// value is not usable; call New.
type Mailbox[K comparable, V any] struct {
	mu      sync.Mutex
	pending map[K]V
	keys    []K
	c       chan struct{}
	closed  bool
	merge   func(old, new V) V
}

// New returns an empty mailbox. merge, if not nil, combines a value not yet
// taken with a newer one for the same key (for example to keep what changed
// in between); without it the newer value replaces the older.
func New[K comparable, V any](merge func(old, new V) V) *Mailbox[K, V] {
	return &Mailbox[K, V]{pending: map[K]V{}, c: make(chan struct{}, 1), merge: merge}
}

// Put stores v for k and signals the reader; it never blocks (beyond a
// short lock). A closed mailbox drops it.
func (m *Mailbox[K, V]) Put(k K, v V) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	if old, ok := m.pending[k]; ok {
		if m.merge != nil {
			v = m.merge(old, v)
		}
	} else {
		m.keys = append(m.keys, k)
	}
	m.pending[k] = v
	m.mu.Unlock()
	select {
	case m.c <- struct{}{}:
	default:
	}
}

// C signals (with one buffered token) that values are waiting.
func (m *Mailbox[K, V]) C() <-chan struct{} { return m.c }

// Take returns the waiting values, in the order their keys were first put
// since the last Take, and empties the mailbox.
func (m *Mailbox[K, V]) Take() []V {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.keys) == 0 {
		return nil
	}
	out := make([]V, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, m.pending[k])
	}
	clear(m.pending)
	m.keys = m.keys[:0]
	return out
}

// Len is how many keys have a value waiting.
func (m *Mailbox[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// Close drops what is waiting; later Puts are dropped too.
func (m *Mailbox[K, V]) Close() {
	m.mu.Lock()
	m.closed = true
	clear(m.pending)
	m.keys = nil
	m.mu.Unlock()
}

// Closed reports whether Close was called.
func (m *Mailbox[K, V]) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}
