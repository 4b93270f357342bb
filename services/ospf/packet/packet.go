// Package packet is the OSPFv2 wire format (RFC 2328 appendix A): the
// common header with its checksum and authentication (null and simple
// password), the five packet types, and the link-state advertisements of
// types 1 to 5 with the Fletcher checksum.
//
// Decoding never panics on any input: every length is checked and a
// malformed packet is an error wrapping ErrMalformed (or ErrChecksum,
// ErrVersion, ErrAuthType). LSAs keep the bytes they were decoded from
// (LSA.Raw), so a router floods exactly what it received; LSAs of types
// this package does not know decode with an *UnknownLSA body.
package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Version is the OSPF version this package speaks.
const Version = 2

// Sizes of the fixed parts.
const (
	HeaderLen    = 24
	LSAHeaderLen = 20
	helloFixed   = 20
	ddFixed      = 8
	lsrEntryLen  = 12
)

// Errors. Decoding errors wrap one of them.
var (
	ErrMalformed = errors.New("malformed OSPF packet")
	ErrVersion   = errors.New("not OSPF version 2")
	ErrChecksum  = errors.New("bad OSPF checksum")
	ErrAuthType  = errors.New("unsupported authentication type")
)

// ID is a 32-bit identifier written as a dotted quad: router ID, area ID,
// link state ID, and the addresses and masks inside packets.
type ID uint32

// String is the dotted quad.
func (id ID) String() string {
	return netip.AddrFrom4(id.bytes()).String()
}

func (id ID) bytes() [4]byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(id))
	return b
}

// Addr is the ID as an IPv4 address.
func (id ID) Addr() netip.Addr { return netip.AddrFrom4(id.bytes()) }

// IDFromAddr converts an IPv4 address (anything else gives 0).
func IDFromAddr(a netip.Addr) ID {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return ID(binary.BigEndian.Uint32(b[:]))
}

// MaskID is the network mask of a prefix length (0-32).
func MaskID(bits int) ID {
	if bits <= 0 {
		return 0
	}
	if bits >= 32 {
		return 0xffffffff
	}
	return ID(^uint32(0) << (32 - bits))
}

// MaskBits is the length of a contiguous mask; ok is false for a
// non-contiguous one.
func MaskBits(m ID) (int, bool) {
	inv := ^uint32(m)
	if inv&(inv+1) != 0 {
		return 0, false
	}
	n := 0
	for v := uint32(m); v != 0; v <<= 1 {
		n++
	}
	return n, true
}

// ParseID reads a dotted quad or a decimal integer (as VRP accepts area
// IDs: `area 1` is 0.0.0.1).
func ParseID(s string) (ID, error) {
	if strings.Contains(s, ".") {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return 0, fmt.Errorf("invalid dotted ID %q", s)
		}
		return IDFromAddr(a), nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid ID %q: %w", s, err)
	}
	return ID(n), nil
}

// Well-known multicast groups.
var (
	AllSPFRouters = netip.AddrFrom4([4]byte{224, 0, 0, 5})
	AllDRouters   = netip.AddrFrom4([4]byte{224, 0, 0, 6})
)

// Type is the packet type.
type Type uint8

// Packet types.
const (
	TypeHello     Type = 1
	TypeDBDesc    Type = 2
	TypeLSRequest Type = 3
	TypeLSUpdate  Type = 4
	TypeLSAck     Type = 5
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "Hello"
	case TypeDBDesc:
		return "DD"
	case TypeLSRequest:
		return "LSR"
	case TypeLSUpdate:
		return "LSU"
	case TypeLSAck:
		return "LSAck"
	}
	return "type" + strconv.Itoa(int(t))
}

// AuthType is the authentication type of the header.
type AuthType uint16

// Authentication types.
const (
	AuthNull   AuthType = 0
	AuthSimple AuthType = 1
	AuthCrypto AuthType = 2
)

