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
	"vpnos/services/forwarding/nsutil"
	"vpnos/services/forwarding/packet"
)

// BenchmarkForwardVsKernel measures small-packet (64-byte frames, UDP)
// forwarding rate through the userspace forwarder and through kernel IPv4
// forwarding on the same veth path, in the same run:
//
//	sender ns (s0) ── r0 [router ns] r1 ── d0 (receiver ns)
//
// A raw AF_PACKET sender blasts pre-built frames at r0 with sendmmsg; the rate
// is what arrives on d0 (its rx counter) during a fixed window. Metrics:
// kernel-pps, user-pps and ratio (user/kernel). Run with -benchtime 1x.
func BenchmarkForwardVsKernel(b *testing.B) {
	needRoot(b)
	const window = 3 * time.Second
	for i := 0; i < b.N; i++ {
		kpps, ksent := benchPath(b, false, window)
		upps, usent := benchPath(b, true, window)
		b.ReportMetric(kpps, "kernel-pps")
		b.ReportMetric(upps, "user-pps")
		b.ReportMetric(upps/kpps, "ratio")
		b.ReportMetric(ksent, "kernel-offered-pps")
		b.ReportMetric(usent, "user-offered-pps")
	}
}

func benchPath(b *testing.B, user bool, window time.Duration) (pps, offered float64) {
	b.Helper()
	pfx := "vt-fwd-k"
	if user {
		pfx = "vt-fwd-u"
	}
	s, r, d, inst := pfx+"s", pfx+"r", pfx+"d", pfx+"i"
	names := []string{s, r, d}
	if user {
		names = append(names, inst)
	}
	l := newLab(b, names...)
	defer l.close()
	l.veth(r, "r0", s, "s0")
	l.veth(r, "r1", d, "d0")
	l.addr(d, "d0", "10.2.0.2/24")
	dMAC := l.mac(d, "d0")
	rMAC := l.mac(r, "r0")

	if user {
		f, stop := startForwarder(b, l.path[r])
		defer stop()
		ctx := context.Background()
		for _, p := range []string{"r0", "r1"} {
			if err := f.AttachPort(ctx, p, fibapi.Public, l.path[inst]); err != nil {
				b.Fatal(err)
			}
		}
		l.addr(inst, "r0", "10.1.0.1/24")
		l.addr(inst, "r1", "10.2.0.1/24")
		err := f.Program(ctx, fibapi.Batch{Routes: []fibapi.Route{
			{Prefix: mustPrefix("10.1.0.0/24"), NextHops: []fibapi.NextHop{{Port: "r0"}}},
			{Prefix: mustPrefix("10.2.0.0/24"), NextHops: []fibapi.NextHop{{Port: "r1"}}},
			{Prefix: mustPrefix("10.3.0.0/16"), NextHops: []fibapi.NextHop{{Port: "r1", Gateway: mustAddr("10.2.0.2")}}},
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
			return netlink.RouteAdd(&netlink.Route{LinkIndex: lk.Attrs().Index,
				Dst: &net.IPNet{IP: net.IPv4(10, 3, 0, 0), Mask: net.CIDRMask(16, 32)}, Gw: net.IPv4(10, 2, 0, 2)})
		})
	}
	_ = dMAC

	// The frames: 10.1.0.2 -> 10.3.0.x UDP, 60 bytes (64 on a wire), with
	// correct checksums. The receiver does not own 10.3/16 and drops them
	// cheaply; they are counted by d0's rx counter.
	sMAC := l.mac(s, "s0")
	const nframes = 64
	frames := make([][]byte, nframes)
	for i := range frames {
		u := make([]byte, 8+18)
		binary.BigEndian.PutUint16(u[0:], uint16(10000+i))
		binary.BigEndian.PutUint16(u[2:], 9)
		binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
		ip := packet.BuildIPv4(mustAddr("10.1.0.2"), mustAddr(fmt.Sprintf("10.3.0.%d", i+1)), packet.ProtoUDP, 64, uint16(i), u)
		fr := make([]byte, 14, 60)
		packet.PutEthernet(fr, rMAC, sMAC, packet.EtherTypeIPv4)
		frames[i] = append(fr, ip...)
	}

	var sent atomic.Uint64
	stopSend := make(chan struct{})
	sendDone := make(chan error, 1)
	go func() {
		sendDone <- nsutil.Do(l.path[s], func() error { return blast(frames, &sent, stopSend) })
	}()
	rx := func() uint64 {
		var n uint64
		l.do(d, func() error {
			lk, err := netlink.LinkByName("d0")
			if err != nil {
				return err
			}
			n = lk.Attrs().Statistics.RxPackets
			return nil
		})
		return n
	}
	// Warm up (ARP, caches), then measure.
	time.Sleep(500 * time.Millisecond)
	r0, s0, t0 := rx(), sent.Load(), time.Now()
	time.Sleep(window)
	r1, s1, t1 := rx(), sent.Load(), time.Now()
	close(stopSend)
	if err := <-sendDone; err != nil {
		b.Fatal(err)
	}
	secs := t1.Sub(t0).Seconds()
	pps = float64(r1-r0) / secs
	offered = float64(s1-s0) / secs
	mode := "kernel"
	if user {
		mode = "user"
	}
	b.Logf("%s: offered %.0f pps, forwarded %.0f pps", mode, offered, pps)
	if pps == 0 {
		b.Fatalf("%s path forwarded nothing", mode)
	}
	return pps, offered
}

// blast sends frames round-robin with sendmmsg until stop is closed.
func blast(frames [][]byte, sent *atomic.Uint64, stop chan struct{}) error {
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
