package rib

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldenfile "vpnos/lab/golden"
	"vpnos/services/fibapi"
)

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name+".golden"), got)
}

func ospf(prefix, gw, port string, cost uint32) Route {
	return Route{Prefix: pfx(prefix), Protocol: OSPF, Cost: cost, NextHops: []NextHop{{Gateway: ip(gw), Interface: port}}}
}

// referencePE1 builds PE1 of the reference network (vrp-reference.md §4.5).
func referencePE1(t *testing.T) *env {
	e := newEnv(t)
	e.must(e.r.AddInstance("red"))
	e.must(e.r.SetInterface(port("eth1", "GigabitEthernet0/1/0", "red", true, "192.0.2.1/30")))
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", "", true, "198.51.100.1/30")))
	e.must(e.r.SetInterface(port("lo0", "LoopBack0", "", true, "10.255.0.1/32")))
	e.must(e.r.AddRoute("", ospf("10.255.0.2/32", "198.51.100.2", "eth3", 2)))
	e.must(e.r.AddRoute("", ospf("10.255.0.3/32", "198.51.100.2", "eth3", 3)))
	e.must(e.r.AddRoute("", ospf("198.51.100.4/30", "198.51.100.2", "eth3", 2)))
	e.must(e.r.SetStaticLSPs([]StaticLSP{
		ingress("pe1-pe2", "10.255.0.3/32", "198.51.100.2", 100),
		{Name: "pe2-pe1", Role: Egress, InLabel: 200},
		{Name: "transit", Role: Transit, InLabel: 300, InInterface: "eth3", OutInterface: "eth3", NextHop: ip("198.51.100.2"), OutLabel: 3},
		ingress("down", "10.255.0.9/32", "198.51.100.2", 101),
	}))
	ebgp := Route{Prefix: pfx("172.16.1.0/24"), Protocol: EBGP, NextHops: []NextHop{{Gateway: ip("192.0.2.2")}}}
	e.must(e.r.AddRoute("red", ebgp))
	e.must(e.r.AddRoute("red", vpnRoute("172.16.3.0/24")))
	e.must(e.r.AddRoute("red", vpnRoute("203.0.113.0/30")))
	e.must(e.r.AddRoute("red", static("172.16.11.0/24", "192.0.2.2", 0)))
	e.flush()
	e.clock.now = t0.Add(12*time.Minute + 9*time.Second)
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
	for _, c := range []struct{ inst, want string }{{"", refPublic}, {"red", refRed}} {
		s, err := e.r.Snapshot(c.inst)
		e.must(err)
		if got := RenderRoutingTable(s, TableOptions{}); got != c.want {
			t.Errorf("instance %q:\n--- got ---\n%s\n--- want ---\n%s", c.inst, got, c.want)
		}
	}
	// The VPN routes really carry [LSP label, VPN label].
	if got := e.fib.get("red", "172.16.3.0/24"); got != "fwd eth3>198.51.100.2[100,48130]" {
		t.Errorf("VPN route FIB %q", got)
	}
}

func TestRenderRoutingTableGolden(t *testing.T) {
	e := referencePE1(t)
	// Extra cases: ECMP rows, NULL0, an inactive backup, an unresolved route.
	e.must(e.r.SetInterface(port("eth4", "GigabitEthernet0/4/0", "", true, "198.51.100.9/30")))
	e.must(e.r.AddRoute("", static("172.20.0.0/16", "198.51.100.2", 0)))
	e.must(e.r.AddRoute("", static("172.20.0.0/16", "198.51.100.10", 0)))
	e.must(e.r.AddRoute("", static("172.20.0.0/16", "eth4", 90)))
	e.must(e.r.AddRoute("", static("192.168.0.0/16", "NULL0", 0)))
	e.must(e.r.AddRoute("", static("172.30.0.0/16", "203.0.113.77", 0)))
	e.must(e.r.AddRoute("", static("172.31.0.0/16", "10.255.0.3", 0)))
	e.clock.now = t0
	e.flush()
	e.clock.now = t0.Add(26*time.Hour + 3*time.Minute)
	pub, _ := e.r.Snapshot("")
	red, _ := e.r.Snapshot("red")
	golden(t, "table_public", RenderRoutingTable(pub, TableOptions{}))
	golden(t, "table_public_verbose", RenderRoutingTable(pub, TableOptions{Verbose: true}))
	golden(t, "table_red_verbose", RenderRoutingTable(red, TableOptions{Verbose: true}))
	golden(t, "table_public_vrp5", RenderRoutingTable(pub, TableOptions{VRP5: true}))
	golden(t, "table_red_vrp5", RenderRoutingTable(red, TableOptions{VRP5: true}))
}

func TestRenderVRP5Columns(t *testing.T) {
	// The VRP5 example row of vrp-reference.md §4.5.
	s := Snapshot{Instance: fibapi.Public, Routes: []RouteEntry{{
		Prefix: pfx("0.0.0.0/0"), Protocol: Static, Preference: 60, NextHop: ip("192.0.2.1"),
		Interface: "GigabitEthernet0/0/1", Active: true, Valid: true, Relay: true, Download: true,
	}}}
	out := RenderRoutingTable(s, TableOptions{VRP5: true})
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
	all, err := e.r.StaticLSPs("")
	e.must(err)
	golden(t, "static_lsp", RenderStaticLSPs(all, false))
	golden(t, "static_lsp_verbose", RenderStaticLSPs(all, true))
	one, err := e.r.StaticLSPs("pe1-pe2")
	e.must(err)
	golden(t, "static_lsp_one", RenderStaticLSPs(one, false))
	golden(t, "mpls_lsp", RenderMPLSLSP(StaticLSPSection(all)))
	// The LDP section's layout of vrp-reference.md §4.10, verbatim.
	ldp := LSPSection{Title: "LDP LSP", Rows: []LSPRow{
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
	if got := RenderMPLSLSP(ldp, LSPSection{Title: "STATIC LSP"}); got != want {
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
		if got := FormatAge(d); got != want {
			t.Errorf("FormatAge(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestCompactIfName(t *testing.T) {
	for in, want := range map[string]string{
		"GigabitEthernet0/3/0": "GE0/3/0", "LoopBack0": "Loop0", "InLoopBack0": "InLoop0", "NULL0": "NULL0", "": "",
	} {
		if got := CompactIfName(in); got != want {
			t.Errorf("CompactIfName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSnapshotFilters(t *testing.T) {
	e := referencePE1(t)
	s, _ := e.r.Snapshot("")
	if m := s.Match(ip("10.255.0.3")); len(m.Routes) != 1 || m.Routes[0].Prefix != pfx("10.255.0.3/32") {
		t.Errorf("Match = %+v", m.Routes)
	}
	if m := s.Match(ip("8.8.8.8")); len(m.Routes) != 0 {
		t.Errorf("Match without a route = %+v", m.Routes)
	}
	if m := s.Exact(pfx("198.51.100.1/30")); len(m.Routes) != 1 || m.Routes[0].Protocol != Direct {
		t.Errorf("Exact = %+v", m.Routes)
	}
	if m := s.Protocols(OSPF); len(m.Routes) != 3 {
		t.Errorf("Protocols(OSPF) = %d routes", len(m.Routes))
	}
	if d, r := s.Protocols(OSPF).Counts(true); d != 3 || r != 3 {
		t.Errorf("Counts = %d, %d", d, r)
	}
}
