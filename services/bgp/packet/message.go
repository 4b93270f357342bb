package packet

import (
	"fmt"
	"net/netip"
	"strings"
)

// Message is a decoded BGP message: *Open, *Update, *Notification,
// *Keepalive or *RouteRefresh.
type Message interface {
	Type() Type
}

// Open is an OPEN message (RFC 4271 §4.2) with its capabilities (RFC 5492).
type Open struct {
	Version  uint8
	MyAS     uint16 // as on the wire: AS_TRANS for a 4-octet AS
	HoldTime uint16
	RouterID netip.Addr
	Caps     Capabilities
}

// Type implements Message.
func (*Open) Type() Type { return TypeOpen }

// AS is the sender's AS: the 4-octet AS capability's value when present
// (RFC 6793 §4), otherwise My Autonomous System.
func (o *Open) AS() uint32 {
	if o.Caps.AS4 {
		return o.Caps.AS4Number
	}
	return uint32(o.MyAS)
}

// Capability codes.
const (
	CapMultiprotocol      = 1
	CapRouteRefresh       = 2
	CapFourOctetAS        = 65
	CapRouteRefreshCisco  = 128
	CapEnhancedRouteRefsh = 70
)

// Capabilities are the capabilities an OPEN advertises.
type Capabilities struct {
	Families     []Family
	RouteRefresh bool
	AS4          bool
	AS4Number    uint32
	// Other are capabilities this speaker does not use, kept for displays.
	Other []RawCapability
}

// Has reports whether f is among the multiprotocol families. An OPEN
// without any multiprotocol capability implies IPv4 unicast (RFC 4760 §8).
func (c Capabilities) Has(f Family) bool {
	if len(c.Families) == 0 {
		return f == IPv4Unicast
	}
	for _, g := range c.Families {
		if g == f {
			return true
		}
	}
	return false
}

// RawCapability is a capability kept as bytes.
type RawCapability struct {
	Code  uint8
	Value []byte
}

// Keepalive is a KEEPALIVE message.
type Keepalive struct{}

// Type implements Message.
func (*Keepalive) Type() Type { return TypeKeepalive }

// RouteRefresh is a ROUTE-REFRESH message (RFC 2918; Subtype from RFC 7313
// is kept but only 0, a normal request, is acted on).
type RouteRefresh struct {
	Family  Family
	Subtype uint8
}

// Type implements Message.
func (*RouteRefresh) Type() Type { return TypeRouteRefresh }

// Notification is a NOTIFICATION message (RFC 4271 §4.5).
type Notification struct {
	Code    uint8
	Subcode uint8
	Data    []byte
}

// Type implements Message.
func (*Notification) Type() Type { return TypeNotification }

// Error codes (RFC 4271 §4.5, RFC 4486, RFC 6608).
const (
	ErrHeader       = 1
	ErrOpen         = 2
	ErrUpdate       = 3
	ErrHoldTimer    = 4
	ErrFSM          = 5
	ErrCease        = 6
	ErrRouteRefresh = 7
)

// Message header error subcodes.
const (
	SubConnNotSynchronized = 1
	SubBadMessageLength    = 2
	SubBadMessageType      = 3
)

// OPEN message error subcodes.
const (
	SubUnsupportedVersion    = 1
	SubBadPeerAS             = 2
	SubBadBGPIdentifier      = 3
	SubUnsupportedOptParam   = 4
	SubUnacceptableHoldTime  = 6
	SubUnsupportedCapability = 7
)

// UPDATE message error subcodes.
const (
	SubMalformedAttrList      = 1
	SubUnrecognizedWellKnown  = 2
	SubMissingWellKnown       = 3
	SubAttrFlags              = 4
	SubAttrLength             = 5
	SubInvalidOrigin          = 6
	SubInvalidNextHop         = 8
	SubOptionalAttr           = 9
	SubInvalidNetworkField    = 10
	SubMalformedASPath        = 11
	SubUnexpectedInOpenSent   = 1 // FSM error subcodes (RFC 6608)
	SubUnexpectedInOpenConfrm = 2
	SubUnexpectedInEstablishd = 3
)

