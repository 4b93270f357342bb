package ops

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldenfile "vpnos/lab/golden"
	"vpnos/services/fibapi"
	"vpnos/services/rib"
)

func ribGolden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", "rib", name+".golden"), got)
}

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

// ribEnv is a RIB with a settable clock.
type ribEnv struct {
	t   *testing.T
	r   *rib.RIB
	now time.Time
}

func (e *ribEnv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func port(kernel, name, inst string, up bool, addrs ...string) rib.Port {
	p := rib.Port{Name: name, Kernel: kernel, Instance: inst, Up: up, Loopback: strings.HasPrefix(name, "LoopBack")}
	if p.Loopback {
		p.Kernel = ""
	}
	for _, a := range addrs {
		p.Addresses = append(p.Addresses, pfx(a))
	}
	return p
}

func ospfRoute(prefix, gw, port string, cost uint32) rib.Route {
	return rib.Route{Prefix: pfx(prefix), Protocol: rib.OSPF, Cost: cost, NextHops: []rib.NextHop{{Gateway: ip(gw), Interface: port}}}
}

func staticRoute(prefix, gw string) rib.Route {
	return rib.Route{Prefix: pfx(prefix), Protocol: rib.Static, NextHops: []rib.NextHop{{Gateway: ip(gw)}}}
}

func vpnRoute(prefix string) rib.Route {
	return rib.Route{Prefix: pfx(prefix), Protocol: rib.IBGP, NextHops: []rib.NextHop{{
		Gateway: ip("10.255.0.3"), Instance: fibapi.Public, Labels: []uint32{48130}, Tunnel: true,
	}}}
}

func staticIngress(name, fec, nh string, out uint32) rib.LSP {
	return rib.LSP{Name: name, Role: rib.Ingress, Instance: fibapi.Public, FEC: pfx(fec), Explicit: true,
		Out: []rib.LSPOut{{Gateway: ip(nh), Label: out}}}
}

const (
	ge1 = "GigabitEthernet0/1/0"
	ge3 = "GigabitEthernet0/3/0"
	ge4 = "GigabitEthernet0/4/0"
)

// referencePE1 builds PE1 of the reference network (vrp-reference.md §4.5).
func referencePE1(t *testing.T) *ribEnv {
	e := &ribEnv{t: t, now: t0}
	e.r = rib.New(rib.Options{Now: func() time.Time { return e.now }})
	e.must(e.r.AddInstance("red"))
	e.must(e.r.SetInterface(port("eth1", ge1, "red", true, "192.0.2.1/30")))
	e.must(e.r.SetInterface(port("eth3", ge3, fibapi.Public, true, "198.51.100.1/30")))
	e.must(e.r.SetInterface(port("", "LoopBack0", fibapi.Public, true, "10.255.0.1/32")))
	e.must(e.r.AddRoute(fibapi.Public, ospfRoute("10.255.0.2/32", "198.51.100.2", ge3, 2)))
	e.must(e.r.AddRoute(fibapi.Public, ospfRoute("10.255.0.3/32", "198.51.100.2", ge3, 3)))
	e.must(e.r.AddRoute(fibapi.Public, ospfRoute("198.51.100.4/30", "198.51.100.2", ge3, 2)))
	e.must(e.r.SetLSPs(rib.OwnerStatic, []rib.LSP{
		staticIngress("pe1-pe2", "10.255.0.3/32", "198.51.100.2", 100),
		{Name: "pe2-pe1", Role: rib.Egress, Instance: fibapi.Public, InLabel: 200, Explicit: true},
		{Name: "transit", Role: rib.Transit, Instance: fibapi.Public, InLabel: 300, InInterface: ge3, Explicit: true,
			Out: []rib.LSPOut{{Interface: ge3, Gateway: ip("198.51.100.2"), Label: 3}}},
		staticIngress("down", "10.255.0.9/32", "198.51.100.2", 101),
	}))
	ebgp := rib.Route{Prefix: pfx("172.16.1.0/24"), Protocol: rib.EBGP, NextHops: []rib.NextHop{{Gateway: ip("192.0.2.2")}}}
	e.must(e.r.AddRoute("red", ebgp))
	e.must(e.r.AddRoute("red", vpnRoute("172.16.3.0/24")))
	e.must(e.r.AddRoute("red", vpnRoute("203.0.113.0/30")))
	e.must(e.r.AddRoute("red", staticRoute("172.16.11.0/24", "192.0.2.2")))
	e.r.Compute()
	e.r.Commit()
	e.now = t0.Add(12*time.Minute + 9*time.Second)
	return e
}

// The tables of vrp-reference.md §4.5, verbatim.
const refPublic = `Route Flags: R - relay, D - download to fib, T - to vpn-instance, B - black hole route
------------------------------------------------------------------------------
Routing Table: _public_
         Destinations : 11       Routes : 11

Destination/Mask    Proto  Pre  Cost     Flags NextHop         Interface

   10.255.0.1/32    Direct 0    0        D     127.0.0.1       LoopBack0
   10.255.0.2/32    OSPF   10   2        D     198.51.100.2    GigabitEthernet0/3/0
   10.255.0.3/32    OSPF   10   3        D     198.51.100.2    GigabitEthernet0/3/0
     127.0.0.0/8    Direct 0    0        D     127.0.0.1       InLoopBack0
    127.0.0.1/32    Direct 0    0        D     127.0.0.1       InLoopBack0
127.255.255.255/32  Direct 0    0        D     127.0.0.1       InLoopBack0
 198.51.100.0/30    Direct 0    0        D     198.51.100.1    GigabitEthernet0/3/0
 198.51.100.1/32    Direct 0    0        D     127.0.0.1       GigabitEthernet0/3/0
 198.51.100.3/32    Direct 0    0        D     127.0.0.1       GigabitEthernet0/3/0
 198.51.100.4/30    OSPF   10   2        D     198.51.100.2    GigabitEthernet0/3/0
255.255.255.255/32  Direct 0    0        D     127.0.0.1       InLoopBack0
`

const refRed = `Route Flags: R - relay, D - download to fib, T - to vpn-instance, B - black hole route
------------------------------------------------------------------------------
Routing Table: red
         Destinations : 8        Routes : 8

Destination/Mask    Proto  Pre  Cost     Flags NextHop         Interface

   172.16.1.0/24    EBGP   255  0        RD    192.0.2.2       GigabitEthernet0/1/0
   172.16.3.0/24    IBGP   255  0        RD    10.255.0.3      GigabitEthernet0/3/0
  172.16.11.0/24    Static 60   0        RD    192.0.2.2       GigabitEthernet0/1/0
    192.0.2.0/30    Direct 0    0        D     192.0.2.1       GigabitEthernet0/1/0
    192.0.2.1/32    Direct 0    0        D     127.0.0.1       GigabitEthernet0/1/0
    192.0.2.3/32    Direct 0    0        D     127.0.0.1       GigabitEthernet0/1/0
  203.0.113.0/30    IBGP   255  0        RD    10.255.0.3      GigabitEthernet0/3/0
255.255.255.255/32  Direct 0    0        D     127.0.0.1       InLoopBack0
`

func TestRenderRoutingTableMatchesReference(t *testing.T) {
	e := referencePE1(t)
	for _, c := range []struct{ inst, want string }{{fibapi.Public, refPublic}, {"red", refRed}} {
		s, err := e.r.Snapshot(c.inst)
		e.must(err)
		if got := renderRoutingTable(s, tableOptions{}); got != c.want {
			t.Errorf("instance %q:\n--- got ---\n%s\n--- want ---\n%s", c.inst, got, c.want)
		}
	}
	// The VPN routes really carry [LSP label, VPN label].
	if res, ok := e.r.Lookup("red", ip("172.16.3.1")); !ok || len(res.NextHops) != 1 || fmt.Sprint(res.NextHops[0].Labels) != "[100 48130]" {
		t.Errorf("VPN route FIB %+v", res)
	}
}

func TestRenderRoutingTableGolden(t *testing.T) {
	e := referencePE1(t)
	// Extra cases: ECMP rows, NULL0, an inactive backup, an unresolved route.
	e.must(e.r.SetInterface(port("eth4", ge4, fibapi.Public, true, "198.51.100.9/30")))
	e.must(e.r.AddRoute(fibapi.Public, staticRoute("172.20.0.0/16", "198.51.100.2")))
	e.must(e.r.AddRoute(fibapi.Public, staticRoute("172.20.0.0/16", "198.51.100.10")))
	e.must(e.r.AddRoute(fibapi.Public, rib.Route{Prefix: pfx("172.20.0.0/16"), Protocol: rib.Static, Preference: 90,
		NextHops: []rib.NextHop{{Interface: ge4}}}))
	e.must(e.r.AddRoute(fibapi.Public, rib.Route{Prefix: pfx("192.168.0.0/16"), Protocol: rib.Static,
		NextHops: []rib.NextHop{{Interface: rib.Null0}}}))
	e.must(e.r.AddRoute(fibapi.Public, staticRoute("172.30.0.0/16", "203.0.113.77")))
	e.must(e.r.AddRoute(fibapi.Public, staticRoute("172.31.0.0/16", "10.255.0.3")))
	e.now = t0
	e.r.Compute()
	e.r.Commit()
	e.now = t0.Add(26*time.Hour + 3*time.Minute)
	pub, _ := e.r.Snapshot(fibapi.Public)
	red, _ := e.r.Snapshot("red")
	ribGolden(t, "table_public", renderRoutingTable(pub, tableOptions{}))
	ribGolden(t, "table_public_verbose", renderRoutingTable(pub, tableOptions{Verbose: true}))
	ribGolden(t, "table_red_verbose", renderRoutingTable(red, tableOptions{Verbose: true}))
	ribGolden(t, "table_public_vrp5", renderRoutingTable(pub, tableOptions{VRP5: true}))
	ribGolden(t, "table_red_vrp5", renderRoutingTable(red, tableOptions{VRP5: true}))
}

func TestRenderVRP5Columns(t *testing.T) {
	// The VRP5 example row of vrp-reference.md §4.5.
	s := rib.Snapshot{Instance: fibapi.Public, Routes: []rib.RouteEntry{{
		Prefix: pfx("0.0.0.0/0"), Protocol: rib.Static, Preference: 60, NextHop: ip("192.0.2.1"),
		Interface: "GigabitEthernet0/0/1", Active: true, Valid: true, Relay: true, Download: true,
	}}}
	out := renderRoutingTable(s, tableOptions{VRP5: true})
	want := "        0.0.0.0/0   Static  60   0          RD   192.0.2.1       GigabitEthernet0/0/1\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("VRP5 row:\n%s\nwant suffix\n%s", out, want)
	}
	if !strings.Contains(out, "Routing Tables: Public\n") {
		t.Errorf("VRP5 title missing:\n%s", out)
	}
}