func (a AuthType) String() string {
	switch a {
	case AuthNull:
		return "None"
	case AuthSimple:
		return "Simple"
	case AuthCrypto:
		return "MD5"
	}
	return "type" + strconv.Itoa(int(a))
}

// Options are the option bits of Hello, DD and LSA headers.
type Options uint8

// Option bits (RFC 2328 A.2, with N/P of RFC 3101 and O of RFC 5250).
const (
	OptMT Options = 0x01
	OptE  Options = 0x02
	OptMC Options = 0x04
	OptNP Options = 0x08
	OptEA Options = 0x10
	OptDC Options = 0x20
	OptO  Options = 0x40
	OptDN Options = 0x80
)

// Header is the common 24-byte packet header.
type Header struct {
	Type     Type
	RouterID ID
	AreaID   ID
	AuthType AuthType
	// Auth is the authentication field: the password for simple
	// authentication (zero padded), zero for null.
	Auth [8]byte
	// Length and Checksum are filled by Decode (Marshal computes them).
	Length   uint16
	Checksum uint16
}

// Body is one of *Hello, *DBDesc, *LSRequest, *LSUpdate, *LSAck.
type Body interface {
	Type() Type
	appendTo(b []byte) []byte
}

// Packet is a decoded OSPF packet.
type Packet struct {
	Header
	Body Body
}

// Hello is the Hello packet (A.3.2).
type Hello struct {
	NetworkMask   ID
	HelloInterval uint16
	Options       Options
	Priority      uint8
	DeadInterval  uint32
	DR            ID
	BDR           ID
	Neighbors     []ID
}

// Type implements Body.
func (*Hello) Type() Type { return TypeHello }

// DD flags.
const (
	DDMasterSlave uint8 = 0x01
	DDMore        uint8 = 0x02
	DDInit        uint8 = 0x04
)

// DBDesc is the Database Description packet (A.3.3).
type DBDesc struct {
	MTU     uint16
	Options Options
	Flags   uint8 // DDInit | DDMore | DDMasterSlave
	Seq     uint32
	LSAs    []LSAHeader
}

// Type implements Body.
func (*DBDesc) Type() Type { return TypeDBDesc }

// Init, More and Master read the flags.
func (d *DBDesc) Init() bool   { return d.Flags&DDInit != 0 }
func (d *DBDesc) More() bool   { return d.Flags&DDMore != 0 }
func (d *DBDesc) Master() bool { return d.Flags&DDMasterSlave != 0 }

// LSAKey names an LSA instance-independently.
type LSAKey struct {
	Type      LSAType
	ID        ID
	AdvRouter ID
}

func (k LSAKey) String() string {
	return fmt.Sprintf("%s %s %s", k.Type, k.ID, k.AdvRouter)
}

// LSRequest is the Link State Request packet (A.3.4).
type LSRequest struct {
	Requests []LSAKey
}

// Type implements Body.
func (*LSRequest) Type() Type { return TypeLSRequest }

// LSUpdate is the Link State Update packet (A.3.5).
type LSUpdate struct {
	LSAs []*LSA
}

// Type implements Body.
func (*LSUpdate) Type() Type { return TypeLSUpdate }

// LSAck is the Link State Acknowledgment packet (A.3.6).
type LSAck struct {
	LSAs []LSAHeader
}

// Type implements Body.
func (*LSAck) Type() Type { return TypeLSAck }

// Marshal encodes p, filling the length and the checksum (with the
// authentication field excluded, as A.3.1 specifies). Cryptographic
// authentication is not produced: its packets carry a zero checksum and no
// digest.
func (p *Packet) Marshal() []byte {
	return p.AppendTo(make([]byte, 0, 256))
}

