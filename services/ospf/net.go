package ospf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vpnos/services/nsutil"
)

// IPProtoOSPF is the IP protocol number of OSPF.
const IPProtoOSPF = 89

// RawSockets opens raw IP protocol 89 sockets, one per interface, inside
// the network namespace of a routing instance: Do runs a function there
// (a socket created in a namespace stays in it).
type RawSockets struct {
	Do func(fn func() error) error
	// Malformed counts received datagrams too short to hold an IP header
	// and an OSPF header (the core counts what fails to decode).
	Malformed atomic.Uint64
}

// InNamespace is a RawSockets in the namespace pinned at path ("" for the
// caller's namespace).
func InNamespace(path string) *RawSockets {
	return &RawSockets{Do: func(fn func() error) error { return nsutil.Do(path, fn) }}
}

// InHandle is a RawSockets in the namespace of an open handle.
func InHandle(h netns.NsHandle) *RawSockets {
	return &RawSockets{Do: func(fn func() error) error { return nsutil.DoHandle(h, fn) }}
}

// RawConn is the socket of one interface: bound to the device
// (SO_BINDTODEVICE), multicast out of it with TTL 1 and without loopback,
// precedence internetwork control.
type RawConn struct {
	name    string
	ifindex int
	f       *os.File
	rc      syscall.RawConn
	mu      sync.Mutex
	groups  map[netip.Addr]bool
	closed  atomic.Bool
	done    chan struct{}
}

// Open implements Sockets.
func (n *RawSockets) Open(ifname string, deliver func(Packet)) (Conn, error) {
	var c *RawConn
	err := n.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, IPProtoOSPF)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		if err := setupSocket(fd, ifname, ifi.Index); err != nil {
			unix.Close(fd)
			return err
		}
		f := os.NewFile(uintptr(fd), "ospf-"+ifname)
		rc, err := f.SyscallConn()
		if err != nil {
			f.Close()
			return err
		}
		c = &RawConn{name: ifname, ifindex: ifi.Index, f: f, rc: rc, groups: map[netip.Addr]bool{}, done: make(chan struct{})}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ospf socket on %s: %w", ifname, err)
	}
	go c.readLoop(deliver, &n.Malformed)
	return c, nil
}

func setupSocket(fd int, ifname string, ifindex int) error {
	opts := []struct {
		name       string
		level, opt int
		v          int
	}{
		{"IP_MULTICAST_TTL", unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 1},
		{"IP_TTL", unix.IPPROTO_IP, unix.IP_TTL, 1},
		{"IP_MULTICAST_LOOP", unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0},
		{"IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, 0xc0},
		{"SO_RCVBUF", unix.SOL_SOCKET, unix.SO_RCVBUF, 1 << 20},
		{"IP_MTU_DISCOVER", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT},
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
	}
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
		return fmt.Errorf("SO_BINDTODEVICE: %w", err)
	}
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifindex)}); err != nil {
		return fmt.Errorf("IP_MULTICAST_IF: %w", err)
	}
	return nil
}

// maxDatagram is the largest IP datagram read.
const maxDatagram = 65535

func (c *RawConn) readLoop(deliver func(Packet), malformed *atomic.Uint64) {
	defer close(c.done)
	buf := make([]byte, maxDatagram)
	for {
		var n int
		var rerr error
		err := c.rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil || c.closed.Load() {
			return
		}
		if rerr != nil {
			continue
		}
		p, ok := parseIPv4(buf[:n])
		if !ok {
			malformed.Add(1)
			continue
		}
		p.Iface = c.name
		deliver(p)
	}
}

// parseIPv4 takes the OSPF payload out of a received IPv4 datagram (raw
// IPv4 sockets receive the IP header). The payload is copied.
func parseIPv4(b []byte) (Packet, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return Packet{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || len(b) < ihl || b[9] != IPProtoOSPF {
		return Packet{}, false
	}
	// The kernel may report the total length of the reassembled datagram
	// in host order or the original; trust the bytes read when in doubt.
	if total < ihl || total > len(b) {
		total = len(b)
	}
	payload := b[ihl:total]
	if len(payload) < 24 {
		return Packet{}, false
	}
	return Packet{
		Src:  netip.AddrFrom4([4]byte(b[12:16])),
		Dst:  netip.AddrFrom4([4]byte(b[16:20])),
		Data: append([]byte(nil), payload...),
	}, true
}

// Send implements Conn: the packet leaves the bound interface with src as
// its source address (IP_PKTINFO).
func (c *RawConn) Send(dst, src netip.Addr, payload []byte) error {
	if !dst.Is4() {
		return fmt.Errorf("destination %v is not IPv4", dst)
	}
	sa := &unix.SockaddrInet4{Addr: dst.As4()}
	var oob []byte
	if src.Is4() {
		oob = pktinfo(c.ifindex, src)
	}
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), payload, oob, sa, 0)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err != nil {
		return err
	}
	return serr
}

func pktinfo(ifindex int, src netip.Addr) []byte {
	b := make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_IP
	h.Type = unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	pi.Ifindex = int32(ifindex)
	pi.Spec_dst = src.As4()
	return b
}

// Join implements Conn (joining twice is not an error).
func (c *RawConn) Join(group netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.groups[group] {
		return nil
	}
	if err := c.membership(unix.IP_ADD_MEMBERSHIP, group); err != nil {
		return err
	}
	c.groups[group] = true
	return nil
}

// Leave implements Conn.
func (c *RawConn) Leave(group netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.groups[group] {
		return nil
	}
	delete(c.groups, group)
	return c.membership(unix.IP_DROP_MEMBERSHIP, group)
}

func (c *RawConn) membership(opt int, group netip.Addr) error {
	if !group.Is4() || !group.IsMulticast() {
		return fmt.Errorf("%v is not an IPv4 group", group)
	}
	mreq := &unix.IPMreqn{Multiaddr: group.As4(), Ifindex: int32(c.ifindex)}
	var serr error
	err := c.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, opt, mreq)
	})
	if err != nil {
		return err
	}
	return serr
}

// Groups lists the joined groups.
func (c *RawConn) Groups() []netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []netip.Addr
	for g := range c.groups {
		out = append(out, g)
	}
	return out
}

// Close implements Conn; the read loop ends.
func (c *RawConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	err := c.f.Close()
	<-c.done
	return err
}
