package probe

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func fakeHost(t *testing.T, mpls, vrfMod, vrfBuiltin bool) Host {
	t.Helper()
	proc, sys := t.TempDir(), t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(proc, "sys/kernel/osrelease"), "6.18.0-test\n")
	write(filepath.Join(proc, "self/ns/net"), "")
	mods := "veth 40960 0 - Live 0x0\n"
	if vrfMod {
		mods += "vrf 45056 0 - Live 0x0\n"
	}
	write(filepath.Join(proc, "modules"), mods)
	if mpls {
		write(filepath.Join(proc, "sys/net/mpls/platform_labels"), "0\n")
	}
	if vrfBuiltin {
		if err := os.MkdirAll(filepath.Join(sys, "module/vrf"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Host{Proc: proc, Sys: sys,
		Socket:        func(d, ty, p int) error { return nil },
		BPF:           func() error { return unix.EFAULT },
		CanUnshareNet: func() bool { return true },
		CanNetAdmin:   func() bool { return true }}
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		name              string
		mpls, vrfM, vrfB  bool
		wantMPLS, wantVRF bool
		auto              string
		kernelErr         bool
	}{
		{"bare kernel", false, false, false, false, false, "userspace", true},
		{"mpls and vrf module", true, true, false, true, true, "kernel", false},
		{"vrf built in", true, false, true, true, true, "kernel", false},
		{"mpls only", true, false, false, true, false, "userspace", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(fakeHost(t, tc.mpls, tc.vrfM, tc.vrfB))
			if r.MPLS != tc.wantMPLS || r.VRF != tc.wantVRF || !r.NetNS || !r.AFPacket || !r.BPF || r.Kernel != "6.18.0-test" {
				t.Fatalf("probe = %+v", r)
			}
			// With a kernel backend in the build, auto follows the host.
			if b, _ := r.pick("auto", true); b != tc.auto {
				t.Fatalf("auto backend = %s, want %s", b, tc.auto)
			}
			if _, err := r.pick("kernel", true); (err != nil) != tc.kernelErr {
				t.Fatalf("kernel backend err = %v", err)
			}
			// This build has none: auto is userspace, kernel is refused.
			if b, _ := r.Backend("auto"); b != "userspace" || KernelBackendBuilt {
				t.Fatalf("auto backend without a kernel backend = %s", b)
			}
			if _, err := r.Backend("kernel"); err == nil {
				t.Fatal("kernel backend accepted by a build without it")
			}
			if b, err := r.Backend("userspace"); b != "userspace" || err != nil {
				t.Fatal("userspace must always be possible")
			}
		})
	}
	h := fakeHost(t, false, false, false)
	h.Socket = func(d, ty, p int) error { return unix.EPERM }
	h.BPF = func() error { return unix.ENOSYS }
	h.CanUnshareNet = func() bool { return false }
	h.CanNetAdmin = func() bool { return false }
	r := Run(h)
	if r.AFPacket || r.BPF || r.NetNS || r.NetAdmin {
		t.Fatalf("denied capabilities reported present: %+v", r)
	}
	if err := r.Usable(); err == nil || !strings.Contains(err.Error(), "missing NET_ADMIN, NET_RAW, SYS_ADMIN") {
		t.Fatalf("Usable: %v", err)
	}
	if err := Run(fakeHost(t, false, false, false)).Usable(); err != nil {
		t.Fatalf("a capable host: %v", err)
	}
	if _, err := (Result{}).Backend("warp"); err == nil || errors.Is(err, nil) {
		t.Fatal("unknown backend accepted")
	}
}

func TestProbeHasNoSideEffects(t *testing.T) {
	// The real probe on this host only reads: the interface list and the
	// loaded modules are the same before and after.
	snapshot := func() string {
		ifs, err := net.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, i := range ifs {
			b.WriteString(i.Name + " ")
		}
		mods, _ := os.ReadFile("/proc/modules")
		for _, l := range strings.Split(string(mods), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				b.WriteString(f[0] + " ")
			}
		}
		return b.String()
	}
	before := snapshot()
	a, b := Run(System()), Run(System())
	if after := snapshot(); after != before {
		t.Fatalf("probe changed the host:\nbefore %s\nafter  %s", before, after)
	}
	if a.MPLS != b.MPLS || a.VRF != b.VRF || a.AFPacket != b.AFPacket || a.Kernel == "" {
		t.Fatalf("probe not stable: %+v vs %+v", a, b)
	}
}
