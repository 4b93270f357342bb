package netconf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// Operation is an edit-config operation (RFC 6241 §7.2).
type Operation int

// The operations; OpNone only navigates.
const (
	OpNone Operation = iota
	OpMerge
	OpReplace
	OpCreate
	OpDelete
	OpRemove
)

var opNames = map[string]Operation{"merge": OpMerge, "replace": OpReplace, "create": OpCreate, "delete": OpDelete, "remove": OpRemove, "none": OpNone}

func (o Operation) String() string {
	for k, v := range opNames {
		if v == o {
			return k
		}
	}
	return "?"
}

// ErrorOption is edit-config's error-option.
type ErrorOption int

// The error options.
const (
	StopOnError ErrorOption = iota
	ContinueOnError
	RollbackOnError
)

// EditOptions drive Model.Edit.
type EditOptions struct {
	Default Operation
	OnError ErrorOption
	// Plain refuses operation attributes (copy-config's inline config).
	Plain bool
}

// errStop ends an edit at the first error.
var errStop = errors.New("stop")

// editor applies one <config> to a tree.
type editor struct {
	m    *Model
	t    *datastore.Tree
	o    EditOptions
	errs Errors
}

// Edit applies the children of config (data nodes, with nc:operation
// attributes) to t and returns the errors met. With RollbackOnError t is
// back as it was when there are errors; with StopOnError it keeps what was
// applied before the first one (RFC 6241 §7.2).
func (m *Model) Edit(t *datastore.Tree, config *Node, o EditOptions) Errors {
	ed := &editor{m: m, t: t, o: o}
	cp := t.Checkpoint()
	defer t.Release()
	if o.Default == OpReplace {
		// default-operation replace: the config replaces the whole datastore.
		for name := range m.Schema.Root.Dir {
			t.Delete(datastore.P(name))
		}
	}
	_ = ed.children(m.Schema.Root, nil, config, o.Default)
	if len(ed.errs) > 0 && o.OnError == RollbackOnError {
		t.Revert(cp)
	}
	return ed.errs
}

// Decode builds a tree from configuration data (no operation attributes).
func (m *Model) Decode(config *Node) (*datastore.Tree, Errors) {
	t := datastore.NewTree()
	errs := m.Edit(t, config, EditOptions{Default: OpMerge, OnError: StopOnError, Plain: true})
	return t, errs
}

// fail records an error; it tells whether to stop.
func (ed *editor) fail(re *RPCError) error {
	ed.errs = append(ed.errs, re)
	if ed.o.OnError == ContinueOnError {
		return nil
	}
	return errStop
}

func (ed *editor) errAt(p datastore.Path, tag, msg string, info ...InfoItem) error {
	re := rpcErr(TypeApplication, tag, msg, info...)
	ed.m.setPath(re, p)
	return ed.fail(re)
}

// operation reads the nc:operation attribute of x (inherit when absent).
func (ed *editor) operation(x *Node, p datastore.Path, inherit Operation) (Operation, error) {
	for _, a := range x.Attrs {
		switch {
		case a.Name.Space == nsBase && a.Name.Local == "operation":
			if ed.o.Plain {
				return 0, ed.errAt(p, TagBadAttribute, "operation attributes are not accepted here",
					InfoItem{"bad-attribute", "operation"}, InfoItem{"bad-element", x.Local})
			}
			op, ok := opNames[a.Value]
			if !ok || op == OpNone {
				return 0, ed.errAt(p, TagBadAttribute, fmt.Sprintf("%q is not an edit operation", a.Value),
					InfoItem{"bad-attribute", "operation"}, InfoItem{"bad-element", x.Local})
			}
			inherit = op
		case a.Name.Space == nsYang && (a.Name.Local == "insert" || a.Name.Local == "key" || a.Name.Local == "value"):
			if a.Name.Local == "insert" && a.Value == "last" {
				continue
			}
			if a.Name.Local == "insert" {
				return 0, ed.errAt(p, TagOperationNotSupported, "entries of user-ordered lists keep the order they were created in; only insert=\"last\" is supported",
					InfoItem{"bad-attribute", "insert"}, InfoItem{"bad-element", x.Local})
			}
		case a.Name.Space == "" || a.Name.Space == nsBase:
			return 0, ed.errAt(p, TagUnknownAttribute, fmt.Sprintf("unknown attribute %s", a.Name.Local),
				InfoItem{"bad-attribute", a.Name.Local}, InfoItem{"bad-element", x.Local})
		}
	}
	return inherit, nil
}

// children applies the child elements of x (the node at path p, schema e).
func (ed *editor) children(e *yang.Entry, p datastore.Path, x *Node, op Operation) error {
	if strings.TrimSpace(x.Text) != "" && len(x.Children) > 0 {
		return ed.errAt(p, TagBadElement, fmt.Sprintf("%s mixes text and elements", x.Local), InfoItem{"bad-element", x.Local})
	}
	for _, c := range x.Children {
		if err := ed.node(e, p, c, op); err != nil {
			return err
		}
	}
	return nil
}

// value checks a leaf's text against its type and returns the canonical
// value. Text is taken as written; when that does not fit the type, without
// the white space around it (pretty-printed documents).
func (ed *editor) value(e *yang.Entry, x *Node) (string, error) {
	if len(x.Children) > 0 {
		return "", fmt.Errorf("%s is a leaf and takes no elements", x.Local)
	}
	v, err := ed.m.Schema.CheckValue(e, x.Text)
	if err == nil {
		return v, nil
	}
	if t := strings.TrimSpace(x.Text); t != x.Text {
		if v, err2 := ed.m.Schema.CheckValue(e, t); err2 == nil {
			return v, nil
		}
	}
	if schema.HasExt(e, "mask") {
		if _, ok := datastore.MaskLen(x.TrimText()); !ok {
			return "", fmt.Errorf("%s is not a contiguous mask", x.TrimText())
		}
	}
	return "", err
}

