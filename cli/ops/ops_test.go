package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
	"vpnos/lab/golden"

	"golang.org/x/sys/unix"

	"vpnos/cli"
	"vpnos/cli/proto"
	"vpnos/services/diag"
	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/services/ldp"
	"vpnos/services/policy"
	"vpnos/services/rib"
	"vpnos/services/static"
	"vpnos/services/vrf"
	"vpnos/yang/datastore"
)

var epoch = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

// world is the fake device behind the commands: the running configuration
// of a real engine, four discovered ports, and a RIB rebuilt from both on
// every read the way the daemon's services build it (vrf state, static
// routes and LSPs from the configuration).
type world struct {
	t        testing.TB
	e        *cli.Engine
	ports    []iface.Port
	now      time.Time
	counters map[string]PortCounters
	nsCalls  []string
	policy   *policy.Owner
	// bgp is the BGP speaker of a BGP world: its incoming VPN labels are
	// the VPN LSPs (instead of the fixed instance label of instanceLabel).
	bgp *bgpNode
}

func (w *world) clock() time.Time { w.now = w.now.Add(time.Second); return w.now }

func (w *world) Ports() []iface.Port { return w.ports }

func (w *world) State() vrf.Desired {
	return vrf.FromConfig(w.e.Store().Running(), w.ports, iface.SlotStyle)
}

func (w *world) Counters(port string) (PortCounters, bool) {
	c, ok := w.counters[port]
	return c, ok
}

// Do stands in for the instance namespaces: it records the instance and
// runs f where the test runs.
func (w *world) Do(instance string, f func() error) error {
	known := instance == fibapi.Public
	for _, n := range w.State().Instances {
		known = known || n == instance
	}
	if !known {
		return fmt.Errorf("no instance %q", instance)
	}
	w.nsCalls = append(w.nsCalls, instance)
	return f()
}

func (w *world) rib() *rib.RIB {
	w.t.Helper()
	r := rib.New(rib.Options{Now: func() time.Time { return epoch }})
	st := w.State()
	for _, n := range st.Instances {
		if err := r.AddInstance(n); err != nil {
			w.t.Fatal(err)
		}
	}
	for _, in := range st.Interfaces {
		if err := r.SetInterface(rib.Port{Name: in.Name, Kernel: in.Kernel, Instance: in.Instance, Up: in.Present && in.Up,
			Loopback: in.Loopback, Addresses: in.Addresses}); err != nil {
			w.t.Fatal(err)
		}
	}
	run := w.e.Store().Running()
	routes, err := static.Routes(run)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := r.SyncRoutes(rib.Static, routes); err != nil {
		w.t.Fatal(err)
	}
	lsps, err := static.LSPs(run)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := r.SetLSPs(rib.OwnerStatic, lsps); err != nil {
		w.t.Fatal(err)
	}
	if w.bgp != nil {
		for proto, routes := range w.bgp.ribRoutes() {
			if err := r.SyncRoutes(proto, routes); err != nil {
				w.t.Fatal(err)
			}
		}
		if err := r.SetLSPs(rib.OwnerBGP, w.bgp.lsps()); err != nil {
			w.t.Fatal(err)
		}
		return r
	}
	var vpn []rib.LSP
	for _, n := range st.Instances {
		if l, ok := w.instanceLabel(n); ok {
			vpn = append(vpn, rib.LSP{Name: n, Role: rib.Egress, Instance: n, InLabel: l})
		}
	}
	if err := r.SetLSPs(rib.OwnerVPNInstance, vpn); err != nil {
		w.t.Fatal(err)
	}
	// LDP's LSPs, as the LDP service hands them to the RIB.
	if snap, err := (worldLDP{w}).Snapshot(context.Background()); err == nil {
		var set []ldp.LSP
		for _, f := range snap.FECs {
			l := ldp.LSP{FEC: f.FEC, Local: f.Local, Egress: f.Egress, Ingress: f.Ingress}
			for _, h := range f.NextHops {
				l.NextHops = append(l.NextHops, h.Hop)
			}
			set = append(set, l)
		}
		lsps, del := ldp.LSPsChanged{Set: set}.RIBUpdate()
		if err := r.UpdateLSPs(rib.OwnerLDP, lsps, del); err != nil {
			w.t.Fatal(err)
		}
	}
	return r
}

