package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// MsgType is a message type without the U bit.
type MsgType uint16

// Message types of RFC 5036.
const (
	MsgNotification    MsgType = 0x0001
	MsgHello           MsgType = 0x0100
	MsgInit            MsgType = 0x0200
	MsgKeepAlive       MsgType = 0x0201
	MsgAddress         MsgType = 0x0300
	MsgAddressWithdraw MsgType = 0x0301
	MsgLabelMapping    MsgType = 0x0400
	MsgLabelRequest    MsgType = 0x0401
	MsgLabelWithdraw   MsgType = 0x0402
	MsgLabelRelease    MsgType = 0x0403
	MsgLabelAbort      MsgType = 0x0404
)

const msgU = 0x8000

var msgNames = map[MsgType]string{
	MsgNotification: "Notification", MsgHello: "Hello", MsgInit: "Initialization",
	MsgKeepAlive: "KeepAlive", MsgAddress: "Address", MsgAddressWithdraw: "Address Withdraw",
	MsgLabelMapping: "Label Mapping", MsgLabelRequest: "Label Request",
	MsgLabelWithdraw: "Label Withdraw", MsgLabelRelease: "Label Release",
	MsgLabelAbort: "Label Abort Request",
}

func (t MsgType) String() string {
	if n, ok := msgNames[t]; ok {
		return n
	}
	return fmt.Sprintf("message 0x%04x", uint16(t))
}

// Message is one LDP message.
type Message interface {
	Type() MsgType
	ID() uint32
	// appendParams appends the mandatory and optional parameters.
	appendParams(b []byte) []byte
}

// AppendMessage appends the encoded message (header, ID and parameters).
func AppendMessage(b []byte, m Message) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, uint16(m.Type())&^msgU)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, m.ID())
	b = m.appendParams(b)
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start-4))
	return b
}

// Hello flags of the Common Hello Parameters TLV.
const (
	helloTargeted        = 0x8000
	helloRequestTargeted = 0x4000
	helloGTSM            = 0x2000 // RFC 6720
)

// Hello is a Hello message (discovery).
type Hello struct {
	MsgID uint32
	// HoldTime in seconds: 0 asks for the default (15 s for link Hellos),
	// 0xffff is infinite.
	HoldTime        uint16
	Targeted        bool
	RequestTargeted bool
	GTSM            bool
	// TransportAddr is the IPv4 Transport Address TLV (invalid when absent:
	// the source address of the Hello is the transport address then).
	TransportAddr netip.Addr
	// ConfigSeq is the Configuration Sequence Number TLV (when HasConfigSeq).
	ConfigSeq    uint32
	HasConfigSeq bool
	Unknown      []TLV
}

func (*Hello) Type() MsgType { return MsgHello }
func (m *Hello) ID() uint32  { return m.MsgID }
func (m *Hello) appendParams(b []byte) []byte {
	b = appendTLVHeader(b, false, false, TLVCommonHello, 4)
	b = binary.BigEndian.AppendUint16(b, m.HoldTime)
	var f uint16
	if m.Targeted {
		f |= helloTargeted
	}
	if m.RequestTargeted {
		f |= helloRequestTargeted
	}
	if m.GTSM {
		f |= helloGTSM
	}
	b = binary.BigEndian.AppendUint16(b, f)
	if m.TransportAddr.Is4() {
		b = appendTLVHeader(b, false, false, TLVIPv4TransportAddr, 4)
		b = appendAddr4(b, m.TransportAddr)
	}
	if m.HasConfigSeq {
		b = appendU32TLV(b, TLVConfigSequence, m.ConfigSeq)
	}
	return appendUnknown(b, m.Unknown)
}

