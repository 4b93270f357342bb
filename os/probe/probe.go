// Package probe finds out, without side effects, what the host kernel offers
// a router: MPLS routing, VRF devices, network namespaces, AF_PACKET and BPF.
// It reads /proc and /sys and opens sockets it closes at once; it loads no
// module and creates no interface.
package probe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Result is what the probe found.
type Result struct {
	MPLS     bool // /proc/sys/net/mpls exists (mpls_router loaded)
	VRF      bool // the vrf link kind is available
	NetNS    bool // this process may create network namespaces
	AFPacket bool // AF_PACKET sockets open
	BPF      bool // the bpf syscall answers
	NetAdmin bool // CAP_NET_ADMIN: links, addresses and routes can be changed
	Kernel   string
	Notes    []string
}

// Host is the view of the host the probe reads; tests replace it.
type Host struct {
	Proc, Sys string // mount points, "/proc" and "/sys" normally
	// Socket opens and closes a socket of the given family, type and protocol.
	Socket func(domain, typ, proto int) error
	// BPF calls bpf(BPF_PROG_LOAD) with an empty program to see if the syscall exists.
	BPF func() error
	// CanUnshareNet reports whether CAP_SYS_ADMIN is effective.
	CanUnshareNet func() bool
	// CanNetAdmin reports whether CAP_NET_ADMIN is effective.
	CanNetAdmin func() bool
}

// System is the real host.
func System() Host {
	return Host{
		Proc: "/proc", Sys: "/sys",
		Socket: func(d, t, p int) error {
			fd, err := unix.Socket(d, t, p)
			if err != nil {
				return err
			}
			return unix.Close(fd)
		},
		BPF: func() error {
			// BPF_PROG_LOAD with a null attr: EFAULT/EINVAL mean the syscall
			// exists; ENOSYS means it does not; EPERM means not allowed.
			_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, 0, 0)
			return errno
		},
		CanUnshareNet: func() bool { return hasCap(21) }, // CAP_SYS_ADMIN
		CanNetAdmin:   func() bool { return hasCap(12) }, // CAP_NET_ADMIN
	}
}

// Run probes h.
func Run(h Host) Result {
	var r Result
	if b, err := os.ReadFile(filepath.Join(h.Proc, "sys/kernel/osrelease")); err == nil {
		r.Kernel = strings.TrimSpace(string(b))
	}
	if _, err := os.Stat(filepath.Join(h.Proc, "sys/net/mpls/platform_labels")); err == nil {
		r.MPLS = true
	} else {
		r.Notes = append(r.Notes, "kernel MPLS routing absent (mpls_router not loaded)")
	}
	r.VRF = moduleLoaded(h, "vrf")
	if !r.VRF {
		r.Notes = append(r.Notes, "kernel VRF devices absent")
	}
	if _, err := os.Stat(filepath.Join(h.Proc, "self/ns/net")); err == nil && h.CanUnshareNet != nil && h.CanUnshareNet() {
		r.NetNS = true
	}
	r.NetAdmin = h.CanNetAdmin != nil && h.CanNetAdmin()
	if h.Socket != nil {
		r.AFPacket = h.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) == nil
	}
	if h.BPF != nil {
		err := h.BPF()
		r.BPF = err == nil || errors.Is(err, unix.EFAULT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.E2BIG)
	}
	return r
}

// moduleLoaded: a loaded module, and one built in, has a folder under
// /sys/module. (The probe reads no host-wide list such as /proc/modules: a
// node's start looks only at what it needs.)
func moduleLoaded(h Host, name string) bool {
	_, err := os.Stat(filepath.Join(h.Sys, "module", name))
	return err == nil
}

func hasCap(bit uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			var caps uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &caps); err != nil {
				return false
			}
			return caps&(1<<bit) != 0
		}
	}
	return false
}

// KernelBackendBuilt tells whether this build has the kernel forwarding
// backend (netlink MPLS routes and VRF devices). Until it has, every host
// forwards with the userspace backend.
const KernelBackendBuilt = false

// Backend picks the forwarding backend for a setting ("auto", "userspace",
// "kernel").
func (r Result) Backend(setting string) (string, error) { return r.pick(setting, KernelBackendBuilt) }

func (r Result) pick(setting string, kernelBuilt bool) (string, error) {
	switch setting {
	case "userspace":
		return "userspace", nil
	case "kernel":
		if !kernelBuilt {
			return "", fmt.Errorf("forwarding backend kernel is not part of this build; use auto or userspace")
		}
		if !r.MPLS || !r.VRF {
			return "", fmt.Errorf("forwarding backend kernel needs MPLS routing and VRF devices in the host kernel (found mpls=%v vrf=%v)", r.MPLS, r.VRF)
		}
		return "kernel", nil
	case "auto", "":
		if kernelBuilt && r.MPLS && r.VRF {
			return "kernel", nil
		}
		return "userspace", nil
	}
	return "", fmt.Errorf("unknown forwarding backend %q", setting)
}

// Usable reports what keeps vpnos from running its routing instances and
// forwarder on this host, or nil when nothing does.
func (r Result) Usable() error {
	var missing []string
	if !r.NetAdmin {
		missing = append(missing, "NET_ADMIN")
	}
	if !r.AFPacket {
		missing = append(missing, "NET_RAW")
	}
	if !r.NetNS {
		missing = append(missing, "SYS_ADMIN")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("vpnos needs the capabilities NET_ADMIN, NET_RAW and SYS_ADMIN; missing %s (containerlab: leave the node privileged, or set cap-add: [NET_ADMIN, NET_RAW, SYS_ADMIN]; docker run: --cap-add for each)", strings.Join(missing, ", "))
}

// Summary is one line per capability, for display version.
func (r Result) Summary() []string {
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	return []string{
		"MPLS forwarding : " + yn(r.MPLS),
		"VRF devices     : " + yn(r.VRF),
		"Net namespaces  : " + yn(r.NetNS),
		"AF_PACKET       : " + yn(r.AFPacket),
		"eBPF            : " + yn(r.BPF),
	}
}
