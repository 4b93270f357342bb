// Package vrf owns the routing instances: the public instance and one per
// `ip vpn-instance`. Each instance has a host stack of its own (a network
// namespace) so that overlapping customer addresses stay apart and the
// router's own traffic (ARP, ICMP, BGP) stays inside its instance. The
// service turns configuration (instances, interface bindings, addresses,
// shutdown) and discovered ports into host effects, and tells the RIB about
// each interface's instance, state and addresses.
//
// The reconciliation is a pure function (Plan) of the current and the wanted
// state; the effects go through the Host interface.
package vrf

import (
	"net/netip"
	"slices"
	"sort"
	"strings"

	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/yang/datastore"
)

// Interface is the wanted state of one configured or discovered interface.
type Interface struct {
	Name     string // VRP name: GigabitEthernet0/1/0, LoopBack0
	Kernel   string // eth1 for ports; "" for LoopBacks
	Instance string // fibapi.Public or a VPN instance name
	// Addresses: the primary address first (the one without sub; OSPF
	// runs on it), then the secondary ones in address order.
	Addresses []netip.Prefix
	Shutdown  bool
	Loopback  bool
	// Present: the port exists on the host (always true for LoopBacks).
	Present bool
	// Up: the port is present, not shut down and has carrier.
	Up bool
}

// InstanceInfo is the configuration of a VPN instance that protocols need.
type InstanceInfo struct {
	// IPv4 says the instance has an IPv4 address family (`ipv4-family`).
	IPv4 bool
	// RD is the route distinguisher ("" until configured).
	RD string
	// ImportRT and ExportRT are the route targets, as configured.
	ImportRT, ExportRT []string
	// LabelMode is "per-instance" (the default), "per-route" or
	// "per-nexthop" ("" without an IPv4 family).
	LabelMode string
}

func (a InstanceInfo) equal(b InstanceInfo) bool {
	return a.IPv4 == b.IPv4 && a.RD == b.RD && a.LabelMode == b.LabelMode &&
		slices.Equal(a.ImportRT, b.ImportRT) && slices.Equal(a.ExportRT, b.ExportRT)
}

// Desired is the whole wanted state.
type Desired struct {
	Instances  []string                // VPN instances in creation order (public is implicit)
	Info       map[string]InstanceInfo // by VPN instance
	Interfaces map[string]Interface    // by VRP name
}

// FromConfig computes the wanted state from the running configuration and
// the discovered ports.
func FromConfig(t *datastore.Tree, ports []iface.Port, naming iface.Naming) Desired {
	d := Desired{Interfaces: map[string]Interface{}, Info: map[string]InstanceInfo{}}
	if t != nil {
		for _, it := range t.Entries(datastore.P("vpn-instances"), "vpn-instance") {
			name := it.Path.Last().Keys[0]
			d.Instances = append(d.Instances, name)
			d.Info[name] = instanceInfo(t, it.Path)
		}
	}
	// Every discovered data port exists, configured or not.
	for _, p := range ports {
		if p.Mgmt {
			continue
		}
		d.Interfaces[p.Name] = Interface{Name: p.Name, Kernel: p.Kernel, Instance: fibapi.Public, Present: true, Up: p.OperUp && p.AdminUp}
	}
	if t == nil {
		return d
	}
	for _, it := range t.Entries(datastore.P("interfaces"), "interface") {
		name := it.Path.Last().Keys[0]
		base := it.Path
		in, ok := d.Interfaces[name]
		if !ok {
			in = Interface{Name: name, Instance: fibapi.Public}
			if strings.HasPrefix(name, "LoopBack") {
				in.Loopback, in.Present, in.Up = true, true, true
			} else if k, ok := naming.KernelName(name); ok {
				in.Kernel = k // configured, but the link is not (yet) there
			}
		}
		if v, ok := t.Get(base.Child("vpn-instance")); ok && v != "" {
			in.Instance = v
		}
		if v, _ := t.Get(base.Child("shutdown")); v == "true" {
			in.Shutdown = true
			in.Up = false
		}
		var primary []netip.Prefix
		for _, a := range t.Entries(base.Child("ipv4"), "address") {
			ip, err := netip.ParseAddr(a.Path.Last().Keys[0])
			if err != nil {
				continue
			}
			mask, _ := t.Get(a.Path.Child("mask"))
			n, ok := datastore.MaskLen(mask)
			if !ok {
				continue
			}
			if _, sub := t.Get(a.Path.Child("sub")); !sub {
				primary = append(primary, netip.PrefixFrom(ip, n))
				continue
			}
			in.Addresses = append(in.Addresses, netip.PrefixFrom(ip, n))
		}
		sortPrefixes(in.Addresses)
		sortPrefixes(primary)
		in.Addresses = append(primary, in.Addresses...)
		d.Interfaces[name] = in
	}
	return d
}

