package netconf

import (
	"sort"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// trie is a datastore tree regrouped by path, so that the schema can be
// walked in order without scanning the tree for each node.
type trie struct {
	item *datastore.Item
	elem datastore.Elem
	kids map[string]*trie   // by element text (name and keys)
	by   map[string][]*trie // by name
}

func (t *trie) child(el datastore.Elem) *trie {
	k := datastore.Path{el}.String()
	if c, ok := t.kids[k]; ok {
		return c
	}
	if t.kids == nil {
		t.kids = map[string]*trie{}
		t.by = map[string][]*trie{}
	}
	c := &trie{elem: el}
	t.kids[k] = c
	t.by[el.Name] = append(t.by[el.Name], c)
	return c
}

func buildTrie(t *datastore.Tree) *trie {
	root := &trie{}
	for _, it := range t.Items() {
		n := root
		for _, el := range it.Path {
			n = n.child(el)
		}
		n.item = it
	}
	return root
}

// Encode renders a configuration tree as XML elements, one per top-level
// node, in schema order; list entries keep their creation order (the order
// of user-ordered lists), keys come first in each entry.
func (m *Model) Encode(t *datastore.Tree) []*Node {
	return m.encodeChildren(m.Schema.Root, buildTrie(t), "")
}

func (m *Model) encodeChildren(e *yang.Entry, n *trie, parentNS string) []*Node {
	var out []*Node
	for _, c := range m.Schema.Children(e) {
		nodes := n.by[c.Name]
		if len(nodes) == 0 || schema.IsKeyLeaf(c) {
			continue
		}
		ns := m.ns[c]
		switch {
		case c.IsList():
			keys := schema.Keys(c)
			for _, en := range ordered(nodes) {
				x := Elem(ns, c.Name)
				for i, k := range keys {
					if i < len(en.elem.Keys) {
						kl := Leaf(m.ns[c.Dir[k]], k, en.elem.Keys[i])
						kl.key = true
						x.Add(kl)
					}
				}
				x.Add(m.encodeChildren(c, en, ns)...)
				out = append(out, x)
			}
		case c.IsLeafList():
			for _, en := range ordered(nodes) {
				if len(en.elem.Keys) == 1 {
					out = append(out, Leaf(ns, c.Name, en.elem.Keys[0]))
				}
			}
		case c.IsLeaf():
			if it := nodes[0].item; it != nil {
				out = append(out, Leaf(ns, c.Name, it.Value))
			}
		case c.IsContainer():
			x := Elem(ns, c.Name, m.encodeChildren(c, nodes[0], ns)...)
			if len(x.Children) > 0 || (schema.IsPresence(c) && nodes[0].item != nil) {
				out = append(out, x)
			}
		}
	}
	return out
}

// ordered sorts list entries as Tree.Entries does: creation order.
func ordered(nodes []*trie) []*trie {
	out := make([]*trie, 0, len(nodes))
	for _, n := range nodes {
		if n.item != nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].item.Seq != out[j].item.Seq {
			return out[i].item.Seq < out[j].item.Seq
		}
		return out[i].item.Path.String() < out[j].item.Path.String()
	})
	return out
}
