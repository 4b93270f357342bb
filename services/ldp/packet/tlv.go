package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// TLVType is a TLV type without the U and F bits.
type TLVType uint16

// TLV types of RFC 5036 (section 3.4 and the IANA registry).
const (
	TLVFEC                 TLVType = 0x0100
	TLVAddressList         TLVType = 0x0101
	TLVHopCount            TLVType = 0x0103
	TLVPathVector          TLVType = 0x0104
	TLVGenericLabel        TLVType = 0x0200
	TLVATMLabel            TLVType = 0x0201
	TLVFrameRelayLabel     TLVType = 0x0202
	TLVStatus              TLVType = 0x0300
	TLVExtendedStatus      TLVType = 0x0301
	TLVReturnedPDU         TLVType = 0x0302
	TLVReturnedMessage     TLVType = 0x0303
	TLVCommonHello         TLVType = 0x0400
	TLVIPv4TransportAddr   TLVType = 0x0401
	TLVConfigSequence      TLVType = 0x0402
	TLVIPv6TransportAddr   TLVType = 0x0403
	TLVCommonSession       TLVType = 0x0500
	TLVATMSession          TLVType = 0x0501
	TLVFrameRelaySession   TLVType = 0x0502
	TLVLabelRequestMessage TLVType = 0x0600
)

// known lists the TLV types this codec understands; a TLV of another type
// is "unknown" in the sense of RFC 5036 section 3.3 (U bit handling).
var known = map[TLVType]bool{
	TLVFEC: true, TLVAddressList: true, TLVHopCount: true, TLVPathVector: true,
	TLVGenericLabel: true, TLVATMLabel: true, TLVFrameRelayLabel: true,
	TLVStatus: true, TLVExtendedStatus: true, TLVReturnedPDU: true, TLVReturnedMessage: true,
	TLVCommonHello: true, TLVIPv4TransportAddr: true, TLVConfigSequence: true, TLVIPv6TransportAddr: true,
	TLVCommonSession: true, TLVATMSession: true, TLVFrameRelaySession: true,
	TLVLabelRequestMessage: true,
}

const (
	tlvU = 0x8000
	tlvF = 0x4000
)

// TLV is a TLV as it appears on the wire. Decoders keep unknown TLVs whose
// U bit is set here (they are skipped, not refused), so a caller may forward
// those with the F bit.
type TLV struct {
	U, F  bool
	Type  TLVType // 14 bits
	Value []byte
}

func (t TLV) String() string {
	return fmt.Sprintf("tlv 0x%04x (U=%v F=%v, %d bytes)", uint16(t.Type), t.U, t.F, len(t.Value))
}

func appendTLVHeader(b []byte, u, f bool, t TLVType, length int) []byte {
	v := uint16(t) & 0x3fff
	if u {
		v |= tlvU
	}
	if f {
		v |= tlvF
	}
	b = binary.BigEndian.AppendUint16(b, v)
	return binary.BigEndian.AppendUint16(b, uint16(length))
}

func appendTLV(b []byte, t TLV) []byte {
	b = appendTLVHeader(b, t.U, t.F, t.Type, len(t.Value))
	return append(b, t.Value...)
}

func appendUnknown(b []byte, ts []TLV) []byte {
	for _, t := range ts {
		b = appendTLV(b, t)
	}
	return b
}

// splitTLVs cuts a message body into TLVs. A TLV longer than what is left
// is a Bad TLV Length (fatal).
func splitTLVs(b []byte) ([]TLV, *Error) {
	var out []TLV
	for len(b) > 0 {
		if len(b) < tlvHeaderLen {
			return nil, errorf(StatusBadTLVLength, "%d bytes left, too short for a TLV header", len(b))
		}
		h := binary.BigEndian.Uint16(b[0:2])
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if tlvHeaderLen+n > len(b) {
			return nil, errorf(StatusBadTLVLength, "TLV 0x%04x length %d exceeds the %d bytes left", h&0x3fff, n, len(b)-tlvHeaderLen)
		}
		out = append(out, TLV{U: h&tlvU != 0, F: h&tlvF != 0, Type: TLVType(h & 0x3fff), Value: b[tlvHeaderLen : tlvHeaderLen+n]})
		b = b[tlvHeaderLen+n:]
	}
	return out, nil
}

// unknownTLV applies the U-bit rule to a TLV the message does not know:
// with U set it is kept and skipped; with U clear the whole message is
// refused with Unknown TLV. Known TLVs out of place are ignored.
func unknownTLV(t TLV, keep *[]TLV) *Error {
	if known[t.Type] {
		return nil
	}
	if t.U {
		*keep = append(*keep, t)
		return nil
	}
	return errorf(StatusUnknownTLV, "unknown TLV type 0x%04x", uint16(t.Type))
}

func wantLen(t TLV, n int) *Error {
	if len(t.Value) != n {
		return errorf(StatusBadTLVLength, "TLV 0x%04x has length %d, want %d", uint16(t.Type), len(t.Value), n)
	}
	return nil
}

func u32TLV(t TLV) (uint32, *Error) {
	if err := wantLen(t, 4); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(t.Value), nil
}

func appendU32TLV(b []byte, t TLVType, v uint32) []byte {
	b = appendTLVHeader(b, false, false, t, 4)
	return binary.BigEndian.AppendUint32(b, v)
}

