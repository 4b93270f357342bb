package netconf

import "strings"

// Subtree filtering (RFC 6241 §6). A filter element matches a data element
// of the same name and namespace (a filter element without a namespace
// matches any). Among a filter element's children, those with text are
// content match nodes (all must match a child of the data element), empty
// ones are selection nodes (the matching data child is kept whole), and
// those with children are containment nodes (filtered further). A filter
// element with no selection or containment child keeps the data element
// whole once its content matches. List keys are always kept.

// filterKind classifies a filter element.
type filterKind int

const (
	selectionNode filterKind = iota
	contentMatchNode
	containmentNode
)

func kindOf(f *Node) filterKind {
	switch {
	case len(f.Children) > 0:
		return containmentNode
	case strings.TrimSpace(f.Text) != "":
		return contentMatchNode
	}
	return selectionNode
}

// nameMatch tells whether filter element f names data element d. A filter
// element without a namespace, or left in the NETCONF base namespace of the
// rpc around it (where no data node lives), matches any namespace.
func nameMatch(f, d *Node) bool {
	return f.Local == d.Local && (f.Space == "" || f.Space == nsBase || f.Space == d.Space)
}

// FilterSubtree keeps the parts of data (top-level data elements) that the
// filter's children select. A filter without children selects nothing.
func FilterSubtree(data []*Node, filter *Node) []*Node {
	var out []*Node
	for _, d := range data {
		if r := filterNode(d, matching(filter.Children, d)); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// matching returns the filter elements among fs that name d.
func matching(fs []*Node, d *Node) []*Node {
	var out []*Node
	for _, f := range fs {
		if nameMatch(f, d) {
			out = append(out, f)
		}
	}
	return out
}

// filterNode returns the part of d that the filter elements fs (all naming
// d) select, or nil. Several filter elements select the union of what each
// selects.
func filterNode(d *Node, fs []*Node) *Node {
	if len(fs) == 0 {
		return nil
	}
	keep := map[*Node]*Node{} // data child -> its filtered copy
	whole := false
	matched := false
	for _, f := range fs {
		if kindOf(f) == contentMatchNode {
			// A content match node at this level: the element's own text.
			if strings.TrimSpace(d.Text) == strings.TrimSpace(f.Text) && len(d.Children) == 0 {
				whole, matched = true, true
			}
			continue
		}
		if !contentMatches(d, f) {
			continue
		}
		matched = true
		onlyContent := true
		for _, fc := range f.Children {
			if kindOf(fc) != contentMatchNode {
				onlyContent = false
			}
		}
		if len(f.Children) == 0 || onlyContent {
			whole = true
			continue
		}
		for _, dc := range d.Children {
			fcs := matching(f.Children, dc)
			if len(fcs) == 0 {
				continue
			}
			var sel, cont []*Node
			for _, fc := range fcs {
				switch kindOf(fc) {
				case selectionNode:
					sel = append(sel, fc)
				case contentMatchNode:
					// Content match leaves are part of the result.
					if strings.TrimSpace(dc.Text) == strings.TrimSpace(fc.Text) {
						sel = append(sel, fc)
					}
				case containmentNode:
					cont = append(cont, fc)
				}
			}
			switch {
			case len(sel) > 0:
				keep[dc] = dc.Clone()
			case len(cont) > 0:
				if r := filterNode(dc, cont); r != nil {
					if prev, ok := keep[dc]; ok {
						keep[dc] = mergeFiltered(prev, r)
					} else {
						keep[dc] = r
					}
				}
			}
		}
	}
	if !matched {
		return nil
	}
	if whole {
		return d.Clone()
	}
	if len(keep) == 0 {
		return nil
	}
	out := &Node{Space: d.Space, Local: d.Local, Attrs: d.Attrs, key: d.key}
	for _, dc := range d.Children {
		if r, ok := keep[dc]; ok {
			out.Add(r)
		} else if dc.key {
			out.Add(dc.Clone())
		}
	}
	return out
}

// contentMatches tells whether every content match child of f has a
// matching child in d.
func contentMatches(d, f *Node) bool {
	for _, fc := range f.Children {
		if kindOf(fc) != contentMatchNode {
			continue
		}
		want := strings.TrimSpace(fc.Text)
		found := false
		for _, dc := range d.Children {
			if nameMatch(fc, dc) && len(dc.Children) == 0 && strings.TrimSpace(dc.Text) == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// mergeFiltered unites two filtered copies of one data element.
func mergeFiltered(a, b *Node) *Node {
	out := &Node{Space: a.Space, Local: a.Local, Attrs: a.Attrs, key: a.key}
	// Children are copies in data order; unite by position through the
	// serialized form of each child.
	seen := map[string]bool{}
	for _, c := range append(append([]*Node{}, a.Children...), b.Children...) {
		s := c.String()
		if seen[s] {
			continue
		}
		seen[s] = true
		out.Add(c)
	}
	return out
}
