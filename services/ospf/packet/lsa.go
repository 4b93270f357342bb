package packet

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// LSAType is the LS type.
type LSAType uint8

// LS types.
const (
	LSARouter      LSAType = 1
	LSANetwork     LSAType = 2
	LSASummary     LSAType = 3 // summary-LSA for an IP network
	LSAASBRSummary LSAType = 4
	LSAExternal    LSAType = 5
)

func (t LSAType) String() string {
	switch t {
	case LSARouter:
		return "Router"
	case LSANetwork:
		return "Network"
	case LSASummary:
		return "Sum-Net"
	case LSAASBRSummary:
		return "Sum-Asbr"
	case LSAExternal:
		return "External"
	}
	return "Type" + strconv.Itoa(int(t))
}

// Architectural constants of RFC 2328 appendix B.
const (
	MaxAge        = 3600 // seconds
	LSRefreshTime = 1800
	CheckAge      = 300
	MaxAgeDiff    = 900
	// LSInfinity is the metric of an unreachable destination (24 bits).
	LSInfinity = 0xffffff
	// DoNotAge is the DoNotAge bit of the LS age field (RFC 1793).
	DoNotAge = 0x8000
)

// Sequence numbers are signed.
const (
	InitialSequenceNumber int32 = -0x7fffffff // 0x80000001
	MaxSequenceNumber     int32 = 0x7fffffff
)

// LSAHeader is the 20-byte LSA header.
type LSAHeader struct {
	Age       uint16
	Options   Options
	Type      LSAType
	ID        ID
	AdvRouter ID
	Seq       int32
	Checksum  uint16
	Length    uint16
}

// Key is the LSA's identity.
func (h LSAHeader) Key() LSAKey { return LSAKey{Type: h.Type, ID: h.ID, AdvRouter: h.AdvRouter} }

// AppendTo encodes the header.
func (h LSAHeader) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, h.Age)
	b = append(b, byte(h.Options), byte(h.Type))
	b = binary.BigEndian.AppendUint32(b, uint32(h.ID))
	b = binary.BigEndian.AppendUint32(b, uint32(h.AdvRouter))
	b = binary.BigEndian.AppendUint32(b, uint32(h.Seq))
	b = binary.BigEndian.AppendUint16(b, h.Checksum)
	b = binary.BigEndian.AppendUint16(b, h.Length)
	return b
}

// DecodeLSAHeader reads a header from the first 20 bytes of b.
func DecodeLSAHeader(b []byte) (LSAHeader, error) {
	if len(b) < LSAHeaderLen {
		return LSAHeader{}, malformed("LSA header of %d bytes", len(b))
	}
	return LSAHeader{
		Age:       binary.BigEndian.Uint16(b),
		Options:   Options(b[2]),
		Type:      LSAType(b[3]),
		ID:        ID(binary.BigEndian.Uint32(b[4:])),
		AdvRouter: ID(binary.BigEndian.Uint32(b[8:])),
		Seq:       int32(binary.BigEndian.Uint32(b[12:])),
		Checksum:  binary.BigEndian.Uint16(b[16:]),
		Length:    binary.BigEndian.Uint16(b[18:]),
	}, nil
}

// LSABody is one of *RouterLSA, *NetworkLSA, *SummaryLSA (types 3 and 4),
// *ExternalLSA, *UnknownLSA.
type LSABody interface {
	appendTo(b []byte) []byte
}

// LSA is a link-state advertisement. Raw is its encoding (header included)
// as decoded or built; the Age inside Raw is the age at that moment.
type LSA struct {
	LSAHeader
	Body LSABody
	Raw  []byte
}

