package policy

import (
	"math/bits"
	"net/netip"
)

// The node index of a policy. A node whose if-match ip-prefix names an
// existing list can only match a route that one of the list's permit
// entries covers (its prefix holds the route, the route's length is in its
// range). The index is a binary trie of those permit entries; a route
// walks it along its address bits and collects the nodes that can match
// it, and only those (with the nodes that have no such clause) are
// evaluated, in ascending order. The first node that matches still
// decides, so the outcome is the one of a plain walk over every node.
//
// Policies with more than maxIndexed nodes are walked node by node.

// maxIndexed is the most nodes a policy indexes (a bitset of candidates
// lives on the stack).
const maxIndexed = 256

type candidates [maxIndexed / 64]uint64

type trieNode struct {
	child  [2]int32 // 0: none
	guards []guard
}

// guard: node may match routes of length lo..hi below this trie node.
type guard struct {
	node   uint16
	lo, hi uint8
}

type nodeIndex struct {
	trie   []trieNode
	always candidates // nodes without a prefix guard
}

// buildIndex indexes p's nodes (sorted by seq), when there are few enough.
func (p *Policy) buildIndex() {
	if len(p.nodes) > maxIndexed {
		return
	}
	ix := &nodeIndex{trie: []trieNode{{}}}
	for i := range p.nodes {
		n := &p.nodes[i]
		if !n.hasPrefix || n.prefix == nil {
			ix.always[i/64] |= 1 << (i % 64)
			continue
		}
		for _, e := range n.prefix.entries {
			if !e.permit {
				continue
			}
			at := int32(0)
			depth := bits.OnesCount32(e.mask)
			for d := 0; d < depth; d++ {
				b := (e.net >> (31 - d)) & 1
				if ix.trie[at].child[b] == 0 {
					ix.trie = append(ix.trie, trieNode{})
					ix.trie[at].child[b] = int32(len(ix.trie) - 1)
				}
				at = ix.trie[at].child[b]
			}
			ix.trie[at].guards = append(ix.trie[at].guards, guard{node: uint16(i), lo: e.lo, hi: e.hi})
		}
	}
	p.index = ix
}

// candidates returns the nodes that may match a route to prefix.
func (ix *nodeIndex) candidates(prefix netip.Prefix) candidates {
	c := ix.always
	if !prefix.Addr().Is4() {
		return c
	}
	a := be32(prefix.Addr().As4())
	l := prefix.Bits()
	at := int32(0)
	for d := 0; ; d++ {
		for _, g := range ix.trie[at].guards {
			if uint8(l) >= g.lo && uint8(l) <= g.hi {
				c[g.node/64] |= 1 << (g.node % 64)
			}
		}
		if d >= l {
			break
		}
		at = ix.trie[at].child[(a>>(31-d))&1]
		if at == 0 {
			break
		}
	}
	return c
}
