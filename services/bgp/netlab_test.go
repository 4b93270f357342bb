package bgp

import (
	"bytes"
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

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"vpnos/services/label"
	"vpnos/services/nsutil"
)

// Tests with namespaces and real peers. Everything they create is named
// vb-* (namespaces) or vb* (links) and removed by name, also on failure.
// Run them under the shared lock:
//
//	flock /tmp/vpnos-root-tests.lock go test ./services/bgp/ -run Interop

const nsDir = "/run/netns"

func needRoot(tb testing.TB, bins ...string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for network namespaces")
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			tb.Skipf("%s not installed", b)
		}
	}
}

type netLab struct {
	tb    testing.TB
	names []string
	dir   string
}

func newNetLab(tb testing.TB, names ...string) *netLab {
	tb.Helper()
	l := &netLab{tb: tb, names: names, dir: tb.TempDir()}
	for _, n := range names {
		if !strings.HasPrefix(n, "vb-") {
			tb.Fatalf("namespace %s without the vb- prefix", n)
		}
		_ = nsutil.Delete(nsDir, n) // left over from a crashed run
	}
	for _, n := range names {
		if _, err := nsutil.Create(nsDir, n); err != nil {
			l.close()
			tb.Fatal(err)
		}
	}
	tb.Cleanup(l.close)
	return l
}

func (l *netLab) close() {
	for _, n := range l.names {
		_ = nsutil.Delete(nsDir, n)
	}
}

func (l *netLab) path(ns string) string { return filepath.Join(nsDir, ns) }

func (l *netLab) do(ns string, fn func() error) {
	l.tb.Helper()
	if err := nsutil.Do(l.path(ns), fn); err != nil {
		l.tb.Fatalf("in %s: %v", ns, err)
	}
}

// veth links nsA/nameA (addrA) with nsB/nameB (addrB).
func (l *netLab) veth(nsA, nameA, addrA, nsB, nameB, addrB string) {
	l.tb.Helper()
	h, err := netns.GetFromPath(l.path(nsB))
	if err != nil {
		l.tb.Fatal(err)
	}
	defer h.Close()
	l.do(nsA, func() error {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB, PeerNamespace: netlink.NsFd(int(h))}
		if err := netlink.LinkAdd(v); err != nil {
			return fmt.Errorf("veth %s-%s: %w", nameA, nameB, err)
		}
		return upWithAddr(nameA, addrA)
	})
	l.do(nsB, func() error { return upWithAddr(nameB, addrB) })
}

// bridge creates a bridge in ns and links each other namespace to it
// through a veth named vb<i> inside, with the address given.
func (l *netLab) bridge(ns string, members map[string]string) {
	l.tb.Helper()
	l.do(ns, func() error {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "vbbr"}}
		if err := netlink.LinkAdd(br); err != nil {
			return err
		}
		return netlink.LinkSetUp(br)
	})
	i := 0
	for _, m := range sortedNames(members) {
		i++
		h, err := netns.GetFromPath(l.path(m))
		if err != nil {
			l.tb.Fatal(err)
		}
		port, inner := fmt.Sprintf("vbp%d", i), fmt.Sprintf("vbe%d", i)
		l.do(ns, func() error {
			v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port}, PeerName: inner, PeerNamespace: netlink.NsFd(int(h))}
			if err := netlink.LinkAdd(v); err != nil {
				return err
			}
			lk, err := netlink.LinkByName(port)
			if err != nil {
				return err
			}
			br, err := netlink.LinkByName("vbbr")
			if err != nil {
				return err
			}
			if err := netlink.LinkSetMaster(lk, br); err != nil {
				return err
			}
			return netlink.LinkSetUp(lk)
		})
		h.Close()
		addr := members[m]
		l.do(m, func() error { return upWithAddr(inner, addr) })
	}
}

func upWithAddr(name, cidr string) error {
	lk, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if cidr != "" {
		a, err := netlink.ParseAddr(cidr)
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(lk, a); err != nil {
			return err
		}
	}
	return netlink.LinkSetUp(lk)
}

// proc is a daemon the test started; it is killed by its PID at cleanup.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	log  string
}

func (l *netLab) start(ns, name string, args ...string) *proc {
	l.tb.Helper()
	full := append([]string{"netns", "exec", ns}, args...)
	cmd := exec.Command("ip", full...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		l.tb.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: out}
	l.tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if l.tb.Failed() {
			l.tb.Logf("--- %s output:\n%s", name, out.String())
			if p.log != "" {
				if b, err := os.ReadFile(p.log); err == nil {
					if len(b) > 20000 {
						b = b[len(b)-20000:]
					}
					l.tb.Logf("--- %s log (tail):\n%s", name, b)
				}
			}
		}
	})
	return p
}

// frr is a bgpd run without zebra in a namespace of the test.
type frr struct {
	l   *netLab
	ns  string
	dir string
	p   *proc
}

