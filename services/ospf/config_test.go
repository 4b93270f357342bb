package ospf

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"vpnos/services/ospf/core"
	"vpnos/services/ospf/packet"
)

func a4(s string) netip.Addr   { return netip.MustParseAddr(s) }
func p4(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func net4(a, w string) Network { return Network{Address: a4(a), Wildcard: a4(w)} }
func u8(v uint8) *uint8        { return &v }
func areaID(s string) *ID      { id, _ := packet.ParseID(s); return &id }

func TestNetworkMatches(t *testing.T) {
	cases := []struct {
		net  Network
		addr string
		want bool
	}{
		{net4("198.51.100.0", "0.0.0.3"), "198.51.100.1/30", true},
		{net4("198.51.100.0", "0.0.0.3"), "198.51.100.1/31", true},  // longer mask: joins
		{net4("198.51.100.0", "0.0.0.3"), "198.51.100.1/24", false}, // shorter mask: not
		{net4("198.51.100.0", "0.0.0.3"), "198.51.100.5/30", false},
		{net4("10.255.0.1", "0.0.0.0"), "10.255.0.1/32", true},
		{net4("10.255.0.1", "0.0.0.0"), "10.255.0.1/24", false},
		{net4("10.0.0.0", "0.255.255.255"), "10.9.8.7/24", true},
		{net4("0.0.0.0", "255.255.255.255"), "192.0.2.1/24", true},
		{net4("10.0.0.5", "0.0.0.255"), "10.0.0.77/24", true}, // host bits of the address are ignored
	}
	for _, c := range cases {
		if got := c.net.Matches(p4(c.addr)); got != c.want {
			t.Errorf("%v matches %s = %v", c.net, c.addr, got)
		}
	}
}

func TestResolve(t *testing.T) {
	cfg := Config{
		Process:            1,
		BandwidthReference: 10000,
		Areas: []Area{
			{ID: 0, Networks: []Network{net4("198.51.100.0", "0.0.0.3"), net4("10.255.0.1", "0.0.0.0"), net4("10.0.0.0", "0.255.255.255")}},
			{ID: 1, Stub: true, Networks: []Network{net4("10.1.0.0", "0.0.255.255")}},
		},
		SilentInterfaces: []string{"eth4"},
		Interfaces: []InterfaceSettings{
			{Name: "eth2", Cost: 7, NetworkType: NetworkP2P, HelloInterval: 1, DeadInterval: 4, Priority: u8(0), Password: "pw"},
			{Name: "eth5", EnableArea: areaID("0.0.0.9")},
		},
	}
	ifs := []Interface{
		{Name: "eth1", Up: true, Addresses: []netip.Prefix{p4("198.51.100.1/30")}, Bandwidth: 1000},
		{Name: "eth2", Up: false, Addresses: []netip.Prefix{p4("10.1.2.1/24")}, MTU: 9000},
		{Name: "eth3", Up: true, Addresses: []netip.Prefix{p4("192.0.2.1/24")}},                       // no network
		{Name: "eth4", Up: true, Addresses: []netip.Prefix{p4("10.9.0.1/16"), p4("198.51.100.9/30")}}, // primary only
		{Name: "eth5", Up: true, Addresses: []netip.Prefix{p4("203.0.113.1/24")}},                     // ospf enable
		{Name: "eth6", Up: true}, // no address
		{Name: "LoopBack0", Up: true, Loopback: true, Addresses: []netip.Prefix{p4("10.255.0.1/32")}},
	}
	got := cfg.Resolve(ifs)
	pw := [8]byte{'p', 'w'}
	want := []core.IfaceConfig{
		{Name: "LoopBack0", Area: 0, Prefix: p4("10.255.0.1/32"), Up: true, Loopback: true, Cost: 0, Priority: 1, MTU: 1500},
		{Name: "eth1", Area: 0, Prefix: p4("198.51.100.1/30"), Up: true, Cost: 10, Priority: 1, MTU: 1500},
		{Name: "eth2", Area: 1, Prefix: p4("10.1.2.1/24"), Type: core.PointToPoint, Cost: 7, HelloInterval: 1, DeadInterval: 4, Priority: 0, MTU: 9000, AuthType: packet.AuthSimple, AuthKey: pw},
		{Name: "eth4", Area: 0, Prefix: p4("10.9.0.1/16"), Up: true, Passive: true, Cost: 10, Priority: 1, MTU: 1500},
		{Name: "eth5", Area: 9, Prefix: p4("203.0.113.1/24"), Up: true, Cost: 10, Priority: 1, MTU: 1500},
	}
	if !reflect.DeepEqual(got, want) {
		for k := range max(len(got), len(want)) {
			var g, w core.IfaceConfig
			if k < len(got) {
				g = got[k]
			}
			if k < len(want) {
				w = want[k]
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("interface %d:\n got %+v\nwant %+v", k, g, w)
			}
		}
	}
	// The most specific network wins: 10.1.2.1 is in 10.0.0.0/8 (area 0)
	// and 10.1.0.0/16 (area 1).
	if got[2].Area != 1 {
		t.Errorf("eth2 in area %v", got[2].Area)
	}
	// Default reference bandwidth (100 Mbit/s): a GE port costs 1.
	cfg.BandwidthReference = 0
	if c := cfg.Resolve(ifs[:1])[0].Cost; c != 1 {
		t.Errorf("default cost %d", c)
	}
}

func TestValidate(t *testing.T) {
	good := Config{Process: 1, Areas: []Area{{ID: 0}, {ID: 1, Stub: true, NoSummary: true}}, Imports: []Import{{Protocol: "static", Type: 1}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		mod  func(c *Config)
	}{
		{"process 0", func(c *Config) { c.Process = 0 }},
		{"stub backbone", func(c *Config) { c.Areas[0].Stub = true }},
		{"area twice", func(c *Config) { c.Areas = append(c.Areas, Area{ID: 1}) }},
		{"no-summary without stub", func(c *Config) { c.Areas[1].Stub = false }},
		{"network in two areas", func(c *Config) {
			n := net4("10.0.0.0", "0.0.0.255")
			c.Areas[0].Networks = []Network{n}
			c.Areas[1].Networks = []Network{n}
		}},
		{"import ospf", func(c *Config) { c.Imports = []Import{{Protocol: "rip"}} }},
		{"import type 3", func(c *Config) { c.Imports = []Import{{Protocol: "bgp", Type: 3}} }},
		{"router ID 0.0.0.0", func(c *Config) { c.RouterID = a4("0.0.0.0") }},
		{"dead below hello", func(c *Config) {
			c.Interfaces = []InterfaceSettings{{Name: "eth1", HelloInterval: 10, DeadInterval: 10}}
		}},
		{"long password", func(c *Config) { c.Interfaces = []InterfaceSettings{{Name: "eth1", Password: "123456789"}} }},
	}
	for _, b := range bad {
		c := good
		c.Areas = append([]Area(nil), good.Areas...)
		b.mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", b.name, err)
		}
	}
}

func TestDefaultRouterID(t *testing.T) {
	ifs := []Interface{
		{Name: "eth1", Addresses: []netip.Prefix{p4("198.51.100.1/30")}},
		{Name: "LoopBack0", Loopback: true, Addresses: []netip.Prefix{p4("10.255.0.1/32")}},
		{Name: "LoopBack1", Loopback: true, Addresses: []netip.Prefix{p4("10.255.0.9/32")}},
	}
	if got := DefaultRouterID(ifs); got != a4("10.255.0.9") {
		t.Errorf("got %v", got)
	}
	if got := DefaultRouterID(ifs[:1]); got != a4("198.51.100.1") {
		t.Errorf("without loopback: %v", got)
	}
}

func TestExternals(t *testing.T) {
	cfg := Config{Imports: []Import{{Protocol: "static", Type: 1, Cost: 20, Tag: 5}, {Protocol: "direct"}, {Protocol: "bgp", CostSet: true}}}
	got := cfg.externals([]RedistRoute{
		{Prefix: p4("172.16.1.0/24"), Protocol: "static"},
		{Prefix: p4("192.0.2.1/24"), Protocol: "direct"},
		{Prefix: p4("203.0.113.0/24"), Protocol: "bgp"},
		{Prefix: p4("10.0.0.0/8"), Protocol: "ospf"},
	})
	want := []core.External{
		{Prefix: p4("172.16.1.0/24"), Type2: false, Metric: 20, Tag: 5},
		{Prefix: p4("192.0.2.0/24"), Type2: true, Metric: 1, Tag: 1},
		{Prefix: p4("203.0.113.0/24"), Type2: true, Metric: 0, Tag: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
