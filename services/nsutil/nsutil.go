// Package nsutil creates and enters network namespaces without the `ip`
// command. A named namespace is kept alive by bind-mounting its nsfs file
// under a directory the caller chooses (use /run/netns to make it visible to
// `ip netns`); an unnamed one (New) lives as long as a handle to it.
// Do and DoHandle are the one way the project runs code inside a namespace.
package nsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Do runs fn on a locked OS thread that has entered the network namespace
// at path ("" runs fn in the caller's namespace, still on a locked thread).
// Sockets and devices fn creates belong to that namespace. If the thread
// cannot return to its original namespace it is left locked, so the Go
// runtime discards it when the goroutine ends.
func Do(path string, fn func() error) error {
	if path == "" {
		return DoHandle(netns.None(), fn)
	}
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", path, err)
	}
	defer target.Close()
	if err := DoHandle(target, fn); err != nil {
		return fmt.Errorf("netns %s: %w", path, err)
	}
	return nil
}

// DoHandle is Do for an open namespace handle; netns.None() (or any
// invalid handle) means the caller's namespace.
func DoHandle(target netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if !target.IsOpen() {
			defer runtime.UnlockOSThread()
			errc <- fn()
			return
		}
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns: %w", err)
			return
		}
		err = fn()
		if rerr := netns.Set(orig); rerr == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid namespace name %q", name)
	}
	return nil
}

// Create makes a new network namespace, pins it at dir/name, sets
// net.ipv4.ip_forward=0 in it (new namespaces may inherit forwarding: the
// kernel of a routing instance must never forward transit itself) and brings
// lo up. It returns the path. An existing namespace at that path is an error.
func Create(dir, name string) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("netns dir: %w", err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return "", fmt.Errorf("netns %s: %w", name, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// This thread unshares and is never returned to the runtime.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount %s: %w", path, err)
			return
		}
		errc <- setup()
	}()
	if err := <-errc; err != nil {
		_ = unix.Unmount(path, unix.MNT_DETACH)
		_ = os.Remove(path)
		return "", fmt.Errorf("create netns %s: %w", name, err)
	}
	return path, nil
}

// New creates an unnamed network namespace with lo up and returns a handle
// to it (the caller closes it). Nothing is mounted: the namespace goes away
// with the last handle and the last interface and socket in it.
func New() (netns.NsHandle, error) {
	type result struct {
		ns  netns.NsHandle
		err error
	}
	rc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			rc <- result{err: fmt.Errorf("current netns: %w", err)}
			return
		}
		defer orig.Close()
		n, err := netns.New() // unshare: this thread is now inside
		if err != nil {
			// The thread may be half-switched: it stays locked and dies.
			_ = netns.Set(orig)
			rc <- result{err: fmt.Errorf("new netns: %w", err)}
			return
		}
		err = loUp()
		if serr := netns.Set(orig); serr != nil {
			n.Close()
			rc <- result{err: fmt.Errorf("switch back: %w", serr)}
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			n.Close()
			rc <- result{err: err}
			return
		}
		rc <- result{ns: n}
	}()
	r := <-rc
	return r.ns, r.err
}

// setup runs inside the new namespace.
func setup() error {
	if err := WriteSysctl("net/ipv4/ip_forward", "0"); err != nil {
		return err
	}
	return loUp()
}

// loUp brings up lo in the calling thread's namespace.
func loUp() error {
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}

// MoveLink moves the link name from the calling thread's network namespace
// into target; there it is renamed to newName (when not empty) and, with up,
// set up.
func MoveLink(name string, target netns.NsHandle, newName string, up bool) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetNsFd(l, int(target)); err != nil {
		return fmt.Errorf("move %s: %w", name, err)
	}
	if newName == "" && !up {
		return nil
	}
	return DoHandle(target, func() error {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		if newName != "" && newName != name {
			if err := netlink.LinkSetName(l, newName); err != nil {
				return fmt.Errorf("rename %s to %s: %w", name, newName, err)
			}
		}
		if up {
			return netlink.LinkSetUp(l)
		}
		return nil
	})
}

// WriteSysctl writes value to /proc/sys/<key> in the calling thread's
// network namespace (call it inside Do for another namespace).
func WriteSysctl(key, value string) error {
	// Entries under /proc/sys/net resolve against the opening thread's namespace.
	p := filepath.Join("/proc/sys", key)
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// Delete unmounts and removes dir/name. A missing namespace is not an error.
func Delete(dir, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
