package bgp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"vpnos/services/bgp/packet"
	"vpnos/services/nsutil"
)

const frrPE = `hostname frr-pe
log file %s/bgpd.log
route-map RT permit 10
 set extcommunity rt 65000:100
!
router bgp 65000
 bgp router-id 10.0.12.2
 no bgp default ipv4-unicast
 no bgp ebgp-requires-policy
 neighbor 10.0.12.1 remote-as 65000
 address-family ipv4 vpn
  neighbor 10.0.12.1 activate
  network 172.16.3.0/24 rd 65000:3 label 1234 route-map RT
 exit-address-family
!
`

const frrCE = `hostname %s
router bgp %d
 bgp router-id 10.1.1.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.1.1.2 remote-as 65000
 address-family ipv4 unicast
  network %s
 exit-address-family
!
`

const gobgpPE = `[global.config]
  as = 65000
  router-id = "10.0.13.2"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.13.1"
    peer-as = 65000
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
`

// A vpnos PE with an FRR PE and a GoBGP PE over IBGP VPNv4, and an FRR CE
// in each of two VPN instances, both CEs at 10.1.1.1.
func TestInteropPE(t *testing.T) {
	needRoot(t, "ip", "/usr/lib/frr/bgpd", "vtysh", "gobgpd", "gobgp")
	l := newNetLab(t, "vb-pe", "vb-red", "vb-blue", "vb-frr", "vb-gob", "vb-ce1", "vb-ce2")
	l.veth("vb-pe", "vbpe1", "10.0.12.1/30", "vb-frr", "vbfrr", "10.0.12.2/30")
	l.veth("vb-pe", "vbpe2", "10.0.13.1/30", "vb-gob", "vbgob", "10.0.13.2/30")
	l.veth("vb-red", "vbred", "10.1.1.2/30", "vb-ce1", "vbce1", "10.1.1.1/30")
	l.veth("vb-blue", "vbblue", "10.1.1.2/30", "vb-ce2", "vbce2", "10.1.1.1/30")
	pe := l.bgpd("vb-frr", fmt.Sprintf(frrPE, l.dir))
	ce1 := l.bgpd("vb-ce1", fmt.Sprintf(frrCE, "ce1", 64501, "172.16.1.0/24"))
	ce2 := l.bgpd("vb-ce2", fmt.Sprintf(frrCE, "ce2", 64502, "172.16.2.0/24"))
	gob := l.gobgpd("vb-gob", gobgpPE, 50151)

	rib := newFakeRIB()
	svc := l.runService("pe", map[string]string{PublicInstance: "vb-pe", "red": "vb-red", "blue": "vb-blue"}, rib)
	cfg := Config{AS: 65000, RouterID: netip.MustParseAddr("10.0.12.1"), ConnectRetry: 2 * time.Second, VPNv4: &VPNv4AF{},
		Peers: []Peer{
			{Addr: netip.MustParseAddr("10.0.12.2"), AS: 65000, NoUnicast: true, AF: map[packet.Family]PeerAF{packet.VPNv4: {Enabled: true}}},
			{Addr: netip.MustParseAddr("10.0.13.2"), AS: 65000, NoUnicast: true, AF: map[packet.Family]PeerAF{packet.VPNv4: {Enabled: true}}},
			{Addr: netip.MustParseAddr("10.1.1.1"), Instance: "red", AS: 64501},
			{Addr: netip.MustParseAddr("10.1.1.1"), Instance: "blue", AS: 64502},
		},
		Instances: []Instance{
			vpnInstance("red", "65000:1", []string{"65000:100"}, []string{"65000:100"}, nil),
			vpnInstance("blue", "65000:2", []string{"65000:200"}, []string{"65000:200"}, nil),
		},
	}
	ctx := context.Background()
	if err := svc.SetConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, svc, key("", "10.0.12.2"), key("", "10.0.13.2"), key("red", "10.1.1.1"), key("blue", "10.1.1.1"))

	redLabel, _ := svc.InstanceLabel(ctx, "red")
	blueLabel, _ := svc.InstanceLabel(ctx, "blue")
	poll(t, "labels allocated", 10*time.Second, func() (string, bool) {
		redLabel, _ = svc.InstanceLabel(ctx, "red")
		blueLabel, _ = svc.InstanceLabel(ctx, "blue")
		return fmt.Sprint(redLabel, blueLabel), redLabel != 0 && blueLabel != 0 && redLabel != blueLabel
	})

	// The CEs' routes reach FRR and GoBGP as VPNv4 with RD, target,
	// label and our address as next hop.
	poll(t, "FRR has the CE routes", 20*time.Second, func() (string, bool) {
		out, _ := pe.vtysh("show bgp ipv4 vpn")
		ok := strings.Contains(out, "Route Distinguisher: 65000:1") && strings.Contains(out, "Route Distinguisher: 65000:2") &&
			strings.Contains(out, fmt.Sprintf("EC{65000:100} label=%d", redLabel)) &&
			strings.Contains(out, fmt.Sprintf("EC{65000:200} label=%d", blueLabel)) &&
			strings.Contains(out, "UN=10.0.12.1")
		return out, ok
	})
	poll(t, "GoBGP has the CE routes", 20*time.Second, func() (string, bool) {
		out, _ := gob.cli("global", "rib", "-a", "vpnv4")
		ok := strings.Contains(out, "65000:1:172.16.1.0/24") && strings.Contains(out, fmt.Sprintf("[%d]", redLabel)) &&
			strings.Contains(out, "65000:2:172.16.2.0/24") && strings.Contains(out, "10.0.13.1") && strings.Contains(out, "65000:200")
		return out, ok
	})

	// FRR's VPN route goes into red only, with its label, and on to
	// red's CE.
	poll(t, "FRR's route in red", 20*time.Second, func() (string, bool) {
		r, ok := rib.route("red", "172.16.3.0/24")
		return rib.dump(), ok && len(r.NextHops) == 1 && r.NextHops[0].Label == 1234 && r.NextHops[0].Tunnel &&
			r.NextHops[0].Gateway == netip.MustParseAddr("10.0.12.2") && r.NextHops[0].Instance == PublicInstance
	})
	poll(t, "red's CE learns it", 20*time.Second, func() (string, bool) {
		out, _ := ce1.vtysh("show ip bgp")
		return out, strings.Contains(out, "172.16.3.0/24") && strings.Contains(out, "65000 i")
	})
	if _, ok := rib.route("blue", "172.16.3.0/24"); ok {
		t.Error("red's route leaked into blue")
	}

	// GoBGP injects a blue route, then withdraws it.
	if out, err := gob.cli("global", "rib", "-a", "vpnv4", "add", "172.16.4.0/24", "label", "2000", "rd", "65000:4",
		"rt", "65000:200", "nexthop", "10.0.13.2"); err != nil {
		t.Fatalf("gobgp add: %v: %s", err, out)
	}
	poll(t, "GoBGP's route in blue", 20*time.Second, func() (string, bool) {
		r, ok := rib.route("blue", "172.16.4.0/24")
		return rib.dump(), ok && r.NextHops[0].Label == 2000 && r.NextHops[0].Gateway == netip.MustParseAddr("10.0.13.2")
	})
	poll(t, "blue's CE learns it", 20*time.Second, func() (string, bool) {
		out, _ := ce2.vtysh("show ip bgp")
		return out, strings.Contains(out, "172.16.4.0/24")
	})
	if out, _ := ce1.vtysh("show ip bgp"); strings.Contains(out, "172.16.4.0/24") || strings.Contains(out, "172.16.2.0/24") {
		t.Errorf("blue's routes reached red's CE:\n%s", out)
	}
	if out, err := gob.cli("global", "rib", "-a", "vpnv4", "del", "172.16.4.0/24", "label", "2000", "rd", "65000:4",
		"rt", "65000:200", "nexthop", "10.0.13.2"); err != nil {
		t.Fatalf("gobgp del: %v: %s", err, out)
	}
	poll(t, "the withdrawal reaches blue and its CE", 20*time.Second, func() (string, bool) {
		_, inRIB := rib.route("blue", "172.16.4.0/24")
		out, _ := ce2.vtysh("show ip bgp")
		return out + rib.dump(), !inRIB && !strings.Contains(out, "172.16.4.0/24")
	})

	// Red's CE withdraws its network: FRR and GoBGP lose it.
	if out, err := ce1.vtysh("configure terminal\nrouter bgp 64501\naddress-family ipv4 unicast\nno network 172.16.1.0/24"); err != nil {
		t.Fatalf("vtysh: %v: %s", err, out)
	}
	poll(t, "the CE withdrawal reaches the PEs", 20*time.Second, func() (string, bool) {
		out, _ := pe.vtysh("show bgp ipv4 vpn")
		gout, _ := gob.cli("global", "rib", "-a", "vpnv4")
		return out + gout, !strings.Contains(out, "172.16.1.0/24") && !strings.Contains(gout, "172.16.1.0/24") &&
			strings.Contains(gout, "172.16.2.0/24")
	})
}

