package lpm

import "net/netip"

// refTrie is the reference: a plain binary trie, one node per prefix bit.
type refTrie struct {
	root  refNode
	nodes int
}

type refNode struct {
	child [2]*refNode
	val   uint32
}

func (r *refTrie) insert(p netip.Prefix, v uint32) {
	k, l, _ := key(p)
	n := &r.root
	for i := 0; i < l; i++ {
		b := k >> (31 - i) & 1
		if n.child[b] == nil {
			n.child[b] = &refNode{}
			r.nodes++
		}
		n = n.child[b]
	}
	n.val = v
}

func (r *refTrie) delete(p netip.Prefix) {
	k, l, _ := key(p)
	n := &r.root
	for i := 0; i < l && n != nil; i++ {
		n = n.child[k>>(31-i)&1]
	}
	if n != nil {
		n.val = 0
	}
}

func (r *refTrie) lookup(a uint32) uint32 {
	n := &r.root
	best := n.val
	for i := 0; i < 32; i++ {
		n = n.child[a>>(31-i)&1]
		if n == nil {
			break
		}
		if n.val != 0 {
			best = n.val
		}
	}
	return best
}
