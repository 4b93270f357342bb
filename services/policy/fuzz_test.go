package policy

import (
	"encoding/binary"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// FuzzPrefixList compares the compiled prefix-list match with the
// definition (the masked entry prefix contains the route, and the route's
// length is in the entry's range) for any entry and route.
func FuzzPrefixList(f *testing.F) {
	f.Add(uint32(0x0a000000), uint8(8), int8(-1), int8(32), uint32(0x0a010000), uint8(16))
	f.Add(uint32(0), uint8(0), int8(-1), int8(-1), uint32(0), uint8(0))
	f.Add(uint32(0xac100000), uint8(12), int8(24), int8(28), uint32(0xac100710), uint8(28))
	f.Fuzz(func(t *testing.T, ea uint32, el uint8, ge, le int8, ra uint32, rl uint8) {
		el, rl = el%33, rl%40 // route lengths above 32 are invalid prefixes
		e := PrefixEntry{Index: 10, Permit: true, Prefix: netip.PrefixFrom(addr(ea), int(el)), GE: int(ge), LE: int(le)}
		if e.GE < -1 || e.GE > 32 {
			e.GE = -1
		}
		if e.LE < -1 || e.LE > 32 {
			e.LE = -1
		}
		r := netip.PrefixFrom(addr(ra), int(rl))
		got := Compile(Config{PrefixLists: map[string][]PrefixEntry{"p": {e}}}, nil).PrefixList("p").Permit(r)
		lo, hi := e.Range()
		want := r.IsValid() && r.Bits() >= int(el) && e.Prefix.Masked().Contains(r.Addr()) && r.Bits() >= lo && r.Bits() <= hi
		if got != want {
			t.Fatalf("entry %v ge %d le %d, route %v: got %v want %v", e.Prefix, e.GE, e.LE, r, got, want)
		}
	})
}

func addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// FuzzASPathRegex: any expression either is refused or compiles, and
// matching it against any AS path never panics; an expression of digits
// and spaces alone matches exactly when it is a substring of the path's
// text, and one wrapped in underscores matches the same path as the
// whole-word test.
func FuzzASPathRegex(f *testing.F) {
	for _, s := range []string{"^65001_", "_64512$", ".*", "^$", "_(64501|64502)_", "[0-9]+", "\\{", "(?i)", "[[:digit:]]", "_1_", "12 3"} {
		f.Add(s, []byte{0, 0, 0xfd, 0xe9, 0, 0, 0xfb, 0xf4})
	}
	f.Fuzz(func(t *testing.T, expr string, raw []byte) {
		path := pathFromBytes(raw)
		re, err := compileASPathRegex(expr)
		if err != nil {
			return
		}
		text := ASPathString(path)
		got := re.MatchString(text)
		plain := expr != "" && strings.Trim(expr, "0123456789 ") == ""
		if plain && got != strings.Contains(text, expr) {
			t.Fatalf("%q on %q: %v", expr, text, got)
		}
		if inner := strings.Trim(expr, "_"); plain == false && "_"+inner+"_" == expr && inner != "" && strings.Trim(inner, "0123456789") == "" {
			word := regexp.MustCompile(`(^|[ ,{}()\[\]])` + inner + `($|[ ,{}()\[\]])`).MatchString(text)
			if got != word {
				t.Fatalf("%q on %q: %v, word test %v", expr, text, got, word)
			}
		}
	})
}

// pathFromBytes makes an AS path of any segment types from raw bytes.
func pathFromBytes(raw []byte) []Segment {
	var path []Segment
	for len(raw) >= 5 {
		typ := SegmentType(raw[0]%4 + 1)
		asn := binary.BigEndian.Uint32(raw[1:5])
		raw = raw[5:]
		if len(path) > 0 && path[len(path)-1].Type == typ && len(path[len(path)-1].ASNs) < 4 {
			path[len(path)-1].ASNs = append(path[len(path)-1].ASNs, asn)
			continue
		}
		path = append(path, Segment{Type: typ, ASNs: []uint32{asn}})
	}
	return path
}

// FuzzCommunityFilter: any words either are refused or make a filter
// whose match is the definition (the route carries every listed
// community; internet is carried by all; whole-match: exactly these).
func FuzzCommunityFilter(f *testing.F) {
	f.Add("65000:100 no-export", []byte{0xfd, 0xe8, 0, 0x64, 0xff, 0xff, 0xff, 0x01}, false)
	f.Add("internet", []byte{}, false)
	f.Add("1:1 1:1", []byte{0, 1, 0, 1}, true)
	f.Add("4294967295 0:0", []byte{0xff, 0xff, 0xff, 0xff}, false)
	f.Fuzz(func(t *testing.T, words string, raw []byte, whole bool) {
		e := CommunityEntry{Index: 10, Permit: true, Words: strings.Fields(words)}
		for _, w := range e.Words {
			if w == "internet" {
				e.Internet = true
				continue
			}
			c, err := ParseCommunity(w)
			if err != nil {
				return
			}
			if FormatCommunity(c) != w {
				if back, err := ParseCommunity(FormatCommunity(c)); err != nil || back != c {
					t.Fatalf("%q formats as %q, which reads back as %#x", w, FormatCommunity(c), back)
				}
			}
			e.Communities = append(e.Communities, c)
		}
		if len(e.Words) == 0 {
			return
		}
		var route []uint32
		for len(raw) >= 4 {
			route = append(route, binary.BigEndian.Uint32(raw))
			raw = raw[4:]
		}
		s := Compile(Config{CommunityFilters: map[string][]CommunityEntry{"1": {e}}}, nil)
		got := s.communities["1"].match(slices.Compact(slices.Sorted(slices.Values(route))), whole)
		want := true
		for _, c := range e.Communities {
			want = want && slices.Contains(route, c)
		}
		if whole {
			want = want && len(slices.Compact(slices.Sorted(slices.Values(route)))) == len(slices.Compact(slices.Sorted(slices.Values(e.Communities))))
		} else if e.Internet && len(e.Communities) == 0 {
			want = true
		}
		if got != want {
			t.Fatalf("entry %q, route %x, whole %v: got %v want %v", words, route, whole, got, want)
		}
	})
}

// FuzzRouteTarget: a route target that parses prints as text that parses
// back to the same eight octets.
func FuzzRouteTarget(f *testing.F) {
	for _, s := range []string{"65000:100", "10.0.0.1:5", "4200000000:7", "1.10:7", "0:0", "1:4294967295"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rt, err := ParseRouteTarget(s)
		if err != nil {
			return
		}
		back, err := ParseRouteTarget(rt.String())
		if err != nil || back != rt || !rt.IsRouteTarget() {
			t.Fatalf("%q → %#x → %q → %#x, %v", s, uint64(rt), rt.String(), uint64(back), err)
		}
	})
}

