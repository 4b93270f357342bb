package rib

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"vpnos/services/fibapi"
)

func TestDirectRoutes(t *testing.T) {
	e := pe1(t)
	want := map[string]string{
		"_public_ 127.0.0.0/8":         "local",
		"_public_ 127.0.0.1/32":        "local",
		"_public_ 127.255.255.255/32":  "local",
		"_public_ 255.255.255.255/32":  "local",
		"_public_ 198.51.100.0/30":     "fwd eth3",
		"_public_ 198.51.100.1/32":     "local",
		"_public_ 198.51.100.3/32":     "local",
		"_public_ 10.255.0.1/32":       "local",
		"red 192.0.2.0/30":             "fwd eth1",
		"red 192.0.2.1/32":             "local",
		"red 192.0.2.3/32":             "local",
		"red 255.255.255.255/32":       "local",
		"_public_ 0.0.0.0/0 (missing)": "",
	}
	for k, w := range want {
		var inst, p string
		for i := range k {
			if k[i] == ' ' {
				inst, p = k[:i], k[i+1:]
				break
			}
		}
		if w == "" {
			continue
		}
		if got := e.fib.get(inst, p); got != w {
			t.Errorf("%s: FIB %q, want %q", k, got, w)
		}
	}
	if n := len(e.fib.routes); n != 12 {
		t.Errorf("FIB holds %d routes, want 12", n)
	}

	// Interface down withdraws its direct routes, and only them.
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", pub, false, "198.51.100.1/30")))
	b := e.flush()
	if got, want := batchString(b), []string{"-_public_ 198.51.100.0/30", "-_public_ 198.51.100.1/32", "-_public_ 198.51.100.3/32"}; !slices.Equal(got, want) {
		t.Errorf("down batch = %q, want %q", got, want)
	}
	// And up brings them back.
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", pub, true, "198.51.100.1/30")))
	if got := batchString(e.flush()); len(got) != 3 {
		t.Errorf("up batch = %q", got)
	}
	// Same state again: nothing to program.
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", pub, true, "198.51.100.1/30")))
	if b := e.flush(); !b.Empty() {
		t.Errorf("unchanged interface gave batch %q", batchString(b))
	}
	// A /31 has no broadcast route.
	e.must(e.r.SetInterface(port("eth4", "GigabitEthernet0/4/0", pub, true, "203.0.113.0/31")))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+_public_ 203.0.113.0/31 fwd eth4", "+_public_ 203.0.113.0/32 local"}) {
		t.Errorf("/31 batch = %q", got)
	}
	// Unknown instance.
	if err := e.r.SetInterface(port("eth5", "GigabitEthernet0/5/0", "blue", true)); !errors.Is(err, ErrNoInstance) {
		t.Errorf("interface in unknown instance: %v", err)
	}
}

