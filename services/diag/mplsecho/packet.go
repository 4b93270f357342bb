// Package mplsecho is the MPLS echo request and reply of RFC 8029 (LSP
// ping and traceroute): the message codec (Target FEC Stack with the LDP
// IPv4 prefix FEC, Downstream Detailed Mapping, Pad), the IPv4/UDP packet an
// echo request travels in (destination 127.0.0.1, IP TTL 1, Router Alert),
// and a responder that answers requests about the router's FECs.
package mplsecho

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Port is the UDP port of MPLS echo.
const Port = 3503

// Version is the protocol version this package speaks.
const Version = 1

// FlagValidateFEC is the V flag of the global flags: validate the Target
// FEC Stack.
const FlagValidateFEC = 0x0001

// Message types.
const (
	TypeRequest = 1
	TypeReply   = 2
)

// Reply modes.
const (
	ReplyNone   = 1
	ReplyIPv4   = 2 // an IPv4 UDP packet
	ReplyIPv4RA = 3 // with Router Alert
)

// Return codes (RFC 8029 section 3.1).
const (
	CodeNone         = 0
	CodeMalformed    = 1
	CodeUnknownTLV   = 2
	CodeEgress       = 3 // replying router is an egress for the FEC at stack depth
	CodeNoMapping    = 4 // replying router has no mapping for the FEC at stack depth
	CodeDSMismatch   = 5
	CodeLabelSwitch  = 8 // label switched at stack depth
	CodeWrongLabel   = 10
	CodeNoLabelEntry = 11
)

// CodeText words a return code as the tools print it.
func CodeText(code uint8) string {
	switch code {
	case CodeNone:
		return "No return code"
	case CodeMalformed:
		return "Malformed echo request received"
	case CodeUnknownTLV:
		return "One or more of the TLVs was not understood"
	case CodeEgress:
		return "Replying router is an egress for the FEC"
	case CodeNoMapping:
		return "Replying router has no mapping for the FEC"
	case CodeDSMismatch:
		return "Downstream mapping mismatch"
	case CodeLabelSwitch:
		return "Label switched"
	case CodeWrongLabel:
		return "Mapping for this FEC is not the given label"
	case CodeNoLabelEntry:
		return "No label entry"
	}
	return fmt.Sprintf("Return code %d", code)
}

// TLV types.
const (
	TLVTargetFEC = 1
	TLVPad       = 3
	tlvErrored   = 9
	TLVDDMap     = 20
)

// Sub-TLV types.
const (
	subLDPIPv4     = 1 // Target FEC Stack: LDP IPv4 prefix
	subLabelStack  = 2 // DDMAP: label stack
	addrIPv4Number = 1 // DDMAP address type: IPv4 numbered
)

// headerLen is the fixed part of a message.
const headerLen = 32

// Errors of Decode.
var (
	ErrShort   = errors.New("mplsecho: message too short")
	ErrVersion = errors.New("mplsecho: unsupported version")
	ErrTLV     = errors.New("mplsecho: malformed TLV")
)

// DDMap is a Downstream Detailed Mapping: where the replying router sends
// the FEC's packets (its next hop and the labels it puts on them).
type DDMap struct {
	MTU uint16
	// Address is the downstream router's interface address (the next hop);
	// Interface the address of the local outgoing interface.
	Address, Interface netip.Addr
	ReturnCode         uint8
	ReturnSubcode      uint8
	// Labels is the label stack sent downstream (implicit null: 3).
	Labels []uint32
}

// TLV is a TLV this package does not interpret.
type TLV struct {
	Type  uint16
	Value []byte
}

// Message is an echo request or reply.
type Message struct {
	Flags         uint16
	Type          uint8
	ReplyMode     uint8
	ReturnCode    uint8
	ReturnSubcode uint8
	Handle        uint32
	Seq           uint32
	Sent          time.Time // zero: none
	Received      time.Time // zero: none
	// FECs is the Target FEC Stack (LDP IPv4 prefixes); nil: no such TLV.
	FECs []netip.Prefix
	// DDMaps are the Downstream Detailed Mappings.
	DDMaps []DDMap
	// Pad is the length of a Pad TLV's value (0: none).
	Pad     int
	Unknown []TLV
}

// ntpEpoch is 1900-01-01, the origin of the timestamps.
var ntpEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

func putTime(b []byte, t time.Time) {
	if t.IsZero() {
		return
	}
	d := t.Sub(ntpEpoch)
	sec := uint64(d / time.Second)
	frac := uint64(d%time.Second) << 32 / uint64(time.Second)
	binary.BigEndian.PutUint32(b[0:4], uint32(sec))
	binary.BigEndian.PutUint32(b[4:8], uint32(frac))
}

func getTime(b []byte) time.Time {
	sec, frac := binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8])
	if sec == 0 && frac == 0 {
		return time.Time{}
	}
	// Seconds past 2036 wrap (era 1); times before 1968 are taken as era 1.
	s := time.Duration(sec) * time.Second
	t := ntpEpoch.Add(s)
	if sec < 0x80000000 {
		t = t.Add(time.Duration(1<<32) * time.Second)
	}
	return t.Add(time.Duration(uint64(frac) * uint64(time.Second) >> 32))
}

// appendTLV appends a TLV, its value padded to a multiple of 4 (the length
// does not count the padding).
func appendTLV(b []byte, typ uint16, value []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	b = append(b, value...)
	for len(value)%4 != 0 {
		b = append(b, 0)
		value = append(value, 0)
	}
	return b
}

