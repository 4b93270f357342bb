package packet

import (
	"encoding/binary"
	"fmt"
)

// PDU is a decoded LDP PDU.
type PDU struct {
	// ID is the LDP Identifier of the sender.
	ID LDPID
	// Messages are the messages that decoded, in order. Unknown messages
	// with the U bit set are left out silently.
	Messages []Message
	// Errors are the messages refused without closing the session (unknown
	// message type or TLV with the U bit clear, missing parameters, an
	// unsupported address family or FEC element): each wants an advisory
	// Notification carrying its Code.
	Errors []*Error
}

// PDULength reads the first four bytes of a PDU (version and length) and
// returns the length of the whole PDU, header included. It checks the
// version and that the length lies within [HeaderLen, maxLen]; maxLen 0
// means DefaultMaxPDU. A TCP reader uses it to frame the stream.
func PDULength(hdr []byte, maxLen int) (int, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxPDU
	}
	if len(hdr) < 4 {
		return 0, errorf(StatusBadPDULength, "%d bytes, too short for a PDU header", len(hdr))
	}
	if v := binary.BigEndian.Uint16(hdr[0:2]); v != Version {
		return 0, errorf(StatusBadVersion, "protocol version %d", v)
	}
	n := int(binary.BigEndian.Uint16(hdr[2:4]))
	if n < MinPDULength || n+4 > maxLen {
		return 0, errorf(StatusBadPDULength, "PDU length %d (max %d)", n, maxLen-4)
	}
	return n + 4, nil
}

// DecodePDU decodes one whole PDU (b holds exactly one). A fatal problem
// (bad version or lengths, a malformed TLV) is returned as an error; the PDU
// is then nil. maxLen 0 means DefaultMaxPDU.
func DecodePDU(b []byte, maxLen int) (*PDU, error) {
	n, err := PDULength(b, maxLen)
	if err != nil {
		return nil, err
	}
	if len(b) < HeaderLen {
		return nil, errorf(StatusBadPDULength, "%d bytes, too short for a PDU header", len(b))
	}
	if n != len(b) {
		return nil, errorf(StatusBadPDULength, "PDU length field says %d bytes, got %d", n, len(b))
	}
	p := &PDU{ID: readLDPID(b[4:10])}
	rest := b[HeaderLen:]
	for len(rest) > 0 {
		if len(rest) < msgHeaderLen {
			return nil, errorf(StatusBadMessageLength, "%d bytes left, too short for a message", len(rest))
		}
		raw := binary.BigEndian.Uint16(rest[0:2])
		t := MsgType(raw &^ msgU)
		ml := int(binary.BigEndian.Uint16(rest[2:4]))
		if ml < 4 || 4+ml > len(rest) {
			return nil, &Error{Code: StatusBadMessageLength, MsgType: t,
				Reason: fmt.Sprintf("message length %d with %d bytes left", ml, len(rest)-4)}
		}
		id := binary.BigEndian.Uint32(rest[4:8])
		body := rest[msgHeaderLen : 4+ml]
		rest = rest[4+ml:]
		m, merr := decodeMessage(t, id, body)
		if merr != nil {
			merr.MsgID, merr.MsgType = id, t
			if merr.Code == StatusUnknownMessage && raw&msgU != 0 {
				continue // unknown, U bit set: ignore silently
			}
			if merr.Fatal() {
				return nil, merr
			}
			p.Errors = append(p.Errors, merr)
			continue
		}
		p.Messages = append(p.Messages, m)
	}
	return p, nil
}

// AppendPDU appends one PDU holding msgs.
func AppendPDU(b []byte, id LDPID, msgs ...Message) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, Version)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = appendLDPID(b, id)
	for _, m := range msgs {
		b = AppendMessage(b, m)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start-4))
	return b
}

// Pack encodes msgs into as few PDUs as fit in maxLen bytes each (0:
// DefaultMaxPDU), keeping their order. A message too large for one PDU
// travels alone.
func Pack(id LDPID, maxLen int, msgs []Message) [][]byte {
	if maxLen <= 0 {
		maxLen = DefaultMaxPDU
	}
	var out [][]byte
	var cur []byte
	var scratch []byte
	for _, m := range msgs {
		scratch = AppendMessage(scratch[:0], m)
		if cur != nil && len(cur)+len(scratch) > maxLen {
			out = append(out, cur)
			cur = nil
		}
		if cur == nil {
			cur = AppendPDU(make([]byte, 0, min(maxLen, HeaderLen+len(scratch)*4)), id)
		}
		cur = append(cur, scratch...)
		binary.BigEndian.PutUint16(cur[2:], uint16(len(cur)-4))
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out
}
