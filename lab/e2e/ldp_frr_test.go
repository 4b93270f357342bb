package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
)

// FRR's ldpd as an LDP neighbour of a whole vpnos router. FRR's zebra
// cannot program MPLS in this kernel (no MPLS routing), so the topology
// puts the labelled forwarding on vpnos routers and lets FRR exchange
// labels and receive plain IP: FRR is the egress of its own loopback,
// attached to P.
//
//	PE1 (vpnos) GE0/3/0 .1 -- .2 GE0/1/0 P (vpnos) GE0/3/0 .17 -- .18 vlfr1 FRR
//	10.255.0.1                 10.255.0.2                           10.255.0.7
//
// The LSP from PE1 to FRR's loopback is mixed: PE1 pushes the label P
// allocated for it, which P advertises only because FRR mapped the FEC to
// P (implicit null, so P pops and FRR gets IP).

const (
	frrLab = "vl-ldpfrr"
	frrNS  = "vl-ldpfrr-frr"
	frrLSR = "10.255.0.7"
)

// startLDPFRR runs zebra and ldpd in ns with LDP on iface.
func startLDPFRR(t *testing.T, ns, lsrID, iface string) *labtest.FRR {
	t.Helper()
	f := labtest.StartFRR(t, ns, map[string]string{"ldpd": fmt.Sprintf("hostname vl-ldpd\nmpls ldp\n router-id %[1]s\n address-family ipv4\n  discovery transport-address %[1]s\n  interface %[2]s\n  exit\n exit-address-family\nexit\n", lsrID, iface)})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := f.Vtysh("show mpls ldp neighbor json"); err == nil {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatal("FRR: ldpd does not answer")
		}
	}
}

// pollFRR polls an FRR check with a deadline.
func pollFRR(t *testing.T, what string, within time.Duration, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; FRR says:\n%s", what, within, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func frrLabTopology(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfgs := map[string]string{
		"PE1": `sysname PE1
mpls lsr-id 10.255.0.1
mpls
mpls ldp
interface GigabitEthernet0/3/0
 undo shutdown
 ip address 198.51.100.1 255.255.255.252
 mpls
 mpls ldp
interface LoopBack0
 ip address 10.255.0.1 255.255.255.255
ip route-static 10.255.0.2 255.255.255.255 198.51.100.2
ip route-static 10.255.0.7 255.255.255.255 198.51.100.2
`,
		// GE0/3/0, towards FRR, is a link the test adds once P runs.
		"P": `sysname P
mpls lsr-id 10.255.0.2
mpls
mpls ldp
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 198.51.100.2 255.255.255.252
 mpls
 mpls ldp
interface GigabitEthernet0/3/0
 undo shutdown
 ip address 198.51.100.17 255.255.255.252
 mpls
 mpls ldp
interface LoopBack0
 ip address 10.255.0.2 255.255.255.255
ip route-static 10.255.0.1 255.255.255.255 198.51.100.1
ip route-static 10.255.0.7 255.255.255.255 198.51.100.18
`,
	}
	var topo strings.Builder
	fmt.Fprintf(&topo, "name: %s\ntopology:\n  defaults:\n    kind: linux\n  nodes:\n", frrLab)
	for _, n := range []string{"PE1", "P"} {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n, "startup.cfg"), []byte(cfgs[n]), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&topo, "    %s: {binds: [\"%s:/etc/vpnos/\"]}\n", n, filepath.Join(dir, n))
	}
	topo.WriteString("  links:\n    - endpoints: [\"PE1:eth3\", \"P:eth1\"]\n")
	return writeTopology(t, "ldpfrr.clab.yml", topo.String())
}