// Marshal encodes the message.
func (m *Message) Marshal() []byte {
	b := make([]byte, headerLen, 128)
	binary.BigEndian.PutUint16(b[0:2], Version)
	binary.BigEndian.PutUint16(b[2:4], m.Flags)
	b[4], b[5], b[6], b[7] = m.Type, m.ReplyMode, m.ReturnCode, m.ReturnSubcode
	binary.BigEndian.PutUint32(b[8:12], m.Handle)
	binary.BigEndian.PutUint32(b[12:16], m.Seq)
	putTime(b[16:24], m.Sent)
	putTime(b[24:32], m.Received)
	if m.FECs != nil {
		var v []byte
		for _, p := range m.FECs {
			a := p.Addr().As4()
			sub := append(a[:], byte(p.Bits()), 0, 0, 0)
			v = appendTLV(v, subLDPIPv4, sub[:5])
		}
		b = appendTLV(b, TLVTargetFEC, v)
	}
	for _, d := range m.DDMaps {
		v := binary.BigEndian.AppendUint16(nil, d.MTU)
		v = append(v, addrIPv4Number, 0)
		var a, i [4]byte
		if d.Address.Is4() {
			a = d.Address.As4()
		}
		if d.Interface.Is4() {
			i = d.Interface.As4()
		}
		v = append(v, a[:]...)
		v = append(v, i[:]...)
		var subs []byte
		if len(d.Labels) > 0 {
			// Each entry: the label (20 bits), TC (3), the bottom-of-stack
			// bit, then the protocol (0: unknown).
			var ls []byte
			for k, l := range d.Labels {
				e := l << 12
				if k == len(d.Labels)-1 {
					e |= 0x100
				}
				ls = binary.BigEndian.AppendUint32(ls, e)
			}
			subs = appendTLV(subs, subLabelStack, ls)
		}
		v = append(v, d.ReturnCode, d.ReturnSubcode)
		v = binary.BigEndian.AppendUint16(v, uint16(len(subs)))
		v = append(v, subs...)
		b = appendTLV(b, TLVDDMap, v)
	}
	if m.Pad > 0 {
		v := make([]byte, m.Pad)
		v[0] = 1 // drop the pad TLV in the reply
		b = appendTLV(b, TLVPad, v)
	}
	for _, u := range m.Unknown {
		b = appendTLV(b, u.Type, u.Value)
	}
	return b
}

// tlvs splits b into TLVs (values without their padding).
func tlvs(b []byte, each func(typ uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return ErrTLV
		}
		typ, n := binary.BigEndian.Uint16(b[0:2]), int(binary.BigEndian.Uint16(b[2:4]))
		padded := (n + 3) &^ 3
		if 4+n > len(b) {
			return ErrTLV
		}
		if err := each(typ, b[4:4+n]); err != nil {
			return err
		}
		if 4+padded > len(b) {
			// The last TLV's padding may be missing.
			return nil
		}
		b = b[4+padded:]
	}
	return nil
}

// Decode parses a message. TLVs it does not know are kept in Unknown.
func Decode(b []byte) (*Message, error) {
	if len(b) < headerLen {
		return nil, ErrShort
	}
	if v := binary.BigEndian.Uint16(b[0:2]); v != Version {
		return nil, fmt.Errorf("%w %d", ErrVersion, v)
	}
	m := &Message{
		Flags: binary.BigEndian.Uint16(b[2:4]),
		Type:  b[4], ReplyMode: b[5], ReturnCode: b[6], ReturnSubcode: b[7],
		Handle: binary.BigEndian.Uint32(b[8:12]), Seq: binary.BigEndian.Uint32(b[12:16]),
		Sent: getTime(b[16:24]), Received: getTime(b[24:32]),
	}
	err := tlvs(b[headerLen:], func(typ uint16, v []byte) error {
		switch typ {
		case TLVTargetFEC:
			m.FECs = []netip.Prefix{}
			return tlvs(v, func(st uint16, sv []byte) error {
				if st != subLDPIPv4 {
					m.Unknown = append(m.Unknown, TLV{Type: typ, Value: append([]byte(nil), v...)})
					return nil
				}
				if len(sv) < 5 || sv[4] > 32 {
					return ErrTLV
				}
				p, err := netip.AddrFrom4([4]byte(sv[0:4])).Prefix(int(sv[4]))
				if err != nil {
					return ErrTLV
				}
				m.FECs = append(m.FECs, p)
				return nil
			})
		case TLVDDMap:
			if len(v) < 16 {
				return ErrTLV
			}
			d := DDMap{MTU: binary.BigEndian.Uint16(v[0:2]), ReturnCode: v[12], ReturnSubcode: v[13]}
			if v[2] == addrIPv4Number {
				d.Address = netip.AddrFrom4([4]byte(v[4:8]))
				d.Interface = netip.AddrFrom4([4]byte(v[8:12]))
			}
			n := int(binary.BigEndian.Uint16(v[14:16]))
			if 16+n > len(v) {
				return ErrTLV
			}
			if err := tlvs(v[16:16+n], func(st uint16, sv []byte) error {
				if st != subLabelStack {
					return nil
				}
				if len(sv)%4 != 0 {
					return ErrTLV
				}
				for i := 0; i < len(sv); i += 4 {
					d.Labels = append(d.Labels, binary.BigEndian.Uint32(sv[i:])>>12)
				}
				return nil
			}); err != nil {
				return err
			}
			m.DDMaps = append(m.DDMaps, d)
		case TLVPad:
			m.Pad = len(v)
		default:
			m.Unknown = append(m.Unknown, TLV{Type: typ, Value: append([]byte(nil), v...)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}
