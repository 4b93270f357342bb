package ospf

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"vpnos/services/rib"
)

// frrConf is an ospfd configuration with fast timers on the given
// interfaces.
func frrConf(rid string, ifaces map[string]string, router string) string {
	s := "hostname frr\nlog timestamp precision 3\ndebug ospf packet all\ndebug ospf nsm\n"
	for name, extra := range ifaces {
		s += "interface " + name + "\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n" + extra + "!\n"
	}
	return s + "router ospf\n ospf router-id " + rid + "\n" + router
}

// Our process and FRR's ospfd on a point-to-point link with simple
// password authentication: Full, loopbacks and externals both ways, in the
// RIB of each.
func TestLabFRRPointToPoint(t *testing.T) {
	l := newLab(t, "p2p")
	n1 := l.node("r1", "10.255.1.1")
	n2 := l.node("r2", "10.255.1.2")
	l.link(n1, "eth1", "10.1.12.1/30", n2, "eth1", "10.1.12.2/30")
	// An extra connected network for FRR to redistribute.
	l.run("ip", "-n", n2, "addr", "add", "172.16.2.1/24", "dev", "lo")
	f := l.startFRR(n2, frrConf("10.255.1.2", map[string]string{"eth1": " ip ospf network point-to-point\n ip ospf cost 10\n ip ospf authentication\n ip ospf authentication-key vpnos1\n"},
		" network 10.1.12.0/30 area 0\n network 10.255.1.2/32 area 0\n redistribute connected\n"))
	settings := fast(NetworkP2P, 10, nil, "eth1")
	settings[0].Password = "vpnos1"
	o := l.startOurs(n1, Config{
		Process:    1,
		RouterID:   netip.MustParseAddr("10.255.1.1"),
		Areas:      []Area{{ID: 0, Networks: []Network{net4("10.1.12.0", "0.0.0.3"), net4("10.255.1.1", "0.0.0.0")}}},
		Imports:    []Import{{Protocol: "static", Type: 2, Cost: 30}},
		Interfaces: settings,
	}, []Interface{port("eth1", "10.1.12.1/30"), loopback("10.255.1.1")})
	if err := o.in.SetRedistributed(l.ctx, []RedistRoute{{Prefix: p4("172.16.1.0/24"), Protocol: "static"}}); err != nil {
		t.Fatal(err)
	}
	l.wait(20*time.Second, "adjacency Full on both sides", func() bool {
		return o.nbrState("10.255.1.2") == "Full" && f.neighbors()["10.255.1.1"] == "Full/-"
	})
	l.wait(15*time.Second, "routes both ways", func() bool {
		return o.routeVia("10.255.1.2/32", "10.1.12.2") && o.route("172.16.2.0/24") != nil &&
			f.hasRoute("10.255.1.1/32", "N", "10.1.12.1") && f.hasRoute("172.16.1.0/24", "N E2", "10.1.12.1")
	})
	if r := o.route("10.255.1.2/32"); r.Protocol != rib.OSPF || r.Cost != 10 || r.NextHops[0].Interface != "eth1" {
		t.Errorf("our route to FRR's loopback: %+v", *r)
	}
	if r := o.route("172.16.2.0/24"); r.Protocol != rib.OSPFASE || !o.routeVia("172.16.2.0/24", "10.1.12.2") {
		t.Errorf("our route to FRR's external: %+v", *r)
	}
	if r := f.routes()["10.255.1.1/32"]; r.Cost != 10 {
		t.Errorf("FRR's route to our loopback: %+v", r)
	}
	// zebra installed our routes in FRR's kernel.
	if out := l.run("ip", "-n", n2, "route", "show", "10.255.1.1"); !contains(out, "via 10.1.12.1") || !contains(out, "proto ospf") {
		t.Errorf("FRR's kernel: %s", out)
	}
	// Our external withdrawn: FRR drops it (the MaxAge flush reaches it).
	if err := o.in.SetRedistributed(l.ctx, nil); err != nil {
		t.Fatal(err)
	}
	l.wait(15*time.Second, "external withdrawn at FRR", func() bool {
		_, ok := f.routes()["172.16.1.0/24"]
		return !ok
	})
}

