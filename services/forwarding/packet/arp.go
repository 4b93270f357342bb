package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ARP operations.
const (
	ARPRequest = 1
	ARPReply   = 2
)

// ARPLen is the length of an Ethernet/IPv4 ARP packet.
const ARPLen = 28

// ARP is an Ethernet/IPv4 ARP packet (RFC 826).
type ARP struct {
	Op       uint16
	SenderHW MAC
	SenderIP netip.Addr
	TargetHW MAC
	TargetIP netip.Addr
}

// ParseARP parses an ARP packet for Ethernet and IPv4; other hardware or
// protocol types are an error.
func ParseARP(b []byte) (ARP, error) {
	var a ARP
	if len(b) < ARPLen {
		return a, fmt.Errorf("arp: %w", ErrShort)
	}
	if binary.BigEndian.Uint16(b[0:2]) != 1 || binary.BigEndian.Uint16(b[2:4]) != EtherTypeIPv4 || b[4] != 6 || b[5] != 4 {
		return a, fmt.Errorf("arp: not ethernet/ipv4: %w", ErrMalformed)
	}
	a.Op = binary.BigEndian.Uint16(b[6:8])
	copy(a.SenderHW[:], b[8:14])
	a.SenderIP = netip.AddrFrom4([4]byte(b[14:18]))
	copy(a.TargetHW[:], b[18:24])
	a.TargetIP = netip.AddrFrom4([4]byte(b[24:28]))
	return a, nil
}

// Append appends the encoded packet to b. Invalid or non-IPv4 addresses are
// encoded as 0.0.0.0.
func (a *ARP) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, EtherTypeIPv4)
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, a.Op)
	b = append(b, a.SenderHW[:]...)
	b = appendAddr4(b, a.SenderIP)
	b = append(b, a.TargetHW[:]...)
	b = appendAddr4(b, a.TargetIP)
	return b
}

func appendAddr4(b []byte, a netip.Addr) []byte {
	if !a.Is4() {
		return append(b, 0, 0, 0, 0)
	}
	v := a.As4()
	return append(b, v[:]...)
}

// ARPFrame builds a complete Ethernet frame carrying a.
func ARPFrame(dst, src MAC, a *ARP) []byte {
	e := Ethernet{Dst: dst, Src: src, EtherType: EtherTypeARP}
	b := e.Append(make([]byte, 0, EthernetLen+ARPLen+18))
	b = a.Append(b)
	// Pad to the 60-byte minimum so strict receivers accept it.
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}