// TestLDPInteropFRR: FRR's ldpd and a vpnos router form an Operational
// session, exchange labels both ways (FRR's binding table holds P's label
// for PE1's loopback, P retains FRR's label for it as Liberal and follows
// FRR's implicit null for FRR's loopback), PE1's traffic to FRR's loopback
// crosses the mixed LSP (labelled with P's label on the first link, popped
// before FRR), and undo mpls ldp on P ends FRR's session at once.
func TestLDPInteropFRR(t *testing.T) {
	needRoot(t)
	labtest.CleanStale(t, frrLab)
	l := labtest.Up(t, frrLabTopology(t), labtest.Options{Binary: bin})
	pNS := "clab-" + frrLab + "-P"
	sh := hostBeside(t, pNS, frrNS, "vlfr1", "198.51.100.18/30", frrLSR+"/32")
	for _, lo := range []string{"10.255.0.1/32", "10.255.0.2/32"} {
		sh("ip", "-n", frrNS, "route", "add", lo, "via", "198.51.100.17")
	}
	f := startLDPFRR(t, frrNS, frrLSR, "vlfr1")

	// The session, from both sides.
	l.WaitCLI(t, "P", "display mpls ldp session", sessionsOperational("10.255.0.1", frrLSR), 60*time.Second)
	pollFRR(t, "FRR's session with P", 30*time.Second, func() (bool, string) {
		st, out := f.LDPNeighborState("10.255.0.2")
		return st == "OPERATIONAL", out
	})

	// FRR's implicit null for its loopback: P pops towards it.
	var pLabelForFRR uint32
	l.WaitCLI(t, "P", "display mpls lsp protocol ldp", labtest.Regexp(`(?m)^10\.255\.0\.7/32 +NULL/3 +-/GE0/3/0`), 30*time.Second)
	out := l.WaitCLI(t, "P", "display mpls lsp protocol ldp", labtest.Regexp(`(?m)^10\.255\.0\.7/32 +\d+/3 +-/GE0/3/0`), 5*time.Second)
	m := regexp.MustCompile(`(?m)^10\.255\.0\.7/32 +(\d+)/3 `).FindStringSubmatch(out)
	n, _ := strconv.ParseUint(m[1], 10, 32)
	pLabelForFRR = uint32(n)
	// PE1 pushes that label: P advertised it because FRR mapped the FEC.
	var pe1Out uint32
	l.WaitCLI(t, "PE1", "display mpls lsp protocol ldp", ingressLSP("10.255.0.7/32", "GE0/3/0", &pe1Out), 30*time.Second)
	if pe1Out != pLabelForFRR {
		t.Fatalf("PE1 pushes %d for FRR's loopback, P advertised %d", pe1Out, pLabelForFRR)
	}

	// P's label for PE1's loopback reached FRR...
	out = l.WaitCLI(t, "P", "display mpls lsp protocol ldp", labtest.Regexp(`(?m)^10\.255\.0\.1/32 +\d+/3 +-/GE0/1/0`), 5*time.Second)
	m = regexp.MustCompile(`(?m)^10\.255\.0\.1/32 +(\d+)/3 `).FindStringSubmatch(out)
	pLabelForPE1 := m[1]
	pollFRR(t, "FRR's binding from P for 10.255.0.1/32", 30*time.Second, func() (bool, string) {
		b, out := f.LDPBinding("10.255.0.1/32", "10.255.0.2")
		return b.RemoteLabel == pLabelForPE1, out
	})
	// ...and FRR's own label for it reached P, which keeps it (liberal
	// retention) though its route to PE1 does not go through FRR.
	var frrLocal string
	pollFRR(t, "FRR's local label for 10.255.0.1/32", 30*time.Second, func() (bool, string) {
		b, out := f.LDPBinding("10.255.0.1/32", "10.255.0.2")
		frrLocal = b.LocalLabel
		_, err := strconv.ParseUint(frrLocal, 10, 32)
		return err == nil, out
	})
	l.WaitCLI(t, "P", "display mpls ldp lsp", labtest.Regexp(`(?m)^\*10\.255\.0\.1/32 +Liberal/`+frrLocal+` +DS/`+regexp.QuoteMeta(frrLSR)), 30*time.Second)

	// Traffic over the mixed LSP: labelled PE1 -> P, plain IP P -> FRR.
	pIn := startCapture(t, l, "P", "eth1")
	pOut := startCapture(t, l, "P", "eth3")
	request := icmpBetween("10.255.0.1", frrLSR, icmpEcho)
	pingOK(t, l, "PE1", "ping -c 3 -a 10.255.0.1 "+frrLSR, frrLSR)
	pIn.wait(t, fmt.Sprintf("echo requests labelled %d on PE1's link", pLabelForFRR), 3, func(f frame) bool {
		return request(f) && len(f.Labels) == 1 && f.Labels[0].Label == pLabelForFRR
	}, 2*time.Second)
	pOut.waitSent(t, "echo requests sent to FRR unlabelled (P popped: FRR's implicit null)", 3, func(f frame) bool {
		return request(f) && f.EtherType == etherIPv4
	}, 2*time.Second)

	// undo mpls ldp on P: FRR's session ends at once (Shutdown
	// notification), long before its hold timers would end it.
	configure(t, l, "P", "undo mpls ldp")
	pollFRR(t, "FRR's session with P ended", 5*time.Second, func() (bool, string) {
		st, out := f.LDPNeighborState("10.255.0.2")
		return st != "OPERATIONAL", out
	})
}

// hostBeside makes the namespace ns (removed when the test ends, and
// before, if an earlier run left it) joined to a lab node's namespace
// nodeNS by a veth: eth3 on the node, hostIf with addr in ns, whose lo
// holds loopback; both ends are up. sh runs a command and fails the test
// if it fails.
func hostBeside(t *testing.T, nodeNS, ns, hostIf, addr, loopback string) (sh func(args ...string)) {
	t.Helper()
	sh = func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	_ = exec.Command("ip", "netns", "del", ns).Run()
	sh("ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	sh("ip", "link", "add", "eth3", "netns", nodeNS, "type", "veth", "peer", "name", hostIf, "netns", ns)
	sh("ip", "-n", ns, "addr", "add", addr, "dev", hostIf)
	sh("ip", "-n", ns, "addr", "add", loopback, "dev", "lo")
	sh("ip", "-n", ns, "link", "set", "lo", "up")
	sh("ip", "-n", ns, "link", "set", hostIf, "up")
	sh("ip", "-n", nodeNS, "link", "set", "eth3", "up")
	return sh
}
