package ldp

import (
	"context"
	"net/netip"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Sessions that come up when the route to the peer's transport address
// appears: two LDP instances in namespaces l3-a (LSR 10.255.0.1, passive)
// and l3-b (10.255.0.2, active) over veths l3a0 -- l3b0. They need root
// (flock /tmp/vpnos-root-tests.lock).

// l3NS creates namespace l3-NAME (removing a leftover) with lo up and its
// loopback address, and returns its path.
func l3NS(t *testing.T, name, loopback string) string {
	t.Helper()
	full := "l3-" + name
	exec.Command("ip", "netns", "del", full).Run()
	sh(t, "ip", "netns", "add", full)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", full).Run() })
	sh(t, "ip", "-n", full, "link", "set", "lo", "up")
	sh(t, "ip", "-n", full, "addr", "add", loopback+"/32", "dev", "lo")
	return filepath.Join("/run/netns", full)
}

type reachLab struct {
	a, b *vpnosNode
}

// startReachLab starts both instances. a routes to b's loopback (kernel
// and LDP); b has neither until the test adds them (b's kernel route when
// bKernel is set).
func startReachLab(t *testing.T, bKernel, aKernel bool) *reachLab {
	t.Helper()
	pa := l3NS(t, "a", "10.255.0.1")
	pb := l3NS(t, "b", "10.255.0.2")
	sh(t, "ip", "link", "add", "l3a0", "netns", "l3-a", "type", "veth", "peer", "name", "l3b0", "netns", "l3-b")
	sh(t, "ip", "-n", "l3-a", "addr", "add", "10.0.12.1/30", "dev", "l3a0")
	sh(t, "ip", "-n", "l3-b", "addr", "add", "10.0.12.2/30", "dev", "l3b0")
	sh(t, "ip", "-n", "l3-a", "link", "set", "l3a0", "up")
	sh(t, "ip", "-n", "l3-b", "link", "set", "l3b0", "up")
	if aKernel {
		sh(t, "ip", "-n", "l3-a", "route", "add", "10.255.0.2/32", "via", "10.0.12.2")
	}
	if bKernel {
		sh(t, "ip", "-n", "l3-b", "route", "add", "10.255.0.1/32", "via", "10.0.12.1")
	}
	node := func(path, lsr, veth, local string, routes []Route) *vpnosNode {
		ifs := []Interface{
			{Name: "LoopBack0", Device: "lo", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix(lsr + "/32")}},
			{Name: "GigabitEthernet0/1/0", Device: veth, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix(local)}, MTU: 1500},
		}
		routes = append(routes, Route{Prefix: netip.MustParsePrefix(lsr + "/32"), NextHops: []NextHop{{Interface: "LoopBack0"}}})
		cfg := Config{Enabled: true, LSRID: netip.MustParseAddr(lsr), HelloHold: 6 * time.Second,
			Interfaces: []InterfaceConfig{{Name: "GigabitEthernet0/1/0"}}}
		return startVpnos(t, path, cfg, ifs, routes)
	}
	a := node(pa, "10.255.0.1", "l3a0", "10.0.12.1/30", []Route{bLoopbackRoute()})
	b := node(pb, "10.255.0.2", "l3b0", "10.0.12.2/30", nil)
	return &reachLab{a: a, b: b}
}

