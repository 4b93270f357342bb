package packet

import "encoding/binary"

// Sum adds b to the ones-complement accumulator s (RFC 1071) and returns it
// folded to 16 bits, so small values can be added to it without overflow. An
// odd trailing byte is padded with zero.
func Sum(b []byte, s uint32) uint32 {
	acc := uint64(s)
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		acc += v >> 32
		acc += v & 0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	for acc>>16 != 0 {
		acc = (acc & 0xffff) + (acc >> 16)
	}
	return uint32(acc)
}

// Fold folds the accumulator to 16 bits (not complemented).
func Fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = (s & 0xffff) + (s >> 16)
	}
	return uint16(s)
}

// Checksum is the Internet checksum of b: the complement of the folded sum.
func Checksum(b []byte) uint16 { return ^Fold(Sum(b, 0)) }

// UpdateChecksum16 returns the checksum after one 16-bit word of the covered
// data changed from old to new (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
func UpdateChecksum16(hc, old, new uint16) uint16 {
	s := uint32(^hc) + uint32(^old) + uint32(new)
	return ^Fold(s)
}

// PseudoHeaderSum is the IPv4 pseudo-header sum for an upper-layer checksum.
func PseudoHeaderSum(src, dst []byte, proto uint8, length int) uint32 {
	s := Sum(src[:4], 0)
	s = Sum(dst[:4], s)
	return s + uint32(proto) + uint32(length)
}
