package ospf

import (
	"reflect"
	"testing"

	"vpnos/yang/datastore/dstest"
	"vpnos/yang/schema"
)

// base is PE1 of the reference lab with OSPF in the core and towards CE-A.
var base = []string{
	"vpn-instances/vpn-instance[red]/ipv4-family/route-distinguisher = 10.255.0.1:1",
	"vpn-instances/vpn-instance[blue]",
	"interfaces/interface[GigabitEthernet0/1/0]/vpn-instance = red",
	"interfaces/interface[GigabitEthernet0/1/0]/ipv4/address[192.0.2.1]/mask = 255.255.255.252",
	"interfaces/interface[GigabitEthernet0/3/0]/ipv4/address[198.51.100.9]/mask = 255.255.255.252",
	"interfaces/interface[GigabitEthernet0/3/0]/ipv4/address[198.51.100.9]/sub",
	"interfaces/interface[GigabitEthernet0/3/0]/ipv4/address[198.51.100.1]/mask = 255.255.255.252",
	"interfaces/interface[GigabitEthernet0/3/0]/ospf/cost = 7",
	"interfaces/interface[GigabitEthernet0/3/0]/ospf/network-type = p2p",
	"interfaces/interface[GigabitEthernet0/3/0]/ospf/timer-hello = 1",
	"interfaces/interface[GigabitEthernet0/3/0]/ospf/dr-priority = 0",
	"interfaces/interface[GigabitEthernet0/1/0]/ospf/authentication-mode/plain = pw",
	"interfaces/interface[LoopBack0]/ipv4/address[10.255.0.1]/mask = 255.255.255.255",
	"ospf/process[1]/router-id = 10.255.0.1",
	"ospf/process[1]/bandwidth-reference = 10000",
	"ospf/process[1]/silent-interface[LoopBack0]",
	"ospf/process[1]/import-route[static]/cost = 20",
	"ospf/process[1]/import-route[static]/type = 1",
	"ospf/process[1]/import-route[direct]",
	"ospf/process[1]/area[0.0.0.0]/network[198.51.100.0,0.0.0.3]",
	"ospf/process[1]/area[0.0.0.0]/network[10.255.0.1,0.0.0.0]",
	"ospf/process[1]/area[0.0.0.1]/stub/no-summary",
	"ospf/process[1]/area[0.0.0.1]/default-cost = 5",
	"ospf/process[2]/vpn-instance = red",
	"ospf/process[2]/area[0.0.0.0]/network[192.0.2.0,0.0.0.3]",
}

func TestFromTree(t *testing.T) {
	set, probs := FromTree(dstest.Tree(base...))
	if len(probs) > 0 {
		t.Fatalf("refused: %v", probs)
	}
	// Every process has the settings of every interface; it applies those
	// of the interfaces of its instance.
	settings := []InterfaceSettings{
		{Name: "GigabitEthernet0/1/0", Password: "pw"},
		{Name: "GigabitEthernet0/3/0", Cost: 7, NetworkType: NetworkP2P, HelloInterval: 1, Priority: u8(0)},
	}
	want := []Config{
		{
			Process: 1, RouterID: a4("10.255.0.1"), BandwidthReference: 10000,
			Areas: []Area{
				{ID: 0, Networks: []Network{net4("198.51.100.0", "0.0.0.3"), net4("10.255.0.1", "0.0.0.0")}},
				{ID: 1, Stub: true, NoSummary: true, DefaultCost: 5},
			},
			SilentInterfaces: []string{"LoopBack0"},
			Imports:          []Import{{Protocol: "direct", Type: 2}, {Protocol: "static", Type: 1, Cost: 20, CostSet: true}},
			Interfaces:       settings,
		},
		{
			Process: 2, VPNInstance: "red",
			Areas:      []Area{{ID: 0, Networks: []Network{net4("192.0.2.0", "0.0.0.3")}}},
			Interfaces: settings,
		},
	}
	if !reflect.DeepEqual(set.Processes, want) {
		t.Errorf("processes:\n got %+v\nwant %+v", set.Processes, want)
	}
}

func TestFromTreeEnableAndCipher(t *testing.T) {
	tr := dstest.Tree(append(base,
		"interfaces/interface[GigabitEthernet0/2/0]/ipv4/address[10.9.0.1]/mask = 255.255.255.0",
		"interfaces/interface[GigabitEthernet0/2/0]/ospf/enable/process = 1",
		"interfaces/interface[GigabitEthernet0/2/0]/ospf/enable/area = 0.0.0.9",
		"interfaces/interface[GigabitEthernet0/2/0]/ospf/authentication-mode/cipher = "+schema.CipherPassword("huawei"),
	)...)
	set, probs := FromTree(tr)
	if len(probs) > 0 {
		t.Fatalf("refused: %v", probs)
	}
	c, _ := set.Process(1)
	got := c.settings("GigabitEthernet0/2/0")
	if got.EnableArea == nil || *got.EnableArea != 9 || got.Password != "huawei" {
		t.Errorf("settings %+v", got)
	}
	c2, _ := set.Process(2)
	if s := c2.settings("GigabitEthernet0/2/0"); s.EnableArea != nil {
		t.Errorf("process 2 has process 1's ospf enable: %+v", s)
	}
}