// NewLSA encodes an LSA from a header and a body, filling the length and the
// Fletcher checksum.
func NewLSA(h LSAHeader, body LSABody) *LSA {
	b := h.AppendTo(make([]byte, 0, 64))
	b = body.appendTo(b)
	binary.BigEndian.PutUint16(b[18:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[16:], LSAChecksum(b))
	h.Length = uint16(len(b))
	h.Checksum = binary.BigEndian.Uint16(b[16:])
	return &LSA{LSAHeader: h, Body: body, Raw: b}
}

// WithAge returns a copy of the encoding with the LS age field set (the age
// is not covered by the checksum).
func (l *LSA) WithAge(age uint16) []byte {
	b := bytes.Clone(l.Raw)
	binary.BigEndian.PutUint16(b, age)
	return b
}

// SameContents reports whether two instances carry the same contents as
// RFC 2328 13.2 compares them: options, length and body (ages,
// sequence numbers and checksums aside).
func SameContents(a, b *LSA) bool {
	if a.Options != b.Options || len(a.Raw) != len(b.Raw) {
		return false
	}
	return bytes.Equal(a.Raw[LSAHeaderLen:], b.Raw[LSAHeaderLen:])
}

// LSAChecksum computes the Fletcher checksum (ISO 8473 / RFC 905 annex B) of
// an encoded LSA over everything but the age, for the checksum field at
// offset 16, as if that field were zero.
func LSAChecksum(lsa []byte) uint16 {
	if len(lsa) < LSAHeaderLen {
		return 0
	}
	data := lsa[2:]
	const off = 14 // the checksum field within data
	var c0, c1 int
	for i, v := range data {
		if i == off || i == off+1 {
			v = 0
		}
		c0 += int(v)
		c1 += c0
		if i%4096 == 4095 {
			c0 %= 255
			c1 %= 255
		}
	}
	c0 %= 255
	c1 %= 255
	x := ((len(data)-off-1)*c0 - c1) % 255
	if x <= 0 {
		x += 255
	}
	y := 510 - c0 - x
	if y > 255 {
		y -= 255
	}
	return uint16(x)<<8 | uint16(y)
}

// ValidLSAChecksum reports whether the checksum field of an encoded LSA is
// right.
func ValidLSAChecksum(lsa []byte) bool {
	if len(lsa) < LSAHeaderLen {
		return false
	}
	return binary.BigEndian.Uint16(lsa[16:]) == LSAChecksum(lsa)
}

// DecodeLSA reads one LSA from the start of b and returns the rest. The
// checksum is not checked here (the receiver discards LSAs with a bad one,
// not the whole packet: see ValidLSAChecksum). Raw does not alias b.
func DecodeLSA(b []byte) (*LSA, []byte, error) {
	h, err := DecodeLSAHeader(b)
	if err != nil {
		return nil, nil, err
	}
	n := int(h.Length)
	if n < LSAHeaderLen || n > len(b) {
		return nil, nil, malformed("%s LSA of length %d with %d bytes", h.Type, n, len(b))
	}
	raw := bytes.Clone(b[:n])
	body := raw[LSAHeaderLen:]
	l := &LSA{LSAHeader: h, Raw: raw}
	switch h.Type {
	case LSARouter:
		l.Body, err = decodeRouterLSA(body)
	case LSANetwork:
		l.Body, err = decodeNetworkLSA(body)
	case LSASummary, LSAASBRSummary:
		l.Body, err = decodeSummaryLSA(body)
	case LSAExternal:
		l.Body, err = decodeExternalLSA(body)
	default:
		l.Body = &UnknownLSA{Data: bytes.Clone(body)}
	}
	if err != nil {
		return nil, nil, err
	}
	return l, b[n:], nil
}

// Router LSA flags.
const (
	RouterB uint8 = 0x01 // area border router
	RouterE uint8 = 0x02 // AS boundary router
	RouterV uint8 = 0x04 // virtual link endpoint
)

// LinkType is the type of a router LSA link.
type LinkType uint8

// Router link types.
const (
	LinkPointToPoint LinkType = 1
	LinkTransit      LinkType = 2
	LinkStub         LinkType = 3
	LinkVirtual      LinkType = 4
)

func (t LinkType) String() string {
	switch t {
	case LinkPointToPoint:
		return "P-2-P"
	case LinkTransit:
		return "TransNet"
	case LinkStub:
		return "StubNet"
	case LinkVirtual:
		return "Virtual"
	}
	return "Link" + strconv.Itoa(int(t))
}

// TOSMetric is an extra metric for a TOS (kept so LSAs round-trip).
type TOSMetric struct {
	TOS    uint8
	Metric uint16
}

// RouterLink is one link of a router LSA.
type RouterLink struct {
	ID     ID
	Data   ID
	Type   LinkType
	Metric uint16
	TOS    []TOSMetric
}

// RouterLSA is the body of a type 1 LSA.
type RouterLSA struct {
	Flags uint8
	Links []RouterLink
}

func (r *RouterLSA) appendTo(b []byte) []byte {
	b = append(b, r.Flags, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Links)))
	for _, l := range r.Links {
		b = binary.BigEndian.AppendUint32(b, uint32(l.ID))
		b = binary.BigEndian.AppendUint32(b, uint32(l.Data))
		b = append(b, byte(l.Type), byte(len(l.TOS)))
		b = binary.BigEndian.AppendUint16(b, l.Metric)
		for _, t := range l.TOS {
			b = append(b, t.TOS, 0)
			b = binary.BigEndian.AppendUint16(b, t.Metric)
		}
	}
	return b
}

func decodeRouterLSA(b []byte) (*RouterLSA, error) {
	if len(b) < 4 {
		return nil, malformed("router LSA body of %d bytes", len(b))
	}
	r := &RouterLSA{Flags: b[0]}
	n := int(binary.BigEndian.Uint16(b[2:]))
	b = b[4:]
	if n*12 > len(b) {
		return nil, malformed("router LSA with %d links in %d bytes", n, len(b))
	}
	r.Links = make([]RouterLink, 0, n)
	for range n {
		if len(b) < 12 {
			return nil, malformed("router LSA link truncated")
		}
		l := RouterLink{
			ID:     ID(binary.BigEndian.Uint32(b)),
			Data:   ID(binary.BigEndian.Uint32(b[4:])),
			Type:   LinkType(b[8]),
			Metric: binary.BigEndian.Uint16(b[10:]),
		}
		ntos := int(b[9])
		b = b[12:]
		if ntos*4 > len(b) {
			return nil, malformed("router LSA link with %d TOS metrics in %d bytes", ntos, len(b))
		}
		for i := range ntos {
			l.TOS = append(l.TOS, TOSMetric{TOS: b[4*i], Metric: binary.BigEndian.Uint16(b[4*i+2:])})
		}
		b = b[ntos*4:]
		r.Links = append(r.Links, l)
	}
	if len(b) != 0 {
		return nil, malformed("router LSA with %d bytes after its links", len(b))
	}
	return r, nil
}

