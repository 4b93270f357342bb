package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vpnos/lab/labtest"
	"vpnos/services/nsutil"
)

// This file holds a packet capture for lab tests: an AF_PACKET socket opened
// inside a node's network namespace on one of its links, and a decoder of the
// frames it sees (Ethernet, MPLS label stack, IPv4, ICMP), written here
// independently of the forwarder's own codecs so that it checks them.

// mplsEntry is one label stack entry (RFC 3032).
type mplsEntry struct {
	Label uint32
	TC    uint8
	S     bool
	TTL   uint8
}

func (e mplsEntry) String() string { return fmt.Sprintf("%d/ttl%d", e.Label, e.TTL) }

// frame is a decoded Ethernet frame. IP is valid when HasIP is set.
type frame struct {
	// Incoming is true for frames the node received on the link (not sent).
	Incoming  bool
	EtherType uint16
	Labels    []mplsEntry
	HasIP     bool
	Src, Dst  netip.Addr
	Proto     uint8
	IPTTL     uint8
	// ICMPType is the ICMP type when Proto is 1, else 0xff.
	ICMPType uint8
	// DstPort is the UDP destination port when Proto is 17.
	DstPort uint16
	// ICMPLabels is the label stack of an RFC 4950 object in the RFC 4884
	// extension of an ICMP error.
	ICMPLabels []mplsEntry
}

func (f frame) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "type %#04x", f.EtherType)
	if len(f.Labels) > 0 {
		fmt.Fprintf(&b, " labels %v", f.Labels)
	}
	if f.HasIP {
		fmt.Fprintf(&b, " %s > %s proto %d ttl %d", f.Src, f.Dst, f.Proto, f.IPTTL)
		if f.Proto == 1 {
			fmt.Fprintf(&b, " icmp %d", f.ICMPType)
		}
		if f.ICMPLabels != nil {
			fmt.Fprintf(&b, " extension labels %v", f.ICMPLabels)
		}
	}
	return b.String()
}

const (
	etherIPv4 = 0x0800
	etherMPLS = 0x8847
	icmpEcho  = 8
	icmpReply = 0
)

var errShort = errors.New("frame too short")

// decodeFrame decodes an Ethernet II frame: an MPLS label stack (ethertype
// 0x8847) down to the bottom of stack, then the IPv4 header and ICMP type if
// the payload is IPv4 (after labels: version nibble 4).
func decodeFrame(b []byte) (frame, error) {
	f := frame{ICMPType: 0xff}
	if len(b) < 14 {
		return f, errShort
	}
	f.EtherType = binary.BigEndian.Uint16(b[12:14])
	p := b[14:]
	switch f.EtherType {
	case etherMPLS:
		for {
			if len(p) < 4 {
				return f, fmt.Errorf("label stack: %w", errShort)
			}
			v := binary.BigEndian.Uint32(p)
			e := mplsEntry{Label: v >> 12, TC: uint8(v>>9) & 7, S: v&0x100 != 0, TTL: uint8(v)}
			f.Labels = append(f.Labels, e)
			p = p[4:]
			if e.S {
				break
			}
			if len(f.Labels) > 16 {
				return f, errors.New("label stack deeper than 16 entries")
			}
		}
		if len(p) == 0 || p[0]>>4 != 4 {
			return f, nil // not IPv4 underneath
		}
	case etherIPv4:
	default:
		return f, nil
	}
	if len(p) < 20 {
		return f, fmt.Errorf("ipv4: %w", errShort)
	}
	ihl := int(p[0]&0x0f) * 4
	if p[0]>>4 != 4 || ihl < 20 || len(p) < ihl {
		return f, fmt.Errorf("bad ipv4 header %#02x", p[0])
	}
	f.HasIP = true
	f.IPTTL, f.Proto = p[8], p[9]
	f.Src = netip.AddrFrom4([4]byte(p[12:16]))
	f.Dst = netip.AddrFrom4([4]byte(p[16:20]))
	if f.Proto == 17 && len(p) >= ihl+4 {
		f.DstPort = binary.BigEndian.Uint16(p[ihl+2 : ihl+4])
	}
	if f.Proto == 1 && len(p) > ihl {
		f.ICMPType = p[ihl]
		if tot := int(binary.BigEndian.Uint16(p[2:4])); tot <= len(p) && tot >= ihl {
			labels, err := icmpExtensionLabels(f.ICMPType, p[ihl:tot])
			if err != nil {
				return f, err
			}
			f.ICMPLabels = labels
		}
	}
	return f, nil
}

