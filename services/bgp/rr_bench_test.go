package bgp

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"vpnos/services/bgp/packet"
	"vpnos/services/label"
	"vpnos/services/nsutil"
)

// The reflection benchmark: a route reflector with 10 clients, an 11th
// client announcing 1M VPNv4 routes (benchStream: 1,000 RDs of 1,000 /24s,
// each RD its own target) over a real TCP session. The reflector keeps
// every route (undo policy vpn-target) and reflects it to the 10 clients,
// which are sessions of the benchmark counting the VPNv4 NLRI they
// receive. The figures: the time from the first byte of the stream to the
// last client holding all 1M routes, and the reflector's peak resident
// memory (VmHWM). The reference is FRR's bgpd as the reflector (without
// zebra, next hops taken as valid) in the same run, fed and read the same
// way. The reflector runs as a process of its own in a namespace of the
// benchmark (rr-brr); the feeder and the clients share another (rr-bpeers).

const rrBenchClients = 10

// rrBenchAddr: the reflector is 10.0.40.1, the feeder 10.0.40.2, the
// clients 10.0.40.3 and up.
func rrBenchAddr(i int) string { return fmt.Sprintf("10.0.40.%d", i) }

func init() {
	// The reflector process of the benchmark (the test binary run again).
	if os.Getenv("VPNOS_BGP_BENCH_RR") != "" {
		os.Exit(runBenchRR())
	}
}

// reachRIB answers every next-hop watch at once: reachable at cost 1.
type reachRIB struct{ svc *Service }

func (r *reachRIB) Apply(acts []Action) {
	for _, a := range acts {
		if w, ok := a.(WatchNextHop); ok {
			st := NextHopState{Instance: w.Instance, Addr: w.Addr, Reachable: true, Cost: 1}
			go r.svc.NextHop(context.Background(), st)
		}
	}
}

// rrBenchConfig: every peer a client, VPNv4 only, the reflector passive.
func rrBenchConfig() Config {
	c := Config{AS: 65000, RouterID: netip.MustParseAddr(rrBenchAddr(1)), VPNv4: &VPNv4AF{NoPolicyVPNTarget: true}}
	for i := 2; i <= rrBenchClients+2; i++ {
		c.Peers = append(c.Peers, Peer{Addr: netip.MustParseAddr(rrBenchAddr(i)), AS: 65000, NoUnicast: true,
			PeerOptions: PeerOptions{Passive: true},
			AF:          map[packet.Family]PeerAF{packet.VPNv4: {Enabled: true, ReflectClient: true}}})
	}
	return c
}

func runBenchRR() int {
	rib := &reachRIB{}
	svc := NewService(ServiceConfig{Labels: label.New(), RIB: rib})
	rib.svc = svc
	ctx := context.Background()
	go svc.Serve(ctx)
	if err := svc.SetConfig(ctx, rrBenchConfig()); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready")
	select {} // until killed, so that the parent reads the peak memory
}

// newRRNetLab is newNetLab for the namespaces of this benchmark (rr-*).
func newRRNetLab(tb testing.TB, names ...string) *netLab {
	tb.Helper()
	l := &netLab{tb: tb, names: names, dir: tb.TempDir()}
	for _, n := range names {
		if !strings.HasPrefix(n, "rr-") {
			tb.Fatalf("namespace %s without the rr- prefix", n)
		}
		_ = nsutil.Delete(nsDir, n)
	}
	for _, n := range names {
		if _, err := nsutil.Create(nsDir, n); err != nil {
			l.close()
			tb.Fatal(err)
		}
	}
	tb.Cleanup(l.close)
	return l
}

