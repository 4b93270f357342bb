package bgp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"vpnos/services/bgp/packet"
	"vpnos/services/nsutil"
)

// Port is BGP's TCP port.
const Port = 179

// dialTimeout bounds a connection attempt (below the ConnectRetry time).
const dialTimeout = 10 * time.Second

// netEvent is what the socket goroutines tell the owner goroutine.
type netEvent interface{ netEvent() }

type (
	evAccepted struct {
		instance string
		conn     *net.TCPConn
	}
	evDialed struct {
		peer PeerKey
		conn *net.TCPConn
		err  error
	}
	evRead struct {
		id   ConnID
		data []byte
	}
	evReadErr struct {
		id  ConnID
		err error
	}
	evListenErr struct {
		instance string
		err      error
	}
)

func (evAccepted) netEvent()  {}
func (evDialed) netEvent()    {}
func (evRead) netEvent()      {}
func (evReadErr) netEvent()   {}
func (evListenErr) netEvent() {}

// setTTL sets the IP TTL of a TCP socket (1 for a single-hop EBGP
// session, ebgp-max-hop otherwise, 255 for IBGP).
func setTTL(c syscall.RawConn, ttl int) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL, ttl)
	}); err != nil {
		return err
	}
	return serr
}

// listen opens the BGP listener of an instance inside its namespace (path
// "": the current one). The socket stays in that namespace.
func listen(nsPath string, port int) (*net.TCPListener, error) {
	var ln *net.TCPListener
	err := nsutil.Do(nsPath, func() error {
		lc := net.ListenConfig{}
		l, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
		if err != nil {
			return err
		}
		ln = l.(*net.TCPListener)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listen on port %d: %w", port, err)
	}
	return ln, nil
}

// dial connects to a peer from inside a namespace, bound to source when
// given, with the IP TTL set before the SYN leaves.
func dial(ctx context.Context, nsPath string, d Dial, port int) (*net.TCPConn, error) {
	var conn *net.TCPConn
	err := nsutil.Do(nsPath, func() error {
		dl := net.Dialer{Timeout: dialTimeout, Control: func(_, _ string, c syscall.RawConn) error {
			return setTTL(c, int(d.TTL))
		}}
		if d.Source.IsValid() {
			dl.LocalAddr = &net.TCPAddr{IP: d.Source.AsSlice()}
		}
		c, err := dl.DialContext(ctx, "tcp4", net.JoinHostPort(d.Remote.String(), strconv.Itoa(port)))
		if err != nil {
			return err
		}
		conn = c.(*net.TCPConn)
		return nil
	})
	return conn, err
}

// sessionConn is one TCP connection: a reader goroutine framing messages
// and a writer goroutine draining a queue, so that the owner never blocks
// on a peer.
type sessionConn struct {
	id   ConnID
	peer PeerKey
	c    *net.TCPConn

	mu      sync.Mutex
	queue   [][]byte
	closing bool
	wake    chan struct{}
	done    chan struct{}
}

func newSessionConn(id ConnID, peer PeerKey, c *net.TCPConn) *sessionConn {
	return &sessionConn{id: id, peer: peer, c: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// start runs the reader and the writer; events go to out until the
// connection ends.
func (sc *sessionConn) start(out chan<- netEvent, stop <-chan struct{}) {
	go sc.readLoop(out, stop)
	go sc.writeLoop()
}

func (sc *sessionConn) readLoop(out chan<- netEvent, stop <-chan struct{}) {
	r := bufio.NewReaderSize(sc.c, 64*1024)
	post := func(ev netEvent) bool {
		select {
		case out <- ev:
			return true
		case <-stop:
			return false
		case <-sc.done:
			return false
		}
	}
	for {
		hdr := make([]byte, packet.HeaderLen, packet.MaxMsgLen)
		if _, err := io.ReadFull(r, hdr); err != nil {
			post(evReadErr{id: sc.id, err: err})
			return
		}
		l, _, err := packet.ParseHeader(hdr)
		if err != nil {
			// The speaker decodes the header again and sends the
			// NOTIFICATION; nothing after it can be framed.
			post(evRead{id: sc.id, data: hdr})
			return
		}
		msg := hdr[:l]
		if _, err := io.ReadFull(r, msg[packet.HeaderLen:]); err != nil {
			post(evReadErr{id: sc.id, err: err})
			return
		}
		if !post(evRead{id: sc.id, data: msg}) {
			return
		}
	}
}

func (sc *sessionConn) writeLoop() {
	defer close(sc.done)
	defer sc.c.Close()
	for {
		sc.mu.Lock()
		q, closing := sc.queue, sc.closing
		sc.queue = nil
		sc.mu.Unlock()
		if len(q) > 0 {
			bufs := net.Buffers(q)
			sc.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := bufs.WriteTo(sc.c); err != nil {
				return
			}
			continue
		}
		if closing {
			// Let the NOTIFICATION reach the peer before the FIN.
			sc.c.CloseWrite()
			sc.c.SetReadDeadline(time.Now().Add(time.Second))
			return
		}
		<-sc.wake
	}
}

func (sc *sessionConn) send(msgs [][]byte) {
	sc.mu.Lock()
	sc.queue = append(sc.queue, msgs...)
	sc.mu.Unlock()
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// close ends the connection once the queue is written.
func (sc *sessionConn) close() {
	sc.mu.Lock()
	sc.closing = true
	sc.mu.Unlock()
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// listener is an instance's accept loop.
type listener struct {
	instance string
	ln       *net.TCPListener
}

func (l *listener) run(out chan<- netEvent, stop <-chan struct{}) {
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				select {
				case out <- evListenErr{instance: l.instance, err: err}:
				case <-stop:
				}
			}
			return
		}
		select {
		case out <- evAccepted{instance: l.instance, conn: c}:
		case <-stop:
			c.Close()
			return
		}
	}
}

func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(t.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}