func (l *netLab) bgpd(ns, config string) *frr {
	l.tb.Helper()
	dir := filepath.Join(l.dir, ns)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		l.tb.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	conf := filepath.Join(dir, "bgpd.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		l.tb.Fatal(err)
	}
	p := l.start(ns, "bgpd in "+ns, "/usr/lib/frr/bgpd", "-Z", "-S", "-f", conf, "-i", filepath.Join(dir, "bgpd.pid"),
		"--vty_socket", dir, "-p", "179", "--log", "file:"+filepath.Join(dir, "bgpd.log"))
	p.log = filepath.Join(dir, "bgpd.log")
	return &frr{l: l, ns: ns, dir: dir, p: p}
}

func (f *frr) vtysh(cmd string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", f.ns, "vtysh", "--vty_socket", f.dir, "-c", cmd).CombinedOutput()
	return string(out), err
}

// gobgpd runs GoBGP's daemon with its gRPC API on 127.0.0.1:port.
type gobgpd struct {
	l    *netLab
	ns   string
	port int
}

func (l *netLab) gobgpd(ns, toml string, port int) *gobgpd {
	l.tb.Helper()
	dir := filepath.Join(l.dir, ns)
	os.MkdirAll(dir, 0o755)
	conf := filepath.Join(dir, "gobgpd.toml")
	if err := os.WriteFile(conf, []byte(toml), 0o644); err != nil {
		l.tb.Fatal(err)
	}
	l.start(ns, "gobgpd in "+ns, "gobgpd", "-f", conf, "--api-hosts", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "info")
	return &gobgpd{l: l, ns: ns, port: port}
}

func (g *gobgpd) cli(args ...string) (string, error) {
	full := append([]string{"netns", "exec", g.ns, "gobgp", "-u", "127.0.0.1", "-p", fmt.Sprint(g.port)}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	return string(out), err
}

// poll calls check until it reports done or the time is up; the last
// state it described is in the failure.
func poll(tb testing.TB, what string, within time.Duration, check func() (string, bool)) {
	tb.Helper()
	deadline := time.Now().Add(within)
	var state string
	for {
		var ok bool
		state, ok = check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s; last state:\n%s", what, within, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fakeRIB answers every watched next hop as reachable through an LSP and
// keeps what the speaker installs.
type fakeRIB struct {
	mu     sync.Mutex
	svc    *Service
	routes map[string]Route // "instance prefix"
	labels map[uint32]string
}

func newFakeRIB() *fakeRIB {
	return &fakeRIB{routes: map[string]Route{}, labels: map[uint32]string{}}
}

func (r *fakeRIB) Apply(acts []Action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range acts {
		switch a := a.(type) {
		case InstallRoute:
			r.routes[a.Instance+" "+a.Route.Prefix.String()] = a.Route
		case RemoveRoute:
			delete(r.routes, a.Instance+" "+a.Prefix.String())
		case ProgramLabel:
			r.labels[a.Label] = a.Instance
		case RemoveLabel:
			delete(r.labels, a.Label)
		case WatchNextHop:
			st := NextHopState{Instance: a.Instance, Addr: a.Addr, Reachable: true, Tunnel: true, Cost: 1}
			go r.svc.NextHop(context.Background(), st)
		}
	}
}

func (r *fakeRIB) route(inst, prefix string) (Route, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rt, ok := r.routes[inst+" "+prefix]
	return rt, ok
}

func (r *fakeRIB) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, k := range sortedNames(r.routes) {
		fmt.Fprintf(&b, "%s %+v\n", k, r.routes[k])
	}
	return b.String()
}

// runService starts a Service whose instances live in the namespaces
// given (instance name → namespace).
func (l *netLab) runService(name string, namespaces map[string]string, rib *fakeRIB) *Service {
	l.tb.Helper()
	var lg *slog.Logger
	if testing.Verbose() {
		lg = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	}
	svc := NewService(ServiceConfig{
		Logger: lg, Labels: label.New(), RIB: rib,
		Namespace: func(inst string) string { return l.path(namespaces[inst]) },
	})
	rib.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Serve(ctx)
	}()
	l.tb.Cleanup(func() {
		cancel()
		<-done
	})
	return svc
}

func peersState(svc *Service) (string, map[PeerKey]PeerSnapshot) {
	ps, err := svc.Peers(context.Background())
	if err != nil {
		return err.Error(), nil
	}
	m := map[PeerKey]PeerSnapshot{}
	var b strings.Builder
	for _, p := range ps {
		m[p.Key] = p
		fmt.Fprintf(&b, "%s %s %s (%s)\n", p.Key, p.State, p.Families, p.LastError)
	}
	return b.String(), m
}

func waitEstablished(tb testing.TB, svc *Service, keys ...PeerKey) {
	tb.Helper()
	poll(tb, "sessions Established", 30*time.Second, func() (string, bool) {
		s, m := peersState(svc)
		for _, k := range keys {
			if m[k].State != Established {
				return s, false
			}
		}
		return s, true
	})
}

var _ = net.IPv4len
var _ = netip.Addr{}
