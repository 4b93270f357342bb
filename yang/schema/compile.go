package schema

//go:generate go run ./gen

import (
	"bytes"
	"fmt"
	"go/format"
	"regexp"
	"sort"
	"strconv"

	"github.com/openconfig/goyang/pkg/yang"
)

// The compiled form of a schema: flat tables that compiled() turns back
// into entries, without a parser. Generate writes them as Go source from a
// parsed schema; compiled.go holds those of the embedded modules.

// cEntry is one schema entry. Entries come parents first, and the children
// of an entry in the order of Schema.Children.
type cEntry struct {
	Parent    int32 // index of the parent entry; -1: the root
	Module    int32 // for a top-level entry, the index of its module
	Name      string
	Desc      string
	Kind      yang.EntryKind
	Config    yang.TriState
	Mandatory yang.TriState
	Key       string
	List      *yang.ListAttr
	Type      int32 // index in the type table; -1: none
	Default   []string
	Units     string
	Exts      []cExt
	Presence  bool
	NS        string // set where it differs from the parent's
	EnumHelp  map[string]string
}

type cExt struct{ Keyword, Argument string }

// cType is one YANG type as the schema uses it.
type cType struct {
	Name           string
	Kind           yang.TypeKind
	Range, Length  yang.YangRange
	Pattern        []string
	Enum           []cEnum
	Union          []int32 // indexes in the type table
	Path           string
	FractionDigits int
	Default        string
	HasDefault     bool
	Units          string
}

type cEnum struct {
	Name  string
	Value int64
}

// compiledSchema holds the tables of the embedded modules (compiled.go).
type compiledSchema struct {
	Modules  []Module
	Types    []cType
	Entries  []cEntry
	FreeText int32 // index of the free-text typedef in Types; -1: none
}

// compiled builds the schema of the embedded modules from compiled.go.
func compiled() (*Schema, error) { return fromTables(&embedded) }

// fromTables builds a schema from its tables.
func fromTables(c *compiledSchema) (*Schema, error) {
	types := make([]*yang.YangType, len(c.Types))
	var mk func(i int32) (*yang.YangType, error)
	mk = func(i int32) (*yang.YangType, error) {
		if i < 0 || int(i) >= len(c.Types) {
			return nil, fmt.Errorf("schema: type %d out of the table", i)
		}
		if types[i] != nil {
			return types[i], nil
		}
		ct := &c.Types[i]
		t := &yang.YangType{Name: ct.Name, Kind: ct.Kind, Range: ct.Range, Length: ct.Length, Pattern: ct.Pattern,
			Path: ct.Path, FractionDigits: ct.FractionDigits, Default: ct.Default, HasDefault: ct.HasDefault, Units: ct.Units}
		if ct.Kind == yang.Yenum {
			t.Enum = yang.NewEnumType()
			for _, en := range ct.Enum {
				if err := t.Enum.Set(en.Name, en.Value); err != nil {
					return nil, fmt.Errorf("schema: type %s: %w", ct.Name, err)
				}
			}
		}
		types[i] = t
		for _, u := range ct.Union {
			ut, err := mk(u)
			if err != nil {
				return nil, err
			}
			t.Type = append(t.Type, ut)
		}
		return t, nil
	}
	root := &yang.Entry{Name: "", Kind: yang.DirectoryEntry, Dir: map[string]*yang.Entry{}}
	s := &Schema{Root: root, Modules: c.Modules, order: map[*yang.Entry][]*yang.Entry{}, reCache: map[string]*regexp.Regexp{}}
	// A top-level entry's parent is its module's entry, as goyang makes it.
	mods := make([]*yang.Entry, len(c.Modules))
	for i, m := range c.Modules {
		mods[i] = &yang.Entry{Name: m.Name, Kind: yang.DirectoryEntry, Dir: map[string]*yang.Entry{}}
	}
	all := make([]yang.Entry, len(c.Entries))
	for i := range c.Entries {
		ce := &c.Entries[i]
		parent := root
		if ce.Parent >= 0 {
			if int(ce.Parent) >= i {
				return nil, fmt.Errorf("schema: entry %s comes before its parent", ce.Name)
			}
			parent = &all[ce.Parent]
		}
		e := &all[i]
		*e = yang.Entry{Parent: parent, Name: ce.Name, Description: ce.Desc, Kind: ce.Kind, Config: ce.Config,
			Mandatory: ce.Mandatory, Key: ce.Key, ListAttr: ce.List, Default: ce.Default, Units: ce.Units}
		if ce.Parent < 0 {
			if ce.Module < 0 || int(ce.Module) >= len(mods) {
				return nil, fmt.Errorf("schema: top-level entry %s without its module", ce.Name)
			}
			e.Parent = mods[ce.Module]
			e.Parent.Dir[e.Name] = e
		}
		if ce.Kind == yang.DirectoryEntry || ce.Kind == yang.ChoiceEntry || ce.Kind == yang.CaseEntry {
			e.Dir = map[string]*yang.Entry{}
		}
		if ce.Type >= 0 {
			t, err := mk(ce.Type)
			if err != nil {
				return nil, err
			}
			e.Type = t
		}
		for _, x := range ce.Exts {
			e.Exts = append(e.Exts, &yang.Statement{Keyword: x.Keyword, HasArgument: true, Argument: x.Argument})
		}
		if ce.Presence {
			annotate(e, annPresence, true)
		}
		if ce.NS != "" {
			annotate(e, annNamespace, ce.NS)
		}
		if len(ce.EnumHelp) > 0 {
			annotate(e, annEnumHelp, ce.EnumHelp)
		}
		if parent.Dir == nil {
			return nil, fmt.Errorf("schema: entry %s under a leaf", ce.Name)
		}
		parent.Dir[e.Name] = e
		s.order[parent] = append(s.order[parent], e)
	}
	if c.FreeText >= 0 {
		t, err := mk(c.FreeText)
		if err != nil {
			return nil, err
		}
		s.freeText = t
	}
	return s, nil
}

