// Package lpm is an IPv4 longest-prefix-match table for a forwarding
// information base: a 16-8-8 multibit trie with controlled prefix expansion
// (DIR-16-8-8). A lookup reads at most three 32-bit words; the first level is
// a flat table of 65,536 entries and the lower levels are 256-entry chunks
// allocated only where prefixes longer than /16 (or /24) exist: an empty
// table costs 256 KB, a million routes spread at random over the whole
// address space (the worst case: nearly every /16 needs a chunk) about 110 MB
// of lookup arrays (BenchmarkLookup1M reports it).
//
// Each prefix maps to a value in 1..MaxValue (0 means "no route"). The
// authoritative set of prefixes is kept per length so that deleting a prefix
// re-exposes the next covering one.
//
// A Table is not safe for concurrent use; the forwarder serialises writers
// and readers.
package lpm

import (
	"errors"
	"fmt"
	"net/netip"
)

// MaxValue is the largest value a prefix can carry.
const MaxValue = 1<<24 - 1

// An entry is either a leaf (value and the length of the prefix that put it
// there) or, with childBit set, the index of a 256-entry chunk at the next level.
const (
	childBit   = 1 << 31
	depthShift = 24
	valueMask  = 1<<24 - 1
)

func leaf(v uint32, depth int) uint32 { return uint32(depth)<<depthShift | v }
func depthOf(e uint32) int            { return int(e>>depthShift) & 0x3f }

// Table is an IPv4 LPM table.
type Table struct {
	l1     []uint32 // 65536 entries
	l2, l3 []uint32 // chunks of 256 entries
	free2  []uint32 // free chunk indices
	free3  []uint32
	rules  [33]map[uint32]uint32 // authoritative prefixes per length: masked address -> value
	count  int
}

// New returns an empty table.
func New() *Table {
	t := &Table{l1: make([]uint32, 1<<16)}
	for i := range t.rules {
		t.rules[i] = make(map[uint32]uint32)
	}
	return t
}

// Len is the number of prefixes in the table.
func (t *Table) Len() int { return t.count }

// ErrValue is returned for a value outside 1..MaxValue.
var ErrValue = errors.New("lpm: value out of range")

func mask(l int) uint32 {
	if l == 0 {
		return 0
	}
	return ^uint32(0) << (32 - l)
}

func key(p netip.Prefix) (uint32, int, error) {
	if !p.IsValid() || !p.Addr().Is4() {
		return 0, 0, fmt.Errorf("lpm: %v is not an IPv4 prefix", p)
	}
	a := p.Addr().As4()
	l := p.Bits()
	return (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) & mask(l), l, nil
}

// Lookup returns the value of the longest prefix containing addr (an IPv4
// address as a big-endian uint32), or 0.
func (t *Table) Lookup(addr uint32) uint32 {
	e := t.l1[addr>>16]
	if e&childBit != 0 {
		e = t.l2[(e&^childBit)<<8|(addr>>8)&0xff]
		if e&childBit != 0 {
			e = t.l3[(e&^childBit)<<8|addr&0xff]
		}
	}
	return e & valueMask
}