// icmpExtensionLabels returns the label stack object (RFC 4950: class 1,
// c-type 1) of the RFC 4884 extension of an ICMP time exceeded or
// destination unreachable message, nil if there is none.
func icmpExtensionLabels(typ uint8, icmp []byte) ([]mplsEntry, error) {
	if (typ != 11 && typ != 3) || len(icmp) < 8 || icmp[5] == 0 {
		return nil, nil
	}
	off := 8 + int(icmp[5])*4 // the original datagram, padded to its length field
	if off+4 > len(icmp) {
		return nil, fmt.Errorf("icmp extension: %w", errShort)
	}
	ext := icmp[off:]
	if ext[0]>>4 != 2 {
		return nil, fmt.Errorf("icmp extension version %d", ext[0]>>4)
	}
	for obj := ext[4:]; len(obj) > 0; {
		if len(obj) < 4 {
			return nil, fmt.Errorf("icmp extension object: %w", errShort)
		}
		n := int(binary.BigEndian.Uint16(obj[0:2]))
		if n < 4 || n > len(obj) {
			return nil, fmt.Errorf("icmp extension object length %d", n)
		}
		if obj[2] == 1 && obj[3] == 1 {
			var out []mplsEntry
			for e := obj[4:n]; len(e) >= 4; e = e[4:] {
				v := binary.BigEndian.Uint32(e)
				out = append(out, mplsEntry{Label: v >> 12, TC: uint8(v>>9) & 7, S: v&0x100 != 0, TTL: uint8(v)})
			}
			return out, nil
		}
		obj = obj[n:]
	}
	return nil, nil
}

// capture records the frames of one link of a lab node.
type capture struct {
	node, ifname string
	fd           int

	mu     sync.Mutex
	frames []frame
	err    error
	stop   chan struct{}
	done   chan struct{}
}

// startCapture opens an AF_PACKET socket on ifname inside node's network
// namespace and records every frame until the test ends (or stop).
func startCapture(t testing.TB, l *labtest.Lab, node, ifname string) *capture {
	t.Helper()
	path, err := l.NetnsPath(node)
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{node: node, ifname: ifname, fd: -1, stop: make(chan struct{}), done: make(chan struct{})}
	err = nsutil.Do(path, func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		proto := htons(unix.ETH_P_ALL)
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifc.Index}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind %s: %w", ifname, err)
		}
		c.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("capture on %s %s: %v", node, ifname, err)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(c.fd)
		t.Fatal(err)
	}
	go c.run()
	t.Cleanup(c.close)
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *capture) run() {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		f, err := decodeFrame(buf[:n])
		if err != nil {
			continue // not ours to judge: the test looks for frames it expects
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok {
			f.Incoming = ll.Pkttype != unix.PACKET_OUTGOING
		}
		c.mu.Lock()
		c.frames = append(c.frames, f)
		c.mu.Unlock()
	}
}

func (c *capture) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
		<-c.done
		unix.Close(c.fd)
	}
}

// reset forgets the frames seen so far.
func (c *capture) reset() {
	c.mu.Lock()
	c.frames = nil
	c.mu.Unlock()
}

// match returns the frames received so far that satisfy ok.
func (c *capture) match(ok func(frame) bool) []frame { return c.matchDir(true, ok) }

// matchDir returns the received (incoming) or sent frames that satisfy ok.
func (c *capture) matchDir(incoming bool, ok func(frame) bool) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []frame
	for _, f := range c.frames {
		if f.Incoming == incoming && ok(f) {
			out = append(out, f)
		}
	}
	return out
}

// wait returns once n received frames satisfy ok, or fails the test at the
// deadline listing what the link carried.
func (c *capture) wait(t testing.TB, what string, n int, ok func(frame) bool, within time.Duration) []frame {
	t.Helper()
	return c.waitDir(t, what, n, true, ok, within)
}

// waitSent is wait for frames the node sent out of the port.
func (c *capture) waitSent(t testing.TB, what string, n int, ok func(frame) bool, within time.Duration) []frame {
	t.Helper()
	return c.waitDir(t, what, n, false, ok, within)
}

