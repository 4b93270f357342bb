package policy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Route is what a routing policy looks at and changes. It is protocol
// neutral: BGP fills every field from its path attributes, OSPF and the
// redistribution of static and direct routes only the prefix, the next hop
// and the cost (see the package documentation for the mapping).
//
// The engine never modifies the slices of the Route it is given: an action
// that changes AS_PATH, communities or extended communities puts a new
// slice into the result.
type Route struct {
	// Prefix is the destination (IPv4; masked by the caller).
	Prefix netip.Prefix
	// NextHop is the route's next hop (BGP NEXT_HOP, the IGP next hop).
	NextHop netip.Addr
	// Cost is BGP's MULTI_EXIT_DISC (0 when the attribute is absent) or
	// the IGP/static metric.
	Cost uint32
	// LocalPref is BGP's LOCAL_PREF.
	LocalPref uint32
	// PreferredValue is VRP's preferred value (0-65535), a local weight
	// that BGP compares before everything else.
	PreferredValue uint32
	// ASPath is BGP's AS_PATH (4-octet AS numbers).
	ASPath []Segment
	// Communities are BGP COMMUNITIES (RFC 1997), each as its 32-bit value.
	Communities []uint32
	// ExtCommunities are BGP EXTENDED_COMMUNITIES (RFC 4360), route
	// targets and any others.
	ExtCommunities []ExtCommunity
}

// SegmentType is the type of an AS_PATH segment, numbered as on the wire
// (RFC 4271, RFC 5065).
type SegmentType uint8

// AS_PATH segment types.
const (
	ASSet            SegmentType = 1
	ASSequence       SegmentType = 2
	ASConfedSequence SegmentType = 3
	ASConfedSet      SegmentType = 4
)

// Segment is one AS_PATH segment.
type Segment struct {
	Type SegmentType
	ASNs []uint32
}

// Well-known communities (RFC 1997, RFC 3765 is not supported).
const (
	// CommunityInternet is VRP's `internet`: in a community filter it
	// matches every route; `apply community internet` sets the value 0.
	CommunityInternet uint32 = 0
	NoExport          uint32 = 0xFFFFFF01
	NoAdvertise       uint32 = 0xFFFFFF02
	NoExportSubconfed uint32 = 0xFFFFFF03
)

var wellKnown = map[string]uint32{
	"internet":            CommunityInternet,
	"no-export":           NoExport,
	"no-advertise":        NoAdvertise,
	"no-export-subconfed": NoExportSubconfed,
}

// ParseCommunity reads a community as VRP writes it: AA:NN (each
// 0-65535), a number 0-4294967295, or one of internet, no-export,
// no-advertise, no-export-subconfed.
func ParseCommunity(s string) (uint32, error) {
	if v, ok := wellKnown[s]; ok {
		return v, nil
	}
	if a, n, ok := strings.Cut(s, ":"); ok {
		hi, err1 := parseDec(a, 16)
		lo, err2 := parseDec(n, 16)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("invalid community %q", s)
		}
		return uint32(hi)<<16 | uint32(lo), nil
	}
	v, err := parseDec(s, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid community %q", s)
	}
	return uint32(v), nil
}

// FormatCommunity writes a community as VRP displays it: the well-known
// names, otherwise AA:NN.
func FormatCommunity(c uint32) string {
	switch c {
	case NoExport:
		return "no-export"
	case NoAdvertise:
		return "no-advertise"
	case NoExportSubconfed:
		return "no-export-subconfed"
	}
	return strconv.FormatUint(uint64(c>>16), 10) + ":" + strconv.FormatUint(uint64(c&0xffff), 10)
}

// parseDec parses a decimal number of at most bits bits (no sign, no
// leading '+', at most 10 digits).
func parseDec(s string, bits int) (uint64, error) {
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("bad number %q", s)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number %q", s)
		}
		v = v*10 + uint64(c-'0')
	}
	if v>>bits != 0 {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	return v, nil
}

// ExtCommunity is one BGP extended community: its eight octets (RFC 4360)
// as a big-endian integer, so that BGP converts it without a table (the
// type octet is the top byte).
type ExtCommunity uint64

// Route target encodings (RFC 4360 §4, RFC 5668): type octets with
// sub-type 0x02.
const (
	rtSubtype       = 0x02
	typeTwoOctetAS  = 0x00
	typeIPv4        = 0x01
	typeFourOctetAS = 0x02
)

// IsRouteTarget reports whether e is a route target (transitive
// two-octet-AS, IPv4-address or four-octet-AS specific, sub-type 0x02).
func (e ExtCommunity) IsRouteTarget() bool {
	t, st := byte(e>>56), byte(e>>48)
	return st == rtSubtype && (t == typeTwoOctetAS || t == typeIPv4 || t == typeFourOctetAS)
}

