package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vpnos/lab/topology"
)

// netnsDir is where named network namespaces live (as with `ip netns`).
const netnsDir = "/run/netns"

// LinkMTU is the MTU of every lab link, as containerlab sets it.
const LinkMTU = 9500

// withNetns runs fn on an OS thread switched into ns. If the thread cannot be
// switched back it stays locked, so the Go runtime discards it.
func withNetns(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return errors.Join(ferr, fmt.Errorf("return to the host netns: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// ensureNetnsDir makes /run/netns a shared mount point, as `ip netns add`
// does, before the runner mounts namespaces under it. Were it a plain
// folder, the first `ip netns add` on the host after `lab up` would
// bind-mount /run/netns onto itself: every namespace mount under it is
// copied into the new mount and the originals stay below it, out of reach,
// so removing a lab namespace fails with "device or resource busy" and the
// namespace lives on.
func ensureNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", netnsDir, err)
	}
	for made := false; ; made = true {
		err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || made {
			return fmt.Errorf("make %s a shared mount: %w", netnsDir, err)
		}
		// EINVAL: not a mount point yet.
		if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make %s a mount point: %w", netnsDir, err)
		}
	}
}

// createNamedNetns creates /run/netns/name and sets its loopback up. It fails
// if the name exists. ensureNetnsDir must have run.
func createNamedNetns(name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); err == nil {
		return fmt.Errorf("network namespace %s already exists", name)
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name) // switches this thread into the new netns
	if err != nil {
		_ = netns.Set(orig)
		runtime.UnlockOSThread()
		return fmt.Errorf("create network namespace %s: %w", name, err)
	}
	var loErr error
	if lo, err := netlink.LinkByName("lo"); err == nil {
		loErr = netlink.LinkSetUp(lo)
	} else {
		loErr = err
	}
	h.Close()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("return to the host netns: %w", err) // thread stays locked and dies
	}
	runtime.UnlockOSThread()
	if loErr != nil {
		return fmt.Errorf("netns %s: loopback up: %w", name, loErr)
	}
	return nil
}

// netnsExists tells whether /run/netns/name exists.
func netnsExists(name string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, name))
	return err == nil
}

// netnsInode returns the namespace inode of a netns file (bind mount or /proc link).
func netnsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// netnsProcs maps each namespace inode of set to the processes in it, from
// one pass over /proc (one readlink per process, whatever the number of
// namespaces asked about).
func netnsProcs(set map[uint64]bool) map[uint64][]int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	out := map[uint64][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		link, err := os.Readlink("/proc/" + e.Name() + "/ns/net")
		if err != nil {
			continue
		}
		v, ok := strings.CutPrefix(link, "net:[")
		if !ok {
			continue
		}
		ino, err := strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64)
		if err == nil && set[ino] {
			out[ino] = append(out[ino], pid)
		}
	}
	return out
}

// pidsInNetns lists the processes whose network namespace has inode ino.
func pidsInNetns(ino uint64) []int { return netnsProcs(map[uint64]bool{ino: true})[ino] }

// stopNetnsProcesses stops every process in the namespaces of these inodes,
// all at once: SIGTERM, up to grace for them to go, then SIGKILL for what is
// left (a fresh scan each time also finds processes forked meanwhile). It
// returns the processes that do not stop, by inode.
func stopNetnsProcesses(inodes []uint64, grace time.Duration) map[uint64][]int {
	set := map[uint64]bool{}
	for _, ino := range inodes {
		set[ino] = true
	}
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGKILL} {
		procs := netnsProcs(set)
		var pids []int
		for _, ps := range procs {
			pids = append(pids, livePids(ps)...)
		}
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			_ = unix.Kill(p, sig)
		}
		wait := grace
		if sig == unix.SIGKILL {
			wait = 3 * time.Second
		}
		for deadline := time.Now().Add(wait); len(pids) > 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			pids = livePids(pids)
		}
	}
	left := map[uint64][]int{}
	for ino, ps := range netnsProcs(set) {
		if live := livePids(ps); len(live) > 0 {
			left[ino] = live
		}
	}
	return left
}

// livePids drops zombies (they are gone once their parent reaps them; a
// zombie holds no namespace resources).
func livePids(pids []int) []int {
	var out []int
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
			continue
		}
		out = append(out, p)
	}
	return out
}