// Generate writes the Go source of the tables of s (compiled.go, whose
// variable is named embedded).
func Generate(s *Schema) ([]byte, error) {
	var (
		entries []cEntry
		types   []cType
		typeIdx = map[*yang.YangType]int32{}
	)
	var addType func(t *yang.YangType) int32
	addType = func(t *yang.YangType) int32 {
		if t == nil {
			return -1
		}
		if i, ok := typeIdx[t]; ok {
			return i
		}
		i := int32(len(types))
		typeIdx[t] = i
		types = append(types, cType{Name: t.Name, Kind: t.Kind, Range: t.Range, Length: t.Length, Pattern: t.Pattern,
			Path: t.Path, FractionDigits: t.FractionDigits, Default: t.Default, HasDefault: t.HasDefault, Units: t.Units})
		if t.Enum != nil {
			var ens []cEnum
			for n, v := range t.Enum.ToInt {
				ens = append(ens, cEnum{n, v})
			}
			sort.Slice(ens, func(a, b int) bool { return ens[a].Value < ens[b].Value })
			types[i].Enum = ens
		}
		for _, u := range t.Type {
			ui := addType(u)
			types[i].Union = append(types[i].Union, ui)
		}
		return i
	}
	var walk func(e *yang.Entry, parent int32) error
	walk = func(e *yang.Entry, parent int32) error {
		for _, c := range s.Children(e) {
			ce := cEntry{Parent: parent, Module: -1, Name: c.Name, Desc: c.Description, Kind: c.Kind, Config: c.Config, Mandatory: c.Mandatory,
				Key: c.Key, Default: c.Default, Units: c.Units, Type: addType(c.Type), Presence: IsPresence(c)}
			if c.ListAttr != nil {
				ce.List = &yang.ListAttr{MinElements: c.ListAttr.MinElements, MaxElements: c.ListAttr.MaxElements, OrderedByUser: c.ListAttr.OrderedByUser}
			}
			for _, x := range c.Exts {
				ce.Exts = append(ce.Exts, cExt{x.Keyword, x.Argument})
			}
			ce.NS, _ = c.Annotation[annNamespace].(string)
			ce.EnumHelp, _ = c.Annotation[annEnumHelp].(map[string]string)
			if len(c.Dir) > 0 && len(s.Children(c)) != len(c.Dir) {
				return fmt.Errorf("schema: %v: children not indexed", SchemaPath(c))
			}
			if parent < 0 {
				for i, m := range s.Modules {
					if c.Parent != nil && c.Parent.Name == m.Name {
						ce.Module = int32(i)
					}
				}
				if ce.Module < 0 {
					return fmt.Errorf("schema: top-level node %s: no module", c.Name)
				}
			}
			idx := int32(len(entries))
			entries = append(entries, ce)
			if err := walk(c, idx); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(s.Root, -1); err != nil {
		return nil, err
	}
	free := addType(s.freeText)

	var b bytes.Buffer
	b.WriteString("// Code generated by `go generate ./yang/schema` from yang/modules; DO NOT EDIT.\n\n")
	b.WriteString("package schema\n\nimport \"github.com/openconfig/goyang/pkg/yang\"\n\n")
	b.WriteString("var embedded = compiledSchema{\n")
	fmt.Fprintf(&b, "FreeText: %d,\nModules: []Module{\n", free)
	for _, m := range s.Modules {
		fmt.Fprintf(&b, "{Name: %q, Namespace: %q, Prefix: %q, Revision: %q},\n", m.Name, m.Namespace, m.Prefix, m.Revision)
	}
	b.WriteString("},\nTypes: []cType{\n")
	for i, t := range types {
		fmt.Fprintf(&b, "/* %d */ {Name: %q, Kind: yang.%s", i, t.Name, typeKindName(t.Kind))
		if len(t.Range) > 0 {
			fmt.Fprintf(&b, ", Range: %s", yrange(t.Range))
		}
		if len(t.Length) > 0 {
			fmt.Fprintf(&b, ", Length: %s", yrange(t.Length))
		}
		if len(t.Pattern) > 0 {
			fmt.Fprintf(&b, ", Pattern: %#v", t.Pattern)
		}
		if len(t.Enum) > 0 {
			b.WriteString(", Enum: []cEnum{")
			for _, en := range t.Enum {
				fmt.Fprintf(&b, "{%q, %d}, ", en.Name, en.Value)
			}
			b.WriteString("}")
		}
		if len(t.Union) > 0 {
			fmt.Fprintf(&b, ", Union: %#v", t.Union)
		}
		if t.Path != "" {
			fmt.Fprintf(&b, ", Path: %q", t.Path)
		}
		if t.FractionDigits != 0 {
			fmt.Fprintf(&b, ", FractionDigits: %d", t.FractionDigits)
		}
		if t.HasDefault || t.Default != "" {
			fmt.Fprintf(&b, ", Default: %q, HasDefault: %t", t.Default, t.HasDefault)
		}
		if t.Units != "" {
			fmt.Fprintf(&b, ", Units: %q", t.Units)
		}
		b.WriteString("},\n")
	}
	b.WriteString("},\nEntries: []cEntry{\n")
	for i, e := range entries {
		fmt.Fprintf(&b, "/* %d */ {Parent: %d, Name: %q, Kind: %d, Type: %d", i, e.Parent, e.Name, e.Kind, e.Type)
		if e.Parent < 0 {
			fmt.Fprintf(&b, ", Module: %d", e.Module)
		}
		if e.Desc != "" {
			fmt.Fprintf(&b, ", Desc: %q", e.Desc)
		}
		if e.Config != yang.TSUnset {
			fmt.Fprintf(&b, ", Config: %d", e.Config)
		}
		if e.Mandatory != yang.TSUnset {
			fmt.Fprintf(&b, ", Mandatory: %d", e.Mandatory)
		}
		if e.Key != "" {
			fmt.Fprintf(&b, ", Key: %q", e.Key)
		}
		if e.List != nil {
			fmt.Fprintf(&b, ", List: &yang.ListAttr{MinElements: %d, MaxElements: %d, OrderedByUser: %t}", e.List.MinElements, e.List.MaxElements, e.List.OrderedByUser)
		}
		if len(e.Default) > 0 {
			fmt.Fprintf(&b, ", Default: %#v", e.Default)
		}
		if e.Units != "" {
			fmt.Fprintf(&b, ", Units: %q", e.Units)
		}
		if len(e.Exts) > 0 {
			b.WriteString(", Exts: []cExt{")
			for _, x := range e.Exts {
				fmt.Fprintf(&b, "{%q, %q}, ", x.Keyword, x.Argument)
			}
			b.WriteString("}")
		}
		if e.Presence {
			b.WriteString(", Presence: true")
		}
		if e.NS != "" {
			fmt.Fprintf(&b, ", NS: %q", e.NS)
		}
		if len(e.EnumHelp) > 0 {
			fmt.Fprintf(&b, ", EnumHelp: %#v", e.EnumHelp)
		}
		b.WriteString("},\n")
	}
	b.WriteString("},\n}\n")
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("schema: format the generated source: %w", err)
	}
	return out, nil
}

func yrange(r yang.YangRange) string {
	var b bytes.Buffer
	b.WriteString("yang.YangRange{")
	num := func(n yang.Number) string {
		return "yang.Number{Value: " + strconv.FormatUint(n.Value, 10) + ", FractionDigits: " + strconv.Itoa(int(n.FractionDigits)) +
			", Negative: " + strconv.FormatBool(n.Negative) + "}"
	}
	for _, y := range r {
		fmt.Fprintf(&b, "{Min: %s, Max: %s}, ", num(y.Min), num(y.Max))
	}
	b.WriteString("}")
	return b.String()
}

// typeKindNames are the names of goyang's type kind constants.
var typeKindNames = map[yang.TypeKind]string{
	yang.Ynone: "Ynone", yang.Yint8: "Yint8", yang.Yint16: "Yint16", yang.Yint32: "Yint32", yang.Yint64: "Yint64",
	yang.Yuint8: "Yuint8", yang.Yuint16: "Yuint16", yang.Yuint32: "Yuint32", yang.Yuint64: "Yuint64",
	yang.Ybinary: "Ybinary", yang.Ybits: "Ybits", yang.Ybool: "Ybool", yang.Ydecimal64: "Ydecimal64",
	yang.Yempty: "Yempty", yang.Yenum: "Yenum", yang.Yidentityref: "Yidentityref",
	yang.YinstanceIdentifier: "YinstanceIdentifier", yang.Yleafref: "Yleafref", yang.Ystring: "Ystring", yang.Yunion: "Yunion",
}

// typeKindName is the name of goyang's constant for k.
func typeKindName(k yang.TypeKind) string {
	if n, ok := typeKindNames[k]; ok {
		return n
	}
	return "TypeKind(" + strconv.Itoa(int(k)) + ")"
}
