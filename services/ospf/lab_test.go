package ospf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vpnos/services/ospf/packet"
	"vpnos/services/rib"
)

// These tests build small networks of namespaces (named vo-*) joined by
// veth pairs and bridges, run our OSPF processes with raw sockets in some
// and FRR's zebra+ospfd in others, and check adjacencies and routes on
// both sides. They need root and FRR (/usr/lib/frr). Run them under the
// shared lock:
//
//	flock /tmp/vpnos-root-tests.lock go test -run Lab ./services/ospf/

const frrDir = "/usr/lib/frr"

// lab is one test network.
type lab struct {
	t      *testing.T
	ctx    context.Context
	prefix string
	dir    string
	frrs   []*frr
	ours   []*ours
}

func newLab(t *testing.T, name string) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, raw sockets)")
	}
	if _, err := os.Stat(filepath.Join(frrDir, "ospfd")); err != nil {
		t.Fatalf("FRR is not installed (apt-get install frr): %v", err)
	}
	dir, err := os.MkdirTemp("", "vo-ospf-")
	if err != nil {
		t.Fatal(err)
	}
	// FRR runs as user frr and writes its sockets and pid files here.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &lab{t: t, ctx: ctx, prefix: "vo-" + name + "-", dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			l.dump()
		}
		cancel()
		for _, o := range l.ours {
			<-o.done
		}
		for _, f := range l.frrs {
			f.stop()
		}
		l.removeNamespaces()
		if os.Getenv("VO_KEEP") == "" {
			os.RemoveAll(dir)
		} else {
			t.Logf("kept %s", dir)
		}
	})
	// Leftovers of an earlier run of this test go first.
	l.removeNamespaces()
	return l
}

// removeNamespaces deletes this test's namespaces (by their prefix), after
// killing what still runs in them (FRR daemons of a run that was killed).
func (l *lab) removeNamespaces() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], l.prefix) {
			continue
		}
		pids, _ := exec.Command("ip", "netns", "pids", f[0]).Output()
		for _, pid := range strings.Fields(string(pids)) {
			if n, err := strconv.Atoi(pid); err == nil && n > 1 && n != os.Getpid() {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
		exec.Command("ip", "netns", "del", f[0]).Run()
	}
}

