package ospf

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"vpnos/yang/datastore/dstest"
)

// A public process without router-id takes the system router ID (`router
// id`, else the highest public LoopBack address, else the highest
// interface address); a process with router-id keeps its own; a process
// of a VPN instance picks from its interfaces when it starts.
func TestFromTreeRouterID(t *testing.T) {
	without := slices.DeleteFunc(slices.Clone(base), func(l string) bool { return l == "ospf/process[1]/router-id = 10.255.0.1" })
	for _, tc := range []struct {
		name  string
		lines []string
		want  map[uint32]string
	}{
		{"router-id of the process", append(slices.Clone(base), "system/router-id = 1.1.1.1"),
			map[uint32]string{1: "10.255.0.1", 2: "invalid IP"}},
		{"system router id", append(slices.Clone(without), "system/router-id = 1.1.1.1"),
			map[uint32]string{1: "1.1.1.1", 2: "invalid IP"}},
		{"highest LoopBack", append(slices.Clone(without), "interfaces/interface[LoopBack7]/ipv4/address[10.255.0.0]/mask = 255.255.255.255"),
			map[uint32]string{1: "10.255.0.1", 2: "invalid IP"}},
		{"highest interface address without a LoopBack", slices.DeleteFunc(slices.Clone(without), func(l string) bool {
			return l == "interfaces/interface[LoopBack0]/ipv4/address[10.255.0.1]/mask = 255.255.255.255"
		}), map[uint32]string{1: "198.51.100.9", 2: "invalid IP"}},
		{"VPN instance process with router id", append(slices.Clone(without), "system/router-id = 1.1.1.1", "ospf/process[2]/router-id = 2.2.2.2"),
			map[uint32]string{1: "1.1.1.1", 2: "2.2.2.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, probs := FromTree(dstest.Tree(tc.lines...))
			if len(probs) > 0 {
				t.Fatalf("refused: %v", probs)
			}
			got := map[uint32]string{}
			for _, c := range set.Processes {
				got[c.Process] = c.RouterID.String()
			}
			if len(got) != len(tc.want) {
				t.Fatalf("processes %v, want %v", got, tc.want)
			}
			for p, w := range tc.want {
				if got[p] != w {
					t.Errorf("process %d: router ID %s, want %s", p, got[p], w)
				}
			}
		})
	}
}

// A running process keeps its router ID when the configuration brings
// another (the system router ID changed) until it is reset; a process
// that had none takes the first that comes.
func TestInstanceRouterIDWaitsForReset(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := func(id string) Config {
		c := Config{Process: 1, Areas: []Area{{ID: 0, Networks: []Network{net4("0.0.0.0", "255.255.255.255")}}}}
		if id != "" {
			c.RouterID = netip.MustParseAddr(id)
		}
		return c
	}
	in, err := New(cfg(""), Deps{Routes: &memSink{}})
	if err != nil {
		t.Fatal(err)
	}
	go in.Run(ctx)
	running := func(want string) {
		t.Helper()
		s, err := in.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		core := s.Snapshot.RouterID.String()
		if !s.RouterID.IsValid() {
			core = "invalid IP" // the core runs with 0.0.0.0
		}
		if s.RouterID.String() != want || core != want {
			t.Fatalf("running router ID %v (core %v), want %s", s.RouterID, s.Snapshot.RouterID, want)
		}
	}
	running("invalid IP")
	// No address, no router ID: the first configured one starts it.
	if err := in.SetConfig(ctx, cfg("10.255.0.1")); err != nil {
		t.Fatal(err)
	}
	running("10.255.0.1")
	if err := in.SetInterfaces(ctx, []Interface{{Name: "LoopBack0", Up: true, Loopback: true, Addresses: []netip.Prefix{p4("10.255.0.9/32")}}}); err != nil {
		t.Fatal(err)
	}
	if err := in.SetConfig(ctx, cfg("10.255.0.7")); err != nil {
		t.Fatal(err)
	}
	running("10.255.0.1")
	if err := in.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	running("10.255.0.7")
}