// Three routers on one Ethernet segment, two of ours and FRR's: the DR is
// our priority-100 router, the BDR FRR (priority 50), our priority-1
// router a DROther with both adjacencies Full; everyone agrees and every
// loopback is reachable.
func TestLabFRRBroadcastDR(t *testing.T) {
	l := newLab(t, "lan")
	sw := l.node("sw", "")
	l.bridge(sw)
	n1 := l.node("r1", "10.255.2.1")
	n2 := l.node("r2", "10.255.2.2")
	n3 := l.node("r3", "10.255.2.3")
	l.bridgePort(sw, n1, "eth1", "10.2.0.1/24")
	l.bridgePort(sw, n2, "eth1", "10.2.0.2/24")
	l.bridgePort(sw, n3, "eth1", "10.2.0.3/24")
	mk := func(ns, rid string, prio uint8) *ours {
		return l.startOurs(ns, Config{
			Process:    1,
			RouterID:   netip.MustParseAddr(rid),
			Areas:      []Area{{ID: 0, Networks: []Network{net4("10.2.0.0", "0.0.0.255"), net4(rid, "0.0.0.0")}}},
			Interfaces: fast(NetworkBroadcast, 1, &prio, "eth1"),
		}, []Interface{port("eth1", "10.2.0."+rid[len(rid)-1:]+"/24"), loopback(rid)})
	}
	r1 := mk(n1, "10.255.2.1", 1)
	r2 := mk(n2, "10.255.2.2", 100)
	f := l.startFRR(n3, frrConf("10.255.2.3", map[string]string{"eth1": " ip ospf priority 50\n ip ospf cost 1\n"},
		" network 10.2.0.0/24 area 0\n network 10.255.2.3/32 area 0\n"))
	l.wait(30*time.Second, "adjacencies", func() bool {
		n := f.neighbors()
		return n["10.255.2.2"] == "Full/DR" && n["10.255.2.1"] == "Full/DROther" &&
			r1.nbrState("10.255.2.2") == "Full" && r1.nbrState("10.255.2.3") == "Full" &&
			r2.nbrState("10.255.2.1") == "Full" && r2.nbrState("10.255.2.3") == "Full"
	})
	for _, c := range []struct {
		o     *ours
		state string
	}{{r1, "DROther"}, {r2, "DR"}} {
		st, dr, bdr := c.o.ifState("eth1")
		if st != c.state || dr != "10.2.0.2" || bdr != "10.2.0.3" {
			t.Errorf("%s: %s DR %s BDR %s", c.o.ns, st, dr, bdr)
		}
	}
	if out := f.vtysh("show ip ospf interface eth1"); !contains(out, "State Backup") || !contains(out, "Designated Router (ID) 10.255.2.2") {
		t.Errorf("FRR's interface:\n%s", out)
	}
	l.wait(15*time.Second, "routes", func() bool {
		return r1.routeVia("10.255.2.3/32", "10.2.0.3") && r1.routeVia("10.255.2.2/32", "10.2.0.2") &&
			r2.routeVia("10.255.2.1/32", "10.2.0.1") && f.hasRoute("10.255.2.1/32", "N", "10.2.0.1") && f.hasRoute("10.255.2.2/32", "N", "10.2.0.2")
	})
	// The network LSA is ours (the DR's), and FRR has it.
	if db := f.vtysh("show ip ospf database network"); !contains(db, "Advertising Router: 10.255.2.2") || !contains(db, "Attached Router: 10.255.2.1") {
		t.Errorf("FRR's network LSAs:\n%s", db)
	}
}

