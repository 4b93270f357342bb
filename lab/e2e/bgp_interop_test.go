package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
)

// The daemon-level BGP interop lab: a vpnos PE with two VPN instances and
// a vpnos CE (a lab of two nodes), and namespaces of the test around the
// PE: FRR's bgpd as the other PE (IBGP VPNv4), FRR (bgpd and zebra) as
// red's CE over EBGP, gobgpd as a third PE injecting VPNv4 routes.
const (
	bgpxLab   = "b2-bgpx"
	bgpxFRRPE = "b2x-frrpe"
	bgpxFRRCE = "b2x-frrce"
	bgpxGoBGP = "b2x-gob"
)

const bgpxTopology = `name: ` + bgpxLab + `
topology:
  nodes:
    PE: {kind: linux, binds: ["PE:/etc/vpnos/"]}
    CE: {kind: linux, binds: ["CE:/etc/vpnos/"]}
  links:
    - endpoints: ["PE:eth3", "CE:eth1"]
`

// The PE: GE0/1/0 towards FRR's PE, GE0/2/0 to FRR's CE (red), GE0/3/0 to
// the vpnos CE (blue, the same address as red's CE), GE0/4/0 to GoBGP.
// The other PEs peer from their loopbacks (10.255.0.2 FRR, 10.255.0.4
// GoBGP), reached by static routes; static LSPs to the loopbacks carry
// the VPN routes they announce.
const bgpxPE = `sysname PE
#
ip vpn-instance red
 ipv4-family
  route-distinguisher 65000:1
  vpn-target 65000:100 export-extcommunity
  vpn-target 65000:100 import-extcommunity
#
ip vpn-instance blue
 ipv4-family
  route-distinguisher 65000:2
  vpn-target 65000:200 export-extcommunity
  vpn-target 65000:200 import-extcommunity
#
mpls lsr-id 10.0.1.1
#
mpls
#
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 10.0.1.1 255.255.255.252
 mpls
#
interface GigabitEthernet0/2/0
 undo shutdown
 ip binding vpn-instance red
 ip address 192.0.2.1 255.255.255.252
#
interface GigabitEthernet0/3/0
 undo shutdown
 ip binding vpn-instance blue
 ip address 192.0.2.1 255.255.255.252
#
interface GigabitEthernet0/4/0
 undo shutdown
 ip address 10.0.2.1 255.255.255.252
 mpls
#
bgp 65000
 router-id 10.0.1.1
 peer 10.255.0.2 as-number 65000
 peer 10.255.0.4 as-number 65000
 #
 ipv4-family vpnv4
  policy vpn-target
  peer 10.255.0.2 enable
  peer 10.255.0.4 enable
 #
 ipv4-family vpn-instance red
  peer 192.0.2.2 as-number 64501
 #
 ipv4-family vpn-instance blue
  peer 192.0.2.2 as-number 64502
#
ip route-static 10.255.0.2 255.255.255.255 10.0.1.2
ip route-static 10.255.0.4 255.255.255.255 10.0.2.2
#
static-lsp ingress to-frr destination 10.255.0.2 255.255.255.255 nexthop 10.0.1.2 out-label 20
static-lsp ingress to-gobgp destination 10.255.0.4 255.255.255.255 nexthop 10.0.2.2 out-label 21
#
return
`

const bgpxCE = `sysname CE
#
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 192.0.2.2 255.255.255.252
#
interface LoopBack1
 ip address 172.16.1.1 255.255.255.0
#
bgp 64502
 peer 192.0.2.1 as-number 65000
 #
 ipv4-family unicast
  undo synchronization
  network 172.16.1.0 255.255.255.0
  peer 192.0.2.1 enable
#
return
`

const bgpxFRRPEConf = `hostname frr-pe
route-map RT permit 10
 set extcommunity rt 65000:100
!
router bgp 65000
 bgp router-id 10.255.0.2
 no bgp default ipv4-unicast
 no bgp ebgp-requires-policy
 neighbor 10.0.1.1 remote-as 65000
 neighbor 10.0.1.1 update-source 10.255.0.2
 address-family ipv4 vpn
  neighbor 10.0.1.1 activate
  network 172.16.3.0/24 rd 65000:3 label 1234 route-map RT
 exit-address-family
!
`

const bgpxFRRCEConf = `hostname frr-ce
router bgp 64501
 bgp router-id 192.0.2.2
 no bgp ebgp-requires-policy
 neighbor 192.0.2.1 remote-as 65000
 address-family ipv4 unicast
  network 172.16.1.0/24
 exit-address-family
!
`

const bgpxGoBGPConf = `[global.config]
  as = 65000
  router-id = "10.255.0.4"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.2.1"
    peer-as = 65000
  [neighbors.transport.config]
    local-address = "10.255.0.4"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
`

