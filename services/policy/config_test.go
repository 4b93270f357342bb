package policy

import (
	"reflect"
	"strings"
	"testing"

	"vpnos/yang/datastore"
)

// tb builds configuration trees as the CLI and NETCONF store them.
type tb struct{ t *datastore.Tree }

func newTB() *tb { return &tb{datastore.NewTree()} }

func (b *tb) entry(p datastore.Path, leaves ...string) *tb {
	b.t.SetPresence(p)
	for i := 0; i+1 < len(leaves); i += 2 {
		if leaves[i+1] == "<empty>" {
			b.t.Set(p.Child(leaves[i]), "")
			continue
		}
		b.t.Set(p.Child(leaves[i]), leaves[i+1])
	}
	return b
}

func prefixPath(name, index string) datastore.Path {
	return datastore.P("ip-prefixes", "ip-prefix", datastore.K(name, index))
}

func nodePath(name, node string) datastore.Path {
	return datastore.P("route-policies", "route-policy", datastore.K(name, node))
}

func TestFromTree(t *testing.T) {
	b := newTB().
		entry(prefixPath("p1", "20"), "mode", "deny", "address", "10.0.0.0", "mask-length", "8", "less-equal", "32").
		entry(prefixPath("p1", "5"), "mode", "permit", "address", "10.1.0.0", "mask-length", "16", "greater-equal", "24", "less-equal", "28").
		entry(datastore.P("community-filters", "numbered", datastore.K("1", "10")), "mode", "permit", "community", "65000:100 no-export 65000:100").
		entry(datastore.P("community-filters", "named", datastore.K("cust", "10")), "mode", "deny", "community", "internet").
		entry(datastore.P("extcommunity-filters", "named", datastore.K("hub", "10")), "mode", "permit", "rt", "65000:1 10.0.0.1:2").
		entry(datastore.P("as-path-filters", "as-path-filter", datastore.K("1", "10")), "mode", "permit", "regular-expression", "^65001_").
		entry(nodePath("rp", "20"), "mode", "deny").
		entry(nodePath("rp", "10"), "mode", "permit")
	n := nodePath("rp", "10")
	b.t.Set(n.Child("if-match").Child("ip-prefix"), "p1")
	b.entry(n.Child("if-match").Child("community-filter", "1"))
	b.entry(n.Child("if-match").Child("community-filter", "cust"), "whole-match", "<empty>")
	b.entry(n.Child("if-match").Child("extcommunity-filter", "hub"))
	b.entry(n.Child("if-match").Child("as-path-filter", "1"))
	b.t.Set(n.Child("if-match").Child("cost"), "20")
	b.t.Set(n.Child("apply").Child("local-preference"), "200")
	b.t.Set(n.Child("apply").Child("cost"), "0")
	b.t.Set(n.Child("apply").Child("preferred-value"), "7")
	b.entry(n.Child("apply").Child("community"), "value", "65000:300 no-advertise", "additive", "<empty>")
	b.entry(n.Child("apply").Child("extcommunity"), "rt", "65000:100 65000:200")
	b.entry(n.Child("apply").Child("as-path"), "as-number", "65000 1.0", "additive", "<empty>")

	c, problems := FromTree(b.t)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	want := Config{
		PrefixLists: map[string][]PrefixEntry{"p1": {pe(5, true, "10.1.0.0/16", 24, 28), pe(20, false, "10.0.0.0/8", -1, 32)}},
		CommunityFilters: map[string][]CommunityEntry{
			"1":    {{Index: 10, Permit: true, Communities: cs(t, "65000:100", "no-export"), Words: []string{"65000:100", "no-export", "65000:100"}}},
			"cust": {{Index: 10, Internet: true, Words: []string{"internet"}}},
		},
		ExtCommunityFilters: map[string][]ExtCommunityEntry{"hub": {{Index: 10, Permit: true, RTs: rts(t, "65000:1", "10.0.0.1:2"), Words: []string{"65000:1", "10.0.0.1:2"}}}},
		ASPathFilters:       map[string][]ASPathEntry{"1": {{Index: 10, Permit: true, Regex: "^65001_"}}},
		Policies: map[string][]Node{"rp": {
			{Seq: 10, Permit: true,
				Match: Match{IPPrefix: "p1", CommunityFilters: []CommunityMatch{{Name: "1"}, {Name: "cust", WholeMatch: true}},
					ExtCommunityFilters: []string{"hub"}, ASPathFilters: []string{"1"}, Cost: 20, HasCost: true},
				Apply: Apply{LocalPref: 200, HasLocalPref: true, Cost: 0, HasCost: true, PreferredValue: 7, HasPreferredValue: true,
					Community:    &CommunityAction{Additive: true, Values: cs(t, "65000:300", "no-advertise"), Words: []string{"65000:300", "no-advertise"}},
					ExtCommunity: &ExtCommunityAction{RTs: rts(t, "65000:100", "65000:200"), Words: []string{"65000:100", "65000:200"}},
					ASPath:       &ASPathAction{Additive: true, ASNs: []uint32{65000, 65536}}}},
			{Seq: 20},
		}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", c, want)
	}
	st := Compile(c, nil).PolicyState("rp")
	wantMatch := []string{"if-match ip-prefix p1", "if-match community-filter 1", "if-match community-filter cust whole-match",
		"if-match extcommunity-filter hub", "if-match as-path-filter 1", "if-match cost 20"}
	wantApply := []string{"apply local-preference 200", "apply cost 0", "apply community 65000:300 no-advertise additive",
		"apply extcommunity rt 65000:100 rt 65000:200", "apply preferred-value 7", "apply as-path 65000 65536 additive"}
	if !reflect.DeepEqual(st[0].Nodes[0].Match, wantMatch) || !reflect.DeepEqual(st[0].Nodes[0].Apply, wantApply) {
		t.Errorf("clauses\n%q\n%q", st[0].Nodes[0].Match, st[0].Nodes[0].Apply)
	}
}

// TestValidate: what the schema lets through and VRP refuses.
func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *tb)
		want  string // "" for no problem, else a part of the one message
	}{
		{"mask, ge and le in order", func(b *tb) {
			b.entry(prefixPath("p", "10"), "mode", "permit", "address", "10.0.0.0", "mask-length", "8", "greater-equal", "8", "less-equal", "8")
		}, ""},
		{"greater-equal below the mask length", func(b *tb) {
			b.entry(prefixPath("p", "10"), "mode", "permit", "address", "10.0.0.0", "mask-length", "16", "greater-equal", "8")
		}, "The greater-equal value (8) must be greater than or equal to the mask length (16)"},
		{"less-equal below the mask length", func(b *tb) {
			b.entry(prefixPath("p", "10"), "mode", "permit", "address", "10.0.0.0", "mask-length", "16", "less-equal", "15")
		}, "The less-equal value (15) must be greater than or equal to the mask length (16)"},
		{"less-equal below greater-equal", func(b *tb) {
			b.entry(prefixPath("p", "10"), "mode", "permit", "address", "10.0.0.0", "mask-length", "8", "greater-equal", "24", "less-equal", "16")
		}, "The less-equal value (16) must be greater than or equal to the greater-equal value (24)"},
		{"a community out of range", func(b *tb) {
			b.entry(datastore.P("community-filters", "numbered", datastore.K("1", "10")), "mode", "permit", "community", "65000:70000")
		}, "The community 65000:70000 is not valid"},
		{"a route target out of range", func(b *tb) {
			b.entry(datastore.P("extcommunity-filters", "numbered", datastore.K("1", "10")), "mode", "permit", "rt", "4200000000:70000")
		}, "The route target 4200000000:70000 is not valid"},
		{"a regular expression that does not compile", func(b *tb) {
			b.entry(datastore.P("as-path-filters", "as-path-filter", datastore.K("1", "10")), "mode", "permit", "regular-expression", "(65001")
		}, "The regular expression (65001 is not valid"},
		{"apply as-path with an AS 0", func(b *tb) {
			b.entry(nodePath("rp", "10"), "mode", "permit")
			b.entry(nodePath("rp", "10").Child("apply").Child("as-path"), "as-number", "65000 0")
		}, "The AS number 0 is not valid"},
		{"apply as-path with 11 numbers", func(b *tb) {
			b.entry(nodePath("rp", "10"), "mode", "permit")
			b.entry(nodePath("rp", "10").Child("apply").Child("as-path"), "as-number", "1 2 3 4 5 6 7 8 9 10 11")
		}, "apply as-path takes 1 to 10 AS numbers"},
		{"apply community with none and values", func(b *tb) {
			b.entry(nodePath("rp", "10"), "mode", "permit")
			b.entry(nodePath("rp", "10").Child("apply").Child("community"), "value", "1:1", "none", "<empty>")
		}, "apply community none takes no community"},
		{"references to filters that do not exist are allowed", func(b *tb) {
			n := nodePath("rp", "10")
			b.entry(n, "mode", "permit")
			b.t.Set(n.Child("if-match").Child("ip-prefix"), "nope")
			b.entry(n.Child("if-match").Child("community-filter", "7"))
			b.entry(n.Child("if-match").Child("as-path-filter", "x"))
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newTB()
			c.build(b)
			problems := Validate(&datastore.Change{New: b.t})
			switch {
			case c.want == "" && len(problems) > 0:
				t.Fatalf("refused: %v", problems)
			case c.want != "" && (len(problems) != 1 || !strings.Contains(problems[0].Msg, c.want)):
				t.Fatalf("got %v, want one problem with %q", problems, c.want)
			case c.want != "" && len(problems[0].Path) == 0:
				t.Fatalf("a problem without a path: %v", problems[0])
			}
		})
	}
}