func (c *capture) waitDir(t testing.TB, what string, n int, incoming bool, ok func(frame) bool, within time.Duration) []frame {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := c.matchDir(incoming, ok)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			seen, err := append([]frame(nil), c.frames...), c.err
			c.mu.Unlock()
			t.Fatalf("%s %s: %d frames of %s within %s, want %d (capture error %v); the link carried:\n%s",
				c.node, c.ifname, len(got), what, within, n, err, frameList(seen))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func frameList(fs []frame) string {
	var b strings.Builder
	for _, f := range fs {
		dir := "out"
		if f.Incoming {
			dir = "in "
		}
		fmt.Fprintf(&b, "  %s %s\n", dir, f)
	}
	return b.String()
}

// icmpBetween matches ICMP messages of a type from src to dst.
func icmpBetween(src, dst string, typ uint8) func(frame) bool {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	return func(f frame) bool { return f.HasIP && f.Proto == 1 && f.ICMPType == typ && f.Src == s && f.Dst == d }
}

func TestDecodeFrame(t *testing.T) {
	eth := func(typ uint16) []byte {
		b := []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0, 0}
		binary.BigEndian.PutUint16(b[12:], typ)
		return b
	}
	// IPv4 ICMP echo request 10.255.0.1 > 10.255.0.3, TTL 255.
	ip := []byte{0x45, 0, 0, 28, 0, 1, 0x40, 0, 255, 1, 0, 0, 10, 255, 0, 1, 10, 255, 0, 3, 8, 0, 0, 0, 0, 1, 0, 1}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	ping := frame{HasIP: true, Src: netip.MustParseAddr("10.255.0.1"), Dst: netip.MustParseAddr("10.255.0.3"), Proto: 1, IPTTL: 255, ICMPType: icmpEcho}
	tests := []struct {
		name    string
		in      []byte
		want    frame
		wantErr bool
	}{
		{"ipv4", cat(eth(etherIPv4), ip), func() frame { f := ping; f.EtherType = etherIPv4; return f }(), false},
		{"one label", cat(eth(etherMPLS), []byte{0x00, 0x06, 0x41, 0xfe}, ip), func() frame {
			// label 100, TC 0, S, TTL 254
			f := ping
			f.EtherType = etherMPLS
			f.Labels = []mplsEntry{{Label: 100, S: true, TTL: 254}}
			return f
		}(), false},
		{"two labels, explicit null at the bottom", cat(eth(etherMPLS), []byte{0x00, 0x0c, 0x8a, 0x40}, []byte{0x00, 0x00, 0x01, 0x3f}, ip), func() frame {
			// label 200 TC 5 TTL 64, then label 0 S TTL 63
			f := ping
			f.EtherType = etherMPLS
			f.Labels = []mplsEntry{{Label: 200, TC: 5, TTL: 64}, {Label: 0, S: true, TTL: 63}}
			return f
		}(), false},
		{"label without IPv4", cat(eth(etherMPLS), []byte{0x00, 0x06, 0x41, 0xfe}, []byte{0x60, 0, 0, 0}),
			frame{EtherType: etherMPLS, Labels: []mplsEntry{{Label: 100, S: true, TTL: 254}}, ICMPType: 0xff}, false},
		{"time exceeded with a label stack object", cat(eth(etherMPLS), []byte{0x00, 0x0c, 0x81, 0xff}, timeExceeded(true)), frame{
			EtherType: etherMPLS, Labels: []mplsEntry{{Label: 200, S: true, TTL: 255}},
			HasIP: true, Src: netip.MustParseAddr("198.51.100.2"), Dst: netip.MustParseAddr("10.255.0.1"), Proto: 1, IPTTL: 255,
			ICMPType: 11, ICMPLabels: []mplsEntry{{Label: 100, S: true, TTL: 1}},
		}, false},
		{"time exceeded without extension", cat(eth(etherIPv4), timeExceeded(false)), frame{
			EtherType: etherIPv4, HasIP: true, Src: netip.MustParseAddr("198.51.100.2"), Dst: netip.MustParseAddr("10.255.0.1"), Proto: 1, IPTTL: 255,
			ICMPType: 11,
		}, false},
		{"extension cut", cat(eth(etherIPv4), func() []byte {
			b := timeExceeded(true)
			b = b[:len(b)-6]
			binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
			return b
		}()), frame{}, true},
		{"arp", cat(eth(0x0806), make([]byte, 28)), frame{EtherType: 0x0806, ICMPType: 0xff}, false},
		{"short ethernet", []byte{1, 2, 3}, frame{}, true},
		{"label stack cut", cat(eth(etherMPLS), []byte{0x00, 0x06, 0x40, 0xfe}), frame{}, true},
		{"ipv4 cut", cat(eth(etherIPv4), ip[:12]), frame{}, true},
		{"bad ihl", cat(eth(etherIPv4), []byte{0x41}, ip[1:]), frame{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeFrame(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %s %+v, want %s %+v", got, got.Labels, tc.want, tc.want.Labels)
			}
		})
	}
}

// timeExceeded is an IPv4 ICMP time exceeded 198.51.100.2 > 10.255.0.1
// quoting a 28-byte echo request, with (RFC 4884: padded to 128 bytes, length
// 32 words) or without an RFC 4950 object holding label 100 TTL 1.
func timeExceeded(ext bool) []byte {
	quoted := []byte{0x45, 0, 0, 28, 0, 1, 0, 0, 1, 1, 0, 0, 10, 255, 0, 1, 10, 255, 0, 3, 8, 0, 0, 0, 0, 1, 0, 1}
	icmp := []byte{11, 0, 0, 0, 0, 0, 0, 0}
	if ext {
		icmp[5] = 32
		body := make([]byte, 128)
		copy(body, quoted)
		icmp = append(icmp, body...)
		icmp = append(icmp, 0x20, 0, 0, 0) // extension header: version 2, checksum not checked here
		icmp = append(icmp, 0, 8, 1, 1)    // object: 8 bytes, class 1 (MPLS label stack), c-type 1
		icmp = append(icmp, 0x00, 0x06, 0x41, 0x01)
	} else {
		icmp = append(icmp, quoted...)
	}
	ip := []byte{0x45, 0, 0, 0, 0, 2, 0, 0, 255, 1, 0, 0, 198, 51, 100, 2, 10, 255, 0, 1}
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+len(icmp)))
	return append(ip, icmp...)
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00}, timeExceeded(true)...))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x47, 0x00, 0x06, 0x41, 0xfe, 0x45})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x4f})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err == nil && fr.HasIP && !fr.Src.Is4() {
			t.Fatalf("IPv4 frame without an IPv4 source: %s", fr)
		}
	})
}