// rawPeer is a BGP speaker written by the test: it sends exactly the bytes
// it is told to over a real TCP connection.
type rawPeer struct {
	t    *testing.T
	conn interface {
		Write([]byte) (int, error)
		Close() error
	}
	msgs chan []byte
}

func (l *netLab) rawPeer(t *testing.T, ns string, local, remote string) (*rawPeer, error) {
	c, err := dial(context.Background(), l.path(ns), Dial{Remote: netip.MustParseAddr(remote), Source: netip.MustParseAddr(local), TTL: 1}, Port)
	if err != nil {
		return nil, err
	}
	rp := &rawPeer{t: t, conn: c, msgs: make(chan []byte, 100)}
	go func() {
		defer close(rp.msgs)
		for {
			hdr := make([]byte, packet.HeaderLen)
			if _, err := io.ReadFull(c, hdr); err != nil {
				t.Logf("raw peer read: %v", err)
				return
			}
			n, _, err := packet.ParseHeader(hdr)
			if err != nil {
				t.Logf("raw peer header: %v", err)
				return
			}
			body := make([]byte, n-packet.HeaderLen)
			if _, err := io.ReadFull(c, body); err != nil {
				return
			}
			rp.msgs <- append(hdr, body...)
		}
	}()
	t.Cleanup(func() { c.Close() })
	return rp, nil
}