// Cease subcodes (RFC 4486).
const (
	SubMaxPrefixes           = 1
	SubAdminShutdown         = 2
	SubPeerDeconfigured      = 3
	SubAdminReset            = 4
	SubConnectionRejected    = 5
	SubOtherConfigChange     = 6
	SubConnectionCollision   = 7
	SubOutOfResources        = 8
	SubRouteRefreshMalformed = 1 // ROUTE-REFRESH error subcode (RFC 7313)
)

var codeNames = map[uint8]string{
	ErrHeader: "Message Header Error", ErrOpen: "OPEN Message Error", ErrUpdate: "UPDATE Message Error",
	ErrHoldTimer: "Hold Timer Expired", ErrFSM: "Finite State Machine Error", ErrCease: "Cease",
	ErrRouteRefresh: "ROUTE-REFRESH Message Error",
}

var subNames = map[[2]uint8]string{
	{1, 1}: "Connection Not Synchronized", {1, 2}: "Bad Message Length", {1, 3}: "Bad Message Type",
	{2, 1}: "Unsupported Version Number", {2, 2}: "Bad Peer AS", {2, 3}: "Bad BGP Identifier",
	{2, 4}: "Unsupported Optional Parameter", {2, 6}: "Unacceptable Hold Time", {2, 7}: "Unsupported Capability",
	{3, 1}: "Malformed Attribute List", {3, 2}: "Unrecognized Well-known Attribute", {3, 3}: "Missing Well-known Attribute",
	{3, 4}: "Attribute Flags Error", {3, 5}: "Attribute Length Error", {3, 6}: "Invalid ORIGIN Attribute",
	{3, 8}: "Invalid NEXT_HOP Attribute", {3, 9}: "Optional Attribute Error", {3, 10}: "Invalid Network Field",
	{3, 11}: "Malformed AS_PATH",
	{5, 1}:  "Receive Unexpected Message in OpenSent State", {5, 2}: "Receive Unexpected Message in OpenConfirm State",
	{5, 3}: "Receive Unexpected Message in Established State",
	{6, 1}: "Maximum Number of Prefixes Reached", {6, 2}: "Administrative Shutdown", {6, 3}: "Peer De-configured",
	{6, 4}: "Administrative Reset", {6, 5}: "Connection Rejected", {6, 6}: "Other Configuration Change",
	{6, 7}: "Connection Collision Resolution", {6, 8}: "Out of Resources",
	{7, 1}: "Invalid Message Length",
}

// CodeString names a NOTIFICATION code and subcode.
func CodeString(code, sub uint8) string {
	c, ok := codeNames[code]
	if !ok {
		c = fmt.Sprintf("code %d", code)
	}
	if s, ok := subNames[[2]uint8{code, sub}]; ok {
		return c + " / " + s
	}
	if sub == 0 {
		return c
	}
	return fmt.Sprintf("%s / subcode %d", c, sub)
}

func (n *Notification) String() string {
	return fmt.Sprintf("NOTIFICATION %d/%d (%s)", n.Code, n.Subcode, CodeString(n.Code, n.Subcode))
}

// Error is a message error that ends the session: the NOTIFICATION to send
// before closing (RFC 4271 §6, RFC 7606 "session reset").
type Error struct {
	Code    uint8
	Subcode uint8
	Data    []byte
	Reason  string
}