// deleteNamedNetns deletes every non-loopback link in the namespace (so that
// the veth peers go even if something still pins the namespace), then
// unmounts and removes its file.
func deleteNamedNetns(name string) error {
	path := filepath.Join(netnsDir, name)
	if h, err := netns.GetFromPath(path); err == nil {
		if nh, err := netlink.NewHandleAt(h); err == nil {
			if links, err := nh.LinkList(); err == nil {
				for _, l := range links {
					if l.Attrs().Name != "lo" {
						_ = nh.LinkDel(l)
					}
				}
			}
			nh.Close()
		}
		h.Close()
	}
	// A namespace mounted twice on the same file (or a copy stacked on it)
	// needs one unmount per layer; EINVAL says none is left.
	for i := 0; ; i++ {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
		if i == 16 {
			return fmt.Errorf("unmount %s: still mounted after %d unmounts", path, i+1)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("remove %s: %w (a copy of %s mounted over itself hides the namespace's mount: a lab started before %s was a mount point; `umount %s` once nothing else uses it)", path, err, netnsDir, netnsDir, netnsDir)
		}
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// startInNetns starts cmd with its network namespace set to ns (the child
// inherits the namespace of the forking thread).
func startInNetns(ns netns.NsHandle, cmd *exec.Cmd) error {
	return withNetns(ns, cmd.Start)
}

// wirer makes a lab's veth links with one netlink handle per node, opened
// on first use (not one per link end).
type wirer struct {
	ns map[string]netns.NsHandle
	nh map[string]*netlink.Handle
}

func newWirer(handles map[string]netns.NsHandle) *wirer {
	return &wirer{ns: handles, nh: map[string]*netlink.Handle{}}
}

func (w *wirer) handle(node string) (*netlink.Handle, error) {
	if h := w.nh[node]; h != nil {
		return h, nil
	}
	h, err := netlink.NewHandleAt(w.ns[node])
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", node, err)
	}
	w.nh[node] = h
	return h, nil
}

func (w *wirer) close() {
	for _, h := range w.nh {
		h.Close()
	}
}

// wire creates a veth pair with one end in each node, named as given, MTU
// 9500, TX checksum offload off, both up.
func (w *wirer) wire(a, b topology.Endpoint) error {
	la := netlink.NewLinkAttrs()
	la.Name = a.Iface
	la.MTU = LinkMTU
	la.Namespace = netlink.NsFd(int(w.ns[a.Node]))
	veth := &netlink.Veth{LinkAttrs: la, PeerName: b.Iface, PeerNamespace: netlink.NsFd(int(w.ns[b.Node]))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s/%s: %w", a.Iface, b.Iface, err)
	}
	if err := w.setup(a); err != nil {
		return err
	}
	return w.setup(b)
}

func (w *wirer) setup(ep topology.Endpoint) error {
	h, err := w.handle(ep.Node)
	if err != nil {
		return err
	}
	l, err := h.LinkByName(ep.Iface)
	if err != nil {
		return fmt.Errorf("find %s: %w", ep.Iface, err)
	}
	if err := withNetns(w.ns[ep.Node], func() error { return setTxChecksum(ep.Iface, false) }); err != nil {
		return fmt.Errorf("%s: tx checksum offload off: %w", ep.Iface, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", ep.Iface, err)
	}
	return nil
}

// waitUp polls until every link end is operationally up; each round looks
// again only at the ends still down.
func (w *wirer) waitUp(ctx context.Context, links []topology.Link, within time.Duration) error {
	var down []topology.Endpoint
	for _, l := range links {
		down = append(down, l.A, l.B)
	}
	deadline := time.Now().Add(within)
	for {
		still := down[:0]
		for _, ep := range down {
			h, err := w.handle(ep.Node)
			if err != nil {
				return err
			}
			link, err := h.LinkByName(ep.Iface)
			if err != nil || link.Attrs().OperState != netlink.OperUp {
				still = append(still, ep)
			}
		}
		down = still
		if len(down) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("links still down after %s: %v", within, down)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// ethtool ioctl (linux/ethtool.h).
const (
	ethtoolGTXCSUM = 0x16
	ethtoolSTXCSUM = 0x17
)

type ethtoolValue struct {
	cmd  uint32
	data uint32
}

type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte
}

func ethtoolIoctl(name string, v *ethtoolValue) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var ifr ifreqData
	copy(ifr.name[:], name)
	ifr.data = uintptr(unsafe.Pointer(v))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(v)
	if errno != 0 {
		return errno
	}
	return nil
}

// setTxChecksum is `ethtool -K name tx on|off` in the current thread's netns.
func setTxChecksum(name string, on bool) error {
	v := ethtoolValue{cmd: ethtoolSTXCSUM}
	if on {
		v.data = 1
	}
	return ethtoolIoctl(name, &v)
}

// TxChecksum reports whether TX checksum offload is on for an interface in the
// namespace at nsPath (tests use it).
func TxChecksum(nsPath, name string) (bool, error) {
	h, err := netns.GetFromPath(nsPath)
	if err != nil {
		return false, err
	}
	defer h.Close()
	var on bool
	err = withNetns(h, func() error {
		v := ethtoolValue{cmd: ethtoolGTXCSUM}
		if err := ethtoolIoctl(name, &v); err != nil {
			return err
		}
		on = v.data != 0
		return nil
	})
	return on, err
}

// detach makes the started process independent of the caller's session.
func detach() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// NetnsPIDs lists the live processes in the named network namespace.
func NetnsPIDs(name string) ([]int, error) {
	ino, err := netnsInode(filepath.Join(netnsDir, name))
	if err != nil {
		return nil, err
	}
	return livePids(pidsInNetns(ino)), nil
}

// NetnsProcs lists the live processes of each named network namespace
// (missing ones are left out), from one pass over /proc.
func NetnsProcs(names []string) map[string][]int {
	byIno := map[uint64]string{}
	set := map[uint64]bool{}
	for _, n := range names {
		if ino, err := netnsInode(filepath.Join(netnsDir, n)); err == nil {
			byIno[ino], set[ino] = n, true
		}
	}
	out := map[string][]int{}
	for ino, pids := range netnsProcs(set) {
		if live := livePids(pids); len(live) > 0 {
			out[byIno[ino]] = live
		}
	}
	return out
}

// NetnsPath is the file of a named network namespace.
func NetnsPath(name string) string { return filepath.Join(netnsDir, name) }

// StartIn starts cmd inside the network namespace at nsPath (a /run/netns
// file or /proc/PID/ns/net); the rest of its context is the caller's.
func StartIn(nsPath string, cmd *exec.Cmd) error {
	h, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer h.Close()
	return startInNetns(h, cmd)
}
