package ldp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"vpnos/services/ldp/packet"
)

// Network is what an Instance needs from the sockets; *Net implements it
// (tests may use a fake).
type Network interface {
	// SetInterfaces sets the interfaces Hellos run on (kernel names).
	SetInterfaces(names []string)
	SendHello(iface string, src netip.Addr, data []byte)
	// Dial connects from local to remote:646 in the background and reports
	// ConnUp or ConnFailed with attempt. A Dial for a peer whose earlier
	// one is still connecting abandons the earlier one.
	Dial(peer, local, remote netip.Addr, attempt uint64)
	Send(conn ConnID, pdus [][]byte)
	// Close closes a connection after what was sent before is written.
	Close(conn ConnID)
	// Events delivers what the network receives.
	Events() <-chan Event
	// Shutdown closes every socket.
	Shutdown()
}

// Net is the LDP transport of one routing instance: a UDP socket bound to
// each LDP interface for the link Hellos (224.0.0.2:646, TTL 1, the
// incoming interface read with IP_PKTINFO), a TCP listener on port 646 and
// the sessions' connections. Every socket is opened through enter, which
// runs a function inside the instance's network namespace.
type Net struct {
	log    *slog.Logger
	enter  func(func() error) error
	ctx    context.Context
	cancel context.CancelFunc
	events chan Event
	wg     sync.WaitGroup

	mu     sync.Mutex
	hellos map[string]*helloSock
	conns  map[ConnID]*tcpConn
	nextID ConnID
	ln     *net.TCPListener
	// dials are the connections being opened, by peer.
	dials map[netip.Addr]pendingDial
}

type pendingDial struct {
	attempt uint64
	cancel  context.CancelFunc
}

type helloSock struct {
	name    string
	ifindex int
	conn    *net.UDPConn
}

type tcpConn struct {
	id   ConnID
	c    *net.TCPConn
	out  chan [][]byte
	once sync.Once
}

const (
	// dialTimeout bounds an active open.
	dialTimeout = 10 * time.Second
	// closeLinger is how long a closed connection waits for the peer's FIN.
	closeLinger = 2 * time.Second
)

// OpenNet starts the listener. enter runs a function in the routing
// instance's network namespace (nil: the caller's; see nsutil.Do).
func OpenNet(ctx context.Context, log *slog.Logger, enter func(func() error) error) (*Net, error) {
	if enter == nil {
		enter = func(f func() error) error { return f() }
	}
	if log == nil {
		log = slog.Default()
	}
	n := &Net{log: log, enter: enter, events: make(chan Event, 1024),
		hellos: map[string]*helloSock{}, conns: map[ConnID]*tcpConn{}, dials: map[netip.Addr]pendingDial{}}
	n.ctx, n.cancel = context.WithCancel(ctx)
	err := enter(func() error {
		lc := net.ListenConfig{}
		l, err := lc.Listen(n.ctx, "tcp4", fmt.Sprintf("0.0.0.0:%d", packet.Port))
		if err != nil {
			return err
		}
		n.ln = l.(*net.TCPListener)
		return nil
	})
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("ldp: listen on tcp %d: %w", packet.Port, err)
	}
	n.wg.Add(1)
	go n.accept()
	return n, nil
}

// Events implements Network.
func (n *Net) Events() <-chan Event { return n.events }

func (n *Net) post(ev Event) {
	select {
	case n.events <- ev:
	case <-n.ctx.Done():
	}
}

