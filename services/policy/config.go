package policy

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"vpnos/yang/datastore"
)

// Prefixes are the configuration paths this package owns (module
// vpnos-routing-policy).
var Prefixes = []string{"/ip-prefixes", "/community-filters", "/extcommunity-filters", "/as-path-filters", "/route-policies"}

// Configuration paths.
var (
	pathPrefixLists = datastore.P("ip-prefixes")
	pathCommunities = datastore.P("community-filters")
	pathExtComms    = datastore.P("extcommunity-filters")
	pathASPaths     = datastore.P("as-path-filters")
	pathPolicies    = datastore.P("route-policies")
)

// Config is the typed routing-policy configuration. Filters are keyed by
// name; a numbered filter (ip community-filter 1) by its number in
// decimal, which no named filter can be (names hold a non-digit).
type Config struct {
	PrefixLists         map[string][]PrefixEntry       // ip ip-prefix, by index
	CommunityFilters    map[string][]CommunityEntry    // ip community-filter, by index
	ExtCommunityFilters map[string][]ExtCommunityEntry // ip extcommunity-filter, by index
	ASPathFilters       map[string][]ASPathEntry       // ip as-path-filter, by index
	Policies            map[string][]Node              // route-policy, by node
}

// PrefixEntry is one `ip ip-prefix NAME index N permit|deny P L [greater-equal G] [less-equal E]`.
type PrefixEntry struct {
	Index  uint32
	Permit bool
	// Prefix is the address and mask length as configured (the address
	// need not be the network address: matching uses the masked prefix).
	Prefix netip.Prefix
	// GE and LE are greater-equal and less-equal, -1 when not given.
	GE, LE int
}

// Range is the range of prefix lengths the entry matches: [len, len]
// without greater-equal and less-equal, [ge, 32] with greater-equal
// alone, [len, le] with less-equal alone.
func (e PrefixEntry) Range() (lo, hi int) {
	lo, hi = e.Prefix.Bits(), e.Prefix.Bits()
	switch {
	case e.GE >= 0 && e.LE >= 0:
		lo, hi = e.GE, e.LE
	case e.GE >= 0:
		lo, hi = e.GE, 32
	case e.LE >= 0:
		hi = e.LE
	}
	return lo, hi
}

// CommunityEntry is one entry of a basic community filter: the route
// matches when it carries every listed community (`internet` is carried by
// every route).
type CommunityEntry struct {
	Index       uint32
	Permit      bool
	Communities []uint32 // without internet
	Internet    bool     // internet was listed
	Words       []string // as configured
}

// ExtCommunityEntry is one entry of a basic extended-community filter: the
// route matches when it carries every listed route target.
type ExtCommunityEntry struct {
	Index  uint32
	Permit bool
	RTs    []ExtCommunity
	Words  []string
}

// ASPathEntry is one entry of an AS-path filter: a VRP regular expression
// over the AS path as text (see ASPathString).
type ASPathEntry struct {
	Index  uint32
	Permit bool
	Regex  string
}

// Node is one node of a route-policy.
type Node struct {
	Seq    uint32
	Permit bool
	Match  Match
	Apply  Apply
}

// Match holds the if-match clauses of a node. Clauses of different kinds
// must all match (AND); several clauses of one kind (if-match
// community-filter 1, if-match community-filter 2) match when one of them
// does (OR).
type Match struct {
	IPPrefix            string // "" when not configured
	CommunityFilters    []CommunityMatch
	ExtCommunityFilters []string
	ASPathFilters       []string
	Cost                uint32
	HasCost             bool
}

// CommunityMatch is one `if-match community-filter NAME [whole-match]`.
type CommunityMatch struct {
	Name       string
	WholeMatch bool
}

// Apply holds the apply clauses of a node (run only by permit nodes).
type Apply struct {
	LocalPref         uint32
	HasLocalPref      bool
	Cost              uint32
	HasCost           bool
	PreferredValue    uint32
	HasPreferredValue bool
	Community         *CommunityAction
	ExtCommunity      *ExtCommunityAction
	ASPath            *ASPathAction
}

// CommunityAction is `apply community VALUES [additive]` or `apply
// community none`.
type CommunityAction struct {
	None     bool
	Additive bool
	Values   []uint32
	Words    []string
}