// A triangle of two of ours and FRR: when the link between ours goes down,
// their routes to each other move to the path through FRR at once.
func TestLabTriangleReroute(t *testing.T) {
	l := newLab(t, "tri")
	n1 := l.node("r1", "10.255.3.1")
	n2 := l.node("r2", "10.255.3.2")
	n3 := l.node("r3", "10.255.3.3")
	l.link(n1, "eth1", "10.3.12.1/30", n2, "eth1", "10.3.12.2/30")
	l.link(n1, "eth2", "10.3.13.1/30", n3, "eth1", "10.3.13.2/30")
	l.link(n2, "eth2", "10.3.23.1/30", n3, "eth2", "10.3.23.2/30")
	mk := func(ns, rid string, ifs ...Interface) *ours {
		cfg := Config{
			Process:    1,
			RouterID:   netip.MustParseAddr(rid),
			Areas:      []Area{{ID: 0, Networks: []Network{net4("10.3.0.0", "0.0.255.255"), net4(rid, "0.0.0.0")}}},
			Interfaces: fast(NetworkP2P, 10, nil, "eth1", "eth2"),
		}
		return l.startOurs(ns, cfg, append(ifs, loopback(rid)))
	}
	r1 := mk(n1, "10.255.3.1", port("eth1", "10.3.12.1/30"), port("eth2", "10.3.13.1/30"))
	r2 := mk(n2, "10.255.3.2", port("eth1", "10.3.12.2/30"), port("eth2", "10.3.23.1/30"))
	p2p := " ip ospf network point-to-point\n ip ospf cost 10\n"
	f := l.startFRR(n3, frrConf("10.255.3.3", map[string]string{"eth1": p2p, "eth2": p2p},
		" network 10.3.0.0/16 area 0\n network 10.255.3.3/32 area 0\n"))
	l.wait(30*time.Second, "converged", func() bool {
		// The path through FRR is known in both directions: every
		// router's LSA lists its two neighbours.
		return r1.routeVia("10.255.3.2/32", "10.3.12.2") && r2.routeVia("10.255.3.1/32", "10.3.12.1") &&
			r1.routeVia("10.255.3.3/32", "10.3.13.2") && f.hasRoute("10.255.3.1/32", "N", "10.3.13.1") &&
			r1.p2pLinks("10.255.3.2") == 2 && r1.p2pLinks("10.255.3.3") == 2 && r2.p2pLinks("10.255.3.1") == 2 && r2.p2pLinks("10.255.3.3") == 2
	})
	// Pull the cable: both ends lose the carrier, as the interface
	// watcher reports.
	l.setLink(n1, "eth1", false)
	down := port("eth1", "10.3.12.1/30")
	down.Up = false
	if err := r1.in.UpdateInterface(l.ctx, down); err != nil {
		t.Fatal(err)
	}
	// The route moved as the call returned (the sink runs beside it).
	l.wait(time.Second, "r1 rerouted", func() bool { return r1.routeVia("10.255.3.2/32", "10.3.13.2") })
	if r := r1.route("10.255.3.2/32"); r.Cost != 20 {
		t.Errorf("rerouted cost %d", r.Cost)
	}
	down2 := port("eth1", "10.3.12.2/30")
	down2.Up = false
	if err := r2.in.UpdateInterface(l.ctx, down2); err != nil {
		t.Fatal(err)
	}
	l.wait(time.Second, "r2 rerouted", func() bool { return r2.routeVia("10.255.3.1/32", "10.3.23.2") })
	// FRR learns of it by flooding and still reaches both.
	l.wait(10*time.Second, "FRR converged", func() bool {
		_, stale := f.routes()["10.3.12.0/30"]
		return !stale && f.hasRoute("10.255.3.1/32", "N", "10.3.13.1") && f.hasRoute("10.255.3.2/32", "N", "10.3.23.1")
	})
	// The link comes back.
	l.setLink(n1, "eth1", true)
	for _, c := range []struct {
		o *ours
		p Interface
	}{{r1, port("eth1", "10.3.12.1/30")}, {r2, port("eth1", "10.3.12.2/30")}} {
		if err := c.o.in.UpdateInterface(l.ctx, c.p); err != nil {
			t.Fatal(err)
		}
	}
	l.wait(20*time.Second, "direct path back", func() bool { return r1.routeVia("10.255.3.2/32", "10.3.12.2") })
}

