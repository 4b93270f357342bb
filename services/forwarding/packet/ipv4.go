package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IP protocol numbers.
const (
	ProtoICMP = 1
	ProtoTCP  = 6
	ProtoUDP  = 17
)

// IPv4Len is the length of an IPv4 header without options.
const IPv4Len = 20

// IPv4 flag bits (in the Flags field, the top three bits of the fragment word).
const (
	IPv4DontFragment  = 0x2
	IPv4MoreFragments = 0x1
)

// IPv4 is a parsed IPv4 header.
type IPv4 struct {
	IHL      int // header length in bytes
	TOS      uint8
	TotalLen uint16
	ID       uint16
	Flags    uint8
	FragOff  uint16 // in 8-byte units
	TTL      uint8
	Protocol uint8
	Checksum uint16
	Src, Dst netip.Addr
}

// ParseIPv4 parses and validates the header at the start of b: version 4,
// header length at least 20 and within b, total length covering the header
// and within b. It does not verify the checksum (see IPv4ChecksumOK).
func ParseIPv4(b []byte) (IPv4, error) {
	var h IPv4
	if len(b) < IPv4Len {
		return h, fmt.Errorf("ipv4 header: %w", ErrShort)
	}
	if b[0]>>4 != 4 {
		return h, fmt.Errorf("ipv4: version %d: %w", b[0]>>4, ErrMalformed)
	}
	h.IHL = int(b[0]&0xf) * 4
	if h.IHL < IPv4Len {
		return h, fmt.Errorf("ipv4: header length %d: %w", h.IHL, ErrMalformed)
	}
	if h.IHL > len(b) {
		return h, fmt.Errorf("ipv4 options: %w", ErrShort)
	}
	h.TOS = b[1]
	h.TotalLen = binary.BigEndian.Uint16(b[2:4])
	if int(h.TotalLen) < h.IHL {
		return h, fmt.Errorf("ipv4: total length %d < header length %d: %w", h.TotalLen, h.IHL, ErrMalformed)
	}
	if int(h.TotalLen) > len(b) {
		return h, fmt.Errorf("ipv4: total length %d > %d bytes: %w", h.TotalLen, len(b), ErrShort)
	}
	h.ID = binary.BigEndian.Uint16(b[4:6])
	fw := binary.BigEndian.Uint16(b[6:8])
	h.Flags = uint8(fw >> 13)
	h.FragOff = fw & 0x1fff
	h.TTL = b[8]
	h.Protocol = b[9]
	h.Checksum = binary.BigEndian.Uint16(b[10:12])
	h.Src = netip.AddrFrom4([4]byte(b[12:16]))
	h.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	return h, nil
}

// IPv4ChecksumOK reports whether the header checksum of the IPv4 header at
// the start of b is correct. b must hold the whole header.
func IPv4ChecksumOK(b []byte) bool {
	ihl := int(b[0]&0xf) * 4
	if ihl < IPv4Len || ihl > len(b) {
		return false
	}
	return Fold(Sum(b[:ihl], 0)) == 0xffff
}

// SetIPv4Checksum recomputes the header checksum in place.
func SetIPv4Checksum(b []byte) {
	ihl := int(b[0]&0xf) * 4
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:12], Checksum(b[:ihl]))
}

// SetIPv4TTL sets the TTL of the header at the start of b and updates the
// checksum incrementally (RFC 1624).
func SetIPv4TTL(b []byte, ttl uint8) {
	old := binary.BigEndian.Uint16(b[8:10])
	b[8] = ttl
	nw := binary.BigEndian.Uint16(b[8:10])
	binary.BigEndian.PutUint16(b[10:12], UpdateChecksum16(binary.BigEndian.Uint16(b[10:12]), old, nw))
}

// DecIPv4TTL decrements the TTL in place with an incremental checksum update
// and returns the new TTL. The caller checks TTL > 1 first.
func DecIPv4TTL(b []byte) uint8 {
	t := b[8] - 1
	SetIPv4TTL(b, t)
	return t
}

// Append appends the header with checksum; IHL is 20 (options are not
// encoded) and TotalLen is taken as given.
func (h *IPv4) Append(b []byte) []byte {
	n := len(b)
	b = append(b, 0x45, h.TOS)
	b = binary.BigEndian.AppendUint16(b, h.TotalLen)
	b = binary.BigEndian.AppendUint16(b, h.ID)
	b = binary.BigEndian.AppendUint16(b, uint16(h.Flags)<<13|h.FragOff&0x1fff)
	b = append(b, h.TTL, h.Protocol, 0, 0)
	b = appendAddr4(b, h.Src)
	b = appendAddr4(b, h.Dst)
	binary.BigEndian.PutUint16(b[n+10:n+12], Checksum(b[n:n+IPv4Len]))
	return b
}

// BuildIPv4 returns an IPv4 packet (20-byte header, checksum set) carrying payload.
func BuildIPv4(src, dst netip.Addr, proto, ttl uint8, id uint16, payload []byte) []byte {
	h := IPv4{TotalLen: uint16(IPv4Len + len(payload)), ID: id, TTL: ttl, Protocol: proto, Src: src, Dst: dst}
	b := h.Append(make([]byte, 0, IPv4Len+len(payload)))
	return append(b, payload...)
}