func instanceInfo(t *datastore.Tree, p datastore.Path) InstanceInfo {
	var info InstanceInfo
	af := p.Child("ipv4-family")
	if !t.Exists(af) {
		return info
	}
	info.IPv4 = true
	info.RD, _ = t.Get(af.Child("route-distinguisher"))
	info.LabelMode = "per-instance"
	if v, ok := t.Get(af.Child("apply-label")); ok && v != "" {
		info.LabelMode = v
	}
	for _, rt := range t.Entries(af, "vpn-target") {
		k := rt.Path.Last().Keys
		if len(k) != 2 {
			continue
		}
		switch k[1] {
		case "export-extcommunity":
			info.ExportRT = append(info.ExportRT, k[0])
		case "import-extcommunity":
			info.ImportRT = append(info.ImportRT, k[0])
		}
	}
	return info
}

func sortPrefixes(p []netip.Prefix) {
	sort.Slice(p, func(i, j int) bool {
		if c := p[i].Addr().Compare(p[j].Addr()); c != 0 {
			return c < 0
		}
		return p[i].Bits() < p[j].Bits()
	})
}

// ActionKind names one host effect.
type ActionKind uint8

const (
	// CreateInstance makes the instance's host stack.
	CreateInstance ActionKind = iota
	// BindPort puts the host side of a port into Instance.
	BindPort
	// SetAddresses sets exactly Addresses on the host side of Interface
	// (for LoopBacks: on the instance's loopback device).
	SetAddresses
	// SetLink sets the port administratively up or down.
	SetLink
	// UnbindPort takes a port's host side away (the port vanished).
	UnbindPort
	// DeleteInstance removes the host stack of an instance.
	DeleteInstance
)

func (k ActionKind) String() string {
	return [...]string{"create-instance", "bind-port", "set-addresses", "set-link", "unbind-port", "delete-instance"}[k]
}

// Action is one host effect.
type Action struct {
	Kind      ActionKind
	Instance  string
	Interface string // VRP name
	Kernel    string
	Loopback  bool
	Addresses []netip.Prefix
	Up        bool
}

// Plan lists the actions that turn have into want, in an order that works:
// instances are created first, ports are bound before their addresses are
// set, a LoopBack's addresses leave its old instance before they appear in
// the new one, and instances are deleted last. The public instance always
// exists; it is created when the service starts.
func Plan(have, want Desired) []Action {
	var acts []Action
	haveInst := map[string]bool{fibapi.Public: true}
	for _, n := range have.Instances {
		haveInst[n] = true
	}
	wantInst := map[string]bool{fibapi.Public: true}
	for _, n := range want.Instances {
		wantInst[n] = true
		if !haveInst[n] {
			acts = append(acts, Action{Kind: CreateInstance, Instance: n})
		}
	}
	names := make([]string, 0, len(want.Interfaces)+len(have.Interfaces))
	for n := range want.Interfaces {
		names = append(names, n)
	}
	for n := range have.Interfaces {
		if _, ok := want.Interfaces[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		h, hok := have.Interfaces[n]
		w, wok := want.Interfaces[n]
		hPresent := hok && h.Present
		wPresent := wok && w.Present && wantInst[w.Instance]
		if hPresent && !wPresent {
			if h.Loopback {
				if len(h.Addresses) > 0 {
					acts = append(acts, Action{Kind: SetAddresses, Interface: n, Instance: h.Instance, Loopback: true})
				}
			} else {
				acts = append(acts, Action{Kind: UnbindPort, Interface: n, Kernel: h.Kernel, Instance: h.Instance})
			}
			continue
		}
		if !wPresent {
			continue
		}
		moved := !hPresent || h.Instance != w.Instance
		if w.Loopback {
			if moved && hPresent && len(h.Addresses) > 0 {
				acts = append(acts, Action{Kind: SetAddresses, Interface: n, Instance: h.Instance, Loopback: true})
			}
		} else {
			if moved {
				// Moving the host side to another instance also drops its addresses.
				acts = append(acts, Action{Kind: BindPort, Interface: n, Kernel: w.Kernel, Instance: w.Instance})
			}
			if moved || h.Shutdown != w.Shutdown {
				acts = append(acts, Action{Kind: SetLink, Interface: n, Kernel: w.Kernel, Instance: w.Instance, Up: !w.Shutdown})
			}
		}
		if (moved && len(w.Addresses) > 0) || (!moved && !slices.Equal(h.Addresses, w.Addresses)) {
			acts = append(acts, Action{Kind: SetAddresses, Interface: n, Kernel: w.Kernel, Instance: w.Instance,
				Loopback: w.Loopback, Addresses: slices.Clone(w.Addresses)})
		}
	}
	for _, n := range have.Instances {
		if !wantInst[n] {
			acts = append(acts, Action{Kind: DeleteInstance, Instance: n})
		}
	}
	return acts
}
