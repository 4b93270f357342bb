package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
		cfg, err := os.ReadFile(filepath.Join(dir, n.Name, "startup.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		l.WaitCLI(t, n.Name, "display current-configuration", labtest.MatchFunc(func(out string) error {
			return sameConfig(string(cfg), out)
		}), 10*time.Second)

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
