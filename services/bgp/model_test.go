package bgp

import (
	"errors"
	"net/netip"
	"testing"

	"vpnos/services/bgp/packet"
)

func TestResolveGroups(t *testing.T) {
	c := Config{AS: 65000, RouterID: netip.MustParseAddr("10.255.0.1"),
		Groups: []Group{{Name: "rr", AS: 65000, Options: PeerOptions{ConnectInterface: "LoopBack0", SourceAddr: netip.MustParseAddr("10.255.0.1"),
			Timers: Timers{Keepalive: 10, Hold: 30, Set: true}},
			AF: map[packet.Family]PeerAF{packet.VPNv4: {Enabled: true, ReflectClient: true}}}},
		Peers: []Peer{
			{Addr: netip.MustParseAddr("10.255.0.3"), Group: "rr"},
			{Addr: netip.MustParseAddr("10.255.0.2"), Group: "rr", AS: 65000, NoUnicast: true,
				PeerOptions: PeerOptions{Description: "own", Timers: Timers{Keepalive: 0, Hold: 0, Set: true}},
				AF:          map[packet.Family]PeerAF{packet.VPNv4: {NextHopLocal: true}}},
			{Addr: netip.MustParseAddr("192.0.2.2"), Instance: "red", AS: 64501},
		},
		Instances: []Instance{{Name: "red", RD: mustRD("1:1")}},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ps := c.Resolve()
	if len(ps) != 3 || ps[0].Addr.String() != "10.255.0.2" || ps[2].Instance != "red" {
		t.Fatalf("order %v", ps)
	}
	a, b, ce := ps[0], ps[1], ps[2]
	if b.AS != 65000 || b.SourceAddr.String() != "10.255.0.1" || b.Timers.Hold != 30 || !b.AF[packet.VPNv4].ReflectClient || !b.AF[packet.IPv4Unicast].Enabled {
		t.Errorf("group member %+v", b)
	}
	if a.Timers.Hold != 0 || !a.Timers.Set || !a.AF[packet.VPNv4].NextHopLocal || !a.AF[packet.VPNv4].ReflectClient || a.AF[packet.IPv4Unicast].Enabled {
		t.Errorf("own settings win: %+v", a)
	}
	if !ce.AF[packet.IPv4Unicast].Enabled || ce.AF[packet.VPNv4].Enabled {
		t.Errorf("VPN instance peer families: %+v", ce.AF)
	}
	if got := a.families(); len(got) != 1 || got[0] != packet.VPNv4 {
		t.Errorf("families %v", got)
	}
}

func TestValidate(t *testing.T) {
	base := func() Config {
		return Config{AS: 65000, RouterID: netip.MustParseAddr("10.255.0.1"),
			Peers:     []Peer{{Addr: netip.MustParseAddr("10.0.0.1"), AS: 1}},
			Instances: []Instance{{Name: "red"}}}
	}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no router ID", func(c *Config) { c.RouterID = netip.Addr{} }},
		{"a peer twice", func(c *Config) { c.Peers = append(c.Peers, c.Peers[0]) }},
		{"an IPv6 peer", func(c *Config) { c.Peers[0].Addr = netip.MustParseAddr("2001:db8::1") }},
		{"a peer in an unknown instance", func(c *Config) { c.Peers[0].Instance = "blue" }},
		{"a peer in an unknown group", func(c *Config) { c.Peers[0].Group = "g" }},
		{"an instance named like the public one", func(c *Config) { c.Instances[0].Name = PublicInstance }},
	}
	if err := (func() *Config { c := base(); return &c })().Validate(); err != nil {
		t.Fatalf("base: %v", err)
	}
	for _, tc := range tests {
		c := base()
		tc.mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// The same address in two instances is two peers.
	c := base()
	c.Peers = append(c.Peers, Peer{Addr: netip.MustParseAddr("10.0.0.1"), Instance: "red", AS: 2})
	if err := c.Validate(); err != nil {
		t.Errorf("one address in two instances: %v", err)
	}
}
