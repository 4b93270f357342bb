package forwarding

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
	"vpnos/services/nsutil"
)

// Namespaces of the functional topology:
//
//	vt-fwd-a (a0 10.1.0.2) ── r1 ┐
//	vt-fwd-b (b0 10.2.0.2) ── r2 ├ vt-fwd-r: ports, forwarder in this process
//	vt-fwd-c (c0 192.168.1.2) ─ r3 ┘
//	vt-fwd-pub: host stack of the public instance (taps r1 10.1.0.1, r2 10.2.0.1)
//	vt-fwd-v:   host stack of vpn instance V (tap r3 192.168.1.1)
func TestForwarderNamespaces(t *testing.T) {
	for _, noRing := range []bool{false, true} {
		name := "rx ring"
		if noRing {
			name = "recvmmsg"
		}
		t.Run(name, func(t *testing.T) { testForwarderNamespaces(t, noRing) })
	}
}

func testForwarderNamespaces(t *testing.T, noRing bool) {
	needRoot(t)
	l := newLab(t, "vt-fwd-a", "vt-fwd-b", "vt-fwd-c", "vt-fwd-r", "vt-fwd-pub", "vt-fwd-v")
	l.veth("vt-fwd-r", "r1", "vt-fwd-a", "a0")
	l.veth("vt-fwd-r", "r2", "vt-fwd-b", "b0")
	l.veth("vt-fwd-r", "r3", "vt-fwd-c", "c0")
	l.addr("vt-fwd-a", "a0", "10.1.0.2/24")
	l.addr("vt-fwd-b", "b0", "10.2.0.2/24")
	l.addr("vt-fwd-c", "c0", "192.168.1.2/24")
	l.defaultRoute("vt-fwd-a", "10.1.0.1")
	l.defaultRoute("vt-fwd-b", "10.2.0.1")
	l.defaultRoute("vt-fwd-c", "192.168.1.1")

	f, _ := startForwarder(t, Options{PortNetNS: l.path["vt-fwd-r"], NoRxRing: noRing, RxRingAlways: !noRing})
	ctx := context.Background()
	for _, a := range []struct{ port, inst, ns string }{
		{"r1", fibapi.Public, "vt-fwd-pub"}, {"r2", fibapi.Public, "vt-fwd-pub"}, {"r3", "V", "vt-fwd-v"},
	} {
		if err := f.AttachPort(ctx, a.port, a.inst, l.path[a.ns]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.AttachPort(ctx, "r1", fibapi.Public, l.path["vt-fwd-pub"]); err == nil {
		t.Fatal("attached twice")
	}
	if err := f.AttachPort(ctx, "nosuch", fibapi.Public, l.path["vt-fwd-pub"]); err == nil {
		t.Fatal("attached a missing port")
	}
	if n := ingressFilters(t, l, "r1"); n != 1 {
		t.Fatalf("r1 has %d ingress filters, want the drop filter", n)
	}
	l.addr("vt-fwd-pub", "r1", "10.1.0.1/24")
	l.addr("vt-fwd-pub", "r2", "10.2.0.1/24")
	l.addr("vt-fwd-v", "r3", "192.168.1.1/24")
	eventually(t, 3*time.Second, "tap addresses learnt", func() (bool, string) {
		return len(f.PortAddrs("r1")) == 1 && len(f.PortAddrs("r3")) == 1, ""
	})
	err := f.Program(ctx, fibapi.Batch{Routes: []fibapi.Route{
		{Instance: fibapi.Public, Prefix: mustPrefix("10.1.0.0/24"), NextHops: []fibapi.NextHop{{Port: "r1"}}},
		{Instance: fibapi.Public, Prefix: mustPrefix("10.2.0.0/24"), NextHops: []fibapi.NextHop{{Port: "r2"}}},
		{Instance: fibapi.Public, Prefix: mustPrefix("10.1.0.1/32"), Kind: fibapi.Local},
		{Instance: fibapi.Public, Prefix: mustPrefix("10.2.0.1/32"), Kind: fibapi.Local},
		{Instance: "V", Prefix: mustPrefix("192.168.1.0/24"), NextHops: []fibapi.NextHop{{Port: "r3"}}},
		{Instance: "V", Prefix: mustPrefix("192.168.1.1/32"), Kind: fibapi.Local},
	}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ping through", func(t *testing.T) {
		eventually(t, 5*time.Second, "a pings b", func() (bool, string) { return l.ping("vt-fwd-a", "-c1", "-W1", "10.2.0.2") })
		ok, out := l.ping("vt-fwd-b", "-c3", "-i0.2", "-W1", "10.1.0.2")
		if !ok || !contains(out, "ttl=63") {
			t.Fatalf("b pings a: %s", out)
		}
		// The forwarder resolved b itself.
		ns := f.Neighbours("r2")
		if len(ns) != 1 || ns[0].Addr != mustAddr("10.2.0.2") || ns[0].MAC != l.mac("vt-fwd-b", "b0") || !ns[0].Resolved {
			t.Fatalf("r2 neighbours %+v", ns)
		}
	})
	t.Run("punt to the instance host stack", func(t *testing.T) {
		before, _ := f.Counters("r1")
		for _, dst := range []string{"10.1.0.1", "10.2.0.1"} {
			if ok, out := l.ping("vt-fwd-a", "-c2", "-i0.2", "-W1", dst); !ok || !contains(out, "ttl=64") {
				t.Fatalf("ping router %s: %s", dst, out)
			}
		}
		after, _ := f.Counters("r1")
		if after.Punted < before.Punted+4 || after.FromHost < before.FromHost+4 {
			t.Fatalf("counters before %+v after %+v", before, after)
		}
	})
	t.Run("vpn instance isolation", func(t *testing.T) {
		eventually(t, 5*time.Second, "c pings its pe", func() (bool, string) { return l.ping("vt-fwd-c", "-c1", "-W1", "192.168.1.1") })
		if ok, out := l.ping("vt-fwd-c", "-c1", "-W1", "10.2.0.2"); ok || !contains(out, "Unreachable") {
			t.Fatalf("c reached the public instance: %s", out)
		}
		if ok, out := l.ping("vt-fwd-a", "-c1", "-W1", "192.168.1.2"); ok {
			t.Fatalf("a reached vpn V: %s", out)
		}
		if ok, out := l.ping("vt-fwd-a", "-c1", "-W1", "192.168.1.1"); ok {
			t.Fatalf("a reached vpn V's host stack: %s", out)
		}
	})
	t.Run("ttl exceeded", func(t *testing.T) {
		ok, out := l.ping("vt-fwd-a", "-c1", "-W1", "-t1", "10.2.0.2")
		if ok || !contains(out, "From 10.1.0.1") || !contains(out, "Time to live exceeded") {
			t.Fatalf("%s", out)
		}
	})

	bMAC, aMAC, cMAC := l.mac("vt-fwd-b", "b0"), l.mac("vt-fwd-a", "a0"), l.mac("vt-fwd-c", "c0")
	r2MAC := l.mac("vt-fwd-r", "r2")
	capA, capB, capC := l.capture("vt-fwd-a", "a0"), l.capture("vt-fwd-b", "b0"), l.capture("vt-fwd-c", "c0")

	t.Run("push on the wire", func(t *testing.T) {
		if err := f.Program(ctx, fibapi.Batch{Routes: []fibapi.Route{{Instance: fibapi.Public, Prefix: mustPrefix("10.9.0.0/16"),
			NextHops: []fibapi.NextHop{{Port: "r2", Gateway: mustAddr("10.2.0.2"), Labels: []uint32{100, 1000}}}}}}); err != nil {
			t.Fatal(err)
		}
		go l.ping("vt-fwd-a", "-c1", "-W1", "10.9.0.1")
		got := capB.wait(3*time.Second, func(b []byte) bool { return binary.BigEndian.Uint16(b[12:]) == packet.EtherTypeMPLS })
		if got == nil {
			t.Fatal("no labelled frame on b0")
		}
		st, n, err := packet.ParseLabelStack(got[14:])
		if err != nil || len(st) != 2 || st[0] != (packet.LabelEntry{Label: 100, TTL: 63}) || st[1] != (packet.LabelEntry{Label: 1000, TTL: 63, S: true}) {
			t.Fatalf("stack %+v %v", st, err)
		}
		ip, err := packet.ParseIPv4(got[14+n:])
		if err != nil || ip.Dst != mustAddr("10.9.0.1") || ip.TTL != 63 || packet.MAC(got[0:6]) != bMAC {
			t.Fatalf("inner %+v %v", ip, err)
		}
	})

	t.Run("router-originated traffic follows the LSP", func(t *testing.T) {
		l.do("vt-fwd-pub", func() error {
			lk, err := netlink.LinkByName("r2")
			if err != nil {
				return err
			}
			return netlink.RouteAdd(&netlink.Route{LinkIndex: lk.Attrs().Index,
				Dst: &net.IPNet{IP: net.IPv4(10, 9, 0, 0), Mask: net.CIDRMask(16, 32)}, Gw: net.IPv4(10, 2, 0, 2)})
		})
		go l.ping("vt-fwd-pub", "-c1", "-W1", "10.9.0.7")
		got := capB.wait(3*time.Second, func(b []byte) bool {
			if binary.BigEndian.Uint16(b[12:]) != packet.EtherTypeMPLS || len(b) < 14+8+20 {
				return false
			}
			ip, err := packet.ParseIPv4(b[14+8:])
			return err == nil && ip.Dst == mustAddr("10.9.0.7")
		})
		if got == nil {
			t.Fatal("no labelled frame on b0")
		}
		st, _, err := packet.ParseLabelStack(got[14:])
		if err != nil || st[0] != (packet.LabelEntry{Label: 100, TTL: 64}) || st[1] != (packet.LabelEntry{Label: 1000, TTL: 64, S: true}) {
			t.Fatalf("stack %+v %v", st, err)
		}
	})

	err = f.Program(ctx, fibapi.Batch{Labels: []fibapi.LabelEntry{
		{InLabel: 200, Op: fibapi.Swap, NextHops: []fibapi.NextHop{{Port: "r1", Gateway: mustAddr("10.1.0.2"), Labels: []uint32{201}}}},
		{InLabel: 202, Op: fibapi.Swap, NextHops: []fibapi.NextHop{{Port: "r1", Gateway: mustAddr("10.1.0.2")}}},
		{InLabel: 300, Op: fibapi.PopLookup, Instance: "V"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	inner := func(dst string) []byte {
		u := make([]byte, 8+16)
		binary.BigEndian.PutUint16(u[0:], 7777)
		binary.BigEndian.PutUint16(u[2:], 9)
		binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
		return packet.BuildIPv4(mustAddr("10.2.0.2"), mustAddr(dst), packet.ProtoUDP, 64, 42, u)
	}
	labelled := func(ip []byte, ls ...packet.LabelEntry) []byte {
		b := make([]byte, 14)
		packet.PutEthernet(b, r2MAC, bMAC, packet.EtherTypeMPLS)
		for _, x := range ls {
			b = binary.BigEndian.AppendUint32(b, x.Encode())
		}
		return append(b, ip...)
	}
	isUDPTo := func(dst string) func([]byte) bool {
		return func(b []byte) bool {
			if len(b) < 34 || binary.BigEndian.Uint16(b[12:]) != packet.EtherTypeIPv4 {
				return false
			}
			h, err := packet.ParseIPv4(b[14:])
			return err == nil && h.Protocol == packet.ProtoUDP && h.Dst == mustAddr(dst) && h.ID == 42
		}
	}
	mplsFrames := func(b []byte) bool { return len(b) > 18 && binary.BigEndian.Uint16(b[12:]) == packet.EtherTypeMPLS }
	tests := []struct {
		name  string
		frame []byte
		cap   *capture
		match func([]byte) bool
		check func(t *testing.T, b []byte)
	}{
		{"swap", labelled(inner("10.1.0.2"), packet.LabelEntry{Label: 200, TTL: 10, S: true}), capA, mplsFrames, func(t *testing.T, b []byte) {
			st, _, err := packet.ParseLabelStack(b[14:])
			if err != nil || st[0] != (packet.LabelEntry{Label: 201, TTL: 9, S: true}) || packet.MAC(b[0:6]) != aMAC {
				t.Fatalf("stack %+v", st)
			}
		}},
		{"penultimate hop pop", labelled(inner("10.1.0.2"), packet.LabelEntry{Label: 202, TTL: 10, S: true}), capA, isUDPTo("10.1.0.2"), func(t *testing.T, b []byte) {
			if b[14+8] != 9 || !packet.IPv4ChecksumOK(b[14:]) {
				t.Fatalf("ttl %d", b[14+8])
			}
		}},
		{"explicit null", labelled(inner("10.1.0.2"), packet.LabelEntry{Label: 0, TTL: 10, S: true}), capA, isUDPTo("10.1.0.2"), func(t *testing.T, b []byte) {
			if b[14+8] != 9 {
				t.Fatalf("ttl %d", b[14+8])
			}
		}},
		{"vpn label pop and lookup", labelled(inner("192.168.1.2"), packet.LabelEntry{Label: 300, TTL: 30, S: true}), capC, isUDPTo("192.168.1.2"), func(t *testing.T, b []byte) {
			if b[14+8] != 29 || packet.MAC(b[0:6]) != cMAC {
				t.Fatalf("ttl %d dst %x", b[14+8], b[0:6])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			for try := 0; try < 3 && got == nil; try++ { // the first may wait for ARP
				if err := capB.send(tt.frame); err != nil {
					t.Fatal(err)
				}
				got = tt.cap.wait(time.Second, tt.match)
			}
			if got == nil {
				t.Fatal("nothing captured")
			}
			tt.check(t, got)
		})
	}

	t.Run("802.1Q-tagged frames are not forwarded as untagged", func(t *testing.T) {
		// The kernel moves the tag into packet metadata before the packet
		// socket sees the frame; the forwarder must put it back (and punt
		// the frame: no sub-interfaces), not route what is inside.
		before, _ := f.Counters("r2")
		fr := make([]byte, 18)
		packet.PutEthernet(fr, r2MAC, bMAC, packet.EtherTypeVLAN)
		binary.BigEndian.PutUint16(fr[14:], 100)
		binary.BigEndian.PutUint16(fr[16:], packet.EtherTypeIPv4)
		fr = append(fr, inner("10.1.0.2")...)
		if err := capB.send(fr); err != nil {
			t.Fatal(err)
		}
		if got := capA.wait(time.Second, isUDPTo("10.1.0.2")); got != nil {
			t.Fatalf("tagged frame forwarded: %x", got)
		}
		after, _ := f.Counters("r2")
		if after.Punted < before.Punted+1 {
			t.Fatalf("counters before %+v after %+v", before, after)
		}
	})

	t.Run("tcp with gso and partial checksums", func(t *testing.T) {
		before, _ := f.Counters("r1")
		l.tcpTransfer(t, "vt-fwd-a", "vt-fwd-b", "10.2.0.2:5001", 1<<20)
		c, _ := f.Counters("r1")
		if c.Offloaded == before.Offloaded {
			t.Fatalf("no GSO or partial-checksum frame seen: %+v", c)
		}
		t.Logf("r1 counters after the transfer: %+v", c)
	})
	t.Run("tcp to the router's own address", func(t *testing.T) {
		// GSO super-packets are punted whole, with their virtio-net header,
		// into the tap (a BGP session's traffic takes this path).
		before, _ := f.Counters("r1")
		l.tcpTransfer(t, "vt-fwd-a", "vt-fwd-pub", "10.1.0.1:179", 1<<20)
		c, _ := f.Counters("r1")
		// 1 MiB is over 700 full-size segments: fewer punted frames means
		// super-packets went into the tap whole.
		if n := c.Punted - before.Punted; n == 0 || n >= 700 {
			t.Fatalf("%d frames punted for 1 MiB", n)
		}
	})

	t.Run("the tap follows the port's carrier", func(t *testing.T) {
		tapUp := func() (bool, string) {
			var up bool
			l.do("vt-fwd-pub", func() error {
				lk, err := netlink.LinkByName("r2")
				if err != nil {
					return err
				}
				up = lk.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
				return nil
			})
			return up, ""
		}
		setB0 := func(up bool) {
			l.do("vt-fwd-b", func() error {
				lk, err := netlink.LinkByName("b0")
				if err != nil {
					return err
				}
				if up {
					return netlink.LinkSetUp(lk)
				}
				return netlink.LinkSetDown(lk)
			})
		}
		setB0(false)
		eventually(t, 3*time.Second, "tap r2 loses carrier", func() (bool, string) { up, _ := tapUp(); return !up, "" })
		setB0(true)
		eventually(t, 3*time.Second, "tap r2 gets carrier back", tapUp)
		l.defaultRoute("vt-fwd-b", "10.2.0.1") // b's kernel dropped it with the link
		eventually(t, 5*time.Second, "a pings b again", func() (bool, string) { return l.ping("vt-fwd-a", "-c1", "-W1", "10.2.0.2") })
	})
	t.Run("mtu", func(t *testing.T) {
		// Both ends of the r2-b0 link get MTU 1400 (veth drops frames over
		// the receiver's MTU).
		b0MTU := func(mtu int) error {
			return nsutil.Do(l.path["vt-fwd-b"], func() error {
				lk, err := netlink.LinkByName("b0")
				if err != nil {
					return err
				}
				return netlink.LinkSetMTU(lk, mtu)
			})
		}
		if err := f.SetPortMTU(ctx, "r2", 1400); err != nil {
			t.Fatal(err)
		}
		if err := b0MTU(1400); err != nil {
			t.Fatal(err)
		}
		defer b0MTU(1500)
		defer f.SetPortMTU(ctx, "r2", 1500)
		if err := f.SetPortMTU(ctx, "r2", 20); err == nil {
			t.Fatal("mtu 20 accepted")
		}
		// Without DF the forwarder fragments it (before A learns the path MTU) and the reply comes back.
		if ok, out := l.ping("vt-fwd-a", "-c1", "-W1", "-M", "dont", "-s", "1450", "10.2.0.2"); !ok {
			t.Fatalf("%s", out)
		}
		// DF and too big for r2: fragmentation needed, with r2's MTU.
		ok, out := l.ping("vt-fwd-a", "-c1", "-W1", "-M", "do", "-s", "1450", "10.2.0.2")
		if ok || !contains(out, "mtu = 1400") {
			t.Fatalf("%s", out)
		}
	})
	t.Run("move port to another instance", func(t *testing.T) {
		if err := f.MovePort(ctx, "r3", fibapi.Public, l.path["vt-fwd-pub"]); err != nil {
			t.Fatal(err)
		}
		l.do("vt-fwd-pub", func() error { return linkUp("r3") })
		if len(f.PortAddrs("r3")) != 0 {
			t.Fatal("addresses kept across instances")
		}
		if ok, _ := l.ping("vt-fwd-c", "-c1", "-W1", "192.168.1.1"); ok {
			t.Fatal("old instance address still answers")
		}
		if err := f.MovePort(ctx, "r3", "V", l.path["vt-fwd-v"]); err != nil {
			t.Fatal(err)
		}
		l.addr("vt-fwd-v", "r3", "192.168.1.1/24")
		eventually(t, 5*time.Second, "c pings its pe again", func() (bool, string) { return l.ping("vt-fwd-c", "-c1", "-W1", "192.168.1.1") })
	})

	t.Run("a port disappearing does not stop the others", func(t *testing.T) {
		l.do("vt-fwd-r", func() error {
			lk, err := netlink.LinkByName("r2")
			if err != nil {
				return err
			}
			return netlink.LinkDel(lk)
		})
		var ru0, ru1 unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru0)
		time.Sleep(300 * time.Millisecond)
		unix.Getrusage(unix.RUSAGE_SELF, &ru1)
		if cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()); cpu > 200*time.Millisecond {
			t.Fatalf("forwarder spinning: %v cpu in 300ms", cpu)
		}
		eventually(t, 3*time.Second, "a pings its router", func() (bool, string) { return l.ping("vt-fwd-a", "-c1", "-W1", "10.1.0.1") })
		if err := f.DetachPort(ctx, "r2"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("detach", func(t *testing.T) {
		if err := f.DetachPort(ctx, "r3"); err != nil {
			t.Fatal(err)
		}
		if err := f.DetachPort(ctx, "r3"); err == nil {
			t.Fatal("detached twice")
		}
		err := nsutil.Do(l.path["vt-fwd-v"], func() error { return linkUp("r3") })
		if err == nil {
			t.Fatal("tap survived detach")
		}
		if _, ok := f.Counters("r3"); ok {
			t.Fatal("counters of a detached port")
		}
		if n := ingressFilters(t, l, "r3"); n != 0 {
			t.Fatalf("r3 keeps %d ingress filters after detach", n)
		}
	})
}

// ingressFilters counts the eBPF filters on the ingress of a port in
// the router namespace.
func ingressFilters(t *testing.T, l *lab, port string) int {
	t.Helper()
	n := 0
	l.do("vt-fwd-r", func() error {
		lk, err := netlink.LinkByName(port)
		if err != nil {
			return err
		}
		fs, err := netlink.FilterList(lk, netlink.MakeHandle(0xffff, 0))
		if err != nil {
			return nil // no ingress qdisc
		}
		for _, f := range fs {
			if _, ok := f.(*netlink.BpfFilter); ok {
				n++
			}
		}
		return nil
	})
	return n
}
