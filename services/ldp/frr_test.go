package ldp

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"context"
)

// Interop with FRR's ldpd (and the zebra it needs), both run inside the
// test's namespace vl-ff with their configuration, pid, vty and control
// sockets in a folder of the test.

const frrDir = "/usr/lib/frr"

type frr struct {
	dir string
}

func startDaemon(t *testing.T, ns, name string, args ...string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, filepath.Join(frrDir, name)}, args...)...)
	out, err := os.Create(filepath.Join(filepath.Dir(args[1]), name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		out.Close()
	})
}

// startFRR runs zebra and ldpd in namespace ns (full name) with LDP on
// iface.
func startFRR(t *testing.T, ns, lsrID, iface string) *frr {
	t.Helper()
	if _, err := os.Stat(filepath.Join(frrDir, "ldpd")); err != nil {
		t.Fatalf("FRR is not installed (apt-get install frr): %v", err)
	}
	dir, err := os.MkdirTemp("", "vl-frr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"ldpd.log", "zebra.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					t.Logf("%s:\n%s", f, b)
				}
			}
		}
		os.RemoveAll(dir)
	})
	// The daemons run as user frr.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zconf := write("zebra.conf", "hostname vl-zebra\n")
	lconf := write("ldpd.conf", fmt.Sprintf(`hostname vl-ldpd
debug mpls ldp messages recv all
debug mpls ldp messages sent all
mpls ldp
 router-id %[1]s
 address-family ipv4
  discovery transport-address %[1]s
  interface %[2]s
  exit
 exit-address-family
exit
`, lsrID, iface))
	zserv := filepath.Join(dir, "zserv.api")
	common := func(conf, name string) []string {
		return []string{"-f", conf, "-i", filepath.Join(dir, name+".pid"), "-z", zserv, "--vty_socket", dir,
			"-A", "127.0.0.1", "-P", "0", "--log", "file:" + filepath.Join(dir, name+".log")}
	}
	startDaemon(t, ns, "zebra", common(zconf, "zebra")...)
	poll(t, 10*time.Second, "zebra socket", func() (bool, string) {
		_, err := os.Stat(zserv)
		return err == nil, fmt.Sprint(err)
	})
	startDaemon(t, ns, "ldpd", append(common(lconf, "ldpd"), "--ctl_socket", dir)...)
	f := &frr{dir: dir}
	poll(t, 10*time.Second, "ldpd vty", func() (bool, string) {
		out, err := f.vtysh("show mpls ldp neighbor json")
		return err == nil, out + fmt.Sprint(err)
	})
	return f
}

func (f *frr) vtysh(cmd string) (string, error) {
	out, err := exec.Command("vtysh", "--vty_socket", f.dir, "-c", cmd).CombinedOutput()
	return string(out), err
}

type frrBinding struct {
	Prefix      string `json:"prefix"`
	NeighborID  string `json:"neighborId"`
	LocalLabel  string `json:"localLabel"`
	RemoteLabel string `json:"remoteLabel"`
	InUse       int    `json:"inUse"`
}