// rrBenchWire links the reflector's namespace to the peers' (the feeder's
// and the clients' addresses on one port).
func rrBenchWire(l *netLab, rrNS, peersNS string) {
	l.veth(peersNS, "rrbp", rrBenchAddr(2)+"/24", rrNS, "rrbr", rrBenchAddr(1)+"/24")
	l.do(peersNS, func() error {
		link, err := netlink.LinkByName("rrbp")
		if err != nil {
			return err
		}
		for i := 3; i <= rrBenchClients+2; i++ {
			a, _ := netlink.ParseAddr(rrBenchAddr(i) + "/24")
			if err := netlink.AddrAdd(link, a); err != nil {
				return err
			}
		}
		return nil
	})
}

// rrClient is a client session of the benchmark: it counts the VPNv4
// routes it is sent and reports when it has want of them.
type rrClient struct {
	conn net.Conn
	done chan time.Time
	err  chan error
}

func dialClient(nsPath, local, remote string, want int) (*rrClient, error) {
	c, err := dial(context.Background(), nsPath, Dial{Remote: netip.MustParseAddr(remote), Source: netip.MustParseAddr(local), TTL: 255}, Port)
	if err != nil {
		return nil, err
	}
	o := &packet.Open{Version: 4, HoldTime: 0, RouterID: netip.MustParseAddr(local),
		Caps: packet.Capabilities{Families: []packet.Family{packet.VPNv4}, AS4: true, AS4Number: 65000, RouteRefresh: true}}
	if _, err := c.Write(append(packet.EncodeOpen(o), packet.EncodeKeepalive()...)); err != nil {
		c.Close()
		return nil, err
	}
	cl := &rrClient{conn: c, done: make(chan time.Time, 1), err: make(chan error, 1)}
	go cl.count(bufio.NewReaderSize(c, 1<<16), want)
	return cl, nil
}

// count reads messages, counting the NLRI of MP_REACH_NLRI (one length
// byte, then that many bits, per route).
func (cl *rrClient) count(r *bufio.Reader, want int) {
	buf := make([]byte, 1<<16)
	n := 0
	for {
		if _, err := io.ReadFull(r, buf[:packet.HeaderLen]); err != nil {
			cl.err <- err
			return
		}
		l := int(binary.BigEndian.Uint16(buf[16:18]))
		body := buf[packet.HeaderLen:l]
		if _, err := io.ReadFull(r, body); err != nil {
			cl.err <- err
			return
		}
		switch buf[18] {
		case byte(packet.TypeNotification):
			cl.err <- fmt.Errorf("NOTIFICATION %x", body)
			return
		case byte(packet.TypeUpdate):
		default:
			continue
		}
		wl := int(binary.BigEndian.Uint16(body))
		attrs := body[2+wl:]
		al := int(binary.BigEndian.Uint16(attrs))
		attrs = attrs[2 : 2+al]
		for len(attrs) >= 3 {
			flags, typ := attrs[0], attrs[1]
			var vl, hl int
			if flags&0x10 != 0 {
				vl, hl = int(binary.BigEndian.Uint16(attrs[2:4])), 4
			} else {
				vl, hl = int(attrs[2]), 3
			}
			v := attrs[hl : hl+vl]
			attrs = attrs[hl+vl:]
			if typ != byte(packet.AttrMPReach) || len(v) < 5 {
				continue
			}
			nlri := v[4+int(v[3])+1:]
			for len(nlri) > 0 {
				nlri = nlri[1+(int(nlri[0])+7)/8:]
				n++
			}
		}
		if n >= want {
			cl.done <- time.Now()
			io.Copy(io.Discard, r)
			return
		}
	}
}

