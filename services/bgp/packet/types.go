// Package packet is vpnos's view of BGP-4 messages (RFC 4271) for the
// address families a PE needs: IPv4 unicast and VPN-IPv4 (RFC 4364, 4760,
// 8277), with 4-octet AS numbers (RFC 6793), route refresh (RFC 2918) and
// the revised error handling of RFC 7606.
//
// The wire codec is GoBGP's (github.com/osrg/gobgp/v3/pkg/packet/bgp): OPEN,
// NOTIFICATION, ROUTE-REFRESH, capabilities and the path attributes are
// decoded and encoded by it. This package adds what a speaker needs around
// it and what the codec leaves to its server:
//
//   - framing and the message header checks (marker, length, type);
//   - the walk over an UPDATE's attribute list, so that each error gets the
//     RFC 7606 treatment (treat-as-withdraw, attribute-discard, session
//     reset with the right NOTIFICATION) decided here, at decode time;
//   - AS_PATH segments decoded with the width the session negotiated (the
//     codec guesses it from the bytes, which is ambiguous) and AS4_PATH
//     merged for 2-octet peers;
//   - the NLRI of IPv4 unicast and VPN-IPv4, decoded and packed here into
//     compact comparable values: the codec's label-stack decoder keeps
//     reading labels into the RD when the bottom-of-stack bit is clear, and
//     allocates several objects per prefix (a million VPN routes per session
//     is the design goal). Tests check these bytes against the codec's.
//
// Nothing in this package keeps state; Decode never panics on any input
// (a panic inside the codec is caught and reported as a malformed message).
package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// Message types (RFC 4271 §4.1, RFC 2918).
type Type uint8

// Message types.
const (
	TypeOpen         Type = 1
	TypeUpdate       Type = 2
	TypeNotification Type = 3
	TypeKeepalive    Type = 4
	TypeRouteRefresh Type = 5
)

func (t Type) String() string {
	switch t {
	case TypeOpen:
		return "OPEN"
	case TypeUpdate:
		return "UPDATE"
	case TypeNotification:
		return "NOTIFICATION"
	case TypeKeepalive:
		return "KEEPALIVE"
	case TypeRouteRefresh:
		return "ROUTE-REFRESH"
	}
	return "type " + strconv.Itoa(int(t))
}

// Sizes (RFC 4271 §4).
const (
	HeaderLen  = 19
	MaxMsgLen  = 4096
	AS_TRANS   = 23456 // RFC 6793
	bgpVersion = 4
)

// Family is an address family: AFI in the upper 16 bits, SAFI in the low 8.
type Family uint32

// The families vpnos speaks.
const (
	IPv4Unicast Family = 1<<16 | 1
	VPNv4       Family = 1<<16 | 128
)

// NewFamily builds a Family from AFI and SAFI.
func NewFamily(afi uint16, safi uint8) Family { return Family(uint32(afi)<<16 | uint32(safi)) }

// AFI returns the address family identifier.
func (f Family) AFI() uint16 { return uint16(f >> 16) }

// SAFI returns the subsequent address family identifier.
func (f Family) SAFI() uint8 { return uint8(f) }

func (f Family) String() string {
	switch f {
	case IPv4Unicast:
		return "IPv4-unicast"
	case VPNv4:
		return "VPNv4"
	}
	return fmt.Sprintf("afi %d safi %d", f.AFI(), f.SAFI())
}

// Prefix is an IPv4 prefix in a compact, comparable form. Host bits are
// always zero.
type Prefix struct {
	Addr uint32
	Len  uint8
}

// PrefixFrom converts a netip.Prefix (IPv4 only; masked).
func PrefixFrom(p netip.Prefix) (Prefix, error) {
	if !p.IsValid() || !p.Addr().Is4() {
		return Prefix{}, fmt.Errorf("not an IPv4 prefix: %v", p)
	}
	p = p.Masked()
	a := p.Addr().As4()
	return Prefix{Addr: binary.BigEndian.Uint32(a[:]), Len: uint8(p.Bits())}, nil
}

// MustPrefix parses "a.b.c.d/n" and panics on error (tests, constants).
func MustPrefix(s string) Prefix {
	p, err := PrefixFrom(netip.MustParsePrefix(s))
	if err != nil {
		panic(err)
	}
	return p
}

// Netip returns the prefix as a netip.Prefix.
func (p Prefix) Netip() netip.Prefix {
	return netip.PrefixFrom(AddrFrom32(p.Addr), int(p.Len))
}

func (p Prefix) String() string { return p.Netip().String() }

// Less orders prefixes by address, then length.
func (p Prefix) Less(q Prefix) bool {
	if p.Addr != q.Addr {
		return p.Addr < q.Addr
	}
	return p.Len < q.Len
}

