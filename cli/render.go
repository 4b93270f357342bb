package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// rline is one rendered configuration line with the lines of its view.
type rline struct {
	text string
	kids []*rline
	cn   *cnode
	inst datastore.Path
}

// renderView renders the commands of view v at instance path p.
func (e *Engine) renderView(v *view, t *datastore.Tree, p datastore.Path) []*rline {
	return e.renderViewWith(v, t, p, false)
}

// renderViewWith is renderView; with defaults (include-default), leaves
// that are not set render with their default value.
func (e *Engine) renderViewWith(v *view, t *datastore.Tree, p datastore.Path, defaults bool) []*rline {
	var out []*rline
	for _, cn := range v.cnodes {
		if cn.list != nil {
			continue // rendered with their entry
		}
		for _, inst := range instances(cn, t, p, defaults) {
			if !cn.virtual {
				text, ok := renderTemplate(cn, t, inst)
				if ok {
					l := &rline{text: text, cn: cn, inst: inst}
					if cn.view != nil {
						l.kids = e.renderViewWith(cn.view, t, inst, defaults)
					}
					out = append(out, l)
				} else if len(cn.kids) == 0 {
					continue
				}
			}
			// The commands on the entry, each on its own line.
			for _, kid := range cn.kids {
				for _, ki := range instancesUnder(kid, t, inst, defaults) {
					if text, ok := renderTemplate(kid, t, ki); ok {
						out = append(out, &rline{text: text, cn: kid, inst: ki})
					}
				}
			}
		}
	}
	return out
}

// instances lists the existing nodes of cn under p (and, with defaults, the
// leaves that have a default value).
func instances(cn *cnode, t *datastore.Tree, p datastore.Path, defaults bool) []datastore.Path {
	parent := p
	for _, r := range cn.rel[:len(cn.rel)-1] {
		parent = parent.Child(r.Name)
	}
	return instancesUnder(cn, t, parent, defaults)
}

// instancesUnder lists the existing nodes of cn whose parent node is
// parent.
func instancesUnder(cn *cnode, t *datastore.Tree, parent datastore.Path, defaults bool) []datastore.Path {
	e := cn.entry
	switch {
	case e.IsList():
		items := t.Entries(parent, e.Name)
		if !schema.OrderedByUser(e) {
			sort.SliceStable(items, func(i, j int) bool {
				return keysLess(items[i].Path.Last().Keys, items[j].Path.Last().Keys)
			})
		}
		out := make([]datastore.Path, len(items))
		for i, it := range items {
			out[i] = it.Path
		}
		return out
	case e.IsLeaf():
		target := parent.Child(e.Name)
		if _, ok := t.Get(target); ok {
			return []datastore.Path{target}
		}
		_, hasDefault := e.SingleDefaultValue()
		if (schema.HasExt(e, "render-default") || defaults && hasDefault) && (len(parent) == 0 || t.Exists(parent)) {
			return []datastore.Path{target}
		}
		return nil
	default:
		target := parent.Child(e.Name)
		if _, ok := t.Get(target); ok {
			return []datastore.Path{target}
		}
		return nil
	}
}

func keysLess(a, b []string) bool {
	for i := range a {
		if i >= len(b) {
			return false
		}
		if a[i] != b[i] {
			return naturalLess(a[i], b[i])
		}
	}
	return len(a) < len(b)
}

