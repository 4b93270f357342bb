// Package fibapi holds the types that pass resolved forwarding state from the
// RIB (services/rib) to a forwarding backend (services/forwarding: the
// userspace AF_PACKET forwarder now, a kernel netlink backend later).
//
// Everything here is already resolved: next hops name an outgoing port and a
// directly connected gateway, and carry the full label stack to push.
package fibapi

import (
	"context"
	"net/netip"
)

// Public is the name of the public routing instance.
const Public = "_public_"

// Reserved MPLS label values (RFC 3032).
const (
	LabelIPv4ExplicitNull = 0
	LabelImplicitNull     = 3
)

// NextHop is one resolved next hop.
type NextHop struct {
	// Port is the kernel name of the outgoing interface (e.g. "eth1").
	Port string
	// Gateway is the directly connected neighbour; invalid (zero) for an
	// attached route, where the packet's destination is resolved on Port.
	Gateway netip.Addr
	// Labels to push, outermost (top of stack) first. Empty for plain IP.
	// Implicit null never appears here (it means "push nothing").
	Labels []uint32
}

// RouteKind says what the forwarder does with a matching packet.
type RouteKind uint8

const (
	// Forward to one of NextHops (ECMP: hashed per flow).
	Forward RouteKind = iota
	// Local: addressed to the router; hand it to the instance's host stack.
	Local
	// Drop silently (NULL0, blackhole).
	Drop
	// Unreachable: drop and answer ICMP destination unreachable.
	Unreachable
)

// Route is one FIB entry of an instance.
type Route struct {
	Instance string
	Prefix   netip.Prefix
	Kind     RouteKind
	NextHops []NextHop
}

// LabelOp is what the forwarder does with an incoming top label.
type LabelOp uint8

const (
	// Swap the top label for NextHop.Labels (one or more labels; the first
	// replaces the top, further ones are pushed above it). Empty Labels means
	// pop (penultimate-hop popping for an out-label of implicit null) and send
	// the rest of the packet to NextHop.
	Swap LabelOp = iota
	// PopLookup pops the label and, if it was the bottom of the stack, looks the
	// IP destination up in Instance (egress LSP, per-instance VPN label); if
	// labels remain, the next label is looked up again.
	PopLookup
)

// LabelEntry is one incoming-label-map entry (ILM).
type LabelEntry struct {
	InLabel  uint32
	Op       LabelOp
	NextHops []NextHop // for Swap
	Instance string    // for PopLookup
}

// Batch is a set of changes applied together.
type Batch struct {
	Routes       []Route      // added or replaced (key: Instance+Prefix)
	DeleteRoutes []Route      // removed (only Instance and Prefix are read)
	Labels       []LabelEntry // added or replaced (key: InLabel)
	DeleteLabels []uint32
}

// Empty reports whether the batch changes nothing.
func (b *Batch) Empty() bool {
	return len(b.Routes) == 0 && len(b.DeleteRoutes) == 0 && len(b.Labels) == 0 && len(b.DeleteLabels) == 0
}

// Programmer is implemented by forwarding backends.
type Programmer interface {
	Program(ctx context.Context, b Batch) error
}
