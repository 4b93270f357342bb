// Package packet is the LDP wire codec (RFC 5036): the PDU header, the
// messages of basic discovery, session management, address and label
// distribution, and their TLVs.
//
// Decoding is strict about lengths and lenient where the RFC asks for it:
// a TLV or message of an unknown type is skipped when its U bit is set and
// reported (as a non-fatal *Error carrying the status code to send back)
// when it is clear. Every error a decoder returns is an *Error that names the
// RFC 5036 status code a Notification should carry; Fatal tells whether the
// session must close.
package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Protocol constants.
const (
	Version = 1
	Port    = 646
	// HeaderLen is the length of the PDU header (version, length, LDP ID).
	HeaderLen = 10
	// DefaultMaxPDU is the default (and largest we accept) PDU length,
	// header included.
	DefaultMaxPDU = 4096
	// MinPDULength is the smallest "PDU Length" field: the LDP ID alone.
	MinPDULength = 6
	// msgHeaderLen: type, length, message ID.
	msgHeaderLen = 8
	tlvHeaderLen = 4
)

// AllRouters is the destination of link Hellos (224.0.0.2).
var AllRouters = netip.AddrFrom4([4]byte{224, 0, 0, 2})

// Label values with a meaning of their own (RFC 3032).
const (
	LabelIPv4ExplicitNull = 0
	LabelImplicitNull     = 3
	// MaxLabel is the largest 20-bit label.
	MaxLabel = 1<<20 - 1
)

// Address families (IANA) used in FEC elements and address lists.
const (
	AFIPv4 = 1
	AFIPv6 = 2
)

// LDPID is an LDP Identifier: the LSR ID and a label space (0: the
// platform-wide label space).
type LDPID struct {
	LSRID netip.Addr
	Space uint16
}

// String prints the identifier as VRP and the RFC do ("10.255.0.2:0").
func (id LDPID) String() string {
	a := id.LSRID
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
	}
	return fmt.Sprintf("%s:%d", a, id.Space)
}

func appendLDPID(b []byte, id LDPID) []byte {
	b = appendAddr4(b, id.LSRID)
	return binary.BigEndian.AppendUint16(b, id.Space)
}

func readLDPID(b []byte) LDPID {
	return LDPID{LSRID: netip.AddrFrom4([4]byte(b[0:4])), Space: binary.BigEndian.Uint16(b[4:6])}
}

func appendAddr4(b []byte, a netip.Addr) []byte {
	if !a.Is4() {
		return append(b, 0, 0, 0, 0)
	}
	v := a.As4()
	return append(b, v[:]...)
}

// StatusCode is the Status Code field of a Status TLV: the E (fatal) bit,
// the F (forward) bit and 30 bits of status data.
type StatusCode uint32

// Status code bits.
const (
	StatusFatal   StatusCode = 0x80000000
	StatusForward StatusCode = 0x40000000
)

// Status codes of RFC 5036 (section 3.9), with the E bit the RFC gives them.
const (
	StatusSuccess            StatusCode = 0x00000000
	StatusBadLDPID           StatusCode = 0x80000001
	StatusBadVersion         StatusCode = 0x80000002
	StatusBadPDULength       StatusCode = 0x80000003
	StatusUnknownMessage     StatusCode = 0x00000004
	StatusBadMessageLength   StatusCode = 0x80000005
	StatusUnknownTLV         StatusCode = 0x00000006
	StatusBadTLVLength       StatusCode = 0x80000007
	StatusMalformedTLV       StatusCode = 0x80000008
	StatusHoldTimerExpired   StatusCode = 0x80000009
	StatusShutdown           StatusCode = 0x8000000A
	StatusLoopDetected       StatusCode = 0x0000000B
	StatusUnknownFEC         StatusCode = 0x0000000C
	StatusNoRoute            StatusCode = 0x0000000D
	StatusNoLabelResources   StatusCode = 0x0000000E
	StatusLabelResources     StatusCode = 0x0000000F
	StatusNoHello            StatusCode = 0x80000010
	StatusRejectedAdvMode    StatusCode = 0x80000011
	StatusRejectedMaxPDU     StatusCode = 0x80000012
	StatusRejectedLabelRange StatusCode = 0x80000013
	StatusKeepAliveExpired   StatusCode = 0x80000014
	StatusRequestAborted     StatusCode = 0x00000015
	StatusMissingParameters  StatusCode = 0x00000016
	StatusUnsupportedAF      StatusCode = 0x00000017
	StatusBadKeepAliveTime   StatusCode = 0x80000018
	StatusInternalError      StatusCode = 0x80000019
)

