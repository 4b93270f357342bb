package policy

import (
	"cmp"
	"math/bits"
	"net/netip"
	"regexp"
	"slices"
	"sync/atomic"
)

// Set is a compiled routing-policy configuration: every route-policy with
// its filters resolved. A Set never changes once compiled (only its match
// counters move), so any number of goroutines may evaluate it at once;
// the Owner replaces the current Set as a whole when a commit applies.
type Set struct {
	cfg         Config
	gen         uint64
	policies    map[string]*Policy
	prefixLists map[string]*PrefixList
	communities map[string]*CommunityFilter
	extComms    map[string]*ExtCommunityFilter
	asPaths     map[string]*ASPathFilter
}

// Attrs says which attributes apply clauses set.
type Attrs uint8

// Attributes an apply clause can set.
const (
	AttrCost Attrs = 1 << iota
	AttrLocalPref
	AttrPreferredValue
	AttrASPath
	AttrCommunities
	AttrExtCommunities
)

// Result is the outcome of a route-policy for one route.
type Result struct {
	// Permit: the route passes (a permit node matched).
	Permit bool
	// Route is the route after the apply clauses of the permit node (the
	// input route, changed); the zero Route when denied.
	Route Route
	// Set lists the attributes the apply clauses set (BGP adds MED or
	// LOCAL_PREF when the route had none).
	Set Attrs
	// Node is the node that decided, -1 when no node matched (or the
	// policy does not exist).
	Node int
}

// PrefixList is a compiled `ip ip-prefix` list.
type PrefixList struct {
	name      string
	entries   []prefixEntry
	permitted *atomic.Uint64
	denied    *atomic.Uint64
}

type prefixEntry struct {
	net, mask uint32
	lo, hi    uint8
	permit    bool
}

// CommunityFilter is a compiled basic `ip community-filter`.
type CommunityFilter struct {
	name    string
	entries []communityEntry
}

type communityEntry struct {
	permit   bool
	internet bool
	comms    []uint32 // sorted
}

// ExtCommunityFilter is a compiled basic `ip extcommunity-filter`.
type ExtCommunityFilter struct {
	name    string
	entries []extEntry
}

type extEntry struct {
	permit bool
	rts    []ExtCommunity
}

// ASPathFilter is a compiled `ip as-path-filter`.
type ASPathFilter struct {
	name    string
	entries []asPathEntry
}

type asPathEntry struct {
	permit bool
	re     *regexp.Regexp
}

// Policy is a compiled route-policy.
type Policy struct {
	name  string
	nodes []node
	index *nodeIndex // nil: walk every node
}

type node struct {
	seq    uint32
	permit bool
	// The if-match clauses. A clause naming a filter that does not exist
	// matches every route (VRP); such references are nil entries.
	hasPrefix bool
	prefix    *PrefixList
	comms     []commRef
	exts      []*ExtCommunityFilter
	paths     []*ASPathFilter
	hasCost   bool
	cost      uint32
	match     Match // as configured (displays)
	act       Apply
	set       Attrs
	matched   *atomic.Uint64
}

type commRef struct {
	f     *CommunityFilter
	whole bool
}

