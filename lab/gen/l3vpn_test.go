package gen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vpnos/cli"
	"vpnos/lab/golden"
	"vpnos/lab/topology"
	"vpnos/services/owners"
)

// loadConfig replays a startup file into a fresh datastore with every
// service's rules, as a node does at boot, and returns the running
// configuration it printed, or the refused lines.
func loadConfig(t *testing.T, text string) (string, error) {
	t.Helper()
	st, err := owners.NewStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := cli.New(cli.Deps{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := e.Replay(context.Background(), text)
	if err != nil {
		return "", err
	}
	if len(errs) > 0 {
		var b strings.Builder
		for _, le := range errs {
			fmt.Fprintf(&b, "\n  %+v", le)
		}
		return "", fmt.Errorf("refused lines:%s", b.String())
	}
	return e.CurrentConfig(), nil
}

// sameConfig compares a startup file with the running configuration it
// gave, ignoring the "!" header lines.
func sameConfig(want, got string) error {
	strip := func(s string) string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			if !strings.HasPrefix(l, "!") {
				out = append(out, strings.TrimRight(l, " "))
			}
		}
		return strings.Join(out, "\n")
	}
	if w, g := strip(want), strip(got); w != g {
		return fmt.Errorf("running configuration differs from startup.cfg at %s", golden.Diff(w, g))
	}
	return nil
}

// TestL3VPNConfigsLoad generates small labs and loads every node's
// startup.cfg into a datastore with every service's rules: each is
// accepted whole and is exactly what display current-configuration prints
// back (so `save` on a node changes nothing).
func TestL3VPNConfigsLoad(t *testing.T) {
	for _, c := range []L3VPN{
		{Name: "s1", P: 1, PE: 1, VPNs: 1},
		{Name: "s2", P: 2, PE: 3, VPNs: 2},
		{Name: "s3", P: 3, PE: 3, VPNs: 2},
		{Name: "ebgp", P: 3, PE: 4, VPNs: 3, EBGP: true},
		// P1 with more than nine ports (GE0/10/0 sorts after GE0/9/0).
		{Name: "wide", P: 1, PE: 12, VPNs: 1, OSPFHello: 2, BGPKeepalive: 5},
	} {
		t.Run(c.Name, func(t *testing.T) {
			lab, err := c.Generate()
			if err != nil {
				t.Fatal(err)
			}
			if len(lab.Nodes) != c.Nodes() {
				t.Fatalf("%d nodes, want %d", len(lab.Nodes), c.Nodes())
			}
			if len(lab.Sites) != c.PE*c.VPNs {
				t.Fatalf("%d sites, want %d", len(lab.Sites), c.PE*c.VPNs)
			}
			for _, n := range lab.Nodes {
				got, err := loadConfig(t, n.Config)
				if err != nil {
					t.Fatalf("%s: %v\n%s", n.Name, err, n.Config)
				}
				if err := sameConfig(n.Config, got); err != nil {
					t.Errorf("%s: %v", n.Name, err)
				}
			}
		})
	}
}

// TestL3VPNTopology writes a lab and reads it back with the lab runner's
// parser: every node binds its own folder holding its startup.cfg, and the
// links are where the generator put them.
func TestL3VPNTopology(t *testing.T) {
	c := L3VPN{Name: "gt", P: 4, PE: 5, VPNs: 2}
	lab, err := c.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file, err := lab.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if topo.Name != "gt" || len(topo.Nodes) != c.Nodes() {
		t.Fatalf("lab %s with %d nodes, want gt with %d", topo.Name, len(topo.Nodes), c.Nodes())
	}
	// Ring of 4 (4 links), 2 RRs, 5 PEs, 10 CEs: 21 links.
	if want := 4 + 2 + 5 + 10; len(topo.Links) != want {
		t.Fatalf("%d links, want %d", len(topo.Links), want)
	}
	ports := map[string]int{}
	for _, n := range topo.Nodes {
		ports[n.Name] = len(n.Intfs)
		if len(n.Binds) != 1 || n.Binds[0].Container != "/etc/vpnos/" || n.Binds[0].Host != filepath.Join(dir, n.Name) {
			t.Fatalf("%s: binds %v", n.Name, n.Binds)
		}
		b, err := os.ReadFile(filepath.Join(n.Binds[0].Host, "startup.cfg"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "\nsysname "+n.Name+"\n") {
			t.Errorf("%s: startup.cfg of another node:\n%s", n.Name, b)
		}
	}
	// P1: ring (2), RR1, PE1 and PE5; P3 (half way): ring, RR2, PE3.
	for node, want := range map[string]int{"P1": 5, "P2": 3, "P3": 4, "P4": 3, "RR1": 1, "RR2": 1, "PE1": 3, "CE1-2": 1} {
		if ports[node] != want {
			t.Errorf("%s: %d ports, want %d", node, ports[node], want)
		}
	}
	s := lab.Sites[0]
	if s.CE != "CE1-1" || s.VPN != "vpn1" || s.LAN.String() != "172.16.1.0/24" || s.Addr.String() != "172.16.1.1" {
		t.Errorf("first site %+v", s)
	}
	if r := lab.Remote(s); len(r) != 4 || r[0].CE != "CE2-1" {
		t.Errorf("remote sites of CE1-1: %+v", r)
	}
	if f := lab.Foreign(s); len(f) != 4 || f[0].VPN != "vpn2" || f[0].PE == "PE1" {
		t.Errorf("foreign sites of CE1-1: %+v", f)
	}
}

// TestForNodes: the 200-node lab of the benchmark; its largest
// configurations (a route reflector with 63 peers, a P with nine ports)
// load.
func TestForNodes(t *testing.T) {
	c := ForNodes("x", 200, 2)
	if c.Nodes() != 200 || c.P != 12 || c.PE != 62 {
		t.Fatalf("ForNodes(200, 2) = %+v: %d nodes", c, c.Nodes())
	}
	lab, err := c.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range lab.Nodes {
		if n.Name != "RR1" && n.Name != "P1" {
			continue
		}
		got, err := loadConfig(t, n.Config)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		if err := sameConfig(n.Config, got); err != nil {
			t.Errorf("%s: %v", n.Name, err)
		}
	}
}

func TestL3VPNRefusals(t *testing.T) {
	for _, c := range []L3VPN{
		{P: 0, PE: 1, VPNs: 1},
		{P: 1, PE: 255, VPNs: 1},
		{P: 1, PE: 1, VPNs: 16},
		{P: 1, PE: 1, VPNs: 1, OSPFHello: 4, OSPFDead: 4},
		{P: 1, PE: 1, VPNs: 1, BGPKeepalive: 1, BGPHold: 2},
	} {
		if _, err := c.Generate(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
}