func (l *lab) run(args ...string) string {
	l.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// node creates namespace PREFIX+name with lo up and the loopback address.
func (l *lab) node(name, loopback string) string {
	ns := l.prefix + name
	l.run("ip", "netns", "add", ns)
	l.run("ip", "-n", ns, "link", "set", "lo", "up")
	if loopback != "" {
		l.run("ip", "-n", ns, "addr", "add", loopback+"/32", "dev", "lo")
	}
	return ns
}

var vethSeq int

// link joins two nodes with a veth pair named ifA in a and ifB in b.
func (l *lab) link(a, ifA, addrA, b, ifB, addrB string) {
	vethSeq++
	tmpA, tmpB := fmt.Sprintf("vo%da", vethSeq), fmt.Sprintf("vo%db", vethSeq)
	l.run("ip", "link", "add", tmpA, "netns", a, "type", "veth", "peer", "name", tmpB, "netns", b)
	l.run("ip", "-n", a, "link", "set", tmpA, "name", ifA)
	l.run("ip", "-n", b, "link", "set", tmpB, "name", ifB)
	l.run("ip", "-n", a, "addr", "add", addrA, "dev", ifA)
	l.run("ip", "-n", b, "addr", "add", addrB, "dev", ifB)
	l.run("ip", "-n", a, "link", "set", ifA, "up")
	l.run("ip", "-n", b, "link", "set", ifB, "up")
}

// bridgePort puts interface ifN of node n (address addr) on bridge br0 of
// node sw.
func (l *lab) bridgePort(sw, n, ifN, addr string) {
	vethSeq++
	tmpS, tmpN := fmt.Sprintf("vo%ds", vethSeq), fmt.Sprintf("vo%dn", vethSeq)
	l.run("ip", "link", "add", tmpS, "netns", sw, "type", "veth", "peer", "name", tmpN, "netns", n)
	l.run("ip", "-n", n, "link", "set", tmpN, "name", ifN)
	l.run("ip", "-n", n, "addr", "add", addr, "dev", ifN)
	l.run("ip", "-n", sw, "link", "set", tmpS, "master", "br0")
	l.run("ip", "-n", sw, "link", "set", tmpS, "up")
	l.run("ip", "-n", n, "link", "set", ifN, "up")
}

func (l *lab) bridge(sw string) {
	l.run("ip", "-n", sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	l.run("ip", "-n", sw, "link", "set", "br0", "up")
}

func (l *lab) setLink(ns, ifname string, up bool) {
	state := "down"
	if up {
		state = "up"
	}
	l.run("ip", "-n", ns, "link", "set", ifname, state)
}

// frr is FRR's zebra and ospfd in a node.
type frr struct {
	l     *lab
	ns    string
	dir   string
	procs []*exec.Cmd
}

// startFRR runs zebra and ospfd in node ns with the given ospfd
// configuration.
func (l *lab) startFRR(ns, conf string) *frr {
	l.t.Helper()
	dir := filepath.Join(l.dir, ns)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		l.t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	if err := os.WriteFile(filepath.Join(dir, "zebra.conf"), nil, 0o644); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ospfd.conf"), []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	f := &frr{l: l, ns: ns, dir: dir}
	l.frrs = append(l.frrs, f)
	for _, d := range []string{"zebra", "ospfd"} {
		args := []string{"netns", "exec", ns, filepath.Join(frrDir, d),
			"-u", "frr", "-g", "frr", "-P", "0",
			"-f", filepath.Join(dir, d+".conf"),
			"--vty_socket", dir,
			"-i", filepath.Join(dir, d+".pid"),
			"-z", filepath.Join(dir, "zserv.api"),
			"--log", "file:" + filepath.Join(dir, d+".log")}
		cmd := exec.Command("ip", args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			l.t.Fatalf("start %s: %v", d, err)
		}
		f.procs = append(f.procs, cmd)
		// Wait for the daemon's vty socket.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(dir, d+".vty")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				l.t.Fatalf("%s in %s did not start: %s", d, ns, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return f
}

func (f *frr) stop() {
	for k := len(f.procs) - 1; k >= 0; k-- {
		p := f.procs[k]
		if p.Process != nil {
			p.Process.Kill()
			p.Wait()
		}
	}
}

// vtysh runs show commands on the FRR node.
func (f *frr) vtysh(cmd string) string {
	out, err := exec.Command("vtysh", "--vty_socket", f.dir, "-c", cmd).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("vtysh %q: %v: %s", cmd, err, out)
	}
	return string(out)
}

// neighbors is `show ip ospf neighbor json`: router ID -> state.
func (f *frr) neighbors() map[string]string {
	var v struct {
		Neighbors map[string][]struct {
			State   string `json:"nbrState"`
			Address string `json:"ifaceAddress"`
		} `json:"neighbors"`
	}
	out := map[string]string{}
	if err := json.Unmarshal([]byte(f.vtysh("show ip ospf neighbor json")), &v); err != nil {
		return out
	}
	for id, ns := range v.Neighbors {
		for _, n := range ns {
			out[id] = n.State
		}
	}
	return out
}

// frrRoute is one route of `show ip ospf route json`.
type frrRoute struct {
	Type     string `json:"routeType"`
	Cost     int    `json:"cost"`
	Area     string `json:"area"`
	NextHops []struct {
		IP  string `json:"ip"`
		Via string `json:"via"`
	} `json:"nexthops"`
}

// routes is `show ip ospf route json`: prefix -> route (networks and
// externals; the router entries are left out).
func (f *frr) routes() map[string]frrRoute {
	var raw map[string]json.RawMessage
	out := map[string]frrRoute{}
	if err := json.Unmarshal([]byte(f.vtysh("show ip ospf route json")), &raw); err != nil {
		return out
	}
	for k, v := range raw {
		if !strings.Contains(k, "/") {
			continue
		}
		var r frrRoute
		if json.Unmarshal(v, &r) == nil {
			out[k] = r
		}
	}
	return out
}

// hasRoute: FRR has p with one of its next hops through gw and the
// route type starting with typ ("N", "N IA", "N E2").
func (f *frr) hasRoute(p, typ, gw string) bool {
	r, ok := f.routes()[p]
	if !ok || r.Type != typ {
		return false
	}
	for _, nh := range r.NextHops {
		if nh.IP == gw {
			return true
		}
	}
	return false
}

// ours is one of our processes in a node.
type ours struct {
	l    *lab
	ns   string
	in   *Instance
	sink *memSink
	done chan struct{}
	logs *bytes.Buffer
	mu   *sync.Mutex
}

type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (b lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// startOurs runs a process in node ns with raw sockets there.
func (l *lab) startOurs(ns string, cfg Config, ifs []Interface) *ours {
	l.t.Helper()
	o := &ours{l: l, ns: ns, sink: &memSink{}, done: make(chan struct{}), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	log := slog.New(slog.NewTextHandler(lockedBuffer{o.mu, o.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in, err := New(cfg, Deps{Sockets: InNamespace("/run/netns/" + ns), Routes: o.sink, Log: log})
	if err != nil {
		l.t.Fatal(err)
	}
	o.in = in
	l.ours = append(l.ours, o)
	go func() {
		defer close(o.done)
		in.Run(l.ctx)
	}()
	if err := in.SetInterfaces(l.ctx, ifs); err != nil {
		l.t.Fatal(err)
	}
	return o
}

func (o *ours) route(p string) *rib.Route {
	inst := o.in.Instance()
	return o.sink.find(inst, p)
}

// routeVia: our route to p goes through exactly these gateways.
func (o *ours) routeVia(p string, gws ...string) bool {
	r := o.route(p)
	if r == nil || len(r.NextHops) != len(gws) {
		return false
	}
	for k, nh := range r.NextHops {
		if nh.Gateway.String() != gws[k] {
			return false
		}
	}
	return true
}

func (o *ours) nbrState(rid string) string {
	s, err := o.in.Snapshot(o.l.ctx)
	if err != nil {
		return err.Error()
	}
	for _, a := range s.Areas {
		for _, i := range a.Interfaces {
			for _, n := range i.Neighbors {
				if n.RouterID.String() == rid {
					return n.State.String()
				}
			}
		}
	}
	return "none"
}

func (o *ours) ifState(name string) (state, dr, bdr string) {
	s, err := o.in.Snapshot(o.l.ctx)
	if err != nil {
		return err.Error(), "", ""
	}
	for _, a := range s.Areas {
		for _, i := range a.Interfaces {
			if i.Name == name {
				return i.State.String(), i.DR.String(), i.BDR.String()
			}
		}
	}
	return "none", "", ""
}

// p2pLinks counts the point-to-point links in the router LSA of adv in
// this process's database.
func (o *ours) p2pLinks(adv string) int {
	s, err := o.in.Snapshot(o.l.ctx)
	if err != nil {
		return -1
	}
	n := 0
	for _, a := range s.Areas {
		for _, l := range a.LSAs {
			if rl, ok := l.Body.(*packet.RouterLSA); ok && l.AdvRouter.String() == adv && l.Age < packet.MaxAge {
				for _, link := range rl.Links {
					if link.Type == packet.LinkPointToPoint {
						n++
					}
				}
			}
		}
	}
	return n
}

// wait polls cond until it holds or limit passes.
func (l *lab) wait(limit time.Duration, what string, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			l.t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dump logs the state of every node (on failure).
func (l *lab) dump() {
	for _, f := range l.frrs {
		l.t.Logf("=== FRR %s\n%s\n%s\n%s", f.ns, f.vtysh("show ip ospf neighbor"), f.vtysh("show ip ospf route"), f.vtysh("show ip ospf database"))
		if b, err := os.ReadFile(filepath.Join(f.dir, "ospfd.log")); err == nil {
			lines := strings.Split(string(b), "\n")
			l.t.Logf("ospfd.log (end):\n%s", strings.Join(lines[max(0, len(lines)-400):], "\n"))
		}
	}
	for _, o := range l.ours {
		s, err := o.in.Snapshot(context.Background())
		if err == nil {
			var b strings.Builder
			for _, a := range s.Areas {
				for _, i := range a.Interfaces {
					fmt.Fprintf(&b, "  %s area %s %s %s DR %v BDR %v\n", i.Name, a.ID, i.Prefix, i.State, i.DR, i.BDR)
					for _, n := range i.Neighbors {
						fmt.Fprintf(&b, "    nbr %s %s %s\n", n.RouterID, n.Addr, n.State)
					}
				}
				for _, x := range a.LSAs {
					fmt.Fprintf(&b, "  lsa %s %s %s seq %#x age %d\n", x.Type, x.ID, x.AdvRouter, uint32(x.Seq), x.Age)
				}
			}
			for _, x := range s.External {
				fmt.Fprintf(&b, "  ext %s %s seq %#x age %d\n", x.ID, x.AdvRouter, uint32(x.Seq), x.Age)
			}
			for _, r := range s.Routes {
				fmt.Fprintf(&b, "  route %s %s cost %d %v\n", r.Prefix, r.Type, r.Cost, r.NextHops)
			}
			fmt.Fprintf(&b, "  counters %+v dropped %d\n", s.Counters, s.Dropped)
			l.t.Logf("=== ours %s router %s\n%s", o.ns, s.RouterID, b.String())
		}
		o.mu.Lock()
		lines := strings.Split(o.logs.String(), "\n")
		o.mu.Unlock()
		l.t.Logf("log (end):\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

func port(name, addr string) Interface {
	return Interface{Name: name, VRPName: name, Up: true, Addresses: []netip.Prefix{netip.MustParsePrefix(addr)}}
}

func loopback(addr string) Interface {
	return Interface{Name: "LoopBack0", Up: true, Loopback: true, Addresses: []netip.Prefix{netip.MustParsePrefix(addr + "/32")}}
}

// fast timers on the given interfaces, point-to-point or broadcast.
func fast(t NetworkType, cost uint16, prio *uint8, names ...string) []InterfaceSettings {
	var out []InterfaceSettings
	for _, n := range names {
		out = append(out, InterfaceSettings{Name: n, NetworkType: t, HelloInterval: 1, DeadInterval: 4, Cost: cost, Priority: prio})
	}
	return out
}
