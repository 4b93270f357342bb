package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"vpnos/lab/golden"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
	"vpnos/lab/topology"
)

// l3vpnCopy returns a copy of the reference lab file under the test prefix,
// with its binds made absolute, so that the test does not collide with a
// `make lab` running on the same machine.
func l3vpnCopy(t testing.TB, image string) (string, string) {
	t.Helper()
	root, err := labtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "lab", "l3vpn")
	src, err := os.ReadFile(filepath.Join(dir, "l3vpn.clab.yml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "name: l3vpn\n", "name: "+prefix+"-l3vpn\n", 1)
	if image != "" {
		text = strings.Replace(text, "image: "+topology.DefaultImage+"\n", "image: "+image+"\n", 1)
	}
	text = regexp.MustCompile(`"([A-Za-z0-9-]+):/etc/vpnos/"`).ReplaceAllString(text, `"`+dir+`/$1:/etc/vpnos/"`)
	return writeTopology(t, "l3vpn.clab.yml", text), dir
}

// TestL3VPNReferenceLab brings the reference lab up on network namespaces:
// every node answers, its ports are where the topology puts them, and it
// runs the configuration of its startup.cfg.
func TestL3VPNReferenceLab(t *testing.T) {
	for _, rt := range []string{runner.RuntimeNetns, runner.RuntimeDocker} {
		t.Run(rt, func(t *testing.T) { testL3VPN(t, rt) })
	}
}

func testL3VPN(t *testing.T, rt string) {
	needRoot(t)
	image := ""
	if rt == runner.RuntimeDocker {
		image = labtest.Image(t, bin)
	}
	labtest.CleanStale(t, prefix+"-l3vpn")
	file, dir := l3vpnCopy(t, image)
	topo, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if image != "" && topo.Nodes[0].Image != image {
		t.Fatalf("image %s, want %s", topo.Nodes[0].Image, image)
	}
	if len(topo.Nodes) != 7 || len(topo.Links) != 6 {
		t.Fatalf("%d nodes, %d links", len(topo.Nodes), len(topo.Links))
	}
	l := labtest.Up(t, file, labtest.Options{Binary: bin, Runtime: rt})
	for _, n := range topo.Nodes {
		var want []labtest.Row
		for _, ifc := range n.Intfs {
			want = append(want, labtest.Row{"Interface": "GigabitEthernet0/" + strings.TrimPrefix(ifc, "eth") + "/0", "PHY": "up"})
		}
		l.WaitCLI(t, n.Name, "display interface brief", labtest.Rows("Interface", want...), 10*time.Second)
		waitStartupLoaded(t, l, dir, 10*time.Second, n.Name)

	}
	if rt == runner.RuntimeDocker {
		checkMgmtIsolated(t, l)
	}
}

// checkMgmtIsolated: the management port is outside every routing instance.
// Docker gives each container a default route through eth0, yet a ping from
// PE1's public instance or a VPN instance to P's management address (a
// container of this lab) finds no route, nor does a BGP session to it, and
// nothing leaves PE1's eth0.
func checkMgmtIsolated(t *testing.T, l *labtest.Lab) {
	t.Helper()
	out, err := l.HostCmd("P", 5*time.Second, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	m := regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("P's management address: %v\n%s", err, out)
	}
	pMgmt := m[1]
	txPackets := func() int {
		out, err := l.HostCmd("PE1", 5*time.Second, "ip", "-s", "-o", "link", "show", "dev", "eth0")
		f := regexp.MustCompile(`TX:\s+bytes\s+packets.*?\\\s+\d+\s+(\d+)`).FindStringSubmatch(out)
		if err != nil || f == nil {
			t.Fatalf("PE1 eth0 counters: %v\n%s", err, out)
		}
		n, _ := strconv.Atoi(f[1])
		return n
	}
	before := txPackets()
	for _, cmd := range []string{"ping -c 3 -t 200 " + pMgmt, "ping -vpn-instance red -c 3 -t 200 " + pMgmt} {
		out, err := l.CLI("PE1", cmd)
		if err != nil || !strings.Contains(out, "100.00% packet loss") || strings.Contains(out, "Reply from") {
			t.Errorf("PE1 %s reached the management network: %v\n%s", cmd, err, out)
		}
	}
	// A BGP session to P's management address fails inside PE1's public
	// instance (no route there: the attempt times out within 10 seconds
	// and the session goes to Active) and sends nothing through eth0.
	configure(t, l, "PE1", "bgp 65000", "peer "+pMgmt+" as-number 65000")
	l.WaitCLI(t, "PE1", "display bgp peer "+pMgmt+" verbose", labtest.All(
		labtest.Regexp(`BGP current state: Active`), labtest.Regexp(`BGP last state: Connect`)), 30*time.Second)
	// Six echo requests (and their ARP) and a TCP SYN would show; allow
	// one stray packet of the kernel's own.
	if d := txPackets() - before; d > 1 {
		t.Errorf("%d packets left PE1 through its management port", d)
	}
	configure(t, l, "PE1", "bgp 65000", "undo peer "+pMgmt)
	// The control: from the container's own context (where eth0 lives) P's
	// management address answers, so the pings above had a path to take.
	if out, err := l.HostCmd("PE1", 10*time.Second, "ping", "-c", "1", "-W", "2", pMgmt); err != nil {
		t.Errorf("control ping over the management network failed: %v\n%s", err, out)
	}
}

// waitStartupLoaded waits until each node shows the startup file of
// dir/NODE as its current configuration (it is loaded, and nothing in it
// was refused).
func waitStartupLoaded(t testing.TB, l *labtest.Lab, dir string, within time.Duration, nodes ...string) {
	t.Helper()
	for _, n := range nodes {
		cfg, err := os.ReadFile(filepath.Join(dir, n, "startup.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		l.WaitCLI(t, n, "display current-configuration", labtest.MatchFunc(func(out string) error {
			return sameConfig(string(cfg), out)
		}), within)
	}
}

// sameConfig compares a startup file with display current-configuration,
// ignoring the "!" header lines.
func sameConfig(want, got string) error {
	strip := func(s string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			if !strings.HasPrefix(l, "!") {
				out = append(out, strings.TrimRight(l, " "))
			}
		}
		return out
	}
	w, g := strings.Join(strip(want), "\n"), strings.Join(strip(got), "\n")
	if w == g {
		return nil
	}
	return fmt.Errorf("running configuration differs from startup.cfg at %s", golden.Diff(w, g))
}
