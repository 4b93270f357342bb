package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

// Helpers that build configurations the way FromTree returns them.

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// pe is a prefix-list entry: ge and le -1 when not given.
func pe(index uint32, permit bool, prefix string, ge, le int) PrefixEntry {
	return PrefixEntry{Index: index, Permit: permit, Prefix: pfx(prefix), GE: ge, LE: le}
}

func comm(t testing.TB, words ...string) CommunityEntry {
	t.Helper()
	e := CommunityEntry{Permit: true, Words: words}
	for _, w := range words {
		if w == "internet" {
			e.Internet = true
			continue
		}
		c, err := ParseCommunity(w)
		if err != nil {
			t.Fatal(err)
		}
		e.Communities = append(e.Communities, c)
	}
	return e
}

func rts(t testing.TB, words ...string) []ExtCommunity {
	t.Helper()
	var out []ExtCommunity
	for _, w := range words {
		rt, err := ParseRouteTarget(w)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rt)
	}
	return out
}

func cs(t testing.TB, words ...string) []uint32 {
	t.Helper()
	var out []uint32
	for _, w := range words {
		c, err := ParseCommunity(w)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func seq(asns ...uint32) Segment { return Segment{Type: ASSequence, ASNs: asns} }

func TestPrefixListMatch(t *testing.T) {
	cases := []struct {
		name    string
		entries []PrefixEntry
		in      string
		want    bool
	}{
		{"exact length only", []PrefixEntry{pe(10, true, "10.0.0.0/8", -1, -1)}, "10.0.0.0/8", true},
		{"exact: longer is not matched", []PrefixEntry{pe(10, true, "10.0.0.0/8", -1, -1)}, "10.0.0.0/9", false},
		{"exact: other network", []PrefixEntry{pe(10, true, "10.0.0.0/8", -1, -1)}, "11.0.0.0/8", false},
		{"greater-equal alone goes to 32", []PrefixEntry{pe(10, true, "10.0.0.0/8", 24, -1)}, "10.9.9.9/32", true},
		{"greater-equal: shorter is not matched", []PrefixEntry{pe(10, true, "10.0.0.0/8", 24, -1)}, "10.9.0.0/16", false},
		{"less-equal alone starts at the mask", []PrefixEntry{pe(10, true, "10.0.0.0/8", -1, 16)}, "10.9.0.0/16", true},
		{"less-equal: longer is not matched", []PrefixEntry{pe(10, true, "10.0.0.0/8", -1, 16)}, "10.9.9.0/24", false},
		{"less-equal: the mask itself", []PrefixEntry{pe(10, true, "10.0.0.0/8", -1, 16)}, "10.0.0.0/8", true},
		{"both", []PrefixEntry{pe(10, true, "10.1.0.0/16", 24, 28)}, "10.1.7.16/28", true},
		{"both: too long", []PrefixEntry{pe(10, true, "10.1.0.0/16", 24, 28)}, "10.1.7.16/29", false},
		{"both: too short", []PrefixEntry{pe(10, true, "10.1.0.0/16", 24, 28)}, "10.1.0.0/23", false},
		{"0.0.0.0 0 is the default route only", []PrefixEntry{pe(10, true, "0.0.0.0/0", -1, -1)}, "0.0.0.0/0", true},
		{"0.0.0.0 0 is not 10/8", []PrefixEntry{pe(10, true, "0.0.0.0/0", -1, -1)}, "10.0.0.0/8", false},
		{"0.0.0.0 0 less-equal 32 is everything", []PrefixEntry{pe(10, true, "0.0.0.0/0", -1, 32)}, "203.0.113.7/32", true},
		{"an unmasked address matches as its network", []PrefixEntry{pe(10, true, "10.1.1.1/24", -1, -1)}, "10.1.1.0/24", true},
		{"no entry matches: deny", []PrefixEntry{pe(10, true, "10.0.0.0/8", -1, 32)}, "192.168.0.0/16", false},
		{"a deny entry that matches denies", []PrefixEntry{pe(10, false, "10.0.0.0/8", -1, 32)}, "10.1.0.0/16", false},
		{"first index decides (deny before permit)", []PrefixEntry{pe(5, false, "10.1.0.0/16", -1, 32), pe(10, true, "10.0.0.0/8", -1, 32)}, "10.1.2.0/24", false},
		{"first index decides (falls to permit)", []PrefixEntry{pe(5, false, "10.1.0.0/16", -1, 32), pe(10, true, "10.0.0.0/8", -1, 32)}, "10.2.0.0/24", true},
		{"IPv6 is denied", []PrefixEntry{pe(10, true, "0.0.0.0/0", -1, 32)}, "2001:db8::/32", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Compile(Config{PrefixLists: map[string][]PrefixEntry{"p": c.entries}}, nil)
			if got := s.PrefixList("p").Permit(pfx(c.in)); got != c.want {
				t.Errorf("Permit(%s) = %v, want %v", c.in, got, c.want)
			}
			if got := s.PermitPrefix("p", pfx(c.in)); got != c.want {
				t.Errorf("PermitPrefix(%s) = %v, want %v", c.in, got, c.want)
			}
		})
	}
	s := Compile(Config{}, nil)
	if !s.PermitPrefix("missing", pfx("10.0.0.0/8")) {
		t.Error("a prefix list that does not exist filters nothing (peer ip-prefix)")
	}
}

func TestPrefixListCounters(t *testing.T) {
	c := Config{PrefixLists: map[string][]PrefixEntry{"p": {pe(10, true, "10.0.0.0/8", -1, 32)}}}
	s := Compile(c, nil)
	l := s.PrefixList("p")
	l.Permit(pfx("10.1.0.0/16"))
	l.Permit(pfx("10.2.0.0/16"))
	l.Permit(pfx("11.0.0.0/8"))
	if p, d := l.Counters(); p != 2 || d != 1 {
		t.Fatalf("counters %d/%d, want 2/1", p, d)
	}
	// A new compile of the same list keeps its counters; a new list starts at 0.
	c.PrefixLists["q"] = []PrefixEntry{pe(10, true, "0.0.0.0/0", -1, 32)}
	s2 := Compile(c, s)
	if p, d := s2.PrefixList("p").Counters(); p != 2 || d != 1 {
		t.Errorf("carried counters %d/%d, want 2/1", p, d)
	}
	if p, d := s2.PrefixList("q").Counters(); p != 0 || d != 0 {
		t.Errorf("new list counters %d/%d", p, d)
	}
	if s2.Generation() != s.Generation()+1 {
		t.Errorf("generation %d after %d", s2.Generation(), s.Generation())
	}
}

// filters used by the policy tests.
func testFilters(t testing.TB) Config {
	deny := comm(t, "65000:666")
	deny.Permit = false
	deny.Index = 5
	c1 := comm(t, "65000:100", "65000:101")
	c1.Index = 10
	inet := comm(t, "internet")
	inet.Index = 10
	return Config{
		PrefixLists: map[string][]PrefixEntry{
			"cust":  {pe(10, true, "172.16.0.0/12", -1, 24)},
			"bogon": {pe(10, true, "10.0.0.0/8", -1, 32), pe(20, true, "192.168.0.0/16", -1, 32)},
		},
		CommunityFilters: map[string][]CommunityEntry{
			"1":   {deny, c1},
			"any": {inet},
		},
		ExtCommunityFilters: map[string][]ExtCommunityEntry{
			"red": {{Index: 10, Permit: true, RTs: rts(t, "65000:100")}},
			"both": {{Index: 10, Permit: false, RTs: rts(t, "65000:999")},
				{Index: 20, Permit: true, RTs: rts(t, "65000:100", "65000:200")}},
		},
		ASPathFilters: map[string][]ASPathEntry{
			"from-64501": {{Index: 10, Permit: true, Regex: "^64501_"}},
			"local":      {{Index: 10, Permit: true, Regex: "^$"}},
			"via-64502":  {{Index: 10, Permit: false, Regex: "_64503_"}, {Index: 20, Permit: true, Regex: "_64502_"}},
		},
	}
}

func TestPolicyEvaluate(t *testing.T) {
	base := Route{
		Prefix:         pfx("172.16.1.0/24"),
		NextHop:        netip.MustParseAddr("192.0.2.2"),
		Cost:           20,
		LocalPref:      100,
		ASPath:         []Segment{seq(64501, 64502)},
		Communities:    cs(t, "65000:100", "65000:101"),
		ExtCommunities: rts(t, "65000:100", "65000:200"),
	}
	with := func(f func(r *Route)) Route {
		r := base
		r.ASPath = slices.Clone(base.ASPath)
		r.Communities = slices.Clone(base.Communities)
		r.ExtCommunities = slices.Clone(base.ExtCommunities)
		f(&r)
		return r
	}
	permitAll := Node{Seq: 100, Permit: true}
	cases := []struct {
		name   string
		nodes  []Node
		route  Route
		permit bool
		node   int
	}{
		{"no node: deny", nil, base, false, -1},
		{"a node without clauses matches everything", []Node{{Seq: 10, Permit: true}}, base, true, 10},
		{"a deny node without clauses denies everything", []Node{{Seq: 10}, permitAll}, base, false, 10},
		{"ascending order, not configuration order", []Node{permitAll, {Seq: 10, Match: Match{IPPrefix: "cust"}}}, base, false, 10},
		{"a node that does not match passes on", []Node{{Seq: 10, Match: Match{IPPrefix: "bogon"}}, permitAll}, base, true, 100},
		{"no node matches: deny", []Node{{Seq: 10, Permit: true, Match: Match{IPPrefix: "bogon"}}}, base, false, -1},
		{"a prefix list that does not exist matches every route", []Node{{Seq: 10, Match: Match{IPPrefix: "nope"}}, permitAll}, base, false, 10},
		{"if-match cost", []Node{{Seq: 10, Permit: true, Match: Match{Cost: 20, HasCost: true}}}, base, true, 10},
		{"if-match cost: other cost", []Node{{Seq: 10, Permit: true, Match: Match{Cost: 21, HasCost: true}}}, base, false, -1},
		{"community filter: every listed community is carried", []Node{{Seq: 10, Permit: true, Match: Match{CommunityFilters: []CommunityMatch{{Name: "1"}}}}}, base, true, 10},
		{"community filter: one missing", []Node{{Seq: 10, Permit: true, Match: Match{CommunityFilters: []CommunityMatch{{Name: "1"}}}}},
			with(func(r *Route) { r.Communities = cs(t, "65000:100") }), false, -1},
		{"community filter: a deny entry first", []Node{{Seq: 10, Permit: true, Match: Match{CommunityFilters: []CommunityMatch{{Name: "1"}}}}},
			with(func(r *Route) { r.Communities = append(r.Communities, cs(t, "65000:666")...) }), false, -1},
		{"community filter: whole-match with exactly these", []Node{{Seq: 10, Permit: true, Match: Match{CommunityFilters: []CommunityMatch{{Name: "1", WholeMatch: true}}}}},
			with(func(r *Route) { r.Communities = cs(t, "65000:101", "65000:100", "65000:101") }), true, 10},
		{"community filter: whole-match with one more", []Node{{Seq: 10, Permit: true, Match: Match{CommunityFilters: []CommunityMatch{{Name: "1", WholeMatch: true}}}}},
			with(func(r *Route) { r.Communities = append(r.Communities, cs(t, "no-export")...) }), false, -1},
		{"community filter: internet matches a route without communities", []Node{{Seq: 10, Permit: true, Match: Match{CommunityFilters: []CommunityMatch{{Name: "any"}}}}},
			with(func(r *Route) { r.Communities = nil }), true, 10},
		{"several community filters: one is enough", []Node{{Seq: 10, Permit: true, Match: Match{CommunityFilters: []CommunityMatch{{Name: "1"}, {Name: "any"}}}}},
			with(func(r *Route) { r.Communities = nil }), true, 10},
		{"a community filter that does not exist matches", []Node{{Seq: 10, Permit: true, Match: Match{CommunityFilters: []CommunityMatch{{Name: "9"}}}}},
			with(func(r *Route) { r.Communities = nil }), true, 10},
		{"extcommunity filter", []Node{{Seq: 10, Permit: true, Match: Match{ExtCommunityFilters: []string{"red"}}}}, base, true, 10},
		{"extcommunity filter: target missing", []Node{{Seq: 10, Permit: true, Match: Match{ExtCommunityFilters: []string{"red"}}}},
			with(func(r *Route) { r.ExtCommunities = rts(t, "65000:200") }), false, -1},
		{"extcommunity filter: every listed target", []Node{{Seq: 10, Permit: true, Match: Match{ExtCommunityFilters: []string{"both"}}}},
			with(func(r *Route) { r.ExtCommunities = rts(t, "65000:200") }), false, -1},
		{"extcommunity filter: deny entry first", []Node{{Seq: 10, Permit: true, Match: Match{ExtCommunityFilters: []string{"both"}}}},
			with(func(r *Route) { r.ExtCommunities = append(r.ExtCommunities, rts(t, "65000:999")...) }), false, -1},
		{"as-path filter ^64501_", []Node{{Seq: 10, Permit: true, Match: Match{ASPathFilters: []string{"from-64501"}}}}, base, true, 10},
		{"as-path filter ^64501_ does not match 645011", []Node{{Seq: 10, Permit: true, Match: Match{ASPathFilters: []string{"from-64501"}}}},
			with(func(r *Route) { r.ASPath = []Segment{seq(645011)} }), false, -1},
		{"as-path filter ^64501_ matches the last AS too", []Node{{Seq: 10, Permit: true, Match: Match{ASPathFilters: []string{"from-64501"}}}},
			with(func(r *Route) { r.ASPath = []Segment{seq(64501)} }), true, 10},
		{"as-path filter ^$: local routes", []Node{{Seq: 10, Permit: true, Match: Match{ASPathFilters: []string{"local"}}}},
			with(func(r *Route) { r.ASPath = nil }), true, 10},
		{"as-path filter ^$: not a learned route", []Node{{Seq: 10, Permit: true, Match: Match{ASPathFilters: []string{"local"}}}}, base, false, -1},
		{"as-path filter: deny entry", []Node{{Seq: 10, Permit: true, Match: Match{ASPathFilters: []string{"via-64502"}}}},
			with(func(r *Route) { r.ASPath = []Segment{seq(64502, 64503)} }), false, -1},
		{"as-path filter: an AS set", []Node{{Seq: 10, Permit: true, Match: Match{ASPathFilters: []string{"via-64502"}}}},
			with(func(r *Route) { r.ASPath = []Segment{seq(64510), {Type: ASSet, ASNs: []uint32{64501, 64502}}} }), true, 10},
		{"clauses of different kinds: all must match", []Node{{Seq: 10, Permit: true, Match: Match{IPPrefix: "cust", ASPathFilters: []string{"local"}}}}, base, false, -1},
		{"clauses of different kinds: all match", []Node{{Seq: 10, Permit: true, Match: Match{IPPrefix: "cust", ASPathFilters: []string{"from-64501"},
			ExtCommunityFilters: []string{"red"}, CommunityFilters: []CommunityMatch{{Name: "1"}}, Cost: 20, HasCost: true}}}, base, true, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testFilters(t)
			cfg.Policies = map[string][]Node{"p": c.nodes}
			s := Compile(cfg, nil)
			res := s.Evaluate("p", c.route)
			if res.Permit != c.permit || res.Node != c.node {
				t.Fatalf("permit %v at node %d, want %v at node %d", res.Permit, res.Node, c.permit, c.node)
			}
			if c.permit && !reflect.DeepEqual(res.Route, c.route) {
				t.Errorf("route changed without apply clauses: %+v", res.Route)
			}
		})
	}
	if res := Compile(testFilters(t), nil).Evaluate("missing", base); res.Permit || res.Node != -1 {
		t.Errorf("a route-policy that does not exist: %+v, want deny", res)
	}
}