// rrBenchRun connects the clients to the reflector at 10.0.40.1, feeds it
// the stream and returns the time until the last client has every route.
func rrBenchRun(b *testing.B, l *netLab, peersNS string, stream []byte) time.Duration {
	want := benchRDs * benchPerRD
	var clients []*rrClient
	for i := 3; i <= rrBenchClients+2; i++ {
		var cl *rrClient
		poll(b, "client session", 20*time.Second, func() (string, bool) {
			var err error
			cl, err = dialClient(l.path(peersNS), rrBenchAddr(i), rrBenchAddr(1), want)
			return fmt.Sprint(err), err == nil
		})
		defer cl.conn.Close()
		clients = append(clients, cl)
	}
	var start time.Time
	var conn net.Conn
	poll(b, "feeder session", 20*time.Second, func() (string, bool) {
		var err error
		conn, err = feed(b, l.path(peersNS), rrBenchAddr(2), rrBenchAddr(1), stream, &start)
		return fmt.Sprint(err), err == nil
	})
	defer conn.Close()
	var last time.Time
	for i, cl := range clients {
		select {
		case t := <-cl.done:
			if t.After(last) {
				last = t
			}
		case err := <-cl.err:
			b.Fatalf("client %d: %v", i+1, err)
		case <-time.After(10 * time.Minute):
			b.Fatalf("client %d: not every route within 10 minutes", i+1)
		}
	}
	return last.Sub(start)
}

func BenchmarkRouteReflector1M(b *testing.B) {
	needRoot(b, "ip", "/usr/lib/frr/bgpd")
	stream := benchStream(b, rrBenchAddr(2))
	b.Logf("stream: %d routes in %d bytes, reflected to %d clients", benchRDs*benchPerRD, len(stream), rrBenchClients)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ours, oursMem := rrBenchVpnos(b, exe, stream)
		theirs, theirsMem := rrBenchFRR(b, stream)
		b.ReportMetric(ours.Seconds(), "vpnos-s")
		b.ReportMetric(theirs.Seconds(), "frr-s")
		b.ReportMetric(ours.Seconds()/theirs.Seconds(), "time-ratio")
		b.ReportMetric(float64(oursMem)/(1<<20), "vpnos-MiB")
		b.ReportMetric(float64(theirsMem)/(1<<20), "frr-MiB")
		b.ReportMetric(float64(oursMem)/float64(theirsMem), "mem-ratio")
	}
}

// rrBenchVpnos runs the vpnos reflector process.
func rrBenchVpnos(b *testing.B, exe string, stream []byte) (time.Duration, int64) {
	l := newRRNetLab(b, "rr-brr", "rr-bpeers")
	defer l.close()
	rrBenchWire(l, "rr-brr", "rr-bpeers")
	cmd := exec.Command("ip", "netns", "exec", "rr-brr", exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "VPNOS_BGP_BENCH_RR=1")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		b.Fatalf("reflector: %q", lines.Text())
	}
	d := rrBenchRun(b, l, "rr-bpeers", stream)
	return d, peakRSS(cmd.Process.Pid)
}

// rrBenchFRR runs bgpd as the reflector.
func rrBenchFRR(b *testing.B, stream []byte) (time.Duration, int64) {
	l := newRRNetLab(b, "rr-bfrr", "rr-bpeers2")
	defer l.close()
	rrBenchWire(l, "rr-bfrr", "rr-bpeers2")
	var conf strings.Builder
	fmt.Fprintf(&conf, "hostname rrbench\nrouter bgp 65000\n bgp router-id %s\n no bgp default ipv4-unicast\n", rrBenchAddr(1))
	for i := 2; i <= rrBenchClients+2; i++ {
		fmt.Fprintf(&conf, " neighbor %s remote-as 65000\n", rrBenchAddr(i))
	}
	conf.WriteString(" address-family ipv4 vpn\n")
	for i := 2; i <= rrBenchClients+2; i++ {
		fmt.Fprintf(&conf, "  neighbor %s activate\n  neighbor %s route-reflector-client\n", rrBenchAddr(i), rrBenchAddr(i))
	}
	conf.WriteString(" exit-address-family\n!\n")
	f := l.bgpd("rr-bfrr", conf.String())
	defer func() {
		f.p.cmd.Process.Kill()
		f.p.cmd.Wait()
	}()
	d := rrBenchRun(b, l, "rr-bpeers2", stream)
	pidb, _ := os.ReadFile(f.dir + "/bgpd.pid")
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidb)))
	return d, peakRSS(pid)
}
