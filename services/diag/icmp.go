package diag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ICMP types and codes used by ping and tracert (RFC 792).
const (
	ICMPEchoReply      = 0
	ICMPDestUnreach    = 3
	ICMPEchoRequest    = 8
	ICMPTimeExceeded   = 11
	UnreachNet         = 0
	UnreachHost        = 1
	UnreachProtocol    = 2
	UnreachPort        = 3
	UnreachFragNeeded  = 4
	UnreachSourceRoute = 5
	UnreachAdminProhib = 13
)

const (
	ipv4HeaderLen = 20
	icmpHeaderLen = 8
	udpHeaderLen  = 8
	protoICMP     = 1
	protoUDP      = 17
)

// Checksum is the Internet checksum (RFC 1071) of b.
func Checksum(b []byte) uint16 {
	var sum uint32
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// MarshalEcho builds an ICMP echo message (request or reply) with its
// checksum: type, code 0, identifier, sequence number, data.
func MarshalEcho(typ uint8, id, seq uint16, data []byte) []byte {
	b := make([]byte, icmpHeaderLen+len(data))
	b[0] = typ
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[icmpHeaderLen:], data)
	binary.BigEndian.PutUint16(b[2:], Checksum(b))
	return b
}

// ICMPPacket is an IPv4 packet carrying ICMP, as a raw IPPROTO_ICMP socket
// delivers it (IP header included).
type ICMPPacket struct {
	Src, Dst netip.Addr
	TTL      uint8
	Type     uint8
	Code     uint8
	// ID and Seq are the echo identifier and sequence number (bytes 4-7 of
	// the ICMP header; meaningless for error messages).
	ID, Seq uint16
	// Body follows the 8-byte ICMP header: echo data, or for errors the
	// quoted datagram (its IP header and at least 8 bytes of its payload).
	Body []byte
}

// Errors of ParseICMPv4.
var (
	ErrShortPacket = errors.New("packet too short")
	ErrNotIPv4     = errors.New("not an IPv4 packet")
	ErrNotICMP     = errors.New("not ICMP")
	ErrChecksum    = errors.New("bad ICMP checksum")
)

// ParseICMPv4 decodes an IPv4 packet holding an ICMP message and verifies the
// ICMP checksum. Body aliases b.
func ParseICMPv4(b []byte) (ICMPPacket, error) {
	var p ICMPPacket
	ihl, total, err := ipv4Bounds(b)
	if err != nil {
		return p, err
	}
	if b[9] != protoICMP {
		return p, ErrNotICMP
	}
	if b[6]&0x1f != 0 || b[7] != 0 {
		return p, fmt.Errorf("%w: non-first fragment", ErrNotICMP)
	}
	icmp := b[ihl:total]
	if len(icmp) < icmpHeaderLen {
		return p, fmt.Errorf("%w: ICMP header", ErrShortPacket)
	}
	if Checksum(icmp) != 0 {
		return p, ErrChecksum
	}
	p.TTL = b[8]
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.Type = icmp[0]
	p.Code = icmp[1]
	p.ID = binary.BigEndian.Uint16(icmp[4:])
	p.Seq = binary.BigEndian.Uint16(icmp[6:])
	p.Body = icmp[icmpHeaderLen:]
	return p, nil
}

// ipv4Bounds validates an IPv4 header at the start of b and returns the header
// length and the usable end of the packet (the total length field, or len(b)
// for a truncated quote).
func ipv4Bounds(b []byte) (ihl, end int, err error) {
	if len(b) < ipv4HeaderLen {
		return 0, 0, fmt.Errorf("%w: IPv4 header", ErrShortPacket)
	}
	if b[0]>>4 != 4 {
		return 0, 0, ErrNotIPv4
	}
	ihl = int(b[0]&0x0f) * 4
	if ihl < ipv4HeaderLen {
		return 0, 0, fmt.Errorf("%w: header length %d", ErrNotIPv4, ihl)
	}
	if len(b) < ihl {
		return 0, 0, fmt.Errorf("%w: IPv4 options", ErrShortPacket)
	}
	end = int(binary.BigEndian.Uint16(b[2:]))
	if end < ihl {
		return 0, 0, fmt.Errorf("%w: total length %d", ErrNotIPv4, end)
	}
	if end > len(b) {
		end = len(b)
	}
	return ihl, end, nil
}

// QuotedUDP is the start of the UDP datagram quoted in an ICMP error.
type QuotedUDP struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

// ParseQuotedUDP decodes the datagram quoted in an ICMP error body: an IPv4
// header and the first 8 bytes of its UDP header.
func ParseQuotedUDP(body []byte) (QuotedUDP, error) {
	var q QuotedUDP
	// The quote's total length is the original datagram's; the quote itself
	// may be shorter, so only the bytes present count.
	ihl, _, err := ipv4Bounds(body)
	if err != nil {
		return q, fmt.Errorf("quoted datagram: %w", err)
	}
	if body[9] != protoUDP {
		return q, fmt.Errorf("quoted datagram: protocol %d, not UDP", body[9])
	}
	if len(body) < ihl+4 {
		return q, fmt.Errorf("quoted datagram: %w: UDP ports", ErrShortPacket)
	}
	q.Src = netip.AddrFrom4([4]byte(body[12:16]))
	q.Dst = netip.AddrFrom4([4]byte(body[16:20]))
	q.SrcPort = binary.BigEndian.Uint16(body[ihl:])
	q.DstPort = binary.BigEndian.Uint16(body[ihl+2:])
	return q, nil
}