// AppendTo is Marshal into b.
func (p *Packet) AppendTo(b []byte) []byte {
	start := len(b)
	b = append(b, Version, byte(p.Body.Type()), 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(p.RouterID))
	b = binary.BigEndian.AppendUint32(b, uint32(p.AreaID))
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(p.AuthType))
	b = append(b, make([]byte, 8)...)
	b = p.Body.appendTo(b)
	pkt := b[start:]
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	if p.AuthType != AuthCrypto {
		binary.BigEndian.PutUint16(pkt[12:], Checksum(pkt))
	}
	copy(pkt[16:24], p.Auth[:])
	return b
}

// Checksum is the header checksum of an encoded packet: the one's
// complement sum over the packet with the checksum and the authentication
// field taken as zero.
func Checksum(pkt []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(pkt); i += 2 {
		if i == 12 || (i >= 16 && i < 24) {
			continue
		}
		sum += uint32(pkt[i])<<8 | uint32(pkt[i+1])
	}
	if len(pkt)%2 == 1 {
		sum += uint32(pkt[len(pkt)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func (h *Hello) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(h.NetworkMask))
	b = binary.BigEndian.AppendUint16(b, h.HelloInterval)
	b = append(b, byte(h.Options), h.Priority)
	b = binary.BigEndian.AppendUint32(b, h.DeadInterval)
	b = binary.BigEndian.AppendUint32(b, uint32(h.DR))
	b = binary.BigEndian.AppendUint32(b, uint32(h.BDR))
	for _, n := range h.Neighbors {
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return b
}

func (d *DBDesc) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, d.MTU)
	b = append(b, byte(d.Options), d.Flags)
	b = binary.BigEndian.AppendUint32(b, d.Seq)
	for _, h := range d.LSAs {
		b = h.AppendTo(b)
	}
	return b
}

func (r *LSRequest) appendTo(b []byte) []byte {
	for _, k := range r.Requests {
		b = binary.BigEndian.AppendUint32(b, uint32(k.Type))
		b = binary.BigEndian.AppendUint32(b, uint32(k.ID))
		b = binary.BigEndian.AppendUint32(b, uint32(k.AdvRouter))
	}
	return b
}

func (u *LSUpdate) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(u.LSAs)))
	for _, l := range u.LSAs {
		b = append(b, l.Raw...)
	}
	return b
}