// Compile builds the Set of a configuration. Counters of lists and nodes
// that prev already had (same name, same node) carry over; prev may be
// nil. Expressions that do not compile are left out (FromTree reports
// them, so a validated configuration has none).
func Compile(c Config, prev *Set) *Set {
	s := &Set{
		cfg:         c,
		policies:    make(map[string]*Policy, len(c.Policies)),
		prefixLists: make(map[string]*PrefixList, len(c.PrefixLists)),
		communities: make(map[string]*CommunityFilter, len(c.CommunityFilters)),
		extComms:    make(map[string]*ExtCommunityFilter, len(c.ExtCommunityFilters)),
		asPaths:     make(map[string]*ASPathFilter, len(c.ASPathFilters)),
	}
	if prev != nil {
		s.gen = prev.gen + 1
	}
	for name, es := range c.PrefixLists {
		l := &PrefixList{name: name, permitted: new(atomic.Uint64), denied: new(atomic.Uint64)}
		if prev != nil {
			if o := prev.prefixLists[name]; o != nil {
				l.permitted, l.denied = o.permitted, o.denied
			}
		}
		for _, e := range es {
			lo, hi := e.Range()
			b := e.Prefix.Addr().As4()
			bits := e.Prefix.Bits()
			// A route shorter than the entry's prefix is never inside it
			// (a validated entry has lo >= bits already).
			lo = max(lo, bits)
			var mask uint32
			if bits > 0 {
				mask = ^uint32(0) << (32 - bits)
			}
			l.entries = append(l.entries, prefixEntry{
				net: be32(b) & mask, mask: mask, lo: uint8(lo), hi: uint8(hi), permit: e.Permit,
			})
		}
		s.prefixLists[name] = l
	}
	for name, es := range c.CommunityFilters {
		f := &CommunityFilter{name: name}
		for _, e := range es {
			cs := slices.Clone(e.Communities)
			slices.Sort(cs)
			cs = slices.Compact(cs)
			f.entries = append(f.entries, communityEntry{permit: e.Permit, internet: e.Internet, comms: cs})
		}
		s.communities[name] = f
	}
	for name, es := range c.ExtCommunityFilters {
		f := &ExtCommunityFilter{name: name}
		for _, e := range es {
			f.entries = append(f.entries, extEntry{permit: e.Permit, rts: slices.Clone(e.RTs)})
		}
		s.extComms[name] = f
	}
	for name, es := range c.ASPathFilters {
		f := &ASPathFilter{name: name}
		for _, e := range es {
			re, err := compileASPathRegex(e.Regex)
			if err != nil {
				continue
			}
			f.entries = append(f.entries, asPathEntry{permit: e.Permit, re: re})
		}
		s.asPaths[name] = f
	}
	for name, ns := range c.Policies {
		p := &Policy{name: name}
		var old map[uint32]*atomic.Uint64
		if prev != nil {
			if o := prev.policies[name]; o != nil {
				old = map[uint32]*atomic.Uint64{}
				for i := range o.nodes {
					old[o.nodes[i].seq] = o.nodes[i].matched
				}
			}
		}
		for _, n := range ns {
			cn := node{seq: n.Seq, permit: n.Permit, match: n.Match, act: n.Apply, matched: old[n.Seq]}
			if cn.matched == nil {
				cn.matched = new(atomic.Uint64)
			}
			if n.Match.IPPrefix != "" {
				cn.hasPrefix = true
				cn.prefix = s.prefixLists[n.Match.IPPrefix]
			}
			for _, m := range n.Match.CommunityFilters {
				cn.comms = append(cn.comms, commRef{f: s.communities[m.Name], whole: m.WholeMatch})
			}
			for _, m := range n.Match.ExtCommunityFilters {
				cn.exts = append(cn.exts, s.extComms[m])
			}
			for _, m := range n.Match.ASPathFilters {
				cn.paths = append(cn.paths, s.asPaths[m])
			}
			cn.hasCost, cn.cost = n.Match.HasCost, n.Match.Cost
			a := n.Apply
			if a.HasCost {
				cn.set |= AttrCost
			}
			if a.HasLocalPref {
				cn.set |= AttrLocalPref
			}
			if a.HasPreferredValue {
				cn.set |= AttrPreferredValue
			}
			if a.Community != nil {
				cn.set |= AttrCommunities
			}
			if a.ExtCommunity != nil {
				cn.set |= AttrExtCommunities
			}
			if a.ASPath != nil {
				cn.set |= AttrASPath
			}
			p.nodes = append(p.nodes, cn)
		}
		slices.SortFunc(p.nodes, func(a, b node) int { return cmp.Compare(a.seq, b.seq) })
		p.buildIndex()
		s.policies[name] = p
	}
	return s
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Config returns the configuration the set was compiled from. It must not
// be modified.
func (s *Set) Config() Config { return s.cfg }

// Generation counts the sets an Owner applied: each Apply makes the next.
func (s *Set) Generation() uint64 { return s.gen }

// Policy returns the route-policy name, nil when it does not exist.
func (s *Set) Policy(name string) *Policy {
	if s == nil {
		return nil
	}
	return s.policies[name]
}

// PrefixList returns the prefix list name, nil when it does not exist.
func (s *Set) PrefixList(name string) *PrefixList {
	if s == nil {
		return nil
	}
	return s.prefixLists[name]
}

// Evaluate runs the route-policy name on r. A policy that does not exist
// denies every route (as an empty policy does: no node matches).
func (s *Set) Evaluate(name string, r Route) Result {
	p := s.Policy(name)
	if p == nil {
		return Result{Node: -1}
	}
	return p.Evaluate(r)
}

// PermitPrefix filters with the prefix list name (`peer X ip-prefix NAME
// import|export`): the first entry that matches decides, no match denies.
// A list that does not exist filters nothing: every prefix passes.
func (s *Set) PermitPrefix(name string, p netip.Prefix) bool {
	l := s.PrefixList(name)
	if l == nil {
		return true
	}
	return l.Permit(p)
}

// Name returns the policy's name.
func (p *Policy) Name() string { return p.name }

// Evaluate runs the policy on r: the nodes in ascending order; the first
// node whose if-match clauses all match decides (a node without clauses
// matches every route). A permit node applies its apply clauses and
// permits, a deny node denies; when no node matches, the route is denied.
// r's slices are never modified.
func (p *Policy) Evaluate(r Route) Result {
	var ev evalCtx
	if p.index != nil {
		c := p.index.candidates(r.Prefix)
		for w, word := range c {
			for word != 0 {
				i := w*64 + bits.TrailingZeros64(word)
				word &= word - 1
				if res, done := p.nodes[i].decide(&r, &ev); done {
					return res
				}
			}
		}
		return Result{Node: -1}
	}
	for i := range p.nodes {
		if res, done := p.nodes[i].decide(&r, &ev); done {
			return res
		}
	}
	return Result{Node: -1}
}

// decide evaluates one node: done when it matched (and so decided).
func (n *node) decide(r *Route, ev *evalCtx) (Result, bool) {
	if !n.matches(r, ev) {
		return Result{}, false
	}
	n.matched.Add(1)
	if !n.permit {
		return Result{Node: int(n.seq)}, true
	}
	res := Result{Permit: true, Route: *r, Set: n.set, Node: int(n.seq)}
	n.apply(&res.Route)
	return res, true
}

// evalCtx holds what one evaluation computes at most once.
type evalCtx struct {
	asText []byte
	hasAS  bool
	comms  []uint32 // the route's communities, sorted and unique
	hasCom bool
	buf    [16]uint32
}

func (ev *evalCtx) asPath(r *Route) []byte {
	if !ev.hasAS {
		ev.asText = appendASPath(ev.asText[:0], r.ASPath)
		ev.hasAS = true
	}
	return ev.asText
}

func (ev *evalCtx) communities(r *Route) []uint32 {
	if !ev.hasCom {
		c := append(ev.buf[:0], r.Communities...)
		slices.Sort(c)
		ev.comms = slices.Compact(c)
		ev.hasCom = true
	}
	return ev.comms
}

func (n *node) matches(r *Route, ev *evalCtx) bool {
	if n.hasPrefix && n.prefix != nil && !n.prefix.Permit(r.Prefix) {
		return false
	}
	if n.hasCost && r.Cost != n.cost {
		return false
	}
	if len(n.comms) > 0 {
		ok := false
		for _, c := range n.comms {
			if c.f == nil || c.f.match(ev.communities(r), c.whole) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(n.exts) > 0 {
		ok := false
		for _, f := range n.exts {
			if f == nil || f.Match(r.ExtCommunities) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(n.paths) > 0 {
		ok := false
		for _, f := range n.paths {
			if f == nil || f.match(ev.asPath(r)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// apply runs the node's apply clauses on r (whose slices belong to the
// caller: changed ones are replaced by new slices).
func (n *node) apply(r *Route) {
	a := &n.act
	if a.HasLocalPref {
		r.LocalPref = a.LocalPref
	}
	if a.HasCost {
		r.Cost = a.Cost
	}
	if a.HasPreferredValue {
		r.PreferredValue = a.PreferredValue
	}
	if c := a.Community; c != nil {
		switch {
		case c.None:
			r.Communities = nil
		case c.Additive:
			out := make([]uint32, len(r.Communities), len(r.Communities)+len(c.Values))
			copy(out, r.Communities)
			for _, v := range c.Values {
				if !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
			r.Communities = out
		default:
			r.Communities = slices.Clone(c.Values)
		}
	}
	if e := a.ExtCommunity; e != nil {
		out := make([]ExtCommunity, 0, len(r.ExtCommunities)+len(e.RTs))
		for _, x := range r.ExtCommunities {
			if e.Additive || !x.IsRouteTarget() {
				out = append(out, x)
			}
		}
		for _, rt := range e.RTs {
			if !slices.Contains(out, rt) {
				out = append(out, rt)
			}
		}
		r.ExtCommunities = out
	}
	if p := a.ASPath; p != nil {
		if p.Additive {
			r.ASPath = prependASPath(r.ASPath, p.ASNs)
		} else {
			r.ASPath = []Segment{{Type: ASSequence, ASNs: slices.Clone(p.ASNs)}}
		}
	}
}

// maxSegment is the most AS numbers one segment holds (one octet of
// length on the wire).
const maxSegment = 255

// prependASPath returns a new path: asns, then path. They join the first
// segment when it is an AS_SEQUENCE with room for them.
func prependASPath(path []Segment, asns []uint32) []Segment {
	if len(path) > 0 && path[0].Type == ASSequence && len(path[0].ASNs)+len(asns) <= maxSegment {
		out := make([]Segment, len(path))
		copy(out, path)
		first := make([]uint32, 0, len(asns)+len(path[0].ASNs))
		first = append(append(first, asns...), path[0].ASNs...)
		out[0] = Segment{Type: ASSequence, ASNs: first}
		return out
	}
	out := make([]Segment, 0, len(path)+1)
	out = append(out, Segment{Type: ASSequence, ASNs: slices.Clone(asns)})
	return append(out, path...)
}

// Name returns the list's name.
func (l *PrefixList) Name() string { return l.name }

// Permit reports whether the list permits p: the entries in ascending
// index order, the first that matches decides; no match denies. A
// prefix that is not IPv4 is denied. The list's counters count the
// outcome.
func (l *PrefixList) Permit(p netip.Prefix) bool {
	ok := l.permit(p)
	if ok {
		l.permitted.Add(1)
	} else {
		l.denied.Add(1)
	}
	return ok
}

func (l *PrefixList) permit(p netip.Prefix) bool {
	if !p.Addr().Is4() || p.Bits() < 0 {
		return false
	}
	a := be32(p.Addr().As4())
	bits := uint8(p.Bits())
	for i := range l.entries {
		e := &l.entries[i]
		if (a^e.net)&e.mask == 0 && bits >= e.lo && bits <= e.hi {
			return e.permit
		}
	}
	return false
}

// Counters returns how many prefixes the list permitted and denied.
func (l *PrefixList) Counters() (permitted, denied uint64) {
	return l.permitted.Load(), l.denied.Load()
}

// Match reports whether the filter permits a route with the communities
// cs (in any order, repeats allowed).
func (f *CommunityFilter) Match(cs []uint32) bool {
	c := slices.Compact(slices.Sorted(slices.Values(cs)))
	return f.match(c, false)
}

// match takes the route's communities sorted and unique. An entry matches
// when the route carries every community it lists (an entry listing
// internet matches every route); with whole, when the route carries
// exactly the listed communities.
func (f *CommunityFilter) match(cs []uint32, whole bool) bool {
	for i := range f.entries {
		e := &f.entries[i]
		if e.matches(cs, whole) {
			return e.permit
		}
	}
	return false
}

func (e *communityEntry) matches(cs []uint32, whole bool) bool {
	if whole {
		return slices.Equal(e.comms, cs)
	}
	if e.internet && len(e.comms) == 0 {
		return true
	}
	for _, c := range e.comms {
		if _, ok := slices.BinarySearch(cs, c); !ok {
			return false
		}
	}
	return true
}

// Match reports whether the filter permits a route with the extended
// communities xs: an entry matches when xs holds every route target it
// lists; the first entry that matches decides; no match denies.
func (f *ExtCommunityFilter) Match(xs []ExtCommunity) bool {
	for i := range f.entries {
		e := &f.entries[i]
		all := true
		for _, rt := range e.rts {
			if !slices.Contains(xs, rt) {
				all = false
				break
			}
		}
		if all {
			return e.permit
		}
	}
	return false
}

// Match reports whether the filter permits the AS path: the first entry
// whose expression matches the path's text decides; no match denies.
func (f *ASPathFilter) Match(path []Segment) bool {
	return f.match(appendASPath(nil, path))
}

func (f *ASPathFilter) match(text []byte) bool {
	for i := range f.entries {
		if f.entries[i].re.Match(text) {
			return f.entries[i].permit
		}
	}
	return false
}