func decodeHello(id uint32, tlvs []TLV) (*Hello, *Error) {
	m := &Hello{MsgID: id}
	seen := false
	for _, t := range tlvs {
		switch t.Type {
		case TLVCommonHello:
			if err := wantLen(t, 4); err != nil {
				return nil, err
			}
			m.HoldTime = binary.BigEndian.Uint16(t.Value[0:2])
			f := binary.BigEndian.Uint16(t.Value[2:4])
			m.Targeted = f&helloTargeted != 0
			m.RequestTargeted = f&helloRequestTargeted != 0
			m.GTSM = f&helloGTSM != 0
			seen = true
		case TLVIPv4TransportAddr:
			if err := wantLen(t, 4); err != nil {
				return nil, err
			}
			m.TransportAddr = netip.AddrFrom4([4]byte(t.Value))
		case TLVConfigSequence:
			v, err := u32TLV(t)
			if err != nil {
				return nil, err
			}
			m.ConfigSeq, m.HasConfigSeq = v, true
		default:
			if err := unknownTLV(t, &m.Unknown); err != nil {
				return nil, err
			}
		}
	}
	if !seen {
		return nil, errorf(StatusMissingParameters, "Hello without Common Hello Parameters")
	}
	return m, nil
}

// SessionParams is the Common Session Parameters TLV.
type SessionParams struct {
	Version uint16
	// KeepAlive is the proposed KeepAlive time in seconds.
	KeepAlive uint16
	// DownstreamOnDemand is the A bit (0: Downstream Unsolicited).
	DownstreamOnDemand bool
	// LoopDetection is the D bit.
	LoopDetection bool
	PVLimit       uint8
	// MaxPDU is the largest PDU length the sender accepts (255 or less
	// means the default, 4096).
	MaxPDU uint16
	// Receiver is the LDP Identifier of the receiver.
	Receiver LDPID
}

// Init is an Initialization message.
type Init struct {
	MsgID   uint32
	Params  SessionParams
	Unknown []TLV
}

func (*Init) Type() MsgType { return MsgInit }
func (m *Init) ID() uint32  { return m.MsgID }
func (m *Init) appendParams(b []byte) []byte {
	p := m.Params
	b = appendTLVHeader(b, false, false, TLVCommonSession, 14)
	b = binary.BigEndian.AppendUint16(b, p.Version)
	b = binary.BigEndian.AppendUint16(b, p.KeepAlive)
	var f byte
	if p.DownstreamOnDemand {
		f |= 0x80
	}
	if p.LoopDetection {
		f |= 0x40
	}
	b = append(b, f, p.PVLimit)
	b = binary.BigEndian.AppendUint16(b, p.MaxPDU)
	b = appendLDPID(b, p.Receiver)
	return appendUnknown(b, m.Unknown)
}

func decodeInit(id uint32, tlvs []TLV) (*Init, *Error) {
	m := &Init{MsgID: id}
	seen := false
	for _, t := range tlvs {
		switch t.Type {
		case TLVCommonSession:
			if err := wantLen(t, 14); err != nil {
				return nil, err
			}
			v := t.Value
			m.Params = SessionParams{
				Version:            binary.BigEndian.Uint16(v[0:2]),
				KeepAlive:          binary.BigEndian.Uint16(v[2:4]),
				DownstreamOnDemand: v[4]&0x80 != 0,
				LoopDetection:      v[4]&0x40 != 0,
				PVLimit:            v[5],
				MaxPDU:             binary.BigEndian.Uint16(v[6:8]),
				Receiver:           readLDPID(v[8:14]),
			}
			seen = true
		default:
			if err := unknownTLV(t, &m.Unknown); err != nil {
				return nil, err
			}
		}
	}
	if !seen {
		return nil, errorf(StatusMissingParameters, "Initialization without Common Session Parameters")
	}
	return m, nil
}

// KeepAlive is a KeepAlive message.
type KeepAlive struct {
	MsgID   uint32
	Unknown []TLV
}

func (*KeepAlive) Type() MsgType                  { return MsgKeepAlive }
func (m *KeepAlive) ID() uint32                   { return m.MsgID }
func (m *KeepAlive) appendParams(b []byte) []byte { return appendUnknown(b, m.Unknown) }