// worldLDP is LDP as the world has it: PE1 of the reference (pe1LDP) while
// mpls ldp is configured.
type worldLDP struct{ w *world }

func (l worldLDP) Snapshot(context.Context) (ldp.Snapshot, error) {
	if !l.w.e.Store().Running().Exists(datastore.P("mpls", "ldp")) {
		return ldp.Snapshot{}, ldp.ErrNotEnabled
	}
	s := pe1LDP()
	for i := range s.Interfaces {
		s.Interfaces[i].Name = s.Interfaces[i].VRPName
	}
	for i := range s.FECs {
		for j := range s.FECs[i].NextHops {
			s.FECs[i].NextHops[j].Interface = s.FECs[i].NextHops[j].VRPName
		}
	}
	return s, nil
}

// SendLabelled stands in for the forwarder: ping lsp and tracert lsp are
// fakeTools here.
func (w *world) SendLabelled(context.Context, string, netip.Addr, []uint32, uint8, []byte) error {
	return errors.New("not in this world")
}

// instanceLabel stands in for the VPN instances' labels: red has 48120.
func (w *world) instanceLabel(name string) (uint32, bool) {
	if name == "red" {
		return 48120, true
	}
	return 0, false
}

func (w *world) Snapshot(_ context.Context, instance string) (rib.Snapshot, error) {
	return w.rib().Snapshot(instance)
}

func (w *world) LSPs(_ context.Context, owner string) ([]rib.LSPStatus, error) {
	return w.rib().LSPs(owner), nil
}

func (w *world) Lookup(_ context.Context, instance string, addr netip.Addr) (rib.LookupResult, bool, error) {
	res, ok := w.rib().Lookup(instance, addr)
	return res, ok, nil
}

// fakeTools print the options the commands pass to diag instead of sending
// packets (the real path is TestPingThroughInstance). Destinations in
// 203.0.113.0/24 fail the way diag fails.
var fakeTools = tools{
	ping: func(ctx context.Context, ns diag.NetNS, o diag.PingOptions, w io.Writer) (diag.PingStats, error) {
		if err := ns.Do(func() error { return nil }); err != nil {
			return diag.PingStats{}, err
		}
		if err := fakeFailure("ping", o.Dest, o.Source); err != nil {
			return diag.PingStats{}, err
		}
		fmt.Fprintf(w, "[ping dest=%s source=%v count=%d size=%d timeout=%s]\n", o.Dest, o.Source, o.Count, o.Size, o.Timeout)
		return diag.PingStats{}, nil
	},
	tracert: func(ctx context.Context, ns diag.NetNS, o diag.TracertOptions, w io.Writer) (diag.TracertResult, error) {
		if err := ns.Do(func() error { return nil }); err != nil {
			return diag.TracertResult{}, err
		}
		if err := fakeFailure("tracert", o.Dest, o.Source); err != nil {
			return diag.TracertResult{}, err
		}
		fmt.Fprintf(w, "[tracert dest=%s source=%v first=%d max=%d probes=%d wait=%s]\n", o.Dest, o.Source, o.FirstTTL, o.MaxTTL, o.Probes, o.Timeout)
		return diag.TracertResult{}, nil
	},
	pingLSP: func(ctx context.Context, ns diag.NetNS, s diag.LSPSender, o diag.LSPPingOptions, w io.Writer) (diag.PingStats, error) {
		if err := ns.Do(func() error { return nil }); err != nil {
			return diag.PingStats{}, err
		}
		fmt.Fprintf(w, "[ping lsp fec=%s hop=%+v source=%v count=%d ttl=%d size=%d interval=%s timeout=%s]\n",
			o.FEC, o.Hop, o.Source, o.Count, o.TTL, o.Size, o.Interval, o.Timeout)
		return diag.PingStats{}, nil
	},
	tracertLSP: func(ctx context.Context, ns diag.NetNS, s diag.LSPSender, o diag.LSPTracertOptions, w io.Writer) ([]diag.LSPHopResult, error) {
		if err := ns.Do(func() error { return nil }); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "[tracert lsp fec=%s hop=%+v source=%v max=%d timeout=%s]\n", o.FEC, o.Hop, o.Source, o.MaxTTL, o.Timeout)
		return nil, nil
	},
}

