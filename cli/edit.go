package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/services/vrf"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// userError is a semantic refusal printed as "Error: <msg>."
type userError struct{ msg string }

func (u *userError) Error() string { return u.msg }

func refuse(format string, a ...any) error { return &userError{fmt.Sprintf(format, a...)} }

// edit is the context of one configuration line.
type edit struct {
	s    *session
	cn   *cnode
	m    *matchResult
	undo bool
	tree *datastore.Tree
	base datastore.Path // the view's instance path
	info []string       // Info lines to print
}

// hook runs before (pre) or after (post) an edit of cn's node.
type hook struct {
	pre  func(ed *edit, target datastore.Path) error
	post func(ed *edit, target datastore.Path) error
}

// containerPath is the path of cn's parent node inside the view (for a
// command on a list entry, the entry the line names by its keys).
func (ed *edit) containerPath() datastore.Path {
	p := ed.base
	for _, r := range ed.cn.rel[:len(ed.cn.rel)-1] {
		if r.IsList() {
			var keys []string
			for _, k := range schema.Keys(r) {
				v, _ := ed.m.value(k)
				keys = append(keys, v)
			}
			p = p.Child(r.Name, keys...)
			continue
		}
		p = p.Child(r.Name)
	}
	return p
}

// pruneEntry removes the entry of a list without a command of its own
// once the line left nothing set in it (undo peer X enable in an address
// family).
func (ed *edit) pruneEntry(target datastore.Path) {
	if ed.cn.list == nil || !ed.cn.list.virtual {
		return
	}
	entry := target.Parent()
	if items := ed.tree.Under(entry); len(items) == 1 && items[0].Path.Equal(entry) {
		ed.tree.Delete(entry)
	}
}

// apply performs a configuration line on the candidate tree. It returns
// the instance path of the node (for entering its view).
func (ed *edit) apply() (datastore.Path, error) {
	cn, m, t := ed.cn, ed.m, ed.tree
	parent := ed.containerPath()
	e := cn.entry
	h := ed.s.e.hooks[cn.path]
	switch {
	case e.IsLeaf():
		target := parent.Child(e.Name)
		if h.pre != nil {
			if err := h.pre(ed, target); err != nil {
				return nil, err
			}
		}
		if ed.undo {
			if v, ok := m.value(e.Name); ok {
				if cur, has := t.Get(target); has && cur != v {
					return nil, refuse("The specified %s does not exist", strings.ReplaceAll(e.Name, "-", " "))
				}
			}
			if schema.HasExt(e, "undo-false") {
				if def, has := e.SingleDefaultValue(); has && def == "false" && schema.HasExt(e, "render-default") {
					t.Delete(target)
				} else {
					t.Set(target, "false")
				}
			} else {
				t.Delete(target)
			}
		} else {
			v, ok := m.joined(e.Name)
			if !ok {
				switch e.Type.Kind {
				case yang.Ybool:
					v = "true"
				default:
					v = ""
				}
			}
			if def, has := e.SingleDefaultValue(); has && v == def && schema.HasExt(e, "render-default") {
				t.Delete(target)
			} else {
				t.Set(target, v)
			}
		}
		ed.setSiblings(target)
		if ed.undo {
			ed.pruneEntry(target)
		}
		if h.post != nil {
			if err := h.post(ed, target); err != nil {
				return nil, err
			}
		}
		return target, nil
	case e.IsList():
		if ed.undo {
			return nil, ed.undoList(parent, h)
		}
		keys := schema.Keys(e)
		combos := [][]string{{}}
		for _, k := range keys {
			vals := m.values(k)
			if len(vals) == 0 {
				vals = defaultExpand(e.Dir[k])
			}
			if step, ok := schema.Ext(e.Dir[k], "auto-index"); ok && len(vals) == 0 {
				v, err := ed.autoIndex(parent, k, combos, step)
				if err != nil {
					return nil, err
				}
				vals = v
			}
			vals = expandValues(e.Dir[k], vals)
			if d, ok := schema.Ext(e, "key-default"); ok && len(vals) == 0 && len(keys) == 1 {
				vals = []string{d}
			}
			if len(vals) == 0 {
				return nil, refuse("The key %s is missing", k)
			}
			var next [][]string
			for _, c := range combos {
				for _, v := range vals {
					next = append(next, append(append([]string{}, c...), v))
				}
			}
			combos = next
		}
		var last datastore.Path
		for _, c := range combos {
			target := parent.Child(e.Name, c...)
			if h.pre != nil {
				if err := h.pre(ed, target); err != nil {
					return nil, err
				}
			}
			// Entering the view of an existing entry keeps what the line
			// leaves out (ospf 1 keeps its router ID).
			keep := cn.view != nil && t.Exists(target)
			t.SetPresence(target)
			ed.setChildren(target, keep)
			if h.post != nil {
				if err := h.post(ed, target); err != nil {
					return nil, err
				}
			}
			last = target
		}
		return last, nil
	default: // presence container
		target := parent.Child(e.Name)
		if h.pre != nil {
			if err := h.pre(ed, target); err != nil {
				return nil, err
			}
		}
		if ed.undo {
			t.Delete(target)
			ed.pruneEntry(target)
		} else {
			t.SetPresence(target)
			ed.setChildren(target, false)
		}
		if h.post != nil {
			if err := h.post(ed, target); err != nil {
				return nil, err
			}
		}
		return target, nil
	}
}

