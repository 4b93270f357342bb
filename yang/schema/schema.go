// Package schema loads the embedded vpnos YANG modules with goyang and offers
// what the datastore and the CLI need from them: lookup by path, children in
// source order, the vpnos-cli-extensions statements, and value checking
// against the YANG types (ranges, lengths, patterns, enumerations, unions).
package schema

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/openconfig/goyang/pkg/yang"
)

// ExtPrefix is the prefix under which the CLI extensions are imported.
const ExtPrefix = "vcli:"

// Schema is the merged schema of all modules.
//
// A schema comes from the module texts parsed with goyang (LoadFS), or from
// the compiled form of the embedded modules (Load, compiled.go), which
// `go generate` writes from the parsed ones so that a daemon does not parse
// YANG at every start. Both carry the same entries; what goyang only keeps
// in its syntax tree (children's source order, presence, namespaces, the
// descriptions of enumeration values, the free-text typedef) is taken out
// at load, so nothing past loading reads an entry's Node.
type Schema struct {
	// Root is a synthetic container whose children are the top-level data
	// nodes of every module.
	Root *yang.Entry
	// Modules describes the loaded modules, in the order of their names.
	Modules []Module

	order    map[*yang.Entry][]*yang.Entry
	freeText *yang.YangType

	mu      sync.Mutex
	reCache map[string]*regexp.Regexp
}

// Module is what the schema keeps of a module's header.
type Module struct {
	Name, Namespace, Prefix string
	// Revision is the module's latest revision date.
	Revision string
}

// Facts goyang keeps only in its syntax tree, set in Entry.Annotation (the
// field goyang leaves to its callers) when the schema is loaded.
const (
	annPresence  = "vpnos-presence"  // true: a presence container
	annNamespace = "vpnos-namespace" // string: set where it differs from the parent's
	annEnumHelp  = "vpnos-enum-help" // map[string]string: enumeration value to description
)

func annotate(e *yang.Entry, key string, v any) {
	if e.Annotation == nil {
		e.Annotation = map[string]any{}
	}
	e.Annotation[key] = v
}

// Load returns the schema of the embedded modules, from its compiled form.
func Load() (*Schema, error) { return compiled() }

// LoadFS parses every *.yang file of fsys.
func LoadFS(fsys fs.FS) (*Schema, error) {
	ms := yang.NewModules()
	files, err := fs.Glob(fsys, "*.yang")
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	sort.Strings(files)
	var names []string
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		if err := ms.Parse(string(b), f); err != nil {
			return nil, fmt.Errorf("schema: parse %s: %w", f, err)
		}
		names = append(names, strings.TrimSuffix(f, ".yang"))
	}
	if errs := ms.Process(); len(errs) > 0 {
		return nil, fmt.Errorf("schema: %v", errs)
	}
	root := &yang.Entry{Name: "", Kind: yang.DirectoryEntry, Dir: map[string]*yang.Entry{}}
	s := &Schema{Root: root, order: map[*yang.Entry][]*yang.Entry{}, reCache: map[string]*regexp.Regexp{}}
	for _, n := range names {
		m, errs := ms.GetModule(n)
		if len(errs) > 0 {
			return nil, fmt.Errorf("schema: module %s: %v", n, errs)
		}
		for k, e := range m.Dir {
			if _, dup := root.Dir[k]; dup {
				return nil, fmt.Errorf("schema: top-level node %q defined twice", k)
			}
			root.Dir[k] = e
		}
		mod := ms.Modules[n]
		md := Module{Name: n}
		if mod != nil {
			if mod.Namespace != nil {
				md.Namespace = mod.Namespace.Name
			}
			if mod.Prefix != nil {
				md.Prefix = mod.Prefix.Name
			}
			for _, r := range mod.Revision {
				md.Revision = max(md.Revision, r.Name)
			}
			for _, td := range mod.Typedef {
				if n == "vpnos-types" && td.Name == FreeText {
					s.freeText = td.YangType
				}
			}
		}
		s.Modules = append(s.Modules, md)
	}
	s.index(root, "")
	return s, nil
}

