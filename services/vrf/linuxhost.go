package vrf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vpnos/services/nsutil"
)

// PortAttacher is the forwarder's side of instances and ports: it gives an
// instance's kernel a way into the FIB for the router's own traffic, gives
// each port a host interface (named as the port) inside its instance's
// namespace, and moves it when the port changes instance.
type PortAttacher interface {
	AddInstance(ctx context.Context, instance string, ns netns.NsHandle) error
	RemoveInstance(ctx context.Context, instance string) error
	AttachPort(ctx context.Context, kernel string, instance string, ns netns.NsHandle) error
	DetachPort(ctx context.Context, kernel string) error
}

// LinuxHost keeps one network namespace per instance, held by an open file
// descriptor: nothing is mounted, and when the daemon dies its instances go
// with it (the restarted daemon rebuilds them from the configuration).
type LinuxHost struct {
	Log      *slog.Logger
	Attacher PortAttacher

	mu sync.Mutex
	ns map[string]netns.NsHandle
	// loopback addresses set per LoopBack name, per instance (they share lo).
	lo map[string]map[string][]netip.Prefix
}

// NewLinuxHost makes a host.
func NewLinuxHost(log *slog.Logger, a PortAttacher) *LinuxHost {
	return &LinuxHost{Log: log, Attacher: a, ns: map[string]netns.NsHandle{}, lo: map[string]map[string][]netip.Prefix{}}
}

// Namespace returns the handle of an instance's namespace (do not close it).
func (h *LinuxHost) Namespace(instance string) (netns.NsHandle, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.ns[instance]
	return n, ok
}

// Do runs f on a thread inside the instance's namespace.
func (h *LinuxHost) Do(instance string, f func() error) error {
	n, ok := h.Namespace(instance)
	if !ok {
		return fmt.Errorf("no instance %q", instance)
	}
	return nsutil.DoHandle(n, f)
}

// CreateInstance makes a namespace with lo up and IPv4 forwarding off (the
// kernel of an instance must never forward transit itself).
func (h *LinuxHost) CreateInstance(ctx context.Context, name string) error {
	h.mu.Lock()
	_, exists := h.ns[name]
	h.mu.Unlock()
	if exists {
		return nil
	}
	n, err := nsutil.New()
	if err != nil {
		return fmt.Errorf("instance %s: %w", name, err)
	}
	if err := nsutil.DoHandle(n, func() error { setSysctls(h.Log, name); return nil }); err != nil {
		n.Close()
		return fmt.Errorf("instance %s: %w", name, err)
	}
	if err := h.Attacher.AddInstance(ctx, name, n); err != nil {
		n.Close()
		return err
	}
	h.mu.Lock()
	h.ns[name] = n
	h.mu.Unlock()
	h.Log.Info("instance host stack created", "instance", name)
	return nil
}

// setSysctls runs inside an instance's new namespace.
func setSysctls(log *slog.Logger, name string) {
	for _, s := range []struct{ key, val string }{
		{"net/ipv4/ip_forward", "0"},
		{"net/ipv4/conf/all/send_redirects", "0"},
		{"net/ipv4/conf/default/send_redirects", "0"},
		// Routers answer with TTL 255 (ping shows 255 minus the hops).
		{"net/ipv4/ip_default_ttl", "255"},
		// No per-destination limit on ICMP errors (Linux: a burst of 6,
		// then one a second), which made the last hop of a tracert repeated
		// within seconds time out; the global limit (icmp_msgs_per_sec)
		// still bounds them.
		{"net/ipv4/icmp_ratelimit", "0"},
	} {
		// /proc/sys is read-only in unprivileged containers (the daemon
		// remounts it when it can); the forwarder never hands transit to an
		// instance's kernel, so this is a second line of defence only.
		if err := nsutil.WriteSysctl(s.key, s.val); err != nil {
			log.Debug("cannot set sysctl in instance namespace", "instance", name, "err", err)
		}
	}
}