// setChildren sets the non-key leaves named in the command and removes
// those of the template that were not given (the command replaces them),
// unless keep says to leave those alone.
func (ed *edit) setChildren(target datastore.Path, keep bool) {
	e := ed.cn.entry
	keys := map[string]bool{}
	for _, k := range schema.Keys(e) {
		keys[k] = true
	}
	for _, name := range templateNames(ed.cn.tmpl) {
		if keys[name] {
			continue
		}
		l := e.Dir[name]
		if l == nil {
			continue
		}
		p := target.Child(name)
		v, ok := ed.m.joined(name)
		if !ok && keep {
			continue
		}
		if !ok {
			if l.IsLeaf() {
				ed.tree.DeleteLeaf(p)
			} else {
				ed.tree.Delete(p)
			}
			continue
		}
		if l.Type != nil && l.Type.Kind == yang.Ybool {
			v = "true"
		}
		ed.tree.Set(p, v)
	}
}

// setSiblings sets the sibling leaves a leaf's command names besides the
// leaf itself (apply-label {mode} [static {label}]) from the line, and
// removes those the line leaves out, or all of them on undo.
func (ed *edit) setSiblings(target datastore.Path) {
	e := ed.cn.entry
	if e.Parent == nil {
		return
	}
	for _, name := range templateNames(ed.cn.tmpl) {
		l := e.Parent.Dir[name]
		if name == e.Name || l == nil || !l.IsLeaf() || ed.cn.listKey(name) != nil {
			continue
		}
		p := target.Parent().Child(name)
		if v, ok := ed.m.joined(name); ok && !ed.undo {
			ed.tree.Set(p, v)
		} else {
			ed.tree.DeleteLeaf(p)
		}
	}
}

// autoIndex gives the key k a command left out (vcli:auto-index): the key
// of an entry that holds exactly what the command says, or else the
// highest value among the entries that share the keys before k plus step
// (step for the first).
func (ed *edit) autoIndex(parent datastore.Path, k string, combos [][]string, step string) ([]string, error) {
	e := ed.cn.entry
	inc, err := strconv.ParseUint(step, 10, 32)
	if err != nil || inc == 0 {
		return nil, fmt.Errorf("%s: bad vcli:auto-index %q", ed.cn.path, step)
	}
	keys := schema.Keys(e)
	pos := slices.Index(keys, k)
	var out []string
	for _, c := range combos {
		var max uint64
		same := ""
		for _, it := range ed.tree.Entries(parent, e.Name) {
			ks := it.Path.Last().Keys
			if !slices.Equal(ks[:pos], c) {
				continue
			}
			if n, err := strconv.ParseUint(ks[pos], 10, 64); err == nil && n > max {
				max = n
			}
			if same == "" && ed.holds(it.Path, keys) {
				same = ks[pos]
			}
		}
		if same != "" {
			out = append(out, same)
			continue
		}
		v := strconv.FormatUint(max+inc, 10)
		if _, err := ed.s.e.schema.CheckValue(e.Dir[k], v); err != nil {
			return nil, refuse("No %s is left after %d; give one", k, max)
		}
		out = append(out, v)
	}
	return out, nil
}