func fakeFailure(tool string, dest, src netip.Addr) error {
	if !netip.MustParsePrefix("203.0.113.0/24").Contains(dest) {
		return nil
	}
	if dest.As4()[3] == 1 {
		return fmt.Errorf("%s: source address %s is not an address of this instance: %w", tool, src, unix.EADDRNOTAVAIL)
	}
	return fmt.Errorf("%s: socket: %w", tool, errors.New("operation not permitted"))
}

func newWorld(t testing.TB, mode string) *world {
	t.Helper()
	return newWorldWith(t, mode, nil)
}

// newWorldWith is newWorld with a BGP speaker behind the displays (nil:
// none).
func newWorldWith(t testing.TB, mode string, node *bgpNode) *world {
	t.Helper()
	return newWorldMore(t, mode, node, nil)
}

// newWorldMore is newWorldWith with Deps changed by more before the
// commands are registered.
func newWorldMore(t testing.TB, mode string, node *bgpNode, more func(*Deps)) *world {
	t.Helper()
	w := &world{t: t, now: epoch, counters: map[string]PortCounters{
		"eth1": {RxPackets: 1200, RxBytes: 98765, RxDrops: 3, TxPackets: 1100, TxBytes: 87654, TxDrops: 1},
		"eth3": {RxPackets: 5, RxBytes: 420},
	}}
	for i := 1; i <= 4; i++ {
		w.ports = append(w.ports, iface.Port{
			Kernel: fmt.Sprintf("eth%d", i), Name: fmt.Sprintf("GigabitEthernet0/%d/0", i), Index: i + 10,
			MAC: net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, byte(i)}, MTU: 1500, AdminUp: true, OperUp: i != 4,
		})
	}
	// The routing policies are applied (the displays show the applied set).
	w.policy = policy.New(nil)
	sysname := "PE1"
	if node != nil {
		sysname = node.name
	}
	e, err := cli.New(cli.Deps{Sysname: sysname, CommitMode: mode, Now: w.clock, Ports: w.Ports, Store: testStoreWith(t, w.policy)})
	if err != nil {
		t.Fatal(err)
	}
	e.Store().Now = w.clock
	w.e = e
	d := Deps{RIB: w, VRF: w, NS: w, Counters: w, Ports: w, Now: w.clock, VRP5: mode == "immediate",
		InstanceLabel: w.instanceLabel, LDP: worldLDP{w}, LSP: w, Policy: w.policy}
	if node != nil {
		w.bgp, d.BGP = node, node
		w.now = node.net.now
		d.Now = func() time.Time { return node.net.now }
	}
	if more != nil {
		more(&d)
	}
	if err := register(e, d, fakeTools); err != nil {
		t.Fatal(err)
	}
	return w
}

