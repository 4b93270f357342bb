package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vpnos/cli/ops"
	"vpnos/services/bgp"
	"vpnos/services/forwarding"
	"vpnos/services/iface"
	"vpnos/services/label"
	"vpnos/services/ldp"
	"vpnos/services/ospf"
	"vpnos/services/policy"
	"vpnos/services/rib"
	"vpnos/services/static"
	"vpnos/services/vrf"
	"vpnos/yang/datastore"
)

// routing is the forwarding plane and the services that feed it.
type routing struct {
	fwd       *forwarding.Forwarder
	rib       *rib.Service
	labels    *label.Manager
	host      *vrf.LinuxHost
	vrf       *vrf.Service
	static    *static.Participant
	vpnLabels *vrf.Labels
	ospf      *ospf.Service
	ospfPart  *ospf.Participant
	ldp       *ldp.Service
	// policy holds the applied routing policies (BGP and OSPF evaluate
	// them, the displays show them).
	policy *policy.Owner
	// bgp is the BGP speaker and bgpPart its participant.
	bgp     *bgp.Runner
	bgpPart *bgp.Participant
}

// addRouting builds the forwarder, the RIB, the routing instances and the
// static configuration, and adds them to the registry as services. The
// caller registers the participants on the datastore (services/owners).
func (d *Daemon) addRouting(ctx context.Context, store *datastore.Store) (*routing, error) {
	log := d.Log
	ensureWritableSysctl(log)
	if err := ensureTunDevice(); err != nil {
		return nil, err
	}
	fwd, err := forwarding.New(ctx, log.With("service", "forwarding"), forwarding.Options{})
	if err != nil {
		return nil, fmt.Errorf("forwarding: %w", err)
	}
	r := &routing{fwd: fwd, labels: label.New()}
	r.rib = rib.NewService(rib.ServiceConfig{Programmer: fwd, Logger: log.With("service", "rib")})
	r.host = vrf.NewLinuxHost(log.With("service", "vrf"), &attacher{fwd: fwd, attached: map[string]bool{}})
	naming := iface.Naming(d.Settings.InterfaceNaming)
	r.vrf = vrf.New(log.With("service", "vrf"), r.host, ribSink{rib: r.rib, log: log.With("service", "vrf")}, d.Ifaces, naming)
	r.static = &static.Participant{RIB: r.rib, Labels: r.labels, Log: log.With("service", "static")}
	r.vpnLabels = vrf.NewLabels(r.labels, r.rib, log.With("service", "vrf"))
	r.policy = policy.New(log.With("service", "policy"))

	r.vrf.SetLabels(r.vpnLabels)

	d.addOSPF(r, store)
	d.addBGP(r, store)

	d.Registry.Add("forwarding", nil, func(ctx context.Context, ready func()) error {
		ready()
		return fwd.Run(ctx)
	})
	d.Registry.Add("rib", []string{"forwarding"}, func(ctx context.Context, ready func()) error {
		ready()
		return r.rib.Serve(ctx)
	})
	d.Registry.Add("vrf", []string{"rib", "iface"}, func(ctx context.Context, ready func()) error {
		// A restarted vrf service starts again from the running configuration.
		return r.vrf.Run(ctx, store.Running(), func() {
			if err := r.static.Load(ctx, store.Running()); err != nil {
				log.Error("static configuration", "err", err)
			}
			if err := r.vpnLabels.Load(ctx); err != nil {
				log.Error("VPN instance labels", "err", err)
			}
			ready()
		})
	})
	return r, nil
}

// attacher adapts the forwarder's port plumbing to the vrf host: the first
// bind attaches the port, a later one moves it to another instance.
type attacher struct {
	fwd      *forwarding.Forwarder
	mu       sync.Mutex
	attached map[string]bool
}

func nsPath(ns netns.NsHandle) string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(ns)) }

func (a *attacher) AttachPort(ctx context.Context, kernel, instance string, ns netns.NsHandle) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.attached[kernel] {
		return a.fwd.MovePort(ctx, kernel, instance, nsPath(ns))
	}
	if err := a.fwd.AttachPort(ctx, kernel, instance, nsPath(ns)); err != nil {
		return err
	}
	a.attached[kernel] = true
	return nil
}

func (a *attacher) AddInstance(ctx context.Context, instance string, ns netns.NsHandle) error {
	return a.fwd.AddInstance(ctx, instance, nsPath(ns))
}

func (a *attacher) RemoveInstance(ctx context.Context, instance string) error {
	return a.fwd.RemoveInstance(ctx, instance)
}

func (a *attacher) DetachPort(ctx context.Context, kernel string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.attached[kernel] {
		return nil
	}
	delete(a.attached, kernel)
	return a.fwd.DetachPort(ctx, kernel)
}

// ensureWritableSysctl makes /proc/sys writable when a container runtime
// mounted it read-only (Docker does, unless privileged): the routing
// instances' namespaces need their own sysctls (no IPv4 forwarding in an
// instance's kernel, TTL 255). It needs CAP_SYS_ADMIN, which vpnos nodes have.
func ensureWritableSysctl(log interface{ Warn(string, ...any) }) {
	const probe = "/proc/sys/net/ipv4/ip_default_ttl"
	f, err := os.OpenFile(probe, os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		return
	}
	if !errors.Is(err, unix.EROFS) {
		return
	}
	if err := unix.Mount("", "/proc/sys", "", unix.MS_REMOUNT|unix.MS_BIND, ""); err != nil {
		log.Warn("/proc/sys is read-only; instance namespaces keep default sysctls", "err", err)
	}
}

// fwdCounters adapts the forwarder's per-port counters to ops.Counters.
type fwdCounters struct{ fwd *forwarding.Forwarder }

func (c fwdCounters) Counters(port string) (ops.PortCounters, bool) {
	x, ok := c.fwd.Counters(port)
	if !ok {
		return ops.PortCounters{}, false
	}
	return ops.PortCounters{RxPackets: x.RxPackets, RxBytes: x.RxBytes, RxDrops: x.Drops,
		TxPackets: x.TxPackets, TxBytes: x.TxBytes}, true
}

// ensureTunDevice creates /dev/net/tun when the container runtime did not
// (Docker gives a FROM scratch image no device node for it, while its device
// rules allow it): the forwarder's host interfaces are tap devices.
func ensureTunDevice() error {
	const path = "/dev/net/tun"
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll("/dev/net", 0o755); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(10, 200))); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create %s (the node needs the tun device): %w", path, err)
	}
	return nil
}
