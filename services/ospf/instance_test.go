package ospf

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/ospf/core"
	"vpnos/services/rib"
)

// memNet is an in-memory network: ports on named segments.
type memNet struct {
	mu    sync.Mutex
	ports map[string][]*memConn // segment -> ports
}

type memSockets struct {
	net  *memNet
	segs map[string]string // interface -> segment
	addr map[string]netip.Addr

	mu    sync.Mutex
	opens int
	stale bool // the next Send fails with ENODEV
}

type memConn struct {
	s       *memSockets
	ifname  string
	seg     string
	deliver func(Packet)
	mu      sync.Mutex
	groups  map[netip.Addr]bool
	closed  bool
}

func (m *memSockets) Open(ifname string, deliver func(Packet)) (Conn, error) {
	m.mu.Lock()
	m.opens++
	m.mu.Unlock()
	c := &memConn{s: m, ifname: ifname, seg: m.segs[ifname], deliver: deliver, groups: map[netip.Addr]bool{}}
	m.net.mu.Lock()
	m.net.ports[c.seg] = append(m.net.ports[c.seg], c)
	m.net.mu.Unlock()
	return c, nil
}

func (c *memConn) Send(dst, src netip.Addr, payload []byte) error {
	c.s.mu.Lock()
	stale := c.s.stale
	c.s.stale = false
	c.s.mu.Unlock()
	if stale {
		return syscall.ENODEV
	}
	c.s.net.mu.Lock()
	peers := slices.Clone(c.s.net.ports[c.seg])
	c.s.net.mu.Unlock()
	for _, p := range peers {
		if p == c {
			continue
		}
		p.mu.Lock()
		ok := !p.closed && (dst.IsMulticast() && p.groups[dst] || p.s.addr[p.ifname] == dst)
		p.mu.Unlock()
		if ok {
			p.deliver(Packet{Iface: p.ifname, Src: src, Dst: dst, Data: slices.Clone(payload)})
		}
	}
	return nil
}

func (c *memConn) Join(g netip.Addr) error {
	c.mu.Lock()
	c.groups[g] = true
	c.mu.Unlock()
	return nil
}

func (c *memConn) Leave(g netip.Addr) error {
	c.mu.Lock()
	delete(c.groups, g)
	c.mu.Unlock()
	return nil
}

func (c *memConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.s.net.mu.Lock()
	c.s.net.ports[c.seg] = slices.DeleteFunc(c.s.net.ports[c.seg], func(x *memConn) bool { return x == c })
	c.s.net.mu.Unlock()
	return nil
}

// memSink records the routes handed over.
type memSink struct {
	mu     sync.Mutex
	routes map[string][]rib.Route
	calls  int
}

func (s *memSink) SyncRoutes(_ context.Context, instance string, routes []rib.Route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.routes == nil {
		s.routes = map[string][]rib.Route{}
	}
	s.routes[instance] = slices.Clone(routes)
	s.calls++
	return nil
}

func (s *memSink) get(instance string) []rib.Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.routes[instance])
}

func (s *memSink) find(instance, prefix string) *rib.Route {
	for _, r := range s.get(instance) {
		if r.Prefix == netip.MustParsePrefix(prefix) {
			return &r
		}
	}
	return nil
}

func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fastSettings(names ...string) []InterfaceSettings {
	var out []InterfaceSettings
	for _, n := range names {
		out = append(out, InterfaceSettings{Name: n, NetworkType: NetworkP2P, HelloInterval: 1, DeadInterval: 3})
	}
	return out
}

