package daemon

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
)

// The namespaces of TestRouterIDFollowsSystem: the daemon's, and a host
// with FRR's ospfd and bgpd on its port eth1 (GigabitEthernet0/1/0).
const (
	routerIDNS     = "ri-d"
	routerIDHostNS = "ri-h"
	routerIDHelper = "VPNOS_TEST_ROUTERID_HELPER"
	routerIDFRR    = "VPNOS_TEST_ROUTERID_FRR"
)

// OSPF and BGP without a router ID of their own run with the system
// router ID: first the highest LoopBack address, then `router id` once it
// is configured and the process is reset (`reset ospf 1 process`, `reset
// bgp all`). Until the reset, the running router ID stays and so do the
// adjacency and the session. The displays show it, and FRR on the other
// side sees it on the wire.
func TestRouterIDFollowsSystem(t *testing.T) {
	if os.Getenv(routerIDHelper) != "" {
		routerIDHelperMain(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	nsPair(t, routerIDNS, routerIDHostNS, "ri-h1")
	frr := labtest.StartFRR(t, routerIDHostNS, map[string]string{"ospfd": `hostname host
interface ri-h1
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
!
router ospf
 ospf router-id 10.99.99.99
 network 192.0.2.0/30 area 0
`, "bgpd": `hostname host
router bgp 64600
 bgp router-id 10.99.99.99
 no bgp ebgp-requires-policy
 neighbor 192.0.2.1 remote-as 65000
 neighbor 192.0.2.1 timers connect 1
!
`})

	runInNS(t, routerIDNS, "TestRouterIDFollowsSystem", routerIDHelper, 3*time.Minute, routerIDFRR+"="+frr.Dir)
}

const routerIDStartup = `#
sysname RID
#
interface GigabitEthernet0/1/0
 undo shutdown
 ip address 192.0.2.1 255.255.255.252
 ospf network-type p2p
 ospf timer hello 1
 ospf timer dead 4
#
interface LoopBack0
 ip address 10.255.0.1 255.255.255.255
#
bgp 65000
 peer 192.0.2.2 as-number 64600
#
ospf 1
 area 0.0.0.0
  network 192.0.2.0 0.0.0.3
  network 10.255.0.1 0.0.0.0
#
return
`

// routerIDHelperMain runs inside the daemon's namespace.
func routerIDHelperMain(t *testing.T) {
	td := startDaemonHere(t, routerIDStartup, []string{"VPNOS_SSH_PORT=0", "VPNOS_NETCONF_PORT=0", "VPNOS_INTERFACE_WAIT=5"}, nil)
	logBuf, cli := td.log, td.cli
	frr := &labtest.FRR{NS: routerIDHostNS, Dir: os.Getenv(routerIDFRR)}
	var last string // the last output polled, for the failure message
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last output:\n%s", last)
		}
	})
	// waitFor polls the CLI (or FRR) until every expression matches.
	waitFor := func(what string, get func() (string, error), res ...string) {
		t.Helper()
		deadline := time.Now().Add(40 * time.Second)
		for {
			out, err := get()
			last = out
			if err == nil {
				ok := true
				for _, re := range res {
					if !regexp.MustCompile(re).MatchString(out) {
						ok = false
						err = fmt.Errorf("no %s", re)
						break
					}
				}
				if ok {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	displays := func() (string, error) {
		return cli("display ospf brief", "display ospf peer brief", "display bgp peer")
	}
	fromFRR := func() (string, error) {
		a, err := frr.Vtysh("show ip ospf neighbor")
		if err != nil {
			return a, err
		}
		b, err := frr.Vtysh("show bgp neighbors 192.0.2.1")
		return a + b, err
	}
	// running: both protocols run with id, up with the host, and the
	// host sees id.
	running := func(what, id string) {
		t.Helper()
		q := regexp.QuoteMeta(id)
		waitFor(what, displays,
			`OSPF Process 1 with Router ID `+q+`\n`,
			`(?m)^ RouterID: `+q+` `,
			`10\.99\.99\.99 +Full`,
			`(?m)^ BGP local router ID : `+q+`$`,
			`(?m)^ +192\.0\.2\.2 +4 +64600 .* Established +0$`)
		waitFor(what+" (FRR)", fromFRR,
			`(?m)^`+q+` +\d+ +Full`,
			`remote router ID `+q+`\b`,
			`BGP state = Established`)
	}

	waitFor("the daemon", func() (string, error) { return cli("display version") })
	running("the highest LoopBack address", "10.255.0.1")

	// router id: nothing changes until the processes are reset.
	if out, err := cli("system-view", "router id 10.255.0.77", "commit", "return", "display router id"); err != nil || !strings.Contains(out, "10.255.0.77") {
		t.Fatalf("router id: %v\n%s", err, out)
	}
	// The commit reached both protocols (their configuration followed),
	// yet they keep their router ID and their neighbours.
	for range 3 {
		running("router id before any reset", "10.255.0.1")
		time.Sleep(time.Second)
	}

	// reset ospf 1 process: OSPF takes it; BGP keeps its own.
	if out, err := cli("reset ospf 1 process"); err != nil {
		t.Fatalf("reset ospf: %v\n%s", err, out)
	}
	waitFor("OSPF after its reset", displays,
		`OSPF Process 1 with Router ID 10\.255\.0\.77\n`,
		`10\.99\.99\.99 +Full`,
		`(?m)^ BGP local router ID : 10\.255\.0\.1$`,
		`(?m)^ +192\.0\.2\.2 +4 +64600 .* Established +0$`)
	waitFor("FRR after the OSPF reset", fromFRR, `(?m)^10\.255\.0\.77 +\d+ +Full`, `remote router ID 10\.255\.0\.1\b`)

	// reset bgp all: BGP takes it too.
	if out, err := cli("reset bgp all"); err != nil {
		t.Fatalf("reset bgp all: %v\n%s", err, out)
	}
	running("both reset", "10.255.0.77")

	// router-id of BGP's own wins at once; undo router id leaves OSPF
	// with the running one.
	if out, err := cli("system-view", "bgp 65000", "router-id 10.255.0.88", "quit", "undo router id", "commit", "return"); err != nil {
		t.Fatalf("router-id: %v\n%s", err, out)
	}
	waitFor("BGP's own router-id", displays,
		`OSPF Process 1 with Router ID 10\.255\.0\.77\n`,
		`(?m)^ BGP local router ID : 10\.255\.0\.88$`,
		`(?m)^ +192\.0\.2\.2 +4 +64600 .* Established +0$`)
	if strings.Contains(logBuf.String(), "panic") {
		t.Errorf("a service panicked:\n%s", logBuf.String())
	}
}