func (a *LSAck) appendTo(b []byte) []byte {
	for _, h := range a.LSAs {
		b = h.AppendTo(b)
	}
	return b
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Decode parses one OSPF packet (the IP payload). It checks the version, the
// length, the header checksum (not for cryptographic authentication, whose
// digest this package does not verify) and every body length. Bytes after
// the packet length (IP padding) are ignored. The result does not alias b.
func Decode(b []byte) (*Packet, error) {
	if len(b) < HeaderLen {
		return nil, malformed("%d bytes, shorter than the header", len(b))
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: version %d", ErrVersion, b[0])
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < HeaderLen || n > len(b) {
		return nil, malformed("length %d with %d bytes", n, len(b))
	}
	b = b[:n]
	p := &Packet{Header: Header{
		Type:     Type(b[1]),
		Length:   uint16(n),
		RouterID: ID(binary.BigEndian.Uint32(b[4:])),
		AreaID:   ID(binary.BigEndian.Uint32(b[8:])),
		Checksum: binary.BigEndian.Uint16(b[12:]),
		AuthType: AuthType(binary.BigEndian.Uint16(b[14:])),
	}}
	copy(p.Auth[:], b[16:24])
	switch p.AuthType {
	case AuthNull, AuthSimple:
		if c := Checksum(b); c != p.Checksum {
			return nil, fmt.Errorf("%w: %#04x, computed %#04x", ErrChecksum, p.Checksum, c)
		}
	case AuthCrypto:
	default:
		return nil, fmt.Errorf("%w: %d", ErrAuthType, p.AuthType)
	}
	body := b[HeaderLen:]
	var err error
	switch p.Type {
	case TypeHello:
		p.Body, err = decodeHello(body)
	case TypeDBDesc:
		p.Body, err = decodeDD(body)
	case TypeLSRequest:
		p.Body, err = decodeLSR(body)
	case TypeLSUpdate:
		p.Body, err = decodeLSU(body)
	case TypeLSAck:
		p.Body, err = decodeAck(body)
	default:
		return nil, malformed("packet type %d", p.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Type, err)
	}
	return p, nil
}

func decodeHello(b []byte) (*Hello, error) {
	if len(b) < helloFixed || (len(b)-helloFixed)%4 != 0 {
		return nil, malformed("hello body of %d bytes", len(b))
	}
	h := &Hello{
		NetworkMask:   ID(binary.BigEndian.Uint32(b)),
		HelloInterval: binary.BigEndian.Uint16(b[4:]),
		Options:       Options(b[6]),
		Priority:      b[7],
		DeadInterval:  binary.BigEndian.Uint32(b[8:]),
		DR:            ID(binary.BigEndian.Uint32(b[12:])),
		BDR:           ID(binary.BigEndian.Uint32(b[16:])),
	}
	for i := helloFixed; i < len(b); i += 4 {
		h.Neighbors = append(h.Neighbors, ID(binary.BigEndian.Uint32(b[i:])))
	}
	return h, nil
}

func decodeDD(b []byte) (*DBDesc, error) {
	if len(b) < ddFixed || (len(b)-ddFixed)%LSAHeaderLen != 0 {
		return nil, malformed("DD body of %d bytes", len(b))
	}
	d := &DBDesc{
		MTU:     binary.BigEndian.Uint16(b),
		Options: Options(b[2]),
		Flags:   b[3],
		Seq:     binary.BigEndian.Uint32(b[4:]),
	}
	for i := ddFixed; i < len(b); i += LSAHeaderLen {
		h, err := DecodeLSAHeader(b[i:])
		if err != nil {
			return nil, err
		}
		d.LSAs = append(d.LSAs, h)
	}
	return d, nil
}

func decodeLSR(b []byte) (*LSRequest, error) {
	if len(b)%lsrEntryLen != 0 {
		return nil, malformed("LSR body of %d bytes", len(b))
	}
	r := &LSRequest{}
	for i := 0; i < len(b); i += lsrEntryLen {
		t := binary.BigEndian.Uint32(b[i:])
		if t == 0 || t > 255 {
			return nil, malformed("LSR for LS type %d", t)
		}
		r.Requests = append(r.Requests, LSAKey{
			Type:      LSAType(t),
			ID:        ID(binary.BigEndian.Uint32(b[i+4:])),
			AdvRouter: ID(binary.BigEndian.Uint32(b[i+8:])),
		})
	}
	return r, nil
}

func decodeLSU(b []byte) (*LSUpdate, error) {
	if len(b) < 4 {
		return nil, malformed("LSU body of %d bytes", len(b))
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	// Each LSA takes at least a header: a count beyond that is a lie.
	if uint64(n)*LSAHeaderLen > uint64(len(b)) {
		return nil, malformed("LSU claims %d LSAs in %d bytes", n, len(b))
	}
	u := &LSUpdate{LSAs: make([]*LSA, 0, n)}
	for range n {
		l, rest, err := DecodeLSA(b)
		if err != nil {
			return nil, err
		}
		u.LSAs = append(u.LSAs, l)
		b = rest
	}
	if len(b) != 0 {
		return nil, malformed("LSU with %d bytes after its %d LSAs", len(b), n)
	}
	return u, nil
}

func decodeAck(b []byte) (*LSAck, error) {
	if len(b)%LSAHeaderLen != 0 {
		return nil, malformed("LSAck body of %d bytes", len(b))
	}
	a := &LSAck{}
	for i := 0; i < len(b); i += LSAHeaderLen {
		h, err := DecodeLSAHeader(b[i:])
		if err != nil {
			return nil, err
		}
		a.LSAs = append(a.LSAs, h)
	}
	return a, nil
}
