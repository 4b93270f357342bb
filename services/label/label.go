// Package label is the MPLS label manager: the one place that hands out
// incoming labels, so that static LSPs, LDP and BGP (per-instance or
// per-route VPN labels) never collide.
//
// Two ranges are kept apart, as on VRP8:
//   - the static range (16–32783, VRP8's): labels chosen by the operator
//     (static-lsp transit/egress in-labels, `apply-label per-instance static
//     N`). They are reserved by value and refused when another owner already
//     holds them. The YANG types of those leaves carry the same range (a test
//     keeps them equal); the check that counts is Reserve's.
//   - the dynamic range (48000 up to the top of the 20-bit label space by
//     default): labels the router chooses for LDP FECs and BGP VPN routes.
//
// Every label in use carries an owner tag (for example "static-lsp:lsp1",
// "ldp", "bgp:vpn-instance:red"); freeing checks the tag, and FreeOwner frees
// everything an owner holds, which is what a protocol does when it stops.
//
// Every owner tag carries a kind and a name ("static-lsp:lsp1",
// "vpn-instance:red"); Describe turns it into the words of an error message.
//
// Configuration asks for labels only from a participant's Prepare, through a
// Txn (see txn.go): Prepare reserves and may fail, Apply commits, Abort gives
// everything back, so a refused commit leaves the labels as they were.
//
// A Manager is safe for concurrent use.
package label

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Default ranges.
const (
	StaticMin  = 16
	StaticMax  = 32783
	DynamicMin = 48000
	// MaxLabel is the largest 20-bit label value.
	MaxLabel = 1<<20 - 1
)

// Errors returned by the Manager (wrapped with details; test with errors.Is).
var (
	ErrInUse      = errors.New("label is in use")
	ErrOutOfRange = errors.New("label is out of range")
	ErrExhausted  = errors.New("no free label in the dynamic range")
	ErrNotOwner   = errors.New("label is not held by this owner")
	ErrNoOwner    = errors.New("owner tag is empty")
)

// Ranges configures a Manager. Both ranges are inclusive and must not
// overlap each other or the reserved labels 0–15.
type Ranges struct {
	StaticMin, StaticMax   uint32
	DynamicMin, DynamicMax uint32
}

// DefaultRanges are VRP8's: static 16–32783, dynamic 48000 and above.
func DefaultRanges() Ranges {
	return Ranges{StaticMin: StaticMin, StaticMax: StaticMax, DynamicMin: DynamicMin, DynamicMax: MaxLabel}
}

func (r Ranges) validate() error {
	switch {
	case r.StaticMin < 16 || r.StaticMin > r.StaticMax:
		return fmt.Errorf("static range %d-%d: %w", r.StaticMin, r.StaticMax, ErrOutOfRange)
	case r.DynamicMin < 16 || r.DynamicMin > r.DynamicMax || r.DynamicMax > MaxLabel:
		return fmt.Errorf("dynamic range %d-%d: %w", r.DynamicMin, r.DynamicMax, ErrOutOfRange)
	case r.StaticMin <= r.DynamicMax && r.DynamicMin <= r.StaticMax:
		return fmt.Errorf("static range %d-%d overlaps dynamic range %d-%d: %w",
			r.StaticMin, r.StaticMax, r.DynamicMin, r.DynamicMax, ErrOutOfRange)
	}
	return nil
}

// InUseError says which owner holds a label another owner asked for
// (errors.Is(err, ErrInUse) holds).
type InUseError struct {
	Label  uint32
	Holder string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("label %d is held by %s: %v", e.Label, e.Holder, ErrInUse)
}

// Unwrap makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Unwrap() error { return ErrInUse }

// Owner builds an owner tag from a kind and a name ("static-lsp", "lsp1").
func Owner(kind, name string) string { return kind + ":" + name }

// Owner kinds of the tags vpnos uses.
const (
	KindStaticLSP   = "static-lsp"
	KindVPNInstance = "vpn-instance"
	KindLDP         = "ldp"
	KindBGP         = "bgp"
)