// index takes out of the syntax tree below e what the schema keeps
// (see Schema), parentNS being the namespace of e.
func (s *Schema) index(e *yang.Entry, parentNS string) {
	s.order[e] = s.sourceOrder(e)
	for _, c := range s.order[e] {
		ns := c.Namespace().Name
		if ns != parentNS {
			annotate(c, annNamespace, ns)
		}
		if c.IsContainer() {
			if n, ok := c.Node.(*yang.Container); ok && n.Presence != nil {
				annotate(c, annPresence, true)
			}
		}
		if h := enumDescriptions(c); len(h) > 0 {
			annotate(c, annEnumHelp, h)
		}
		if c.Dir != nil {
			s.index(c, ns)
		}
	}
}

// enumDescriptions gives the descriptions of the values of an enumeration
// leaf, from its own type statement or its typedef's.
func enumDescriptions(l *yang.Entry) map[string]string {
	out := map[string]string{}
	add := func(es []*yang.Enum) {
		for _, en := range es {
			if en.Description != nil {
				if _, ok := out[en.Name]; !ok {
					out[en.Name] = en.Description.Name
				}
			}
		}
	}
	if lf, ok := l.Node.(*yang.Leaf); ok && lf.Type != nil {
		add(lf.Type.Enum)
	}
	if l.Type != nil && l.Type.Base != nil {
		add(l.Type.Base.Enum)
	}
	return out
}

// IsPresence reports whether e is a presence container.
func IsPresence(e *yang.Entry) bool {
	return e != nil && e.IsContainer() && e.Annotation[annPresence] == true
}

// Namespace is the XML namespace of a data node: its module's, or for a
// node augmented into another module's tree, the augmenting module's.
func Namespace(e *yang.Entry) string {
	for ; e != nil; e = e.Parent {
		if ns, ok := e.Annotation[annNamespace].(string); ok {
			return ns
		}
	}
	return ""
}

// EnumHelp is the description of the enumeration value name of leaf e
// ("" when it has none).
func EnumHelp(e *yang.Entry, name string) string {
	if e == nil {
		return ""
	}
	h, _ := e.Annotation[annEnumHelp].(map[string]string)
	return h[name]
}

// Find returns the entry at the schema path given as node names from the root.
func (s *Schema) Find(names ...string) *yang.Entry {
	e := s.Root
	for _, n := range names {
		if e == nil || e.Dir == nil {
			return nil
		}
		e = e.Dir[n]
	}
	return e
}

// Ext returns the argument of the CLI extension statement name on e.
func Ext(e *yang.Entry, name string) (string, bool) {
	if e == nil {
		return "", false
	}
	for _, x := range e.Exts {
		if x.Keyword == ExtPrefix+name {
			return x.Argument, true
		}
	}
	return "", false
}

// HasExt reports whether e carries the CLI extension name.
func HasExt(e *yang.Entry, name string) bool {
	_, ok := Ext(e, name)
	return ok
}

// Keys returns the key leaf names of a list.
func Keys(e *yang.Entry) []string {
	if e == nil || e.Key == "" {
		return nil
	}
	return strings.Fields(e.Key)
}

// OrderedByUser reports whether a list keeps its entries in creation order.
func OrderedByUser(e *yang.Entry) bool {
	return e != nil && e.ListAttr != nil && e.ListAttr.OrderedByUser
}

// Children returns the child entries of e in the order of the source text
// (augmented children after the native ones). Top-level nodes are ordered by
// their vcli:order statement.
func (s *Schema) Children(e *yang.Entry) []*yang.Entry {
	return s.order[e]
}