func (e *Error) Error() string {
	s := CodeString(e.Code, e.Subcode)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Notification is the NOTIFICATION this error sends.
func (e *Error) Notification() *Notification {
	return &Notification{Code: e.Code, Subcode: e.Subcode, Data: e.Data}
}

func newErr(code, sub uint8, data []byte, format string, args ...any) *Error {
	return &Error{Code: code, Subcode: sub, Data: data, Reason: fmt.Sprintf(format, args...)}
}

// Handling is the RFC 7606 treatment of an UPDATE error that does not end
// the session.
type Handling uint8

// Treatments, weakest first.
const (
	// AttributeDiscard: the attribute was dropped, the routes stand.
	AttributeDiscard Handling = iota + 1
	// TreatAsWithdraw: every route the UPDATE announces is withdrawn.
	TreatAsWithdraw
)

func (h Handling) String() string {
	switch h {
	case AttributeDiscard:
		return "attribute-discard"
	case TreatAsWithdraw:
		return "treat-as-withdraw"
	}
	return "none"
}

// Issue is one RFC 7606 decision taken while decoding an UPDATE.
type Issue struct {
	Handling Handling
	Attr     uint8 // attribute type concerned, 0 when none
	Code     uint8 // the code/subcode RFC 4271 would have sent
	Subcode  uint8
	Reason   string
}

func (i Issue) String() string {
	return fmt.Sprintf("%s (attribute %d): %s: %s", i.Handling, i.Attr, CodeString(i.Code, i.Subcode), i.Reason)
}

// Update is a decoded UPDATE message.
type Update struct {
	// Withdrawn and NLRI are the IPv4 unicast prefixes of the message body.
	Withdrawn []Prefix
	NLRI      []Prefix
	// Attrs is nil when the message carries no path attribute other than
	// MP_REACH/MP_UNREACH.
	Attrs     *Attrs
	MPReach   *MPReach
	MPUnreach *MPUnreach

	// Issues are the RFC 7606 decisions taken; TreatAsWithdraw is set when
	// one of them withdraws the announced routes.
	Issues          []Issue
	TreatAsWithdraw bool
}

// Type implements Message.
func (*Update) Type() Type { return TypeUpdate }

// MPReach is the MP_REACH_NLRI attribute (RFC 4760) for IPv4 unicast or
// VPN-IPv4. For other families only Family is set and Unsupported is true.
type MPReach struct {
	Family      Family
	NextHop     netip.Addr
	Prefixes    []Prefix   // IPv4 unicast
	VPN         []VPNRoute // VPN-IPv4
	Unsupported bool
}

// MPUnreach is the MP_UNREACH_NLRI attribute.
type MPUnreach struct {
	Family      Family
	Prefixes    []Prefix
	VPN         []VPNPrefix
	Unsupported bool
}

// IsEndOfRIB reports whether the update is an End-of-RIB marker (RFC 4724)
// and for which family.
func (u *Update) IsEndOfRIB() (Family, bool) {
	if len(u.Withdrawn) == 0 && len(u.NLRI) == 0 && u.Attrs == nil && u.MPReach == nil {
		if u.MPUnreach == nil {
			return IPv4Unicast, true
		}
		if len(u.MPUnreach.Prefixes) == 0 && len(u.MPUnreach.VPN) == 0 && !u.MPUnreach.Unsupported {
			return u.MPUnreach.Family, true
		}
	}
	return 0, false
}

func (u *Update) String() string {
	var b strings.Builder
	b.WriteString("UPDATE")
	if len(u.Withdrawn) > 0 {
		fmt.Fprintf(&b, " withdrawn=%v", u.Withdrawn)
	}
	if len(u.NLRI) > 0 {
		fmt.Fprintf(&b, " nlri=%v", u.NLRI)
	}
	if u.MPReach != nil {
		fmt.Fprintf(&b, " mp_reach=%s nh=%s n=%d", u.MPReach.Family, u.MPReach.NextHop, len(u.MPReach.Prefixes)+len(u.MPReach.VPN))
	}
	if u.MPUnreach != nil {
		fmt.Fprintf(&b, " mp_unreach=%s n=%d", u.MPUnreach.Family, len(u.MPUnreach.Prefixes)+len(u.MPUnreach.VPN))
	}
	if u.TreatAsWithdraw {
		b.WriteString(" treat-as-withdraw")
	}
	return b.String()
}