func bLoopbackRoute() Route {
	return Route{Prefix: netip.MustParsePrefix("10.255.0.2/32"),
		NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.0.12.2"), Interface: "GigabitEthernet0/1/0"}}}
}

func aLoopbackRoute() Route {
	return Route{Prefix: netip.MustParsePrefix("10.255.0.1/32"),
		NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.0.12.1"), Interface: "GigabitEthernet0/1/0"}}}
}

// waitOperational polls until both sessions are Operational with an LSP
// to the other's loopback each way.
func (l *reachLab) waitOperational(t *testing.T) {
	t.Helper()
	poll(t, 20*time.Second, "operational with labels", func() (bool, string) {
		sa, sb := l.a.snapshot(t), l.b.snapshot(t)
		ssa, _ := sessionState(sa, "10.255.0.2")
		ssb, _ := sessionState(sb, "10.255.0.1")
		_, oka := l.a.lsp(netip.MustParsePrefix("10.255.0.2/32"))
		_, okb := l.b.lsp(netip.MustParsePrefix("10.255.0.1/32"))
		return ssa.State == Operational && ssb.State == Operational && ssb.Active && oka && okb, dump(sa) + dump(sb)
	})
}

// TestNetRouteAfterConnectFailure: b hears a's Hellos before it has a
// route to a's transport address, so its connections fail (network
// unreachable) and it waits to retry. When the route appears (the kernel
// route, then the RIB's route handed to LDP), b connects at once: the
// attempt is made by the time UpdateRoutes returns, not at the retry.
func TestNetRouteAfterConnectFailure(t *testing.T) {
	requireRoot(t)
	l := startReachLab(t, false, true)
	var before SessionState
	// Wait until b waits at least 1.5 s for its next attempt (its second
	// failure), so that the retry timer cannot be what dials next.
	poll(t, 20*time.Second, "b waiting after failed connections", func() (bool, string) {
		sb := l.b.snapshot(t)
		before, _ = sessionState(sb, "10.255.0.1")
		return before.State == NonExistent && before.Attempts >= 2 && before.Retry >= 1500*time.Millisecond, dump(sb)
	})
	sh(t, "ip", "-n", "l3-b", "route", "add", "10.255.0.1/32", "via", "10.0.12.1")
	if err := l.b.inst.UpdateRoutes(context.Background(), RoutesChanged{Set: []Route{aLoopbackRoute()}}); err != nil {
		t.Fatal(err)
	}
	after, _ := sessionState(l.b.snapshot(t), "10.255.0.1")
	if after.Attempts != before.Attempts+1 || after.Retry != 0 {
		t.Fatalf("the route did not start an attempt: before %d attempts (retry in %v), after %d (retry in %v)",
			before.Attempts, before.Retry, after.Attempts, after.Retry)
	}
	l.waitOperational(t)
	if ss, _ := sessionState(l.b.snapshot(t), "10.255.0.1"); ss.Attempts != after.Attempts {
		t.Fatalf("the session needed %d attempts after the route's (%d)", ss.Attempts-after.Attempts, after.Attempts)
	}
}

// TestNetRouteSupersedesPendingConnect: b's SYN to a goes unanswered (a has
// no route back, as a router whose IGP has not converged yet), so b's
// connection is pending. When the route appears, b abandons that attempt
// and connects anew at once instead of waiting for the SYN's
// retransmission.
func TestNetRouteSupersedesPendingConnect(t *testing.T) {
	requireRoot(t)
	l := startReachLab(t, true, false)
	var before SessionState
	poll(t, 20*time.Second, "b connecting", func() (bool, string) {
		sb := l.b.snapshot(t)
		before, _ = sessionState(sb, "10.255.0.1")
		return before.State == NonExistent && before.Attempts == 1 && before.Retry == 0, dump(sb)
	})
	sh(t, "ip", "-n", "l3-a", "route", "add", "10.255.0.2/32", "via", "10.0.12.2")
	if err := l.b.inst.UpdateRoutes(context.Background(), RoutesChanged{Set: []Route{aLoopbackRoute()}}); err != nil {
		t.Fatal(err)
	}
	after, _ := sessionState(l.b.snapshot(t), "10.255.0.1")
	if after.Attempts != 2 {
		t.Fatalf("the route did not supersede the pending attempt: %d attempts", after.Attempts)
	}
	l.waitOperational(t)
	if ss, _ := sessionState(l.b.snapshot(t), "10.255.0.1"); ss.State != Operational || ss.Attempts != 2 {
		t.Fatalf("state %v after %d attempts", ss.State, ss.Attempts)
	}
}