func mask(l uint8) uint32 {
	if l == 0 {
		return 0
	}
	return ^uint32(0) << (32 - l)
}

// AddrFrom32 converts a big-endian uint32 to an IPv4 address.
func AddrFrom32(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// Addr32 converts an IPv4 address to a uint32 (0 for anything else).
func Addr32(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// RD is a route distinguisher (RFC 4364 §4.2), its 8 wire bytes big-endian.
type RD uint64

// ParseRD reads a route distinguisher as VRP writes it: "ASN:nn" (a 2-octet
// AS with a 4-octet number, or a 4-octet AS, plain or asdot "x.y", with a
// 2-octet number) or "A.B.C.D:nn". The codec's parser truncates a plain
// 4-octet AS, so the three RFC 4364 forms are built here.
func ParseRD(s string) (RD, error) {
	v, err := parseAdminValue(s)
	if err != nil {
		return 0, fmt.Errorf("route distinguisher %q: %w", s, err)
	}
	return RD(v), nil
}

// parseAdminValue builds the 8 bytes of an RD: type (0, 1 or 2), then
// administrator and assigned number (a route target reuses them).
func parseAdminValue(s string) (uint64, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return 0, fmt.Errorf("want ADMIN:NUMBER")
	}
	admin, num := s[:i], s[i+1:]
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("assigned number %q", num)
	}
	if ip, err := netip.ParseAddr(admin); err == nil {
		if !ip.Is4() || n > 0xffff {
			return 0, fmt.Errorf("an IPv4 administrator takes a number up to 65535")
		}
		return 1<<48 | uint64(Addr32(ip))<<16 | n, nil
	}
	var as uint64
	asdot := false
	if j := strings.IndexByte(admin, '.'); j >= 0 {
		hi, err1 := strconv.ParseUint(admin[:j], 10, 16)
		lo, err2 := strconv.ParseUint(admin[j+1:], 10, 16)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("administrator %q", admin)
		}
		as, asdot = hi<<16|lo, true
	} else if as, err = strconv.ParseUint(admin, 10, 32); err != nil {
		return 0, fmt.Errorf("administrator %q", admin)
	}
	if as <= 0xffff && !asdot {
		return as<<32 | n, nil
	}
	if n > 0xffff {
		return 0, fmt.Errorf("a 4-octet AS administrator takes a number up to 65535")
	}
	return 2<<48 | as<<16 | n, nil
}

// String prints the RD as VRP does ("65000:1", "10.0.0.1:1").
func (r RD) String() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(r))
	switch binary.BigEndian.Uint16(b[0:2]) {
	case 0:
		return strconv.Itoa(int(binary.BigEndian.Uint16(b[2:4]))) + ":" + strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[4:8])), 10)
	case 1:
		return netip.AddrFrom4([4]byte(b[2:6])).String() + ":" + strconv.Itoa(int(binary.BigEndian.Uint16(b[6:8])))
	case 2:
		return fourOctetAS(binary.BigEndian.Uint32(b[2:6])) + ":" + strconv.Itoa(int(binary.BigEndian.Uint16(b[6:8])))
	}
	return fmt.Sprintf("rd-%016x", uint64(r))
}

// fourOctetAS prints the administrator of a four-octet-AS RD or route
// target: in asplain, but a small AS in asdot (0.y), so that the text reads
// back as the same type (y:NN is the two-octet-AS form).
func fourOctetAS(as uint32) string {
	if as <= 0xffff {
		return "0." + strconv.FormatUint(uint64(as), 10)
	}
	return strconv.FormatUint(uint64(as), 10)
}

// VPNPrefix is a VPN-IPv4 address prefix: RD and IPv4 prefix.
type VPNPrefix struct {
	RD     RD
	Prefix Prefix
}

func (v VPNPrefix) String() string { return v.RD.String() + ":" + v.Prefix.String() }

// Less orders by RD, then prefix.
func (v VPNPrefix) Less(w VPNPrefix) bool {
	if v.RD != w.RD {
		return v.RD < w.RD
	}
	return v.Prefix.Less(w.Prefix)
}

// VPNRoute is a labelled VPN-IPv4 NLRI (one label, RFC 8277 without the
// multiple-labels capability).
type VPNRoute struct {
	VPNPrefix
	Label uint32
}

// Labels with special meaning in VPN NLRI.
const (
	// WithdrawLabelField is the 3-byte label field sent in withdrawals
	// (RFC 8277 §2.4 compatibility value); it is ignored on receipt.
	WithdrawLabelField = 0x800000
)

// ExtCommunity is an extended community (RFC 4360), its 8 wire bytes.
type ExtCommunity uint64

// Extended community types used here.
const (
	ecTypeTwoOctetAS  = 0x00
	ecTypeIPv4        = 0x01
	ecTypeFourOctetAS = 0x02
	ecSubRouteTarget  = 0x02
)

