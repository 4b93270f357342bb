package schema

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/yang/modules"
)

// dump writes everything the schema offers of its entries, so that two
// schemas compare as text.
func dump(s *Schema) string {
	var b strings.Builder
	fmt.Fprintf(&b, "modules %+v\nfree-text %s\n", s.Modules, dumpType(s.freeText))
	var walk func(e *yang.Entry, depth int)
	walk = func(e *yang.Entry, depth int) {
		for _, c := range s.Children(e) {
			parent := "<nil>"
			if c.Parent != nil {
				parent = c.Parent.Name
				if _, ok := c.Parent.Dir[c.Name]; !ok {
					parent += " (not in its Dir)"
				}
			}
			var exts []string
			for _, x := range c.Exts {
				exts = append(exts, x.Keyword+"="+x.Argument)
			}
			list := "-"
			if c.ListAttr != nil {
				list = fmt.Sprintf("%d..%d user=%t", c.ListAttr.MinElements, c.ListAttr.MaxElements, c.ListAttr.OrderedByUser)
			}
			var help []string
			if h, ok := c.Annotation[annEnumHelp].(map[string]string); ok {
				for k, v := range h {
					help = append(help, k+"="+v)
				}
				sort.Strings(help)
			}
			fmt.Fprintf(&b, "%s%s path=%v parent=%s kind=%v config=%v mandatory=%v key=%q list=%s default=%q units=%q exts=%q presence=%t ns=%s keyleaf=%t leaf=%t leaflist=%t container=%t help=%q desc=%q\n",
				strings.Repeat(" ", depth), c.Name, SchemaPath(c), parent, c.Kind, c.Config, c.Mandatory, c.Key, list, c.Default, c.Units,
				exts, IsPresence(c), Namespace(c), IsKeyLeaf(c), c.IsLeaf(), c.IsLeafList(), c.IsContainer(), help, c.Description)
			if c.Type != nil {
				fmt.Fprintf(&b, "%s  type %s hint=%q\n", strings.Repeat(" ", depth), dumpType(c.Type), Hint(c))
			}
			walk(c, depth+1)
		}
	}
	walk(s.Root, 0)
	return b.String()
}

func dumpType(t *yang.YangType) string {
	if t == nil {
		return "<none>"
	}
	var enum []string
	if t.Enum != nil {
		for _, n := range t.Enum.Names() {
			enum = append(enum, fmt.Sprintf("%s=%d", n, t.Enum.ToInt[n]))
		}
	}
	var union []string
	for _, u := range t.Type {
		union = append(union, dumpType(u))
	}
	return fmt.Sprintf("{%s %v range=%s length=%s pattern=%q enum=%v path=%q fd=%d default=%q/%t units=%q union=%v}",
		t.Name, t.Kind, t.Range, t.Length, t.Pattern, enum, t.Path, t.FractionDigits, t.Default, t.HasDefault, t.Units, union)
}

// TestCompiledSchemaIsCurrent: compiled.go is what `go generate` writes
// from the modules as they are.
func TestCompiledSchemaIsCurrent(t *testing.T) {
	parsed, err := LoadFS(modules.FS)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(parsed)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("compiled.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("yang/schema/compiled.go does not match yang/modules: run `go generate ./yang/schema`")
	}
}

// TestCompiledSchemaMatchesParsed: the schema built from the tables has
// every entry, type, order and annotation of the parsed one.
func TestCompiledSchemaMatchesParsed(t *testing.T) {
	parsed, err := LoadFS(modules.FS)
	if err != nil {
		t.Fatal(err)
	}
	built, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	a, b := dump(parsed), dump(built)
	if n := strings.Count(a, "\n"); n < 500 {
		t.Fatalf("the dump has %d lines only", n)
	}
	if a != b {
		al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
		for i := range min(len(al), len(bl)) {
			if al[i] != bl[i] {
				t.Fatalf("line %d differs:\nparsed:   %s\ncompiled: %s", i+1, al[i], bl[i])
			}
		}
		t.Fatalf("the dumps differ in length: %d and %d lines", len(al), len(bl))
	}
	for _, v := range []string{"a b", " lead", ""} {
		if (parsed.CheckText(v) == nil) != (built.CheckText(v) == nil) {
			t.Errorf("CheckText(%q) differs", v)
		}
	}
}

// TestFromTablesRefusesBrokenTables: a damaged table is an error, not a
// panic or a silent half schema.
func TestFromTablesRefusesBrokenTables(t *testing.T) {
	for name, c := range map[string]compiledSchema{
		"parent after child": {FreeText: -1, Modules: []Module{{Name: "m"}}, Entries: []cEntry{{Parent: 1, Name: "a", Kind: yang.DirectoryEntry, Type: -1}, {Parent: -1, Name: "b", Kind: yang.DirectoryEntry, Type: -1}}},
		"type out of range":  {FreeText: -1, Modules: []Module{{Name: "m"}}, Entries: []cEntry{{Parent: -1, Name: "a", Kind: yang.LeafEntry, Type: 3}}},
		"no module":          {FreeText: -1, Modules: []Module{{Name: "m"}}, Entries: []cEntry{{Parent: -1, Module: 4, Name: "a", Kind: yang.DirectoryEntry, Type: -1}}},
		"child of a leaf":    {FreeText: -1, Modules: []Module{{Name: "m"}}, Types: []cType{{Name: "string", Kind: yang.Ystring}}, Entries: []cEntry{{Parent: -1, Name: "a", Kind: yang.LeafEntry, Type: 0}, {Parent: 0, Name: "b", Kind: yang.LeafEntry, Type: 0}}},
		"duplicate enum":     {FreeText: -1, Modules: []Module{{Name: "m"}}, Types: []cType{{Name: "enumeration", Kind: yang.Yenum, Enum: []cEnum{{"x", 1}, {"x", 2}}}}, Entries: []cEntry{{Parent: -1, Name: "a", Kind: yang.LeafEntry, Type: 0}}},
	} {
		if _, err := fromTables(&c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkLoad compares building the schema from its compiled tables with
// parsing the modules, in the same run (the reference).
func BenchmarkLoad(b *testing.B) {
	b.Run("compiled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Load(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parsed-reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := LoadFS(modules.FS); err != nil {
				b.Fatal(err)
			}
		}
	})
}
