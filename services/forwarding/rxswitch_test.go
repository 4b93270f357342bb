package forwarding

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
)

// TestRxRingOnDemand: a port receives with recvmmsg while its traffic is
// light, takes its TPACKET_V3 ring when the traffic grows heavy and gives it
// back once quiet; frames crossing either switch arrive once each, in order.
//
//	vs-rxs-s (s0) ── r0 [vs-rxs-r: forwarder] r1 ── (d0) vs-rxs-d
func TestRxRingOnDemand(t *testing.T) {
	needRoot(t)
	defer func(idle int) { ringIdle = idle }(ringIdle)
	ringIdle = 5 // half a second

	s, r, d, inst := "vs-rxs-s", "vs-rxs-r", "vs-rxs-d", "vs-rxs-i"
	l := newLab(t, s, r, d, inst)
	l.veth(r, "r0", s, "s0")
	l.veth(r, "r1", d, "d0")
	f, _ := startForwarder(t, Options{PortNetNS: l.path[r]})
	ctx := context.Background()
	for _, port := range []string{"r0", "r1"} {
		if err := f.AttachPort(ctx, port, fibapi.Public, l.path[inst]); err != nil {
			t.Fatal(err)
		}
	}
	if f.noFanout.Load() {
		t.Skip("this kernel cannot switch ports between recvmmsg and a ring (no PACKET_FANOUT_FLAG_IGNORE_OUTGOING)")
	}
	l.addr(inst, "r0", "10.1.0.1/24")
	l.addr(inst, "r1", "10.2.0.1/24")
	if err := f.SetNeighbour(ctx, "r1", mustAddr("10.2.0.2"), net.HardwareAddr(sinkMAC[:])); err != nil {
		t.Fatal(err)
	}
	if err := f.Program(ctx, fibapi.Batch{Routes: []fibapi.Route{
		{Instance: fibapi.Public, Prefix: mustPrefix("10.2.0.0/24"), NextHops: []fibapi.NextHop{{Port: "r1"}}},
		{Instance: fibapi.Public, Prefix: mustPrefix("10.3.0.0/16"), NextHops: []fibapi.NextHop{{Port: "r1", Gateway: mustAddr("10.2.0.2")}}},
	}}); err != nil {
		t.Fatal(err)
	}
	ring := func(port string) bool {
		on, ok := f.RxRing(port)
		if !ok {
			t.Fatalf("port %s is not attached", port)
		}
		return on
	}
	if ring("r0") || ring("r1") {
		t.Fatal("a port starts on its ring")
	}

	rx := newSeqReceiver(t, l, d, "d0")
	tx := newSeqSender(t, l, s, "s0", l.mac(r, "r0"))

	// Heavy: 15,000 frames a second for a second; the ring comes on.
	const heavy = 15000
	tx.send(t, 0, heavy, 150, 10*time.Millisecond)
	if !ring("r0") {
		t.Error("r0 still on recvmmsg after a second at 15,000 frames/s")
	}
	if ring("r1") {
		t.Error("r1 took a ring without receiving anything")
	}
	// Light: 200 frames a second until the ring goes (after 0.5 s quiet),
	// and half a second more.
	seq := uint32(heavy)
	var off time.Time
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		tx.send(t, seq, 2, 2, 10*time.Millisecond)
		seq += 2
		if off.IsZero() && !ring("r0") {
			off = time.Now()
		}
		if !off.IsZero() && time.Since(off) > 500*time.Millisecond {
			break
		}
	}
	if off.IsZero() {
		t.Error("r0 kept its ring through 5 s of light traffic")
	}
	// Every frame arrived once, in order, across both switches.
	rx.check(t, seq, 3*time.Second)
}

// seqFrame is a UDP frame 10.1.0.2 -> 10.3.0.1 to dst whose payload starts
// with seq.
func seqFrame(dst, src packet.MAC, seq uint32) []byte {
	u := make([]byte, 8+18)
	binary.BigEndian.PutUint16(u[0:], 10000)
	binary.BigEndian.PutUint16(u[2:], 9)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	binary.BigEndian.PutUint32(u[8:], seq)
	ip := packet.BuildIPv4(mustAddr("10.1.0.2"), mustAddr("10.3.0.1"), packet.ProtoUDP, 64, uint16(seq), u)
	fr := make([]byte, 14, 60)
	packet.PutEthernet(fr, dst, src, packet.EtherTypeIPv4)
	return append(fr, ip...)
}

// seqSender writes numbered frames on a link.
type seqSender struct {
	fd       int
	dst, src packet.MAC
}

func newSeqSender(t *testing.T, l *lab, ns, link string, dst packet.MAC) *seqSender {
	sd := &seqSender{fd: -1, dst: dst, src: l.mac(ns, link)}
	l.do(ns, func() error {
		lk, err := netlink.LinkByName(link)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		sd.fd = fd
		return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: lk.Attrs().Index})
	})
	t.Cleanup(func() { unix.Close(sd.fd) })
	return sd
}

// send writes frames first .. first+n-1, burst at a time, one burst every
// pace.
func (sd *seqSender) send(t *testing.T, first uint32, n, burst int, pace time.Duration) {
	t.Helper()
	next := time.Now()
	for i := 0; i < n; i += burst {
		for j := i; j < i+burst && j < n; j++ {
			if _, err := unix.Write(sd.fd, seqFrame(sd.dst, sd.src, first+uint32(j))); err != nil {
				t.Fatalf("send frame %d: %v", first+uint32(j), err)
			}
		}
		next = next.Add(pace)
		time.Sleep(time.Until(next))
	}
}

// seqReceiver records the numbers of the frames arriving on a link.
type seqReceiver struct {
	fd   int
	mu   sync.Mutex
	seqs []uint32
	done chan struct{}
}

func newSeqReceiver(t *testing.T, l *lab, ns, link string) *seqReceiver {
	rv := &seqReceiver{fd: -1, done: make(chan struct{})}
	l.do(ns, func() error {
		lk, err := netlink.LinkByName(link)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
		if err != nil {
			return err
		}
		rv.fd = fd
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20); err != nil {
			return err
		}
		tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: lk.Attrs().Index})
	})
	go func() {
		defer close(rv.done)
		buf := make([]byte, 2048)
		for {
			n, _, err := unix.Recvfrom(rv.fd, buf, 0)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return
			}
			if n < 14+20+8+4 || packet.MAC(buf[0:6]) != sinkMAC {
				continue
			}
			rv.mu.Lock()
			rv.seqs = append(rv.seqs, binary.BigEndian.Uint32(buf[14+20+8:]))
			rv.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		unix.Shutdown(rv.fd, unix.SHUT_RDWR)
		unix.Close(rv.fd)
		<-rv.done
	})
	return rv
}

// check waits up to d for frames 0 .. n-1 and checks that each arrived
// once, in order.
func (rv *seqReceiver) check(t *testing.T, n uint32, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		rv.mu.Lock()
		got := len(rv.seqs)
		rv.mu.Unlock()
		if got >= int(n) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // duplicates would follow
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if len(rv.seqs) != int(n) {
		t.Errorf("%d frames arrived, %d sent", len(rv.seqs), n)
	}
	var bad int
	for i, s := range rv.seqs {
		if s != uint32(i) {
			if bad < 5 {
				t.Errorf("frame %d carries number %d", i, s)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d frames out of place", bad)
	}
}