var statusNames = map[StatusCode]string{
	StatusSuccess:            "Success",
	StatusBadLDPID:           "Bad LDP Identifier",
	StatusBadVersion:         "Bad Protocol Version",
	StatusBadPDULength:       "Bad PDU Length",
	StatusUnknownMessage:     "Unknown Message Type",
	StatusBadMessageLength:   "Bad Message Length",
	StatusUnknownTLV:         "Unknown TLV",
	StatusBadTLVLength:       "Bad TLV Length",
	StatusMalformedTLV:       "Malformed TLV Value",
	StatusHoldTimerExpired:   "Hold Timer Expired",
	StatusShutdown:           "Shutdown",
	StatusLoopDetected:       "Loop Detected",
	StatusUnknownFEC:         "Unknown FEC",
	StatusNoRoute:            "No Route",
	StatusNoLabelResources:   "No Label Resources",
	StatusLabelResources:     "Label Resources Available",
	StatusNoHello:            "Session Rejected/No Hello",
	StatusRejectedAdvMode:    "Session Rejected/Parameters Advertisement Mode",
	StatusRejectedMaxPDU:     "Session Rejected/Parameters Max PDU Length",
	StatusRejectedLabelRange: "Session Rejected/Parameters Label Range",
	StatusKeepAliveExpired:   "KeepAlive Timer Expired",
	StatusRequestAborted:     "Label Request Aborted",
	StatusMissingParameters:  "Missing Message Parameters",
	StatusUnsupportedAF:      "Unsupported Address Family",
	StatusBadKeepAliveTime:   "Session Rejected/Bad KeepAlive Time",
	StatusInternalError:      "Internal Error",
}

// Fatal reports whether the E bit is set.
func (s StatusCode) Fatal() bool { return s&StatusFatal != 0 }

// Data is the status data without the E and F bits.
func (s StatusCode) Data() uint32 { return uint32(s) &^ uint32(StatusFatal|StatusForward) }

// SessionRejected reports whether the code is one of the Session Rejected
// codes (an active LSR backs off before trying again).
func (s StatusCode) SessionRejected() bool {
	switch s.Data() {
	case StatusNoHello.Data(), StatusRejectedAdvMode.Data(), StatusRejectedMaxPDU.Data(),
		StatusRejectedLabelRange.Data(), StatusBadKeepAliveTime.Data():
		return true
	}
	return false
}

func (s StatusCode) String() string {
	for c, n := range statusNames {
		if c.Data() == s.Data() {
			return n
		}
	}
	return fmt.Sprintf("status 0x%08x", uint32(s))
}

// Error is a decoding error together with the status a Notification sends
// back: Code (whose E bit tells whether the session closes), and the ID and
// type of the offending message when known.
type Error struct {
	Code    StatusCode
	MsgID   uint32
	MsgType MsgType
	Reason  string
}

func (e *Error) Error() string {
	if e.MsgType != 0 {
		return fmt.Sprintf("ldp: %s: %s (message %s id %d)", e.Code, e.Reason, e.MsgType, e.MsgID)
	}
	return fmt.Sprintf("ldp: %s: %s", e.Code, e.Reason)
}

// Fatal reports whether the error must close the session.
func (e *Error) Fatal() bool { return e.Code.Fatal() }

// ErrBadLength is wrapped by framing errors of a TCP stream.
var ErrBadLength = errors.New("bad PDU length")

func errorf(code StatusCode, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error (an Internal Error if it is another kind).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: StatusInternalError, Reason: err.Error()}
}
