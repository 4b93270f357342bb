package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"vpnos/cli"
	"vpnos/services/fibapi"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
)

// The filtered forms of display ip routing-table: one protocol's routes,
// the statistics per protocol, and the tables of every VPN instance.

// routeProtocols are the protocol keywords, their title, and the RIB
// protocols each covers.
var routeProtocols = []struct {
	kw, title, stat string
	protos          []rib.Protocol
}{
	{"direct", "Direct", "DIRECT", []rib.Protocol{rib.Direct}},
	{"static", "Static", "STATIC", []rib.Protocol{rib.Static}},
	{"ospf", "OSPF", "OSPF", []rib.Protocol{rib.OSPF, rib.OSPFASE}},
	{"bgp", "BGP", "BGP", []rib.Protocol{rib.IBGP, rib.EBGP}},
}

func (o *ops) routingMoreCommands() []cli.Command {
	help := map[string]string{
		"ip": "IP information", "routing-table": "IP routing table",
		"vpn-instance": "VPN instance", "vrf": "VPN instance name",
		"protocol": "The routes of one protocol", "direct": "Direct routes", "static": "Static routes",
		"ospf": "OSPF routes", "bgp": "BGP routes", "verbose": "Detailed information",
		"statistics": "Route counts per protocol", "all-vpn-instance": "Every VPN instance",
	}
	return []cli.Command{
		{Views: "any", Display: true, Help: help, Run: o.runRoutingProtocol,
			Syntax: "display ip routing-table [vpn-instance {vrf:vpn-name}] protocol ( direct | static | ospf | bgp ) [verbose]"},
		{Views: "any", Display: true, Help: help, Run: o.runRoutingStatistics,
			Syntax: "display ip routing-table [ vpn-instance {vrf:vpn-name} | all-vpn-instance ] statistics"},
		{Views: "any", Display: true, Help: help, Run: o.runRoutingAllVPN,
			Syntax: "display ip routing-table all-vpn-instance [verbose]"},
	}
}

// snapshot reads the table of the instance the arguments name (public
// without vpn-instance); an instance the RIB does not know yet is empty.
func (o *ops) snapshot(ctx context.Context, a *cli.Args) (rib.Snapshot, error) {
	name, _ := a.Value("vrf")
	inst, err := o.instance(name)
	if err != nil {
		return rib.Snapshot{}, err
	}
	return o.snapshotOf(ctx, inst)
}

func (o *ops) snapshotOf(ctx context.Context, inst string) (rib.Snapshot, error) {
	snap, err := o.d.RIB.Snapshot(ctx, inst)
	if errors.Is(err, rib.ErrNoInstance) {
		return rib.Snapshot{Instance: inst}, nil
	}
	return snap, ribError(err)
}

func tableTitle(inst string) string {
	if inst == fibapi.Public || inst == "" {
		return "Public"
	}
	return inst
}

func (o *ops) runRoutingProtocol(ctx context.Context, a *cli.Args) (string, error) {
	snap, err := o.snapshot(ctx, a)
	if err != nil {
		return "", err
	}
	inst := snap.Instance
	if inst == "" {
		inst = fibapi.Public
	}
	p := routeProtocols[0]
	for _, rp := range routeProtocols {
		if a.Keyword(rp.kw) {
			p = rp
		}
	}
	of := snap.Filter(func(e rib.RouteEntry) bool {
		for _, x := range p.protos {
			if e.Protocol == x {
				return true
			}
		}
		return false
	})
	var b strings.Builder
	b.WriteString("Route Flags: R - relay, D - download to fib, T - to vpn-instance, B - black hole route\n")
	b.WriteString(dashes78 + "\n")
	fmt.Fprintf(&b, "%s routing table : %s\n", tableTitle(inst), p.title)
	dests, routes := of.Counts(false)
	counts := fmt.Sprintf("         Destinations : %s Routes : %s", pad(fmt.Sprint(dests), 8), pad(fmt.Sprint(routes), 8))
	if p.kw == "static" {
		counts += fmt.Sprintf(" Configured Routes : %d", o.configuredStatic(inst))
	}
	b.WriteString(strings.TrimRight(counts, " ") + "\n")
	for _, active := range []bool{true, false} {
		part := of.Filter(func(e rib.RouteEntry) bool { return e.Active == active })
		state := "<Active>"
		if !active {
			state = "<Inactive>"
		}
		d, r := part.Counts(false)
		fmt.Fprintf(&b, "\n%s routing table status : %s\n", p.title, state)
		fmt.Fprintf(&b, "         Destinations : %s Routes : %d\n", pad(fmt.Sprint(d), 8), r)
		if len(part.Routes) == 0 {
			continue
		}
		b.WriteString("\n")
		if a.Keyword("verbose") {
			renderVerbose(&b, part.Routes)
			continue
		}
		writeRouteRows(&b, part.Routes, o.d.VRP5)
	}
	return b.String(), nil
}

// configuredStatic counts the static routes configured in an instance.
func (o *ops) configuredStatic(inst string) int {
	run := o.store.Running()
	if inst == fibapi.Public {
		return len(run.Entries(datastore.P("static-routes"), "route"))
	}
	n := 0
	for _, r := range run.Entries(datastore.P("static-routes"), "vpn-route") {
		if r.Path.Last().Keys[0] == inst {
			n++
		}
	}
	return n
}

func (o *ops) runRoutingStatistics(ctx context.Context, a *cli.Args) (string, error) {
	var snaps []rib.Snapshot
	if a.Keyword("all-vpn-instance") {
		for _, v := range o.vpnInstances() {
			s, err := o.snapshotOf(ctx, v.Name)
			if err != nil {
				return "", err
			}
			snaps = append(snaps, s)
		}
	} else {
		s, err := o.snapshot(ctx, a)
		if err != nil {
			return "", err
		}
		snaps = append(snaps, s)
	}
	var b strings.Builder
	prefixes := 0
	total, active := make([]int, len(routeProtocols)), make([]int, len(routeProtocols))
	for _, s := range snaps {
		d, _ := s.Counts(false)
		prefixes += d
		for _, e := range s.Routes {
			for i, rp := range routeProtocols {
				for _, x := range rp.protos {
					if e.Protocol == x {
						total[i]++
						if e.Active {
							active[i]++
						}
					}
				}
			}
		}
	}
	fmt.Fprintf(&b, "Summary Prefixes : %d\n", prefixes)
	b.WriteString("Proto      total      active\n")
	b.WriteString("           routes     routes\n")
	var t, act int
	for i, rp := range routeProtocols {
		fmt.Fprintf(&b, "%s%s%d\n", pad(rp.stat, 11), pad(fmt.Sprint(total[i]), 11), active[i])
		t += total[i]
		act += active[i]
	}
	fmt.Fprintf(&b, "%s%s%d\n", pad("Total", 11), pad(fmt.Sprint(t), 11), act)
	return b.String(), nil
}

func (o *ops) runRoutingAllVPN(ctx context.Context, a *cli.Args) (string, error) {
	var b strings.Builder
	for i, v := range o.vpnInstances() {
		s, err := o.snapshotOf(ctx, v.Name)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(renderRoutingTable(s, tableOptions{Verbose: a.Keyword("verbose"), VRP5: o.d.VRP5}))
	}
	return b.String(), nil
}
