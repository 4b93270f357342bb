package packet

import (
	"encoding/binary"
	"fmt"
	"net"
)

// EtherTypes handled by the forwarder.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100
	EtherTypeMPLS = 0x8847
	EtherTypeIPv6 = 0x86dd
)

// EthernetLen is the length of an untagged Ethernet header.
const EthernetLen = 14

// MAC is an Ethernet address.
type MAC [6]byte

// Broadcast is ff:ff:ff:ff:ff:ff.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// IsMulticast reports whether the group bit is set (includes broadcast).
func (m MAC) IsMulticast() bool { return m[0]&1 != 0 }

func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// Ethernet is a parsed Ethernet II header with at most one 802.1Q tag.
type Ethernet struct {
	Dst, Src  MAC
	Tagged    bool
	TCI       uint16 // 802.1Q tag control information, valid when Tagged
	EtherType uint16
}

// Len is the encoded header length.
func (e *Ethernet) Len() int {
	if e.Tagged {
		return EthernetLen + 4
	}
	return EthernetLen
}

// ParseEthernet parses the header at the start of b and returns it with its length.
func ParseEthernet(b []byte) (Ethernet, int, error) {
	var e Ethernet
	if len(b) < EthernetLen {
		return e, 0, fmt.Errorf("ethernet header: %w", ErrShort)
	}
	copy(e.Dst[:], b[0:6])
	copy(e.Src[:], b[6:12])
	e.EtherType = binary.BigEndian.Uint16(b[12:14])
	if e.EtherType != EtherTypeVLAN {
		return e, EthernetLen, nil
	}
	if len(b) < EthernetLen+4 {
		return e, 0, fmt.Errorf("802.1Q tag: %w", ErrShort)
	}
	e.Tagged = true
	e.TCI = binary.BigEndian.Uint16(b[14:16])
	e.EtherType = binary.BigEndian.Uint16(b[16:18])
	return e, EthernetLen + 4, nil
}

// Put writes the header into b, which must hold Len() bytes, and returns the length.
func (e *Ethernet) Put(b []byte) int {
	copy(b[0:6], e.Dst[:])
	copy(b[6:12], e.Src[:])
	if e.Tagged {
		binary.BigEndian.PutUint16(b[12:14], EtherTypeVLAN)
		binary.BigEndian.PutUint16(b[14:16], e.TCI)
		binary.BigEndian.PutUint16(b[16:18], e.EtherType)
		return EthernetLen + 4
	}
	binary.BigEndian.PutUint16(b[12:14], e.EtherType)
	return EthernetLen
}

// Append appends the encoded header to b.
func (e *Ethernet) Append(b []byte) []byte {
	n := len(b)
	b = append(b, make([]byte, e.Len())...)
	e.Put(b[n:])
	return b
}

// PutEthernet writes an untagged header (14 bytes) into b.
func PutEthernet(b []byte, dst, src MAC, etherType uint16) {
	_ = b[13]
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], etherType)
}