func (n *Net) accept() {
	defer n.wg.Done()
	for {
		c, err := n.ln.AcceptTCP()
		if err != nil {
			if n.ctx.Err() == nil {
				n.log.Warn("ldp: accept", "err", err)
			}
			return
		}
		tc := n.register(c)
		n.post(ConnAccepted{Conn: tc.id, Local: addrPort(c.LocalAddr()), Remote: addrPort(c.RemoteAddr())})
		n.start(tc)
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

func (n *Net) register(c *net.TCPConn) *tcpConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nextID++
	tc := &tcpConn{id: n.nextID, c: c, out: make(chan [][]byte, 256)}
	n.conns[tc.id] = tc
	return tc
}

func (n *Net) start(tc *tcpConn) {
	n.wg.Add(2)
	go n.read(tc)
	go n.write(tc)
}

// read frames PDUs by their length. A header that does not frame (bad
// version or length) is handed over as it is: the core refuses it with the
// right Notification and closes the connection; meanwhile the rest of the
// stream is read and dropped, so that closing does not reset the connection
// before the Notification is out. The reader closes the socket when it
// ends.
func (n *Net) read(tc *tcpConn) {
	defer n.wg.Done()
	defer tc.c.Close()
	hdr := make([]byte, 4)
	for {
		if _, err := io.ReadFull(tc.c, hdr); err != nil {
			n.post(ConnClosed{Conn: tc.id, Err: readErr(err)})
			n.Close(tc.id)
			return
		}
		size, err := packet.PDULength(hdr, packet.DefaultMaxPDU)
		if err != nil {
			n.post(PDUReceived{Conn: tc.id, Data: slices.Clone(hdr)})
			_, _ = io.Copy(io.Discard, tc.c)
			return
		}
		buf := make([]byte, size)
		copy(buf, hdr)
		if _, err := io.ReadFull(tc.c, buf[4:]); err != nil {
			n.post(ConnClosed{Conn: tc.id, Err: readErr(err)})
			n.Close(tc.id)
			return
		}
		n.post(PDUReceived{Conn: tc.id, Data: buf})
	}
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// write sends the queued PDUs. When the queue closes, the connection is
// half-closed (FIN after the last PDU, so a Notification is not lost to a
// reset) and the reader closes it when the peer does, or after closeLinger.
func (n *Net) write(tc *tcpConn) {
	defer n.wg.Done()
	for pdus := range tc.out {
		for _, p := range pdus {
			_ = tc.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := tc.c.Write(p); err != nil {
				n.post(ConnClosed{Conn: tc.id, Err: err})
				tc.c.Close()
				// Drain so that Send never blocks on a dead connection.
				for range tc.out {
				}
				return
			}
		}
	}
	_ = tc.c.CloseWrite()
	_ = tc.c.SetReadDeadline(time.Now().Add(closeLinger))
}

// Send implements Network. A connection whose queue is full is closed.
func (n *Net) Send(id ConnID, pdus [][]byte) {
	n.mu.Lock()
	tc := n.conns[id]
	queued := true
	if tc != nil {
		// Under the lock: Close (from a reader too) cannot close the queue
		// meanwhile.
		select {
		case tc.out <- pdus:
		default:
			queued = false
		}
	}
	n.mu.Unlock()
	if tc == nil || queued {
		return
	}
	n.log.Warn("ldp: send queue full, closing", "conn", id)
	n.Close(id)
	// Send runs on the owner goroutine, which also drains the events:
	// report from another goroutine.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.post(ConnClosed{Conn: id, Err: errors.New("send queue full")})
	}()
}

// Close implements Network.
func (n *Net) Close(id ConnID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if tc := n.conns[id]; tc != nil {
		delete(n.conns, id)
		tc.once.Do(func() { close(tc.out) })
	}
}

// Dial implements Network. An earlier Dial to the same peer that is still
// connecting is cancelled (it reports ConnFailed with its own attempt).
func (n *Net) Dial(peer, local, remote netip.Addr, attempt uint64) {
	ctx, cancel := context.WithCancel(n.ctx)
	n.mu.Lock()
	if old, ok := n.dials[peer]; ok {
		old.cancel()
	}
	n.dials[peer] = pendingDial{attempt: attempt, cancel: cancel}
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer cancel()
		var c *net.TCPConn
		err := n.enter(func() error {
			d := net.Dialer{Timeout: dialTimeout, LocalAddr: &net.TCPAddr{IP: local.AsSlice()}}
			cc, err := d.DialContext(ctx, "tcp4", netip.AddrPortFrom(remote, packet.Port).String())
			if err != nil {
				return err
			}
			c = cc.(*net.TCPConn)
			return nil
		})
		n.mu.Lock()
		if d, ok := n.dials[peer]; ok && d.attempt == attempt {
			delete(n.dials, peer)
		}
		n.mu.Unlock()
		if err != nil {
			n.post(ConnFailed{Peer: peer, Attempt: attempt, Err: err})
			return
		}
		tc := n.register(c)
		n.post(ConnUp{Conn: tc.id, Peer: peer, Attempt: attempt, Local: addrPort(c.LocalAddr()), Remote: addrPort(c.RemoteAddr())})
		n.start(tc)
	}()
}