// DeleteInstance closes the namespace; the kernel frees it when the last
// interface and socket in it are gone.
func (h *LinuxHost) DeleteInstance(ctx context.Context, name string) error {
	h.mu.Lock()
	n, ok := h.ns[name]
	delete(h.ns, name)
	delete(h.lo, name)
	h.mu.Unlock()
	if !ok {
		return nil
	}
	err := h.Attacher.RemoveInstance(ctx, name)
	n.Close()
	h.Log.Info("instance host stack removed", "instance", name)
	return err
}

// BindPort gives the port a host interface in the instance.
func (h *LinuxHost) BindPort(ctx context.Context, kernel, instance string) error {
	n, ok := h.Namespace(instance)
	if !ok {
		return fmt.Errorf("bind %s: no instance %q", kernel, instance)
	}
	return h.Attacher.AttachPort(ctx, kernel, instance, n)
}

// UnbindPort takes the port's host interface away.
func (h *LinuxHost) UnbindPort(ctx context.Context, kernel string) error {
	return h.Attacher.DetachPort(ctx, kernel)
}

// SetLink sets the physical port administratively up or down, so that the
// neighbour sees the link go down on shutdown, as on a real router.
func (h *LinuxHost) SetLink(ctx context.Context, kernel string, up bool) error {
	l, err := netlink.LinkByName(kernel)
	if err != nil {
		return fmt.Errorf("link %s: %w", kernel, err)
	}
	if up {
		return netlink.LinkSetUp(l)
	}
	return netlink.LinkSetDown(l)
}

// SetAddresses sets exactly addrs on the interface's host side.
func (h *LinuxHost) SetAddresses(ctx context.Context, instance, vrpName, kernel string, loopback bool, addrs []netip.Prefix) error {
	n, ok := h.Namespace(instance)
	if !ok {
		return fmt.Errorf("addresses of %s: no instance %q", vrpName, instance)
	}
	nh, err := netlink.NewHandleAt(n)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", instance, err)
	}
	defer nh.Close()
	if loopback {
		return h.setLoopback(nh, instance, vrpName, addrs)
	}
	link, err := nh.LinkByName(kernel)
	if err != nil {
		return fmt.Errorf("host interface %s in %s: %w", kernel, instance, err)
	}
	cur, err := nh.AddrList(link, unix.AF_INET)
	if err != nil {
		return err
	}
	return syncAddrs(nh, link, cur, addrs, func(netlink.Addr) bool { return true })
}

func (h *LinuxHost) setLoopback(nh *netlink.Handle, instance, vrpName string, addrs []netip.Prefix) error {
	link, err := nh.LinkByName("lo")
	if err != nil {
		return err
	}
	h.mu.Lock()
	if h.lo[instance] == nil {
		h.lo[instance] = map[string][]netip.Prefix{}
	}
	mine := map[netip.Prefix]bool{}
	for _, p := range h.lo[instance][vrpName] {
		mine[p] = true
	}
	h.lo[instance][vrpName] = append([]netip.Prefix(nil), addrs...)
	h.mu.Unlock()
	cur, err := nh.AddrList(link, unix.AF_INET)
	if err != nil {
		return err
	}
	// Only touch the addresses this LoopBack owns (lo also holds 127.0.0.1
	// and the other LoopBacks' addresses).
	return syncAddrs(nh, link, cur, addrs, func(a netlink.Addr) bool { return mine[toPrefix(a.IPNet)] })
}

func toPrefix(n *net.IPNet) netip.Prefix {
	ip, _ := netip.AddrFromSlice(n.IP.To4())
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ip, ones)
}

func syncAddrs(nh *netlink.Handle, link netlink.Link, cur []netlink.Addr, want []netip.Prefix, owned func(netlink.Addr) bool) error {
	wantSet := map[netip.Prefix]bool{}
	for _, p := range want {
		wantSet[p] = true
	}
	have := map[netip.Prefix]bool{}
	var errs []error
	for _, a := range cur {
		p := toPrefix(a.IPNet)
		have[p] = true
		if !wantSet[p] && owned(a) {
			if err := nh.AddrDel(link, &a); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
			}
		}
	}
	for _, p := range want {
		if have[p] {
			continue
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
		if err := nh.AddrAdd(link, a); err != nil {
			errs = append(errs, fmt.Errorf("add %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
