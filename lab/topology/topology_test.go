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

func TestMgmt(t *testing.T) {
	tests := []struct {
		name     string
		mgmt     string // the mgmt section ("" for none)
		nil      bool   // Topology.Mgmt is nil
		network  string // NetworkName()
		subnet   string // "" when none is asked for
		explicit string // Mgmt.Network as written
	}{
		{"none", "", true, "clab", "", ""},
		{"empty", "mgmt:\n", false, "clab", "", ""},
		{"network only", "mgmt: {network: vt-mgmt}\n", false, "vt-mgmt", "", "vt-mgmt"},
		{"subnet only", "mgmt:\n  ipv4-subnet: 10.99.0.0/16\n", false, "clab", "10.99.0.0/16", ""},
		{"both", "mgmt:\n  network: lab_net.1\n  ipv4-subnet: 172.31.250.0/24\n", false, "lab_net.1", "172.31.250.0/24", "lab_net.1"},
		{"default network named", "mgmt: {network: clab, ipv4-subnet: 172.20.20.0/24}\n", false, "clab", "172.20.20.0/24", "clab"},
		{"longest prefix", "mgmt: {ipv4-subnet: 192.168.7.248/29}\n", false, "clab", "192.168.7.248/29", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "name: a\n" + tc.mgmt + "topology:\n  nodes: {n: {kind: linux}}\n"
			topo, err := Parse([]byte(src), "/x/t.clab.yml")
			if err != nil {
				t.Fatal(err)
			}
			if (topo.Mgmt == nil) != tc.nil {
				t.Fatalf("Mgmt = %+v", topo.Mgmt)
			}
			if got := topo.Mgmt.NetworkName(); got != tc.network {
				t.Errorf("NetworkName() = %q, want %q", got, tc.network)
			}
			pfx, ok := topo.Mgmt.Subnet()
			if ok != (tc.subnet != "") || (ok && pfx.String() != tc.subnet) {
				t.Errorf("Subnet() = %v, %v; want %q", pfx, ok, tc.subnet)
			}
			if topo.Mgmt != nil {
				if topo.Mgmt.Network != tc.explicit {
					t.Errorf("Network = %q, want %q", topo.Mgmt.Network, tc.explicit)
				}
				if topo.Mgmt.Line != 2 {
					t.Errorf("Line = %d, want 2", topo.Mgmt.Line)
				}
			}
		})
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name        string
		src         string
		want        string // substring of the message
		unsupported bool
	}{
		{"mgmt ipv6-subnet", "name: a\nmgmt: {network: x, ipv6-subnet: \"3fff:172:20:20::/64\"}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt.ipv6-subnet: key "ipv6-subnet" is not supported by vpnos lab (the management network is IPv4 only`, true},
		{"mgmt bridge", "name: a\nmgmt:\n  bridge: br-x\ntopology:\n  nodes: {n: {kind: linux}}\n", `t.clab.yml:3: mgmt.bridge: key "bridge" is not supported by vpnos lab (vpnos lab supports mgmt.network and mgmt.ipv4-subnet)`, true},
		{"mgmt mtu", "name: a\nmgmt: {mtu: 1450}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt.mtu: key "mtu"`, true},
		{"mgmt external-access", "name: a\nmgmt: {external-access: false}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt.external-access: key "external-access"`, true},
		{"mgmt ipv4-gw", "name: a\nmgmt: {ipv4-gw: 172.20.20.1}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt.ipv4-gw: key "ipv4-gw"`, true},
		{"mgmt not a mapping", "name: a\nmgmt: clab\ntopology:\n  nodes: {n: {kind: linux}}\n", "mgmt: must be a mapping", false},
		{"mgmt network not a string", "name: a\nmgmt: {network: [a]}\ntopology:\n  nodes: {n: {kind: linux}}\n", "mgmt.network: must be a string", false},
		{"mgmt network bad name", "name: a\nmgmt: {network: \"my net\"}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt.network: network name "my net"`, false},
		{"mgmt subnet garbage", "name: a\nmgmt: {ipv4-subnet: 172.20.20}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt.ipv4-subnet: "172.20.20" is not an IPv4 subnet`, false},
		{"mgmt subnet no length", "name: a\nmgmt: {ipv4-subnet: 172.20.20.0}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt.ipv4-subnet: "172.20.20.0" is not an IPv4 subnet`, false},
		{"mgmt subnet ipv6", "name: a\nmgmt: {ipv4-subnet: \"3fff::/64\"}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt.ipv4-subnet: "3fff::/64" is not an IPv4 subnet (the management network is IPv4 only)`, false},
		{"mgmt subnet host bits", "name: a\nmgmt: {ipv4-subnet: 172.20.20.1/24}\ntopology:\n  nodes: {n: {kind: linux}}\n", `mgmt.ipv4-subnet: "172.20.20.1/24" has host bits set (did you mean 172.20.20.0/24?)`, false},
		{"mgmt subnet too small", "name: a\nmgmt: {ipv4-subnet: 172.20.20.0/30}\ntopology:\n  nodes: {n: {kind: linux}}\n", `prefix length must be 8 to 29`, false},
		{"mgmt subnet empty", "name: a\nmgmt: {ipv4-subnet: }\ntopology:\n  nodes: {n: {kind: linux}}\n", "mgmt.ipv4-subnet: must be a string", false},
		{"mgmt duplicate key", "name: a\nmgmt:\n  network: a\n  network: b\ntopology:\n  nodes: {n: {kind: linux}}\n", "mgmt.network: duplicate key", false},
		{"node mgmt-ipv4 outside", "name: a\nmgmt: {network: x}\ntopology:\n  nodes: {n: {kind: linux, mgmt-ipv4: 10.0.0.5}}\n", `t.clab.yml:4: topology.nodes.n.mgmt-ipv4: 10.0.0.5 is outside the management subnet 172.20.20.0/24`, false},
		{"node mgmt-ipv4 gateway", "name: a\nmgmt: {ipv4-subnet: 10.9.0.0/16}\ntopology:\n  nodes: {n: {kind: linux, mgmt-ipv4: 10.9.0.1}}\n", `10.9.0.1 is the network, gateway or broadcast address of 10.9.0.0/16`, false},
		{"node mgmt-ipv4 broadcast", "name: a\ntopology:\n  nodes: {n: {kind: linux, mgmt-ipv4: 172.20.20.255}}\n", `172.20.20.255 is the network, gateway or broadcast address`, false},
		{"node mgmt-ipv4 twice", "name: a\ntopology:\n  nodes:\n    n: {kind: linux, mgmt-ipv4: 172.20.20.9}\n    m: {kind: linux, mgmt-ipv4: 172.20.20.9}\n", `topology.nodes.m.mgmt-ipv4: 172.20.20.9 is already the address of node n`, false},
		{"node mgmt-ipv4 not ipv4", "name: a\ntopology:\n  nodes: {n: {kind: linux, mgmt-ipv4: \"3fff::5\"}}\n", `topology.nodes.n.mgmt-ipv4: "3fff::5" is not an IPv4 address`, false},
		{"defaults mgmt-ipv4", "name: a\ntopology:\n  defaults: {mgmt-ipv4: 172.20.20.5}\n  nodes: {n: {kind: linux}}\n", `topology.defaults.mgmt-ipv4: key "mgmt-ipv4" is not supported`, true},
		{"node mgmt-ipv6", "name: a\ntopology:\n  nodes: {n: {kind: linux, mgmt-ipv6: \"3fff::5\"}}\n", `topology.nodes.n.mgmt-ipv6: key "mgmt-ipv6" is not supported`, true},
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
	f.Add([]byte("name: a\nmgmt: {network: m, ipv4-subnet: 172.31.250.0/24}\ntopology:\n  nodes: {n: {kind: linux}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := Parse(data, "/f/t.clab.yml")
		if err != nil {
			return
		}
		if topo.Name == "" || len(topo.Nodes) == 0 {
			t.Fatalf("accepted an incomplete topology: %+v", topo)
		}
		if pfx, ok := topo.Mgmt.Subnet(); ok && (!pfx.Addr().Is4() || pfx.Masked() != pfx) {
			t.Fatalf("accepted management subnet %v", pfx)
		}
		if !mgmtNetRE().MatchString(topo.Mgmt.NetworkName()) {
			t.Fatalf("accepted management network %q", topo.Mgmt.NetworkName())
		}
		for _, l := range topo.Links {
			if topo.Node(l.A.Node) == nil || topo.Node(l.B.Node) == nil {
				t.Fatalf("link to a missing node: %+v", l)
			}
		}
	})
}

func TestNodeMgmtIPv4(t *testing.T) {
	src := "name: a\nmgmt: {ipv4-subnet: 10.9.0.0/16}\ntopology:\n  nodes:\n    n: {kind: linux, mgmt-ipv4: 10.9.3.4}\n    m: {kind: linux}\n"
	topo, err := Parse([]byte(src), "/x/t.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range topo.Nodes {
		want := ""
		if n.Name == "n" {
			want = "10.9.3.4"
		}
		if got := n.MgmtIPv4; (want == "") == got.IsValid() || (want != "" && got.String() != want) {
			t.Errorf("node %s: MgmtIPv4 %v, want %q", n.Name, got, want)
		}
	}
}
