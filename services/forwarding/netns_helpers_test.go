package forwarding

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vpnos/services/forwarding/packet"
	"vpnos/services/nsutil"
)

const nsDir = "/run/netns"

func needRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for network namespaces")
	}
}

// lab is a set of namespaces created by a test, deleted at the end.
type lab struct {
	tb    testing.TB
	names []string
	path  map[string]string
}

func newLab(tb testing.TB, names ...string) *lab {
	tb.Helper()
	l := &lab{tb: tb, names: names, path: map[string]string{}}
	for _, n := range names {
		_ = nsutil.Delete(nsDir, n) // left over from a crashed run
	}
	for _, n := range names {
		p, err := nsutil.Create(nsDir, n)
		if err != nil {
			l.close()
			tb.Fatal(err)
		}
		l.path[n] = p
	}
	tb.Cleanup(l.close)
	return l
}

func (l *lab) close() {
	for _, n := range l.names {
		_ = nsutil.Delete(nsDir, n)
	}
}

// do runs fn in namespace ns, failing the test on error.
func (l *lab) do(ns string, fn func() error) {
	l.tb.Helper()
	if err := nsutil.Do(l.path[ns], fn); err != nil {
		l.tb.Fatalf("in %s: %v", ns, err)
	}
}

// veth creates a veth pair nameA (in nsA) - nameB (in nsB), both up.
func (l *lab) veth(nsA, nameA, nsB, nameB string) {
	l.tb.Helper()
	h, err := netns.GetFromPath(l.path[nsB])
	if err != nil {
		l.tb.Fatal(err)
	}
	defer h.Close()
	l.do(nsA, func() error {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB, PeerNamespace: netlink.NsFd(int(h))}
		if err := netlink.LinkAdd(v); err != nil {
			return fmt.Errorf("veth %s-%s: %w", nameA, nameB, err)
		}
		return linkUp(nameA)
	})
	l.do(nsB, func() error { return linkUp(nameB) })
}

func linkUp(name string) error {
	lk, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	return netlink.LinkSetUp(lk)
}

// addr adds an address to a link in ns.
func (l *lab) addr(ns, link, cidr string) {
	l.tb.Helper()
	l.do(ns, func() error {
		lk, err := netlink.LinkByName(link)
		if err != nil {
			return err
		}
		a, err := netlink.ParseAddr(cidr)
		if err != nil {
			return err
		}
		return netlink.AddrAdd(lk, a)
	})
}

// defaultRoute sets the default route of ns via gw.
func (l *lab) defaultRoute(ns, gw string) {
	l.tb.Helper()
	l.do(ns, func() error {
		return netlink.RouteAdd(&netlink.Route{Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}, Gw: net.ParseIP(gw)})
	})
}

func (l *lab) mac(ns, link string) packet.MAC {
	l.tb.Helper()
	var m packet.MAC
	l.do(ns, func() error {
		lk, err := netlink.LinkByName(link)
		if err != nil {
			return err
		}
		copy(m[:], lk.Attrs().HardwareAddr)
		return nil
	})
	return m
}

// ping runs ping in ns and reports whether a reply came back, with its output.
func (l *lab) ping(ns string, args ...string) (bool, string) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "ping", "-n"}, args...)...)
	out, err := cmd.CombinedOutput()
	return err == nil, string(out)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(tb testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not reached within %v: %s", what, d, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// capture is an AF_PACKET socket on one link of a namespace.
type capture struct {
	fd int
}

func (l *lab) capture(ns, link string) *capture {
	l.tb.Helper()
	c := &capture{fd: -1}
	l.do(ns, func() error {
		lk, err := netlink.LinkByName(link)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: lk.Attrs().Index}); err != nil {
			unix.Close(fd)
			return err
		}
		tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		c.fd = fd
		return nil
	})
	l.tb.Cleanup(func() { unix.Close(c.fd) })
	return c
}

// wait returns the first received frame (incoming only) for which match
// holds, or nil after d.
func (c *capture) wait(d time.Duration, match func([]byte) bool) []byte {
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return nil
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if match(buf[:n]) {
			return append([]byte(nil), buf[:n]...)
		}
	}
	return nil
}

// send transmits a raw frame on the capture's link.
func (c *capture) send(frame []byte) error {
	_, err := unix.Write(c.fd, frame)
	return err
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

func startForwarder(tb testing.TB, opts Options) (*Forwarder, context.CancelFunc) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f, err := New(ctx, slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn})), opts)
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			tb.Errorf("Run: %v", err)
		}
		f.Close()
	}
	tb.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return f, stop
}

// tcpTransfer sends size bytes over TCP from namespace from to addr, served
// in namespace to, and checks that they arrive whole.
func (l *lab) tcpTransfer(t *testing.T, from, to, addr string, size int) {
	t.Helper()
	var ln net.Listener
	l.do(to, func() error {
		var err error
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	defer ln.Close()
	payload := bytes.Repeat([]byte("vpnos-forwarding"), size/16)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	var conn net.Conn
	l.do(from, func() error {
		var err error
		conn, err = net.DialTimeout("tcp4", addr, 3*time.Second)
		return err
	})
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := conn.Write(payload); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if b := <-got; !bytes.Equal(b, payload) {
		t.Fatalf("%s received %d bytes of %d", to, len(b), len(payload))
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// testWriter sends log output to the test log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
