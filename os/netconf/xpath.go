package netconf

import (
	"fmt"
	"strings"

	"github.com/antchfx/xpath"
)

// XPath filtering (RFC 6241 §8.9, the :xpath capability). The select
// expression is evaluated over the data (a document whose root's children
// are the top-level data nodes); the reply holds every selected node with
// its subtree and its ancestors (with their list keys). Prefixes are those
// in scope at the <filter> element; a name without a prefix matches any
// namespace.

// FilterXPath keeps the parts of data that the expression selects.
func FilterXPath(data []*Node, expr string, ns map[string]string) (out []*Node, re *RPCError) {
	defer func() {
		// The library panics on some bad expressions (an undeclared prefix).
		if r := recover(); r != nil {
			out, re = nil, xpathErr(expr, fmt.Errorf("%v", r))
		}
	}()
	// Prefixes bound to "" would select no namespace: leave them out.
	nsm := map[string]string{}
	for p, u := range ns {
		if p != "" && u != "" {
			nsm[p] = u
		}
	}
	x, err := xpath.CompileWithNS(expr, nsm)
	if err != nil {
		return nil, xpathErr(expr, err)
	}
	doc := &Node{}
	idx := map[*Node]int{}
	for i, d := range data {
		idx[d] = i
	}
	doc.Children = data
	var index func(n *Node)
	index = func(n *Node) {
		for i, c := range n.Children {
			idx[c] = i
			index(c)
		}
	}
	for _, d := range data {
		index(d)
	}
	parent := map[*Node]*Node{}
	var link func(n *Node)
	link = func(n *Node) {
		for _, c := range n.Children {
			parent[c] = n
			link(c)
		}
	}
	link(doc)
	nv := &navigator{doc: doc, cur: doc, attr: -1, idx: idx, parent: parent}
	res := x.Evaluate(nv)
	it, ok := res.(*xpath.NodeIterator)
	if !ok {
		return nil, xpathErr(expr, fmt.Errorf("the expression gives a %T, not a node set", res))
	}
	sel := map[*Node]bool{}
	anc := map[*Node]bool{}
	for it.MoveNext() {
		c := it.Current().(*navigator)
		n := c.cur
		if n == doc {
			// The root: everything.
			for _, d := range data {
				sel[d] = true
			}
			continue
		}
		sel[n] = true
		for p := parent[n]; p != nil && p != doc; p = parent[p] {
			anc[p] = true
		}
	}
	var build func(n *Node) *Node
	build = func(n *Node) *Node {
		if sel[n] {
			return n.Clone()
		}
		cp := &Node{Space: n.Space, Local: n.Local, Attrs: n.Attrs, key: n.key}
		for _, c := range n.Children {
			switch {
			case sel[c] || anc[c]:
				cp.Add(build(c))
			case c.key:
				cp.Add(c.Clone())
			}
		}
		return cp
	}
	for _, d := range data {
		if sel[d] || anc[d] {
			out = append(out, build(d))
		}
	}
	return out, nil
}

func xpathErr(expr string, err error) *RPCError {
	return rpcErr(TypeProtocol, TagInvalidValue, fmt.Sprintf("xpath %q: %v", expr, err),
		InfoItem{"bad-attribute", "select"}, InfoItem{"bad-element", "filter"})
}

// navigator walks Nodes for the xpath library. A leaf's text is a text
// node child of it.
type navigator struct {
	doc    *Node
	cur    *Node
	attr   int  // index in cur.Attrs, -1 when on the element
	text   bool // on the text child of cur
	idx    map[*Node]int
	parent map[*Node]*Node
}

func (n *navigator) NodeType() xpath.NodeType {
	switch {
	case n.attr >= 0:
		return xpath.AttributeNode
	case n.text:
		return xpath.TextNode
	case n.cur == n.doc:
		return xpath.RootNode
	}
	return xpath.ElementNode
}

func (n *navigator) LocalName() string {
	switch {
	case n.attr >= 0:
		return n.cur.Attrs[n.attr].Name.Local
	case n.text:
		return ""
	}
	return n.cur.Local
}

func (n *navigator) Prefix() string { return "" }

// NamespaceURL lets prefixed name tests compare namespaces.
func (n *navigator) NamespaceURL() string {
	switch {
	case n.attr >= 0:
		return n.cur.Attrs[n.attr].Name.Space
	case n.text:
		return ""
	}
	return n.cur.Space
}

func (n *navigator) Value() string {
	switch {
	case n.attr >= 0:
		return n.cur.Attrs[n.attr].Value
	case n.text:
		return n.cur.Text
	}
	var b strings.Builder
	var walk func(x *Node)
	walk = func(x *Node) {
		if len(x.Children) == 0 {
			b.WriteString(x.Text)
		}
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(n.cur)
	return b.String()
}

func (n *navigator) Copy() xpath.NodeNavigator {
	c := *n
	return &c
}

func (n *navigator) MoveToRoot() { n.cur, n.attr, n.text = n.doc, -1, false }

func (n *navigator) MoveToParent() bool {
	switch {
	case n.attr >= 0:
		n.attr = -1
		return true
	case n.text:
		n.text = false
		return true
	}
	p, ok := n.parent[n.cur]
	if !ok {
		return false
	}
	n.cur = p
	return true
}

func (n *navigator) MoveToNextAttribute() bool {
	if n.text || n.attr+1 >= len(n.cur.Attrs) {
		return false
	}
	n.attr++
	return true
}

func (n *navigator) MoveToChild() bool {
	if n.attr >= 0 || n.text {
		return false
	}
	if len(n.cur.Children) > 0 {
		n.cur = n.cur.Children[0]
		return true
	}
	if n.cur != n.doc && n.cur.Text != "" {
		n.text = true
		return true
	}
	return false
}

func (n *navigator) siblings() ([]*Node, int, bool) {
	if n.attr >= 0 || n.text {
		return nil, 0, false
	}
	p, ok := n.parent[n.cur]
	if !ok {
		return nil, 0, false
	}
	return p.Children, n.idx[n.cur], true
}

func (n *navigator) MoveToFirst() bool {
	sib, _, ok := n.siblings()
	if !ok {
		return false
	}
	n.cur = sib[0]
	return true
}

func (n *navigator) MoveToNext() bool {
	sib, i, ok := n.siblings()
	if !ok || i+1 >= len(sib) {
		return false
	}
	n.cur = sib[i+1]
	return true
}

func (n *navigator) MoveToPrevious() bool {
	sib, i, ok := n.siblings()
	if !ok || i == 0 {
		return false
	}
	n.cur = sib[i-1]
	return true
}

func (n *navigator) MoveTo(other xpath.NodeNavigator) bool {
	o, ok := other.(*navigator)
	if !ok || o.doc != n.doc {
		return false
	}
	*n = *o
	return true
}