// Describe turns an owner tag into words for an error message
// ("static-lsp:a" -> "static LSP a", "vpn-instance:red" -> "VPN instance red").
func Describe(owner string) string {
	kind, name, _ := strings.Cut(owner, ":")
	switch kind {
	case KindStaticLSP:
		return "static LSP " + name
	case KindVPNInstance:
		return "VPN instance " + name
	case KindLDP:
		return "LDP"
	case KindBGP:
		if name != "" {
			return "BGP (" + name + ")"
		}
		return "BGP"
	}
	return owner
}

// Allocation is one label in use.
type Allocation struct {
	Label  uint32
	Owner  string
	Static bool // from the static range
}

// Manager allocates labels. The zero value is not usable; call New.
type Manager struct {
	mu     sync.Mutex
	r      Ranges
	owners map[uint32]string
	// next is where the next dynamic search starts. Allocation moves
	// forward through the range and wraps, so a label just freed is not
	// handed out again at once (a neighbour may still use it for a while).
	next uint32
	// dynUsed counts labels held in the dynamic range.
	dynUsed int
}

// New returns a Manager with the default ranges.
func New() *Manager {
	m, _ := NewWithRanges(DefaultRanges())
	return m
}

// NewWithRanges returns a Manager with custom ranges.
func NewWithRanges(r Ranges) (*Manager, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &Manager{r: r, owners: make(map[uint32]string), next: r.DynamicMin}, nil
}

// Ranges returns the configured ranges.
func (m *Manager) Ranges() Ranges { return m.r }

// IsStatic reports whether l lies in the static range.
func (m *Manager) IsStatic(l uint32) bool { return l >= m.r.StaticMin && l <= m.r.StaticMax }

// Reserve takes a label of the static range for owner. Reserving a label the
// same owner already holds succeeds (so re-applying configuration is
// harmless); a label held by another owner is refused with ErrInUse.
func (m *Manager) Reserve(l uint32, owner string) error {
	if owner == "" {
		return ErrNoOwner
	}
	if !m.IsStatic(l) {
		return fmt.Errorf("label %d is not in the static range %d-%d: %w", l, m.r.StaticMin, m.r.StaticMax, ErrOutOfRange)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.owners[l]; ok {
		if cur == owner {
			return nil
		}
		return &InUseError{Label: l, Holder: cur}
	}
	m.owners[l] = owner
	return nil
}

// Allocate hands out a free label of the dynamic range to owner.
func (m *Manager) Allocate(owner string) (uint32, error) {
	if owner == "" {
		return 0, ErrNoOwner
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	size := int(m.r.DynamicMax - m.r.DynamicMin + 1)
	if m.dynUsed >= size {
		return 0, ErrExhausted
	}
	l := m.next
	for i := 0; i < size; i++ {
		if _, used := m.owners[l]; !used {
			m.owners[l] = owner
			m.dynUsed++
			m.next = l + 1
			if m.next > m.r.DynamicMax {
				m.next = m.r.DynamicMin
			}
			return l, nil
		}
		l++
		if l > m.r.DynamicMax {
			l = m.r.DynamicMin
		}
	}
	return 0, ErrExhausted
}

// Free releases a label held by owner.
func (m *Manager) Free(l uint32, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.owners[l]
	if !ok || cur != owner {
		if !ok {
			cur = "nobody"
		}
		return fmt.Errorf("free label %d for %s (held by %s): %w", l, owner, cur, ErrNotOwner)
	}
	m.release(l)
	return nil
}

func (m *Manager) release(l uint32) {
	delete(m.owners, l)
	if l >= m.r.DynamicMin && l <= m.r.DynamicMax {
		m.dynUsed--
	}
}

// FreeOwner releases every label held by owner and returns how many.
func (m *Manager) FreeOwner(owner string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for l, o := range m.owners {
		if o == owner {
			m.release(l)
			n++
		}
	}
	return n
}

// Owner returns the owner of l.
func (m *Manager) Owner(l uint32) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.owners[l]
	return o, ok
}

// InUse lists the labels in use, sorted by label.
func (m *Manager) InUse() []Allocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Allocation, 0, len(m.owners))
	for l, o := range m.owners {
		out = append(out, Allocation{Label: l, Owner: o, Static: m.IsStatic(l)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}
