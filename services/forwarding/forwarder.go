// Package forwarding is the userspace forwarding backend: it attaches to
// physical ports with AF_PACKET sockets (a TPACKET_V3 receive ring or
// recvmmsg, sendmmsg, virtio-net headers), gives every port a tap device in
// the network namespace of its routing instance so that instance's kernel
// owns the router's addresses, ARP, ICMP and TCP, and runs the pure
// forwarding decision of package dataplane between them, on one thread. It
// implements fibapi.Programmer.
//
// Frames arriving on a port that are addressed to the router go into the
// port's tap; frames the instance kernel writes to the tap go out of the
// port (along an LSP when the FIB labels the destination); everything else is
// forwarded by the dataplane. AddInstance gives an instance kernel a default
// route into the forwarder for its own traffic beyond connected subnets.
// See README.md for the behaviour in detail and the benchmark figures.
package forwarding

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/dataplane"
	"vpnos/services/forwarding/packet"
	"vpnos/services/nsutil"
)

// Options configure a Forwarder.
type Options struct {
	// PortNetNS is the path of the network namespace holding the physical
	// ports (the daemon's). Empty means the namespace of the calling thread
	// when the port is attached.
	PortNetNS string
	// Batch is the number of frames per recvmmsg/sendmmsg (default 64).
	Batch int
	// NoRxRing receives with recvmmsg only, never with a TPACKET_V3 ring.
	// The ring is faster (no per-batch copy or syscall) but holds each
	// frame up to a millisecond at low rates, maps 2 MB per port, and costs
	// CPU even when idle: the kernel retires its block on a timer every
	// millisecond, per port, whether frames come or not.
	NoRxRing bool
	// RxRingAlways gives every port its ring from the start. By default a
	// port receives with recvmmsg and takes a ring only while its traffic
	// is heavy (10,000 frames a second), going back to recvmmsg once it has
	// been quiet for 5 s: an idle node then costs no timer. The switch
	// loses and duplicates no frame (see Forwarder.switchRx). On a kernel
	// without what the switch needs, ports keep a ring from the start.
	RxRingAlways bool
	// PinCPU pins the forwarding loop's thread to CPU.
	PinCPU bool
	CPU    int
	// Dataplane tunes neighbour resolution and ICMP rate limits.
	Dataplane dataplane.Config
}

// Forwarder is the userspace forwarding backend.
type Forwarder struct {
	log  *slog.Logger
	opts Options

	progMu    sync.Mutex // one FIB batch at a time (see Program)
	mu        sync.Mutex
	dp        *dataplane.Dataplane
	ports     map[string]*port
	byID      []*port          // by dataplane id
	byToken   []*port          // epoll token >> 1 -> port (or instance tap)
	insts     map[string]*port // instance taps by instance
	dirty     []*port          // ports with queued transmit frames
	epfd      int
	closed    bool
	stopLinks chan struct{} // ends the link-state watch
	lastErr   time.Time
	noFanout  atomic.Bool // the kernel cannot switch ports between recvmmsg and a ring
}

type port struct {
	name       string
	id         int
	token      int32
	ifindex    int
	fd         int     // AF_PACKET
	rx         *rxRing // nil: recvmmsg
	group      int     // fanout group of fd, when switchable
	switchable bool    // fd is in a fanout group: the port can switch to or from its ring
	rxFrames   int     // frames received since the last tick
	quiet      int     // ticks in a row with few frames, while on the ring
	tap        int     // tap fd
	tapIndex   int
	instance   string
	ns         netns.NsHandle // the instance namespace, held open while attached
	instTap    bool           // an instance's forwarding tap, not a physical port
	mac        packet.MAC     // an instance tap's own MAC (frames punted into it carry it)
	carrier    bool           // last carrier mirrored onto the tap
	carrierSet bool
	ring       *ring
	dirty      bool
	stopAddr   chan struct{}
	addrs      map[netip.Prefix]bool
	txErrors   uint64
}

var _ fibapi.Programmer = (*Forwarder)(nil)

// New returns a forwarder with no ports. Run must be called to move packets.
func New(ctx context.Context, log *slog.Logger, opts Options) (*Forwarder, error) {
	if opts.Batch <= 0 {
		opts.Batch = 64
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	f := &Forwarder{
		log:       log,
		opts:      opts,
		dp:        dataplane.New(opts.Dataplane),
		ports:     make(map[string]*port),
		insts:     make(map[string]*port),
		epfd:      ep,
		stopLinks: make(chan struct{}),
	}
	if err := f.watchLinks(); err != nil {
		unix.Close(ep)
		return nil, err
	}
	return f, nil
}

// watchLinks follows the link state of the physical ports and mirrors their
// carrier onto their taps, so an instance kernel sees its interface go down
// with the port (connected routes and sessions over it go too).
func (f *Forwarder) watchLinks() error {
	ch := make(chan netlink.LinkUpdate, 64)
	opts := netlink.LinkSubscribeOptions{
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case <-f.stopLinks:
			default:
				f.log.Debug("link watch", "err", err)
			}
		},
	}
	if f.opts.PortNetNS != "" {
		h, err := netns.GetFromPath(f.opts.PortNetNS)
		if err != nil {
			return fmt.Errorf("port namespace %s: %w", f.opts.PortNetNS, err)
		}
		defer h.Close()
		opts.Namespace = &h
	}
	if err := netlink.LinkSubscribeWithOptions(ch, f.stopLinks, opts); err != nil {
		return fmt.Errorf("link watch: %w", err)
	}
	go func() {
		for u := range ch {
			a := u.Attrs()
			up := a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_LOWER_UP != 0
			f.mu.Lock()
			for _, p := range f.ports {
				if p.ifindex == a.Index && p.tap >= 0 && (p.carrier != up || !p.carrierSet) {
					p.carrier, p.carrierSet = up, true
					if err := setCarrier(p.tap, up); err != nil {
						f.log.Warn("tap carrier", "port", p.name, "err", err)
					}
				}
			}
			f.mu.Unlock()
		}
	}()
	return nil
}