func (n *Net) names() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Collect(maps.Keys(n.hellos))
}

// SetInterfaces implements Network: Hello sockets open on new interfaces
// and close on those left out.
func (n *Net) SetInterfaces(names []string) {
	want := map[string]bool{}
	for _, name := range names {
		want[name] = true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, s := range n.hellos {
		if !want[name] {
			s.conn.Close()
			delete(n.hellos, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if n.hellos[name] != nil {
			continue
		}
		s, err := n.openHello(name)
		if err != nil {
			n.log.Warn("ldp: hello socket", "interface", name, "err", err)
			continue
		}
		n.hellos[name] = s
		n.wg.Add(1)
		go n.readHellos(s)
	}
}

func (n *Net) openHello(name string) (*helloSock, error) {
	var s *helloSock
	err := n.enter(func() error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		group := packet.AllRouters.As4()
		var serr error
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			err := rc.Control(func(fd uintptr) {
				f := int(fd)
				set := func(level, opt, v int) {
					if serr == nil {
						serr = unix.SetsockoptInt(f, level, opt, v)
					}
				}
				set(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				if serr == nil {
					serr = unix.SetsockoptString(f, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name)
				}
				set(unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
				set(unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 1)
				set(unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0)
				mreq := &unix.IPMreqn{Multiaddr: group, Ifindex: int32(ifi.Index)}
				if serr == nil {
					serr = unix.SetsockoptIPMreqn(f, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, mreq)
				}
				if serr == nil {
					serr = unix.SetsockoptIPMreqn(f, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}}
		pc, err := lc.ListenPacket(n.ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", packet.Port))
		if err != nil {
			return err
		}
		s = &helloSock{name: name, ifindex: ifi.Index, conn: pc.(*net.UDPConn)}
		return nil
	})
	return s, err
}

func (n *Net) readHellos(s *helloSock) {
	defer n.wg.Done()
	buf := make([]byte, 65536)
	oob := make([]byte, 128)
	for {
		nb, noob, _, from, err := s.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return
		}
		if idx, ok := pktinfoIndex(oob[:noob]); ok && idx != s.ifindex {
			continue
		}
		n.post(HelloReceived{Interface: s.name, Src: from.Addr().Unmap(), Data: slices.Clone(buf[:nb])})
	}
}

// pktinfoIndex reads the incoming interface from an IP_PKTINFO control
// message.
func pktinfoIndex(oob []byte) (int, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo {
			return int(int32(binary.NativeEndian.Uint32(m.Data[0:4]))), true
		}
	}
	return 0, false
}

// SendHello implements Network: the Hello leaves the interface with src as
// its source address (IP_PKTINFO).
func (n *Net) SendHello(iface string, src netip.Addr, data []byte) {
	n.mu.Lock()
	s := n.hellos[iface]
	n.mu.Unlock()
	if s == nil {
		// The first Hello of an interface comes before SetInterfaces.
		n.SetInterfaces(append(n.names(), iface))
		n.mu.Lock()
		s = n.hellos[iface]
		n.mu.Unlock()
		if s == nil {
			return
		}
	}
	info := unix.Inet4Pktinfo{Ifindex: int32(s.ifindex), Spec_dst: src.As4()}
	oob := unix.PktInfo4(&info)
	dst := netip.AddrPortFrom(packet.AllRouters, packet.Port)
	if _, _, err := s.conn.WriteMsgUDPAddrPort(data, oob, dst); err != nil {
		n.log.Debug("ldp: hello", "interface", iface, "err", err)
	}
}

// Shutdown implements Network: the listener, the Hello sockets and the
// connections close (connections after their queued PDUs are written).
func (n *Net) Shutdown() {
	n.cancel()
	n.mu.Lock()
	for name, s := range n.hellos {
		s.conn.Close()
		delete(n.hellos, name)
	}
	ids := slices.Collect(maps.Keys(n.conns))
	n.mu.Unlock()
	for _, id := range ids {
		n.Close(id)
	}
	if n.ln != nil {
		n.ln.Close()
	}
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		n.log.Warn("ldp: sockets still busy after shutdown")
	}
}
