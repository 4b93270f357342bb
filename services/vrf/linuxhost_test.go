package vrf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"vpnos/services/nsutil"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// vethAttacher stands in for the forwarder: it creates a veth pair and puts
// one end, named as the port, into the instance namespace.
type vethAttacher struct{ t *testing.T }

func (v vethAttacher) AttachPort(ctx context.Context, kernel, instance string, ns netns.NsHandle) error {
	peer := "vt-vrf-" + kernel
	_ = exec.Command("ip", "link", "del", peer).Run()
	tmp := "vt-vrfx-" + kernel
	if out, err := exec.Command("ip", "link", "add", peer, "type", "veth", "peer", "name", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	v.t.Cleanup(func() { _ = exec.Command("ip", "link", "del", peer).Run() })
	return nsutil.MoveLink(tmp, ns, kernel, true)
}

func (v vethAttacher) DetachPort(ctx context.Context, kernel string) error { return nil }

func (v vethAttacher) AddInstance(ctx context.Context, instance string, ns netns.NsHandle) error {
	return nil
}

func (v vethAttacher) RemoveInstance(ctx context.Context, instance string) error { return nil }

func nsenter(t *testing.T, h *LinuxHost, instance string, args ...string) (string, error) {
	t.Helper()
	n, ok := h.Namespace(instance)
	if !ok {
		t.Fatalf("no instance %s", instance)
	}
	path := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(n))
	out, err := exec.Command("nsenter", append([]string{"--net=" + path}, args...)...).CombinedOutput()
	return string(out), err
}

func TestLinuxHostInstancesAreIsolated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	ctx := context.Background()
	h := NewLinuxHost(slog.New(slog.NewTextHandler(io.Discard, nil)), vethAttacher{t})
	for _, n := range []string{"red", "blue"} {
		if err := h.CreateInstance(ctx, n); err != nil {
			t.Fatal(err)
		}
		defer h.DeleteInstance(ctx, n)
	}
	// The same address on a LoopBack in both instances.
	same := []netip.Prefix{netip.MustParsePrefix("10.1.1.1/32")}
	if err := h.SetAddresses(ctx, "red", "LoopBack1", "", true, same); err != nil {
		t.Fatal(err)
	}
	if err := h.SetAddresses(ctx, "blue", "LoopBack2", "", true, same); err != nil {
		t.Fatal(err)
	}
	if err := h.SetAddresses(ctx, "blue", "LoopBack3", "", true, []netip.Prefix{netip.MustParsePrefix("10.3.3.3/32")}); err != nil {
		t.Fatal(err)
	}
	// Each instance's kernel answers for its own addresses only.
	if out, err := nsenter(t, h, "red", "ping", "-c1", "-W1", "10.1.1.1"); err != nil {
		t.Fatalf("red cannot reach its loopback: %v\n%s", err, out)
	}
	if _, err := nsenter(t, h, "red", "ping", "-c1", "-W1", "10.3.3.3"); err == nil {
		t.Fatal("red reaches blue's address")
	}
	// Removing one LoopBack leaves lo's other addresses alone.
	if err := h.SetAddresses(ctx, "blue", "LoopBack2", "", true, nil); err != nil {
		t.Fatal(err)
	}
	out, _ := nsenter(t, h, "blue", "ip", "-4", "-o", "addr", "show", "dev", "lo")
	if strings.Contains(out, "10.1.1.1") || !strings.Contains(out, "10.3.3.3") || !strings.Contains(out, "127.0.0.1") {
		t.Fatalf("blue lo after removing LoopBack2:\n%s", out)
	}
	// A port's host side gets exactly the configured addresses.
	if err := h.BindPort(ctx, "eth7", "red"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetAddresses(ctx, "red", "GigabitEthernet0/7/0", "eth7", false, []netip.Prefix{netip.MustParsePrefix("192.0.2.1/30")}); err != nil {
		t.Fatal(err)
	}
	if err := h.SetAddresses(ctx, "red", "GigabitEthernet0/7/0", "eth7", false, []netip.Prefix{netip.MustParsePrefix("192.0.2.5/30")}); err != nil {
		t.Fatal(err)
	}
	out, _ = nsenter(t, h, "red", "ip", "-4", "-o", "addr", "show", "dev", "eth7")
	if strings.Contains(out, "192.0.2.1/30") || !strings.Contains(out, "192.0.2.5/30") {
		t.Fatalf("eth7 in red:\n%s", out)
	}
	// The port is not visible in the daemon's own namespace.
	if _, err := netlink.LinkByName("eth7"); err == nil {
		t.Fatal("eth7 leaked into the daemon's namespace")
	}
	// Sysctls of an instance (where /proc/sys is writable).
	for key, want := range map[string]string{
		"ip_forward":     "0",   // IPv4 forwarding is off in an instance
		"ip_default_ttl": "255", // the router answers with TTL 255
		"icmp_ratelimit": "0",   // ICMP errors (tracert's last hop) are not limited per destination
	} {
		if out, _ := nsenter(t, h, "red", "cat", "/proc/sys/net/ipv4/"+key); strings.TrimSpace(out) != want {
			t.Errorf("%s in red = %q, want %s", key, out, want)
		}
	}
}
