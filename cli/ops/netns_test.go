package ops

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"vpnos/services/nsutil"

	"github.com/vishvananda/netns"

	"vpnos/cli"
	"vpnos/cli/proto"
	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/services/rib"
	"vpnos/services/vrf"
)

// Everything this test creates carries the vt-ops- prefix.
const (
	ceNS    = "vt-ops-ce"
	vethPE  = "vt-ops-a" // becomes eth7 inside the instance namespace
	vethCE  = "vt-ops-b"
	pePort  = "eth7"
	peAddr  = "192.0.2.1/30"
	ceAddr  = "192.0.2.2/30"
	ceHost  = "192.0.2.2"
	vrfName = "red"
)

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func cleanupNet() {
	_ = exec.Command("ip", "netns", "del", ceNS).Run()
	_ = exec.Command("ip", "link", "del", vethPE).Run()
	_ = exec.Command("ip", "link", "del", vethCE).Run()
}

// vethAttacher plays the forwarder: the port's host side is one end of a
// veth whose other end is in the CE's namespace.
type vethAttacher struct{ t *testing.T }

func (v vethAttacher) AttachPort(_ context.Context, kernel, _ string, ns netns.NsHandle) error {
	return nsutil.MoveLink(vethPE, ns, kernel, true)
}

func (vethAttacher) DetachPort(context.Context, string) error { return nil }

func (vethAttacher) AddInstance(context.Context, string, netns.NsHandle) error { return nil }

func (vethAttacher) RemoveInstance(context.Context, string) error { return nil }

// noRoutes is a RIB without routes: the instance's kernel picks the source.
type noRoutes struct{}

func (noRoutes) Snapshot(context.Context, string) (rib.Snapshot, error) { return rib.Snapshot{}, nil }
func (noRoutes) LSPs(context.Context, string) ([]rib.LSPStatus, error) {
	return nil, nil
}
func (noRoutes) Lookup(context.Context, string, netip.Addr) (rib.LookupResult, bool, error) {
	return rib.LookupResult{}, false, nil
}

type fixedState vrf.Desired

func (s fixedState) State() vrf.Desired { return vrf.Desired(s) }

// TestPingThroughInstance pings and traces a CE through the engine, from the
// namespace of VPN instance red, and shows that the public instance does not
// reach it.
func TestPingThroughInstance(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	cleanupNet()
	t.Cleanup(cleanupNet)
	ctx := context.Background()

	sh(t, "ip", "netns", "add", ceNS)
	sh(t, "ip", "link", "add", vethPE, "type", "veth", "peer", "name", vethCE)
	sh(t, "ip", "link", "set", vethCE, "netns", ceNS)
	sh(t, "ip", "-n", ceNS, "addr", "add", ceAddr, "dev", vethCE)
	sh(t, "ip", "-n", ceNS, "link", "set", vethCE, "up")

	h := vrf.NewLinuxHost(slog.New(slog.NewTextHandler(io.Discard, nil)), vethAttacher{t})
	for _, n := range []string{fibapi.Public, vrfName} {
		if err := h.CreateInstance(ctx, n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.DeleteInstance(ctx, n) })
	}
	if err := h.BindPort(ctx, pePort, vrfName); err != nil {
		t.Fatal(err)
	}
	gi := iface.SlotStyle.VRPName(pePort)
	if err := h.SetAddresses(ctx, vrfName, gi, pePort, false, []netip.Prefix{netip.MustParsePrefix(peAddr)}); err != nil {
		t.Fatal(err)
	}

	e, err := cli.New(cli.Deps{Sysname: "PE1", Store: testStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	if errs, err := e.Replay(ctx, "ip vpn-instance red\n ipv4-family\n  route-distinguisher 10.255.0.1:1\n"); err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	st := fixedState{Instances: []string{vrfName}, Interfaces: map[string]vrf.Interface{
		gi: {Name: gi, Kernel: pePort, Instance: vrfName, Addresses: []netip.Prefix{netip.MustParsePrefix(peAddr)}, Present: true, Up: true},
	}}
	if err := Register(e, Deps{RIB: noRoutes{}, VRF: st, NS: h}); err != nil {
		t.Fatal(err)
	}
	s, _ := e.Open(ctx, proto.Request{Op: proto.OpOpen, User: "test"})
	defer s.Close()
	run := func(line string) string {
		out := s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: line}).Output
		t.Logf("<PE1> %s\n%s", line, out)
		return out
	}

	out := run("ping -c 3 -vpn-instance red " + ceHost)
	for _, want := range []string{
		"  PING 192.0.2.2: 56  data bytes, press CTRL_C to break\n",
		"    Reply from 192.0.2.2: bytes=56 Sequence=1 ttl=64 time=",
		"    Reply from 192.0.2.2: bytes=56 Sequence=3 ttl=64 time=",
		"  --- 192.0.2.2 ping statistics ---\n    3 packet(s) transmitted\n    3 packet(s) received\n    0.00% packet loss\n",
		"    round-trip min/avg/max = ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ping in red: missing %q", want)
		}
	}
	// The source is the instance's address; -a with another address fails.
	if out := run("ping -a 192.0.2.1 -c 1 -vpn-instance red " + ceHost); !strings.Contains(out, "1 packet(s) received") {
		t.Error("ping -a 192.0.2.1 in red got no reply")
	}
	if out := run("ping -vpn-instance red -c 1 -a 10.9.9.9 " + ceHost); !strings.Contains(out, "Error: The source address 10.9.9.9 is not a local address of the VPN instance.") {
		t.Error("ping from a foreign source address did not fail")
	}
	// The public instance has no route to the CE.
	if out := run("ping -c 1 -t 300 " + ceHost); !strings.Contains(out, "100.00% packet loss") || strings.Contains(out, "Reply from") {
		t.Error("the public instance reaches the CE of red")
	}
	// The ping resolved the CE in red's kernel: display arp shows it beside
	// the interface's own address, in red and on the port; the public
	// instance has no entry.
	ceMAC, err := exec.Command("ip", "-n", ceNS, "-br", "link", "show", vethCE).Output()
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC(strings.Fields(string(ceMAC))[2])
	dyn := regexp.MustCompile(`(?m)^192\.0\.2\.2 +` + macVRP(mac) + ` +D-0 +GE0/7/0 +red$`)
	own := regexp.MustCompile(`(?m)^192\.0\.2\.1 +[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4} +I - +GE0/7/0 +red$`)
	for _, cmd := range []string{"display arp", "display arp all", "display arp vpn-instance red", "display arp interface GigabitEthernet0/7/0"} {
		out := run(cmd)
		if !dyn.MatchString(out) || !own.MatchString(out) || !strings.Contains(out, "Total:2         Dynamic:1       Static:0     Interface:1") {
			t.Errorf("%s:\n%s", cmd, out)
		}
	}
	if out := run("display arp vpn-instance nope"); !strings.Contains(out, "Error: The VPN instance does not exist.") {
		t.Errorf("display arp of a missing instance:\n%s", out)
	}
	if out := run("display arp interface LoopBack9"); !strings.Contains(out, "Error: The interface does not exist.") {
		t.Errorf("display arp of a missing interface:\n%s", out)
	}

	out = run("tracert -q 1 -w 1000 -vpn-instance red " + ceHost)
	if !strings.Contains(out, " traceroute to 192.0.2.2(192.0.2.2), max hops: 30 ,packet length: 40,press CTRL_C to break\n") ||
		!strings.Contains(out, "\n 1 192.0.2.2 ") {
		t.Errorf("tracert in red:\n%s", out)
	}
}
