package ldp

import (
	"net/netip"

	"vpnos/services/ldp/packet"
)

// ConnID names one TCP connection; the network side chooses it.
type ConnID uint64

// Event is an input of Core.Step.
type Event interface{ isEvent() }

// ConfigChanged applies a new configuration.
type ConfigChanged struct{ Config Config }

// InterfacesChanged replaces the set of interfaces of the public instance.
type InterfacesChanged struct{ Interfaces []Interface }

// RoutesChanged updates the routing table: with Full, Set is the whole
// table; otherwise Set adds or replaces routes and Delete removes them.
// Besides the FECs, the table tells when a peer's transport address
// becomes reachable: a change of the route to it retries at once a session
// whose TCP connection could not be opened.
type RoutesChanged struct {
	Full   bool
	Set    []Route
	Delete []netip.Prefix
}

// Tick tells the core that time has passed (Core.NextDeadline says when it
// wants one).
type Tick struct{}

// HelloReceived is a UDP datagram received on port 646 of an LDP
// interface.
type HelloReceived struct {
	Interface string
	Src       netip.Addr
	Data      []byte
}

// ConnAccepted is a TCP connection accepted on port 646 (this router is
// the passive side).
type ConnAccepted struct {
	Conn   ConnID
	Local  netip.AddrPort
	Remote netip.AddrPort
}

// ConnUp answers a Dial action: the connection to Peer is open. Attempt
// is the Dial's; the answer to an attempt that a later Dial superseded is
// ignored (and its connection closed).
type ConnUp struct {
	Conn    ConnID
	Peer    netip.Addr
	Attempt uint64
	Local   netip.AddrPort
	Remote  netip.AddrPort
}

// ConnFailed answers a Dial action that could not connect (Attempt is the
// Dial's).
type ConnFailed struct {
	Peer    netip.Addr
	Attempt uint64
	Err     error
}

// PDUReceived is one PDU read from a connection (framed by the PDU length;
// a stream whose header does not frame is handed over as it is and fails
// to decode).
type PDUReceived struct {
	Conn ConnID
	Data []byte
}

// ConnClosed reports a connection closed by the peer or by an error.
type ConnClosed struct {
	Conn ConnID
	Err  error
}

// Stop ends LDP: every session gets a Shutdown Notification and is closed,
// labels are freed, LSPs deleted.
type Stop struct{}

func (ConfigChanged) isEvent()     {}
func (InterfacesChanged) isEvent() {}
func (RoutesChanged) isEvent()     {}
func (Tick) isEvent()              {}
func (HelloReceived) isEvent()     {}
func (ConnAccepted) isEvent()      {}
func (ConnUp) isEvent()            {}
func (ConnFailed) isEvent()        {}
func (PDUReceived) isEvent()       {}
func (ConnClosed) isEvent()        {}
func (Stop) isEvent()              {}

// Action is an output of Core.Step, to be carried out in order.
type Action interface{ isAction() }

// SendHello multicasts a Hello PDU to 224.0.0.2 on an interface, from Src.
type SendHello struct {
	Interface string
	Src       netip.Addr
	Data      []byte
}

// Dial opens a TCP connection from Local to Remote:646 for the session
// with Peer (answered with ConnUp or ConnFailed carrying Attempt). A Dial
// for a peer whose earlier Dial is still unanswered supersedes it: the
// network abandons the earlier attempt (a SYN that went out before the
// route to Remote existed may otherwise wait seconds for its
// retransmission).
type Dial struct {
	Peer    netip.Addr
	Local   netip.Addr
	Remote  netip.Addr
	Attempt uint64
}

// Send writes PDUs to a connection.
type Send struct {
	Conn ConnID
	PDUs [][]byte
}

// Close closes a connection once what was sent before is written.
type Close struct{ Conn ConnID }

// LSPsChanged reports LSPs added or changed (Set) and removed (Delete).
// The LSPs are the receiver's to read, not to modify.
type LSPsChanged struct {
	Set    []LSP
	Delete []netip.Prefix
}

// SessionChanged reports a session state change (for the log).
type SessionChanged struct {
	Peer   packet.LDPID
	State  State
	Reason string
}

func (SendHello) isAction()      {}
func (Dial) isAction()           {}
func (Send) isAction()           {}
func (Close) isAction()          {}
func (LSPsChanged) isAction()    {}
func (SessionChanged) isAction() {}

// State is the state of a session (RFC 5036 section 2.5.4).
type State uint8

// Session states.
const (
	NonExistent State = iota
	Initialized
	OpenSent
	OpenRec
	Operational
)

// String prints the state as VRP displays it.
func (s State) String() string {
	switch s {
	case Initialized:
		return "Initialized"
	case OpenSent:
		return "OpenSent"
	case OpenRec:
		return "OpenRec"
	case Operational:
		return "Operational"
	}
	return "NonExistent"
}
