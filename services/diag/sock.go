package diag

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// icmpFilter is the Linux raw socket option ICMP_FILTER (SOL_RAW): a bit
// mask of ICMP types the socket does not want.
const icmpFilter = 1

// sock is a non-blocking socket with reads that end at a deadline or when the
// context is cancelled, whichever comes first.
type sock struct {
	f    *os.File
	rc   syscall.RawConn
	ctx  context.Context
	mu   sync.Mutex
	stop func() bool
}

func newSock(ctx context.Context, f *os.File) (*sock, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s socket: %w", f.Name(), err)
	}
	s := &sock{f: f, rc: rc, ctx: ctx}
	s.stop = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.f.SetReadDeadline(time.Unix(1, 0))
	})
	return s, nil
}

func (s *sock) Close() error {
	s.stop()
	return s.f.Close()
}

// setReadDeadline sets the deadline unless the context is already cancelled
// (whose past deadline must stay).
func (s *sock) setReadDeadline(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	s.f.SetReadDeadline(t)
}

func (s *sock) control(fn func(fd int) error) error {
	var ferr error
	if err := s.rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func (s *sock) setICMPFilter(allowed ...uint8) error {
	mask := ^uint32(0)
	for _, t := range allowed {
		mask &^= 1 << t
	}
	return s.control(func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_RAW, icmpFilter, int(int32(mask))); err != nil {
			return fmt.Errorf("ICMP_FILTER: %w", err)
		}
		return nil
	})
}

func (s *sock) bind(a netip.Addr, port int) error {
	sa := &unix.SockaddrInet4{Port: port}
	if a.IsValid() {
		sa.Addr = a.As4()
	}
	return s.control(func(fd int) error { return unix.Bind(fd, sa) })
}

func (s *sock) localPort() (int, error) {
	var port int
	err := s.control(func(fd int) error {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return err
		}
		in, ok := sa.(*unix.SockaddrInet4)
		if !ok {
			return fmt.Errorf("unexpected local address %T", sa)
		}
		port = in.Port
		return nil
	})
	return port, err
}

func (s *sock) setTTL(ttl int) error {
	return s.control(func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl) })
}

func (s *sock) sendto(b []byte, a netip.Addr, port int) error {
	sa := &unix.SockaddrInet4{Addr: a.As4(), Port: port}
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, sa)
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}

// errStopped is returned by recv when the deadline passed or the context was
// cancelled (check ctx.Err() to tell which).
var errStopped = errors.New("receive stopped")

func (s *sock) recv(buf []byte) (int, error) {
	var n int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, errStopped
		}
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	return n, nil
}

// bindError turns a failed bind to a source address into a clear message.
func bindError(tool string, a netip.Addr, err error) error {
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("%s: source address %s is not an address of this instance: %w", tool, a, err)
	}
	return fmt.Errorf("%s: bind to %s: %w", tool, a, err)
}