func bgpxClean() {
	for _, ns := range []string{bgpxFRRPE, bgpxFRRCE, bgpxGoBGP} {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, pid := range strings.Fields(string(out)) {
			exec.Command("kill", "-9", pid).Run()
		}
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

// TestBGPDaemonInterop runs vpnos's BGP in a running node (the daemon:
// RIB, labels, forwarder, displays) against real peers: FRR's bgpd as an
// IBGP VPNv4 peer (its route, with its RD, target and label, is imported
// into red, used over the static LSP with both labels on the wire, and
// reaches FRR's CE; the FRR CE's route reaches FRR's PE with vpnos's RD,
// target, label and next hop), FRR as a CE over EBGP in red, at the same
// address as a vpnos CE in blue, and gobgpd injecting a VPNv4 route into
// blue and withdrawing it. (The speaker alone, without the daemon, meets
// the same peers in services/bgp TestInteropPE.)
func TestBGPDaemonInterop(t *testing.T) {
	needRoot(t)
	for _, b := range []string{"vtysh", "gobgpd", "gobgp"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is not installed: %v", b, err)
		}
	}
	labtest.CleanStale(t, bgpxLab)
	bgpxClean()
	t.Cleanup(bgpxClean)
	dir := t.TempDir()
	for node, cfg := range map[string]string{"PE": bgpxPE, "CE": bgpxCE} {
		if err := os.MkdirAll(filepath.Join(dir, node), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, node, "startup.cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "bgpx.clab.yml")
	if err := os.WriteFile(file, []byte(bgpxTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, file, labtest.Options{Binary: bin})
	st, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.Node("PE")
	if err != nil {
		t.Fatal(err)
	}
	peNS := n.Runtime
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, c := range []struct{ ns, peIf, ifc, addr string }{
		{bgpxFRRPE, "eth1", "b2xpe", "10.0.1.2/30"},
		{bgpxFRRCE, "eth2", "b2xce", "192.0.2.2/30"},
		{bgpxGoBGP, "eth4", "b2xgob", "10.0.2.2/30"},
	} {
		ip("netns", "add", c.ns)
		ip("link", "add", c.ifc, "netns", c.ns, "type", "veth", "peer", "name", c.peIf, "netns", peNS)
		ip("-n", peNS, "link", "set", c.peIf, "up")
		ip("-n", c.ns, "addr", "add", c.addr, "dev", c.ifc)
		ip("-n", c.ns, "link", "set", c.ifc, "up")
		ip("-n", c.ns, "link", "set", "lo", "up")
	}
	ip("-n", bgpxFRRCE, "addr", "add", "172.16.1.1/24", "dev", "lo")
	ip("-n", bgpxFRRPE, "addr", "add", "10.255.0.2/32", "dev", "lo")
	ip("-n", bgpxGoBGP, "addr", "add", "10.255.0.4/32", "dev", "lo")
	frrPE := labtest.StartFRR(t, bgpxFRRPE, map[string]string{"bgpd": bgpxFRRPEConf})
	frrCE := labtest.StartFRR(t, bgpxFRRCE, map[string]string{"bgpd": bgpxFRRCEConf})
	gobDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(gobDir, "gobgpd.toml"), []byte(bgpxGoBGPConf), 0o644); err != nil {
		t.Fatal(err)
	}
	gobLog, err := os.Create(filepath.Join(gobDir, "gobgpd.log"))
	if err != nil {
		t.Fatal(err)
	}
	gobd := exec.Command("ip", "netns", "exec", bgpxGoBGP, "gobgpd", "-f", filepath.Join(gobDir, "gobgpd.toml"),
		"--api-hosts", "127.0.0.1:50171", "--log-level", "info")
	gobd.Stdout, gobd.Stderr = gobLog, gobLog
	if err := gobd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gobd.Process.Kill()
		gobd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(gobLog.Name())
			t.Logf("gobgpd log:\n%s", b)
		}
	})
	gobgp := func(args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", bgpxGoBGP, "gobgp", "-u", "127.0.0.1", "-p", "50171"}, args...)...).CombinedOutput()
		return string(out), err
	}
	poll := func(what string, within time.Duration, check func() (string, bool)) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			state, ok := check()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s; last state:\n%s", what, within, state)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	t.Run("sessions", func(t *testing.T) {
		l.WaitCLI(t, "PE", "display bgp vpnv4 all peer", labtest.All(peerRow("10.255.0.2", 65000), peerRow("10.255.0.4", 65000)), 60*time.Second)
		l.WaitCLI(t, "PE", "display bgp vpnv4 vpn-instance red peer", peerRow("192.0.2.2", 64501), 30*time.Second)
		l.WaitCLI(t, "PE", "display bgp vpnv4 vpn-instance blue peer", peerRow("192.0.2.2", 64502), 30*time.Second)
	})

	redLabel := vpnLabel(t, l, "PE", "red")
	blueLabel := vpnLabel(t, l, "PE", "blue")

	t.Run("frr-pe-to-vpnos", func(t *testing.T) {
		defer func() {
			if t.Failed() {
				for _, c := range []string{"display bgp vpnv4 all routing-table label", "display ip routing-table",
					"display mpls lsp", "display tunnel-info all", "display bgp vpnv4 all peer"} {
					out, _ := l.CLI("PE", c)
					t.Logf("PE: %s\n%s", c, out)
				}
			}
		}()
		// FRR's route (RD 65000:3, target 65000:100, label 1234) is in red
		// only, through FRR over the static LSP, and FRR's CE learns it.
		l.WaitCLI(t, "PE", "display ip routing-table vpn-instance red", hasRoute("172.16.3.0/24", "IBGP", "10.255.0.2"), 30*time.Second)
		l.WaitCLI(t, "PE", "display bgp vpnv4 all routing-table label", labtest.All(
			labtest.Regexp(`Route Distinguisher: 65000:3`), labtest.Regexp(`172\.16\.3\.0 +10\.255\.0\.2 +\S+/1234`)), 5*time.Second)
		l.WaitCLI(t, "PE", "display ip routing-table vpn-instance blue", noRoute("172.16.3.0/24"), time.Second)
		poll("FRR's CE has the route in its kernel (zebra)", 30*time.Second, func() (string, bool) {
			out := frrCE.KernelRoute("172.16.3.0/24")
			return out, strings.Contains(out, "via 192.0.2.1")
		})
		// A ping from FRR's CE leaves the PE towards FRR's PE with the
		// static LSP's label above FRR's VPN label.
		wire := startCapture(t, l, "PE", "eth1")
		defer wire.close()
		exec.Command("ip", "netns", "exec", bgpxFRRCE, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", "172.16.1.1", "172.16.3.1").Run()
		wire.waitSent(t, "echoes labelled 20/1234", 3, func(f frame) bool {
			return icmpBetween("172.16.1.1", "172.16.3.1", icmpEcho)(f) && len(f.Labels) == 2 &&
				f.Labels[0].Label == 20 && f.Labels[1].Label == 1234
		}, 2*time.Second)
	})

	t.Run("vpnos-to-frr-pe", func(t *testing.T) {
		// FRR's CE's route leaves the PE as VPNv4 with red's RD, target
		// and label, next hop the PE; the vpnos CE's route in blue too.
		poll("FRR's PE has the CE routes", 30*time.Second, func() (string, bool) {
			out, _ := frrPE.Vtysh("show bgp ipv4 vpn")
			return out, strings.Contains(out, "Route Distinguisher: 65000:1") && strings.Contains(out, "Route Distinguisher: 65000:2") &&
				strings.Contains(out, fmt.Sprintf("EC{65000:100} label=%d", redLabel)) &&
				strings.Contains(out, fmt.Sprintf("EC{65000:200} label=%d", blueLabel)) &&
				strings.Contains(out, "UN=10.0.1.1")
		})
	})

	t.Run("gobgp-injects", func(t *testing.T) {
		poll("GoBGP has blue's CE route", 30*time.Second, func() (string, bool) {
			out, _ := gobgp("global", "rib", "-a", "vpnv4")
			return out, strings.Contains(out, "65000:2:172.16.1.0/24") && strings.Contains(out, fmt.Sprintf("[%d]", blueLabel))
		})
		route := []string{"172.16.4.0/24", "label", "2000", "rd", "65000:4", "rt", "65000:200", "nexthop", "10.255.0.4"}
		if out, err := gobgp(append([]string{"global", "rib", "-a", "vpnv4", "add"}, route...)...); err != nil {
			t.Fatalf("gobgp add: %v: %s", err, out)
		}
		l.WaitCLI(t, "PE", "display ip routing-table vpn-instance blue", hasRoute("172.16.4.0/24", "IBGP", "10.255.0.4"), 15*time.Second)
		l.WaitCLI(t, "CE", "display ip routing-table", hasRoute("172.16.4.0/24", "EBGP", "192.0.2.1"), 15*time.Second)
		l.WaitCLI(t, "PE", "display ip routing-table vpn-instance red", noRoute("172.16.4.0/24"), time.Second)
		if out, _ := frrCE.Vtysh("show ip bgp"); strings.Contains(out, "172.16.4.0/24") {
			t.Errorf("blue's route reached red's CE:\n%s", out)
		}
		if out, err := gobgp(append([]string{"global", "rib", "-a", "vpnv4", "del"}, route...)...); err != nil {
			t.Fatalf("gobgp del: %v: %s", err, out)
		}
		l.WaitCLI(t, "PE", "display ip routing-table vpn-instance blue", noRoute("172.16.4.0/24"), 10*time.Second)
		l.WaitCLI(t, "CE", "display ip routing-table", noRoute("172.16.4.0/24"), 10*time.Second)
	})

	t.Run("frr-ce-withdraws", func(t *testing.T) {
		if out, err := frrCE.Vtysh("configure terminal\nrouter bgp 64501\naddress-family ipv4 unicast\nno network 172.16.1.0/24"); err != nil {
			t.Fatalf("vtysh: %v: %s", err, out)
		}
		poll("the withdrawal reaches FRR's PE", 15*time.Second, func() (string, bool) {
			out, _ := frrPE.Vtysh("show bgp ipv4 vpn")
			i := strings.Index(out, "Route Distinguisher: 65000:1")
			return out, i < 0 || !strings.Contains(out[i:min(len(out), i+400)], "172.16.1.0/24")
		})
	})
}