// setCarrier switches the carrier of a tap (TUNSETCARRIER).
func setCarrier(tap int, up bool) error {
	v := 0
	if up {
		v = 1
	}
	return unix.IoctlSetPointerInt(tap, unix.TUNSETCARRIER, v)
}

// Program applies a FIB batch (fibapi.Programmer). Next hops may name ports
// that are attached later. The batch is checked whole before anything is
// applied (an invalid batch changes nothing), then applied in steps so that
// packets keep flowing meanwhile; batches are applied one after another.
func (f *Forwarder) Program(ctx context.Context, b fibapi.Batch) error {
	p, err := dataplane.Prepare(b)
	if err != nil {
		return fmt.Errorf("program fib: %w", err)
	}
	f.progMu.Lock()
	defer f.progMu.Unlock()
	for done := false; !done; {
		f.mu.Lock()
		done, err = f.dp.Apply(p, dataplane.ApplyStep)
		f.mu.Unlock()
		if err != nil {
			return fmt.Errorf("program fib: %w", err)
		}
	}
	return nil
}

// Counters returns the forwarding counters of a port.
func (f *Forwarder) Counters(name string) (dataplane.Counters, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, c, ok := f.dp.PortByName(name)
	if p := f.ports[name]; p != nil {
		c.TxErrors = p.txErrors
	}
	return c, ok
}

// PortAddrs returns the IPv4 addresses the forwarder currently knows for a
// port (learnt from its tap in the instance namespace).
func (f *Forwarder) PortAddrs(name string) []netip.Prefix {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, _, _ := f.dp.PortByName(name)
	return p.Addrs
}

// AttachPort starts forwarding on physical port name (a netdev in
// Options.PortNetNS) for routing instance instance, whose host stack is the
// network namespace at instanceNS. It creates a tap named like the port in
// instanceNS with the port's MAC and MTU (arp_ignore=1, IPv6 disabled until
// the caller enables it), brings both up, and keeps the
// addresses configured on the tap in step with the dataplane. The physical
// port's kernel in the daemon namespace never sees its traffic: a tc
// ingress filter drops every frame after the packet socket has its copy
// (and, should tc be unavailable, IPv6, forwarding and ARP replies are
// disabled on it). DetachPort removes the filter.
// errNoInstanceName: instances are named; the public one is fibapi.Public.
var errNoInstanceName = fmt.Errorf("forwarding: an instance without a name (the public instance is %s)", fibapi.Public)