// FEC element types (RFC 5036 section 3.4.1, RFC 5918).
const (
	FECElemWildcard      = 0x01
	FECElemPrefix        = 0x02
	FECElemTypedWildcard = 0x05
)

// FEC is the value of a FEC TLV: either the Wildcard element alone, or a
// list of Prefix elements.
type FEC struct {
	Wildcard bool
	Prefixes []netip.Prefix
}

// FECOf returns the FEC of one prefix.
func FECOf(p netip.Prefix) FEC { return FEC{Prefixes: []netip.Prefix{p}} }

// WildcardFEC is the FEC made of the Wildcard element.
var WildcardFEC = FEC{Wildcard: true}

func (f FEC) String() string {
	if f.Wildcard {
		return "wildcard"
	}
	return fmt.Sprint(f.Prefixes)
}

func (f FEC) appendTo(b []byte) []byte {
	start := len(b)
	b = appendTLVHeader(b, false, false, TLVFEC, 0)
	if f.Wildcard {
		b = append(b, FECElemWildcard)
	} else {
		for _, p := range f.Prefixes {
			b = append(b, FECElemPrefix)
			af := uint16(AFIPv4)
			if p.Addr().Is6() && !p.Addr().Is4In6() {
				af = AFIPv6
			}
			b = binary.BigEndian.AppendUint16(b, af)
			bits := p.Bits()
			b = append(b, byte(bits))
			raw := p.Masked().Addr().AsSlice()
			b = append(b, raw[:(bits+7)/8]...)
		}
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start-tlvHeaderLen))
	return b
}

// decodeFEC decodes a FEC TLV value.
func decodeFEC(v []byte) (FEC, *Error) {
	var f FEC
	if len(v) == 0 {
		return f, errorf(StatusBadTLVLength, "empty FEC TLV")
	}
	for len(v) > 0 {
		switch v[0] {
		case FECElemWildcard:
			if f.Wildcard {
				return f, errorf(StatusMalformedTLV, "wildcard FEC element repeated")
			}
			f.Wildcard = true
			v = v[1:]
		case FECElemPrefix:
			if len(v) < 4 {
				return f, errorf(StatusBadTLVLength, "prefix FEC element truncated")
			}
			af := binary.BigEndian.Uint16(v[1:3])
			bits := int(v[3])
			n := (bits + 7) / 8
			if len(v) < 4+n {
				return f, errorf(StatusBadTLVLength, "prefix FEC element: %d prefix bytes, %d left", n, len(v)-4)
			}
			raw := v[4 : 4+n]
			v = v[4+n:]
			var addr netip.Addr
			switch af {
			case AFIPv4:
				if bits > 32 {
					return f, errorf(StatusMalformedTLV, "IPv4 prefix length %d", bits)
				}
				var a [4]byte
				copy(a[:], raw)
				addr = netip.AddrFrom4(a)
			case AFIPv6:
				if bits > 128 {
					return f, errorf(StatusMalformedTLV, "IPv6 prefix length %d", bits)
				}
				var a [16]byte
				copy(a[:], raw)
				addr = netip.AddrFrom16(a)
			default:
				return f, errorf(StatusUnsupportedAF, "address family %d in a prefix FEC element", af)
			}
			f.Prefixes = append(f.Prefixes, netip.PrefixFrom(addr, bits).Masked())
		default:
			// Typed wildcards need a capability we never announce; PW FECs
			// and the withdrawn host element are not supported either.
			return f, errorf(StatusUnknownFEC, "FEC element type 0x%02x", v[0])
		}
	}
	if f.Wildcard && len(f.Prefixes) > 0 {
		return f, errorf(StatusMalformedTLV, "wildcard FEC element with other elements")
	}
	return f, nil
}

func appendLabelTLV(b []byte, label uint32) []byte {
	return appendU32TLV(b, TLVGenericLabel, label&MaxLabel)
}

func decodeLabel(t TLV) (uint32, *Error) {
	v, err := u32TLV(t)
	if err != nil {
		return 0, err
	}
	return v & MaxLabel, nil
}

// decodeAddrList decodes an Address List TLV value.
func decodeAddrList(v []byte) (uint16, []netip.Addr, *Error) {
	if len(v) < 2 {
		return 0, nil, errorf(StatusBadTLVLength, "address list without family")
	}
	af := binary.BigEndian.Uint16(v[0:2])
	v = v[2:]
	size := 0
	switch af {
	case AFIPv4:
		size = 4
	case AFIPv6:
		size = 16
	default:
		return af, nil, errorf(StatusUnsupportedAF, "address family %d in an address list", af)
	}
	if len(v)%size != 0 {
		return af, nil, errorf(StatusBadTLVLength, "address list of %d bytes for family %d", len(v), af)
	}
	out := make([]netip.Addr, 0, len(v)/size)
	for ; len(v) > 0; v = v[size:] {
		a, _ := netip.AddrFromSlice(v[:size])
		out = append(out, a)
	}
	return af, out, nil
}

func appendAddrList(b []byte, af uint16, addrs []netip.Addr) []byte {
	start := len(b)
	b = appendTLVHeader(b, false, false, TLVAddressList, 0)
	b = binary.BigEndian.AppendUint16(b, af)
	for _, a := range addrs {
		if af == AFIPv4 {
			b = appendAddr4(b, a)
		} else {
			v := a.As16()
			b = append(b, v[:]...)
		}
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start-tlvHeaderLen))
	return b
}
