package daemon

import (
	"context"
	"sort"
	"time"

	"vpnos/os/netconf"
	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/services/rib"
	"vpnos/services/vrf"
	"vpnos/yang/datastore"
)

// netconfState is the operational state NETCONF's <get> returns, taken
// from the services' snapshots: the vrf service's applied interfaces and
// instances, the ports, the forwarder's counters and the RIB.
type netconfState struct {
	store    *datastore.Store
	vrf      interface{ State() vrf.Desired }
	ports    interface{ Ports() []iface.Port }
	counters fwdCounters
	rib      interface {
		Snapshot(ctx context.Context, instance string) (rib.Snapshot, error)
	}
}

func (n *netconfState) Interfaces(context.Context) ([]netconf.InterfaceState, error) {
	d := n.vrf.State()
	ports := map[string]iface.Port{}
	for _, p := range n.ports.Ports() {
		ports[p.Name] = p
	}
	var out []netconf.InterfaceState
	for _, in := range d.Interfaces {
		s := netconf.InterfaceState{Name: in.Name, Kernel: in.Kernel, Instance: in.Instance,
			AdminUp: !in.Shutdown, OperUp: in.Up, Addresses: in.Addresses}
		if p, ok := ports[in.Name]; ok {
			if len(p.MAC) > 0 {
				s.MAC = p.MAC.String()
			}
			s.MTU = p.MTU
		}
		if in.Kernel != "" {
			if c, ok := n.counters.Counters(in.Kernel); ok {
				s.Counters = &netconf.Counters{InPackets: c.RxPackets, InBytes: c.RxBytes, InDrops: c.RxDrops,
					OutPackets: c.TxPackets, OutBytes: c.TxBytes, OutDrops: c.TxDrops}
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (n *netconfState) Instances(context.Context) ([]netconf.InstanceState, error) {
	d := n.vrf.State()
	run := n.store.Running()
	var out []netconf.InstanceState
	for _, name := range d.Instances {
		s := netconf.InstanceState{Name: name}
		s.RD, _ = run.Get(datastore.P("vpn-instances", "vpn-instance", datastore.K(name), "ipv4-family", "route-distinguisher"))
		for _, in := range d.Interfaces {
			if in.Instance == name {
				s.Interfaces = append(s.Interfaces, in.Name)
			}
		}
		sort.Strings(s.Interfaces)
		out = append(out, s)
	}
	return out, nil
}

func (n *netconfState) Routes(ctx context.Context, instance string) ([]netconf.RouteState, error) {
	if instance == netconf.PublicInstance {
		instance = fibapi.Public
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	snap, err := n.rib.Snapshot(ctx, instance)
	if err != nil {
		return nil, err
	}
	out := make([]netconf.RouteState, 0, len(snap.Routes))
	for _, e := range snap.Routes {
		out = append(out, netconf.RouteState{Destination: e.Prefix, Protocol: e.Protocol.String(), Preference: e.Preference,
			Cost: e.Cost, Flags: e.Flags(), NextHop: e.NextHop, Interface: e.Interface, Active: e.Active, Labels: e.OutLabels})
	}
	return out, nil
}