// sourceOrder orders the children of e as Children gives them, from the
// syntax tree.
func (s *Schema) sourceOrder(e *yang.Entry) []*yang.Entry {
	var out []*yang.Entry
	for _, c := range e.Dir {
		out = append(out, c)
	}
	// pos orders children: the module's order at the top, otherwise the
	// source order of the parent's statements, a grouping's members at
	// the place of its `uses` (in the grouping's order), then augments.
	pos := func(c *yang.Entry) (int, int, int) {
		if e == s.Root {
			if o, ok := Ext(c, "order"); ok {
				n, _ := strconv.Atoi(o)
				return n, 0, 0
			}
			return 1 << 20, 0, 0
		}
		// Position of the child's statement among the parent's statements.
		if e.Node != nil && c.Node != nil && c.Node.ParentNode() == e.Node {
			if st := e.Node.Statement(); st != nil {
				for i, sub := range st.SubStatements() {
					if sub.Argument == c.Name {
						return 0, i, 0
					}
				}
			}
		}
		// Grouping members and augmented nodes: their own statement order.
		if c.Node != nil {
			if p := c.Node.ParentNode(); p != nil && p.Statement() != nil {
				for i, sub := range p.Statement().SubStatements() {
					if sub.Argument == c.Name {
						if _, isAug := p.(*yang.Augment); isAug {
							// Augments in the order of their modules'
							// names (vpnos-mpls before vpnos-ospf).
							return 2 + s.moduleRank(c), i, 0
						}
						if g, isGroup := p.(*yang.Grouping); isGroup && e.Node != nil && e.Node.Statement() != nil {
							for j, u := range e.Node.Statement().SubStatements() {
								if u.Keyword == "uses" && (u.Argument == g.Name || strings.HasSuffix(u.Argument, ":"+g.Name)) {
									return 0, j, i
								}
							}
						}
						return 1, i, 0
					}
				}
			}
		}
		return 1 << 20, 0, 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		a1, a2, a3 := pos(out[i])
		b1, b2, b3 := pos(out[j])
		if a1 != b1 {
			return a1 < b1
		}
		if a2 != b2 {
			return a2 < b2
		}
		if a3 != b3 {
			return a3 < b3
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// moduleRank is the position of the module defining e among the loaded
// modules.
func (s *Schema) moduleRank(e *yang.Entry) int {
	m := yang.RootNode(e.Node)
	if m == nil {
		return len(s.Modules)
	}
	for i, md := range s.Modules {
		if md.Name == m.Name {
			return i
		}
	}
	return len(s.Modules)
}

func (s *Schema) regexp(p string) (*regexp.Regexp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if re, ok := s.reCache[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile("^(?:" + p + ")$")
	if err != nil {
		return nil, err
	}
	s.reCache[p] = re
	return re, nil
}

// CheckValue checks v against the type of leaf e and returns its canonical
// form (numbers without leading zeros).
func (s *Schema) CheckValue(e *yang.Entry, v string) (string, error) {
	if e == nil || e.Type == nil {
		return "", fmt.Errorf("no type")
	}
	return s.checkType(e.Type, v)
}

func (s *Schema) checkType(t *yang.YangType, v string) (string, error) {
	switch t.Kind {
	case yang.Yunion:
		var first error
		for _, u := range t.Type {
			c, err := s.checkType(u, v)
			if err == nil {
				return c, nil
			}
			if first == nil {
				first = err
			}
		}
		if first == nil {
			first = fmt.Errorf("empty union")
		}
		return "", first
	case yang.Yleafref:
		// The referenced leaf's type; existence is checked by validation.
		return v, nil
	case yang.Ystring:
		// A YANG string is Unicode text (RFC 7950, 9.4): bytes that are
		// not UTF-8 are no value at all (regular expressions would read
		// them as U+FFFD and let them through).
		if !utf8.ValidString(v) {
			return "", fmt.Errorf("%q is not UTF-8 text", v)
		}
		if len(t.Length) > 0 && !inRange(t.Length, uint64(utf8.RuneCountInString(v)), false) {
			return "", fmt.Errorf("length of %q is not in %s", v, t.Length)
		}
		for _, p := range t.Pattern {
			re, err := s.regexp(p)
			if err != nil {
				return "", fmt.Errorf("pattern %q: %w", p, err)
			}
			if !re.MatchString(v) {
				return "", fmt.Errorf("%q does not match %s", v, p)
			}
		}
		if check := typeChecks[t.Name]; check != nil {
			return check(v)
		}
		if canon := typeCanons[t.Name]; canon != nil {
			return canon(v)
		}
		return v, nil
	case yang.Yenum:
		if t.Enum != nil && t.Enum.IsDefined(v) {
			return v, nil
		}
		return "", fmt.Errorf("%q is not a valid value", v)
	case yang.Ybool:
		if v == "true" || v == "false" {
			return v, nil
		}
		return "", fmt.Errorf("%q is not a boolean", v)
	case yang.Yempty:
		if v == "" {
			return v, nil
		}
		return "", fmt.Errorf("empty leaf takes no value")
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !intFits(t.Kind, n) {
			return "", fmt.Errorf("%q is not a valid integer", v)
		}
		if len(t.Range) > 0 && !inRangeSigned(t.Range, n) {
			return "", fmt.Errorf("%d is not in %s", n, t.Range)
		}
		return strconv.FormatInt(n, 10), nil
	case yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || !uintFits(t.Kind, n) {
			return "", fmt.Errorf("%q is not a valid integer", v)
		}
		if len(t.Range) > 0 && !inRange(t.Range, n, true) {
			return "", fmt.Errorf("%d is not in %s", n, t.Range)
		}
		return strconv.FormatUint(n, 10), nil
	}
	return "", fmt.Errorf("unsupported type %s", t.Kind)
}

func intFits(k yang.TypeKind, n int64) bool {
	switch k {
	case yang.Yint8:
		return n >= -128 && n <= 127
	case yang.Yint16:
		return n >= -32768 && n <= 32767
	case yang.Yint32:
		return n >= -1<<31 && n <= 1<<31-1
	}
	return true
}

func uintFits(k yang.TypeKind, n uint64) bool {
	switch k {
	case yang.Yuint8:
		return n <= 255
	case yang.Yuint16:
		return n <= 65535
	case yang.Yuint32:
		return n <= 1<<32-1
	}
	return true
}

func inRange(r yang.YangRange, n uint64, _ bool) bool {
	for _, y := range r {
		if !y.Min.Negative && y.Min.Value > n {
			continue
		}
		if !y.Max.Negative && y.Max.Value < n {
			continue
		}
		if y.Max.Negative {
			continue
		}
		return true
	}
	return false
}

func inRangeSigned(r yang.YangRange, n int64) bool {
	for _, y := range r {
		lo, _ := y.Min.Int()
		hi, _ := y.Max.Int()
		if n >= lo && n <= hi {
			return true
		}
	}
	return false
}

// Bounds returns the overall integer range of an integer type, for hints.
func Bounds(t *yang.YangType) (lo, hi string, ok bool) {
	if t == nil || len(t.Range) == 0 {
		switch t.Kind {
		case yang.Yuint8:
			return "0", "255", true
		case yang.Yuint16:
			return "0", "65535", true
		case yang.Yuint32:
			return "0", "4294967295", true
		}
		return "", "", false
	}
	return t.Range[0].Min.String(), t.Range[len(t.Range)-1].Max.String(), true
}

// Hint is the '?' parameter hint of a leaf: vcli:hint, or derived from the
// type (INTEGER<lo-hi>, STRING<lo-hi>, X.X.X.X).
func Hint(e *yang.Entry) string {
	if h, ok := Ext(e, "hint"); ok {
		return h
	}
	if HasExt(e, "mask") {
		return "X.X.X.X | INTEGER<0-32>"
	}
	return typeHint(e.Type)
}

func typeHint(t *yang.YangType) string {
	if t == nil {
		return "STRING"
	}
	switch t.Kind {
	case yang.Yunion:
		var parts []string
		for _, u := range t.Type {
			parts = append(parts, typeHint(u))
		}
		return strings.Join(parts, " | ")
	case yang.Ystring:
		if t.Name == "ipv4-address" || t.Name == "ipv4-mask" || (len(t.Pattern) > 0 && strings.Contains(t.Pattern[0], "25[0-5]")) {
			return "X.X.X.X"
		}
		if t.Name == "interface-name" {
			return "Interface type and number"
		}
		if len(t.Length) > 0 {
			return fmt.Sprintf("STRING<%s-%s>", t.Length[0].Min, t.Length[len(t.Length)-1].Max)
		}
		return "STRING"
	case yang.Yleafref:
		return "STRING<1-31>"
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64, yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		lo, hi, _ := Bounds(t)
		return fmt.Sprintf("INTEGER<%s-%s>", lo, hi)
	}
	return strings.ToUpper(t.Kind.String())
}

// SchemaPath returns the names from the root to e.
func SchemaPath(e *yang.Entry) []string {
	var out []string
	for ; e != nil && e.Parent != nil; e = e.Parent {
		out = append([]string{e.Name}, out...)
	}
	return out
}

// IsKeyLeaf reports whether leaf e is a key of its parent list.
func IsKeyLeaf(e *yang.Entry) bool {
	if e == nil || e.Parent == nil || !e.Parent.IsList() {
		return false
	}
	for _, k := range Keys(e.Parent) {
		if k == e.Name {
			return true
		}
	}
	return false
}
