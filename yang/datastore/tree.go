package datastore

import (
	"sort"
	"strings"
)

// Item is one node of a tree: a leaf (with its value), a leaf-list element,
// a list entry or a presence container (Value empty).
type Item struct {
	Path  Path
	Value string
	// Seq orders creation; lists ordered by the user render in Seq order.
	Seq uint64
}

// Tree is a configuration data tree stored flat, keyed by Path.String().
// Non-presence containers exist implicitly through their descendants.
// A Tree held by the Store as running is never modified; Clone it first.
type Tree struct {
	items map[string]*Item
	// lists indexes list entries (and leaf-list elements) by the path of
	// their list: parent.String() + "/" + name.
	lists map[string]map[string]*Item
	next  uint64
	// undo, while recording (see Checkpoint), holds what each change
	// replaced, so that Revert can put it back.
	undo      []undoRec
	recording bool
}

// undoRec is the state of key k before a change: old is nil when k did not
// exist.
type undoRec struct {
	k   string
	old *Item
}

// Checkpoint marks the tree's current state; Revert returns to it. Changes
// made after a checkpoint are recorded until Release. This is how an edit
// that turns out refused is undone without copying the whole tree.
type Checkpoint struct {
	n    int
	next uint64
}

// Checkpoint starts recording changes and marks the current state.
func (t *Tree) Checkpoint() Checkpoint {
	t.recording = true
	return Checkpoint{n: len(t.undo), next: t.next}
}

// Revert undoes every change made since c, newest first.
func (t *Tree) Revert(c Checkpoint) {
	rec := t.recording
	t.recording = false
	for i := len(t.undo) - 1; i >= c.n; i-- {
		r := t.undo[i]
		t.remove(r.k)
		if r.old != nil {
			t.put(r.k, r.old)
		}
	}
	t.undo = t.undo[:c.n]
	t.next = c.next
	t.recording = rec
}

// ChangedSince returns the keys (Path.String()) of the items changed since
// c, while recording: what one edit touched.
func (t *Tree) ChangedSince(c Checkpoint) []string {
	if c.n > len(t.undo) {
		return nil
	}
	out := make([]string, 0, len(t.undo)-c.n)
	for _, r := range t.undo[c.n:] {
		out = append(out, r.k)
	}
	return out
}

// Release stops recording and forgets what was recorded.
func (t *Tree) Release() {
	t.recording = false
	t.undo = nil
}

// record notes the state of k before a change, when recording.
func (t *Tree) record(k string) {
	if !t.recording {
		return
	}
	var old *Item
	if it, ok := t.items[k]; ok {
		cp := *it
		old = &cp
	}
	t.undo = append(t.undo, undoRec{k, old})
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{items: map[string]*Item{}, lists: map[string]map[string]*Item{}} }

// Clone returns an independent copy.
func (t *Tree) Clone() *Tree {
	c := &Tree{items: make(map[string]*Item, len(t.items)), lists: make(map[string]map[string]*Item, len(t.lists)), next: t.next}
	for k, it := range t.items {
		cp := *it
		c.put(k, &cp)
	}
	return c
}

func listKey(p Path) string {
	e := p.Last()
	return p.Parent().String() + "/" + e.Name
}

func (t *Tree) put(k string, it *Item) {
	t.record(k)
	t.items[k] = it
	if len(it.Path) > 0 && len(it.Path.Last().Keys) > 0 {
		lk := listKey(it.Path)
		m := t.lists[lk]
		if m == nil {
			m = map[string]*Item{}
			t.lists[lk] = m
		}
		m[k] = it
	}
}

func (t *Tree) remove(k string) {
	it, ok := t.items[k]
	if !ok {
		return
	}
	t.record(k)
	delete(t.items, k)
	if len(it.Path) > 0 && len(it.Path.Last().Keys) > 0 {
		lk := listKey(it.Path)
		if m := t.lists[lk]; m != nil {
			delete(m, k)
			if len(m) == 0 {
				delete(t.lists, lk)
			}
		}
	}
}

// Len is the number of items.
func (t *Tree) Len() int { return len(t.items) }

// Get returns the value at p and whether the node exists.
func (t *Tree) Get(p Path) (string, bool) {
	it, ok := t.items[p.String()]
	if !ok {
		return "", false
	}
	return it.Value, true
}

// Item returns the item at p, or nil.
func (t *Tree) Item(p Path) *Item { return t.items[p.String()] }

// Exists reports whether p or a descendant of p exists (so that implicit
// containers exist too).
func (t *Tree) Exists(p Path) bool {
	if _, ok := t.items[p.String()]; ok {
		return true
	}
	if len(p) > 0 && len(p.Last().Keys) == 0 && len(t.lists[p.String()]) > 0 {
		return true
	}
	pre := p.String() + "/"
	pre2 := p.String() + "["
	for k := range t.items {
		if strings.HasPrefix(k, pre) || (len(p) > 0 && len(p.Last().Keys) == 0 && strings.HasPrefix(k, pre2)) {
			return true
		}
	}
	return false
}