// NetworkLSA is the body of a type 2 LSA.
type NetworkLSA struct {
	Mask    ID
	Routers []ID
}

func (n *NetworkLSA) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(n.Mask))
	for _, r := range n.Routers {
		b = binary.BigEndian.AppendUint32(b, uint32(r))
	}
	return b
}

func decodeNetworkLSA(b []byte) (*NetworkLSA, error) {
	if len(b) < 4 || len(b)%4 != 0 {
		return nil, malformed("network LSA body of %d bytes", len(b))
	}
	n := &NetworkLSA{Mask: ID(binary.BigEndian.Uint32(b))}
	for i := 4; i < len(b); i += 4 {
		n.Routers = append(n.Routers, ID(binary.BigEndian.Uint32(b[i:])))
	}
	return n, nil
}

// SummaryLSA is the body of type 3 and 4 LSAs (the mask of a type 4 is 0).
type SummaryLSA struct {
	Mask   ID
	Metric uint32 // 24 bits
	// TOS entries: the TOS in the top byte, the metric in the low 24 bits.
	TOS []uint32
}

func (s *SummaryLSA) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(s.Mask))
	b = binary.BigEndian.AppendUint32(b, s.Metric&LSInfinity)
	for _, t := range s.TOS {
		b = binary.BigEndian.AppendUint32(b, t)
	}
	return b
}

func decodeSummaryLSA(b []byte) (*SummaryLSA, error) {
	if len(b) < 8 || len(b)%4 != 0 {
		return nil, malformed("summary LSA body of %d bytes", len(b))
	}
	s := &SummaryLSA{
		Mask:   ID(binary.BigEndian.Uint32(b)),
		Metric: binary.BigEndian.Uint32(b[4:]) & LSInfinity,
	}
	for i := 8; i < len(b); i += 4 {
		s.TOS = append(s.TOS, binary.BigEndian.Uint32(b[i:]))
	}
	return s, nil
}

// ExternalTOS is an extra TOS entry of an AS-external LSA.
type ExternalTOS struct {
	Type2   bool
	TOS     uint8
	Metric  uint32
	Forward ID
	Tag     uint32
}

// ExternalLSA is the body of a type 5 LSA.
type ExternalLSA struct {
	Mask    ID
	Type2   bool   // the E bit: metric type 2
	Metric  uint32 // 24 bits
	Forward ID     // forwarding address, 0 for the advertising router
	Tag     uint32
	TOS     []ExternalTOS
}

func (e *ExternalLSA) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(e.Mask))
	b = appendExtMetric(b, e.Type2, 0, e.Metric)
	b = binary.BigEndian.AppendUint32(b, uint32(e.Forward))
	b = binary.BigEndian.AppendUint32(b, e.Tag)
	for _, t := range e.TOS {
		b = appendExtMetric(b, t.Type2, t.TOS, t.Metric)
		b = binary.BigEndian.AppendUint32(b, uint32(t.Forward))
		b = binary.BigEndian.AppendUint32(b, t.Tag)
	}
	return b
}

func appendExtMetric(b []byte, type2 bool, tos uint8, metric uint32) []byte {
	v := uint32(tos&0x7f)<<24 | metric&LSInfinity
	if type2 {
		v |= 1 << 31
	}
	return binary.BigEndian.AppendUint32(b, v)
}

func decodeExternalLSA(b []byte) (*ExternalLSA, error) {
	if len(b) < 16 || (len(b)-4)%12 != 0 {
		return nil, malformed("AS-external LSA body of %d bytes", len(b))
	}
	e := &ExternalLSA{Mask: ID(binary.BigEndian.Uint32(b))}
	for i := 4; i < len(b); i += 12 {
		v := binary.BigEndian.Uint32(b[i:])
		t := ExternalTOS{
			Type2:   v&(1<<31) != 0,
			TOS:     uint8(v>>24) & 0x7f,
			Metric:  v & LSInfinity,
			Forward: ID(binary.BigEndian.Uint32(b[i+4:])),
			Tag:     binary.BigEndian.Uint32(b[i+8:]),
		}
		if i == 4 {
			e.Type2, e.Metric, e.Forward, e.Tag = t.Type2, t.Metric, t.Forward, t.Tag
			continue
		}
		e.TOS = append(e.TOS, t)
	}
	return e, nil
}

// UnknownLSA is the body of an LSA of a type this package does not decode.
type UnknownLSA struct {
	Data []byte
}

func (u *UnknownLSA) appendTo(b []byte) []byte { return append(b, u.Data...) }