func TestPolicyApply(t *testing.T) {
	other := ExtCommunity(0x030c_0000_0000_0008) // an encapsulation extended community, not a target
	in := Route{
		Prefix:         pfx("172.16.1.0/24"),
		LocalPref:      100,
		Cost:           5,
		ASPath:         []Segment{seq(64501)},
		Communities:    cs(t, "65000:1"),
		ExtCommunities: append(rts(t, "65000:100"), other),
	}
	keep := Route{ASPath: []Segment{seq(64501)}, Communities: cs(t, "65000:1"), ExtCommunities: append(rts(t, "65000:100"), other)}
	cases := []struct {
		name  string
		apply Apply
		set   Attrs
		check func(r Route) bool
	}{
		{"local-preference", Apply{LocalPref: 300, HasLocalPref: true}, AttrLocalPref, func(r Route) bool { return r.LocalPref == 300 && r.Cost == 5 }},
		{"cost", Apply{Cost: 0, HasCost: true}, AttrCost, func(r Route) bool { return r.Cost == 0 }},
		{"preferred-value", Apply{PreferredValue: 7, HasPreferredValue: true}, AttrPreferredValue, func(r Route) bool { return r.PreferredValue == 7 }},
		{"community replaces", Apply{Community: &CommunityAction{Values: cs(t, "65000:2", "no-export")}}, AttrCommunities,
			func(r Route) bool { return slices.Equal(r.Communities, cs(t, "65000:2", "no-export")) }},
		{"community additive adds once", Apply{Community: &CommunityAction{Additive: true, Values: cs(t, "65000:1", "65000:3")}}, AttrCommunities,
			func(r Route) bool { return slices.Equal(r.Communities, cs(t, "65000:1", "65000:3")) }},
		{"community none", Apply{Community: &CommunityAction{None: true}}, AttrCommunities, func(r Route) bool { return len(r.Communities) == 0 }},
		{"extcommunity replaces the targets, keeps the rest", Apply{ExtCommunity: &ExtCommunityAction{RTs: rts(t, "65000:200")}}, AttrExtCommunities,
			func(r Route) bool {
				return slices.Equal(r.ExtCommunities, []ExtCommunity{other, rts(t, "65000:200")[0]})
			}},
		{"extcommunity additive", Apply{ExtCommunity: &ExtCommunityAction{Additive: true, RTs: rts(t, "65000:100", "65000:200")}}, AttrExtCommunities,
			func(r Route) bool {
				return slices.Equal(r.ExtCommunities, []ExtCommunity{rts(t, "65000:100")[0], other, rts(t, "65000:200")[0]})
			}},
		{"as-path additive prepends in order", Apply{ASPath: &ASPathAction{Additive: true, ASNs: []uint32{65000, 65000}}}, AttrASPath,
			func(r Route) bool { return ASPathString(r.ASPath) == "65000 65000 64501" && len(r.ASPath) == 1 }},
		{"as-path replaces", Apply{ASPath: &ASPathAction{ASNs: []uint32{65000}}}, AttrASPath,
			func(r Route) bool { return ASPathString(r.ASPath) == "65000" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Compile(Config{Policies: map[string][]Node{"p": {{Seq: 10, Permit: true, Apply: c.apply}}}}, nil)
			res := s.Evaluate("p", in)
			if !res.Permit || res.Set != c.set || !c.check(res.Route) {
				t.Fatalf("got %+v (set %b), want set %b", res.Route, res.Set, c.set)
			}
			if !reflect.DeepEqual(in.ASPath, keep.ASPath) || !slices.Equal(in.Communities, keep.Communities) ||
				!slices.Equal(in.ExtCommunities, keep.ExtCommunities) {
				t.Fatalf("the input route changed: %+v", in)
			}
		})
	}
	// A deny node's apply clauses never run.
	s := Compile(Config{Policies: map[string][]Node{"p": {{Seq: 10, Apply: Apply{LocalPref: 1, HasLocalPref: true}}}}}, nil)
	if res := s.Evaluate("p", in); res.Permit || res.Route.LocalPref != 0 || res.Set != 0 {
		t.Errorf("deny node: %+v", res)
	}
}