func TestRenderStaticLSPs(t *testing.T) {
	e := referencePE1(t)
	all := staticLSPs(e.r.LSPs(rib.OwnerStatic))
	ribGolden(t, "static_lsp", renderStaticLSPs(all, false))
	ribGolden(t, "static_lsp_verbose", renderStaticLSPs(all, true))
	var one []staticLSP
	for _, l := range all {
		if l.Name == "pe1-pe2" {
			one = append(one, l)
		}
	}
	ribGolden(t, "static_lsp_one", renderStaticLSPs(one, false))
	ribGolden(t, "mpls_lsp", renderMPLSLSP(lspSections(e.r.LSPs(""))...))
	// The LDP section's layout of vrp-reference.md §4.10, verbatim.
	ldp := lspSection{Title: "LDP LSP", Rows: []lspRow{
		{FEC: "10.255.0.1/32", InLabel: "3", OutLabel: "NULL", InIf: "-", OutIf: "-"},
		{FEC: "10.255.0.2/32", InLabel: "NULL", OutLabel: "3", InIf: "-", OutIf: "GE0/3/0"},
	}}
	want := `Flag after Out IF: (I) - RLFA Iterated LSP, (I*) - Normal and RLFA Iterated LSP
Flag after LDP FRR: (L) - Logic FRR LSP
-------------------------------------------------------------------------------
                 LSP Information: LDP LSP
-------------------------------------------------------------------------------
FEC                In/Out Label    In/Out IF                      Vrf Name
10.255.0.1/32      3/NULL          -/-
10.255.0.2/32      NULL/3          -/GE0/3/0
`
	if got := renderMPLSLSP(ldp, lspSection{Title: "STATIC LSP"}); got != want {
		t.Errorf("LDP section:\n%s\nwant\n%s", got, want)
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                              "00h00m00s",
		12*time.Minute + 9*time.Second: "00h12m09s",
		23*time.Hour + 59*time.Minute:  "23h59m00s",
		26*time.Hour + 3*time.Minute:   "1d02h03m",
		-time.Second:                   "00h00m00s",
	} {
		if got := formatAge(d); got != want {
			t.Errorf("formatAge(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestCompactIfName(t *testing.T) {
	for in, want := range map[string]string{
		"GigabitEthernet0/3/0": "GE0/3/0", "LoopBack0": "Loop0", "InLoopBack0": "InLoop0", "NULL0": "NULL0", "": "",
	} {
		if got := compactIfName(in); got != want {
			t.Errorf("compactIfName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSnapshotFilters(t *testing.T) {
	e := referencePE1(t)
	s, _ := e.r.Snapshot(fibapi.Public)
	if m := s.Match(ip("10.255.0.3")); len(m.Routes) != 1 || m.Routes[0].Prefix != pfx("10.255.0.3/32") {
		t.Errorf("Match = %+v", m.Routes)
	}
	if m := s.Match(ip("8.8.8.8")); len(m.Routes) != 0 {
		t.Errorf("Match without a route = %+v", m.Routes)
	}
	if m := s.Exact(pfx("198.51.100.1/30")); len(m.Routes) != 1 || m.Routes[0].Protocol != rib.Direct {
		t.Errorf("Exact = %+v", m.Routes)
	}
	if m := s.Protocols(rib.OSPF); len(m.Routes) != 3 {
		t.Errorf("Protocols(OSPF) = %d routes", len(m.Routes))
	}
	if d, r := s.Protocols(rib.OSPF).Counts(true); d != 3 || r != 3 {
		t.Errorf("Counts = %d, %d", d, r)
	}
}
