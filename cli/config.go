package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// view is a CLI view. The system view and every node carrying vcli:view
// are derived from the schema; the user view is not.
type view struct {
	id     string
	entry  *yang.Entry
	suffix string // prompt suffix template (vcli:view)
	parent *view
	cnodes []*cnode // configuration commands, in rendering order
	cmds   []*command
}

// cnode is a configuration command bound to a schema node.
type cnode struct {
	entry *yang.Entry
	rel   []*yang.Entry // from the owning view's node (exclusive) down to entry
	tmpl  *tnode
	owner *view
	view  *view // the view it opens, if any
	path  string
	// list is, for a command on an entry of a list that opens no view
	// (peer {address} description ... under list peer), the command of
	// that list; the command's template names the list's keys.
	list *cnode
	// kids are the commands on the entries of this list: each entry
	// renders as its own line, then one line per kid that is set.
	kids []*cnode
	// virtual: a list without a command of its own whose entries only
	// carry kids (peer {address} enable in an address family); it has no
	// template and no line.
	virtual bool
}

// buildViews derives the views and configuration commands from the schema.
func buildViews(sc *schema.Schema) (*view, map[string]*view, error) {
	sys := &view{id: "system", entry: sc.Root}
	all := map[string]*view{"system": sys}
	var walk func(v *view, e *yang.Entry, rel []*yang.Entry) error
	walk = func(v *view, e *yang.Entry, rel []*yang.Entry) error {
		for _, c := range sc.Children(e) {
			r := append(append([]*yang.Entry{}, rel...), c)
			syn, hasCmd := schema.Ext(c, "command")
			if hasCmd {
				t, err := parseTemplate(syn)
				if err != nil {
					return fmt.Errorf("%s: %w", strings.Join(schema.SchemaPath(c), "/"), err)
				}
				cn := &cnode{entry: c, rel: r, tmpl: t, owner: v, path: "/" + strings.Join(schema.SchemaPath(c), "/")}
				v.cnodes = append(v.cnodes, cn)
				if suf, ok := schema.Ext(c, "view"); ok {
					nv := &view{id: cn.path, entry: c, suffix: suf, parent: v}
					all[nv.id] = nv
					cn.view = nv
					if err := walk(nv, c, nil); err != nil {
						return err
					}
				} else if c.IsList() {
					if err := entryCommands(sc, v, cn); err != nil {
						return err
					}
				}
				continue
			}
			if c.IsList() && hasEntryCommands(sc, c) {
				cn := &cnode{entry: c, rel: r, owner: v, virtual: true, path: "/" + strings.Join(schema.SchemaPath(c), "/")}
				v.cnodes = append(v.cnodes, cn)
				if err := entryCommands(sc, v, cn); err != nil {
					return err
				}
				continue
			}
			if c.IsDir() && !c.IsList() {
				if err := walk(v, c, r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(sys, sc.Root, nil); err != nil {
		return nil, nil, err
	}
	return sys, all, nil
}

// hasEntryCommands reports whether a child of list e carries a command.
func hasEntryCommands(sc *schema.Schema, e *yang.Entry) bool {
	for _, c := range sc.Children(e) {
		if schema.HasExt(c, "command") {
			return true
		}
	}
	return false
}

// entryCommands adds the commands of the children of list lc's entries
// (a list that opens no view) to view v, as kids of lc.
func entryCommands(sc *schema.Schema, v *view, lc *cnode) error {
	for _, c := range sc.Children(lc.entry) {
		syn, ok := schema.Ext(c, "command")
		if !ok {
			continue
		}
		if _, opens := schema.Ext(c, "view"); opens {
			return fmt.Errorf("%s: a command on a list entry cannot open a view", strings.Join(schema.SchemaPath(c), "/"))
		}
		t, err := parseTemplate(syn)
		if err != nil {
			return fmt.Errorf("%s: %w", strings.Join(schema.SchemaPath(c), "/"), err)
		}
		r := append(append([]*yang.Entry{}, lc.rel...), c)
		kid := &cnode{entry: c, rel: r, tmpl: t, owner: v, list: lc, path: "/" + strings.Join(schema.SchemaPath(c), "/")}
		lc.kids = append(lc.kids, kid)
		v.cnodes = append(v.cnodes, kid)
	}
	return nil
}

// listKey returns the key leaf name of cn's entry list, when cn is a
// command on a list entry and name is one of that list's keys.
func (cn *cnode) listKey(name string) *yang.Entry {
	if cn.list == nil {
		return nil
	}
	for _, k := range schema.Keys(cn.list.entry) {
		if k == name {
			return cn.list.entry.Dir[name]
		}
	}
	return nil
}

// leafFor resolves a template parameter name of cn.
func (cn *cnode) leafFor(name string) *yang.Entry {
	if k := cn.listKey(name); k != nil {
		return k
	}
	if cn.entry.Name == name && (cn.entry.IsLeaf() || cn.entry.IsLeafList()) {
		return cn.entry
	}
	if cn.entry.IsLeaf() && cn.entry.Parent != nil {
		// A leaf's command may also set sibling leaves (apply-label
		// {mode} [static {label}]).
		return cn.entry.Parent.Dir[name]
	}
	if cn.entry.Dir != nil {
		return cn.entry.Dir[name]
	}
	return nil
}

// Shared keywords that are not the last keyword of any one command.
var keywordHelp = map[string]string{
	"ip":            "Specify IP configurations",
	"mpls":          "Specify MPLS configurations",
	"ospf":          "OSPF (Open Shortest Path First)",
	"timer":         "Specify timers",
	"static-lsp":    "Configure a static LSP",
	"undo":          "Negate a command or set its default",
	"display":       "Display information",
	"route":         "Specify a route-policy",
	"configuration": "Configuration",
	"import":        "Import settings",
	"export":        "Export settings",
	"label":         "Label settings",
	"binding":       "Bind to a VPN instance",
	"vpn-instance":  "VPN instance",
	"nexthop":       "Next hop",
	"in-label":      "Incoming label",
	"out-label":     "Outgoing label",
	"all":           "All",
	"sub":           "Secondary address",
	"both":          "Both import and export",
}

// compile turns a template of cn into item sequences.
func (e *Engine) compileConfig(cn *cnode, t *tnode, undo bool) ([][]item, error) {
	cmdHelp, _ := schema.Ext(cn.entry, "help")
	if cmdHelp == "" {
		cmdHelp = cn.entry.Description
	}
	var out [][]item
	for _, sq := range expand(t) {
		var seq []item
		if undo {
			seq = append(seq, item{kind: tKeyword, word: "undo", help: keywordHelp["undo"]})
		}
		lead := -1
		for i, n := range sq {
			if n.kind != tKeyword {
				break
			}
			lead = i
		}
		for i, n := range sq {
			switch n.kind {
			case tKeyword:
				h := keywordHelp[n.word]
				if h != "" {
				} else if l := nextLeaf(cn, sq, i); l != nil && l != cn.entry && schema.HasExt(l, "help") {
					// A keyword that introduces an option of the command
					// (ospf [router-id {router-id}]) says what the option does.
					h, _ = schema.Ext(l, "help")
				} else if i == lead {
					h = cmdHelp
				} else if i+1 < len(sq) && sq[i+1].kind == tParam {
					if l := cn.leafFor(sq[i+1].word); l != nil && l.Description != "" {
						h = l.Description
					}
				}
				if h == "" {
					h = cmdHelp
				}
				seq = append(seq, item{kind: tKeyword, word: n.word, help: h})
			case tFlag:
				l := cn.leafFor(n.word)
				if l == nil {
					return nil, fmt.Errorf("%s: unknown flag %s", cn.path, n.word)
				}
				seq = append(seq, item{kind: tFlag, word: n.word, help: l.Description})
			case tParam:
				l := cn.leafFor(n.word)
				if l == nil {
					return nil, fmt.Errorf("%s: unknown parameter %s", cn.path, n.word)
				}
				it := e.leafItem(l, n.repeat)
				it.back = n.back
				if r, ok := schema.Ext(l, "repeat"); ok {
					if it.max, _ = strconv.Atoi(r); it.max < 1 {
						return nil, fmt.Errorf("%s: bad vcli:repeat %q", cn.path, r)
					}
				}
				seq = append(seq, it)
			}
		}
		out = append(out, seq)
	}
	return out, nil
}

// nextLeaf is the leaf of the parameter right after keyword i of sq.
func nextLeaf(cn *cnode, sq []*tnode, i int) *yang.Entry {
	if i+1 < len(sq) && sq[i+1].kind == tParam {
		return cn.leafFor(sq[i+1].word)
	}
	return nil
}

// leafItem makes the parameter item of a leaf. Enumerations become keyword
// parameters (their names are matched like keywords).
func (e *Engine) leafItem(l *yang.Entry, repeat bool) item {
	p := &param{name: l.Name}
	t := l.Type
	if t != nil && t.Kind == yang.Yenum {
		names := t.Enum.Names()
		if spec, ok := schema.Ext(l, "expand"); ok {
			if kw, _, ok := strings.Cut(spec, "="); ok {
				names = append(names, kw)
			}
		}
		sort.Strings(names)
		p.match = func(_ *session, _ string, toks []token) (string, int) { return uniquePrefix(names, toks[0].text) }
		p.enum = names
		for _, n := range names {
			p.hints = append(p.hints, hintRow{n, enumHelp(l, n)})
		}
		return item{kind: tParam, p: p, repeat: repeat, word: l.Name}
	}
	text := schema.HasExt(l, "text")
	mask := schema.HasExt(l, "mask")
	isIf := typeHas(t, "interface-name")
	sc := e.schema
	p.match = func(_ *session, line string, toks []token) (string, int) {
		if text {
			v := strings.TrimRight(line[toks[0].off:], " \t")
			if _, err := sc.CheckValue(l, v); err != nil {
				return "", 0
			}
			return v, len(toks)
		}
		if isIf {
			if name, n := parseIfName(toks); n > 0 {
				if _, err := sc.CheckValue(l, name); err == nil {
					return name, n
				}
			}
		}
		v := toks[0].text
		if mask {
			if n, err := strconv.Atoi(v); err == nil && strconv.Itoa(n) == v {
				if n < 0 || n > 32 {
					return "", 0
				}
				return datastore.LenMask(n), 1
			}
			if _, ok := datastore.MaskLen(v); !ok {
				return "", 0
			}
		}
		if t != nil && t.Kind == yang.Yleafref {
			if len(v) > 31 || strings.ContainsAny(v, "?") {
				return "", 0
			}
			return v, 1
		}
		c, err := sc.CheckValue(l, v)
		if err != nil {
			return "", 0
		}
		return c, 1
	}
	switch {
	case isIf:
		p.complete = func(*session) []string { return []string{"GigabitEthernet", "LoopBack"} }
		p.more = ifMore(configIfTypes)
	case t != nil && t.Kind == yang.Yleafref:
		target := strings.Split(strings.Trim(t.Path, "/"), "/")
		var names []string
		for _, x := range target {
			if i := strings.IndexByte(x, ':'); i >= 0 {
				x = x[i+1:]
			}
			names = append(names, x)
		}
		p.complete = func(s *session) []string {
			if len(names) < 2 {
				return nil
			}
			var out []string
			for _, it := range s.cand.Tree().Entries(datastore.P(toAny(names[:len(names)-2])...), names[len(names)-2]) {
				out = append(out, it.Path.Last().Keys[0])
			}
			return out
		}
	}
	desc := l.Description
	switch {
	case mask:
		p.hints = []hintRow{{"INTEGER<0-32>", "Length of IP address mask"}, {"X.X.X.X", "IP address mask"}}
	case t != nil && t.Kind == yang.Yunion:
		if h, ok := schema.Ext(l, "hint"); ok {
			p.hints = []hintRow{{h, desc}}
			break
		}
		for _, u := range t.Type {
			if typeHas(u, "interface-name") {
				p.hints = append(p.hints, ifTypeRows(configIfTypes)...)
				continue
			}
			p.hints = append(p.hints, hintRow{typeHintOf(u), desc})
		}
	case isIf:
		p.hints = ifTypeRows(configIfTypes)
	default:
		p.hints = []hintRow{{schema.Hint(l), desc}}
	}
	return item{kind: tParam, p: p, repeat: repeat, word: l.Name}
}

func typeHintOf(t *yang.YangType) string {
	tmp := &yang.Entry{Type: t}
	return schema.Hint(tmp)
}

func typeHas(t *yang.YangType, name string) bool {
	if t == nil {
		return false
	}
	if t.Name == name {
		return true
	}
	for _, u := range t.Type {
		if typeHas(u, name) {
			return true
		}
	}
	return false
}

func enumHelp(l *yang.Entry, name string) string {
	if spec, ok := schema.Ext(l, "expand"); ok {
		if kw, _, _ := strings.Cut(spec, "="); kw == name {
			return keywordHelp[name]
		}
	}
	if h := schema.EnumHelp(l, name); h != "" {
		return h
	}
	return name
}

// expandValues applies vcli:expand (both → export, import).
func expandValues(l *yang.Entry, vals []string) []string {
	spec, ok := schema.Ext(l, "expand")
	if !ok {
		return vals
	}
	kw, list, _ := strings.Cut(spec, "=")
	var out []string
	for _, v := range vals {
		if v == kw {
			out = append(out, strings.Split(list, ",")...)
		} else {
			out = append(out, v)
		}
	}
	return out
}

// defaultExpand is the value list of an omitted expandable key.
func defaultExpand(l *yang.Entry) []string {
	spec, ok := schema.Ext(l, "expand")
	if !ok {
		return nil
	}
	_, list, _ := strings.Cut(spec, "=")
	return strings.Split(list, ",")
}

// undoSequences builds the undo form: vcli:undo, or the command's leading
// keywords plus any prefix of its parameters (lists that open a view need
// their keys).
func (e *Engine) undoSequences(cn *cnode) ([][]item, error) {
	if cn.virtual {
		return nil, nil
	}
	if u, ok := schema.Ext(cn.entry, "undo"); ok {
		t, err := parseTemplate(u)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cn.path, err)
		}
		return e.compileConfig(cn, t, true)
	}
	full, err := e.compileConfig(cn, cn.tmpl, true)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	if cn.view != nil {
		for _, k := range schema.Keys(cn.entry) {
			keys[k] = true
		}
	}
	if cn.list != nil {
		// A command on a list entry names its entry.
		for _, k := range schema.Keys(cn.list.entry) {
			keys[k] = true
		}
	}
	seen := map[string]bool{}
	var out [][]item
	for _, sq := range full {
		lead := 0
		for lead < len(sq) && sq[lead].kind == tKeyword {
			lead++
		}
		need := lead
		for i, it := range sq {
			if it.kind == tParam && keys[it.p.name] && i+1 > need {
				need = i + 1
			}
		}
		for n := need; n <= len(sq); n++ {
			sig := seqSig(sq[:n])
			if seen[sig] {
				continue
			}
			seen[sig] = true
			out = append(out, sq[:n])
		}
	}
	return out, nil
}

func seqSig(sq []item) string {
	var b strings.Builder
	for _, it := range sq {
		if it.kind == tParam {
			b.WriteString("{" + it.p.name + "} ")
		} else {
			b.WriteString(it.word + " ")
		}
	}
	return b.String()
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
