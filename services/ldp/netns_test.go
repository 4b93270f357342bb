package ldp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/services/nsutil"
)

// Network tests: namespaces vl-*, veths vl*, processes started here. They
// need root (run them under flock /tmp/vpnos-root-tests.lock).

func requireRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("network test (-short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// testNS creates namespace vl-NAME (removing a leftover of that name) with
// lo up, and returns its path.
func testNS(t *testing.T, name string) string {
	t.Helper()
	full := "vl-" + name
	exec.Command("ip", "netns", "del", full).Run()
	sh(t, "ip", "netns", "add", full)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", full).Run() })
	sh(t, "ip", "-n", full, "link", "set", "lo", "up")
	return filepath.Join("/run/netns", full)
}

// vethPair joins two namespaces (names without the vl- prefix); the ends
// are vethA in a and vethB in b.
func vethPair(t *testing.T, a, vethA, addrA, b, vethB, addrB string) {
	t.Helper()
	na, nb := "vl-"+a, "vl-"+b
	sh(t, "ip", "link", "add", vethA, "netns", na, "type", "veth", "peer", "name", vethB, "netns", nb)
	sh(t, "ip", "-n", na, "addr", "add", addrA, "dev", vethA)
	sh(t, "ip", "-n", nb, "addr", "add", addrB, "dev", vethB)
	sh(t, "ip", "-n", na, "link", "set", vethA, "up")
	sh(t, "ip", "-n", nb, "link", "set", vethB, "up")
}

// poll calls f until it reports true or within passes; on failure it
// prints what f last said.
func poll(t *testing.T, within time.Duration, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		ok, s := f()
		if ok {
			return
		}
		last = s
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v; last state:\n%s", what, within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vpnosNode is an LDP Instance running in a test namespace.
type vpnosNode struct {
	inst   *Instance
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	lsps   map[netip.Prefix]LSP
}

func (n *vpnosNode) lsp(p netip.Prefix) (LSP, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l, ok := n.lsps[p]
	return l, ok
}

func startVpnos(t *testing.T, nsPath string, cfg Config, ifs []Interface, routes []Route) *vpnosNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	nw, err := OpenNet(ctx, log, func(f func() error) error { return nsutil.Do(nsPath, f) })
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	n := &vpnosNode{cancel: cancel, done: make(chan error, 1), lsps: map[netip.Prefix]LSP{}}
	n.inst = NewInstance(Options{Logger: log, Alloc: newLockedAlloc(), Net: nw, OnLSPs: func(c LSPsChanged) {
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, l := range c.Set {
			n.lsps[l.FEC] = l
		}
		for _, p := range c.Delete {
			delete(n.lsps, p)
		}
	}})
	go func() { n.done <- n.inst.Run(ctx) }()
	t.Cleanup(n.stop)
	bg := context.Background()
	if err := n.inst.SetInterfaces(bg, ifs); err != nil {
		t.Fatal(err)
	}
	if err := n.inst.UpdateRoutes(bg, RoutesChanged{Full: true, Set: routes}); err != nil {
		t.Fatal(err)
	}
	if err := n.inst.SetConfig(bg, cfg); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *vpnosNode) stop() {
	n.cancel()
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
	}
}

