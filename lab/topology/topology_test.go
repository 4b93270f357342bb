package topology

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMerge(t *testing.T) {
	src := `
name: demo
topology:
  defaults:
    kind: linux
    env: {A: "1", B: "2"}
    binds: ["shared:/etc/shared:ro", "x:/etc/vpnos/"]
    cap-add: [NET_ADMIN]
  kinds:
    linux:
      image: vpnos:test
      env: {B: kind}
      cap-add: [cap_net_raw, NET_ADMIN]
      labels: {role: router}
  nodes:
    PE1:
      binds: ["PE1:/etc/vpnos/"]
      env: {C: 3}
      exec: ["cli -c 'display version'"]
      privileged: false
    CE-A:
      image: other:1
      privileged: yes
      labels: {role: ce}
    bare:
  links:
    - endpoints: ["PE1:eth2", "CE-A:eth1"]
    - endpoints: ["PE1:eth1", "bare:eth10"]
`
	topo, err := Parse([]byte(src), "/labs/demo/demo.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	if topo.Name != "demo" || len(topo.Nodes) != 3 || len(topo.Links) != 2 {
		t.Fatalf("got %+v", topo)
	}
	pe := topo.Node("PE1")
	want := &Node{
		Name: "PE1", Kind: "linux", Image: "vpnos:test",
		Binds: []Bind{
			{Host: "/labs/demo/shared", Container: "/etc/shared", Options: "ro"},
			{Host: "/labs/demo/PE1", Container: "/etc/vpnos/"},
		},
		Env:    map[string]string{"A": "1", "B": "kind", "C": "3"},
		Exec:   []string{"cli -c 'display version'"},
		Labels: map[string]string{"role": "router"},
		CapAdd: []string{"NET_ADMIN", "NET_RAW"},
		Intfs:  []string{"eth1", "eth2"},
	}
	if !reflect.DeepEqual(pe, want) {
		t.Errorf("PE1:\n got %+v\nwant %+v", pe, want)
	}
	ce := topo.Node("CE-A")
	if ce.Image != "other:1" || !ce.Privileged || ce.Labels["role"] != "ce" {
		t.Errorf("CE-A: %+v", ce)
	}
	if b := topo.Node("bare"); b.Image != "vpnos:test" || !reflect.DeepEqual(b.Intfs, []string{"eth10"}) {
		t.Errorf("bare: %+v", b)
	}
	if topo.Links[0].A != (Endpoint{"PE1", "eth2"}) || topo.Links[0].B != (Endpoint{"CE-A", "eth1"}) {
		t.Errorf("link 0: %+v", topo.Links[0])
	}
}

