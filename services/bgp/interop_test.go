package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"vpnos/services/bgp/packet"
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
