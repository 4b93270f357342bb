package datastore

import (
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/yang/schema"
)

// registration is one owner of some schema path prefixes, or one marking of
// prefixes as not supported yet (p nil).
type registration struct {
	p        Participant
	what     string // the marking's name: "MPLS LDP"
	prefixes []string
}

// Register makes p the owner of the configuration under each prefix, a
// schema path such as "/interfaces" or "/interfaces/interface/mpls". A
// node belongs to the registration (or Unsupported marking) with the
// longest prefix that matches it, so an owner of "/interfaces" does not own
// "/interfaces/interface/mpls" when another registered that. p gets
// Prepare, Apply and Abort for the changes of the nodes it owns, and
// Validate for every validation. Registration happens before the first
// commit; CheckOwners then tells whether every node has exactly one owner.
func (s *Store) Register(p Participant, prefixes ...string) {
	s.addRegistration(registration{p: p, prefixes: cleanPrefixes(prefixes)})
}

// Unsupported marks the configuration under each prefix as not supported
// yet: a change that creates or modifies a node there is refused with
// "<what> is not supported yet" (what is, e.g., "MPLS LDP"). Removing such
// a node is accepted. A service that comes to support the nodes registers
// for the same prefixes instead.
func (s *Store) Unsupported(what string, prefixes ...string) {
	s.addRegistration(registration{what: what, prefixes: cleanPrefixes(prefixes)})
}

func (s *Store) addRegistration(r registration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.regs = append(s.regs, r)
	s.ownerCache = nil
}

func cleanPrefixes(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = "/" + strings.Trim(p, "/")
	}
	return out
}

// ownerIndex returns the index in regs of the owner of a schema path
// ("/a/b/c"), or -1. The longest matching prefix wins; among equal ones
// the first registered (CheckOwners reports those).
func ownerIndex(regs []registration, schemaPath string) int {
	best, bestLen := -1, -1
	for i, r := range regs {
		for _, pre := range r.prefixes {
			if (pre == "/" || schemaPath == pre || strings.HasPrefix(schemaPath, pre+"/")) && len(pre) > bestLen {
				best, bestLen = i, len(pre)
			}
		}
	}
	return best
}

// owners snapshots the registrations and a lookup of owners by schema path.
func (s *Store) owners() ([]registration, func(schemaPath string) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	regs := s.regs
	if s.ownerCache == nil {
		s.ownerCache = map[string]int{}
	}
	cache := s.ownerCache
	return regs, func(sp string) int {
		s.mu.Lock()
		defer s.mu.Unlock()
		if i, ok := cache[sp]; ok {
			return i
		}
		i := ownerIndex(regs, sp)
		cache[sp] = i
		return i
	}
}

// ownershipErrors refuses the nodes that ops create or modify and that no
// participant owns: those marked unsupported (one refusal per marking) and
// those nobody registered for.
func ownershipErrors(regs []registration, owner func(string) int, ops []Op) []*RuleError {
	var errs []*RuleError
	seen := map[string]bool{}
	for _, op := range ops {
		if op.Delete {
			continue
		}
		sp := op.Path.SchemaString()
		i := owner(sp)
		switch {
		case i >= 0 && regs[i].p != nil:
			continue
		case i >= 0:
			if seen[regs[i].what] {
				continue
			}
			seen[regs[i].what] = true
			e := Refuse(op.Path, "%s is not supported yet", regs[i].what)
			e.Unsupported = true
			errs = append(errs, e)
		default:
			if seen[sp] {
				continue
			}
			seen[sp] = true
			e := Refuse(op.Path, "The configuration %s is not supported", sp)
			e.Unsupported = true
			errs = append(errs, e)
		}
	}
	return errs
}

// OwnersError is what CheckOwners finds wrong.
type OwnersError struct {
	// Unowned lists the configuration nodes (schema paths) that no
	// participant owns and that are not marked unsupported.
	Unowned []string
	// Unknown lists registered prefixes that name no configuration node.
	Unknown []string
	// Twice lists prefixes registered more than once.
	Twice []string
}

func (e *OwnersError) Error() string {
	var parts []string
	if len(e.Unowned) > 0 {
		parts = append(parts, "configuration nodes without an owner (register a participant or mark them unsupported): "+strings.Join(e.Unowned, ", "))
	}
	if len(e.Unknown) > 0 {
		parts = append(parts, "registered paths that are not in the schema: "+strings.Join(e.Unknown, ", "))
	}
	if len(e.Twice) > 0 {
		parts = append(parts, "paths registered twice: "+strings.Join(e.Twice, ", "))
	}
	return strings.Join(parts, "; ")
}

// CheckOwners checks the registrations against the schema: every
// configuration node has an owner or is marked unsupported, every
// registered prefix names a node, and no prefix is registered twice. The
// daemon refuses to start otherwise. It returns nil or an *OwnersError.
func (s *Store) CheckOwners() error {
	regs, owner := s.owners()
	e := &OwnersError{}
	seen := map[string]bool{}
	for _, r := range regs {
		for _, pre := range r.prefixes {
			if seen[pre] {
				e.Twice = append(e.Twice, pre)
			}
			seen[pre] = true
			if s.Schema.Find(strings.Split(strings.Trim(pre, "/"), "/")...) == nil || pre == "/" {
				e.Unknown = append(e.Unknown, pre)
			}
		}
	}
	// A node nobody owns is reported once, with its descendants, when none
	// of them has an owner either; a non-presence container holds nothing
	// of its own, so only its descendants count.
	ownedBelow := func(p string) bool {
		for _, r := range regs {
			for _, pre := range r.prefixes {
				if strings.HasPrefix(pre, p+"/") {
					return true
				}
			}
		}
		return false
	}
	var walk func(en *yang.Entry, path string)
	walk = func(en *yang.Entry, path string) {
		for _, c := range s.Schema.Children(en) {
			if c.Config == yang.TSFalse {
				continue
			}
			p := path + "/" + c.Name
			if owner(p) < 0 {
				below := ownedBelow(p)
				if !below || c.IsLeaf() || c.IsLeafList() || c.IsList() || schema.IsPresence(c) {
					e.Unowned = append(e.Unowned, p)
				}
				if !below {
					continue
				}
			}
			walk(c, p)
		}
	}
	walk(s.Schema.Root, "")
	if len(e.Unowned)+len(e.Unknown)+len(e.Twice) == 0 {
		return nil
	}
	sort.Strings(e.Unowned)
	return e
}

// Owner names the owner of a schema path for messages and tests: the
// participant, or the marking's name, or "" when nobody owns it.
func (s *Store) Owner(schemaPath string) (p Participant, unsupported string) {
	regs, owner := s.owners()
	i := owner("/" + strings.Trim(schemaPath, "/"))
	if i < 0 {
		return nil, ""
	}
	return regs[i].p, regs[i].what
}