// Our process as the ABR between FRR in the backbone and FRR in a stub
// area: inter-area routes both ways, the default route into the stub area
// and no externals there.
func TestLabABR(t *testing.T) {
	l := newLab(t, "abr")
	n1 := l.node("r1", "10.255.4.1")
	n2 := l.node("r2", "10.255.4.2")
	n3 := l.node("r3", "10.255.4.3")
	l.link(n1, "eth1", "10.4.12.1/30", n2, "eth1", "10.4.12.2/30")
	l.link(n2, "eth2", "10.4.23.1/30", n3, "eth1", "10.4.23.2/30")
	l.run("ip", "-n", n3, "addr", "add", "172.16.3.1/24", "dev", "lo")
	p2p := " ip ospf network point-to-point\n ip ospf cost 10\n"
	f1 := l.startFRR(n1, frrConf("10.255.4.1", map[string]string{"eth1": p2p},
		" network 10.4.12.0/30 area 1\n network 10.255.4.1/32 area 1\n area 1 stub\n"))
	f3 := l.startFRR(n3, frrConf("10.255.4.3", map[string]string{"eth1": p2p},
		" network 10.4.23.0/30 area 0\n network 10.255.4.3/32 area 0\n redistribute connected\n"))
	abr := l.startOurs(n2, Config{
		Process:  1,
		RouterID: netip.MustParseAddr("10.255.4.2"),
		Areas: []Area{
			{ID: 0, Networks: []Network{net4("10.4.23.0", "0.0.0.3"), net4("10.255.4.2", "0.0.0.0")}},
			{ID: 1, Stub: true, DefaultCost: 5, Networks: []Network{net4("10.4.12.0", "0.0.0.3")}},
		},
		Interfaces: fast(NetworkP2P, 10, nil, "eth1", "eth2"),
	}, []Interface{port("eth1", "10.4.12.2/30"), port("eth2", "10.4.23.1/30"), loopback("10.255.4.2")})
	l.wait(30*time.Second, "adjacencies", func() bool {
		return f1.neighbors()["10.255.4.2"] == "Full/-" && f3.neighbors()["10.255.4.2"] == "Full/-"
	})
	l.wait(20*time.Second, "inter-area routes", func() bool {
		return f3.hasRoute("10.255.4.1/32", "N IA", "10.4.23.1") && f3.hasRoute("10.4.12.0/30", "N IA", "10.4.23.1") &&
			f1.hasRoute("10.255.4.3/32", "N IA", "10.4.12.2") && f1.hasRoute("10.255.4.2/32", "N IA", "10.4.12.2") &&
			f1.hasRoute("0.0.0.0/0", "N IA", "10.4.12.2") &&
			abr.routeVia("10.255.4.1/32", "10.4.12.1") && abr.routeVia("172.16.3.0/24", "10.4.23.2")
	})
	if r := f1.routes()["0.0.0.0/0"]; r.Cost != 15 {
		t.Errorf("FRR's default route in the stub area: %+v", r)
	}
	if r := f3.routes()["10.255.4.1/32"]; r.Cost != 20 {
		t.Errorf("FRR's inter-area route: %+v", r)
	}
	if _, ok := f1.routes()["172.16.3.0/24"]; ok {
		t.Error("an external route entered the stub area")
	}
	if db := f1.vtysh("show ip ospf database external"); contains(db, "172.16.3.0") {
		t.Errorf("AS-external LSA in the stub area:\n%s", db)
	}
	s, err := abr.in.Snapshot(context.Background())
	if err != nil || !s.ABR {
		t.Errorf("ABR flag %v %v", s.ABR, err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