// ExtCommunityAction is `apply extcommunity rt RT... [additive]`: without
// additive the route's route targets are replaced (its other extended
// communities stay); with it the targets are added.
type ExtCommunityAction struct {
	Additive bool
	RTs      []ExtCommunity
	Words    []string
}

// ASPathAction is `apply as-path AS... [additive]`: with additive the
// numbers are prepended (in the given order) to the path, without it they
// replace the path.
type ASPathAction struct {
	Additive bool
	ASNs     []uint32
}

// reader gathers problems while a tree is read.
type reader struct {
	t        *datastore.Tree
	problems []*datastore.RuleError
}

func (r *reader) refuse(p datastore.Path, format string, a ...any) {
	r.problems = append(r.problems, datastore.Refuse(p, format, a...))
}

func (r *reader) get(p datastore.Path) (string, bool) { return r.t.Get(p) }

func (r *reader) has(p datastore.Path) bool { _, ok := r.t.Get(p); return ok }

func (r *reader) uint(p datastore.Path, bits int) (uint32, bool) {
	v, ok := r.t.Get(p)
	if !ok {
		return 0, false
	}
	n, err := parseDec(v, bits)
	if err != nil {
		r.refuse(p, "The value %s is not valid", v)
		return 0, false
	}
	return uint32(n), true
}

func (r *reader) permit(p datastore.Path) bool {
	v, _ := r.t.Get(p.Child("mode"))
	return v == "permit"
}

// index reads a list entry's index key (the last key).
func index(it *datastore.Item) uint32 {
	k := it.Path.Last().Keys
	n, _ := strconv.ParseUint(k[len(k)-1], 10, 32)
	return uint32(n)
}