func decodeKeepAlive(id uint32, tlvs []TLV) (*KeepAlive, *Error) {
	m := &KeepAlive{MsgID: id}
	for _, t := range tlvs {
		if err := unknownTLV(t, &m.Unknown); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Status is the Status TLV: the code, and the ID and type of the message
// it refers to (0 when none).
type Status struct {
	Code    StatusCode
	MsgID   uint32
	MsgType MsgType
	// Forward is the TLV's F bit.
	Forward bool
}

// Notification is a Notification message.
type Notification struct {
	MsgID  uint32
	Status Status
	// ExtendedStatus is the Extended Status TLV (when HasExtended).
	ExtendedStatus uint32
	HasExtended    bool
	Unknown        []TLV
}

func (*Notification) Type() MsgType { return MsgNotification }
func (m *Notification) ID() uint32  { return m.MsgID }
func (m *Notification) appendParams(b []byte) []byte {
	b = appendTLVHeader(b, false, m.Status.Forward, TLVStatus, 10)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Status.Code))
	b = binary.BigEndian.AppendUint32(b, m.Status.MsgID)
	b = binary.BigEndian.AppendUint16(b, uint16(m.Status.MsgType))
	if m.HasExtended {
		b = appendU32TLV(b, TLVExtendedStatus, m.ExtendedStatus)
	}
	return appendUnknown(b, m.Unknown)
}

func decodeNotification(id uint32, tlvs []TLV) (*Notification, *Error) {
	m := &Notification{MsgID: id}
	seen := false
	for _, t := range tlvs {
		switch t.Type {
		case TLVStatus:
			if err := wantLen(t, 10); err != nil {
				return nil, err
			}
			m.Status = Status{
				Code:    StatusCode(binary.BigEndian.Uint32(t.Value[0:4])),
				MsgID:   binary.BigEndian.Uint32(t.Value[4:8]),
				MsgType: MsgType(binary.BigEndian.Uint16(t.Value[8:10]) &^ msgU),
				Forward: t.F,
			}
			seen = true
		case TLVExtendedStatus:
			v, err := u32TLV(t)
			if err != nil {
				return nil, err
			}
			m.ExtendedStatus, m.HasExtended = v, true
		default:
			if err := unknownTLV(t, &m.Unknown); err != nil {
				return nil, err
			}
		}
	}
	if !seen {
		return nil, errorf(StatusMissingParameters, "Notification without Status")
	}
	return m, nil
}

// Address is an Address message, or an Address Withdraw message when
// Withdraw is set.
type Address struct {
	MsgID    uint32
	Withdraw bool
	// Family is the address family of Addrs (AFIPv4 or AFIPv6).
	Family  uint16
	Addrs   []netip.Addr
	Unknown []TLV
}

func (m *Address) Type() MsgType {
	if m.Withdraw {
		return MsgAddressWithdraw
	}
	return MsgAddress
}
func (m *Address) ID() uint32 { return m.MsgID }
func (m *Address) appendParams(b []byte) []byte {
	af := m.Family
	if af == 0 {
		af = AFIPv4
	}
	b = appendAddrList(b, af, m.Addrs)
	return appendUnknown(b, m.Unknown)
}

func decodeAddress(id uint32, withdraw bool, tlvs []TLV) (*Address, *Error) {
	m := &Address{MsgID: id, Withdraw: withdraw}
	seen := false
	for _, t := range tlvs {
		switch t.Type {
		case TLVAddressList:
			af, addrs, err := decodeAddrList(t.Value)
			if err != nil {
				return nil, err
			}
			m.Family, m.Addrs, seen = af, addrs, true
		default:
			if err := unknownTLV(t, &m.Unknown); err != nil {
				return nil, err
			}
		}
	}
	if !seen {
		return nil, errorf(StatusMissingParameters, "%s without Address List", m.Type())
	}
	return m, nil
}

// LabelMapping is a Label Mapping message.
type LabelMapping struct {
	MsgID uint32
	FEC   FEC
	Label uint32
	// RequestID answers a Label Request (when HasRequestID).
	RequestID    uint32
	HasRequestID bool
	// HopCount and PathVector are kept when present (loop detection is not
	// used, so they are not sent).
	HopCount    uint8
	HasHopCount bool
	PathVector  []netip.Addr
	Unknown     []TLV
}