func (n *vpnosNode) snapshot(t *testing.T) Snapshot {
	t.Helper()
	s, err := n.inst.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lockedAlloc is a testAlloc safe for the owner goroutine and the test.
type lockedAlloc struct {
	mu sync.Mutex
	a  *testAlloc
}

func newLockedAlloc() *lockedAlloc { return &lockedAlloc{a: newTestAlloc()} }

func (l *lockedAlloc) Allocate() (uint32, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.a.Allocate()
}

func (l *lockedAlloc) Free(v uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.a.Free(v)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func sessionState(s Snapshot, peer string) (SessionState, bool) {
	for _, ss := range s.Sessions {
		if ss.Peer.LSRID == netip.MustParseAddr(peer) {
			return ss, true
		}
	}
	return SessionState{}, false
}

func fecState(s Snapshot, p string) (FECState, bool) {
	for _, f := range s.FECs {
		if f.FEC == netip.MustParsePrefix(p) {
			return f, true
		}
	}
	return FECState{}, false
}

func dump(s Snapshot) string {
	var b strings.Builder
	for _, ss := range s.Sessions {
		fmt.Fprintf(&b, "session %v %v role=%s ka=%d/%d last=%q\n", ss.Peer, ss.State, ss.Role(), ss.KeepAliveSent, ss.KeepAliveReceived, ss.LastNotification)
	}
	for _, a := range s.Adjacencies {
		fmt.Fprintf(&b, "adjacency %v on %s from %v hellos=%d\n", a.Peer, a.Interface, a.Source, a.HellosReceived)
	}
	for _, f := range s.FECs {
		fmt.Fprintf(&b, "fec %v local=%d egress=%v ingress=%v up=%v hops=%v recv=%v\n", f.FEC, int64(int32(f.Local)), f.Egress, f.Ingress, f.Upstream, f.NextHops, f.Received)
	}
	fmt.Fprintf(&b, "stats %+v\n", s.Stats)
	return b.String()
}

// TestNetTwoInstances runs two vpnos LDP instances in two namespaces over a
// veth: hellos, the TCP session from the higher LSR ID, labels both ways,
// a malformed PDU from a stranger, then `undo mpls ldp` on one side.
func TestNetTwoInstances(t *testing.T) {
	requireRoot(t)
	pa := testNS(t, "na")
	pb := testNS(t, "nb")
	vethPair(t, "na", "vlna0", "10.0.12.1/30", "nb", "vlnb0", "10.0.12.2/30")
	sh(t, "ip", "-n", "vl-na", "addr", "add", "10.255.0.1/32", "dev", "lo")
	sh(t, "ip", "-n", "vl-nb", "addr", "add", "10.255.0.2/32", "dev", "lo")
	sh(t, "ip", "-n", "vl-na", "route", "add", "10.255.0.2/32", "via", "10.0.12.2")
	sh(t, "ip", "-n", "vl-nb", "route", "add", "10.255.0.1/32", "via", "10.0.12.1")

	node := func(path, lsr, veth, local, gw, remote string) *vpnosNode {
		// Named as inside the daemon: VRP names, the kernel device aside.
		ifs := []Interface{
			{Name: "LoopBack0", Device: "lo", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix(lsr + "/32")}},
			{Name: "GigabitEthernet0/1/0", Device: veth, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix(local)}, MTU: 1500},
		}
		routes := []Route{
			{Prefix: netip.MustParsePrefix(lsr + "/32"), NextHops: []NextHop{{Interface: "LoopBack0"}}},
			{Prefix: netip.MustParsePrefix(remote + "/32"), NextHops: []NextHop{{Gateway: netip.MustParseAddr(gw), Interface: "GigabitEthernet0/1/0"}}},
		}
		cfg := Config{Enabled: true, LSRID: netip.MustParseAddr(lsr), HelloHold: 6 * time.Second,
			Interfaces: []InterfaceConfig{{Name: "GigabitEthernet0/1/0"}}}
		return startVpnos(t, path, cfg, ifs, routes)
	}
	a := node(pa, "10.255.0.1", "vlna0", "10.0.12.1/30", "10.0.12.2", "10.255.0.2")
	b := node(pb, "10.255.0.2", "vlnb0", "10.0.12.2/30", "10.0.12.1", "10.255.0.1")

	poll(t, 20*time.Second, "operational with labels", func() (bool, string) {
		sa, sb := a.snapshot(t), b.snapshot(t)
		ssa, _ := sessionState(sa, "10.255.0.2")
		ssb, _ := sessionState(sb, "10.255.0.1")
		la, oka := a.lsp(netip.MustParsePrefix("10.255.0.2/32"))
		lb, okb := b.lsp(netip.MustParsePrefix("10.255.0.1/32"))
		ok := ssa.State == Operational && ssb.State == Operational && oka && okb &&
			len(sa.Adjacencies) == 1 && sa.Adjacencies[0].VRPName == "GigabitEthernet0/1/0" &&
			la.NextHops[0].Interface == "GigabitEthernet0/1/0" &&
			la.Ingress && la.NextHops[0].Out == 3 && lb.Ingress && lb.NextHops[0].Out == 3 &&
			ssb.Active && !ssa.Active && ssa.Remote.Addr() == netip.MustParseAddr("10.255.0.2")
		return ok, dump(sa) + dump(sb)
	})

	// A stranger sends garbage on TCP 646: it is refused, nothing breaks.
	err := nsutil.Do(pa, func() error {
		c, err := dialTCP("10.255.0.2:646")
		if err != nil {
			return err
		}
		defer c.Close()
		c.Write([]byte{0, 1, 0xff, 0xff, 1, 2, 3, 4})
		buf := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := c.Read(buf)
		if n == 0 {
			return fmt.Errorf("no notification for a malformed PDU")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ss, _ := sessionState(b.snapshot(t), "10.255.0.1"); ss.State != Operational {
		t.Fatalf("session state %v after a malformed PDU on another connection", ss.State)
	}

	// undo mpls ldp on a: b hears Shutdown and drops the LSP.
	if err := a.inst.SetConfig(context.Background(), Config{LSRID: netip.MustParseAddr("10.255.0.1")}); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "shutdown seen by the peer", func() (bool, string) {
		sb := b.snapshot(t)
		ss, _ := sessionState(sb, "10.255.0.1")
		_, has := b.lsp(netip.MustParsePrefix("10.255.0.1/32"))
		return ss.State != Operational && ss.LastNotification == "Shutdown" && !has, dump(sb)
	})
}

func dialTCP(a string) (net.Conn, error) { return net.DialTimeout("tcp4", a, 5*time.Second) }