func TestPrependASPath(t *testing.T) {
	set := Segment{Type: ASSet, ASNs: []uint32{1, 2}}
	long := make([]uint32, 254)
	cases := []struct {
		in   []Segment
		add  []uint32
		want string
		segs int
	}{
		{nil, []uint32{65000}, "65000", 1},
		{[]Segment{seq(1, 2)}, []uint32{9, 8}, "9 8 1 2", 1},
		{[]Segment{set}, []uint32{9}, "9 {1,2}", 2},
		{[]Segment{seq(long...)}, []uint32{9, 9}, "", 2},
	}
	for _, c := range cases {
		got := prependASPath(c.in, c.add)
		if len(got) != c.segs || (c.want != "" && ASPathString(got) != c.want) {
			t.Errorf("prepend %v to %v = %v", c.add, c.in, got)
		}
	}
}

func TestNodeCounters(t *testing.T) {
	cfg := Config{
		PrefixLists: map[string][]PrefixEntry{"ten": {pe(10, true, "10.0.0.0/8", -1, 32)}},
		Policies:    map[string][]Node{"p": {{Seq: 10, Match: Match{IPPrefix: "ten"}}, {Seq: 20, Permit: true}}},
	}
	s := Compile(cfg, nil)
	for _, p := range []string{"10.1.0.0/16", "10.2.0.0/16", "192.0.2.0/24"} {
		s.Evaluate("p", Route{Prefix: pfx(p)})
	}
	st := s.PolicyState("p")
	if len(st) != 1 || len(st[0].Nodes) != 2 || st[0].Nodes[0].Matched != 2 || st[0].Nodes[1].Matched != 1 {
		t.Fatalf("state %+v", st)
	}
	// Node 20 changes: its counter stays; a new node starts at 0.
	cfg.Policies["p"] = []Node{{Seq: 10, Match: Match{IPPrefix: "ten"}}, {Seq: 20, Permit: true, Apply: Apply{Cost: 1, HasCost: true}}, {Seq: 30}}
	st = Compile(cfg, s).PolicyState("p")
	if st[0].Nodes[1].Matched != 1 || st[0].Nodes[2].Matched != 0 {
		t.Fatalf("carried %+v", st)
	}
}