func (f *Forwarder) AttachPort(ctx context.Context, name, instance, instanceNS string) error {
	if instance == "" {
		return errNoInstanceName
	}
	f.mu.Lock()
	_, exists := f.ports[name]
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return errors.New("forwarder closed")
	}
	if exists {
		return fmt.Errorf("port %s already attached", name)
	}
	ns, err := netns.GetFromPath(instanceNS)
	if err != nil {
		return fmt.Errorf("port %s: instance namespace %s: %w", name, instanceNS, err)
	}
	rg, err := newRing(f.opts.Batch, !f.opts.RxRingAlways)
	if err != nil {
		ns.Close()
		return fmt.Errorf("port %s: %w", name, err)
	}
	p := &port{name: name, instance: instance, ns: ns, fd: -1, tap: -1, ring: rg}
	var mac packet.MAC
	var mtu int
	err = nsutil.Do(f.opts.PortNetNS, func() error {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return fmt.Errorf("port %s: %w", name, err)
		}
		a := l.Attrs()
		if len(a.HardwareAddr) != 6 {
			return fmt.Errorf("port %s is not an Ethernet interface", name)
		}
		copy(mac[:], a.HardwareAddr)
		mtu = a.MTU
		p.ifindex = a.Index
		for _, s := range [][2]string{
			{"net/ipv6/conf/" + name + "/disable_ipv6", "1"},
			{"net/ipv4/conf/" + name + "/forwarding", "0"},
			{"net/ipv4/conf/" + name + "/arp_ignore", "8"},
			{"net/ipv4/conf/" + name + "/rp_filter", "1"},
		} {
			if err := nsutil.WriteSysctl(s[0], s[1]); err != nil {
				f.log.Warn("port sysctl", "port", name, "err", err)
			}
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("port %s up: %w", name, err)
		}
		if l, err := netlink.LinkByIndex(a.Index); err == nil {
			p.carrier = l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
		}
		if err := blockKernelIngress(a.Index); err != nil {
			f.log.Warn("port: kernel still sees its traffic", "port", name, "err", err)
		}
		p.fd, p.rx, p.group, p.switchable, err = f.openPortSocket(a.Index)
		return err
	})
	if err != nil {
		p.close()
		if p.ifindex != 0 {
			_ = nsutil.Do(f.opts.PortNetNS, func() error { return unblockKernelIngress(p.ifindex) })
		}
		return err
	}
	// undo releases what was set up so far when attaching fails.
	undo := func() {
		p.close()
		_ = nsutil.Do(f.opts.PortNetNS, func() error { return unblockKernelIngress(p.ifindex) })
	}
	if err := f.createTap(p, mac, mtu); err != nil {
		undo()
		return err
	}
	if err := setCarrier(p.tap, p.carrier); err != nil {
		f.log.Warn("tap carrier", "port", name, "err", err)
	}
	p.carrierSet = true
	if testHookAttachUnregistered != nil {
		testHookAttachUnregistered(name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.ports[name]; ok || f.closed {
		undo()
		return fmt.Errorf("port %s already attached", name)
	}
	id, err := f.dp.AddPort(name, mac, mtu, instance)
	if err != nil {
		undo()
		return err
	}
	p.id = id
	for len(f.byID) <= id {
		f.byID = append(f.byID, nil)
	}
	f.byID[id] = p
	f.allocToken(p)
	if err := f.watch(p); err != nil {
		f.dropPortLocked(p)
		return err
	}
	f.ports[name] = p
	f.syncCarrierLocked(p)
	f.startAddrWatch(p)
	f.log.Info("port attached", "port", name, "instance", instance, "mac", mac.String(), "mtu", mtu)
	return nil
}

// openPortSocket opens a port's packet socket as the options say: with a
// ring from the start, never, or (by default) on recvmmsg in a fanout group
// of its own, ready to switch.
func (f *Forwarder) openPortSocket(ifindex int) (fd int, rx *rxRing, group int, switchable bool, err error) {
	switch {
	case f.opts.NoRxRing:
		fd, rx, _, err = openPacketSocket(ifindex, false, -1)
		return fd, rx, 0, false, err
	case f.opts.RxRingAlways || f.noFanout.Load():
		fd, rx, _, err = openPacketSocket(ifindex, true, -1)
		return fd, rx, 0, false, err
	}
	fd, rx, group, err = openPacketSocket(ifindex, false, newGroup)
	if errors.Is(err, errNoFanout) {
		if !f.noFanout.Swap(true) {
			f.log.Info("ports keep a receive ring from the start: the kernel cannot switch them", "err", err)
		}
		fd, rx, _, err = openPacketSocket(ifindex, true, -1)
		return fd, rx, 0, false, err
	}
	return fd, rx, group, err == nil, err
}

// Ring switching thresholds, per 100 ms tick (tests shorten ringIdle).
var (
	// ringOnFrames frames received in one tick move a port onto its ring
	// (10,000 frames a second).
	ringOnFrames = 1000
	// ringIdle ticks in a row (5 s) with fewer than ringQuietFrames frames
	// move it back to recvmmsg.
	ringIdle        = 50
	ringQuietFrames = 100
)

// Ticks of the forwarding loop: every tickBusy while frames flow, a port is
// on its ring or a neighbour is being resolved; every tickIdle otherwise.
const (
	tickBusy = 100 * time.Millisecond
	tickIdle = time.Second
)

// adaptRx moves ports between recvmmsg and their ring as their traffic asks
// (each tick, from Run; f.mu is held); since is the time since the last
// tick. It tells whether a port received frames or is on its ring.
func (f *Forwarder) adaptRx(since time.Duration) (busy bool) {
	for _, p := range f.ports {
		// frames per tickBusy
		n := int(int64(p.rxFrames) * int64(tickBusy) / int64(max(since, tickBusy)))
		busy = busy || p.rxFrames > 0 || p.rx != nil
		p.rxFrames = 0
		if !p.switchable {
			continue
		}
		switch {
		case p.rx == nil && n >= ringOnFrames:
			f.switchRx(p, true)
		case p.rx != nil && n < ringQuietFrames:
			if p.quiet++; p.quiet >= ringIdle {
				f.switchRx(p, false)
			}
		default:
			p.quiet = 0
		}
	}
	return busy
}

// switchRx moves a port's receiving onto a new socket, with a ring or
// without, and closes the old one. The new socket joins the old one's
// fanout group; one swap of the group's program moves every later frame to
// it (the kernel returns once no frame is still on its way to the old one);
// what the old socket holds is forwarded before it is closed. So no frame
// is lost or seen twice, and frames keep their order. f.mu is held.
func (f *Forwarder) switchRx(p *port, ring bool) {
	f.flush() // queued frames may point into the old ring's blocks
	var fd, group int
	var rx *rxRing
	err := nsutil.Do(f.opts.PortNetNS, func() error {
		var err error
		fd, rx, group, err = openPacketSocket(p.ifindex, ring, p.group)
		return err
	})
	if err == nil {
		if err = attachFilter(fd, unix.PACKET_FANOUT_DATA, 1); err != nil {
			err = fmt.Errorf("PACKET_FANOUT_DATA: %w", err)
			rx.close()
			unix.Close(fd)
		}
	}
	if err != nil {
		f.log.Warn("port: cannot switch its way of receiving; it keeps the old one", "port", p.name, "ring", ring, "err", err)
		p.switchable = false
		return
	}
	// Every new frame goes to fd now: forward what the old socket holds
	// (a ring's current block is handed over when the kernel's timer
	// retires it, within rxRetireMs).
	now := time.Now()
	for deadline := now.Add(20 * time.Millisecond); ; {
		before := p.rxFrames
		f.readPort(now, p)
		if p.rx != nil && p.rx.pending() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			continue
		}
		if p.rx == nil && p.rxFrames-before >= 16*len(p.ring.rxMsg) && time.Now().Before(deadline) {
			continue // readPort stopped at its budget: more is queued
		}
		break
	}
	_ = unix.EpollCtl(f.epfd, unix.EPOLL_CTL_DEL, p.fd, nil)
	unix.Close(p.fd)
	p.rx.close()
	p.fd, p.rx, p.group, p.quiet = fd, rx, group, 0
	// The group has one member again, at index 0.
	if err := attachFilter(fd, unix.PACKET_FANOUT_DATA, 0); err != nil {
		f.log.Warn("port: fanout program", "port", p.name, "err", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: p.token << 1}
	if err := unix.EpollCtl(f.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		f.log.Error("port: epoll add after switching", "port", p.name, "err", err)
	}
	f.log.Debug("port receives", "port", p.name, "ring", ring)
}

// RxRing tells whether a port receives with its ring now (tests).
func (f *Forwarder) RxRing(port string) (ring, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.ports[port]
	if p == nil {
		return false, false
	}
	return p.rx != nil, true
}

// testHookAttachUnregistered, when set by a test, runs in AttachPort after
// the port's carrier was read and before the port is registered.
var testHookAttachUnregistered func(port string)

// syncCarrierLocked mirrors the port's carrier, read now, onto its tap;
// f.mu is held. AttachPort calls it once the port is registered: a carrier
// change between AttachPort's first reading and the registration reached the
// link watcher while it did not know the port (a veth whose peer comes up as
// the port is attached, as when containers are wired), and would otherwise
// leave the tap without carrier for good. Later changes find the port
// registered (the watcher needs f.mu too).
func (f *Forwarder) syncCarrierLocked(p *port) {
	var up bool
	err := nsutil.Do(f.opts.PortNetNS, func() error {
		l, err := netlink.LinkByIndex(p.ifindex)
		if err != nil {
			return err
		}
		a := l.Attrs()
		up = a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_LOWER_UP != 0
		return nil
	})
	if err != nil {
		f.log.Warn("tap carrier", "port", p.name, "err", err)
		return
	}
	if up != p.carrier {
		p.carrier = up
		if err := setCarrier(p.tap, up); err != nil {
			f.log.Warn("tap carrier", "port", p.name, "err", err)
		}
	}
}

// allocToken gives p an epoll token; f.mu is held.
func (f *Forwarder) allocToken(p *port) {
	p.token = int32(len(f.byToken))
	for i, q := range f.byToken {
		if q == nil {
			p.token = int32(i)
			break
		}
	}
	if int(p.token) == len(f.byToken) {
		f.byToken = append(f.byToken, p)
	} else {
		f.byToken[p.token] = p
	}
}

// InstanceTap is the device AddInstance creates in an instance namespace.
const InstanceTap = "fwd0"

// AddInstance gives the host stack of an instance a way into the FIB: a
// tap named InstanceTap in instanceNS (no ARP, no IPv6) with a default route
// of metric 1,000,000 through it, so everything the instance kernel sends
// beyond its connected subnets (ping and tracert from the router, sessions to
// remote loopbacks, replies to them) is routed by the forwarder in the
// instance's FIB, over LSPs where the FIB says so. Routes the caller installs
// in that kernel with a lower metric win.
func (f *Forwarder) AddInstance(ctx context.Context, instance, instanceNS string) error {
	if instance == "" {
		return errNoInstanceName
	}
	f.mu.Lock()
	_, exists := f.insts[instance]
	f.mu.Unlock()
	if exists {
		return fmt.Errorf("instance %s already added", instance)
	}
	ns, err := netns.GetFromPath(instanceNS)
	if err != nil {
		return fmt.Errorf("instance %s: namespace %s: %w", instance, instanceNS, err)
	}
	rg, err := newRing(f.opts.Batch, false)
	if err != nil {
		ns.Close()
		return fmt.Errorf("instance %s: %w", instance, err)
	}
	p := &port{name: InstanceTap, instance: instance, ns: ns, fd: -1, tap: -1, id: -1, instTap: true, ring: rg}
	err = nsutil.DoHandle(ns, func() error {
		fd, err := openTap(InstanceTap)
		if err != nil {
			return err
		}
		p.tap = fd
		if err := nsutil.WriteSysctl("net/ipv6/conf/"+InstanceTap+"/disable_ipv6", "1"); err != nil {
			f.log.Debug("instance tap", "instance", instance, "err", err)
		}
		l, err := netlink.LinkByName(InstanceTap)
		if err != nil {
			return err
		}
		copy(p.mac[:], l.Attrs().HardwareAddr)
		if err := netlink.LinkSetARPOff(l); err != nil {
			return fmt.Errorf("%s noarp: %w", InstanceTap, err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("%s up: %w", InstanceTap, err)
		}
		def := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)},
			Scope: netlink.SCOPE_LINK, Priority: 1_000_000}
		if err := netlink.RouteReplace(def); err != nil {
			return fmt.Errorf("default route via %s: %w", InstanceTap, err)
		}
		return nil
	})
	if err != nil {
		p.close()
		return fmt.Errorf("instance %s: %w", instance, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.insts[instance]; ok || f.closed {
		p.close()
		return fmt.Errorf("instance %s already added", instance)
	}
	f.allocToken(p)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: p.token<<1 | 1}
	if err := unix.EpollCtl(f.epfd, unix.EPOLL_CTL_ADD, p.tap, &ev); err != nil {
		f.byToken[p.token] = nil
		p.close()
		return fmt.Errorf("epoll add %s: %w", InstanceTap, err)
	}
	f.insts[instance] = p
	f.log.Info("instance tap added", "instance", instance)
	return nil
}

