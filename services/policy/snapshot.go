package policy

import (
	"slices"
	"strconv"
	"strings"
)

// PolicyState is a route-policy as `display route-policy` shows it.
type PolicyState struct {
	Name  string
	Nodes []NodeState
}

// NodeState is one node: its mode, how many routes it matched (permitted
// or denied) since the node was created, and its clauses as VRP prints
// them.
type NodeState struct {
	Seq     uint32
	Permit  bool
	Matched uint64
	Match   []string
	Apply   []string
}

// PrefixListState is a prefix list as `display ip ip-prefix` shows it:
// how many prefixes it permitted and denied, and its entries by index.
type PrefixListState struct {
	Name      string
	Permitted uint64
	Denied    uint64
	Entries   []PrefixEntry
}

// PolicyState returns the route-policy name (every one, sorted by name,
// when name is ""); nil when it does not exist.
func (s *Set) PolicyState(name string) []PolicyState {
	if s == nil {
		return nil
	}
	var names []string
	if name == "" {
		for n := range s.policies {
			names = append(names, n)
		}
		slices.Sort(names)
	} else if _, ok := s.policies[name]; ok {
		names = []string{name}
	}
	var out []PolicyState
	for _, n := range names {
		p := s.policies[n]
		st := PolicyState{Name: n}
		for i := range p.nodes {
			nd := &p.nodes[i]
			st.Nodes = append(st.Nodes, NodeState{
				Seq: nd.seq, Permit: nd.permit, Matched: nd.matched.Load(),
				Match: matchClauses(&nd.match), Apply: applyClauses(&nd.act),
			})
		}
		out = append(out, st)
	}
	return out
}

// matchClauses prints the if-match clauses in configuration order.
func matchClauses(m *Match) []string {
	var out []string
	if m.IPPrefix != "" {
		out = append(out, "if-match ip-prefix "+m.IPPrefix)
	}
	for _, c := range m.CommunityFilters {
		l := "if-match community-filter " + c.Name
		if c.WholeMatch {
			l += " whole-match"
		}
		out = append(out, l)
	}
	for _, f := range m.ExtCommunityFilters {
		out = append(out, "if-match extcommunity-filter "+f)
	}
	for _, f := range m.ASPathFilters {
		out = append(out, "if-match as-path-filter "+f)
	}
	if m.HasCost {
		out = append(out, "if-match cost "+strconv.FormatUint(uint64(m.Cost), 10))
	}
	return out
}

// applyClauses prints the apply clauses in configuration order.
func applyClauses(a *Apply) []string {
	var out []string
	if a.HasLocalPref {
		out = append(out, "apply local-preference "+strconv.FormatUint(uint64(a.LocalPref), 10))
	}
	if a.HasCost {
		out = append(out, "apply cost "+strconv.FormatUint(uint64(a.Cost), 10))
	}
	if c := a.Community; c != nil {
		switch {
		case c.None:
			out = append(out, "apply community none")
		default:
			l := "apply community " + strings.Join(c.Words, " ")
			if c.Additive {
				l += " additive"
			}
			out = append(out, l)
		}
	}
	if e := a.ExtCommunity; e != nil {
		l := "apply extcommunity"
		for _, w := range e.Words {
			l += " rt " + w
		}
		if e.Additive {
			l += " additive"
		}
		out = append(out, l)
	}
	if a.HasPreferredValue {
		out = append(out, "apply preferred-value "+strconv.FormatUint(uint64(a.PreferredValue), 10))
	}
	if p := a.ASPath; p != nil {
		l := "apply as-path"
		for _, asn := range p.ASNs {
			l += " " + strconv.FormatUint(uint64(asn), 10)
		}
		if p.Additive {
			l += " additive"
		}
		out = append(out, l)
	}
	return out
}

// PrefixListState returns the prefix list name (every one, sorted by
// name, when name is ""); nil when it does not exist.
func (s *Set) PrefixListState(name string) []PrefixListState {
	if s == nil {
		return nil
	}
	var names []string
	if name == "" {
		for n := range s.prefixLists {
			names = append(names, n)
		}
		slices.Sort(names)
	} else if _, ok := s.prefixLists[name]; ok {
		names = []string{name}
	}
	var out []PrefixListState
	for _, n := range names {
		l := s.prefixLists[n]
		p, d := l.Counters()
		out = append(out, PrefixListState{Name: n, Permitted: p, Denied: d, Entries: slices.Clone(s.cfg.PrefixLists[n])})
	}
	return out
}