// ParseRouteTarget reads a route target as VRP writes it ("65000:100",
// "10.0.0.1:5", "4200000000:7", "1.2:7"): the same three forms as an RD,
// as transitive extended communities of subtype 2 (RFC 4360 §4).
func ParseRouteTarget(s string) (ExtCommunity, error) {
	v, err := parseAdminValue(s)
	if err != nil {
		return 0, fmt.Errorf("route target %q: %w", s, err)
	}
	// The RD type (0, 1, 2) in the top two bytes becomes the community
	// type in the top byte, then the RT subtype.
	typ := v >> 48
	return ExtCommunity(typ<<56 | ecSubRouteTarget<<48 | v&0xffffffffffff), nil
}

// IsRouteTarget reports whether the community is a route target (any of the
// three transitive RT forms).
func (e ExtCommunity) IsRouteTarget() bool {
	t := uint8(e >> 56)
	st := uint8(e >> 48)
	return st == ecSubRouteTarget && (t == ecTypeTwoOctetAS || t == ecTypeIPv4 || t == ecTypeFourOctetAS)
}

// String prints a route target as "<target>" form ("65000:100"); other
// communities through the codec's printer.
func (e ExtCommunity) String() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(e))
	if e.IsRouteTarget() {
		switch b[0] {
		case ecTypeTwoOctetAS:
			return strconv.Itoa(int(binary.BigEndian.Uint16(b[2:4]))) + ":" + strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[4:8])), 10)
		case ecTypeIPv4:
			return netip.AddrFrom4([4]byte(b[2:6])).String() + ":" + strconv.Itoa(int(binary.BigEndian.Uint16(b[6:8])))
		case ecTypeFourOctetAS:
			return fourOctetAS(binary.BigEndian.Uint32(b[2:6])) + ":" + strconv.Itoa(int(binary.BigEndian.Uint16(b[6:8])))
		}
	}
	if ec, err := gobgp.ParseExtended(b[:]); err == nil && ec != nil {
		return ec.String()
	}
	return fmt.Sprintf("0x%016x", uint64(e))
}

// Origin is the ORIGIN attribute value.
type Origin uint8

// Origins.
const (
	OriginIGP        Origin = 0
	OriginEGP        Origin = 1
	OriginIncomplete Origin = 2
)

func (o Origin) String() string {
	switch o {
	case OriginIGP:
		return "i"
	case OriginEGP:
		return "e"
	}
	return "?"
}

// SegmentType is an AS_PATH segment type.
type SegmentType uint8

// Segment types (RFC 4271, RFC 5065).
const (
	ASSet       SegmentType = 1
	ASSequence  SegmentType = 2
	ConfedSeq   SegmentType = 3
	ConfedSet   SegmentType = 4
	maxSegments             = 255
)

// Segment is one AS_PATH segment, with 4-octet AS numbers.
type Segment struct {
	Type SegmentType
	ASNs []uint32
}

// ASPath is an AS_PATH with 4-octet AS numbers.
type ASPath []Segment

// Len is the path length for best-path selection: a sequence counts its
// ASes, a set counts 1, confederation segments count 0 (RFC 4271 §9.1.2.2,
// RFC 5065 §5.3).
func (p ASPath) Len() int {
	n := 0
	for _, s := range p {
		switch s.Type {
		case ASSequence:
			n += len(s.ASNs)
		case ASSet:
			n++
		}
	}
	return n
}

// First returns the leftmost AS of the first AS_SEQUENCE segment (the
// neighbour AS), or 0.
func (p ASPath) First() uint32 {
	if len(p) > 0 && p[0].Type == ASSequence && len(p[0].ASNs) > 0 {
		return p[0].ASNs[0]
	}
	return 0
}

// Count returns how many times as appears in the path.
func (p ASPath) Count(as uint32) int {
	n := 0
	for _, s := range p {
		for _, a := range s.ASNs {
			if a == as {
				n++
			}
		}
	}
	return n
}

// Prepend returns a new path with as prepended n times to a leading
// AS_SEQUENCE (a new one when the path starts otherwise or is full).
func (p ASPath) Prepend(as uint32, n int) ASPath {
	if n <= 0 {
		return p.Clone()
	}
	out := make(ASPath, 0, len(p)+1)
	if len(p) > 0 && p[0].Type == ASSequence && len(p[0].ASNs)+n <= maxSegments {
		asns := make([]uint32, 0, len(p[0].ASNs)+n)
		for i := 0; i < n; i++ {
			asns = append(asns, as)
		}
		asns = append(asns, p[0].ASNs...)
		out = append(out, Segment{Type: ASSequence, ASNs: asns})
		for _, s := range p[1:] {
			out = append(out, Segment{Type: s.Type, ASNs: append([]uint32(nil), s.ASNs...)})
		}
		return out
	}
	asns := make([]uint32, n)
	for i := range asns {
		asns[i] = as
	}
	out = append(out, Segment{Type: ASSequence, ASNs: asns})
	for _, s := range p {
		out = append(out, Segment{Type: s.Type, ASNs: append([]uint32(nil), s.ASNs...)})
	}
	return out
}