// runTranscript feeds lines to one session and returns the screen: a line
// ending in '?' asks for help, one ending in "<TAB>" lists the completion
// candidates, "@ns" prints the namespaces the tools
// entered since the last "@ns", "@evaluate POLICY PREFIX" runs the applied
// route-policy on a route (as BGP would) and "@ip-prefix LIST PREFIX" the
// prefix list (as peer ip-prefix would), printing the outcome.
func runTranscript(t testing.TB, w *world, input string) string {
	ctx := context.Background()
	var b strings.Builder
	var s proto.Session
	s, resp := w.e.Open(ctx, proto.Request{Op: proto.OpOpen, User: "test", Interactive: true})
	defer s.Close()
	prompt := resp.Prompt
	for _, line := range strings.Split(strings.TrimRight(input, "\n"), "\n") {
		switch {
		case line == "@ns":
			fmt.Fprintf(&b, "--- namespaces: %s\n", strings.Join(w.nsCalls, " "))
			w.nsCalls = nil
			continue
		case strings.HasPrefix(line, "@evaluate "), strings.HasPrefix(line, "@ip-prefix "):
			f := strings.Fields(line)
			p := netip.MustParsePrefix(f[2])
			if f[0] == "@ip-prefix" {
				fmt.Fprintf(&b, "--- ip-prefix %s %s: permit %v\n", f[1], p, w.policy.Current().PermitPrefix(f[1], p))
				continue
			}
			res := w.policy.Current().Evaluate(f[1], policy.Route{Prefix: p, LocalPref: 100})
			fmt.Fprintf(&b, "--- route-policy %s %s: permit %v node %d local-preference %d cost %d\n", f[1], p, res.Permit, res.Node, res.Route.LocalPref, res.Route.Cost)
			continue
		case strings.HasSuffix(line, "?"):
			resp = s.Handle(ctx, proto.Request{Op: proto.OpHelp, Line: strings.TrimSuffix(line, "?")})
		case strings.HasSuffix(line, "<TAB>"):
			resp = s.Handle(ctx, proto.Request{Op: proto.OpComplete, Line: strings.TrimSuffix(line, "<TAB>")})
			var cs []string
			for _, c := range resp.Candidates {
				cs = append(cs, c.Text)
			}
			fmt.Fprintf(&b, "%s%s\n--- candidates: %s\n", prompt, line, strings.Join(cs, " "))
			continue
		default:
			resp = s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: line})
		}
		fmt.Fprintf(&b, "%s%s\n", prompt, line)
		b.WriteString(resp.Output)
		if resp.Question != "" {
			t.Fatalf("unexpected question %q after %q", resp.Question, line)
		}
		prompt = resp.Prompt
	}
	return b.String()
}

func TestTranscripts(t *testing.T) {
	golden.Files(t, "testdata/*.txt", func(t *testing.T, name, in string) string {
		mode := "two-stage"
		if strings.HasSuffix(name, "-vrp5") {
			mode = "immediate"
		}
		return runTranscript(t, newWorld(t, mode), in)
	})
}

// bigConfig is a PE with 40 VPN instances, 100 LoopBacks and 300 static routes.
func bigConfig() string {
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "ip vpn-instance v%d\n ipv4-family\n  route-distinguisher 65000:%d\n  vpn-target 65000:%d\n#\n", i, i, i)
	}
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "interface LoopBack%d\n ip binding vpn-instance v%d\n ip address 10.%d.%d.1 255.255.255.255\n#\n", i, i%40, i/200, i%200)
	}
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "ip route-static vpn-instance v%d 172.%d.%d.0 255.255.255.0 192.0.2.2\n", i%40, 16+i/250, i%250)
	}
	return b.String()
}

// BenchmarkReplayCost loads a large configuration into an engine with and
// without the operational commands, and reports the ratio: the grammar
// matches every line against every registered command, so this is what
// the commands cost each configuration line.
func BenchmarkReplayCost(b *testing.B) {
	text := bigConfig()
	replay := func(withOps bool) time.Duration {
		w := &world{t: b, now: epoch}
		e, err := cli.New(cli.Deps{Sysname: "PE1", Now: w.clock, Store: testStore(b)})
		if err != nil {
			b.Fatal(err)
		}
		w.e = e
		if withOps {
			if err := register(e, Deps{RIB: w, VRF: w, NS: w}, fakeTools); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		if errs, err := e.Replay(context.Background(), text); err != nil || len(errs) > 0 {
			b.Fatal(err, errs)
		}
		return time.Since(start)
	}
	var base, ops time.Duration
	for i := 0; i < b.N; i++ {
		base += replay(false)
		ops += replay(true)
	}
	b.ReportMetric(float64(ops)/float64(base), "with-ops/without")
	b.ReportMetric(float64(ops.Nanoseconds())/float64(b.N), "ns/replay-with-ops")
}