func TestFromTreeRefusals(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		msg   string
		path  string
	}{
		{"network in two areas", []string{"ospf/process[1]/area[0.0.0.1]/network[198.51.100.0,0.0.0.3]"},
			"The network 198.51.100.0 0.0.0.3 of OSPF process 1 is already in area 0.0.0.0", "/ospf/process[1]/area[0.0.0.1]/network[198.51.100.0][0.0.0.3]"},
		{"stub backbone", []string{"ospf/process[1]/area[0.0.0.0]/stub"},
			"The backbone area cannot be a stub area", "/ospf/process[1]/area[0.0.0.0]/stub"},
		{"two processes on one interface", []string{"ospf/process[3]/area[0.0.0.0]/network[198.51.100.0,0.0.0.255]"},
			"The interface GigabitEthernet0/3/0 cannot run in OSPF process 3: it already runs in OSPF process 1", "/interfaces/interface[GigabitEthernet0/3/0]"},
		{"two processes in a VPN instance", []string{"ospf/process[3]/vpn-instance = red", "ospf/process[3]/area[0.0.0.2]/network[0.0.0.0,255.255.255.255]"},
			"The interface GigabitEthernet0/1/0 cannot run in OSPF process 3: it already runs in OSPF process 2", "/interfaces/interface[GigabitEthernet0/1/0]"},
		{"enable of a missing process", []string{"interfaces/interface[GigabitEthernet0/2/0]/ospf/enable/process = 7", "interfaces/interface[GigabitEthernet0/2/0]/ospf/enable/area = 0.0.0.0"},
			"The OSPF process 7 does not exist", "/interfaces/interface[GigabitEthernet0/2/0]/ospf/enable/process"},
		{"enable of a process of another instance", []string{"interfaces/interface[GigabitEthernet0/1/0]/ospf/enable/process = 1", "interfaces/interface[GigabitEthernet0/1/0]/ospf/enable/area = 0.0.0.0"},
			"The OSPF process 1 does not run in the instance of interface GigabitEthernet0/1/0", "/interfaces/interface[GigabitEthernet0/1/0]/ospf/enable/process"},
		{"VPN instance without IPv4", []string{"ospf/process[3]/vpn-instance = blue"},
			"The IPv4 address family of VPN instance blue must be enabled before OSPF process 3 runs in it", "/ospf/process[3]/vpn-instance"},
		{"router ID 0.0.0.0", []string{"ospf/process[1]/router-id = 0.0.0.0"},
			"The router ID of OSPF process 1 cannot be 0.0.0.0", "/ospf/process[1]/router-id"},
		{"dead below hello", []string{"interfaces/interface[GigabitEthernet0/3/0]/ospf/timer-dead = 1"},
			"The dead interval 1 of interface GigabitEthernet0/3/0 must be greater than its hello interval 1", "/interfaces/interface[GigabitEthernet0/3/0]/ospf/timer-dead"},
		{"dead below the default hello", []string{"interfaces/interface[GigabitEthernet0/2/0]/ospf/timer-dead = 10"},
			"The dead interval 10 of interface GigabitEthernet0/2/0 must be greater than its hello interval 10", "/interfaces/interface[GigabitEthernet0/2/0]/ospf/timer-dead"},
		{"long cipher password", []string{"interfaces/interface[GigabitEthernet0/3/0]/ospf/authentication-mode/cipher = " + schema.CipherPassword("123456789")},
			"The simple authentication password of interface GigabitEthernet0/3/0 is longer than 8 characters", "/interfaces/interface[GigabitEthernet0/3/0]/ospf/authentication-mode/cipher"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := FromTree(dstest.Tree(append(append([]string{}, base...), tc.lines...)...))
			if len(probs) != 1 || probs[0].Msg != tc.msg || probs[0].Path.String() != tc.path {
				for _, p := range probs {
					t.Logf("%s: %s", p.Path, p.Msg)
				}
				t.Fatalf("want one refusal %q at %s", tc.msg, tc.path)
			}
		})
	}
}

func TestTransitions(t *testing.T) {
	old := dstest.Tree(base...)
	moved := dstest.Tree(append(append([]string{}, base...), "ospf/process[2]/vpn-instance = blue", "vpn-instances/vpn-instance[blue]/ipv4-family")...)
	probs := transitions(old, moved)
	if len(probs) != 1 || probs[0].Msg != "The VPN instance of OSPF process 2 cannot be changed; undo ospf 2 first" {
		t.Fatalf("got %v", probs)
	}
	if probs := transitions(nil, moved); len(probs) != 0 {
		t.Fatalf("a new process refused: %v", probs)
	}
}