func TestSelection(t *testing.T) {
	type rt struct {
		proto Protocol
		pref  uint32
		cost  uint32
		gw    string
	}
	tests := []struct {
		name   string
		routes []rt
		want   string
	}{
		{"single static", []rt{{Static, 0, 0, "198.51.100.2"}}, "fwd eth3>198.51.100.2"},
		{"lower preference wins", []rt{{Static, 70, 0, "198.51.100.2"}, {Static, 50, 0, "198.51.100.6"}}, "fwd eth4>198.51.100.6"},
		{"OSPF 10 beats static 60", []rt{{Static, 0, 0, "198.51.100.2"}, {OSPF, 0, 5, "198.51.100.6"}}, "fwd eth4>198.51.100.6"},
		{"static 60 beats O_ASE 150", []rt{{Static, 0, 0, "198.51.100.2"}, {OSPFASE, 0, 1, "198.51.100.6"}}, "fwd eth3>198.51.100.2"},
		{"static beats IBGP", []rt{{IBGP, 0, 0, "198.51.100.6"}, {Static, 0, 0, "198.51.100.2"}}, "fwd eth3>198.51.100.2"},
		{"static preference 255 ties with BGP: protocol order", []rt{{EBGP, 0, 0, "198.51.100.6"}, {Static, 255, 0, "198.51.100.2"}}, "fwd eth3>198.51.100.2"},
		{"lower cost wins on equal preference", []rt{{OSPF, 0, 20, "198.51.100.2"}, {OSPF, 0, 10, "198.51.100.6"}}, "fwd eth4>198.51.100.6"},
		{"ECMP on equal preference and cost", []rt{{Static, 0, 0, "198.51.100.2"}, {Static, 0, 0, "198.51.100.6"}}, "fwd eth3>198.51.100.2 eth4>198.51.100.6"},
		{"no ECMP across costs", []rt{{Static, 0, 1, "198.51.100.2"}, {Static, 0, 0, "198.51.100.6"}}, "fwd eth4>198.51.100.6"},
		{"unresolvable better route loses", []rt{{Static, 1, 0, "203.0.113.99"}, {Static, 0, 0, "198.51.100.6"}}, "fwd eth4>198.51.100.6"},
		{"nothing resolvable", []rt{{Static, 0, 0, "203.0.113.99"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", pub, true, "198.51.100.1/30")))
			e.must(e.r.SetInterface(port("eth4", "GigabitEthernet0/4/0", pub, true, "198.51.100.5/30")))
			for _, x := range tc.routes {
				r := static("172.16.0.0/16", x.gw, x.pref)
				r.Protocol, r.Cost = x.proto, x.cost
				if x.proto == OSPF || x.proto == OSPFASE {
					r.NextHops[0].Interface = map[string]string{"198.51.100.2": ge3, "198.51.100.6": ge4}[x.gw]
				}
				e.must(e.r.AddRoute(pub, r))
			}
			e.flush()
			if got := e.fib.get(fibapi.Public, "172.16.0.0/16"); got != tc.want {
				t.Errorf("FIB = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDefaultPreferences(t *testing.T) {
	want := map[Protocol]uint32{Direct: 0, OSPF: 10, Static: 60, OSPFASE: 150, IBGP: 255, EBGP: 255}
	for p, w := range want {
		if got := p.DefaultPreference(); got != w {
			t.Errorf("%v: preference %d, want %d", p, got, w)
		}
	}
}

func TestRecursion(t *testing.T) {
	e := pe1(t)
	// Chain: 172.16.0.0/16 via 10.9.9.9 -> 10.9.0.0/16 via 10.8.8.8 ->
	// 10.8.0.0/16 via 198.51.100.2 (connected).
	e.must(e.r.AddRoute(pub, static("172.16.0.0/16", "10.9.9.9", 0)))
	e.must(e.r.AddRoute(pub, static("10.9.0.0/16", "10.8.8.8", 0)))
	e.flush()
	if got := e.fib.get(fibapi.Public, "172.16.0.0/16"); got != "" {
		t.Fatalf("unresolvable chain installed: %q", got)
	}
	e.must(e.r.AddRoute(pub, static("10.8.0.0/16", "198.51.100.2", 0)))
	b := e.flush()
	for _, p := range []string{"172.16.0.0/16", "10.9.0.0/16", "10.8.0.0/16"} {
		if got := e.fib.get(fibapi.Public, p); got != "fwd eth3>198.51.100.2" {
			t.Errorf("%s: %q", p, got)
		}
	}
	if len(b.Routes) != 3 {
		t.Errorf("batch %q", batchString(b))
	}
	// A more specific route for an intermediate next hop: re-resolution.
	e.must(e.r.SetInterface(port("eth4", "GigabitEthernet0/4/0", pub, true, "198.51.100.5/30")))
	e.flush()
	e.must(e.r.AddRoute(pub, static("10.8.8.0/24", "198.51.100.6", 0)))
	b = e.flush()
	if got, want := batchString(b), []string{
		"+_public_ 10.8.8.0/24 fwd eth4>198.51.100.6",
		"+_public_ 10.9.0.0/16 fwd eth4>198.51.100.6",
		"+_public_ 172.16.0.0/16 fwd eth4>198.51.100.6",
	}; !slices.Equal(got, want) {
		t.Errorf("re-resolution batch = %q, want %q", got, want)
	}
	// Withdrawing it goes back; withdrawing the base of the chain removes all.
	e.must(e.r.DelRoute(pub, static("10.8.8.0/24", "198.51.100.6", 0).ID()))
	e.flush()
	if got := e.fib.get(fibapi.Public, "172.16.0.0/16"); got != "fwd eth3>198.51.100.2" {
		t.Errorf("after withdrawal: %q", got)
	}
	e.must(e.r.DelRoute(pub, static("10.8.0.0/16", "198.51.100.2", 0).ID()))
	b = e.flush()
	if got, want := batchString(b), []string{"-_public_ 10.8.0.0/16", "-_public_ 10.9.0.0/16", "-_public_ 172.16.0.0/16"}; !slices.Equal(got, want) {
		t.Errorf("chain withdrawal batch = %q, want %q", got, want)
	}
	// The routes stay in the RIB, invalid, and come back with their base.
	s, _ := e.r.Snapshot(pub)
	n := 0
	for _, r := range s.Routes {
		if r.Protocol == Static {
			n++
			if r.Valid || r.Active || r.Download || !r.Relay {
				t.Errorf("unresolved route %+v", r)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d static routes in the snapshot, want 2", n)
	}
	// The interface carrying the base going down invalidates the chain too.
	e.must(e.r.AddRoute(pub, static("10.8.0.0/16", "198.51.100.2", 0)))
	e.flush()
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", pub, false, "198.51.100.1/30")))
	e.flush()
	for _, p := range []string{"172.16.0.0/16", "10.9.0.0/16", "10.8.0.0/16"} {
		if got := e.fib.get(fibapi.Public, p); got != "" {
			t.Errorf("%s with interface down: %q", p, got)
		}
	}
}

func TestRecursionLoops(t *testing.T) {
	tests := []struct {
		name   string
		routes []Route
		want   map[string]string // prefix -> FIB ("" = absent)
	}{
		{
			name:   "route covering its own next hop",
			routes: []Route{static("10.0.0.0/8", "10.1.1.1", 0)},
			want:   map[string]string{"10.0.0.0/8": ""},
		},
		{
			name:   "own next hop with a default route underneath",
			routes: []Route{static("0.0.0.0/0", "198.51.100.2", 0), static("10.0.0.0/8", "10.1.1.1", 0)},
			want:   map[string]string{"10.0.0.0/8": "fwd eth3>198.51.100.2"},
		},
		{
			name:   "two routes through each other",
			routes: []Route{static("10.0.0.0/8", "20.0.0.1", 0), static("20.0.0.0/8", "10.0.0.1", 0)},
			want:   map[string]string{"10.0.0.0/8": "", "20.0.0.0/8": ""},
		},
		{
			name: "three-route cycle",
			routes: []Route{static("10.0.0.0/8", "20.0.0.1", 0), static("20.0.0.0/8", "30.0.0.1", 0),
				static("30.0.0.0/8", "10.0.0.1", 0)},
			want: map[string]string{"10.0.0.0/8": "", "20.0.0.0/8": "", "30.0.0.0/8": ""},
		},
		{
			name: "cycle above a default route resolves through the default",
			routes: []Route{static("0.0.0.0/0", "198.51.100.2", 0), static("10.0.0.0/8", "20.0.0.1", 0),
				static("20.0.0.0/8", "10.0.0.1", 0)},
			want: map[string]string{"10.0.0.0/8": "fwd eth3>198.51.100.2", "20.0.0.0/8": "fwd eth3>198.51.100.2"},
		},
		{
			name:   "next hop is our own address",
			routes: []Route{static("10.0.0.0/8", "198.51.100.1", 0)},
			want:   map[string]string{"10.0.0.0/8": ""},
		},
		{
			name:   "via a NULL0 route is a blackhole",
			routes: []Route{static("20.0.0.0/8", "NULL0", 0), static("10.0.0.0/8", "20.0.0.1", 0)},
			want:   map[string]string{"10.0.0.0/8": "drop", "20.0.0.0/8": "drop"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Both insertion orders must give the same result.
			for _, order := range [][]Route{tc.routes, reversed(tc.routes)} {
				e := newEnv(t)
				e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", pub, true, "198.51.100.1/30")))
				for _, r := range order {
					e.must(e.r.AddRoute(pub, r))
				}
				e.flush()
				for p, w := range tc.want {
					if got := e.fib.get(fibapi.Public, p); got != w {
						t.Errorf("%s: %q, want %q", p, got, w)
					}
				}
				// Withdrawing everything leaves only the direct routes.
				for _, r := range order {
					e.must(e.r.DelRoute(pub, r.ID()))
				}
				e.flush()
				if n := len(e.fib.routes); n != 7 {
					t.Errorf("after withdrawal the FIB holds %d routes, want 7", n)
				}
			}
		})
	}
}

func reversed(r []Route) []Route {
	out := slices.Clone(r)
	slices.Reverse(out)
	return out
}

func TestStaticRouteForms(t *testing.T) {
	e := pe1(t)
	red := "red"
	// Interface only (attached), interface + next hop, NULL0, VPN route with a public next hop.
	e.must(e.r.AddRoute(red, static("172.16.11.0/24", "192.0.2.2", 0)))
	e.must(e.r.AddRoute(red, static("172.16.12.0/24", "GigabitEthernet0/1/0", 0)))
	r := static("172.16.13.0/24", "192.0.2.2", 30)
	r.NextHops[0].Interface = "GigabitEthernet0/1/0"
	e.must(e.r.AddRoute(red, r))
	e.must(e.r.AddRoute(pub, static("192.168.0.0/16", "NULL0", 0)))
	e.must(e.r.AddRoute(pub, static("192.169.0.0/16", "LoopBack0", 0)))
	viaPub := static("10.20.0.0/16", "198.51.100.2", 0)
	viaPub.NextHops[0].Instance = fibapi.Public
	e.must(e.r.AddRoute(red, viaPub))
	toRed := static("10.30.0.0/16", "192.0.2.2", 0)
	toRed.NextHops[0].Instance = red
	e.must(e.r.AddRoute(pub, toRed))
	e.flush()
	s, _ := e.r.Snapshot(pub)
	if m := s.Exact(pfx("10.30.0.0/16")); len(m.Routes) != 1 || m.Routes[0].Flags() != "RDT" {
		t.Errorf("public route into red: %+v", m.Routes)
	}
	for _, c := range []struct{ inst, p, want string }{
		{red, "172.16.11.0/24", "fwd eth1>192.0.2.2"},
		{red, "172.16.12.0/24", "fwd eth1"},
		{red, "172.16.13.0/24", "fwd eth1>192.0.2.2"},
		{fibapi.Public, "192.168.0.0/16", "drop"},
		{fibapi.Public, "192.169.0.0/16", "drop"},
		{red, "10.20.0.0/16", "fwd eth3>198.51.100.2"},
		{fibapi.Public, "10.30.0.0/16", "fwd eth1>192.0.2.2"},
	} {
		if got := e.fib.get(c.inst, c.p); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.inst, c.p, got, c.want)
		}
	}
	// Instances are isolated: a red next hop does not resolve in public,
	// and a public route cannot leave through a red interface.
	e.must(e.r.AddRoute(pub, static("172.16.14.0/24", "192.0.2.2", 0)))
	e.must(e.r.AddRoute(pub, static("172.16.15.0/24", "GigabitEthernet0/1/0", 0)))
	e.flush()
	if got := e.fib.get(fibapi.Public, "172.16.14.0/24"); got != "" {
		t.Errorf("public route resolved through red: %q", got)
	}
	if got := e.fib.get(fibapi.Public, "172.16.15.0/24"); got != "" {
		t.Errorf("public route out of a red interface: %q", got)
	}
	// Bad input.
	for _, bad := range []Route{
		{Prefix: pfx("10.0.0.0/8"), Protocol: Static},
		{Prefix: pfx("10.0.0.0/8"), Protocol: Direct, NextHops: []NextHop{{Interface: "GigabitEthernet0/1/0"}}},
		{Prefix: pfx("10.0.0.0/8"), Protocol: Static, Preference: 300, NextHops: []NextHop{{Interface: "GigabitEthernet0/1/0"}}},
		{Prefix: netip_Prefix6(), Protocol: Static, NextHops: []NextHop{{Interface: "GigabitEthernet0/1/0"}}},
		{Prefix: pfx("10.0.0.0/8"), Protocol: Static, NextHops: []NextHop{{Gateway: ip("10.1.1.1"), Labels: []uint32{5}}}},
	} {
		if err := e.r.AddRoute(pub, bad); !errors.Is(err, ErrBadRoute) {
			t.Errorf("AddRoute(%+v) = %v, want ErrBadRoute", bad, err)
		}
	}
	if err := e.r.AddRoute("nosuch", static("10.0.0.0/8", "1.1.1.1", 0)); !errors.Is(err, ErrNoInstance) {
		t.Errorf("unknown instance: %v", err)
	}
	// DelRoutes removes every static route of a prefix.
	e.must(e.r.AddRoute(red, static("172.16.11.0/24", "192.0.2.2", 70)))
	e.must(e.r.AddRoute(red, static("172.16.11.0/24", "GigabitEthernet0/1/0", 0)))
	if n, err := e.r.DelRoutes(red, Static, pfx("172.16.11.0/24")); err != nil || n != 2 {
		t.Errorf("DelRoutes = %d, %v (a repeated route replaces the old one: want 2)", n, err)
	}
	e.flush()
	if got := e.fib.get(red, "172.16.11.0/24"); got != "" {
		t.Errorf("after DelRoutes: %q", got)
	}
}

func TestBatchOnlyDifferences(t *testing.T) {
	e := pe1(t)
	e.must(e.r.AddRoute(pub, static("10.0.0.0/8", "198.51.100.2", 0)))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+_public_ 10.0.0.0/8 fwd eth3>198.51.100.2"}) {
		t.Errorf("add: %q", got)
	}
	// Re-adding the same route: nothing.
	e.must(e.r.AddRoute(pub, static("10.0.0.0/8", "198.51.100.2", 0)))
	if b := e.flush(); !b.Empty() {
		t.Errorf("re-add: %q", batchString(b))
	}
	// A worse route to the same prefix: RIB changes, FIB does not.
	e.must(e.r.AddRoute(pub, static("10.0.0.0/8", "198.51.100.3", 100)))
	if b := e.flush(); !b.Empty() {
		t.Errorf("backup route: %q", batchString(b))
	}
	// Replacing the preference of the backup to win: one replace.
	e.must(e.r.AddRoute(pub, static("10.0.0.0/8", "GigabitEthernet0/3/0", 10)))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+_public_ 10.0.0.0/8 fwd eth3"}) {
		t.Errorf("better route: %q", got)
	}
	// Compute without Commit: the next Compute repeats the change.
	e.must(e.r.DelRoute(pub, static("10.0.0.0/8", "GigabitEthernet0/3/0", 10).ID()))
	b1 := batchString(e.r.Compute())
	b2 := batchString(e.r.Compute())
	if !slices.Equal(b1, b2) || len(b1) != 1 {
		t.Errorf("uncommitted batch not repeated: %q then %q", b1, b2)
	}
	e.r.Commit()
	if b := e.r.Compute(); !b.Empty() {
		t.Errorf("after commit: %q", batchString(b))
	}
	// A change made between Compute and Commit is not lost.
	e.must(e.r.AddRoute(pub, static("10.1.0.0/16", "198.51.100.2", 0)))
	b := e.r.Compute()
	e.fib.apply(t, b)
	e.must(e.r.AddRoute(pub, static("10.2.0.0/16", "198.51.100.2", 0)))
	e.r.Commit()
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+_public_ 10.2.0.0/16 fwd eth3>198.51.100.2"}) {
		t.Errorf("change after Compute: %q", got)
	}
	// Resync sends the whole FIB again.
	e.r.Resync()
	if b := e.r.Compute(); len(b.Routes) != len(e.fib.routes) || len(b.DeleteRoutes) != 0 || len(b.Labels) != 0 {
		t.Errorf("resync batch: %d routes (FIB has %d), %d deletes, %d labels", len(b.Routes), len(e.fib.routes), len(b.DeleteRoutes), len(b.Labels))
	}
	e.r.Commit()
}

func TestSyncRoutes(t *testing.T) {
	e := pe1(t)
	// A static route added before the first sync is replaced by it.
	e.must(e.r.AddRoute(pub, static("10.77.0.0/16", "198.51.100.2", 0)))
	e.flush()
	cfg := map[string][]Route{
		pub:   {static("10.0.0.0/8", "198.51.100.2", 0), static("10.1.0.0/16", "198.51.100.2", 0)},
		"red": {static("172.16.0.0/16", "192.0.2.2", 0)},
	}
	e.must(e.r.SyncRoutes(Static, cfg))
	if b := e.flush(); len(b.Routes) != 3 || len(b.DeleteRoutes) != 1 {
		t.Fatalf("first sync: %q", batchString(b))
	}
	cfg = map[string][]Route{pub: {static("10.0.0.0/8", "198.51.100.2", 0)}}
	e.must(e.r.SyncRoutes(Static, cfg))
	if got, want := batchString(e.flush()), []string{"-_public_ 10.1.0.0/16", "-red 172.16.0.0/16"}; !slices.Equal(got, want) {
		t.Errorf("second sync: %q, want %q", got, want)
	}
	// Routes of an instance that does not exist yet wait for it.
	cfg[pub] = append(cfg[pub], static("10.9.0.0/16", "198.51.100.2", 0))
	cfg["blue"] = []Route{static("172.17.0.0/16", "GigabitEthernet0/2/0", 0)}
	e.must(e.r.SyncRoutes(Static, cfg))
	if got := batchString(e.flush()); !slices.Equal(got, []string{"+_public_ 10.9.0.0/16 fwd eth3>198.51.100.2"}) {
		t.Errorf("sync with a missing instance: %q", got)
	}
	e.must(e.r.AddInstance("blue"))
	e.must(e.r.SetInterface(port("eth2", "GigabitEthernet0/2/0", "blue", true, "192.0.2.5/30")))
	if got := e.flush(); len(got.Routes) != 5 || e.fib.get("blue", "172.17.0.0/16") != "fwd eth2" {
		t.Errorf("instance created after the sync: %q", batchString(got))
	}
	// Other protocols' routes are untouched by a static sync.
	e.must(e.r.AddRoute(pub, ospf("10.50.0.0/16", "198.51.100.2", ge3, 5)))
	e.must(e.r.SyncRoutes(Static, nil))
	e.flush()
	if e.fib.get(fibapi.Public, "10.50.0.0/16") == "" || e.fib.get(fibapi.Public, "10.0.0.0/8") != "" || e.fib.get("blue", "172.17.0.0/16") != "" {
		t.Errorf("empty static sync: %q", fibDump(e.fib))
	}
	if err := e.r.SyncRoutes(Static, map[string][]Route{pub: {{Prefix: pfx("10.0.0.0/8"), Protocol: Static}}}); !errors.Is(err, ErrBadRoute) {
		t.Errorf("invalid route: %v", err)
	}
}

func TestInstanceLifecycle(t *testing.T) {
	e := pe1(t)
	e.must(e.r.AddRoute("red", static("172.16.0.0/16", "192.0.2.2", 0)))
	e.flush()
	if got := e.r.Instances(); !slices.Equal(got, []string{fibapi.Public, "red"}) {
		t.Errorf("instances %q", got)
	}
	e.must(e.r.DelInstance("red"))
	b := e.flush()
	if len(b.DeleteRoutes) != 5 || len(b.Routes) != 0 {
		t.Errorf("delete instance: %q", batchString(b))
	}
	if _, err := e.r.Snapshot("red"); !errors.Is(err, ErrNoInstance) {
		t.Errorf("snapshot of deleted instance: %v", err)
	}
	if err := e.r.DelInstance(fibapi.Public); err == nil {
		t.Error("public instance deleted")
	}
	// Re-creating it brings back its interface routes (eth1 is still bound).
	e.must(e.r.AddInstance("red"))
	if b := e.flush(); len(b.Routes) != 4 {
		t.Errorf("re-create: %q", batchString(b))
	}
}

func TestLookup(t *testing.T) {
	e := pe1(t)
	e.must(e.r.AddRoute(pub, static("0.0.0.0/0", "198.51.100.2", 0)))
	// A route of red leaked into the public instance.
	leak := static("10.99.0.0/16", "198.51.100.2", 0)
	leak.NextHops[0].Instance = fibapi.Public
	e.must(e.r.AddRoute("red", leak))
	e.flush()
	tests := []struct {
		inst, addr string
		ok         bool
		prefix     string
		source     string
		kind       fibapi.RouteKind
	}{
		{pub, "8.8.8.8", true, "0.0.0.0/0", "198.51.100.1", fibapi.Forward},
		{pub, "198.51.100.2", true, "198.51.100.0/30", "198.51.100.1", fibapi.Forward},
		{pub, "10.255.0.1", true, "10.255.0.1/32", "10.255.0.1", fibapi.Local},
		{"red", "192.0.2.2", true, "192.0.2.0/30", "192.0.2.1", fibapi.Forward},
		{"red", "8.8.8.8", false, "", "", 0},
		// It leaves through a public port: no address of red to suggest.
		{"red", "10.99.1.1", true, "10.99.0.0/16", "invalid IP", fibapi.Forward},
		{"blue", "8.8.8.8", false, "", "", 0},
	}
	for _, tc := range tests {
		res, ok := e.r.Lookup(tc.inst, ip(tc.addr))
		if ok != tc.ok {
			t.Errorf("Lookup(%s, %s) ok=%v", tc.inst, tc.addr, ok)
			continue
		}
		if !ok {
			continue
		}
		if res.Prefix.String() != tc.prefix || res.Source.String() != tc.source || res.Kind != tc.kind {
			t.Errorf("Lookup(%s, %s) = %+v", tc.inst, tc.addr, res)
		}
	}
}

// A deep chain of equal-cost recursive routes: every level resolves twice
// through the level below. Loop detection must not walk it exponentially.
func TestDeepECMPChain(t *testing.T) {
	e := pe1(t)
	e.must(e.r.SetInterface(port("eth4", "GigabitEthernet0/4/0", pub, true, "198.51.100.9/30")))
	e.must(e.r.AddRoute(pub, static("10.0.0.0/16", "198.51.100.2", 0)))
	e.must(e.r.AddRoute(pub, static("10.0.0.0/16", "198.51.100.10", 0)))
	const depth = 30
	for k := 1; k <= depth; k++ {
		for _, h := range []string{"1", "2"} {
			e.must(e.r.AddRoute(pub, static(fmt.Sprintf("10.%d.0.0/16", k), fmt.Sprintf("10.%d.0.%s", k-1, h), 0)))
		}
	}
	e.flush()
	if got := e.fib.get(fibapi.Public, fmt.Sprintf("10.%d.0.0/16", depth)); got != "fwd eth3>198.51.100.2 eth4>198.51.100.10" {
		t.Errorf("top of the chain: %q", got)
	}
	// Closing the chain into a loop at the bottom: everything goes.
	if _, err := e.r.DelRoutes(pub, Static, pfx("10.0.0.0/16")); err != nil {
		t.Fatal(err)
	}
	e.must(e.r.AddRoute(pub, static("10.0.0.0/16", fmt.Sprintf("10.%d.0.1", depth), 0)))
	e.flush()
	if n := len(e.fib.routes); n != 15 {
		t.Errorf("a looped chain left %d FIB routes, want the 15 direct ones", n)
	}
}
