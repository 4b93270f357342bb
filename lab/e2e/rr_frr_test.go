package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
)

// Route reflection between vpnos and FRR's bgpd, both ways, in one
// hierarchy:
//
//	CE1 -- PE1 (vpnos) -- RR (vpnos, P router) -- PE2 (vpnos) -- CE2
//	       10.255.0.1     10.255.0.2  |            10.255.0.3
//	                          GE0/3/0 | 198.51.100.16/30
//	                                 FRR bgpd 10.255.0.7 (namespace of the test)
//
// PE1 is a client of the vpnos RR; FRR is a client of the vpnos RR too, and
// itself the reflector of PE2. A route of PE1 reaches PE2 through both
// reflectors (Cluster list: FRR's cluster, then the vpnos RR's), PE2's
// reaches PE1 the other way, and the VPN's traffic crosses the vpnos RR
// labelled by LDP. FRR never carries traffic: it is only on the control
// path.

const (
	rrFRRLab = rrPrefix + "-frr"
	rrFRRNS  = "rr-frr-bgpd"
	rrFRRID  = "10.255.0.7"
)

var rrFRRConfigs = map[string]string{
	"PE1": `sysname PE1
ip vpn-instance red
 ipv4-family
  route-distinguisher 10.255.0.1:1
  apply-label per-instance
  vpn-target 65000:100 export-extcommunity
  vpn-target 65000:100 import-extcommunity
mpls lsr-id 10.255.0.1
mpls
mpls ldp
interface GigabitEthernet0/3/0
 undo shutdown
 ip address 198.51.100.1 255.255.255.252
 mpls
 mpls ldp
 ospf network-type p2p
 ospf timer hello 1
 ospf timer dead 4
interface LoopBack0
 ip address 10.255.0.1 255.255.255.255
interface GigabitEthernet0/1/0
 undo shutdown
 ip binding vpn-instance red
 ip address 192.0.2.1 255.255.255.252
bgp 65000
 timer keepalive 3 hold 9
 peer 10.255.0.2 as-number 65000
 peer 10.255.0.2 connect-interface LoopBack0
 ipv4-family vpnv4
  policy vpn-target
  peer 10.255.0.2 enable
 ipv4-family vpn-instance red
  peer 192.0.2.2 as-number 64501
ospf 1 router-id 10.255.0.1
 area 0.0.0.0
  network 198.51.100.0 0.0.0.3
  network 10.255.0.1 0.0.0.0
`,
	"RR": `sysname RR
mpls lsr-id 10.255.0.2
mpls
mpls ldp
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 198.51.100.2 255.255.255.252
 mpls
 mpls ldp
 ospf network-type p2p
 ospf timer hello 1
 ospf timer dead 4
interface GigabitEthernet0/2/0
 undo shutdown
 ip address 198.51.100.5 255.255.255.252
 mpls
 mpls ldp
 ospf network-type p2p
 ospf timer hello 1
 ospf timer dead 4
interface GigabitEthernet0/3/0
 undo shutdown
 ip address 198.51.100.17 255.255.255.252
interface LoopBack0
 ip address 10.255.0.2 255.255.255.255
ip route-static 10.255.0.7 255.255.255.255 198.51.100.18
bgp 65000
 timer keepalive 3 hold 9
 peer 10.255.0.1 as-number 65000
 peer 10.255.0.1 connect-interface LoopBack0
 peer 10.255.0.7 as-number 65000
 peer 10.255.0.7 connect-interface LoopBack0
 ipv4-family vpnv4
  undo policy vpn-target
  peer 10.255.0.1 enable
  peer 10.255.0.1 reflect-client
  peer 10.255.0.7 enable
  peer 10.255.0.7 reflect-client
ospf 1 router-id 10.255.0.2
 import-route static
 area 0.0.0.0
  network 198.51.100.0 0.0.0.3
  network 198.51.100.4 0.0.0.3
  network 10.255.0.2 0.0.0.0
`,
	"PE2": `sysname PE2
ip vpn-instance red
 ipv4-family
  route-distinguisher 10.255.0.3:1
  apply-label per-instance
  vpn-target 65000:100 export-extcommunity
  vpn-target 65000:100 import-extcommunity
mpls lsr-id 10.255.0.3
mpls
mpls ldp
interface GigabitEthernet0/3/0
 undo shutdown
 ip address 198.51.100.6 255.255.255.252
 mpls
 mpls ldp
 ospf network-type p2p
 ospf timer hello 1
 ospf timer dead 4
interface LoopBack0
 ip address 10.255.0.3 255.255.255.255
interface GigabitEthernet0/1/0
 undo shutdown
 ip binding vpn-instance red
 ip address 203.0.113.1 255.255.255.252
interface LoopBack2
 ip binding vpn-instance red
 ip address 172.16.33.1 255.255.255.0
bgp 65000
 timer keepalive 3 hold 9
 peer 10.255.0.7 as-number 65000
 peer 10.255.0.7 connect-interface LoopBack0
 ipv4-family vpnv4
  policy vpn-target
  peer 10.255.0.7 enable
 ipv4-family vpn-instance red
  import-route direct
  peer 203.0.113.2 as-number 64502
ospf 1 router-id 10.255.0.3
 area 0.0.0.0
  network 198.51.100.4 0.0.0.3
  network 10.255.0.3 0.0.0.0
`,
	"CE1": rrCE("CE1", "192.0.2.2", "192.0.2.1", 64501, "172.16.1"),
	"CE2": rrCE("CE2", "203.0.113.2", "203.0.113.1", 64502, "172.16.3"),
}