func (r *rawPeer) send(b []byte) {
	r.t.Helper()
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatalf("raw peer write: %v", err)
	}
}

// next returns the next message other than a KEEPALIVE or End-of-RIB (nil
// at EOF).
func (r *rawPeer) next(within time.Duration, skipKeepalive bool) packet.Message {
	r.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case b, ok := <-r.msgs:
			if !ok {
				return nil
			}
			m, err := packet.Decode(b, packet.Options{AS4: true, EBGP: true})
			if err != nil {
				r.t.Fatalf("undecodable message from the speaker: %v", err)
			}
			if _, ka := m.(*packet.Keepalive); ka && skipKeepalive {
				continue
			}
			if u, ok := m.(*packet.Update); ok {
				if _, eor := u.IsEndOfRIB(); eor {
					continue
				}
			}
			return m
		case <-deadline:
			r.t.Fatalf("no message within %s", within)
		}
	}
}

// RFC 7606 over a real session: treat-as-withdraw and attribute-discard
// keep the session, an unrecognised well-known attribute resets it with
// the right NOTIFICATION.
func TestInteropMalformedUpdates(t *testing.T) {
	needRoot(t, "ip")
	l := newNetLab(t, "vb-pe", "vb-raw")
	l.veth("vb-pe", "vbpe", "10.0.14.1/30", "vb-raw", "vbraw", "10.0.14.2/30")
	rib := newFakeRIB()
	svc := l.runService("pe", map[string]string{PublicInstance: "vb-pe"}, rib)
	rawKey := key("", "10.0.14.2")
	cfg := Config{AS: 65000, RouterID: netip.MustParseAddr("10.0.14.1"), Peers: []Peer{
		{Addr: netip.MustParseAddr("10.0.14.2"), AS: 64514, PeerOptions: PeerOptions{Passive: true}}}}
	if err := svc.SetConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	var rp *rawPeer
	poll(t, "listener up", 10*time.Second, func() (string, bool) {
		var err error
		rp, err = l.rawPeer(t, "vb-raw", "10.0.14.2", "10.0.14.1")
		return fmt.Sprint(err), err == nil
	})
	rp.send(packet.EncodeOpen(peerOpen(64514, "10.0.14.2", 90, packet.IPv4Unicast)))
	if o, ok := rp.next(5*time.Second, true).(*packet.Open); !ok || o.AS() != 65000 {
		t.Fatalf("want the speaker's OPEN, got %v", o)
	}
	rp.send(packet.EncodeKeepalive())
	waitEstablished(t, svc, rawKey)

	good := packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64514)}
	rp.send(ipv4Update(t, good, "10.0.14.2", "10.80.0.0/16"))
	poll(t, "route learned", 10*time.Second, func() (string, bool) {
		_, ok := rib.route(PublicInstance, "10.80.0.0/16")
		return rib.dump(), ok
	})
	// ORIGIN 5: treat-as-withdraw.
	bad := ipv4Update(t, good, "10.0.14.2", "10.80.0.0/16")
	bad[strings.Index(fmt.Sprintf("%x", bad), "40010100")/2+3] = 5
	rp.send(bad)
	poll(t, "route withdrawn by treat-as-withdraw", 10*time.Second, func() (string, bool) {
		_, ok := rib.route(PublicInstance, "10.80.0.0/16")
		return rib.dump(), !ok
	})
	// ATOMIC_AGGREGATE with a value: attribute-discard, the route stands.
	disc := good
	disc.AtomicAggregate = true
	b := ipv4Update(t, disc, "10.0.14.2", "10.81.0.0/16")
	i := strings.Index(fmt.Sprintf("%x", b), "400600") / 2
	b = append(b[:i+3], append([]byte{0xaa}, b[i+3:]...)...)
	b[i+2] = 1
	b[16], b[17] = byte(len(b)>>8), byte(len(b))
	alen := int(b[21])<<8 | int(b[22])
	alen++
	b[21], b[22] = byte(alen>>8), byte(alen)
	rp.send(b)
	poll(t, "route kept with the attribute discarded", 10*time.Second, func() (string, bool) {
		_, ok := rib.route(PublicInstance, "10.81.0.0/16")
		return rib.dump(), ok
	})
	if _, m := peersState(svc); m[rawKey].State != Established {
		t.Fatalf("session left Established: %+v", m[rawKey])
	}
	// An unrecognised well-known attribute: NOTIFICATION 3/2 carrying it,
	// then the connection closes and the routes go.
	unk := good
	unk.Unknown = []packet.RawAttr{{Flags: packet.FlagOptional | packet.FlagTransitive, Type: 99, Value: []byte{1, 2}}}
	b = ipv4Update(t, unk, "10.0.14.2", "10.82.0.0/16")
	i = strings.Index(fmt.Sprintf("%x", b), "e0630201") / 2
	b[i] = packet.FlagTransitive
	rp.send(b)
	n, ok := rp.next(5*time.Second, true).(*packet.Notification)
	if !ok || n.Code != 3 || n.Subcode != 2 || fmt.Sprintf("%x", n.Data) != "40630201"+"02" {
		t.Fatalf("got %v, want NOTIFICATION 3/2 with the attribute", n)
	}
	if m := rp.next(5*time.Second, true); m != nil {
		t.Fatalf("message after the NOTIFICATION: %v", m)
	}
	poll(t, "routes withdrawn after the reset", 10*time.Second, func() (string, bool) {
		_, ok := rib.route(PublicInstance, "10.81.0.0/16")
		return rib.dump(), !ok
	})
}

