package mplsecho

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// RequestDst is the destination of echo requests: an address of 127/8, so
// that a request that leaves its LSP is never forwarded as IP.
var RequestDst = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// ipHeaderLen is an IPv4 header with the Router Alert option.
const ipHeaderLen = 24

// RequestPacket builds the IPv4/UDP packet an echo request travels in:
// from src (an address of the router, where the reply goes) and UDP port
// srcPort, to 127.0.0.1 port 3503, IP TTL 1, with the Router Alert option
// (RFC 8029 section 4.3). id is the IP identification.
func RequestPacket(src netip.Addr, srcPort, id uint16, msg []byte) []byte {
	n := ipHeaderLen + 8 + len(msg)
	b := make([]byte, n)
	b[0] = 0x46 // version 4, IHL 6
	binary.BigEndian.PutUint16(b[2:4], uint16(n))
	binary.BigEndian.PutUint16(b[4:6], id)
	b[8] = 1  // TTL
	b[9] = 17 // UDP
	s, d := src.As4(), RequestDst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	copy(b[20:24], []byte{0x94, 0x04, 0, 0}) // Router Alert
	binary.BigEndian.PutUint16(b[10:12], checksum(b[:ipHeaderLen], 0))
	u := b[ipHeaderLen:]
	binary.BigEndian.PutUint16(u[0:2], srcPort)
	binary.BigEndian.PutUint16(u[2:4], Port)
	binary.BigEndian.PutUint16(u[4:6], uint16(8+len(msg)))
	copy(u[8:], msg)
	// Pseudo-header: addresses, protocol, UDP length.
	var ph [12]byte
	copy(ph[0:4], s[:])
	copy(ph[4:8], d[:])
	ph[9] = 17
	binary.BigEndian.PutUint16(ph[10:12], uint16(8+len(msg)))
	c := checksum(u, sum(ph[:], 0))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:8], c)
	return b
}

func sum(b []byte, acc uint32) uint32 {
	for len(b) >= 2 {
		acc += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

func checksum(b []byte, acc uint32) uint16 {
	acc = sum(b, acc)
	for acc > 0xffff {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}

// ErrNotRequest: the packet is not an MPLS echo request in IPv4/UDP.
var ErrNotRequest = errors.New("mplsecho: not an echo request packet")

// ParseRequestPacket reads an IPv4/UDP packet to port 3503: its source
// address and port, and the message bytes.
func ParseRequestPacket(b []byte) (src netip.Addr, srcPort uint16, msg []byte, err error) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return src, 0, nil, ErrNotRequest
	}
	ihl := int(b[0]&0xf) * 4
	tl := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || tl < ihl+8 || tl > len(b) || b[9] != 17 || checksum(b[:ihl], 0) != 0 {
		return src, 0, nil, ErrNotRequest
	}
	u := b[ihl:tl]
	if binary.BigEndian.Uint16(u[2:4]) != Port || int(binary.BigEndian.Uint16(u[4:6])) != len(u) {
		return src, 0, nil, ErrNotRequest
	}
	return netip.AddrFrom4([4]byte(b[12:16])), binary.BigEndian.Uint16(u[0:2]), u[8:], nil
}