func (*LabelMapping) Type() MsgType { return MsgLabelMapping }
func (m *LabelMapping) ID() uint32  { return m.MsgID }
func (m *LabelMapping) appendParams(b []byte) []byte {
	b = m.FEC.appendTo(b)
	b = appendLabelTLV(b, m.Label)
	if m.HasRequestID {
		b = appendU32TLV(b, TLVLabelRequestMessage, m.RequestID)
	}
	if m.HasHopCount {
		b = appendTLVHeader(b, false, false, TLVHopCount, 1)
		b = append(b, m.HopCount)
	}
	if len(m.PathVector) > 0 {
		b = appendTLVHeader(b, false, false, TLVPathVector, 4*len(m.PathVector))
		for _, a := range m.PathVector {
			b = appendAddr4(b, a)
		}
	}
	return appendUnknown(b, m.Unknown)
}

// labelParams collects the TLVs of the label messages.
type labelParams struct {
	fec         FEC
	hasFEC      bool
	label       uint32
	hasLabel    bool
	otherLabel  bool // an ATM or Frame Relay label
	reqID       uint32
	hasReqID    bool
	hopCount    uint8
	hasHopCount bool
	pathVector  []netip.Addr
	unknown     []TLV
}

func decodeLabelParams(tlvs []TLV) (labelParams, *Error) {
	var p labelParams
	for _, t := range tlvs {
		switch t.Type {
		case TLVFEC:
			if p.hasFEC {
				continue
			}
			f, err := decodeFEC(t.Value)
			if err != nil {
				return p, err
			}
			p.fec, p.hasFEC = f, true
		case TLVGenericLabel:
			l, err := decodeLabel(t)
			if err != nil {
				return p, err
			}
			p.label, p.hasLabel = l, true
		case TLVATMLabel, TLVFrameRelayLabel:
			p.otherLabel = true
		case TLVLabelRequestMessage:
			v, err := u32TLV(t)
			if err != nil {
				return p, err
			}
			p.reqID, p.hasReqID = v, true
		case TLVHopCount:
			if err := wantLen(t, 1); err != nil {
				return p, err
			}
			p.hopCount, p.hasHopCount = t.Value[0], true
		case TLVPathVector:
			if len(t.Value)%4 != 0 {
				return p, errorf(StatusBadTLVLength, "path vector of %d bytes", len(t.Value))
			}
			for v := t.Value; len(v) > 0; v = v[4:] {
				p.pathVector = append(p.pathVector, netip.AddrFrom4([4]byte(v[:4])))
			}
		default:
			if err := unknownTLV(t, &p.unknown); err != nil {
				return p, err
			}
		}
	}
	if !p.hasFEC {
		return p, errorf(StatusMissingParameters, "no FEC TLV")
	}
	return p, nil
}

func decodeLabelMapping(id uint32, tlvs []TLV) (*LabelMapping, *Error) {
	p, err := decodeLabelParams(tlvs)
	if err != nil {
		return nil, err
	}
	if !p.hasLabel {
		return nil, errorf(StatusMissingParameters, "Label Mapping without a generic label")
	}
	if p.fec.Wildcard {
		return nil, errorf(StatusMalformedTLV, "Label Mapping for the wildcard FEC")
	}
	return &LabelMapping{MsgID: id, FEC: p.fec, Label: p.label, RequestID: p.reqID, HasRequestID: p.hasReqID,
		HopCount: p.hopCount, HasHopCount: p.hasHopCount, PathVector: p.pathVector, Unknown: p.unknown}, nil
}

// LabelRequest is a Label Request message.
type LabelRequest struct {
	MsgID   uint32
	FEC     FEC
	Unknown []TLV
}

func (*LabelRequest) Type() MsgType { return MsgLabelRequest }
func (m *LabelRequest) ID() uint32  { return m.MsgID }
func (m *LabelRequest) appendParams(b []byte) []byte {
	b = m.FEC.appendTo(b)
	return appendUnknown(b, m.Unknown)
}

func decodeLabelRequest(id uint32, tlvs []TLV) (*LabelRequest, *Error) {
	p, err := decodeLabelParams(tlvs)
	if err != nil {
		return nil, err
	}
	if p.fec.Wildcard {
		return nil, errorf(StatusMalformedTLV, "Label Request for the wildcard FEC")
	}
	return &LabelRequest{MsgID: id, FEC: p.fec, Unknown: p.unknown}, nil
}