// ParseRouteTarget reads a route target as VRP writes it: ASN2:NN (NN up
// to 4294967295), ASN4:NN (ASN above 65535, NN up to 65535), x.y:NN (a
// dotted 4-octet AS), or A.B.C.D:NN. 0:0 is not valid.
func ParseRouteTarget(s string) (ExtCommunity, error) {
	bad := fmt.Errorf("invalid route target %q", s)
	admin, num, ok := strings.Cut(s, ":")
	if !ok || admin == "" || num == "" || strings.Contains(num, ":") {
		return 0, bad
	}
	n, err := parseDec(num, 32)
	if err != nil {
		return 0, bad
	}
	switch strings.Count(admin, ".") {
	case 0:
		a, err := parseDec(admin, 32)
		if err != nil || (a == 0 && n == 0) {
			return 0, bad
		}
		if a <= 0xffff {
			return ExtCommunity(uint64(typeTwoOctetAS)<<56 | rtSubtype<<48 | a<<32 | n), nil
		}
		if n > 0xffff {
			return 0, bad
		}
		return ExtCommunity(uint64(typeFourOctetAS)<<56 | rtSubtype<<48 | a<<16 | n), nil
	case 1:
		x, y, _ := strings.Cut(admin, ".")
		hi, err1 := parseDec(x, 16)
		lo, err2 := parseDec(y, 16)
		if err1 != nil || err2 != nil || n > 0xffff || (hi == 0 && lo == 0 && n == 0) {
			return 0, bad
		}
		return ExtCommunity(uint64(typeFourOctetAS)<<56 | rtSubtype<<48 | (hi<<16|lo)<<16 | n), nil
	case 3:
		a, err := netip.ParseAddr(admin)
		if err != nil || !a.Is4() || n > 0xffff {
			return 0, bad
		}
		b := a.As4()
		ip := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		return ExtCommunity(uint64(typeIPv4)<<56 | rtSubtype<<48 | ip<<16 | n), nil
	}
	return 0, bad
}

// String writes a route target as VRP displays it (65000:100,
// 10.0.0.1:1, 4200000000:1); other extended communities as their type,
// sub-type and value in hexadecimal.
func (e ExtCommunity) String() string {
	v := uint64(e)
	switch {
	case e.IsRouteTarget() && byte(v>>56) == typeTwoOctetAS:
		return fmt.Sprintf("%d:%d", (v>>32)&0xffff, v&0xffffffff)
	case e.IsRouteTarget() && byte(v>>56) == typeIPv4:
		ip := uint32(v >> 16)
		return fmt.Sprintf("%d.%d.%d.%d:%d", ip>>24, (ip>>16)&0xff, (ip>>8)&0xff, ip&0xff, v&0xffff)
	case e.IsRouteTarget() && (v>>16)&0xffffffff <= 0xffff:
		// A four-octet-AS target of a small AS keeps its type in asdot.
		return fmt.Sprintf("0.%d:%d", (v>>16)&0xffffffff, v&0xffff)
	case e.IsRouteTarget():
		return fmt.Sprintf("%d:%d", (v>>16)&0xffffffff, v&0xffff)
	}
	return fmt.Sprintf("0x%02x:0x%02x:0x%012x", byte(v>>56), byte(v>>48), v&0xffffffffffff)
}

// ParseASN reads an AS number as VRP accepts it: 1-4294967295, or x.y
// (x 0-65535, y 0-65535, not 0.0).
func ParseASN(s string) (uint32, error) {
	if x, y, ok := strings.Cut(s, "."); ok {
		hi, err1 := parseDec(x, 16)
		lo, err2 := parseDec(y, 16)
		if err1 != nil || err2 != nil || (hi == 0 && lo == 0) {
			return 0, fmt.Errorf("invalid AS number %q", s)
		}
		return uint32(hi<<16 | lo), nil
	}
	v, err := parseDec(s, 32)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("invalid AS number %q", s)
	}
	return uint32(v), nil
}

// ASPathString writes an AS path as the AS-path filters see it (and as
// VRP displays it): sequences as numbers separated by spaces, an AS_SET
// as {a,b}, a confederation sequence as (a b), a confederation set as
// [a,b]. The empty path is "".
func ASPathString(path []Segment) string {
	var b []byte
	return string(appendASPath(b, path))
}

func appendASPath(b []byte, path []Segment) []byte {
	for i, s := range path {
		if i > 0 {
			b = append(b, ' ')
		}
		open, sep, end := byte(0), byte(' '), byte(0)
		switch s.Type {
		case ASSet:
			open, sep, end = '{', ',', '}'
		case ASConfedSequence:
			open, end = '(', ')'
		case ASConfedSet:
			open, sep, end = '[', ',', ']'
		}
		if open != 0 {
			b = append(b, open)
		}
		for j, a := range s.ASNs {
			if j > 0 {
				b = append(b, sep)
			}
			b = strconv.AppendUint(b, uint64(a), 10)
		}
		if end != 0 {
			b = append(b, end)
		}
	}
	return b
}
