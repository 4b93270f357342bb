package daemon

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
	"vpnos/services/ldp"
	"vpnos/services/nsutil"
)

// The namespaces of TestEveryServiceRestarts: the daemon's, and a host on
// its port eth1 (GigabitEthernet0/1/0).
const (
	restartNS     = "vp-restart"
	restartHostNS = "vp-restart-h"
	restartHelper = "VPNOS_TEST_RESTART_HELPER"
)

// Every service the daemon registers can be stopped and started again by
// the registry, and serves again: after each restart the CLI answers, a
// commit reaches the RIB through the vrf and static services, the displays
// show the routes and the labels (static LSP, pinned VPN label), SSH
// answers, the forwarder carries a ping to a host on a port, OSPF is Full
// with FRR's ospfd on that host, whose loopback is an OSPF route, and BGP is
// Established with FRR's bgpd there, whose network is an EBGP route.
//
// The daemon runs in this test binary, started again inside a network
// namespace of its own (ip netns exec), with a veth port towards a host
// namespace.
func TestEveryServiceRestarts(t *testing.T) {
	if os.Getenv(restartHelper) != "" {
		restartHelperMain(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	run := nsPair(t, restartNS, restartHostNS, "vpr1")
	run("ip", "-n", restartHostNS, "route", "add", "default", "via", "192.0.2.1")
	run("ip", "-n", restartHostNS, "addr", "add", "10.99.99.99/32", "dev", "lo")
	labtest.StartFRR(t, restartHostNS, map[string]string{"ospfd": `hostname host
interface vpr1
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
!
router ospf
 ospf router-id 10.99.99.99
 network 192.0.2.0/30 area 0
 network 10.99.99.99/32 area 0
`, "bgpd": `hostname host
router bgp 64600
 bgp router-id 10.99.99.99
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 192.0.2.1 remote-as 65000
 neighbor 192.0.2.1 timers connect 1
 address-family ipv4 unicast
  network 10.77.0.0/16
 exit-address-family
!
`})
	run("ip", "-n", restartHostNS, "addr", "add", restartPeerLSR+"/32", "dev", "lo")

	out := runInNS(t, restartNS, "TestEveryServiceRestarts", restartHelper, 4*time.Minute)
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "restarted and serves again") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

const restartStartup = `#
sysname RESTART
#
ip vpn-instance red
 ipv4-family
  route-distinguisher 65000:1
  apply-label per-instance static 500
#
mpls lsr-id 10.255.0.1
#
mpls
#
mpls ldp
#
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 192.0.2.1 255.255.255.252
 ospf network-type p2p
 ospf timer hello 1
 ospf timer dead 4
 mpls
 mpls ldp
#
interface LoopBack0
 ip address 10.255.0.1 255.255.255.255
#
bgp 65000
 router-id 10.255.0.1
 peer 192.0.2.2 as-number 64600
#
ospf 1 router-id 10.255.0.1
 area 0.0.0.0
  network 192.0.2.0 0.0.0.3
  network 10.255.0.1 0.0.0.0
#
ip route-static 10.1.1.1 255.255.255.255 192.0.2.2
ip route-static 10.9.0.0 255.255.0.0 192.0.2.2
#
static-lsp egress from-far in-label 100
#
return
`

// restartHelperMain runs inside the daemon's namespace.
func restartHelperMain(t *testing.T) {
	const sshPort = 2222
	td := startDaemonHere(t, restartStartup, []string{
		fmt.Sprintf("VPNOS_SSH_PORT=%d", sshPort), "VPNOS_NETCONF_PORT=0", "VPNOS_INTERFACE_WAIT=5",
	}, func(d *Daemon) { d.Registry.MinBackoff = 10 * time.Millisecond })
	d, logBuf, cliRun := td.d, td.log, td.cli
	// waitFor polls until check passes on the CLI's output.
	waitFor := func(what string, check func() error) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := check()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	contains := func(out string, want ...string) error {
		for _, w := range want {
			if !strings.Contains(out, w) {
				return fmt.Errorf("no %q in:\n%s", w, out)
			}
		}
		return nil
	}
	sshAnswers := func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", sshPort), 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
			return fmt.Errorf("SSH banner %q: %v", line, err)
		}
		return nil
	}
	serves := func(step int) {
		t.Helper()
		// A commit goes through the datastore, the vrf and static services
		// and the RIB, and shows in the routing table.
		route := fmt.Sprintf("ip route-static 10.%d.0.0 255.255.0.0 192.0.2.2", 100+step)
		waitFor("a commit", func() error {
			_, err := cliRun("system-view", route, "commit", "return")
			return err
		})
		waitFor("the routing table", func() error {
			out, err := cliRun("display ip routing-table")
			if err != nil {
				return err
			}
			return contains(out, "10.9.0.0/16", fmt.Sprintf("10.%d.0.0/16", 100+step), "192.0.2.0/30", "10.255.0.1/32")
		})
		waitFor("the LSPs", func() error {
			out, err := cliRun("display mpls lsp")
			if err != nil {
				return err
			}
			return contains(out, "100/NULL", "500/NULL")
		})
		waitFor("the VPN instance's label", func() error {
			out, err := cliRun("display ip vpn-instance verbose red")
			if err != nil {
				return err
			}
			return contains(out, "Per-Instance Label : 500")
		})
		waitFor("OSPF", func() error {
			out, err := cliRun("display ospf peer brief", "display ip routing-table 10.99.99.99 32")
			if err != nil {
				return err
			}
			return contains(out, "10.99.99.99      Full", "10.99.99.99/32    OSPF   10   1")
		})
		// BGP: an EBGP session with the host's bgpd, whose route is in the
		// routing table.
		waitFor("BGP", func() error {
			out, err := cliRun("display bgp peer", "display ip routing-table 10.77.0.0 16")
			if err != nil {
				return err
			}
			for _, re := range []string{`(?m)^ +192\.0\.2\.2 +4 +64600 .* Established +1$`, `10\.77\.0\.0/16 +EBGP +255 `} {
				if !regexp.MustCompile(re).MatchString(out) {
					return fmt.Errorf("no %s in:\n%s", re, out)
				}
			}
			return nil
		})
		waitFor("SSH", sshAnswers)
		// LDP: a session with the host's LDP instance, whose loopback is an
		// LSP (implicit null: the host is its egress).
		waitFor("LDP", func() error {
			out, err := cliRun("display mpls ldp session", "display mpls lsp protocol ldp")
			if err != nil {
				return err
			}
			for _, re := range []string{`(?m)^ 10\.1\.1\.1:0 +Operational `, `(?m)^10\.1\.1\.1/32 +NULL/3 +-/GE0/1/0`} {
				if !regexp.MustCompile(re).MatchString(out) {
					return fmt.Errorf("no %s in:\n%s", re, out)
				}
			}
			return nil
		})
		// The forwarder carries the router's ping to the host and back.
		waitFor("a ping through the forwarder", func() error {
			out, err := cliRun("ping -c 1 -t 500 192.0.2.2")
			if err != nil {
				return err
			}
			return contains(out, "1 packet(s) received")
		})
	}

	// An LDP peer on the host: an LDP instance of this test, in the host
	// namespace (the daemon has the higher LSR ID: it opens the session).
	stopPeer := startLDPPeer(t)
	defer stopPeer()

	waitFor("the daemon", func() error { _, err := cliRun("display version"); return err })
	serves(0)
	names := d.Registry.Names()
	for _, want := range []string{"iface", "forwarding", "rib", "vrf", "ospf", "ldp", "bgp", "startup", "mgmt", "sshd"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Fatalf("the daemon registers %v, without %s", names, want)
		}
	}
	for i, name := range names {
		runs := d.Registry.ReadyRuns(name)
		waitFor("restart "+name, func() error { return d.Registry.Restart(name) })
		waitFor(name+" serving again", func() error {
			if n := d.Registry.ReadyRuns(name); n <= runs {
				return fmt.Errorf("%d runs ready, was %d", n, runs)
			}
			return nil
		})
		serves(i + 1)
		t.Logf("%s restarted and serves again", name)
	}
	if strings.Contains(logBuf.String(), "panic") {
		t.Errorf("a service panicked:\n%s", logBuf.String())
	}
}