// rrCE is a CE with its LAN (LoopBack1, NET.1/24) announced over EBGP.
func rrCE(name, addr, pe string, as int, lan string) string {
	return fmt.Sprintf(`sysname %[1]s
interface GigabitEthernet0/1/0
 undo shutdown
 ip address %[2]s 255.255.255.252
interface LoopBack1
 ip address %[5]s.1 255.255.255.0
bgp %[4]d
 timer keepalive 3 hold 9
 peer %[3]s as-number 65000
 ipv4-family unicast
  network %[5]s.0 255.255.255.0
  peer %[3]s enable
`, name, addr, pe, as, lan)
}

// FRR: a client of the vpnos RR (10.255.0.2) and the reflector of PE2
// (10.255.0.3), with a VPN route of its own (label 777, RT 65000:100).
const rrFRRConf = `hostname rr-frr
route-map RT permit 10
 set extcommunity rt 65000:100
!
router bgp 65000
 bgp router-id 10.255.0.7
 no bgp default ipv4-unicast
 timers bgp 3 9
 neighbor 10.255.0.2 remote-as 65000
 neighbor 10.255.0.2 update-source 10.255.0.7
 neighbor 10.255.0.3 remote-as 65000
 neighbor 10.255.0.3 update-source 10.255.0.7
 address-family ipv4 vpn
  neighbor 10.255.0.2 activate
  neighbor 10.255.0.3 activate
  neighbor 10.255.0.3 route-reflector-client
  network 172.16.7.0/24 rd 65000:7 label 777 route-map RT
 exit-address-family
!
`

func rrFRRTopology(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var topo strings.Builder
	fmt.Fprintf(&topo, "name: %s\ntopology:\n  defaults:\n    kind: linux\n  nodes:\n", rrFRRLab)
	for _, n := range []string{"PE1", "RR", "PE2", "CE1", "CE2"} {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n, "startup.cfg"), []byte(rrFRRConfigs[n]), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&topo, "    %s: {binds: [\"%s:/etc/vpnos/\"]}\n", n, filepath.Join(dir, n))
	}
	topo.WriteString("  links:\n    - endpoints: [\"PE1:eth3\", \"RR:eth1\"]\n    - endpoints: [\"RR:eth2\", \"PE2:eth3\"]\n" +
		"    - endpoints: [\"PE1:eth1\", \"CE1:eth1\"]\n    - endpoints: [\"PE2:eth1\", \"CE2:eth1\"]\n")
	return writeTopology(t, "rrfrr.clab.yml", topo.String())
}

// frrVPNPath is one path of `show bgp ipv4 vpn P json`.
type frrVPNPath struct {
	Originator string   `json:"originatorId"`
	Clusters   []string `json:"clusterList"`
	NextHop    string
	From       string
}

// frrVPNPaths reads FRR's paths of a VPNv4 prefix of one RD.
func frrVPNPaths(f *labtest.FRR, rd, prefix string) ([]frrVPNPath, string) {
	out, err := f.Vtysh("show bgp ipv4 vpn " + prefix + " json")
	if err != nil {
		return nil, out
	}
	var v map[string]json.RawMessage
	if json.Unmarshal([]byte(out), &v) != nil {
		return nil, out
	}
	var entry struct {
		Paths []struct {
			OriginatorID string `json:"originatorId"`
			ClusterList  struct {
				List []string `json:"list"`
			} `json:"clusterList"`
			Nexthops []struct {
				IP string `json:"ip"`
			} `json:"nexthops"`
			Peer struct {
				PeerID string `json:"peerId"`
			} `json:"peer"`
		} `json:"paths"`
	}
	raw, ok := v[rd]
	if !ok {
		return nil, out
	}
	if json.Unmarshal(raw, &entry) != nil {
		return nil, out
	}
	var ps []frrVPNPath
	for _, p := range entry.Paths {
		fp := frrVPNPath{Originator: p.OriginatorID, Clusters: p.ClusterList.List, From: p.Peer.PeerID}
		if len(p.Nexthops) > 0 {
			fp.NextHop = p.Nexthops[0].IP
		}
		ps = append(ps, fp)
	}
	return ps, out
}

