package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vpnos/cli/proto"
	"vpnos/lab/labtest"
	"vpnos/os/settings"
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
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	cleanup := func() {
		for _, ns := range []string{routerIDNS, routerIDHostNS} {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	}
	cleanup()
	t.Cleanup(cleanup)
	run("ip", "netns", "add", routerIDNS)
	run("ip", "netns", "add", routerIDHostNS)
	run("ip", "link", "add", "eth1", "netns", routerIDNS, "type", "veth", "peer", "name", "ri-h1", "netns", routerIDHostNS)
	run("ip", "-n", routerIDHostNS, "addr", "add", "192.0.2.2/30", "dev", "ri-h1")
	run("ip", "-n", routerIDHostNS, "link", "set", "ri-h1", "up")
	run("ip", "-n", routerIDHostNS, "link", "set", "lo", "up")
	run("ip", "-n", routerIDNS, "link", "set", "eth1", "up")
	run("ip", "-n", routerIDNS, "link", "set", "lo", "up")
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

	cmd := exec.Command("ip", "netns", "exec", routerIDNS, os.Args[0], "-test.run=^TestRouterIDFollowsSystem$", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), routerIDHelper+"=1", routerIDFRR+"="+frr.Dir, "CLAB_INTFS=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\n--- PASS: TestRouterIDFollowsSystem") {
		t.Fatalf("the daemon in %s: %v\n%s", routerIDNS, err, out)
	}
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
	root := t.TempDir()
	cfgDir := filepath.Join(root, "etc", "vpnos")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "startup.cfg"), []byte(routerIDStartup), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := settings.Load(settings.Options{Root: root, Env: []string{"VPNOS_SSH_PORT=0", "VPNOS_NETCONF_PORT=0", "VPNOS_INTERFACE_WAIT=5"}})
	if err != nil {
		t.Fatal(err)
	}
	frr := &labtest.FRR{NS: routerIDHostNS, Dir: os.Getenv(routerIDFRR)}
	var logBuf syncLog
	d, err := New(s, slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var last string // the last output polled, for the failure message
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("the daemon did not stop")
		}
		if t.Failed() {
			t.Logf("last output:\n%s\ndaemon log:\n%s", last, logBuf.String())
		}
	}()

	cli := func(lines ...string) (string, error) {
		cctx, c := context.WithTimeout(ctx, 20*time.Second)
		defer c()
		cl, _, err := proto.Dial(cctx, s.SocketPath(), proto.Request{User: "test", Source: "script"})
		if err != nil {
			return "", err
		}
		defer cl.Close()
		var b strings.Builder
		for _, l := range lines {
			resp, err := cl.Do(proto.Request{Op: proto.OpExec, Line: l})
			if err != nil {
				return b.String(), err
			}
			b.WriteString(resp.Output)
			if resp.Failed {
				return b.String(), fmt.Errorf("%q failed: %s", l, resp.Output)
			}
		}
		return b.String(), nil
	}
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