// FuzzEvaluate runs a policy with every kind of clause on routes made of
// fuzz bytes: it never panics, never changes the input, and permits only
// through a permit node.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{10, 1, 0, 0, 16, 0, 0, 0, 20}, []byte{0, 0, 0xfb, 0xf5, 0}, []byte{0xfd, 0xe8, 0, 0x64})
	f.Fuzz(func(t *testing.T, head, rawPath, rawComms []byte) {
		if len(head) < 9 {
			return
		}
		r := Route{
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte(head[:4])), int(head[4]%33)).Masked(),
			Cost:   binary.BigEndian.Uint32(head[5:9]),
			ASPath: pathFromBytes(rawPath),
		}
		for len(rawComms) >= 4 {
			c := binary.BigEndian.Uint32(rawComms)
			r.Communities = append(r.Communities, c)
			r.ExtCommunities = append(r.ExtCommunities, ExtCommunity(uint64(0x0002)<<48|uint64(c)))
			rawComms = rawComms[4:]
		}
		in := r
		in.ASPath = slices.Clone(r.ASPath)
		in.Communities = slices.Clone(r.Communities)
		in.ExtCommunities = slices.Clone(r.ExtCommunities)
		res := fuzzSet.Evaluate("p", r)
		if res.Permit && (res.Node != 10 && res.Node != 30) {
			t.Fatalf("permitted by node %d", res.Node)
		}
		if !slices.Equal(in.Communities, r.Communities) || !slices.Equal(in.ExtCommunities, r.ExtCommunities) || ASPathString(in.ASPath) != ASPathString(r.ASPath) {
			t.Fatal("the input changed")
		}
	})
}

var fuzzSet = func() *Set {
	c := testFilters(&testing.T{})
	c.Policies = map[string][]Node{"p": {
		{Seq: 10, Permit: true, Match: Match{IPPrefix: "cust", ASPathFilters: []string{"via-64502"}},
			Apply: Apply{ASPath: &ASPathAction{Additive: true, ASNs: []uint32{65000, 65000}}, Community: &CommunityAction{Additive: true, Values: []uint32{1}}}},
		{Seq: 20, Match: Match{CommunityFilters: []CommunityMatch{{Name: "1"}, {Name: "any", WholeMatch: true}}}},
		{Seq: 30, Permit: true, Match: Match{ExtCommunityFilters: []string{"red", "both"}},
			Apply: Apply{ExtCommunity: &ExtCommunityAction{RTs: []ExtCommunity{0x0002_fde8_0000_0001}}, Community: &CommunityAction{None: true}}},
	}}
	return Compile(c, nil)
}()
