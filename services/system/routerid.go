package system

import (
	"net/netip"
	"strings"

	"vpnos/yang/datastore"
)

// The router ID protocols (BGP, OSPF) use when they configure none of
// their own: RouterID(tree), from the configuration they are handed (their
// participant's Change.New) or from running.

// RouterIDSource says where a router ID comes from.
type RouterIDSource uint8

const (
	// RouterIDNone: no router ID (no address on any public interface).
	RouterIDNone RouterIDSource = iota
	// RouterIDConfigured: `router id` in the system view.
	RouterIDConfigured
	// RouterIDLoopBack: the highest LoopBack address.
	RouterIDLoopBack
	// RouterIDInterface: the highest address of another interface.
	RouterIDInterface
)

var pathRouterID = datastore.P("system", "router-id")

// RouterID returns the device's router ID in t: the configured one, else
// the highest LoopBack address of the public instance, else its highest
// interface address (pure). It is invalid when there is none.
func RouterID(t *datastore.Tree) (netip.Addr, RouterIDSource) {
	if v, ok := t.Get(pathRouterID); ok {
		if a, err := netip.ParseAddr(v); err == nil {
			return a, RouterIDConfigured
		}
	}
	var loop, other netip.Addr
	for _, ifc := range t.Entries(datastore.P("interfaces"), "interface") {
		if vrf, bound := t.Get(ifc.Path.Child("vpn-instance")); bound && vrf != "" {
			continue
		}
		if down, _ := t.Get(ifc.Path.Child("shutdown")); down == "true" {
			continue
		}
		isLoop := strings.HasPrefix(ifc.Path.Last().Keys[0], "LoopBack")
		for _, ad := range t.Entries(ifc.Path.Child("ipv4"), "address") {
			a, err := netip.ParseAddr(ad.Path.Last().Keys[0])
			if err != nil {
				continue
			}
			if isLoop && (!loop.IsValid() || loop.Less(a)) {
				loop = a
			}
			if !isLoop && (!other.IsValid() || other.Less(a)) {
				other = a
			}
		}
	}
	switch {
	case loop.IsValid():
		return loop, RouterIDLoopBack
	case other.IsValid():
		return other, RouterIDInterface
	}
	return netip.Addr{}, RouterIDNone
}
