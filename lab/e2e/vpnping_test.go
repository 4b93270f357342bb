package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// vpnLoopbackDiag logs, when the test failed, what a network engineer looks
// at when a ping inside a VPN instance fails: the instance's routes, the
// VPNv4 table, the labels and the forwarder's counters on each PE.
func vpnLoopbackDiag(t *testing.T, l *labtest.Lab, nodes ...string) {
	t.Helper()
	if !t.Failed() {
		return
	}
	for _, n := range nodes {
		for _, cmd := range []string{
			"display ip routing-table vpn-instance red",
			"display bgp vpnv4 all routing-table",
			"display ip routing-table",
			"display mpls lsp",
			"display interface",
		} {
			out, err := l.CLI(n, cmd)
			t.Logf("=== %s: %s (%v)\n%s", n, cmd, err, out)
		}
	}
}

// vpUp brings a copy of lab/<folder>/<file> up on network namespaces under
// the name lab (namespaces clab-<lab>-NODE) and waits until nodes run their
// startup.cfg.
func vpUp(t *testing.T, folder, file, lab string, nodes ...string) *labtest.Lab {
	t.Helper()
	needRoot(t)
	labtest.CleanStale(t, lab)
	topo, dir := labCopy(t, folder, file, lab, "")
	l := labtest.Up(t, topo, labtest.Options{Binary: bin, Runtime: runner.RuntimeNetns})
	waitStartupLoaded(t, l, dir, 20*time.Second, nodes...)
	return l
}