// FromTree reads the routing-policy configuration of t (pure). The
// problems are the values a schema cannot refuse on its own: prefix length
// ranges, community and route target values, AS numbers and regular
// expressions; a node with a problem is left out of the configuration.
func FromTree(t *datastore.Tree) (Config, []*datastore.RuleError) {
	r := &reader{t: t}
	c := Config{
		PrefixLists:         map[string][]PrefixEntry{},
		CommunityFilters:    map[string][]CommunityEntry{},
		ExtCommunityFilters: map[string][]ExtCommunityEntry{},
		ASPathFilters:       map[string][]ASPathEntry{},
		Policies:            map[string][]Node{},
	}
	for _, it := range t.Entries(pathPrefixLists, "ip-prefix") {
		name := it.Path.Last().Keys[0]
		if e, ok := r.prefixEntry(it); ok {
			c.PrefixLists[name] = append(c.PrefixLists[name], e)
		}
	}
	for _, list := range []string{"numbered", "named"} {
		for _, it := range t.Entries(pathCommunities, list) {
			name := it.Path.Last().Keys[0]
			if e, ok := r.communityEntry(it); ok {
				c.CommunityFilters[name] = append(c.CommunityFilters[name], e)
			}
		}
		for _, it := range t.Entries(pathExtComms, list) {
			name := it.Path.Last().Keys[0]
			if e, ok := r.extCommunityEntry(it); ok {
				c.ExtCommunityFilters[name] = append(c.ExtCommunityFilters[name], e)
			}
		}
	}
	for _, it := range t.Entries(pathASPaths, "as-path-filter") {
		name := it.Path.Last().Keys[0]
		if e, ok := r.asPathEntry(it); ok {
			c.ASPathFilters[name] = append(c.ASPathFilters[name], e)
		}
	}
	for _, it := range t.Entries(pathPolicies, "route-policy") {
		name := it.Path.Last().Keys[0]
		if n, ok := r.node(it); ok {
			c.Policies[name] = append(c.Policies[name], n)
		}
	}
	for _, l := range c.PrefixLists {
		slices.SortFunc(l, func(a, b PrefixEntry) int { return cmp.Compare(a.Index, b.Index) })
	}
	for _, l := range c.CommunityFilters {
		slices.SortFunc(l, func(a, b CommunityEntry) int { return cmp.Compare(a.Index, b.Index) })
	}
	for _, l := range c.ExtCommunityFilters {
		slices.SortFunc(l, func(a, b ExtCommunityEntry) int { return cmp.Compare(a.Index, b.Index) })
	}
	for _, l := range c.ASPathFilters {
		slices.SortFunc(l, func(a, b ASPathEntry) int { return cmp.Compare(a.Index, b.Index) })
	}
	for _, l := range c.Policies {
		slices.SortFunc(l, func(a, b Node) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	return c, r.problems
}

func (r *reader) prefixEntry(it *datastore.Item) (PrefixEntry, bool) {
	p := it.Path
	e := PrefixEntry{Index: index(it), Permit: r.permit(p), GE: -1, LE: -1}
	addr, _ := r.get(p.Child("address"))
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		r.refuse(p, "The address %s is not valid", addr)
		return e, false
	}
	n, ok := r.uint(p.Child("mask-length"), 8)
	if !ok || n > 32 {
		r.refuse(p, "The mask length is not valid")
		return e, false
	}
	e.Prefix = netip.PrefixFrom(a, int(n))
	if v, ok := r.uint(p.Child("greater-equal"), 8); ok {
		e.GE = int(v)
	}
	if v, ok := r.uint(p.Child("less-equal"), 8); ok {
		e.LE = int(v)
	}
	// VRP requires mask-length <= greater-equal <= less-equal <= 32.
	l := int(n)
	switch {
	case e.GE > 32 || e.LE > 32:
		r.refuse(p, "The greater-equal and less-equal values must not exceed 32")
		return e, false
	case e.GE >= 0 && e.GE < l:
		r.refuse(p, "The greater-equal value (%d) must be greater than or equal to the mask length (%d)", e.GE, l)
		return e, false
	case e.LE >= 0 && e.LE < l:
		r.refuse(p, "The less-equal value (%d) must be greater than or equal to the mask length (%d)", e.LE, l)
		return e, false
	case e.GE >= 0 && e.LE >= 0 && e.LE < e.GE:
		r.refuse(p, "The less-equal value (%d) must be greater than or equal to the greater-equal value (%d)", e.LE, e.GE)
		return e, false
	}
	return e, true
}

func (r *reader) communityEntry(it *datastore.Item) (CommunityEntry, bool) {
	p := it.Path
	e := CommunityEntry{Index: index(it), Permit: r.permit(p)}
	v, _ := r.get(p.Child("community"))
	e.Words = strings.Fields(v)
	if len(e.Words) == 0 {
		r.refuse(p, "A community filter entry needs at least one community")
		return e, false
	}
	for _, w := range e.Words {
		if w == "internet" {
			e.Internet = true
			continue
		}
		c, err := ParseCommunity(w)
		if err != nil {
			r.refuse(p, "The community %s is not valid (AA:NN with each part 0-65535, a number 0-4294967295, or internet, no-export, no-advertise, no-export-subconfed)", w)
			return e, false
		}
		if !slices.Contains(e.Communities, c) {
			e.Communities = append(e.Communities, c)
		}
	}
	return e, true
}

func (r *reader) routeTargets(p datastore.Path, v string) ([]ExtCommunity, []string, bool) {
	words := strings.Fields(v)
	var out []ExtCommunity
	if len(words) == 0 {
		r.refuse(p, "At least one route target is needed")
		return nil, nil, false
	}
	for _, w := range words {
		rt, err := ParseRouteTarget(w)
		if err != nil {
			r.refuse(p, "The route target %s is not valid", w)
			return nil, nil, false
		}
		if !slices.Contains(out, rt) {
			out = append(out, rt)
		}
	}
	return out, words, true
}

func (r *reader) extCommunityEntry(it *datastore.Item) (ExtCommunityEntry, bool) {
	p := it.Path
	e := ExtCommunityEntry{Index: index(it), Permit: r.permit(p)}
	v, _ := r.get(p.Child("rt"))
	rts, words, ok := r.routeTargets(p, v)
	e.RTs, e.Words = rts, words
	return e, ok
}

func (r *reader) asPathEntry(it *datastore.Item) (ASPathEntry, bool) {
	p := it.Path
	e := ASPathEntry{Index: index(it), Permit: r.permit(p)}
	e.Regex, _ = r.get(p.Child("regular-expression"))
	if _, err := compileASPathRegex(e.Regex); err != nil {
		r.refuse(p, "The regular expression %s is not valid: %v", e.Regex, err)
		return e, false
	}
	return e, true
}

func (r *reader) node(it *datastore.Item) (Node, bool) {
	p := it.Path
	k := p.Last().Keys
	seq, _ := strconv.ParseUint(k[1], 10, 32)
	n := Node{Seq: uint32(seq), Permit: r.permit(p)}
	m := p.Child("if-match")
	n.Match.IPPrefix, _ = r.get(m.Child("ip-prefix"))
	for _, e := range r.t.Entries(m, "community-filter") {
		n.Match.CommunityFilters = append(n.Match.CommunityFilters,
			CommunityMatch{Name: e.Path.Last().Keys[0], WholeMatch: r.has(e.Path.Child("whole-match"))})
	}
	for _, e := range r.t.Entries(m, "extcommunity-filter") {
		n.Match.ExtCommunityFilters = append(n.Match.ExtCommunityFilters, e.Path.Last().Keys[0])
	}
	for _, e := range r.t.Entries(m, "as-path-filter") {
		n.Match.ASPathFilters = append(n.Match.ASPathFilters, e.Path.Last().Keys[0])
	}
	n.Match.Cost, n.Match.HasCost = r.uint(m.Child("cost"), 32)
	a := p.Child("apply")
	n.Apply.LocalPref, n.Apply.HasLocalPref = r.uint(a.Child("local-preference"), 32)
	n.Apply.Cost, n.Apply.HasCost = r.uint(a.Child("cost"), 32)
	n.Apply.PreferredValue, n.Apply.HasPreferredValue = r.uint(a.Child("preferred-value"), 16)
	ok := true
	if c := a.Child("community"); r.has(c) {
		act := &CommunityAction{None: r.has(c.Child("none")), Additive: r.has(c.Child("additive"))}
		v, _ := r.get(c.Child("value"))
		act.Words = strings.Fields(v)
		switch {
		case act.None && len(act.Words) > 0:
			r.refuse(c, "apply community none takes no community")
			ok = false
		case !act.None && len(act.Words) == 0:
			r.refuse(c, "apply community needs a community or none")
			ok = false
		}
		for _, w := range act.Words {
			v, err := ParseCommunity(w)
			if err != nil {
				r.refuse(c, "The community %s is not valid (AA:NN with each part 0-65535, a number 0-4294967295, or internet, no-export, no-advertise, no-export-subconfed)", w)
				ok = false
				break
			}
			if !slices.Contains(act.Values, v) {
				act.Values = append(act.Values, v)
			}
		}
		n.Apply.Community = act
	}
	if c := a.Child("extcommunity"); r.has(c) {
		act := &ExtCommunityAction{Additive: r.has(c.Child("additive"))}
		v, _ := r.get(c.Child("rt"))
		var good bool
		act.RTs, act.Words, good = r.routeTargets(c, v)
		ok = ok && good
		n.Apply.ExtCommunity = act
	}
	if c := a.Child("as-path"); r.has(c) {
		act := &ASPathAction{Additive: r.has(c.Child("additive"))}
		v, _ := r.get(c.Child("as-number"))
		words := strings.Fields(v)
		if len(words) == 0 || len(words) > maxApplyASNs {
			r.refuse(c, "apply as-path takes 1 to %d AS numbers", maxApplyASNs)
			ok = false
		}
		for _, w := range words {
			asn, err := ParseASN(w)
			if err != nil {
				r.refuse(c, "The AS number %s is not valid", w)
				ok = false
				break
			}
			act.ASNs = append(act.ASNs, asn)
		}
		n.Apply.ASPath = act
	}
	return n, ok
}

// maxApplyASNs is how many AS numbers `apply as-path` takes (VRP: 10).
const maxApplyASNs = 10

// Validate returns the refusals of the routing-policy rules for the
// configuration c leads to (pure; see datastore.Validator). The rules read
// only this package's nodes, so a change that leaves them as running has
// them (running was validated) is not read again.
func Validate(c *datastore.Change) []*datastore.RuleError {
	if len(c.Paths) == 0 && c.Old != nil {
		return nil
	}
	_, problems := FromTree(c.New)
	return problems
}
