package probe

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
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
	if mpls {
		write(filepath.Join(proc, "sys/net/mpls/platform_labels"), "0\n")
	}
	switch {
	case vrfMod: // a loaded module has its state in /sys/module
		write(filepath.Join(sys, "module/vrf/initstate"), "live\n")
	case vrfBuiltin:
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
	// The real probe on this host only reads. It runs on a thread of its own
	// in a fresh network namespace, so that other tests creating links on the
	// host at the same time cannot disturb the comparison: the namespace's
	// interface list and the modules the probe asks about (whose autoload
	// would be a side effect) are the same before and after.
	watched := []string{"mpls_router", "mpls_iptunnel", "vrf", "af_packet"}
	snapshot := func() (string, error) {
		ifs, err := net.Interfaces()
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, i := range ifs {
			b.WriteString(i.Name + " ")
		}
		mods, _ := os.ReadFile("/proc/modules")
		loaded := map[string]bool{}
		for _, l := range strings.Split(string(mods), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				loaded[f[0]] = true
			}
		}
		for _, m := range watched {
			fmt.Fprintf(&b, "%s=%v ", m, loaded[m])
		}
		return b.String(), nil
	}
	type outcome struct {
		before, after string
		a, b          Result
		err           error
	}
	done := make(chan outcome, 1)
	go func() {
		// The thread stays locked and dies with the goroutine: it never
		// returns to the pool in the probe's namespace.
		runtime.LockOSThread()
		var o outcome
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			o.err = fmt.Errorf("unshare: %w", err)
			done <- o
			return
		}
		if o.before, o.err = snapshot(); o.err == nil {
			o.a, o.b = Run(System()), Run(System())
			o.after, o.err = snapshot()
		}
		done <- o
	}()
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.after != o.before {
		t.Fatalf("probe changed the host:\nbefore %s\nafter  %s", o.before, o.after)
	}
	if o.a.MPLS != o.b.MPLS || o.a.VRF != o.b.VRF || o.a.AFPacket != o.b.AFPacket || o.a.Kernel == "" {
		t.Fatalf("probe not stable: %+v vs %+v", o.a, o.b)
	}
}