const gobgpRRClient = `[global.config]
  as = 65000
  router-id = "10.0.0.1"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.0.11"
    peer-as = 65000
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.0.12"
    peer-as = 65000
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
`

const frrRRClient = `hostname pe-b
router bgp 65000
 bgp router-id 10.0.0.2
 no bgp default ipv4-unicast
 neighbor 10.0.0.11 remote-as 65000
 neighbor 10.0.0.12 remote-as 65000
 address-family ipv4 vpn
  neighbor 10.0.0.11 activate
  neighbor 10.0.0.12 activate
 exit-address-family
!
`

// Two vpnos route reflectors in one cluster, each a client of the other;
// GoBGP and FRR as PEs, clients of both. A route GoBGP withdraws leaves
// both reflectors and FRR: the reflectors drop each other's copies on
// receipt (own cluster ID in CLUSTER_LIST), so none keeps it alive.
func TestInteropRedundantReflectors(t *testing.T) {
	needRoot(t, "ip", "/usr/lib/frr/bgpd", "vtysh", "gobgpd", "gobgp")
	l := newNetLab(t, "vb-br", "vb-rr1", "vb-rr2", "vb-pea", "vb-peb")
	l.bridge("vb-br", map[string]string{"vb-rr1": "10.0.0.11/24", "vb-rr2": "10.0.0.12/24", "vb-pea": "10.0.0.1/24", "vb-peb": "10.0.0.2/24"})
	gob := l.gobgpd("vb-pea", gobgpRRClient, 50152)
	frrB := l.bgpd("vb-peb", frrRRClient)
	rr := func(name, ns, id, other string) *Service {
		svc := l.runService(name, map[string]string{PublicInstance: ns}, newFakeRIB())
		c := Config{AS: 65000, RouterID: netip.MustParseAddr(id), ConnectRetry: 2 * time.Second,
			VPNv4: &VPNv4AF{NoPolicyVPNTarget: true, ClusterID: 1}}
		for _, a := range []string{"10.0.0.1", "10.0.0.2", other} {
			c.Peers = append(c.Peers, Peer{Addr: netip.MustParseAddr(a), AS: 65000, NoUnicast: true,
				AF: map[packet.Family]PeerAF{packet.VPNv4: {Enabled: true, ReflectClient: true}}})
		}
		if err := svc.SetConfig(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		return svc
	}
	rr1 := rr("rr1", "vb-rr1", "10.0.0.11", "10.0.0.12")
	rr2 := rr("rr2", "vb-rr2", "10.0.0.12", "10.0.0.11")
	waitEstablished(t, rr1, key("", "10.0.0.1"), key("", "10.0.0.2"), key("", "10.0.0.12"))
	waitEstablished(t, rr2, key("", "10.0.0.1"), key("", "10.0.0.2"), key("", "10.0.0.11"))

	vpnPaths := func(svc *Service) (string, []string) {
		rs, err := svc.VPNRoutes(context.Background(), netip.Prefix{})
		if err != nil {
			return err.Error(), nil
		}
		var froms []string
		for _, r := range rs {
			for _, p := range r.Paths {
				froms = append(froms, fmt.Sprintf("%s:%s from %s label %d", r.RD, r.Prefix, p.From.Addr, p.Label))
			}
		}
		return strings.Join(froms, "\n"), froms
	}
	if out, err := gob.cli("global", "rib", "-a", "vpnv4", "add", "172.16.7.0/24", "label", "777", "rd", "65000:7",
		"rt", "65000:100", "nexthop", "10.0.0.1"); err != nil {
		t.Fatalf("gobgp add: %v: %s", err, out)
	}
	poll(t, "FRR learns the route from both reflectors", 20*time.Second, func() (string, bool) {
		out, _ := frrB.vtysh("show bgp ipv4 vpn 172.16.7.0/24")
		return out, strings.Contains(out, "10.0.0.11") && strings.Contains(out, "10.0.0.12") && strings.Contains(out, "Originator: 10.0.0.1") &&
			strings.Contains(out, "Cluster list: 0.0.0.1")
	})
	for _, svc := range []*Service{rr1, rr2} {
		s, froms := vpnPaths(svc)
		if len(froms) != 1 || froms[0] != "65000:7:172.16.7.0/24 from 10.0.0.1 label 777" {
			t.Errorf("a reflector keeps:\n%s\nwant only GoBGP's path", s)
		}
	}
	if out, err := gob.cli("global", "rib", "-a", "vpnv4", "del", "172.16.7.0/24", "label", "777", "rd", "65000:7",
		"rt", "65000:100", "nexthop", "10.0.0.1"); err != nil {
		t.Fatalf("gobgp del: %v: %s", err, out)
	}
	poll(t, "the route leaves both reflectors and FRR", 20*time.Second, func() (string, bool) {
		out, _ := frrB.vtysh("show bgp ipv4 vpn")
		s1, f1 := vpnPaths(rr1)
		s2, f2 := vpnPaths(rr2)
		return out + "\nrr1:\n" + s1 + "\nrr2:\n" + s2, len(f1) == 0 && len(f2) == 0 && !strings.Contains(out, "172.16.7.0/24")
	})
}

func (l *netLab) route(ns, dst, gw string) {
	l.tb.Helper()
	l.do(ns, func() error {
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			return err
		}
		return netlink.RouteAdd(&netlink.Route{Dst: n, Gw: net.ParseIP(gw)})
	})
}

