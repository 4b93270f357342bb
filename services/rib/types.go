package rib

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"vpnos/services/fibapi"
)

// Protocol is the source of a route.
type Protocol uint8

// Protocols, in the order used to break ties between equal preferences.
const (
	Direct Protocol = iota
	Static
	OSPF
	OSPFASE
	IBGP
	EBGP
	numProtocols
)

var protoNames = [...]string{Direct: "Direct", Static: "Static", OSPF: "OSPF", OSPFASE: "O_ASE", IBGP: "IBGP", EBGP: "EBGP"}

// String is the name VRP prints in the Proto column.
func (p Protocol) String() string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return fmt.Sprintf("proto%d", p)
}

// DefaultPreference is VRP's default preference of a protocol
// (Direct 0, OSPF 10, static 60, OSPF ASE 150, BGP 255).
func (p Protocol) DefaultPreference() uint32 {
	switch p {
	case Direct:
		return 0
	case OSPF:
		return 10
	case Static:
		return 60
	case OSPFASE:
		return 150
	default:
		return 255
	}
}

// Null0 is the name of the blackhole interface.
const Null0 = "NULL0"

// NextHop is a next hop as a protocol or the configuration gives it.
type NextHop struct {
	// Gateway is the next-hop address. Without Interface it is resolved
	// recursively through the best covering route of Instance (flag R).
	Gateway netip.Addr
	// Interface names the outgoing interface by its VRP name
	// ("GigabitEthernet0/1/0", "LoopBack0", "NULL0" for a blackhole; case is
	// ignored). With Interface the next hop is not recursive: the route is
	// usable while the interface is up.
	Interface string
	// Instance is where Gateway is resolved: "" is the route's own instance;
	// otherwise an instance name, fibapi.Public for the public one (a VPN
	// static route with a public next hop, a BGP VPN route whose next hop is
	// the remote PE).
	Instance string
	// Labels are pushed below the labels of the path to Gateway, outermost
	// first (a BGP VPN route carries its VPN label here). Implicit null (3)
	// is dropped.
	Labels []uint32
	// Tunnel requires the path to Gateway to be an LSP (a VPN route needs a
	// tunnel to the remote PE); without one the next hop is unresolved.
	Tunnel bool
}

// Hop is a resolved next hop: the outgoing interface (VRP name), the
// directly connected gateway (invalid for an attached destination, which is
// resolved on the interface) and the labels pushed, outermost first.
type Hop struct {
	Interface string
	Gateway   netip.Addr
	Labels    []uint32
}

// Route is a route a protocol hands to the RIB.
type Route struct {
	Prefix   netip.Prefix
	Protocol Protocol
	// Key tells apart routes of one protocol to one prefix (two static routes
	// with different next hops). Empty means: derived from the first next hop.
	Key string
	// Preference 0 means the protocol's default (Direct's is 0 anyway).
	Preference uint32
	Cost       uint32
	Tag        uint32
	// Blackhole drops matching packets (a static route to NULL0).
	Blackhole bool
	NextHops  []NextHop
}

// RouteID identifies a route inside an instance.
type RouteID struct {
	Protocol Protocol
	Prefix   netip.Prefix
	Key      string
}

// ID returns the route's identity (with the Key derived if empty).
func (r Route) ID() RouteID {
	k := r.Key
	if k == "" {
		k = deriveKey(r)
	}
	return RouteID{Protocol: r.Protocol, Prefix: r.Prefix.Masked(), Key: k}
}

func deriveKey(r Route) string {
	if r.Blackhole || (len(r.NextHops) > 0 && strings.EqualFold(r.NextHops[0].Interface, Null0)) {
		return Null0
	}
	if len(r.NextHops) == 0 {
		return ""
	}
	nh := r.NextHops[0]
	if nh.Instance == "" && nh.Interface == "" {
		return nh.Gateway.String()
	}
	var b strings.Builder
	if nh.Instance != "" {
		b.WriteString(nh.Instance)
		b.WriteByte(' ')
	}
	if nh.Interface != "" {
		b.WriteString(strings.ToLower(nh.Interface))
		b.WriteByte(' ')
	}
	if nh.Gateway.IsValid() {
		b.WriteString(nh.Gateway.String())
	}
	return strings.TrimSpace(b.String())
}

// Port is an interface as the RIB sees it.
type Port struct {
	// Name is the VRP name ("GigabitEthernet0/1/0", "LoopBack0"): the
	// interface's identity in the RIB, what next hops, LSPs, watches and
	// snapshots name. Lookups ignore case.
	Name string
	// Kernel is the port's kernel name ("eth1"), used only in what is handed
	// to the forwarder (fibapi batches); "" for LoopBacks.
	Kernel string
	// Instance is the routing instance (fibapi.Public or a VPN instance).
	Instance string
	Up       bool
	// Loopback ports (LoopBackN) only add host routes.
	Loopback bool
	// Addresses are the interface addresses with their lengths
	// (192.0.2.1/30), primary first.
	Addresses []netip.Prefix
}

// LSPRole is the role of this router on an LSP.
type LSPRole uint8

// LSP roles.
const (
	Ingress LSPRole = iota
	Transit
	Egress
)

func (r LSPRole) String() string {
	switch r {
	case Ingress:
		return "Ingress"
	case Transit:
		return "Transit"
	case Egress:
		return "Egress"
	}
	return "Unknown"
}

// Errors.
var (
	ErrNoInstance = errors.New("no such routing instance")
	ErrBadRoute   = errors.New("invalid route")
	ErrBadLSP     = errors.New("invalid LSP")
	ErrExists     = errors.New("already exists")
)

// validOutLabel: explicit null, implicit null, or an ordinary label.
func validOutLabel(l uint32) bool {
	return l == fibapi.LabelIPv4ExplicitNull || l == fibapi.LabelImplicitNull || (l >= 16 && l <= 1<<20-1)
}

func (r Route) validate() error {
	if !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() {
		return fmt.Errorf("%w: prefix %v is not IPv4", ErrBadRoute, r.Prefix)
	}
	if r.Protocol == Direct || r.Protocol >= numProtocols {
		return fmt.Errorf("%w: protocol %v cannot be added (direct routes come from interfaces)", ErrBadRoute, r.Protocol)
	}
	if r.Preference > 255 {
		return fmt.Errorf("%w: preference %d out of range 1-255", ErrBadRoute, r.Preference)
	}
	if !r.Blackhole && len(r.NextHops) == 0 {
		return fmt.Errorf("%w: %v has no next hop", ErrBadRoute, r.Prefix)
	}
	for _, nh := range r.NextHops {
		if nh.Gateway.IsValid() && !nh.Gateway.Is4() {
			return fmt.Errorf("%w: next hop %v is not IPv4", ErrBadRoute, nh.Gateway)
		}
		if !nh.Gateway.IsValid() && nh.Interface == "" {
			return fmt.Errorf("%w: next hop needs an address or an interface", ErrBadRoute)
		}
		if nh.Tunnel && !nh.Gateway.IsValid() {
			return fmt.Errorf("%w: a tunnel next hop needs an address", ErrBadRoute)
		}
		for _, l := range nh.Labels {
			if !validOutLabel(l) {
				return fmt.Errorf("%w: label %d", ErrBadRoute, l)
			}
		}
	}
	return nil
}