// vpUpEdited brings up a copy of lab/<folder>/<file> whose nodes' startup
// files went through edit first (node, startup.cfg -> new startup.cfg).
func vpUpEdited(t *testing.T, folder, file, lab string, edit func(node, cfg string) string) *labtest.Lab {
	t.Helper()
	needRoot(t)
	labtest.CleanStale(t, lab)
	root, err := labtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "lab", folder)
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		cfg, err := os.ReadFile(filepath.Join(src, e.Name(), "startup.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, e.Name()), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name(), "startup.cfg"), []byte(edit(e.Name(), string(cfg))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text, err := os.ReadFile(filepath.Join(src, file))
	if err != nil {
		t.Fatal(err)
	}
	topo := regexp.MustCompile(`(?m)^name: .*$`).ReplaceAllString(string(text), "name: "+lab)
	topo = regexp.MustCompile(`"([A-Za-z0-9-]+):/etc/vpnos/"`).ReplaceAllString(topo, `"`+dst+`/$1:/etc/vpnos/"`)
	return labtest.Up(t, writeTopology(t, file, topo), labtest.Options{Binary: bin, Runtime: runner.RuntimeNetns})
}

// TestVPNLoopbackPing: on each lab, a LoopBack bound to red on each PE,
// advertised by import-route direct (added where the lab lacks it), from
// the startup file on lab/rr and configured live on the others. Each PE
// pings the other's red LoopBack from its own, over the VPN label and the
// LDP LSP, as a VRP PE does with ping -vpn-instance red -a. Both LoopBacks'
// /32 are in the other PE's red table (IBGP, through the core port); the
// remote LoopBack answers from the PE's red interface address too, the local
// LoopBack as source reaches the remote PE's red interface, and the CE
// reaches both LoopBacks.
func TestVPNLoopbackPing(t *testing.T) {
	for _, c := range []struct {
		folder, core, ce string
		startup          bool // the LoopBacks in the startup files, else configured live
		redIf            map[string]string
		bgp              map[string][]string // extra commands under bgp 65000
	}{
		{folder: "l3vpn", core: "GigabitEthernet0/3/0", ce: "CE-A",
			redIf: map[string]string{"PE1": "192.0.2.1", "PE2": "203.0.113.1"}},
		{folder: "rr", core: "GigabitEthernet0/3/0", ce: "CE1", startup: true,
			redIf: map[string]string{"PE1": "192.0.2.1", "PE2": "203.0.113.1"}},
		{folder: "rr-hier", core: "GigabitEthernet0/3/0", ce: "CE1",
			redIf: map[string]string{"PE1": "192.0.2.1", "PE2": "203.0.113.1"},
			bgp: map[string][]string{
				"PE1": {"ipv4-family vpn-instance red", "import-route direct"},
				"PE2": {"ipv4-family vpn-instance red", "import-route direct"},
			}},
	} {
		lb := map[string]string{"PE1": "172.31.0.1", "PE2": "172.31.0.3"}
		t.Run(c.folder, func(t *testing.T) {
			if !c.startup {
				l := vpUp(t, c.folder, c.folder+".clab.yml", "vp-lb-"+c.folder, "PE1", "PE2")
				t.Cleanup(func() { vpnLoopbackDiag(t, l, "PE1", "PE2") })
				for pe, addr := range lb {
					configure(t, l, pe, "interface LoopBack1", "ip binding vpn-instance red", "ip address "+addr+" 32")
					if cmds := c.bgp[pe]; cmds != nil {
						configure(t, l, pe, append([]string{"bgp 65000"}, cmds...)...)
					}
				}
				checkVPNLoopbackPing(t, l, lb, c.core, c.ce, c.redIf)
				return
			}
			l := vpUpEdited(t, c.folder, c.folder+".clab.yml", "vp-lbs-"+c.folder, func(node, cfg string) string {
				if lb[node] == "" {
					return cfg
				}
				cfg = strings.Replace(cfg, "#\nbgp 65000\n", "#\ninterface LoopBack1\n ip binding vpn-instance red\n ip address "+lb[node]+" 255.255.255.255\n#\nbgp 65000\n", 1)
				if c.bgp[node] != nil {
					cfg = strings.Replace(cfg, " ipv4-family vpn-instance red\n", " ipv4-family vpn-instance red\n  import-route direct\n", 1)
				}
				return cfg
			})
			t.Cleanup(func() { vpnLoopbackDiag(t, l, "PE1", "PE2") })
			for pe := range lb {
				l.WaitCLI(t, pe, "display current-configuration interface LoopBack1", labtest.Contains("ip binding vpn-instance red"), 20*time.Second)
			}
			checkVPNLoopbackPing(t, l, lb, c.core, c.ce, c.redIf)
		})
	}
}

// TestVPNLoopbackOnlyInstance (lab/l3vpn): a VPN instance whose only
// interfaces are LoopBacks (green, RT 65000:300, import-route direct) on
// both PEs. Each PE pings the other's green LoopBack from its own and its
// own LoopBack, and a tracert reaches it: the instance has a host stack
// although no port is bound to it. The same LoopBack addresses in red stay
// apart (VPN isolation), as another instance.
func TestVPNLoopbackOnlyInstance(t *testing.T) {
	l := vpUp(t, "l3vpn", "l3vpn.clab.yml", "vp-lbo", "PE1", "PE2")
	t.Cleanup(func() { vpnLoopbackDiag(t, l, "PE1", "PE2") })
	lb := map[string]string{"PE1": "172.31.0.1", "PE2": "172.31.0.3"}
	rd := map[string]string{"PE1": "10.255.0.1:3", "PE2": "10.255.0.3:3"}
	for pe, addr := range lb {
		configure(t, l, pe, "ip vpn-instance green", "ipv4-family", "route-distinguisher "+rd[pe], "apply-label per-instance",
			"vpn-target 65000:300 export-extcommunity", "vpn-target 65000:300 import-extcommunity")
		configure(t, l, pe, "interface LoopBack1", "ip binding vpn-instance green", "ip address "+addr+" 32")
		configure(t, l, pe, "bgp 65000", "ipv4-family vpn-instance green", "import-route direct")
	}
	peers := map[string]string{"PE1": "PE2", "PE2": "PE1"}
	for pe, other := range peers {
		l.WaitCLI(t, pe, "display ip routing-table vpn-instance green", labtest.All(
			vpnRoute(lb[pe]+"/32", "Direct", "LoopBack1"),
			vpnRoute(lb[other]+"/32", "IBGP", "GigabitEthernet0/3/0")), 60*time.Second)
	}
	for pe, other := range peers {
		pingOK(t, l, pe, "ping -vpn-instance green -c 3 -a "+lb[pe]+" "+lb[other], lb[other])
		pingOK(t, l, pe, "ping -vpn-instance green -c 3 "+lb[other], lb[other])
		pingOK(t, l, pe, "ping -vpn-instance green -c 3 "+lb[pe], lb[pe])
	}
	tracertHops(t, l, "PE1", "tracert -vpn-instance green -a "+lb["PE1"]+" "+lb["PE2"], "198.51.100.2", lb["PE2"])
	// red knows neither LoopBack.
	pingFails(t, l, "PE1", "ping -vpn-instance red -c 1 -t 300 "+lb["PE2"])
	pingFails(t, l, "CE-A", "ping -c 1 -t 300 "+lb["PE2"])
}

// checkVPNLoopbackPing: each PE's red LoopBack (lb) in the other's red
// table through the core port, and the pings of TestVPNLoopbackPing.
func checkVPNLoopbackPing(t *testing.T, l *labtest.Lab, lb map[string]string, core, ce string, redIf map[string]string) {
	t.Helper()
	peers := map[string]string{"PE1": "PE2", "PE2": "PE1"}
	for pe, other := range peers {
		l.WaitCLI(t, pe, "display ip routing-table vpn-instance red", labtest.All(
			vpnRoute(lb[pe]+"/32", "Direct", "LoopBack1"),
			vpnRoute(lb[other]+"/32", "IBGP", core)), 60*time.Second)
	}
	for pe, other := range peers {
		pingOK(t, l, pe, "ping -vpn-instance red -c 3 -a "+lb[pe]+" "+lb[other], lb[other])
		pingOK(t, l, pe, "ping -vpn-instance red -c 3 "+lb[other], lb[other])
		pingOK(t, l, pe, "ping -vpn-instance red -c 3 -a "+lb[pe]+" "+redIf[other], redIf[other])
	}
	pingOK(t, l, ce, "ping -c 3 "+lb["PE2"], lb["PE2"])
	pingOK(t, l, ce, "ping -c 3 "+lb["PE1"], lb["PE1"])
}
