package policy

import (
	"testing"
)

func TestParseCommunity(t *testing.T) {
	cases := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"65000:100", 65000<<16 | 100, true},
		{"0:0", 0, true},
		{"65535:65535", 0xffffffff, true},
		{"65536:1", 0, false},
		{"1:65536", 0, false},
		{"4294967295", 0xffffffff, true},
		{"4294967296", 0, false},
		{"100", 100, true},
		{"no-export", NoExport, true},
		{"no-advertise", NoAdvertise, true},
		{"no-export-subconfed", NoExportSubconfed, true},
		{"internet", CommunityInternet, true},
		{"", 0, false},
		{"1:", 0, false},
		{":1", 0, false},
		{"1:2:3", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"No-Export", 0, false},
	}
	for _, c := range cases {
		got, err := ParseCommunity(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseCommunity(%q) = %#x, %v; want %#x ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		v    uint32
		want string
	}{{65000<<16 | 100, "65000:100"}, {NoExport, "no-export"}, {NoAdvertise, "no-advertise"}, {NoExportSubconfed, "no-export-subconfed"}, {0, "0:0"}} {
		if got := FormatCommunity(c.v); got != c.want {
			t.Errorf("FormatCommunity(%#x) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestParseRouteTarget(t *testing.T) {
	cases := []struct {
		in   string
		wire uint64 // the eight octets
		ok   bool
	}{
		{"65000:100", 0x0002_fde8_0000_0064, true},
		{"1:4294967295", 0x0002_0001_ffff_ffff, true},
		{"10.255.0.1:5", 0x0102_0aff_0001_0005, true},
		{"4200000000:7", 0x0202_fa56_ea00_0007, true},
		{"1.10:7", 0x0202_0001_000a_0007, true},
		{"4200000000:65536", 0, false},
		{"10.0.0.1:65536", 0, false},
		{"0:0", 0, false},
		{"0.0:0", 0, false},
		{"1.2.3:4", 0, false},
		{"300.1.1.1:1", 0, false},
		{"65000", 0, false},
		{"65000:", 0, false},
		{"a:1", 0, false},
		{"1:2:3", 0, false},
	}
	for _, c := range cases {
		got, err := ParseRouteTarget(c.in)
		if (err == nil) != c.ok || (c.ok && uint64(got) != c.wire) {
			t.Errorf("ParseRouteTarget(%q) = %#016x, %v; want %#016x ok=%v", c.in, uint64(got), err, c.wire, c.ok)
			continue
		}
		if c.ok {
			if !got.IsRouteTarget() {
				t.Errorf("%s: not a route target", c.in)
			}
			want := c.in
			if c.in == "1.10:7" {
				want = "65546:7" // dotted AS numbers are displayed as plain numbers
			}
			if got.String() != want {
				t.Errorf("String(%s) = %q", c.in, got.String())
			}
		}
	}
	if x := ExtCommunity(0x030c_0000_0000_0008); x.IsRouteTarget() || x.String() != "0x03:0x0c:0x000000000008" {
		t.Errorf("encapsulation community: %v %q", x.IsRouteTarget(), x.String())
	}
}

func TestParseASN(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"65000", 65000, true}, {"4294967295", 4294967295, true}, {"1.0", 65536, true}, {"65535.65535", 0xffffffff, true},
		{"0", 0, false}, {"0.0", 0, false}, {"4294967296", 0, false}, {"65536.1", 0, false}, {"1.", 0, false}, {"x", 0, false},
	} {
		got, err := ParseASN(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseASN(%q) = %d, %v", c.in, got, err)
		}
	}
}

func TestASPathString(t *testing.T) {
	path := []Segment{
		{Type: ASConfedSequence, ASNs: []uint32{65010, 65011}},
		{Type: ASSequence, ASNs: []uint32{64501, 64502}},
		{Type: ASSet, ASNs: []uint32{64503, 64504}},
		{Type: ASConfedSet, ASNs: []uint32{65012, 65013}},
	}
	if got, want := ASPathString(path), "(65010 65011) 64501 64502 {64503,64504} [65012,65013]"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	if got := ASPathString(nil); got != "" {
		t.Errorf("empty path %q", got)
	}
}

func TestASPathRegex(t *testing.T) {
	path := func(segs ...Segment) []Segment { return segs }
	p1 := path(seq(64501, 64502, 64503))
	pSet := path(seq(64510), Segment{Type: ASSet, ASNs: []uint32{64501, 64502}})
	pConfed := path(Segment{Type: ASConfedSequence, ASNs: []uint32{65010}}, seq(64501))
	cases := []struct {
		re   string
		path []Segment
		want bool
	}{
		{"^64501_", p1, true},
		{"^64502_", p1, false},
		{"_64503$", p1, true},
		{"_64502_", p1, true},
		{"_6450_", p1, false},
		{"6450", p1, true}, // unanchored substring
		{"^64501 64502 64503$", p1, true},
		{"^$", nil, true},
		{"^$", p1, false},
		{".*", nil, true},
		{"^645[0-9][13]_", p1, true},
		{"^(64501|64599)_", p1, true},
		{"_64501_", pSet, true},      // inside a set, after the brace
		{"_64502_", pSet, true},      // inside a set, before the brace
		{"^64510 \\{", pSet, true},   // a quoted brace
		{"^64510 {", pSet, true},     // braces are literal
		{"_65010_", pConfed, true},   // inside parentheses
		{"^\\(65010", pConfed, true}, // a quoted parenthesis
		{"^64501+_", path(seq(645011)), true},
		{"^[^1]", p1, true},
		{"[]]", p1, false},
	}
	for _, c := range cases {
		f := Compile(Config{ASPathFilters: map[string][]ASPathEntry{"f": {{Index: 10, Permit: true, Regex: c.re}}}}, nil).asPaths["f"]
		if len(f.entries) != 1 {
			t.Fatalf("%q did not compile", c.re)
		}
		if got := f.Match(c.path); got != c.want {
			t.Errorf("%q on %q = %v, want %v", c.re, ASPathString(c.path), got, c.want)
		}
	}
	for _, bad := range []string{"", "(?i)1", "\\d", "a", "1\\", "[1", "(1", "1)", "*1", "[[:digit:]]", "x{2}"} {
		if _, err := compileASPathRegex(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
	long := make([]byte, maxRegexLen+1)
	for i := range long {
		long[i] = '1'
	}
	if _, err := compileASPathRegex(string(long)); err == nil {
		t.Error("an expression over the length limit compiled")
	}
}