// TestReflectionInteropFRR: FRR's bgpd as a reflector client of a vpnos RR
// and, at once, the reflector of a vpnos PE.
func TestReflectionInteropFRR(t *testing.T) {
	needRoot(t)
	labtest.CleanStale(t, rrFRRLab)
	l := labtest.Up(t, rrFRRTopology(t), labtest.Options{Binary: bin})
	rrNS := "clab-" + rrFRRLab + "-RR"
	sh := hostBeside(t, rrNS, rrFRRNS, "rrfr1", "198.51.100.18/30", rrFRRID+"/32")
	sh("ip", "-n", rrFRRNS, "route", "add", "10.255.0.0/24", "via", "198.51.100.17")
	f := labtest.StartFRR(t, rrFRRNS, map[string]string{"bgpd": rrFRRConf})

	l.WaitCLI(t, "RR", "display bgp vpnv4 all peer", bgpPeers("Established", "10.255.0.1", rrFRRID), 60*time.Second)
	l.WaitCLI(t, "PE2", "display bgp vpnv4 all peer", bgpPeers("Established", rrFRRID), 30*time.Second)

	// PE1 -> vpnos RR -> FRR -> PE2: FRR sees the vpnos RR's attributes,
	// PE2 both reflectors' clusters.
	pollFRR(t, "FRR learns PE1's route from the vpnos RR", 30*time.Second, func() (bool, string) {
		ps, out := frrVPNPaths(f, "10.255.0.1:1", "172.16.1.0/24")
		return len(ps) == 1 && ps[0].Originator == "10.255.0.1" && strings.Join(ps[0].Clusters, " ") == "10.255.0.2" &&
			ps[0].NextHop == "10.255.0.1", out
	})
	l.WaitCLI(t, "PE2", "display bgp vpnv4 vpn-instance red routing-table 172.16.1.0 24",
		paths(1, "From: 10.255.0.7 (10.255.0.7)", "Originator: 10.255.0.1", "Cluster list: 10.255.0.7, 10.255.0.2", "Original nexthop: 10.255.0.1"), 30*time.Second)
	// PE2 -> FRR -> vpnos RR -> PE1.
	l.WaitCLI(t, "PE1", "display bgp vpnv4 vpn-instance red routing-table 172.16.33.0 24",
		paths(1, "From: 10.255.0.2 (10.255.0.2)", "Originator: 10.255.0.3", "Cluster list: 10.255.0.2, 10.255.0.7", "Original nexthop: 10.255.0.3"), 30*time.Second)
	// FRR's own route, reflected by the vpnos RR: originator FRR.
	l.WaitCLI(t, "PE1", "display bgp vpnv4 route-distinguisher 65000:7 routing-table 172.16.7.0 24",
		paths(1, "From: 10.255.0.2 (10.255.0.2)", "Originator: 10.255.0.7", "Cluster list: 10.255.0.2", "Label information (Received/Applied): 777/NULL"), 30*time.Second)

	// The VPN's traffic between the CEs' LANs.
	pingOK(t, l, "CE1", "ping -c 3 -a 172.16.1.1 172.16.3.1", "172.16.3.1")

	// A withdrawal at PE2 crosses FRR and the vpnos RR.
	configure(t, l, "PE2", "interface LoopBack2", "shutdown")
	gone := time.Now()
	pollFRR(t, "172.16.33.0/24 leaves FRR", 5*time.Second, func() (bool, string) {
		ps, out := frrVPNPaths(f, "10.255.0.3:1", "172.16.33.0/24")
		return len(ps) == 0, out
	})
	for _, n := range []string{"RR", "PE1"} {
		within(t, l, gone, n, "display bgp vpnv4 all routing-table", without("172.16.33.0"), 5*time.Second, "172.16.33.0/24 withdrawn")
	}
	// And one at FRR crosses the vpnos RR.
	if out, err := exec.Command("vtysh", "--vty_socket", f.Dir, "-c", "configure terminal", "-c", "router bgp 65000",
		"-c", "address-family ipv4 vpn", "-c", "no network 172.16.7.0/24 rd 65000:7 label 777").CombinedOutput(); err != nil {
		t.Fatalf("FRR: %v\n%s", err, out)
	}
	gone = time.Now()
	for _, n := range []string{"RR", "PE1", "PE2"} {
		within(t, l, gone, n, "display bgp vpnv4 all routing-table", without("172.16.7.0"), 5*time.Second, "FRR's 172.16.7.0/24 withdrawn")
	}
}
