// Package datastore holds the configuration: a running tree, one candidate
// per session, diff, validation against the YANG schema, and the commit
// protocol with the services (participants) that own the tree's nodes and
// hold their rules (see Participant, Store.Register, Store.CheckOwners),
// commit trials (CommitWith, AbortTrial) and the commit log. It holds no
// rule of a particular service.
package datastore

import (
	"strings"
)

// Elem is one step of an instance path: a schema node name and, for list
// entries, the key values in the order of the list's key statement (for a
// leaf-list element, its value).
type Elem struct {
	Name string   `json:"name"`
	Keys []string `json:"keys,omitempty"`
}

// Path addresses one node of a data tree.
type Path []Elem

// P builds a path from alternating names and key lists, e.g.
// P("interfaces", "interface", K("LoopBack0"), "mpls").
func P(parts ...any) Path {
	var p Path
	for _, x := range parts {
		switch v := x.(type) {
		case string:
			p = append(p, Elem{Name: v})
		case []string:
			if len(p) > 0 {
				p[len(p)-1].Keys = append([]string(nil), v...)
			}
		}
	}
	return p
}

// K is a key list for P.
func K(keys ...string) []string { return keys }

// Child returns p extended by name (with optional keys).
func (p Path) Child(name string, keys ...string) Path {
	q := make(Path, len(p), len(p)+1)
	copy(q, p)
	var k []string
	if len(keys) > 0 {
		k = append([]string(nil), keys...)
	}
	return append(q, Elem{Name: name, Keys: k})
}

// Parent returns p without its last element.
func (p Path) Parent() Path {
	if len(p) == 0 {
		return nil
	}
	return p[:len(p)-1]
}

// Last is the final element.
func (p Path) Last() Elem {
	if len(p) == 0 {
		return Elem{}
	}
	return p[len(p)-1]
}

// Names returns the schema path (names only).
func (p Path) Names() []string {
	out := make([]string, len(p))
	for i, e := range p {
		out[i] = e.Name
	}
	return out
}

// SchemaString is the schema path as "/a/b/c".
func (p Path) SchemaString() string { return "/" + strings.Join(p.Names(), "/") }

var keyEscaper = strings.NewReplacer(`\`, `\\`, `]`, `\]`)

// String is the canonical text form: /a/b[k1][k2]/c, with ] and \ escaped.
func (p Path) String() string {
	var b strings.Builder
	for _, e := range p {
		b.WriteByte('/')
		b.WriteString(e.Name)
		for _, k := range e.Keys {
			b.WriteByte('[')
			b.WriteString(keyEscaper.Replace(k))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// HasPrefix reports whether q is p or an ancestor of p.
func (p Path) HasPrefix(q Path) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i].Name != q[i].Name || len(p[i].Keys) != len(q[i].Keys) {
			return false
		}
		for j := range q[i].Keys {
			if p[i].Keys[j] != q[i].Keys[j] {
				return false
			}
		}
	}
	return true
}

// Equal reports whether p and q address the same node.
func (p Path) Equal(q Path) bool { return len(p) == len(q) && p.HasPrefix(q) }

// Clone deep-copies p.
func (p Path) Clone() Path {
	q := make(Path, len(p))
	for i, e := range p {
		q[i] = Elem{Name: e.Name, Keys: append([]string(nil), e.Keys...)}
	}
	return q
}
