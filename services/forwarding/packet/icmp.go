package packet

import (
	"encoding/binary"
	"fmt"
)

// ICMP types and codes used by the forwarder.
const (
	ICMPEchoReply       = 0
	ICMPDestUnreachable = 3
	ICMPEchoRequest     = 8
	ICMPTimeExceeded    = 11
	ICMPParamProblem    = 12

	// Destination unreachable codes.
	ICMPNetUnreachable  = 0
	ICMPHostUnreachable = 1
	ICMPFragNeeded      = 4
	ICMPAdminProhibited = 13

	// Time exceeded codes.
	ICMPTTLExceeded = 0
)

// ICMPLen is the length of the fixed ICMP header.
const ICMPLen = 8

// ICMP is a parsed ICMP header. Rest holds bytes 4..7 (identifier and
// sequence for echo, length and next-hop MTU for errors).
type ICMP struct {
	Type, Code uint8
	Checksum   uint16
	Rest       [4]byte
	Body       []byte // aliases the input
}

// ParseICMP parses an ICMP message.
func ParseICMP(b []byte) (ICMP, error) {
	var m ICMP
	if len(b) < ICMPLen {
		return m, fmt.Errorf("icmp: %w", ErrShort)
	}
	m.Type, m.Code = b[0], b[1]
	m.Checksum = binary.BigEndian.Uint16(b[2:4])
	copy(m.Rest[:], b[4:8])
	m.Body = b[8:]
	return m, nil
}

// IsError reports whether the type is an ICMP error message (RFC 1812
// 4.3.2.7: no error is sent about an error).
func (m *ICMP) IsError() bool {
	switch m.Type {
	case ICMPDestUnreachable, 4, 5, ICMPTimeExceeded, ICMPParamProblem:
		return true
	}
	return false
}

// ChecksumOK reports whether the checksum over b (a whole ICMP message) is valid.
func ICMPChecksumOK(b []byte) bool { return len(b) >= ICMPLen && Fold(Sum(b, 0)) == 0xffff }

// Echo returns the identifier and sequence of an echo request or reply.
func (m *ICMP) Echo() (id, seq uint16) {
	return binary.BigEndian.Uint16(m.Rest[0:2]), binary.BigEndian.Uint16(m.Rest[2:4])
}

// BuildEcho builds an echo request (or reply) message with checksum.
func BuildEcho(typ uint8, id, seq uint16, data []byte) []byte {
	b := make([]byte, ICMPLen, ICMPLen+len(data))
	b[0] = typ
	binary.BigEndian.PutUint16(b[4:6], id)
	binary.BigEndian.PutUint16(b[6:8], seq)
	b = append(b, data...)
	binary.BigEndian.PutUint16(b[2:4], Checksum(b))
	return b
}

// Quoted returns how much of the offending packet an ICMP error quotes: the
// IP header and the first 8 bytes of its payload (RFC 792), within the packet.
func Quoted(orig []byte) []byte {
	if len(orig) < IPv4Len {
		return orig
	}
	n := int(orig[0]&0xf)*4 + 8
	if tl := int(binary.BigEndian.Uint16(orig[2:4])); tl < n && tl >= IPv4Len {
		n = tl
	}
	if n > len(orig) {
		n = len(orig)
	}
	return orig[:n]
}

// icmpExtQuoteLen is the length the original datagram is padded to when an
// RFC 4884 extension follows.
const icmpExtQuoteLen = 128

// BuildICMPError builds a destination unreachable or time exceeded message
// about orig (the offending IPv4 packet, from its IP header on). mtu is the
// next-hop MTU for "fragmentation needed" and ignored otherwise.
//
// When labels is non-empty (the packet arrived with that MPLS label stack) an
// RFC 4950 MPLS label stack object is appended in an RFC 4884 extension
// structure: the quoted datagram is then up to 128 bytes of orig, zero padded
// to 128, and its length in 32-bit words is in byte 5.
func BuildICMPError(typ, code uint8, mtu uint16, orig []byte, labels []LabelEntry) []byte {
	b := make([]byte, ICMPLen, 256)
	b[0], b[1] = typ, code
	if typ == ICMPDestUnreachable && code == ICMPFragNeeded {
		binary.BigEndian.PutUint16(b[6:8], mtu)
	}
	if len(labels) == 0 {
		b = append(b, Quoted(orig)...)
	} else {
		q := orig
		if len(q) > icmpExtQuoteLen {
			q = q[:icmpExtQuoteLen]
		}
		b = append(b, q...)
		for len(b) < ICMPLen+icmpExtQuoteLen {
			b = append(b, 0)
		}
		b[5] = icmpExtQuoteLen / 4
		ext := len(b)
		// Extension header: version 2, reserved, checksum.
		b = append(b, 0x20, 0, 0, 0)
		// Object header: length, class-num 1 (MPLS label stack), c-type 1.
		b = binary.BigEndian.AppendUint16(b, uint16(4+MPLSLen*len(labels)))
		b = append(b, 1, 1)
		for _, l := range labels {
			b = binary.BigEndian.AppendUint32(b, l.Encode())
		}
		binary.BigEndian.PutUint16(b[ext+2:ext+4], Checksum(b[ext:]))
	}
	binary.BigEndian.PutUint16(b[2:4], Checksum(b))
	return b
}

// ICMPExtensionLabels returns the label stack carried in an RFC 4950 object
// of an error message b (a whole ICMP message), or nil.
func ICMPExtensionLabels(b []byte) ([]LabelEntry, error) {
	if len(b) < ICMPLen || b[5] == 0 {
		return nil, nil
	}
	off := ICMPLen + int(b[5])*4
	if off+4 > len(b) {
		return nil, fmt.Errorf("icmp extension: %w", ErrShort)
	}
	if b[off]>>4 != 2 {
		return nil, fmt.Errorf("icmp extension version %d: %w", b[off]>>4, ErrMalformed)
	}
	if Fold(Sum(b[off:], 0)) != 0xffff {
		return nil, fmt.Errorf("icmp extension checksum: %w", ErrMalformed)
	}
	var out []LabelEntry
	for p := off + 4; p+4 <= len(b); {
		ol := int(binary.BigEndian.Uint16(b[p : p+2]))
		if ol < 4 || p+ol > len(b) {
			return nil, fmt.Errorf("icmp extension object length %d: %w", ol, ErrMalformed)
		}
		if b[p+2] == 1 && b[p+3] == 1 {
			for q := p + 4; q+4 <= p+ol; q += 4 {
				out = append(out, DecodeLabelEntry(binary.BigEndian.Uint32(b[q:])))
			}
		}
		p += ol
	}
	return out, nil
}