// Two processes over an in-memory point-to-point link: the goroutine
// plumbing, the route sink (OSPF and O_ASE routes, direct ones left out),
// the snapshot, a link going down and Reset.
func TestInstancePair(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mn := &memNet{ports: map[string][]*memConn{}}
	sink1, sink2 := &memSink{}, &memSink{}
	mk := func(rid, vpn string, addr string, sink *memSink, imports []Import) (*Instance, *memSockets) {
		socks := &memSockets{net: mn, segs: map[string]string{"eth1": "link"}, addr: map[string]netip.Addr{"eth1": a4(addr)}}
		cfg := Config{
			Process:     7,
			RouterID:    a4(rid),
			VPNInstance: vpn,
			Areas:       []Area{{ID: 0, Networks: []Network{net4("10.0.12.0", "0.0.0.3"), net4(rid, "0.0.0.0")}}},
			Interfaces:  fastSettings("eth1"),
			Imports:     imports,
		}
		in, err := New(cfg, Deps{Sockets: socks, Routes: sink})
		if err != nil {
			t.Fatal(err)
		}
		go in.Run(ctx)
		return in, socks
	}
	in1, socks1 := mk("10.255.0.1", "", "10.0.12.1", sink1, nil)
	in2, _ := mk("10.255.0.2", "red", "10.0.12.2", sink2, []Import{{Protocol: "static", Type: 1, Cost: 10}})
	ifs := func(addr, lo string) []Interface {
		return []Interface{
			{Name: "eth1", VRPName: "GigabitEthernet0/1/0", Up: true, Addresses: []netip.Prefix{p4(addr + "/30")}},
			{Name: "LoopBack0", Up: true, Loopback: true, Addresses: []netip.Prefix{p4(lo + "/32")}},
		}
	}
	if err := in1.SetInterfaces(ctx, ifs("10.0.12.1", "10.255.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := in2.SetInterfaces(ctx, ifs("10.0.12.2", "10.255.0.2")); err != nil {
		t.Fatal(err)
	}
	if err := in2.SetRedistributed(ctx, []RedistRoute{{Prefix: p4("172.16.1.0/24"), Protocol: "static"}, {Prefix: p4("192.0.2.0/24"), Protocol: "bgp"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "routes", func() bool {
		return sink1.find(fibapi.Public, "10.255.0.2/32") != nil && sink1.find(fibapi.Public, "172.16.1.0/24") != nil &&
			sink2.find("red", "10.255.0.1/32") != nil
	})
	r := sink1.find(fibapi.Public, "10.255.0.2/32")
	want := rib.Route{Prefix: p4("10.255.0.2/32"), Protocol: rib.OSPF, Key: "ospf 7", Cost: 1,
		NextHops: []rib.NextHop{{Gateway: a4("10.0.12.2"), Interface: "eth1"}}}
	if !routeEqual(*r, want) {
		t.Errorf("route %+v, want %+v", *r, want)
	}
	ext := sink1.find(fibapi.Public, "172.16.1.0/24")
	if ext.Protocol != rib.OSPFASE || ext.Cost != 11 || ext.Tag != 1 {
		t.Errorf("external %+v", *ext)
	}
	if sink1.find(fibapi.Public, "10.0.12.0/30") != nil || sink1.find(fibapi.Public, "10.255.0.1/32") != nil {
		t.Error("attached networks handed to the RIB")
	}
	if sink1.find(fibapi.Public, "192.0.2.0/24") != nil {
		t.Error("BGP route imported without import-route bgp")
	}
	snap, err := in1.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.RouterID != a4("10.255.0.1") || snap.Process != 7 || snap.DisplayName("eth1") != "GigabitEthernet0/1/0" || len(snap.Areas) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	// The link goes down: the routes go at once.
	if err := in1.UpdateInterface(ctx, Interface{Name: "eth1", Up: false, Addresses: []netip.Prefix{p4("10.0.12.1/30")}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "withdrawn", func() bool { return sink1.find(fibapi.Public, "10.255.0.2/32") == nil })
	if err := in1.UpdateInterface(ctx, Interface{Name: "eth1", Up: true, Addresses: []netip.Prefix{p4("10.0.12.1/30")}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "back", func() bool { return sink1.find(fibapi.Public, "10.255.0.2/32") != nil })
	// The device is re-created under the socket: the next send fails with
	// ENODEV and the socket is opened again.
	socks1.mu.Lock()
	opens := socks1.opens
	socks1.stale = true
	socks1.mu.Unlock()
	eventually(t, 5*time.Second, "socket reopened", func() bool {
		socks1.mu.Lock()
		defer socks1.mu.Unlock()
		return socks1.opens == opens+1 && !socks1.stale
	})
	// Reset: the adjacency restarts and comes back.
	if err := in2.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "back after reset", func() bool {
		s, _ := in1.Snapshot(ctx)
		for _, a := range s.Areas {
			for _, i := range a.Interfaces {
				for _, n := range i.Neighbors {
					if n.State == core.NbrFull && n.FullSince.After(snap.Now) {
						return sink1.find(fibapi.Public, "10.255.0.2/32") != nil
					}
				}
			}
		}
		return false
	})
	// Stopping withdraws everything.
	cancel()
	eventually(t, 5*time.Second, "withdrawn on stop", func() bool { return len(sink1.get(fibapi.Public)) == 0 && len(sink2.get("red")) == 0 })
	if _, err := in1.Snapshot(context.Background()); err != ErrStopped {
		t.Errorf("after stop: %v", err)
	}
}

func routeEqual(a, b rib.Route) bool {
	return a.Prefix == b.Prefix && a.Protocol == b.Protocol && a.Key == b.Key && a.Cost == b.Cost && a.Tag == b.Tag &&
		slices.EqualFunc(a.NextHops, b.NextHops, func(x, y rib.NextHop) bool { return x.Gateway == y.Gateway && x.Interface == y.Interface })
}

// Without a configured router ID the process takes the highest loopback
// address once it has one.
func TestInstanceRouterIDChoice(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in, err := New(Config{Process: 1, Areas: []Area{{ID: 0, Networks: []Network{net4("0.0.0.0", "255.255.255.255")}}}}, Deps{Routes: &memSink{}})
	if err != nil {
		t.Fatal(err)
	}
	go in.Run(ctx)
	s, err := in.Snapshot(ctx)
	if err != nil || s.RouterID.IsValid() {
		t.Fatalf("router ID before any address: %v %v", s.RouterID, err)
	}
	if err := in.SetInterfaces(ctx, []Interface{
		{Name: "eth1", Up: true, Addresses: []netip.Prefix{p4("198.51.100.1/30")}},
		{Name: "LoopBack0", Up: true, Loopback: true, Addresses: []netip.Prefix{p4("10.255.0.3/32")}},
	}); err != nil {
		t.Fatal(err)
	}
	s, _ = in.Snapshot(ctx)
	if s.RouterID != a4("10.255.0.3") || s.Snapshot.RouterID.String() != "10.255.0.3" {
		t.Fatalf("router ID %v", s.RouterID)
	}
	// Config errors are refused before anything changes.
	if err := in.SetConfig(ctx, Config{Process: 2}); err == nil {
		t.Error("process change accepted")
	}
	if _, err := New(Config{Process: 0}, Deps{Routes: &memSink{}}); err == nil {
		t.Error("process 0 accepted")
	}
}