// RemoveInstance removes the instance's forwarding tap (and with it the
// default route through it).
func (f *Forwarder) RemoveInstance(ctx context.Context, instance string) error {
	if instance == "" {
		return errNoInstanceName
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.insts[instance]
	if p == nil {
		return fmt.Errorf("instance %s not added", instance)
	}
	f.dropInstanceLocked(p)
	return nil
}

func (f *Forwarder) dropInstanceLocked(p *port) {
	unix.EpollCtl(f.epfd, unix.EPOLL_CTL_DEL, p.tap, nil)
	f.byToken[p.token] = nil
	delete(f.insts, p.instance)
	p.close()
}

// createTap creates the port's tap in its instance namespace.
func (f *Forwarder) createTap(p *port, mac packet.MAC, mtu int) error {
	return nsutil.DoHandle(p.ns, func() error {
		fd, err := openTap(p.name)
		if err != nil {
			return err
		}
		if err := setupTap(p.name, mac, mtu, &p.tapIndex); err != nil {
			unix.Close(fd)
			return err
		}
		p.tap = fd
		return nil
	})
}

func setupTap(name string, mac packet.MAC, mtu int, index *int) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("tap %s: %w", name, err)
	}
	if mac != (packet.MAC{}) {
		if err := netlink.LinkSetHardwareAddr(l, net.HardwareAddr(mac[:])); err != nil {
			return fmt.Errorf("tap %s mac: %w", name, err)
		}
	}
	if mtu > 0 {
		if err := netlink.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("tap %s mtu: %w", name, err)
		}
	}
	// A router interface answers ARP only for its own addresses, and has no
	// IPv6 until configured (no router solicitations on the wire). Best
	// effort: /proc/sys may be read-only in a container.
	_ = nsutil.WriteSysctl("net/ipv4/conf/"+name+"/arp_ignore", "1")
	_ = nsutil.WriteSysctl("net/ipv6/conf/"+name+"/disable_ipv6", "1")
	// MPLS echo requests (LSP ping) are addressed to 127.0.0.1: the
	// dataplane punts those, and no other packet to 127/8 (see
	// dataplane/echo.go).
	_ = nsutil.WriteSysctl("net/ipv4/conf/"+name+"/route_localnet", "1")
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("tap %s up: %w", name, err)
	}
	*index = l.Attrs().Index
	return nil
}