// naturalLess compares strings with embedded numbers numerically
// (GigabitEthernet0/2/0 < GigabitEthernet0/10/0, 10.0.0.2 < 10.0.0.10).
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			i, j := 0, 0
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			x, _ := strconv.ParseUint(a[:i], 10, 64)
			y, _ := strconv.ParseUint(b[:j], 10, 64)
			if x != y {
				return x < y
			}
			a, b = a[i:], b[j:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// renderTemplate renders the command line of one instance.
func renderTemplate(cn *cnode, t *datastore.Tree, inst datastore.Path) (string, bool) {
	e := cn.entry
	keys := schema.Keys(e)
	lookup := func(name string) (string, bool) {
		if cn.listKey(name) != nil {
			// A key of the entry a command on a list entry is on.
			for p := inst; len(p) > 0; p = p.Parent() {
				if p.Last().Name == cn.list.entry.Name && len(p.Last().Keys) > 0 {
					for i, k := range schema.Keys(cn.list.entry) {
						if k == name && i < len(p.Last().Keys) {
							return p.Last().Keys[i], true
						}
					}
				}
			}
			return "", false
		}
		if e.IsLeaf() && name == e.Name {
			if v, ok := t.Get(inst); ok {
				return v, true
			}
			return e.SingleDefaultValue()
		}
		for i, k := range keys {
			if k == name {
				return inst.Last().Keys[i], true
			}
		}
		if e.IsLeaf() {
			return t.Get(inst.Parent().Child(name)) // a sibling leaf
		}
		return t.Get(inst.Child(name))
	}
	flag := func(name string) bool {
		v, ok := t.Get(inst.Child(name))
		return ok && (v == "" || v == "true")
	}
	var words []string
	var walk func(n *tnode) bool
	walk = func(n *tnode) bool {
		switch n.kind {
		case tKeyword:
			words = append(words, n.word)
		case tParam:
			v, ok := lookup(n.word)
			if !ok {
				return false
			}
			if n.back > 0 && len(words) >= n.back {
				// ( rt {rt} )...: each value after its keywords.
				kws := append([]string(nil), words[len(words)-n.back:]...)
				for i, x := range strings.Fields(v) {
					if i > 0 {
						words = append(words, kws...)
					}
					words = append(words, x)
				}
				break
			}
			words = append(words, v)
		case tFlag:
			if !flag(n.word) {
				return false
			}
			words = append(words, n.word)
		case tSeq:
			for _, k := range n.kids {
				if !walk(k) {
					return false
				}
			}
		case tOpt:
			save := len(words)
			if !walk(n.kids[0]) || !hasValue(n.kids[0]) {
				words = words[:save]
			}
		case tAny:
			// Rendered in the template's order, each one that has a value.
			for _, k := range n.kids {
				save := len(words)
				if !walk(k) || !hasValue(k) {
					words = words[:save]
				}
			}
		case tAlt:
			save := len(words)
			for _, k := range n.kids {
				if walk(k) {
					return true
				}
				words = words[:save]
			}
			return false
		}
		return true
	}
	if !walk(cn.tmpl) {
		return "", false
	}
	line := strings.Join(words, " ")
	if e.IsLeaf() && e.Type != nil && e.Type.Kind == yang.Ybool {
		v, _ := lookup(e.Name)
		if v == "false" {
			if !schema.HasExt(e, "undo-false") {
				return "", false
			}
			return "undo " + line, true
		}
	}
	return line, true
}

func hasValue(n *tnode) bool {
	if n.kind == tParam || n.kind == tFlag {
		return true
	}
	for _, k := range n.kids {
		if hasValue(k) {
			return true
		}
	}
	return false
}

// writeLines writes lines indented one space per level.
func writeLines(b *strings.Builder, ls []*rline, depth int) {
	for _, l := range ls {
		if depth > 0 && l.cn != nil && schema.HasExt(l.cn.entry, "separator") {
			b.WriteString(strings.Repeat(" ", depth) + "#\n")
		}
		b.WriteString(strings.Repeat(" ", depth))
		b.WriteString(l.text)
		b.WriteByte('\n')
		writeLines(b, l.kids, depth+1)
	}
}

// writeBlocks writes top-level lines separated by '#': every view-opening
// instance is a block, and the lines of one other command form one block.
func writeBlocks(b *strings.Builder, ls []*rline) {
	var prev *cnode
	for _, l := range ls {
		if prev == nil || l.cn.view != nil || prev.view != nil || l.cn.rel[0] != prev.rel[0] {
			b.WriteString("#\n")
		}
		prev = l.cn
		writeLines(b, []*rline{l}, 0)
	}
	b.WriteString("#\n")
}

// RenderConfig renders a tree as display current-configuration prints it
// (header, blocks, return). section limits it to one top-level section.
func (e *Engine) RenderConfig(t *datastore.Tree, updated time.Time, section string) string {
	return e.renderConfig(t, updated, false, func(l *rline) bool { return section == "" || sectionOf(l.cn) == section })
}

// renderConfig renders the top-level blocks keepLine keeps; defaults is
// include-default.
func (e *Engine) renderConfig(t *datastore.Tree, updated time.Time, defaults bool, keepLine func(*rline) bool) string {
	var b strings.Builder
	if e.deps.CommitMode == "immediate" {
		// VRP5 starts with the version in brackets.
		fmt.Fprintf(&b, "[%s]\n", VRPVersion)
	} else {
		fmt.Fprintf(&b, "!Software Version %s\n", VRPVersion)
	}
	if !updated.IsZero() && e.deps.CommitMode != "immediate" {
		fmt.Fprintf(&b, "!Last configuration was updated at %s\n", updated.UTC().Format("2006-01-02 15:04:05+00:00"))
	}
	var ls []*rline
	for _, l := range e.renderViewWith(e.system, t, nil, defaults) {
		if keepLine(l) {
			ls = append(ls, l)
		}
	}
	writeBlocks(&b, ls)
	b.WriteString("return\n")
	return b.String()
}

// sectionOf is the section keyword of a top-level command.
func sectionOf(cn *cnode) string {
	for _, r := range cn.rel {
		if s, ok := schema.Ext(r, "section"); ok {
			return s
		}
	}
	return ""
}

// sections lists the section keywords.
func (e *Engine) sections() []string {
	seen := map[string]bool{}
	var out []string
	for _, cn := range e.system.cnodes {
		if s := sectionOf(cn); s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// diffLines renders the candidate changes: lines only in a are removed,
// only in b added, and unchanged parents are context.
type dline struct {
	mark  byte // ' ', '+', '-'
	depth int
	text  string
	node  string // the command node and instance, to pair a replaced value
}

func nodeKey(l *rline) string {
	if l.cn == nil {
		return ""
	}
	return l.cn.path + " " + l.inst.String()
}

func diffLines(a, b []*rline, depth int) []dline {
	var out []dline
	find := func(ls []*rline, text string) *rline {
		for _, l := range ls {
			if l.text == text {
				return l
			}
		}
		return nil
	}
	var all func(ls []*rline, d int, mark byte)
	all = func(ls []*rline, d int, mark byte) {
		for _, l := range ls {
			out = append(out, dline{mark, d, l.text, nodeKey(l)})
			all(l.kids, d+1, mark)
		}
	}
	for _, l := range a {
		if find(b, l.text) == nil {
			if permanent(l) {
				// A physical port stays when its last line goes.
				out = append(out, dline{' ', depth, l.text, nodeKey(l)})
				all(l.kids, depth+1, '-')
				continue
			}
			all([]*rline{l}, depth, '-')
		}
	}
	for _, l := range b {
		old := find(a, l.text)
		if old == nil {
			if permanent(l) {
				out = append(out, dline{' ', depth, l.text, nodeKey(l)})
				all(l.kids, depth+1, '+')
				continue
			}
			all([]*rline{l}, depth, '+')
			continue
		}
		sub := diffLines(old.kids, l.kids, depth+1)
		if len(sub) > 0 {
			out = append(out, dline{' ', depth, l.text, nodeKey(l)})
			out = append(out, sub...)
		}
	}
	return out
}

// permanent reports whether l is the view line of an entry no command
// deletes (a physical port): a diff keeps it as context around its lines,
// so that the undo form of a candidate is what the user can type.
func permanent(l *rline) bool {
	return l.cn != nil && l.cn.path == "/interfaces/interface" && len(l.inst) > 0 &&
		len(l.inst.Last().Keys) == 1 && physicalPort(l.inst.Last().Keys[0])
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