// LabelWithdraw is a Label Withdraw message; without a label (HasLabel
// false) it withdraws every label of the FEC.
type LabelWithdraw struct {
	MsgID    uint32
	FEC      FEC
	Label    uint32
	HasLabel bool
	Unknown  []TLV
}

func (*LabelWithdraw) Type() MsgType { return MsgLabelWithdraw }
func (m *LabelWithdraw) ID() uint32  { return m.MsgID }
func (m *LabelWithdraw) appendParams(b []byte) []byte {
	return appendFECLabel(b, m.FEC, m.Label, m.HasLabel, m.Unknown)
}

// LabelRelease is a Label Release message.
type LabelRelease struct {
	MsgID    uint32
	FEC      FEC
	Label    uint32
	HasLabel bool
	Unknown  []TLV
}

func (*LabelRelease) Type() MsgType { return MsgLabelRelease }
func (m *LabelRelease) ID() uint32  { return m.MsgID }
func (m *LabelRelease) appendParams(b []byte) []byte {
	return appendFECLabel(b, m.FEC, m.Label, m.HasLabel, m.Unknown)
}

func appendFECLabel(b []byte, f FEC, label uint32, has bool, unknown []TLV) []byte {
	b = f.appendTo(b)
	if has {
		b = appendLabelTLV(b, label)
	}
	return appendUnknown(b, unknown)
}

// LabelAbort is a Label Abort Request message.
type LabelAbort struct {
	MsgID     uint32
	FEC       FEC
	RequestID uint32
	Unknown   []TLV
}

func (*LabelAbort) Type() MsgType { return MsgLabelAbort }
func (m *LabelAbort) ID() uint32  { return m.MsgID }
func (m *LabelAbort) appendParams(b []byte) []byte {
	b = m.FEC.appendTo(b)
	b = appendU32TLV(b, TLVLabelRequestMessage, m.RequestID)
	return appendUnknown(b, m.Unknown)
}

func decodeMessage(t MsgType, id uint32, body []byte) (Message, *Error) {
	if _, ok := msgNames[t]; !ok {
		return nil, errorf(StatusUnknownMessage, "unknown message type 0x%04x", uint16(t))
	}
	tlvs, err := splitTLVs(body)
	if err != nil {
		return nil, err
	}
	switch t {
	case MsgHello:
		return decodeHello(id, tlvs)
	case MsgInit:
		return decodeInit(id, tlvs)
	case MsgKeepAlive:
		return decodeKeepAlive(id, tlvs)
	case MsgNotification:
		return decodeNotification(id, tlvs)
	case MsgAddress, MsgAddressWithdraw:
		return decodeAddress(id, t == MsgAddressWithdraw, tlvs)
	case MsgLabelMapping:
		return decodeLabelMapping(id, tlvs)
	case MsgLabelRequest:
		return decodeLabelRequest(id, tlvs)
	case MsgLabelWithdraw, MsgLabelRelease:
		p, err := decodeLabelParams(tlvs)
		if err != nil {
			return nil, err
		}
		if t == MsgLabelWithdraw {
			return &LabelWithdraw{MsgID: id, FEC: p.fec, Label: p.label, HasLabel: p.hasLabel, Unknown: p.unknown}, nil
		}
		return &LabelRelease{MsgID: id, FEC: p.fec, Label: p.label, HasLabel: p.hasLabel, Unknown: p.unknown}, nil
	case MsgLabelAbort:
		p, err := decodeLabelParams(tlvs)
		if err != nil {
			return nil, err
		}
		if !p.hasReqID {
			return nil, errorf(StatusMissingParameters, "Label Abort Request without a Label Request Message ID")
		}
		return &LabelAbort{MsgID: id, FEC: p.fec, RequestID: p.reqID, Unknown: p.unknown}, nil
	}
	return nil, errorf(StatusUnknownMessage, "unknown message type 0x%04x", uint16(t))
}