// Replace returns a copy with every occurrence of from replaced by to.
func (p ASPath) Replace(from, to uint32) ASPath {
	out := p.Clone()
	for _, s := range out {
		for i, a := range s.ASNs {
			if a == from {
				s.ASNs[i] = to
			}
		}
	}
	return out
}

// Clone copies the path.
func (p ASPath) Clone() ASPath {
	if p == nil {
		return nil
	}
	out := make(ASPath, len(p))
	for i, s := range p {
		out[i] = Segment{Type: s.Type, ASNs: append([]uint32(nil), s.ASNs...)}
	}
	return out
}

// Equal compares two paths.
func (p ASPath) Equal(q ASPath) bool {
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i].Type != q[i].Type || len(p[i].ASNs) != len(q[i].ASNs) {
			return false
		}
		for j := range p[i].ASNs {
			if p[i].ASNs[j] != q[i].ASNs[j] {
				return false
			}
		}
	}
	return true
}

// String prints the path as VRP does: "65001 65002 {65003 65004}".
func (p ASPath) String() string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 {
			b.WriteByte(' ')
		}
		open, closing := "", ""
		switch s.Type {
		case ASSet:
			open, closing = "{", "}"
		case ConfedSeq:
			open, closing = "(", ")"
		case ConfedSet:
			open, closing = "[", "]"
		}
		b.WriteString(open)
		for j, a := range s.ASNs {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatUint(uint64(a), 10))
		}
		b.WriteString(closing)
	}
	return b.String()
}

// Aggregator is the AGGREGATOR attribute (4-octet AS).
type Aggregator struct {
	AS   uint32
	Addr netip.Addr
}

// RawAttr is a path attribute kept as bytes: an optional transitive
// attribute this speaker does not know, passed on with the Partial bit set
// (RFC 4271 §5).
type RawAttr struct {
	Flags uint8
	Type  uint8
	Value []byte
}

// Attribute type codes.
const (
	AttrOrigin          = 1
	AttrASPath          = 2
	AttrNextHop         = 3
	AttrMED             = 4
	AttrLocalPref       = 5
	AttrAtomicAggregate = 6
	AttrAggregator      = 7
	AttrCommunities     = 8
	AttrOriginatorID    = 9
	AttrClusterList     = 10
	AttrMPReach         = 14
	AttrMPUnreach       = 15
	AttrExtCommunities  = 16
	AttrAS4Path         = 17
	AttrAS4Aggregator   = 18
)

// Attribute flags.
const (
	FlagOptional   = 0x80
	FlagTransitive = 0x40
	FlagPartial    = 0x20
	FlagExtLen     = 0x10
)

// Attrs are the path attributes of a route, without the MP_REACH/MP_UNREACH
// attributes (whose NLRI and next hop are kept apart).
type Attrs struct {
	Origin  Origin
	ASPath  ASPath
	NextHop netip.Addr // NEXT_HOP (IPv4 unicast); invalid when absent

	MED          uint32
	HasMED       bool
	LocalPref    uint32
	HasLocalPref bool

	AtomicAggregate bool
	Aggregator      *Aggregator

	Communities    []uint32
	ExtCommunities []ExtCommunity

	// OriginatorID (RFC 4456); 0 when absent.
	OriginatorID uint32
	ClusterList  []uint32

	// Unknown optional transitive attributes, in the order received.
	Unknown []RawAttr
}

// Clone returns a deep copy.
func (a *Attrs) Clone() *Attrs {
	if a == nil {
		return nil
	}
	c := *a
	c.ASPath = a.ASPath.Clone()
	if a.Aggregator != nil {
		ag := *a.Aggregator
		c.Aggregator = &ag
	}
	c.Communities = append([]uint32(nil), a.Communities...)
	c.ExtCommunities = append([]ExtCommunity(nil), a.ExtCommunities...)
	c.ClusterList = append([]uint32(nil), a.ClusterList...)
	if a.Unknown != nil {
		c.Unknown = make([]RawAttr, len(a.Unknown))
		for i, u := range a.Unknown {
			c.Unknown[i] = RawAttr{Flags: u.Flags, Type: u.Type, Value: append([]byte(nil), u.Value...)}
		}
	}
	return &c
}

// RouteTargets returns the route-target communities.
func (a *Attrs) RouteTargets() []ExtCommunity {
	var out []ExtCommunity
	for _, e := range a.ExtCommunities {
		if e.IsRouteTarget() {
			out = append(out, e)
		}
	}
	return out
}