func (f *frr) bindings(t *testing.T) ([]frrBinding, string) {
	out, err := f.vtysh("show mpls ldp binding json")
	if err != nil {
		return nil, out
	}
	var v struct {
		Bindings []frrBinding `json:"bindings"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return nil, out
	}
	return v.Bindings, out
}

func (f *frr) binding(t *testing.T, prefix, neighbor string) (frrBinding, bool, string) {
	bs, out := f.bindings(t)
	for _, b := range bs {
		if b.Prefix == prefix && b.NeighborID == neighbor {
			return b, true, out
		}
	}
	return frrBinding{}, false, out
}

func (f *frr) neighborState(neighbor string) (string, string) {
	out, err := f.vtysh("show mpls ldp neighbor json")
	if err != nil {
		return "", out
	}
	var v struct {
		Neighbors []struct {
			NeighborID string `json:"neighborId"`
			State      string `json:"state"`
		} `json:"neighbors"`
	}
	if json.Unmarshal([]byte(out), &v) != nil {
		return "", out
	}
	for _, n := range v.Neighbors {
		if n.NeighborID == neighbor {
			return n.State, out
		}
	}
	return "", out
}

// TestFRRInterop: a vpnos LDP instance and FRR's ldpd on a veth, once with
// vpnos as the active side (higher LSR ID) and once passive.
func TestFRRInterop(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name      string
		us, them  string
		weActive  bool
		advertise Advertise
	}{
		{"vpnos active", "10.255.0.9", "10.255.0.1", true, AdvertiseImplicitNull},
		{"vpnos passive", "10.255.0.1", "10.255.0.9", false, AdvertiseImplicitNull},
		{"explicit null", "10.255.0.1", "10.255.0.9", false, AdvertiseExplicitNull},
	} {
		t.Run(tc.name, func(t *testing.T) { frrInterop(t, tc.us, tc.them, tc.weActive, tc.advertise) })
	}
}

func frrInterop(t *testing.T, us, them string, weActive bool, adv Advertise) {
	pv := testNS(t, "fv")
	testNS(t, "ff")
	vethPair(t, "fv", "vlfv0", "10.0.12.1/30", "ff", "vlff0", "10.0.12.2/30")
	sh(t, "ip", "-n", "vl-fv", "addr", "add", us+"/32", "dev", "lo")
	sh(t, "ip", "-n", "vl-ff", "addr", "add", them+"/32", "dev", "lo")
	sh(t, "ip", "-n", "vl-fv", "route", "add", them+"/32", "via", "10.0.12.2")
	sh(t, "ip", "-n", "vl-ff", "route", "add", us+"/32", "via", "10.0.12.1")
	f := startFRR(t, "vl-ff", them, "vlff0")

	usLo, themLo := us+"/32", them+"/32"
	ifs := []Interface{
		{Name: "lo", VRPName: "LoopBack0", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix(usLo)}},
		{Name: "vlfv0", VRPName: "GigabitEthernet0/1/0", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.12.1/30")}, MTU: 1500},
	}
	themRoute := Route{Prefix: netip.MustParsePrefix(themLo), NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.0.12.2"), Interface: "vlfv0"}}}
	routes := []Route{
		{Prefix: netip.MustParsePrefix(usLo), NextHops: []NextHop{{Interface: "lo"}}},
		{Prefix: netip.MustParsePrefix("10.0.12.0/30"), NextHops: []NextHop{{Interface: "vlfv0"}}},
		themRoute,
	}
	cfg := Config{Enabled: true, LSRID: netip.MustParseAddr(us), Advertise: adv,
		Interfaces: []InterfaceConfig{{Name: "GigabitEthernet0/1/0"}}}
	v := startVpnos(t, pv, cfg, ifs, routes)

	ownLabel := "imp-null"
	if adv == AdvertiseExplicitNull {
		ownLabel = "exp-null"
	}
	var transit uint32
	poll(t, 30*time.Second, "session operational, labels exchanged both ways", func() (bool, string) {
		s := v.snapshot(t)
		ss, _ := sessionState(s, them)
		st, nout := f.neighborState(us)
		own, okOwn, _ := f.binding(t, usLo, us)
		theirs, okTheirs, bout := f.binding(t, themLo, us)
		fecThem, _ := fecState(s, themLo)
		fecUs, _ := fecState(s, usLo)
		transit = fecThem.Local
		frrLabelForUs := -1
		for _, b := range fecUs.Received {
			if b.Peer == netip.MustParseAddr(them) {
				frrLabelForUs = int(b.Label)
			}
		}
		ok := ss.State == Operational && ss.Active == weActive && st == "OPERATIONAL" &&
			// FRR has our label for our loopback (PHP or explicit null)
			// and uses it; and our transit label for its own loopback.
			okOwn && own.RemoteLabel == ownLabel && own.InUse == 1 &&
			okTheirs && theirs.RemoteLabel == strconv.Itoa(int(transit)) && transit >= 48000 &&
			// We have FRR's implicit null for its loopback on the LSP, and
			// its (retained) label for ours.
			len(fecThem.NextHops) == 1 && fecThem.NextHops[0].Out == 3 && fecThem.Ingress &&
			frrLabelForUs >= 16
		return ok, fmt.Sprintf("vpnos:\n%sfrr neighbors: %s\nfrr bindings: %s", dump(s), nout, bout)
	})
	if l, ok := v.lsp(netip.MustParsePrefix(themLo)); !ok || l.NextHops[0].Out != 3 || l.NextHops[0].Peer != netip.MustParseAddr(them) {
		t.Fatalf("LSP to FRR's loopback %+v", l)
	}

	// Our route to FRR's loopback goes: our transit label is withdrawn
	// and FRR forgets it.
	if err := v.inst.UpdateRoutes(context.Background(), RoutesChanged{Delete: []netip.Prefix{themRoute.Prefix}}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "FRR drops our withdrawn label", func() (bool, string) {
		b, ok, out := f.binding(t, themLo, us)
		return !ok || b.RemoteLabel != strconv.Itoa(int(transit)), out
	})
	if _, ok := v.lsp(netip.MustParsePrefix(themLo)); ok {
		t.Fatal("LSP kept without a route")
	}
	// And back.
	if err := v.inst.UpdateRoutes(context.Background(), RoutesChanged{Set: []Route{themRoute}}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "FRR gets a label again", func() (bool, string) {
		b, ok, out := f.binding(t, themLo, us)
		n, err := strconv.Atoi(b.RemoteLabel)
		return ok && err == nil && n >= 48000, out
	})

	// FRR's route to our loopback goes (a covering /24 keeps the session's
	// TCP connection reachable): FRR withdraws its label for the /32.
	sh(t, "ip", "-n", "vl-ff", "route", "add", "10.255.0.0/24", "via", "10.0.12.1")
	sh(t, "ip", "-n", "vl-ff", "route", "del", us+"/32")
	poll(t, 20*time.Second, "FRR's label for our loopback withdrawn", func() (bool, string) {
		s := v.snapshot(t)
		fecUs, _ := fecState(s, usLo)
		for _, b := range fecUs.Received {
			if b.Peer == netip.MustParseAddr(them) {
				return false, dump(s)
			}
		}
		return true, ""
	})

	// `undo mpls ldp`: FRR sees the session go.
	if err := v.inst.SetConfig(context.Background(), Config{LSRID: netip.MustParseAddr(us)}); err != nil {
		t.Fatal(err)
	}
	poll(t, 20*time.Second, "FRR session down after undo mpls ldp", func() (bool, string) {
		st, out := f.neighborState(us)
		return st != "OPERATIONAL", out
	})
	// FRR heard a Shutdown Notification before the connection closed.
	poll(t, 10*time.Second, "FRR logs our Shutdown", func() (bool, string) {
		log := readFile(filepath.Join(f.dir, "ldpd.log"))
		return strings.Contains(log, "notification: lsr-id "+us+", status Shutdown (fatal error)"), ""
	})
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