// An EBGP peer two hops away: unreachable at first (the session fails
// inside its namespace and retries), Established once a route appears and
// with ebgp-max-hop 2, never with the single-hop TTL of 1.
func TestInteropReachabilityAndTTL(t *testing.T) {
	needRoot(t, "ip", "/usr/lib/frr/bgpd", "vtysh")
	l := newNetLab(t, "vb-pe", "vb-mid", "vb-ce")
	l.veth("vb-pe", "vbpe", "10.0.16.1/30", "vb-mid", "vbm1", "10.0.16.2/30")
	l.veth("vb-mid", "vbm2", "10.0.17.1/30", "vb-ce", "vbce", "10.0.17.2/30")
	l.do("vb-mid", func() error { return nsutil.WriteSysctl("net/ipv4/ip_forward", "1") })
	l.route("vb-ce", "10.0.16.0/30", "10.0.17.1")
	l.bgpd("vb-ce", `hostname ce
router bgp 64517
 bgp router-id 10.0.17.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.16.1 remote-as 65000
 neighbor 10.0.16.1 ebgp-multihop 2
 address-family ipv4 unicast
  network 172.17.0.0/16
 exit-address-family
!
`)
	rib := newFakeRIB()
	svc := l.runService("pe", map[string]string{PublicInstance: "vb-pe"}, rib)
	ce := key("", "10.0.17.2")
	cfg := func(hops uint8) Config {
		return Config{AS: 65000, RouterID: netip.MustParseAddr("10.0.16.1"), ConnectRetry: time.Second,
			Peers: []Peer{{Addr: netip.MustParseAddr("10.0.17.2"), AS: 64517, PeerOptions: PeerOptions{EBGPMaxHop: hops}}}}
	}
	ctx := context.Background()
	if err := svc.SetConfig(ctx, cfg(2)); err != nil {
		t.Fatal(err)
	}
	poll(t, "the connection fails inside the namespace", 10*time.Second, func() (string, bool) {
		s, m := peersState(svc)
		return s, m[ce].State == Active && strings.Contains(m[ce].LastError, "unreachable")
	})
	l.route("vb-pe", "10.0.17.0/30", "10.0.16.2")
	waitEstablished(t, svc, ce)
	poll(t, "the CE's route", 10*time.Second, func() (string, bool) {
		_, ok := rib.route(PublicInstance, "172.17.0.0/16")
		return rib.dump(), ok
	})
	// TTL 1: our packets die at the middle router.
	if err := svc.SetConfig(ctx, cfg(0)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s, m := peersState(svc); m[ce].State == Established {
			t.Fatalf("single-hop EBGP session established two hops away:\n%s", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, ok := rib.route(PublicInstance, "172.17.0.0/16"); ok {
		t.Error("the CE's route outlived its session")
	}
}