func (f *Forwarder) watch(p *port) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: p.token << 1}
	if err := unix.EpollCtl(f.epfd, unix.EPOLL_CTL_ADD, p.fd, &ev); err != nil {
		return fmt.Errorf("epoll add %s: %w", p.name, err)
	}
	ev = unix.EpollEvent{Events: unix.EPOLLIN, Fd: p.token<<1 | 1}
	if err := unix.EpollCtl(f.epfd, unix.EPOLL_CTL_ADD, p.tap, &ev); err != nil {
		unix.EpollCtl(f.epfd, unix.EPOLL_CTL_DEL, p.fd, nil)
		return fmt.Errorf("epoll add tap %s: %w", p.name, err)
	}
	return nil
}

func (p *port) close() {
	if p.stopAddr != nil {
		close(p.stopAddr)
		p.stopAddr = nil
	}
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
	p.rx.close()
	p.ring.free()
	if p.tap >= 0 {
		unix.Close(p.tap)
		p.tap = -1
	}
	if p.ns.IsOpen() {
		p.ns.Close()
		p.ns = netns.None()
	}
}

// sameNS reports whether two handles refer to the same namespace.
func sameNS(a, b netns.NsHandle) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Fstat(int(a), &sa); err != nil {
		return false, err
	}
	if err := unix.Fstat(int(b), &sb); err != nil {
		return false, err
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// dropPortLocked forgets a port; f.mu is held.
func (f *Forwarder) dropPortLocked(p *port) {
	unix.EpollCtl(f.epfd, unix.EPOLL_CTL_DEL, p.fd, nil)
	unix.EpollCtl(f.epfd, unix.EPOLL_CTL_DEL, p.tap, nil)
	_ = f.dp.RemovePort(p.name)
	f.byID[p.id] = nil
	f.byToken[p.token] = nil
	f.dirty = slices.DeleteFunc(f.dirty, func(q *port) bool { return q == p })
	delete(f.ports, p.name)
	p.close()
	if err := nsutil.Do(f.opts.PortNetNS, func() error { return unblockKernelIngress(p.ifindex) }); err != nil {
		f.log.Warn("port: removing ingress filter", "port", p.name, "err", err)
	}
}

// DetachPort stops forwarding on a port and removes its tap.
func (f *Forwarder) DetachPort(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.ports[name]
	if p == nil {
		return fmt.Errorf("port %s not attached", name)
	}
	f.dropPortLocked(p)
	f.log.Info("port detached", "port", name)
	return nil
}

// MovePort binds a port to another routing instance: its tap moves to
// instanceNS (the kernel clears its addresses on the way, as `ip binding
// vpn-instance` requires) and the dataplane forgets its addresses and
// neighbours.
func (f *Forwarder) MovePort(ctx context.Context, name, instance, instanceNS string) error {
	if instance == "" {
		return errNoInstanceName
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.ports[name]
	if p == nil {
		return fmt.Errorf("port %s not attached", name)
	}
	target, err := netns.GetFromPath(instanceNS)
	if err != nil {
		return fmt.Errorf("instance namespace %s: %w", instanceNS, err)
	}
	if same, _ := sameNS(p.ns, target); !same {
		err = nsutil.DoHandle(p.ns, func() error { return nsutil.MoveLink(p.name, target, "", false) })
		if err != nil {
			target.Close()
			return fmt.Errorf("move tap %s: %w", name, err)
		}
		port, _, _ := f.dp.PortByName(name)
		if err := nsutil.DoHandle(target, func() error { return setupTap(p.name, port.MAC, port.MTU, &p.tapIndex) }); err != nil {
			target.Close()
			return err
		}
	}
	if p.stopAddr != nil {
		close(p.stopAddr)
		p.stopAddr = nil
	}
	p.ns.Close()
	p.ns, p.instance = target, instance
	if err := f.dp.SetPortInstance(name, instance); err != nil {
		return err
	}
	f.startAddrWatch(p)
	f.log.Info("port moved", "port", name, "instance", instance)
	return nil
}

// SetNeighbour installs a static ARP entry (never refreshed or aged) for
// addr on a port, e.g. for VRP's `arp static`.
func (f *Forwarder) SetNeighbour(ctx context.Context, port string, addr netip.Addr, mac net.HardwareAddr) error {
	if len(mac) != 6 || !addr.Is4() {
		return fmt.Errorf("static neighbour %v %v: need an IPv4 address and an Ethernet MAC", addr, mac)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.dp.SetNeighbour(time.Now(), port, addr, packet.MAC(mac), f)
	f.flush()
	return err
}

// SendLabelled sends an IPv4 packet the router built out of a port (kernel
// name) to the neighbour gw, under labels (outermost first, every one with
// TTL ttl; none: plain IPv4): how LSP ping and traceroute put their MPLS
// echo requests on an LSP. The neighbour is resolved as for forwarded
// packets.
func (f *Forwarder) SendLabelled(ctx context.Context, port string, gw netip.Addr, labels []uint32, ttl uint8, ip []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.dp.Originate(time.Now(), port, gw, labels, ttl, ip, f)
	f.flush()
	return err
}

// Neighbours lists the forwarder's neighbour (ARP) cache of a port.
func (f *Forwarder) Neighbours(port string) []dataplane.NeighbourEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dp.Neighbours(port)
}

// SetPortMTU changes the MTU of a port: the physical link, its tap and the
// dataplane's fragmentation threshold.
func (f *Forwarder) SetPortMTU(ctx context.Context, name string, mtu int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.ports[name]
	if p == nil {
		return fmt.Errorf("port %s not attached", name)
	}
	if mtu < 68 || mtu > 65535 {
		return fmt.Errorf("port %s: mtu %d out of range 68..65535", name, mtu)
	}
	set := func() error {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		return netlink.LinkSetMTU(l, mtu)
	}
	if err := nsutil.Do(f.opts.PortNetNS, set); err != nil {
		return fmt.Errorf("port %s mtu: %w", name, err)
	}
	if err := nsutil.DoHandle(p.ns, set); err != nil {
		return fmt.Errorf("tap %s mtu: %w", name, err)
	}
	return f.dp.SetPortMTU(name, mtu)
}

// startAddrWatch follows the IPv4 addresses of the port's tap in its
// instance namespace and hands them to the dataplane. f.mu is held.
func (f *Forwarder) startAddrWatch(p *port) {
	stop := make(chan struct{})
	p.stopAddr = stop
	p.addrs = make(map[netip.Prefix]bool)
	name, tapIndex := p.name, p.tapIndex
	dup, dupErr := unix.FcntlInt(uintptr(p.ns), unix.F_DUPFD_CLOEXEC, 0)
	go func() {
		if dupErr != nil {
			f.log.Error("address watch", "port", name, "err", dupErr)
			return
		}
		h := netns.NsHandle(dup)
		defer h.Close()
		ch := make(chan netlink.AddrUpdate, 64)
		err := netlink.AddrSubscribeWithOptions(ch, stop, netlink.AddrSubscribeOptions{
			Namespace: &h, ListExisting: true,
			ErrorCallback: func(err error) {
				select {
				case <-stop: // the socket was closed on purpose
				default:
					f.log.Debug("address watch", "port", name, "err", err)
				}
			},
		})
		if err != nil {
			f.log.Error("address watch", "port", name, "err", err)
			return
		}
		for u := range ch {
			if u.LinkIndex != tapIndex {
				continue
			}
			ip, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if !ip.Is4() {
				continue
			}
			ones, _ := u.LinkAddress.Mask.Size()
			pfx := netip.PrefixFrom(ip, ones)
			f.mu.Lock()
			if p.stopAddr == stop {
				if u.NewAddr {
					p.addrs[pfx] = true
				} else {
					delete(p.addrs, pfx)
				}
				var list []netip.Prefix
				for a := range p.addrs {
					list = append(list, a)
				}
				slices.SortFunc(list, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
				if err := f.dp.SetPortAddrs(name, list); err != nil {
					f.log.Warn("port addresses", "port", name, "err", err)
				}
			}
			f.mu.Unlock()
		}
	}()
}

// Close detaches every port and releases the forwarder. Run returns.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	close(f.stopLinks)
	for _, p := range f.ports {
		f.dropPortLocked(p)
	}
	for _, p := range f.insts {
		f.dropInstanceLocked(p)
	}
	return unix.Close(f.epfd)
}

// Run moves packets until ctx is done or the forwarder is closed. It keeps
// one OS thread busy: the forwarding loop is single-threaded by design.
func (f *Forwarder) Run(ctx context.Context) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if f.opts.PinCPU {
		var old, set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &old); err == nil {
			set.Set(f.opts.CPU)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				return fmt.Errorf("pin to cpu %d: %w", f.opts.CPU, err)
			}
			defer unix.SchedSetaffinity(0, &old)
		}
	}
	events := make([]unix.EpollEvent, 128)
	var lastTick time.Time
	wait := tickBusy
	for ctx.Err() == nil {
		n, err := unix.EpollWait(f.epfd, events, int(wait/time.Millisecond))
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			f.mu.Lock()
			closed := f.closed
			f.mu.Unlock()
			if closed {
				return nil
			}
			return fmt.Errorf("epoll wait: %w", err)
		}
		now := time.Now()
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil
		}
		for _, ev := range events[:n] {
			tok := int(ev.Fd >> 1)
			if tok >= len(f.byToken) || f.byToken[tok] == nil {
				continue
			}
			p := f.byToken[tok]
			if ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				f.socketError(p, ev.Fd&1 == 1, ev.Events)
			}
			if ev.Fd&1 == 0 {
				f.readPort(now, p)
			} else {
				f.readTap(now, p)
			}
		}
		if n > 0 {
			wait = tickBusy
		}
		if since := now.Sub(lastTick); since >= tickBusy {
			lastTick = now
			f.dp.Tick(now, f)
			f.flush()
			busy := f.adaptRx(since)
			// An idle forwarder wakes once a second, not ten times: with
			// hundreds of lab nodes on a host the wake-ups add up.
			wait = tickIdle
			if busy || n > 0 || f.dp.Resolving() {
				wait = tickBusy
			}
		}
		f.mu.Unlock()
	}
	return ctx.Err()
}

