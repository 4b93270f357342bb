package netconf

import (
	"context"
	_ "embed"
	"net/netip"
	"strconv"
)

// State is the operational state that <get> returns beside the
// configuration; the daemon implements it from the services' snapshots.
type State interface {
	Interfaces(ctx context.Context) ([]InterfaceState, error)
	Instances(ctx context.Context) ([]InstanceState, error)
	// Routes lists an instance's routing table (PublicInstance for the
	// public one).
	Routes(ctx context.Context, instance string) ([]RouteState, error)
}

// PublicInstance names the public routing instance.
const PublicInstance = "_public_"

// InterfaceState is one interface.
type InterfaceState struct {
	Name     string // GigabitEthernet0/1/0, LoopBack0
	Kernel   string // eth1 ("" for LoopBacks)
	Instance string // "" or PublicInstance for the public instance
	AdminUp  bool
	OperUp   bool
	MAC      string
	MTU      int
	// Addresses are the configured IPv4 addresses.
	Addresses []netip.Prefix
	// Counters are the forwarder's counters (nil when it does not handle
	// the port).
	Counters *Counters
}

// Counters are the packet counters of a port.
type Counters struct {
	InPackets, InBytes, InDrops    uint64
	OutPackets, OutBytes, OutDrops uint64
}

// InstanceState is one VPN instance.
type InstanceState struct {
	Name       string
	RD         string
	Label      uint32 // per-instance label, 0 if none
	Interfaces []string
}

// RouteState is one next hop of one route.
type RouteState struct {
	Destination netip.Prefix
	Protocol    string
	Preference  uint32
	Cost        uint32
	Flags       string
	NextHop     netip.Addr
	Interface   string
	Active      bool
	Labels      []uint32
}

const nsState = "urn:vpnos:yang:vpnos-state"

//go:embed yang/vpnos-state.yang
var stateModule string

// StateModule is the YANG module of the state <get> returns.
var StateModule = Module{Name: "vpnos-state", Revision: "2026-11-22", Namespace: nsState, Prefix: "vst", Text: stateModule}

// stateParts say which parts of the state a request wants.
type stateParts struct{ interfaces, instances, routes bool }

// encodeState renders the state container with the parts asked for.
func encodeState(ctx context.Context, st State, want stateParts) (*Node, error) {
	root := Elem(nsState, "state")
	if want.interfaces {
		ifs, err := st.Interfaces(ctx)
		if err != nil {
			return nil, err
		}
		c := Elem(nsState, "interfaces")
		for _, in := range ifs {
			x := Elem(nsState, "interface", keyLeaf(nsState, "name", in.Name))
			if in.Kernel != "" {
				x.Add(Leaf(nsState, "kernel-name", in.Kernel))
			}
			if in.Instance != "" {
				x.Add(Leaf(nsState, "vpn-instance", in.Instance))
			}
			x.Add(Leaf(nsState, "admin-status", upDown(in.AdminUp)), Leaf(nsState, "oper-status", upDown(in.OperUp)))
			if in.MAC != "" {
				x.Add(Leaf(nsState, "mac-address", in.MAC))
			}
			if in.MTU > 0 {
				x.Add(Leaf(nsState, "mtu", strconv.Itoa(in.MTU)))
			}
			for _, a := range in.Addresses {
				x.Add(Leaf(nsState, "ipv4-address", a.String()))
			}
			if k := in.Counters; k != nil {
				x.Add(Elem(nsState, "counters",
					u64(nsState, "in-packets", k.InPackets), u64(nsState, "in-bytes", k.InBytes), u64(nsState, "in-drops", k.InDrops),
					u64(nsState, "out-packets", k.OutPackets), u64(nsState, "out-bytes", k.OutBytes), u64(nsState, "out-drops", k.OutDrops)))
			}
			c.Add(x)
		}
		root.Add(c)
	}
	var instances []InstanceState
	if want.instances || want.routes {
		var err error
		if instances, err = st.Instances(ctx); err != nil {
			return nil, err
		}
	}
	if want.instances {
		c := Elem(nsState, "vpn-instances")
		for _, in := range instances {
			x := Elem(nsState, "vpn-instance", keyLeaf(nsState, "name", in.Name))
			if in.RD != "" {
				x.Add(Leaf(nsState, "route-distinguisher", in.RD))
			}
			if in.Label != 0 {
				x.Add(u64(nsState, "label", uint64(in.Label)))
			}
			for _, i := range in.Interfaces {
				x.Add(Leaf(nsState, "interface", i))
			}
			c.Add(x)
		}
		root.Add(c)
	}
	if want.routes {
		c := Elem(nsState, "routing-tables")
		names := []string{PublicInstance}
		for _, in := range instances {
			names = append(names, in.Name)
		}
		for _, name := range names {
			routes, err := st.Routes(ctx, name)
			if err != nil {
				return nil, err
			}
			t := Elem(nsState, "routing-table", keyLeaf(nsState, "instance", name))
			for _, r := range routes {
				x := Elem(nsState, "route", Leaf(nsState, "destination", r.Destination.String()))
				if r.Protocol != "" {
					x.Add(Leaf(nsState, "protocol", r.Protocol))
				}
				x.Add(u64(nsState, "preference", uint64(r.Preference)), u64(nsState, "cost", uint64(r.Cost)))
				if r.Flags != "" {
					x.Add(Leaf(nsState, "flags", r.Flags))
				}
				if r.NextHop.IsValid() && r.NextHop.Is4() {
					x.Add(Leaf(nsState, "next-hop", r.NextHop.String()))
				}
				if r.Interface != "" {
					x.Add(Leaf(nsState, "interface", r.Interface))
				}
				x.Add(Leaf(nsState, "active", strconv.FormatBool(r.Active)))
				for _, l := range r.Labels {
					x.Add(u64(nsState, "label", uint64(l)))
				}
				t.Add(x)
			}
			c.Add(t)
		}
		root.Add(c)
	}
	return root, nil
}

func keyLeaf(ns, name, v string) *Node {
	n := Leaf(ns, name, v)
	n.key = true
	return n
}

func u64(ns, name string, v uint64) *Node { return Leaf(ns, name, strconv.FormatUint(v, 10)) }

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
