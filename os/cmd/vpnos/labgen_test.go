package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vpnos/lab/topology"
)

func TestLabGenerate(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := cmdLab([]string{"generate", "l3vpn", "--name", "g", "--p", "3", "--pe", "2", "--vpns", "1", dir}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	file := filepath.Join(dir, "g.clab.yml")
	if !strings.Contains(out.String(), file+": 9 nodes (3 P, 2 PE, 2 RR, 2 CE in 1 VPNs)") {
		t.Errorf("output %q", out.String())
	}
	topo, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Nodes) != 9 {
		t.Errorf("%d nodes", len(topo.Nodes))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "CE2-1", "startup.cfg")); err != nil || !strings.Contains(string(b), "ip route-static 0.0.0.0 0.0.0.0 10.101.2.1") {
		t.Errorf("CE2-1 startup.cfg: %v\n%s", err, b)
	}

	out.Reset()
	if code := cmdLab([]string{"generate", "l3vpn", "--nodes", "200", filepath.Join(dir, "big")}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "200 nodes (12 P, 62 PE, 2 RR, 124 CE in 2 VPNs)") {
		t.Errorf("output %q", out.String())
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"generate"}, 2, "usage: vpnos lab generate l3vpn"},
		{[]string{"generate", "ring", dir}, 2, "usage: vpnos lab generate l3vpn"},
		{[]string{"generate", "l3vpn"}, 2, "which folder?"},
		{[]string{"generate", "l3vpn", "--pe", "0", dir}, 1, "PEs: 0, want 1 to 254"},
		{[]string{"generate", "l3vpn", "--vpns", "16", dir}, 1, "VPNs: 16, want 1 to 15"},
	} {
		errb.Reset()
		if code := cmdLab(tc.args, nil, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%q: exit %d, %q; want %d, %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
	}
}