// holds reports whether the entry at p holds exactly the values the
// command names (its other parameters and flags).
func (ed *edit) holds(p datastore.Path, keys []string) bool {
	for _, name := range templateNames(ed.cn.tmpl) {
		if slices.Contains(keys, name) {
			continue
		}
		cur, has := ed.tree.Get(p.Child(name))
		v, given := ed.m.joined(name)
		if has != given || (given && cur != v && !(cur == "" && v == "")) {
			return false
		}
	}
	return true
}

func templateNames(t *tnode) []string {
	var out []string
	var walk func(n *tnode)
	walk = func(n *tnode) {
		if n.kind == tParam || n.kind == tFlag {
			out = append(out, n.word)
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(t)
	return out
}

// undoList removes the entries of a list matching the given values.
func (ed *edit) undoList(parent datastore.Path, h hook) error {
	e := ed.cn.entry
	keys := schema.Keys(e)
	keyIdx := map[string]int{}
	for i, k := range keys {
		keyIdx[k] = i
	}
	want := map[string][]string{}
	for _, b := range ed.m.binds {
		if b.isFlag {
			want[b.name] = append(want[b.name], "")
			continue
		}
		want[b.name] = append(want[b.name], b.value)
	}
	for k, v := range want {
		if l := e.Dir[k]; l != nil {
			want[k] = expandValues(l, v)
		}
	}
	var matched []datastore.Path
	for _, it := range ed.tree.Entries(parent, e.Name) {
		ok := true
		for name, vals := range want {
			var cur string
			if i, isKey := keyIdx[name]; isKey {
				cur = it.Path.Last().Keys[i]
			} else {
				v, has := ed.tree.Get(it.Path.Child(name))
				if !has {
					ok = false
					break
				}
				cur = v
			}
			found := false
			for _, v := range vals {
				if v == cur {
					found = true
				}
			}
			if !found {
				ok = false
				break
			}
		}
		if ok {
			matched = append(matched, it.Path)
		}
	}
	if len(matched) == 0 && len(want) > 0 {
		return refuse("The specified configuration does not exist")
	}
	for _, p := range matched {
		if h.pre != nil {
			if err := h.pre(ed, p); err != nil {
				return err
			}
		}
		ed.tree.Delete(p)
		if h.post != nil {
			if err := h.post(ed, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// defaultHooks are VRP's edit cascades (undo route-distinguisher removes
// what needs it, undo ip vpn-instance unbinds its interfaces, a new primary
// address replaces the old one) and the refusals of command forms that
// have no counterpart in the configuration tree (undo of what is not
// configured, undo of a physical interface, a port that is not there).
// Whether a configuration is acceptable is not decided here: the
// datastore's owners decide it for every front end (see runConfig).
func defaultHooks() map[string]hook {
	return map[string]hook{
		"/interfaces/interface": {pre: func(ed *edit, target datastore.Path) error {
			name := target.Last().Keys[0]
			if ed.undo {
				if physicalPort(name) {
					return refuse("The physical interface %s cannot be deleted", name)
				}
				return nil
			}
			if strings.HasPrefix(name, "GigabitEthernet") && !strings.Contains(name, ".") && ed.s.e.deps.Ports != nil {
				if _, exists := ed.tree.Get(target); !exists && !ed.s.e.portExists(name) {
					if ed.s.preconfig {
						// A configuration file may name a port whose link
						// is not there yet (a late containerlab link): keep
						// its configuration, and save writes it back.
						if ed.s.absent == nil {
							ed.s.absent = map[string]bool{}
						}
						ed.s.absent[name] = true
						return nil
					}
					// Like a card that is not there: the name is a wrong parameter.
					return &parseErrorWrap{kind: errWrongParam, name: "name"}
				}
			}
			return nil
		}},
		"/interfaces/interface/vpn-instance": {
			pre: func(ed *edit, target datastore.Path) error {
				old, had := ed.tree.Get(target)
				v, _ := ed.m.value("vpn-instance")
				if ed.undo && !had {
					return refuse("The interface is not bound to any VPN instance")
				}
				if !ed.undo && had && old == v {
					return nil
				}
				// OSPF on the interface belongs to a process of the old
				// instance.
				ospfOn := ed.tree.Delete(target.Parent().Child("ospf").Child("enable"))
				if ed.tree.Delete(target.Parent().Child("ipv4")) || ospfOn {
					if ed.s.immediateMode {
						ed.info = append(ed.info, "Info: All IPv4 related configurations on this interface are removed!",
							"Info: All IPv6 related configurations on this interface are removed!")
					} else {
						ed.info = append(ed.info, "Info: All IPv4 and IPv6 related configurations on this interface are removed.")
					}
				}
				return nil
			},
		},
		"/interfaces/interface/ipv4/address": {pre: func(ed *edit, target datastore.Path) error {
			if ed.undo || ed.m.has("sub") {
				return nil
			}
			for _, it := range ed.tree.Entries(target.Parent(), "address") {
				if it.Path.Equal(target) {
					continue
				}
				if _, sub := ed.tree.Get(it.Path.Child("sub")); !sub {
					ed.tree.Delete(it.Path)
				}
			}
			return nil
		}},
		"/vpn-instances/vpn-instance/ipv4-family/route-distinguisher": {pre: func(ed *edit, target datastore.Path) error {
			if !ed.undo {
				return nil
			}
			if _, had := ed.tree.Get(target); !had {
				return refuse("The route-distinguisher is not configured")
			}
			// undo route-distinguisher removes what needs it.
			af := target.Parent()
			for _, dep := range vrf.RDDependents {
				ed.tree.Delete(af.Child(dep))
			}
			deleteBGPInstanceAF(ed.tree, af.Parent().Last().Keys[0])
			return nil
		}},
		"/vpn-instances/vpn-instance/ipv4-family/vpn-target": {pre: func(ed *edit, target datastore.Path) error {
			if ed.undo {
				return nil
			}
			if ed.s.immediateMode {
				// VRP5 reports the assignment per direction, once per line.
				msg := map[string]string{"import-extcommunity": " IVT Assignment result:", "export-extcommunity": " EVT Assignment result:"}[target.Last().Keys[1]]
				for _, l := range ed.info {
					if l == msg {
						return nil
					}
				}
				ed.info = append(ed.info, msg, "Info: VPN-Target assignment is successful.")
			}
			return nil
		}},
		"/interfaces/interface/mpls": {pre: func(ed *edit, target datastore.Path) error {
			if ed.undo {
				// Interface undo mpls removes all MPLS configuration there.
				deleteInterfaceLDP(ed.tree, target.Parent())
			}
			return nil
		}},
		"/interfaces/interface/mpls-ldp": {pre: func(ed *edit, target datastore.Path) error {
			if ed.undo {
				// Interface undo mpls ldp removes the interface's LDP timers.
				deleteInterfaceLDP(ed.tree, target.Parent())
			}
			return nil
		}},
		"/mpls/ldp": {pre: func(ed *edit, target datastore.Path) error {
			if ed.undo {
				for _, ifc := range ed.tree.Entries(datastore.P("interfaces"), "interface") {
					deleteInterfaceLDP(ed.tree, ifc.Path)
				}
			}
			return nil
		}},
		"/mpls/enable": {pre: func(ed *edit, target datastore.Path) error {
			if !ed.undo {
				return nil
			}
			// Global undo mpls removes every MPLS configuration.
			ed.tree.Delete(datastore.P("mpls", "ldp"))
			ed.tree.Delete(datastore.P("static-lsps"))
			for _, ifc := range ed.tree.Entries(datastore.P("interfaces"), "interface") {
				ed.tree.Delete(ifc.Path.Child("mpls"))
				deleteInterfaceLDP(ed.tree, ifc.Path)
			}
			if ed.tree.Under(datastore.P("mpls")) != nil {
				ed.info = append(ed.info, "Info: All MPLS configurations are removed.")
			}
			return nil
		}, post: func(ed *edit, target datastore.Path) error {
			if ed.s.immediateMode && !ed.undo {
				ed.info = append(ed.info, "Info: Mpls starting, please wait... OK!")
			}
			return nil
		}},
		"/vpn-instances/vpn-instance": {pre: func(ed *edit, target datastore.Path) error {
			name := target.Last().Keys[0]
			if !ed.undo {
				return nil
			}
			// Deleting an instance unbinds its interfaces (wiping their IP
			// configuration) and removes the static routes that need it:
			// its own, and those of other instances (the public one too)
			// whose next hop is resolved in it, as VRP does.
			for _, ifc := range ed.tree.Entries(datastore.P("interfaces"), "interface") {
				if v, ok := ed.tree.Get(ifc.Path.Child("vpn-instance")); ok && v == name {
					ed.tree.Delete(ifc.Path.Child("vpn-instance"))
					ed.tree.Delete(ifc.Path.Child("ipv4"))
				}
			}
			for _, list := range []string{"route", "vpn-route"} {
				for _, r := range ed.tree.Entries(datastore.P("static-routes"), list) {
					nh, _ := ed.tree.Get(r.Path.Child("next-hop-vpn"))
					if list == "vpn-route" && r.Path.Last().Keys[0] == name || nh == name {
						ed.tree.Delete(r.Path)
					}
				}
			}
			// And its OSPF processes.
			for _, p := range ed.tree.Entries(datastore.P("ospf"), "process") {
				if v, _ := ed.tree.Get(p.Path.Child("vpn-instance")); v == name {
					deleteOSPFProcess(ed.tree, p.Path)
				}
			}
			// And its BGP address family.
			deleteBGPInstanceAF(ed.tree, name)
			return nil
		}},
		"/ospf/process": {pre: func(ed *edit, target datastore.Path) error {
			if ed.undo {
				deleteOSPFProcess(ed.tree, target)
			}
			return nil
		}},
		"/bgp/instance/peer": {pre: func(ed *edit, target datastore.Path) error {
			if ed.undo {
				// undo peer removes the peer's settings in every family.
				deleteBGPPeerAF(ed.tree, target.Parent(), target.Last().Keys[0])
			}
			return nil
		}},
		"/bgp/instance/group": {pre: func(ed *edit, target datastore.Path) error {
			if !ed.undo {
				return nil
			}
			// undo group removes the group's settings and its members.
			bgp, name := target.Parent(), target.Last().Keys[0]
			for _, p := range ed.tree.Entries(bgp, "peer") {
				if g, _ := ed.tree.Get(p.Path.Child("group")); g == name || p.Path.Last().Keys[0] == name {
					deleteBGPPeerAF(ed.tree, bgp, p.Path.Last().Keys[0])
					ed.tree.Delete(p.Path)
				}
			}
			deleteBGPPeerAF(ed.tree, bgp, name)
			return nil
		}},
	}
}

// deleteOSPFProcess removes an OSPF process and the interfaces' ospf
// enable of it.
func deleteOSPFProcess(t *datastore.Tree, p datastore.Path) {
	id := p.Last().Keys[0]
	for _, ifc := range t.Entries(datastore.P("interfaces"), "interface") {
		en := ifc.Path.Child("ospf").Child("enable")
		if v, _ := t.Get(en.Child("process")); v == id {
			t.Delete(en)
		}
	}
	t.Delete(p)
}

// deleteInterfaceLDP removes an interface's LDP configuration: mpls ldp
// and its timers.
func deleteInterfaceLDP(t *datastore.Tree, ifc datastore.Path) {
	for _, leaf := range []string{"mpls-ldp", "mpls-ldp-hello-hold", "mpls-ldp-keepalive-hold"} {
		t.Delete(ifc.Child(leaf))
	}
}

// deleteBGPPeerAF removes a peer's (or group's) settings in the address
// families of the BGP process at bgp.
func deleteBGPPeerAF(t *datastore.Tree, bgp datastore.Path, name string) {
	for _, af := range []string{"ipv4-unicast", "vpnv4"} {
		t.Delete(bgp.Child(af).Child("peer", name))
	}
}

// deleteBGPInstanceAF removes `ipv4-family vpn-instance NAME` (VRP deletes
// it with the instance or its RD).
func deleteBGPInstanceAF(t *datastore.Tree, name string) {
	for _, b := range t.Entries(datastore.P("bgp"), "instance") {
		t.Delete(b.Path.Child("vpn-instance", name))
	}
}

// parseErrorWrap lets a hook report a wrong parameter at the value's column.
type parseErrorWrap struct {
	kind  string
	name  string
	value string
}

func (p *parseErrorWrap) Error() string { return p.kind }

// pruneInterfaces removes entries of physical interfaces that hold no
// configuration: a port exists without configuration, so entering its view
// is not an edit.
func pruneInterfaces(t *datastore.Tree) {
	for _, it := range t.Entries(datastore.P("interfaces"), "interface") {
		name := it.Path.Last().Keys[0]
		if strings.HasPrefix(name, "LoopBack") || strings.Contains(name, ".") {
			continue
		}
		if len(t.Under(it.Path)) == 1 {
			t.Delete(it.Path)
		}
	}
}