// socketError handles EPOLLERR/EPOLLHUP on a port's socket or tap: the
// pending error is read (which clears it), and an fd that hung up (its
// device is gone) leaves the epoll set so it cannot spin the loop.
func (f *Forwarder) socketError(p *port, tap bool, events uint32) {
	fd, what := p.fd, "packet socket"
	if tap {
		fd, what = p.tap, "tap"
	}
	if !tap {
		if e, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && e != 0 {
			f.logErr(what, p.name, unix.Errno(e))
		}
	}
	if events&unix.EPOLLHUP != 0 || tap {
		f.log.Warn("forwarding: port i/o stopped", "port", p.name, "fd", what, "events", events)
		_ = unix.EpollCtl(f.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
}

// readPort forwards what the port's socket holds, a batch at a time, up to
// a budget so one busy port cannot starve the others.
func (f *Forwarder) readPort(now time.Time, p *port) {
	if p.rx != nil {
		process := func(vnet, buf []byte, off int) {
			p.rxFrames++
			f.dp.Process(now, p.id, vnet, buf, off, f)
		}
		for round := 0; round < rxBlocks; round++ {
			blk := p.rx.next()
			if blk == nil {
				return
			}
			p.rx.frames(blk, process)
			f.flush() // transmitted frames point into the block
			p.rx.release()
		}
		return
	}
	r := p.ring
	for round := 0; round < 16; round++ {
		n, err := r.recv(p.fd)
		if err != nil {
			f.logErr("receive", p.name, err)
			return
		}
		p.rxFrames += n
		for i := 0; i < n; i++ {
			l := int(r.rxMsg[i].Len) - packet.VnetHdrLen
			if l < packet.EthernetLen || l > maxFrame {
				continue
			}
			off := rxOff
			if tpid, tci, ok := r.vlan(i); ok {
				off = insertVLAN(r.rxBuf[i], off, tpid, tci)
				l += vlanLen
			}
			f.dp.Process(now, p.id, r.rxVnet[i][:], r.rxBuf[i][off-dataplane.Headroom:off+l], dataplane.Headroom, f)
		}
		f.flush()
		if n < len(r.rxMsg) {
			return
		}
	}
}

// readTap sends what the instance kernel wrote to the tap out of the port.
func (f *Forwarder) readTap(now time.Time, p *port) {
	r := p.ring
	for round := 0; round < 4; round++ {
		got := 0
		for got < len(r.tapBuf) {
			b := r.tapBuf[got]
			n, err := unix.Read(p.tap, b[dataplane.Headroom-packet.VnetHdrLen:])
			if err != nil || n <= packet.VnetHdrLen {
				if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
					f.logErr("tap read", p.name, err)
				}
				break
			}
			if p.instTap {
				f.dp.FromInstance(now, p.instance, b[:dataplane.Headroom-packet.VnetHdrLen+n], dataplane.Headroom, f)
			} else {
				f.dp.FromHost(now, p.id, b[dataplane.Headroom-packet.VnetHdrLen:dataplane.Headroom], b[:dataplane.Headroom-packet.VnetHdrLen+n], dataplane.Headroom, f)
			}
			got++
		}
		f.flush()
		if got < len(r.tapBuf) {
			return
		}
	}
}

// Transmit implements dataplane.Sink.
func (f *Forwarder) Transmit(id int, vnet, frame []byte) {
	if id < 0 || id >= len(f.byID) || f.byID[id] == nil || len(frame) == 0 {
		return
	}
	p := f.byID[id]
	if !p.dirty {
		p.dirty = true
		f.dirty = append(f.dirty, p)
	}
	if p.ring.queue(vnet, frame) {
		f.flushPort(p)
	}
}

// Punt implements dataplane.Sink: the frame goes into the port's tap.
func (f *Forwarder) Punt(id int, vnet, frame []byte) {
	if id < 0 || id >= len(f.byID) || f.byID[id] == nil {
		return
	}
	p := f.byID[id]
	if len(vnet) < packet.VnetHdrLen {
		vnet = zeroVnet[:]
	}
	if _, err := unix.Writev(p.tap, [][]byte{vnet, frame}); err != nil {
		f.logErr("tap write", p.name, err)
	}
}

// PuntInstance implements dataplane.Sink: the frame goes into the instance's
// own tap (InstanceTap), addressed to its MAC, for an instance whose
// interfaces are LoopBacks only. Called by the loop with f.mu held.
func (f *Forwarder) PuntInstance(instance string, frame []byte) {
	p := f.insts[instance]
	if p == nil || len(frame) < packet.EthernetLen {
		return
	}
	copy(frame[:6], p.mac[:])
	if _, err := unix.Writev(p.tap, [][]byte{zeroVnet[:], frame}); err != nil {
		f.logErr("tap write", instance+"/"+p.name, err)
	}
}

func (f *Forwarder) flushPort(p *port) {
	dropped, err := p.ring.flush(p.fd)
	p.txErrors += uint64(dropped)
	if err != nil {
		f.logErr("transmit", p.name, err)
	}
}

func (f *Forwarder) flush() {
	for _, p := range f.dirty {
		f.flushPort(p)
		p.dirty = false
	}
	f.dirty = f.dirty[:0]
}

// logErr logs I/O errors at most once a second.
func (f *Forwarder) logErr(what, port string, err error) {
	if now := time.Now(); now.Sub(f.lastErr) > time.Second {
		f.lastErr = now
		f.log.Warn("forwarding i/o", "op", what, "port", port, "err", err)
	}
}