func (ed *editor) node(parent *yang.Entry, pp datastore.Path, x *Node, inherit Operation) error {
	e, re := ed.m.child(parent, pp, x)
	if re != nil {
		return ed.fail(re)
	}
	switch {
	case e.IsLeaf():
		if schema.IsKeyLeaf(e) {
			// The entry took it as its key.
			return nil
		}
		return ed.leaf(e, pp.Child(e.Name), x, inherit)
	case e.IsLeafList():
		p := pp.Child(e.Name)
		v, err := ed.value(e, x)
		if err != nil {
			return ed.errAt(p, TagInvalidValue, err.Error(), InfoItem{"bad-element", x.Local})
		}
		p = pp.Child(e.Name, v)
		op, err := ed.operation(x, p, inherit)
		if err != nil {
			return err
		}
		_, exists := ed.t.Get(p)
		return ed.apply(p, op, exists, func() { ed.t.SetPresence(p) })
	case e.IsList():
		keys := schema.Keys(e)
		vals := make([]string, len(keys))
		path := pp.Child(e.Name)
		for i, k := range keys {
			var kx *Node
			for _, c := range x.Children {
				if c.Local == k && c.Space == ed.m.ns[e.Dir[k]] {
					if kx != nil {
						return ed.errAt(path, TagBadElement, fmt.Sprintf("the key %s is given twice", k), InfoItem{"bad-element", k})
					}
					kx = c
				}
			}
			if kx == nil {
				return ed.errAt(path, TagMissingElement, fmt.Sprintf("the key %s of %s is missing", k, e.Name), InfoItem{"bad-element", k})
			}
			v, err := ed.value(e.Dir[k], kx)
			if err != nil {
				return ed.errAt(path, TagInvalidValue, fmt.Sprintf("key %s: %v", k, err), InfoItem{"bad-element", k})
			}
			vals[i] = v
		}
		p := pp.Child(e.Name, vals...)
		op, err := ed.operation(x, p, inherit)
		if err != nil {
			return err
		}
		for _, c := range x.Children {
			if ke := e.Dir[c.Local]; ke != nil && schema.IsKeyLeaf(ke) && ed.m.ns[ke] == c.Space {
				if kop, err := ed.operation(c, p, op); err != nil {
					return err
				} else if kop != op {
					return ed.errAt(p, TagBadAttribute, "a key leaf cannot take an operation of its own",
						InfoItem{"bad-attribute", "operation"}, InfoItem{"bad-element", c.Local})
				}
			}
		}
		return ed.inner(e, p, x, op, func() bool { _, ok := ed.t.Get(p); return ok })
	case e.IsContainer():
		p := pp.Child(e.Name)
		op, err := ed.operation(x, p, inherit)
		if err != nil {
			return err
		}
		if schema.IsPresence(e) {
			return ed.inner(e, p, x, op, func() bool { _, ok := ed.t.Get(p); return ok })
		}
		// A container without presence exists through its descendants
		// (a scan of the tree: asked only when the operation needs it).
		return ed.inner(e, p, x, op, func() bool { return ed.t.Exists(p) })
	}
	return ed.errAt(pp, TagUnknownElement, fmt.Sprintf("%s is not a configuration node here", x.Local), InfoItem{"bad-element", x.Local})
}

// apply performs op on a node that exists or not; create makes it.
func (ed *editor) apply(p datastore.Path, op Operation, exists bool, create func()) error {
	switch op {
	case OpCreate:
		if exists {
			return ed.errAt(p, TagDataExists, "the node already exists")
		}
		create()
	case OpMerge, OpReplace:
		create()
	case OpDelete:
		if !exists {
			return ed.errAt(p, TagDataMissing, "the node does not exist")
		}
		ed.t.Delete(p)
	case OpRemove:
		ed.t.Delete(p)
	}
	return nil
}

// inner handles a list entry or a container: the node itself, then its
// children.
func (ed *editor) inner(e *yang.Entry, p datastore.Path, x *Node, op Operation, exists func() bool) error {
	presence := e.IsList() || schema.IsPresence(e)
	switch op {
	case OpNone:
		if presence && !exists() {
			return ed.errAt(p, TagDataMissing, "the node does not exist (default-operation none creates nothing)")
		}
	case OpCreate:
		if exists() {
			return ed.errAt(p, TagDataExists, "the node already exists")
		}
	case OpDelete, OpRemove:
		if op == OpDelete && !exists() {
			return ed.errAt(p, TagDataMissing, "the node does not exist")
		}
		ed.t.Delete(p)
		return nil
	case OpReplace:
		ed.t.Delete(p)
	}
	if op != OpNone && presence {
		ed.t.SetPresence(p)
	}
	return ed.children(e, p, x, op)
}

func (ed *editor) leaf(e *yang.Entry, p datastore.Path, x *Node, inherit Operation) error {
	op, err := ed.operation(x, p, inherit)
	if err != nil {
		return err
	}
	_, exists := ed.t.Get(p)
	switch op {
	case OpNone:
		return nil
	case OpDelete, OpRemove:
		if op == OpDelete && !exists {
			return ed.errAt(p, TagDataMissing, "the leaf does not exist")
		}
		ed.t.DeleteLeaf(p)
		return nil
	}
	v, verr := ed.value(e, x)
	if verr != nil {
		return ed.errAt(p, TagInvalidValue, verr.Error(), InfoItem{"bad-element", x.Local})
	}
	return ed.apply(p, op, exists, func() { ed.t.Set(p, v) })
}