// Set stores value at p. Every ancestor that is a list entry (has keys)
// must already exist or is created with an empty value; ensure lists the
// ancestors that must be created explicitly (presence containers).
func (t *Tree) Set(p Path, value string) {
	t.ensureAncestors(p)
	k := p.String()
	if it, ok := t.items[k]; ok {
		if it.Value != value {
			t.record(k)
			it.Value = value
		}
		return
	}
	t.next++
	t.put(k, &Item{Path: p.Clone(), Value: value, Seq: t.next})
}

// SetPresence creates a list entry or presence container at p (idempotent).
func (t *Tree) SetPresence(p Path) {
	if _, ok := t.items[p.String()]; ok {
		return
	}
	t.Set(p, "")
}

func (t *Tree) ensureAncestors(p Path) {
	for i := 1; i < len(p); i++ {
		if len(p[i-1].Keys) == 0 {
			continue
		}
		a := p[:i]
		k := a.String()
		if _, ok := t.items[k]; !ok {
			t.next++
			t.put(k, &Item{Path: a.Clone(), Seq: t.next})
		}
	}
}

// Delete removes p and everything under it; it reports whether anything
// was removed.
func (t *Tree) Delete(p Path) bool {
	k := p.String()
	pre := k + "/"
	pre2 := k + "["
	removed := false
	for key := range t.items {
		if key == k || strings.HasPrefix(key, pre) || (len(p.Last().Keys) == 0 && strings.HasPrefix(key, pre2)) {
			t.remove(key)
			removed = true
		}
	}
	return removed
}

// DeleteLeaf removes the leaf at p (a node that has no descendants) and
// reports whether it existed; unlike Delete it does not scan the tree.
func (t *Tree) DeleteLeaf(p Path) bool {
	k := p.String()
	if _, ok := t.items[k]; !ok {
		return false
	}
	t.remove(k)
	return true
}

// Under returns the items at or below p, sorted by path text.
func (t *Tree) Under(p Path) []*Item {
	k := p.String()
	pre := k + "/"
	pre2 := k + "["
	var keys []string
	for key := range t.items {
		if len(p) == 0 || key == k || strings.HasPrefix(key, pre) || (len(p.Last().Keys) == 0 && strings.HasPrefix(key, pre2)) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	out := make([]*Item, len(keys))
	for i, key := range keys {
		out[i] = t.items[key]
	}
	return out
}

// Entries returns the existing entries of the list (or leaf-list) at
// parent/name, in creation order.
func (t *Tree) Entries(parent Path, name string) []*Item {
	m := t.lists[parent.String()+"/"+name]
	out := make([]*Item, 0, len(m))
	for _, it := range m {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].Path.String() < out[j].Path.String()
	})
	return out
}

// Items returns every item sorted by path text.
func (t *Tree) Items() []*Item { return t.Under(nil) }

// Equal reports whether both trees hold the same paths and values.
func (t *Tree) Equal(o *Tree) bool {
	if len(t.items) != len(o.items) {
		return false
	}
	for k, it := range t.items {
		ot, ok := o.items[k]
		if !ok || ot.Value != it.Value {
			return false
		}
	}
	return true
}

// Op is one difference between two trees.
type Op struct {
	Delete bool
	Path   Path
	Old    string // the old value (when it existed)
	New    string // the new value (set only)
	// Existed tells whether the node existed before.
	Existed bool
	seq     uint64
}

// Diff returns the operations that turn a into b: deletions first (a
// removed list entry or container is one delete; its descendants are not
// listed), then sets in b's creation order (parents before children).
func Diff(a, b *Tree) []Op {
	var dels, sets []Op
	for k, it := range a.items {
		if _, ok := b.items[k]; ok {
			continue
		}
		dels = append(dels, Op{Delete: true, Path: it.Path, Old: it.Value, Existed: true})
	}
	// Drop deletions covered by a deleted ancestor.
	sort.Slice(dels, func(i, j int) bool { return dels[i].Path.String() < dels[j].Path.String() })
	var keep []Op
	for _, d := range dels {
		covered := false
		for _, k := range keep {
			if d.Path.HasPrefix(k.Path) {
				covered = true
				break
			}
		}
		if !covered {
			keep = append(keep, d)
		}
	}
	for k, it := range b.items {
		old, ok := a.items[k]
		if ok && old.Value == it.Value {
			continue
		}
		op := Op{Path: it.Path, New: it.Value, seq: it.Seq}
		if ok {
			op.Old, op.Existed = old.Value, true
		}
		sets = append(sets, op)
	}
	sort.Slice(sets, func(i, j int) bool {
		if sets[i].seq != sets[j].seq {
			return sets[i].seq < sets[j].seq
		}
		return sets[i].Path.String() < sets[j].Path.String()
	})
	return append(keep, sets...)
}

// Apply performs ops on t.
func (t *Tree) Apply(ops []Op) {
	for _, op := range ops {
		if op.Delete {
			t.Delete(op.Path)
		} else {
			t.Set(op.Path, op.New)
		}
	}
}

// ChangedPaths lists every path touched by ops, including the descendants
// of deleted nodes (taken from old).
func ChangedPaths(old *Tree, ops []Op) []Path {
	var out []Path
	for _, op := range ops {
		if op.Delete {
			for _, it := range old.Under(op.Path) {
				out = append(out, it.Path)
			}
			continue
		}
		out = append(out, op.Path)
	}
	return out
}
