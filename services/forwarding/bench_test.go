package forwarding

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
	"vpnos/services/nsutil"
)

// BenchmarkForwardVsKernel measures small-packet (64-byte frames, UDP)
// forwarding rate on one core through the userspace forwarder and through
// kernel IPv4 forwarding on the same veth path, in the same run:
//
//	sender ns (s0) ── r0 [router ns] r1 ── d0 (receiver ns)
//
// A raw AF_PACKET sender blasts pre-built frames at r0 with sendmmsg; the rate
// is what arrives on d0 (its rx counter); three chains are measured in
// interleaved one-second windows, three rounds each. Metrics:
// kernel-pps, user-pps (TPACKET_V3 receive ring, the default) and ratio
// (user/kernel); user-mmsg-pps is the forwarder with recvmmsg instead of the
// ring, for reference. Run with -benchtime 1x.
//
// One core: the sender and the forwarding loop are pinned to the same CPU.
// Kernel forwarding on veth runs in the sender's softirq context, so in both
// modes one CPU does all the work (send, forward, receive); without pinning
// the userspace path would get a second core the kernel path cannot use.
func BenchmarkForwardVsKernel(b *testing.B) {
	needRoot(b)
	const (
		rounds = 3
		window = time.Second
	)
	for i := 0; i < b.N; i++ {
		paths := []*benchPath{
			newBenchPath(b, "vt-fwd-k", false, false),
			newBenchPath(b, "vt-fwd-u", true, true),
			newBenchPath(b, "vt-fwd-m", true, false),
		}
		// Interleave the windows so that load from elsewhere on the
		// machine hits every path alike.
		for r := 0; r < rounds; r++ {
			for _, p := range paths {
				p.measure(b, window)
			}
		}
		for _, p := range paths {
			b.Logf("%s: offered %.0f pps, forwarded %.0f pps", p.mode, p.offered(), p.pps())
			p.close()
		}
		k, u, m := paths[0], paths[1], paths[2]
		b.ReportMetric(k.pps(), "kernel-pps")
		b.ReportMetric(u.pps(), "user-pps")
		b.ReportMetric(u.pps()/k.pps(), "ratio")
		b.ReportMetric(m.pps(), "user-mmsg-pps")
	}
}

// sinkMAC is the next hop's MAC as both routers know it statically: not
// d0's, so the receiver's kernel discards each frame at once (PACKET_OTHERHOST)
// instead of routing it, and the benchmark measures the router, not the
// receiver. The frames are still counted in d0's rx counter.
var sinkMAC = packet.MAC{0x02, 0x5e, 0, 0, 0, 0x99}

// benchPath is one sender - router - receiver chain.
type benchPath struct {
	mode       string
	l          *lab
	recv, send string // namespaces
	frames     [][]byte
	stopFwd    context.CancelFunc
	rxN, txN   uint64
	secs       float64
}

func (p *benchPath) pps() float64     { return float64(p.rxN) / p.secs }
func (p *benchPath) offered() float64 { return float64(p.txN) / p.secs }

func (p *benchPath) close() {
	if p.stopFwd != nil {
		p.stopFwd()
	}
	p.l.close()
}