func TestDefaultImage(t *testing.T) {
	topo, err := Parse([]byte("name: a\ntopology:\n  nodes:\n    n1: {kind: linux}\n"), "/x/a.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	if topo.Nodes[0].Image != DefaultImage {
		t.Errorf("image %q", topo.Nodes[0].Image)
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name        string
		src         string
		want        string // substring of the message
		unsupported bool
	}{
		{"top-level mgmt", "name: a\nmgmt: {network: x}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt: key "mgmt" is not supported`, true},
		{"node startup-config", "name: a\ntopology:\n  nodes:\n    n:\n      kind: linux\n      startup-config: x.cfg\n", `topology.nodes.n.startup-config: key "startup-config"`, true},
		{"node ports", "name: a\ntopology:\n  nodes:\n    n: {kind: linux, ports: [\"80:80\"]}\n", `topology.nodes.n.ports`, true},
		{"defaults cmd", "name: a\ntopology:\n  defaults: {cmd: sh}\n  nodes: {n: {kind: linux}}\n", `topology.defaults.cmd`, true},
		{"kind in kinds section", "name: a\ntopology:\n  kinds:\n    linux: {kind: linux}\n  nodes: {n: {kind: linux}}\n", `topology.kinds.linux.kind`, true},
		{"other kind", "name: a\ntopology:\n  nodes: {n: {kind: srl}}\n", `kind "srl" is not supported`, true},
		{"other kinds entry", "name: a\ntopology:\n  kinds: {ceos: {image: x}}\n  nodes: {n: {kind: linux}}\n", `topology.kinds.ceos`, true},
		{"link mtu", "name: a\ntopology:\n  nodes: {n: {kind: linux}, m: {kind: linux}}\n  links:\n    - endpoints: [\"n:eth1\", \"m:eth1\"]\n      mtu: 1500\n", `topology.links[0].mtu`, true},
		{"topology groups", "name: a\ntopology:\n  groups: {}\n  nodes: {n: {kind: linux}}\n", `topology.groups`, true},
		{"unknown node key", "name: a\ntopology:\n  nodes: {n: {kind: linux, imagee: x}}\n", `key "imagee" is not supported`, true},
		{"no name", "topology:\n  nodes: {n: {kind: linux}}\n", "lab name is missing", false},
		{"bad name", "name: 'a b'\ntopology:\n  nodes: {n: {kind: linux}}\n", `lab name "a b"`, false},
		{"no nodes", "name: a\ntopology: {}\n", "at least one node", false},
		{"no kind", "name: a\ntopology:\n  nodes: {n: {image: x}}\n", "topology.nodes.n.kind: missing", false},
		{"unknown endpoint node", "name: a\ntopology:\n  nodes: {n: {kind: linux}}\n  links: [{endpoints: [\"n:eth1\", \"z:eth1\"]}]\n", `no node "z"`, false},
		{"bad interface", "name: a\ntopology:\n  nodes: {n: {kind: linux}, m: {kind: linux}}\n  links: [{endpoints: [\"n:e1-1\", \"m:eth1\"]}]\n", `interface "e1-1"`, false},
		{"eth0 is management", "name: a\ntopology:\n  nodes: {n: {kind: linux}, m: {kind: linux}}\n  links: [{endpoints: [\"n:eth0\", \"m:eth1\"]}]\n", `interface "eth0"`, false},
		{"endpoint reused", "name: a\ntopology:\n  nodes: {n: {kind: linux}, m: {kind: linux}}\n  links: [{endpoints: [\"n:eth1\", \"m:eth1\"]}, {endpoints: [\"n:eth1\", \"m:eth2\"]}]\n", `"n:eth1" is already used`, false},
		{"one endpoint", "name: a\ntopology:\n  nodes: {n: {kind: linux}}\n  links: [{endpoints: [\"n:eth1\"]}]\n", "exactly two endpoints", false},
		{"bad bind", "name: a\ntopology:\n  nodes: {n: {kind: linux, binds: [\"onlyhost\"]}}\n", `bind "onlyhost"`, false},
		{"relative container path", "name: a\ntopology:\n  nodes: {n: {kind: linux, binds: [\"a:b\"]}}\n", "must be absolute", false},
		{"env not a map", "name: a\ntopology:\n  nodes: {n: {kind: linux, env: [A]}}\n", "topology.nodes.n.env: must be a mapping", false},
		{"privileged not bool", "name: a\ntopology:\n  nodes: {n: {kind: linux, privileged: maybe}}\n", "must be true or false", false},
		{"duplicate node", "name: a\ntopology:\n  nodes:\n    n: {kind: linux}\n    n: {kind: linux}\n", "duplicate key", false},
		{"invalid yaml", "name: [a\n", "invalid YAML", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "/x/t.clab.yml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if errors.Is(err, ErrUnsupported) != tc.unsupported {
				t.Errorf("errors.Is(ErrUnsupported) = %v for %q", !tc.unsupported, err)
			}
			if !strings.HasPrefix(err.Error(), "/x/t.clab.yml") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestErrorLine(t *testing.T) {
	src := "name: a\ntopology:\n  nodes:\n    n:\n      kind: linux\n      user: root\n"
	_, err := Parse([]byte(src), "/x/t.clab.yml")
	if err == nil || !strings.HasPrefix(err.Error(), "/x/t.clab.yml:6: topology.nodes.n.user:") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadAndLabName(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "l.clab.yml")
	if err := os.WriteFile(f, []byte("name: lab1\ntopology:\n  nodes: {n: {kind: linux, binds: [\"n:/etc/vpnos\"]}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if topo.Dir != dir || topo.Nodes[0].Binds[0].Host != filepath.Join(dir, "n") {
		t.Errorf("got %+v %+v", topo, topo.Nodes[0].Binds)
	}
	name, err := LabName(f)
	if err != nil || name != "lab1" {
		t.Errorf("LabName = %q, %v", name, err)
	}
	// down must work on a file whose body no longer parses.
	if err := os.WriteFile(f, []byte("name: lab1\ntopology:\n  nodes: {n: {kind: srl}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if name, err := LabName(f); err != nil || name != "lab1" {
		t.Errorf("LabName = %q, %v", name, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("name: a\ntopology:\n  nodes: {n: {kind: linux}, m: {kind: linux}}\n  links: [{endpoints: [\"n:eth1\", \"m:eth1\"]}]\n"))
	f.Add([]byte("name: a\ntopology:\n  defaults: {kind: linux, env: {A: 1}}\n  kinds: {linux: {binds: [\"a:/b\"]}}\n  nodes: {n: }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := Parse(data, "/f/t.clab.yml")
		if err != nil {
			return
		}
		if topo.Name == "" || len(topo.Nodes) == 0 {
			t.Fatalf("accepted an incomplete topology: %+v", topo)
		}
		for _, l := range topo.Links {
			if topo.Node(l.A.Node) == nil || topo.Node(l.B.Node) == nil {
				t.Fatalf("link to a missing node: %+v", l)
			}
		}
	})
}
