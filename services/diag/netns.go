package diag

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"golang.org/x/sys/unix"
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

// Do runs fn on a dedicated OS thread switched into the namespace, and waits
// for it. The calling goroutine's thread is never switched. After fn the
// thread is switched back; if that fails, the thread stays locked and its
// goroutine exits, so the Go runtime terminates the thread instead of reusing
// it in the foreign namespace. A panic in fn is returned as an error.
func (h *NSHandle) Do(fn func() error) error {
	rc, err := h.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", h.f.Name(), err)
	}
	var result error
	cerr := rc.Control(func(target uintptr) {
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			// No UnlockOSThread unless the thread is back home.
			orig, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				runtime.UnlockOSThread()
				done <- fmt.Errorf("network namespace: save current: %w", err)
				return
			}
			defer orig.Close()
			if err := unix.Setns(int(target), unix.CLONE_NEWNET); err != nil {
				runtime.UnlockOSThread()
				done <- fmt.Errorf("network namespace %s: setns: %w", h.f.Name(), err)
				return
			}
			ferr := runGuarded(fn)
			if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
				// Leave the thread locked: it dies with this goroutine.
				done <- errors.Join(ferr, fmt.Errorf("network namespace: switch back: %w", err))
				return
			}
			runtime.UnlockOSThread()
			done <- ferr
		}()
		result = <-done
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