// restartPeerLSR is the LSR ID of the host's LDP instance.
const restartPeerLSR = "10.1.1.1"

// startLDPPeer runs an LDP instance in the host namespace, on its port vpr1
// (192.0.2.2/30) and its loopback; it returns its stop.
func startLDPPeer(t *testing.T) func() {
	t.Helper()
	path := "/run/netns/" + restartHostNS
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	nw, err := ldp.OpenNet(ctx, log, func(f func() error) error { return nsutil.Do(path, f) })
	if err != nil {
		cancel()
		t.Fatalf("LDP peer: %v", err)
	}
	next := uint32(70000)
	alloc := allocFunc(func() (uint32, error) { next++; return next, nil })
	in := ldp.NewInstance(ldp.Options{Logger: log, Net: nw, Alloc: alloc})
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Run(ctx) }()
	lsr := netip.MustParseAddr(restartPeerLSR)
	must := func(err error) {
		t.Helper()
		if err != nil {
			cancel()
			t.Fatalf("LDP peer: %v", err)
		}
	}
	must(in.SetInterfaces(ctx, []ldp.Interface{
		{Name: "lo", Up: true, Addrs: []netip.Prefix{netip.PrefixFrom(lsr, 32)}},
		{Name: "vpr1", Up: true, MTU: 1500, Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/30")}},
	}))
	must(in.UpdateRoutes(ctx, ldp.RoutesChanged{Full: true, Set: []ldp.Route{
		{Prefix: netip.PrefixFrom(lsr, 32)},
		{Prefix: netip.MustParsePrefix("10.255.0.1/32"), NextHops: []ldp.NextHop{{Gateway: netip.MustParseAddr("192.0.2.1"), Interface: "vpr1"}}},
	}}))
	must(in.SetConfig(ctx, ldp.Config{Enabled: true, LSRID: lsr, Interfaces: []ldp.InterfaceConfig{{Name: "vpr1"}}}))
	return func() { cancel(); <-done }
}

// allocFunc hands out the peer's labels.
type allocFunc func() (uint32, error)

func (f allocFunc) Allocate() (uint32, error) { return f() }
func (f allocFunc) Free(uint32)               {}
