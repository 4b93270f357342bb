package datastore

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/yang/schema"
)

// validateSchema checks every item against the schema: known nodes, keys,
// leaf types, leafrefs, and mandatory leaves of existing nodes.
func validateSchema(s *schema.Schema, t *Tree) []error {
	var errs []error
	refs := &refIndex{t: t, sets: map[string]map[string]bool{}}
	for _, it := range t.items {
		e := s.Root
		ok := true
		for i, el := range it.Path {
			if e.Dir == nil || e.Dir[el.Name] == nil {
				errs = append(errs, &PathError{Path: it.Path[:i+1], Err: fmt.Errorf("unknown configuration node %s", it.Path[:i+1]), bare: true})
				ok = false
				break
			}
			e = e.Dir[el.Name]
			switch {
			case e.IsList():
				keys := schema.Keys(e)
				if len(el.Keys) != len(keys) {
					errs = append(errs, pathErr(it.Path[:i+1], errors.New("wrong number of keys")))
					ok = false
				}
				for j, k := range keys {
					if j < len(el.Keys) {
						if err := checkLeaf(s, refs, e.Dir[k], el.Keys[j]); err != nil {
							errs = append(errs, pathErr(it.Path[:i+1], err))
							ok = false
						}
					}
				}
			case e.IsLeafList():
				if len(el.Keys) == 1 {
					if err := checkLeaf(s, refs, e, el.Keys[0]); err != nil {
						errs = append(errs, pathErr(it.Path[:i+1], err))
					}
				}
			}
			if !ok {
				break
			}
			if schema.IsPresence(e) && i < len(it.Path)-1 {
				if _, there := t.Get(it.Path[:i+1]); !there {
					errs = append(errs, pathErr(it.Path, fmt.Errorf("the container %s does not exist", it.Path[:i+1])))
					ok = false
					break
				}
			}
		}
		if !ok {
			continue
		}
		if e.IsLeaf() {
			if schema.IsKeyLeaf(e) {
				continue // checked with the list entry
			}
			if err := checkLeaf(s, refs, e, it.Value); err != nil {
				errs = append(errs, pathErr(it.Path, err))
			}
		}
		if e.IsList() || schema.IsPresence(e) {
			errs = append(errs, checkMandatory(t, it.Path, e)...)
		}
	}
	errs = append(errs, checkMandatory(t, nil, s.Root)...)
	return errs
}

// PathError is a schema problem of the node at Path (a value of the wrong
// type, a missing mandatory leaf, a leafref to nothing). Its text is
// "<path>: <problem>".
type PathError struct {
	Path Path
	Err  error
	bare bool // the text is Err's alone (it names the path itself)
}

func pathErr(p Path, err error) *PathError { return &PathError{Path: p, Err: err} }

func (e *PathError) Error() string {
	if e.bare {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *PathError) Unwrap() error { return e.Err }

// ErrorPath returns the node a validation problem is about: a RuleError's
// or a PathError's path; ok is false for a problem about no node.
func ErrorPath(err error) (Path, bool) {
	var re *RuleError
	if errors.As(err, &re) && len(re.Path) > 0 {
		return re.Path, true
	}
	var pe *PathError
	if errors.As(err, &pe) && len(pe.Path) > 0 {
		return pe.Path, true
	}
	return nil, false
}

// refIndex answers leafref lookups: the first keys of the entries of a list.
type refIndex struct {
	t    *Tree
	sets map[string]map[string]bool
}

func (r *refIndex) exists(target []string, v string) bool {
	k := strings.Join(target, "/")
	set, ok := r.sets[k]
	if !ok {
		set = map[string]bool{}
		for _, it := range r.t.items {
			if len(it.Path) != len(target)-1 {
				continue
			}
			match := true
			for i, el := range it.Path {
				if el.Name != target[i] {
					match = false
					break
				}
			}
			if match && len(it.Path.Last().Keys) > 0 {
				set[it.Path.Last().Keys[0]] = true
			}
		}
		r.sets[k] = set
	}
	return set[v]
}

func checkLeaf(s *schema.Schema, refs *refIndex, e *yang.Entry, v string) error {
	c, err := s.CheckValue(e, v)
	if err != nil {
		return err
	}
	if c != v {
		return fmt.Errorf("value %q is not canonical (%q)", v, c)
	}
	if schema.HasExt(e, "mask") {
		if _, ok := MaskLen(v); !ok {
			return fmt.Errorf("%s is not a contiguous mask", v)
		}
	}
	if e.Type != nil && e.Type.Kind == yang.Yleafref {
		target := leafrefTarget(e.Type.Path)
		if len(target) >= 2 && !refs.exists(target, v) {
			return &MissingRef{Kind: target[len(target)-2], Value: v}
		}
	}
	return nil
}

// MissingRef is a leafref whose target does not exist.
type MissingRef struct{ Kind, Value string }

func (m *MissingRef) Error() string {
	return fmt.Sprintf("the %s %s does not exist", strings.ReplaceAll(m.Kind, "-", " "), m.Value)
}

func leafrefTarget(p string) []string {
	var out []string
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if i := strings.IndexByte(part, ':'); i >= 0 {
			part = part[i+1:]
		}
		out = append(out, part)
	}
	return out
}

// checkMandatory checks the mandatory leaves of node p (schema e), looking
// through non-presence containers.
func checkMandatory(t *Tree, p Path, e *yang.Entry) []error {
	var errs []error
	for name, c := range e.Dir {
		cp := p.Child(name)
		switch {
		case c.IsLeaf():
			if c.Mandatory == yang.TSTrue && !schema.IsKeyLeaf(c) {
				if _, ok := t.Get(cp); !ok {
					errs = append(errs, pathErr(p, fmt.Errorf("mandatory %s is missing", name)))
				}
			}
		case c.IsContainer() && !schema.IsPresence(c):
			errs = append(errs, checkMandatory(t, cp, c)...)
		}
	}
	return errs
}

// MaskLen returns the prefix length of a dotted contiguous mask.
func MaskLen(m string) (int, bool) {
	a, err := netip.ParseAddr(m)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for n < 32 && v&(1<<(31-n)) != 0 {
		n++
	}
	if n < 32 && v<<n != 0 {
		return 0, false
	}
	return n, true
}

// LenMask returns the dotted mask of a prefix length 0-32.
func LenMask(n int) string {
	var v uint32
	if n > 0 {
		v = ^uint32(0) << (32 - n)
	}
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&255, v>>8&255, v&255)
}