func newBenchPath(b *testing.B, pfx string, user, ring bool) *benchPath {
	b.Helper()
	s, r, d, inst := pfx+"s", pfx+"r", pfx+"d", pfx+"i"
	names := []string{s, r, d}
	if user {
		names = append(names, inst)
	}
	p := &benchPath{mode: "kernel", send: s, recv: d}
	if user {
		p.mode = "user (rx ring)"
		if !ring {
			p.mode = "user (recvmmsg)"
		}
	}
	l := newLab(b, names...)
	p.l = l
	l.veth(r, "r0", s, "s0")
	l.veth(r, "r1", d, "d0")
	l.addr(d, "d0", "10.2.0.2/24")
	rMAC := l.mac(r, "r0")

	if user {
		f, stop := startForwarder(b, Options{PortNetNS: l.path[r], NoRxRing: !ring, RxRingAlways: ring, PinCPU: true, CPU: benchCPU})
		p.stopFwd = stop
		ctx := context.Background()
		for _, port := range []string{"r0", "r1"} {
			if err := f.AttachPort(ctx, port, fibapi.Public, l.path[inst]); err != nil {
				b.Fatal(err)
			}
		}
		l.addr(inst, "r0", "10.1.0.1/24")
		l.addr(inst, "r1", "10.2.0.1/24")
		if err := f.SetNeighbour(ctx, "r1", mustAddr("10.2.0.2"), net.HardwareAddr(sinkMAC[:])); err != nil {
			b.Fatal(err)
		}
		err := f.Program(ctx, fibapi.Batch{Routes: []fibapi.Route{
			{Instance: fibapi.Public, Prefix: mustPrefix("10.1.0.0/24"), NextHops: []fibapi.NextHop{{Port: "r0"}}},
			{Instance: fibapi.Public, Prefix: mustPrefix("10.2.0.0/24"), NextHops: []fibapi.NextHop{{Port: "r1"}}},
			{Instance: fibapi.Public, Prefix: mustPrefix("10.3.0.0/16"), NextHops: []fibapi.NextHop{{Port: "r1", Gateway: mustAddr("10.2.0.2")}}},
		}})
		if err != nil {
			b.Fatal(err)
		}
	} else {
		l.addr(r, "r0", "10.1.0.1/24")
		l.addr(r, "r1", "10.2.0.1/24")
		l.do(r, func() error {
			if err := nsutil.WriteSysctl("net/ipv4/ip_forward", "1"); err != nil {
				return err
			}
			lk, err := netlink.LinkByName("r1")
			if err != nil {
				return err
			}
			if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: lk.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
				IP: net.IPv4(10, 2, 0, 2), HardwareAddr: net.HardwareAddr(sinkMAC[:])}); err != nil {
				return err
			}
			return netlink.RouteAdd(&netlink.Route{LinkIndex: lk.Attrs().Index,
				Dst: &net.IPNet{IP: net.IPv4(10, 3, 0, 0), Mask: net.CIDRMask(16, 32)}, Gw: net.IPv4(10, 2, 0, 2)})
		})
	}

	// The frames: 10.1.0.2 -> 10.3.0.x UDP, 60 bytes (64 on a wire), with
	// correct checksums.
	sMAC := l.mac(s, "s0")
	p.frames = make([][]byte, 64)
	for i := range p.frames {
		u := make([]byte, 8+18)
		binary.BigEndian.PutUint16(u[0:], uint16(10000+i))
		binary.BigEndian.PutUint16(u[2:], 9)
		binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
		ip := packet.BuildIPv4(mustAddr("10.1.0.2"), mustAddr(fmt.Sprintf("10.3.0.%d", i+1)), packet.ProtoUDP, 64, uint16(i), u)
		fr := make([]byte, 14, 60)
		packet.PutEthernet(fr, rMAC, sMAC, packet.EtherTypeIPv4)
		p.frames[i] = append(fr, ip...)
	}
	// Warm up: resolve the next hop, fill caches.
	p.run(b, 300*time.Millisecond, false)
	return p
}

func (p *benchPath) measure(b *testing.B, window time.Duration) { p.run(b, window, true) }

// run blasts for window and, if count, adds what arrived to the totals.
func (p *benchPath) run(b *testing.B, window time.Duration, count bool) {
	b.Helper()
	rx := func() uint64 {
		var n uint64
		p.l.do(p.recv, func() error {
			lk, err := netlink.LinkByName("d0")
			if err != nil {
				return err
			}
			n = lk.Attrs().Statistics.RxPackets
			return nil
		})
		return n
	}
	var sent atomic.Uint64
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- nsutil.Do(p.l.path[p.send], func() error { return blast(p.frames, &sent, stop) })
	}()
	time.Sleep(50 * time.Millisecond) // let the sender reach full speed
	r0, s0, t0 := rx(), sent.Load(), time.Now()
	time.Sleep(window)
	r1, s1, t1 := rx(), sent.Load(), time.Now()
	close(stop)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if count {
		p.rxN += r1 - r0
		p.txN += s1 - s0
		p.secs += t1.Sub(t0).Seconds()
	}
	// Let the path drain before the next window starts elsewhere.
	time.Sleep(50 * time.Millisecond)
}

// benchCPU is the CPU the sender and the forwarding loop share: the first
// one this process may run on.
var benchCPU = func() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil {
		for c := 0; c < len(set)*64; c++ {
			if set.IsSet(c) {
				return c
			}
		}
	}
	return 0
}()

// blast sends frames round-robin with sendmmsg until stop is closed, from a
// thread pinned to benchCPU.
func blast(frames [][]byte, sent *atomic.Uint64, stop chan struct{}) error {
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return err
	}
	set.Set(benchCPU)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return err
	}
	defer unix.SchedSetaffinity(0, &old)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	lk, err := netlink.LinkByName("s0")
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: 0, Ifindex: lk.Attrs().Index}); err != nil {
		return err
	}
	iov := make([]unix.Iovec, len(frames))
	msgs := make([]unix.Mmsghdr, len(frames))
	for i, f := range frames {
		iov[i].Base = &f[0]
		iov[i].SetLen(len(f))
		msgs[i].Hdr.Iov = &iov[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
		if e != 0 && e != unix.EAGAIN && e != unix.ENOBUFS && e != unix.EINTR {
			return e
		}
		if e == 0 {
			sent.Add(uint64(n))
		}
	}
}