// LookupAddr is Lookup for a netip.Addr; non-IPv4 addresses match nothing.
func (t *Table) LookupAddr(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return t.Lookup(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
}

// Get returns the value stored for exactly p.
func (t *Table) Get(p netip.Prefix) (uint32, bool) {
	k, l, err := key(p)
	if err != nil {
		return 0, false
	}
	v, ok := t.rules[l][k]
	return v, ok
}

// Insert adds p with value v, replacing the value of an existing p.
func (t *Table) Insert(p netip.Prefix, v uint32) error {
	if v == 0 || v > MaxValue {
		return fmt.Errorf("%w: %d", ErrValue, v)
	}
	k, l, err := key(p)
	if err != nil {
		return err
	}
	if _, ok := t.rules[l][k]; !ok {
		t.count++
	}
	t.rules[l][k] = v
	t.paint(k, l, leaf(v, l), func(e uint32) bool { return depthOf(e) <= l })
	return nil
}

// Delete removes p; it reports whether p was present.
func (t *Table) Delete(p netip.Prefix) bool {
	k, l, err := key(p)
	if err != nil {
		return false
	}
	if _, ok := t.rules[l][k]; !ok {
		return false
	}
	delete(t.rules[l], k)
	t.count--
	repl := uint32(0)
	for cl := l - 1; cl >= 0; cl-- {
		if v, ok := t.rules[cl][k&mask(cl)]; ok {
			repl = leaf(v, cl)
			break
		}
	}
	t.paint(k, l, repl, func(e uint32) bool { return depthOf(e) == l && e&valueMask != 0 })
	return true
}

// paint writes leaf entry e over every slot covered by prefix k/l whose
// current leaf satisfies match, descending into chunks below.
func (t *Table) paint(k uint32, l int, e uint32, match func(uint32) bool) {
	switch {
	case l <= 16:
		start := k >> 16
		n := uint32(1) << (16 - l)
		for i := start; i < start+n; i++ {
			t.paintSlot(t.l1, int(i), 1, e, match)
		}
	case l <= 24:
		c := t.child(t.l1, int(k>>16), 2)
		base := c<<8 | (k>>8)&0xff
		n := uint32(1) << (24 - l)
		for i := base; i < base+n; i++ {
			t.paintSlot(t.l2, int(i), 2, e, match)
		}
		t.collapse(t.l1, int(k>>16), 2)
	default:
		c2 := t.child(t.l1, int(k>>16), 2)
		i2 := int(c2<<8 | (k>>8)&0xff)
		c3 := t.child(t.l2, i2, 3)
		base := c3<<8 | k&0xff
		n := uint32(1) << (32 - l)
		for i := base; i < base+n; i++ {
			t.paintSlot(t.l3, int(i), 3, e, match)
		}
		t.collapse(t.l2, i2, 3)
		t.collapse(t.l1, int(k>>16), 2)
	}
}

// paintSlot paints one slot at level lvl (1..3), recursing into a chunk.
func (t *Table) paintSlot(tab []uint32, i, lvl int, e uint32, match func(uint32) bool) {
	cur := tab[i]
	if cur&childBit == 0 {
		if match(cur) {
			tab[i] = e
		}
		return
	}
	c := int(cur &^ childBit)
	next := t.l2
	if lvl == 2 {
		next = t.l3
	}
	for j := c << 8; j < c<<8+256; j++ {
		t.paintSlot(next, j, lvl+1, e, match)
	}
	t.collapse(tab, i, lvl+1)
}

// child returns the chunk index below tab[i] at level lvl (2 or 3),
// allocating one filled with the current leaf if needed.
func (t *Table) child(tab []uint32, i, lvl int) uint32 {
	cur := tab[i]
	if cur&childBit != 0 {
		return cur &^ childBit
	}
	var c uint32
	chunks, free := &t.l2, &t.free2
	if lvl == 3 {
		chunks, free = &t.l3, &t.free3
	}
	if n := len(*free); n > 0 {
		c = (*free)[n-1]
		*free = (*free)[:n-1]
	} else {
		c = uint32(len(*chunks) >> 8)
		*chunks = append(*chunks, make([]uint32, 256)...)
	}
	ch := (*chunks)[c<<8 : c<<8+256]
	for j := range ch {
		ch[j] = cur
	}
	tab[i] = childBit | c
	return c
}

// collapse replaces the chunk below tab[i] (at level lvl) by a leaf when all
// its entries are the same leaf, and frees the chunk.
func (t *Table) collapse(tab []uint32, i, lvl int) {
	cur := tab[i]
	if cur&childBit == 0 {
		return
	}
	c := cur &^ childBit
	chunks, free := &t.l2, &t.free2
	if lvl == 3 {
		chunks, free = &t.l3, &t.free3
	}
	ch := (*chunks)[c<<8 : c<<8+256]
	first := ch[0]
	if first&childBit != 0 {
		return
	}
	for _, e := range ch[1:] {
		if e != first {
			return
		}
	}
	tab[i] = first
	*free = append(*free, c)
}

// Walk calls fn for every prefix in the table, shortest first; fn returning
// false stops the walk.
func (t *Table) Walk(fn func(p netip.Prefix, v uint32) bool) {
	for l := 0; l <= 32; l++ {
		for k, v := range t.rules[l] {
			a := netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)})
			if !fn(netip.PrefixFrom(a, l), v) {
				return
			}
		}
	}
}

// Stats describes the memory the table uses.
type Stats struct {
	Prefixes       int
	L2Chunks       int // allocated 256-entry chunks below /16 (including free ones)
	L3Chunks       int
	FreeL2, FreeL3 int
	TrieBytes      int // bytes in the lookup arrays
}

// Stats returns the table's size.
func (t *Table) Stats() Stats {
	return Stats{
		Prefixes: t.count,
		L2Chunks: len(t.l2) >> 8, L3Chunks: len(t.l3) >> 8,
		FreeL2: len(t.free2), FreeL3: len(t.free3),
		TrieBytes: 4 * (len(t.l1) + len(t.l2) + len(t.l3)),
	}
}
