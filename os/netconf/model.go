package netconf

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/yang/datastore"
	"vpnos/yang/modules"
	"vpnos/yang/schema"
)

// Module is one YANG module the server announces and serves with
// get-schema.
type Module struct {
	Name, Revision, Namespace, Prefix string
	Text                              string
}

// Capability is the module's capability URI (RFC 6020 §5.6.4).
func (m Module) Capability() string {
	u := m.Namespace + "?module=" + m.Name
	if m.Revision != "" {
		u += "&revision=" + m.Revision
	}
	return u
}

// Model is the YANG schema as NETCONF sees it: the namespace of every data
// node, the modules and their text.
type Model struct {
	Schema  *schema.Schema
	Modules []Module // sorted by name
	ns      map[*yang.Entry]string
	prefix  map[string]string // namespace -> module prefix
	known   map[string]bool   // every module namespace
	// top maps a namespace and name to a top-level configuration node.
	top map[[2]string]*yang.Entry
}

// NewModel describes the configuration schema s, whose module texts are in
// fsys (yang/modules), plus extra modules served beside them (monitoring,
// state).
func NewModel(s *schema.Schema, fsys fs.FS, extra ...Module) (*Model, error) {
	if fsys == nil {
		fsys = modules.FS
	}
	m := &Model{Schema: s, ns: map[*yang.Entry]string{}, prefix: map[string]string{}, known: map[string]bool{}, top: map[[2]string]*yang.Entry{}}
	for _, mod := range s.Modules {
		text, err := fs.ReadFile(fsys, mod.Name+".yang")
		if err != nil {
			return nil, fmt.Errorf("netconf: module %s: %w", mod.Name, err)
		}
		m.Modules = append(m.Modules, Module{Name: mod.Name, Namespace: mod.Namespace, Prefix: mod.Prefix, Revision: mod.Revision, Text: string(text)})
	}
	m.Modules = append(m.Modules, extra...)
	sort.Slice(m.Modules, func(i, j int) bool { return m.Modules[i].Name < m.Modules[j].Name })
	for _, md := range m.Modules {
		m.known[md.Namespace] = true
		m.prefix[md.Namespace] = md.Prefix
	}
	var walk func(e *yang.Entry)
	walk = func(e *yang.Entry) {
		for _, c := range e.Dir {
			m.ns[c] = schema.Namespace(c)
			walk(c)
		}
	}
	walk(s.Root)
	for name, e := range s.Root.Dir {
		m.top[[2]string{m.ns[e], name}] = e
	}
	return m, nil
}

// Module returns the module named name.
func (m *Model) Module(name string) (Module, bool) {
	for _, md := range m.Modules {
		if md.Name == name {
			return md, true
		}
	}
	return Module{}, false
}

// NS is the namespace of a data node.
func (m *Model) NS(e *yang.Entry) string { return m.ns[e] }

// child finds the schema child of parent for element x, or the error to
// answer (unknown-namespace, unknown-element).
func (m *Model) child(parent *yang.Entry, parentPath datastore.Path, x *Node) (*yang.Entry, *RPCError) {
	var e *yang.Entry
	if parent == m.Schema.Root {
		e = m.top[[2]string{x.Space, x.Local}]
	} else if c := parent.Dir[x.Local]; c != nil && m.ns[c] == x.Space {
		e = c
	}
	if e != nil && !e.IsChoice() && !e.IsCase() {
		return e, nil
	}
	if !m.known[x.Space] {
		re := rpcErr(TypeApplication, TagUnknownNamespace, fmt.Sprintf("the namespace %q is not one of a module of this server", x.Space),
			InfoItem{"bad-element", x.Local}, InfoItem{"bad-namespace", x.Space})
		m.setPath(re, parentPath)
		return nil, re
	}
	re := rpcErr(TypeApplication, TagUnknownElement, fmt.Sprintf("%s is not a configuration node here", x.Local),
		InfoItem{"bad-element", x.Local})
	m.setPath(re, parentPath)
	return nil, re
}

// XPath renders an instance path as an absolute XPath with module
// prefixes, and the prefixes it uses.
func (m *Model) XPath(p datastore.Path) (string, map[string]string) {
	if len(p) == 0 {
		return "/", nil
	}
	ns := map[string]string{}
	var b strings.Builder
	e := m.Schema.Root
	for _, el := range p {
		var c *yang.Entry
		if e != nil {
			c = e.Dir[el.Name]
		}
		pre := ""
		if c != nil {
			u := m.ns[c]
			pre = m.prefix[u]
			if pre != "" {
				ns[pre] = u
			}
		}
		b.WriteByte('/')
		if pre != "" {
			b.WriteString(pre + ":")
		}
		b.WriteString(el.Name)
		switch {
		case c != nil && c.IsList():
			for i, k := range schema.Keys(c) {
				if i >= len(el.Keys) {
					break
				}
				b.WriteString("[")
				if pre != "" {
					b.WriteString(pre + ":")
				}
				b.WriteString(k + "=" + xpathLiteral(el.Keys[i]) + "]")
			}
		case c != nil && c.IsLeafList() && len(el.Keys) == 1:
			b.WriteString("[.=" + xpathLiteral(el.Keys[0]) + "]")
		}
		e = c
	}
	return b.String(), ns
}

func (m *Model) setPath(re *RPCError, p datastore.Path) {
	re.Path, re.PathNS = m.XPath(p)
}

func xpathLiteral(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	// Both quotes: concat('a', "'", 'b').
	parts := strings.Split(s, "'")
	for i, p := range parts {
		parts[i] = "'" + p + "'"
	}
	return "concat(" + strings.Join(parts, `, "'", `) + ")"
}

// ParsePath reads the instance path at the start of a datastore message
// ("/a/b[k]/c: text") and returns it with the rest of the message, or ok
// false when the message does not start with a path of the schema.
func (m *Model) ParsePath(msg string) (datastore.Path, string, bool) {
	if !strings.HasPrefix(msg, "/") {
		return nil, msg, false
	}
	// The path ends at the first ": " outside brackets.
	depth := 0
	end := -1
	for i := 0; i < len(msg); i++ {
		switch msg[i] {
		case '\\':
			i++
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth == 0 && i+1 < len(msg) && msg[i+1] == ' ' {
				end = i
			}
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 {
		return nil, msg, false
	}
	p, ok := parseInstancePath(msg[:end])
	if !ok {
		return nil, msg, false
	}
	e := m.Schema.Root
	for _, el := range p {
		if e == nil || e.Dir[el.Name] == nil {
			return nil, msg, false
		}
		e = e.Dir[el.Name]
	}
	return p, msg[end+2:], true
}

// parseInstancePath reads datastore.Path.String's form.
func parseInstancePath(s string) (datastore.Path, bool) {
	var p datastore.Path
	i := 0
	for i < len(s) {
		if s[i] != '/' {
			return nil, false
		}
		i++
		j := i
		for j < len(s) && s[j] != '/' && s[j] != '[' {
			j++
		}
		if j == i {
			return nil, false
		}
		el := datastore.Elem{Name: s[i:j]}
		i = j
		for i < len(s) && s[i] == '[' {
			i++
			var k strings.Builder
			for {
				if i >= len(s) {
					return nil, false
				}
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					k.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == ']' {
					i++
					break
				}
				k.WriteByte(c)
				i++
			}
			el.Keys = append(el.Keys, k.String())
		}
		p = append(p, el)
	}
	return p, len(p) > 0
}