// TestIndexAgreesWithWalk: the node index gives the outcome of a plain
// walk over every node, for random policies of prefix-list nodes (permit
// and deny entries, ranges, lists that do not exist, nodes without a
// prefix clause) and random routes.
func TestIndexAgreesWithWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randPrefix := func() netip.Prefix {
		l := rng.IntN(33)
		return netip.PrefixFrom(addr(uint32(10)<<24|rng.Uint32()>>uint(8+rng.IntN(8))), l).Masked()
	}
	for trial := range 200 {
		c := Config{PrefixLists: map[string][]PrefixEntry{}, Policies: map[string][]Node{}}
		for l := range 8 {
			var es []PrefixEntry
			for i := range 1 + rng.IntN(4) {
				p := randPrefix()
				ge, le := -1, -1
				if rng.IntN(2) == 0 {
					ge = p.Bits() + rng.IntN(33-p.Bits())
				}
				if rng.IntN(2) == 0 {
					le = max(ge, p.Bits()) + rng.IntN(33-max(ge, p.Bits()))
				}
				es = append(es, PrefixEntry{Index: uint32(i + 1), Permit: rng.IntN(3) > 0, Prefix: p, GE: ge, LE: le})
			}
			c.PrefixLists[fmt.Sprint("l", l)] = es
		}
		var nodes []Node
		for i := range 1 + rng.IntN(40) {
			n := Node{Seq: uint32(rng.IntN(1000)*64 + i), Permit: rng.IntN(2) == 0}
			if rng.IntN(5) > 0 {
				n.Match.IPPrefix = fmt.Sprint("l", rng.IntN(10)) // l8, l9 do not exist
			}
			nodes = append(nodes, n)
		}
		c.Policies["p"] = nodes
		indexed := Compile(c, nil).Policy("p")
		walked := Compile(c, nil).Policy("p")
		walked.index = nil
		if indexed.index == nil {
			t.Fatal("no index")
		}
		for range 300 {
			r := Route{Prefix: randPrefix()}
			a, b := indexed.Evaluate(r), walked.Evaluate(r)
			if a.Permit != b.Permit || a.Node != b.Node {
				t.Fatalf("trial %d, %v: index %v@%d, walk %v@%d", trial, r.Prefix, a.Permit, a.Node, b.Permit, b.Node)
			}
		}
	}
}
