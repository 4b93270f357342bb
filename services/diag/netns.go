package diag

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vpnos/services/nsutil"
)

// NetNS is where a tool opens its sockets: the host stack of one routing
// instance. Do runs fn with the calling context switched into the namespace.
// fn must only create sockets (or do other per-thread work) and must not start
// goroutines that expect to inherit the namespace. A socket keeps the namespace
// it was created in for its whole life, so everything after creation (bind,
// send, receive) happens on ordinary goroutines.
type NetNS interface {
	Do(fn func() error) error
}

// NSFunc adapts a function with Do's signature, for example the routing
// daemon's per-instance runner:
//
//	diag.NSFunc(func(fn func() error) error { return host.Do("red", fn) })
type NSFunc func(fn func() error) error

// Do calls f(fn).
func (f NSFunc) Do(fn func() error) error { return f(fn) }

// HostNS is the namespace of the calling process: Do runs fn directly.
type HostNS struct{}

// Do runs fn without switching namespaces.
func (HostNS) Do(fn func() error) error { return fn() }

// NSHandle is a network namespace held open through a file: /proc/PID/ns/net,
// /run/netns/NAME (a bind mount) or a descriptor the daemon keeps.
type NSHandle struct {
	f *os.File
}

// OpenNS opens the namespace file at path (for example /run/netns/red).
func OpenNS(path string) (*NSHandle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	h := &NSHandle{f: f}
	if err := h.check(); err != nil {
		f.Close()
		return nil, err
	}
	return h, nil
}

// NSFromFile wraps an open namespace file. The handle does not own f: Close on
// the handle closes f, so hand over a duplicate if the caller keeps its own.
func NSFromFile(f *os.File) (*NSHandle, error) {
	if f == nil {
		return nil, errors.New("network namespace: nil file")
	}
	h := &NSHandle{f: f}
	if err := h.check(); err != nil {
		return nil, err
	}
	return h, nil
}

// check verifies that the file is a network namespace (NS_GET_NSTYPE).
func (h *NSHandle) check() error {
	rc, err := h.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", h.f.Name(), err)
	}
	var typ int
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		typ, ierr = unix.IoctlRetInt(int(fd), unix.NS_GET_NSTYPE)
	}); err != nil {
		return fmt.Errorf("network namespace %s: %w", h.f.Name(), err)
	}
	if ierr != nil {
		return fmt.Errorf("network namespace %s: not a namespace file: %w", h.f.Name(), ierr)
	}
	if typ != unix.CLONE_NEWNET {
		return fmt.Errorf("network namespace %s: namespace of another type (%#x)", h.f.Name(), typ)
	}
	return nil
}

// Close closes the namespace file.
func (h *NSHandle) Close() error { return h.f.Close() }

// Do runs fn on a dedicated OS thread switched into the namespace (see
// nsutil.DoHandle: the calling goroutine's thread is never switched, and a
// thread that cannot switch back is discarded). A panic in fn is returned as
// an error.
func (h *NSHandle) Do(fn func() error) error {
	rc, err := h.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", h.f.Name(), err)
	}
	var result error
	cerr := rc.Control(func(fd uintptr) {
		result = nsutil.DoHandle(netns.NsHandle(fd), func() error { return runGuarded(fn) })
	})
	if cerr != nil {
		return fmt.Errorf("network namespace %s: %w", h.f.Name(), cerr)
	}
	return result
}

func runGuarded(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in namespace function: %v\n%s", p, debug.Stack())
		}
	}()
	return fn()
}

// socketIn creates a non-blocking, close-on-exec socket inside ns and returns
// it as a pollable *os.File (deadlines work on it).
func socketIn(ns NetNS, domain, typ, proto int, name string) (*os.File, error) {
	if ns == nil {
		ns = HostNS{}
	}
	fd := -1
	err := ns.Do(func() error {
		var err error
		fd, err = unix.Socket(domain, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		return err
	})
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("%s socket: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}
