package rib

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"vpnos/services/fibapi"
)

// The incremental RIB must end in the same FIB as a RIB built from scratch
// with the final configuration. opsModel drives both from a byte stream.

type opsModel struct {
	ports  map[string]Port
	routes map[string]map[RouteID]Route // instance -> routes
	lsps   map[string]map[string]LSP    // owner -> name -> LSP
}

func byteAt(b []byte, i *int) int {
	if *i >= len(b) {
		return 0
	}
	v := int(b[*i])
	*i++
	return v
}

var modelOwners = []string{OwnerStatic, OwnerLDP, OwnerBGP, OwnerVPNInstance}

// modelLSPs are the LSPs each owner may have (in-labels never collide
// between owners: which of two claimants gets a label depends on the order
// of calls, which a fresh RIB does not repeat).
var modelLSPs = map[string][]LSP{
	OwnerStatic: {
		ingress("i0", "10.0.0.0/16", "192.168.1.2", 100),
		ingress("i1", "10.1.0.0/16", "192.168.2.3", 3),
		{Name: "i2", Role: Ingress, Instance: pub, FEC: pfx("10.2.0.0/16"), Explicit: true, Out: []LSPOut{{Interface: ge2, Label: 0}}},
		transit("t0", 200, "192.168.1.5", 300),
		{Name: "t1", Role: Transit, Instance: pub, InLabel: 201, InInterface: ge2, Explicit: true, Out: []LSPOut{{Interface: ge1, Gateway: ip("192.168.1.5"), Label: 3}}},
		{Name: "e0", Role: Egress, Instance: pub, InLabel: 202, InInterface: ge1, Explicit: true},
	},
	OwnerLDP: {
		{Name: "f0", Role: Ingress, Instance: pub, FEC: pfx("10.0.0.0/16"), Out: []LSPOut{{Gateway: ip("192.168.1.2"), Label: 48001}, {Gateway: ip("192.168.2.2"), Label: 3}}},
		{Name: "f1", Role: Ingress, Instance: pub, FEC: pfx("10.1.0.0/16"), Out: []LSPOut{{Gateway: ip("192.168.2.3"), Label: 48002}}},
		{Name: "f3", Role: Ingress, Instance: pub, FEC: pfx("10.3.0.0/16"), Out: []LSPOut{{Interface: ge2, Label: 48003}}},
		{Name: "t0", Role: Transit, Instance: pub, FEC: pfx("10.0.0.0/16"), InLabel: 48100, Out: []LSPOut{{Gateway: ip("192.168.1.2"), Label: 48001}, {Gateway: ip("192.168.1.3"), Label: 48011}}},
		{Name: "t1", Role: Transit, Instance: pub, FEC: pfx("172.16.1.0/24"), InLabel: 48101, Out: []LSPOut{{Gateway: ip("10.1.1.1"), Label: 48021}}},
		{Name: "e0", Role: Egress, Instance: pub, FEC: pfx("10.255.0.1/32"), InLabel: 48102},
	},
	OwnerBGP: {
		{Name: "lu", Role: Ingress, Instance: pub, FEC: pfx("172.16.0.0/24"), Out: []LSPOut{{Gateway: ip("10.0.0.1"), Label: 60000}}},
		{Name: "ce", Role: Egress, Instance: "red", FEC: pfx("10.0.0.0/16"), InLabel: 60100},
		{Name: "ce2", Role: Egress, Instance: "red", FEC: pfx("10.2.0.0/16"), InLabel: 60101},
	},
	OwnerVPNInstance: {
		{Name: "red", Role: Egress, Instance: "red", InLabel: 300},
	},
}

var modelPorts = []Port{
	port("eth1", "GigabitEthernet0/1/0", pub, true, "192.168.1.1/24"),
	port("eth2", "GigabitEthernet0/2/0", pub, true, "192.168.2.1/24"),
	port("eth3", "GigabitEthernet0/3/0", "red", true, "192.168.3.1/24"),
	port("lo0", "LoopBack0", pub, true, "10.255.0.1/32"),
}

// genRoute builds a route from the stream. Routes are layered so they cannot
// form cycles (cycles have several valid outcomes, tested elsewhere):
// layer 0 resolves over connected routes, layer 1 over layer 0, layer 2 over
// layer 1 (with labels, some needing a tunnel).
func genRoute(b []byte, i *int) (string, Route) {
	layer := byteAt(b, i) % 3
	x, y, pref := byteAt(b, i)%4, byteAt(b, i)%4, uint32(byteAt(b, i)%3)*10
	switch layer {
	case 0:
		inst := pub
		gw := fmt.Sprintf("192.168.%d.%d", 1+y%2, 2+x)
		r := static(fmt.Sprintf("10.%d.0.0/16", x), gw, 60+pref)
		switch y {
		case 2:
			r.NextHops[0] = NextHop{Interface: "GigabitEthernet0/2/0"}
		case 3:
			inst = "red"
			r = static(fmt.Sprintf("10.%d.0.0/16", x), "192.168.3.9", 60+pref)
		}
		if x == 3 && y == 0 {
			r = static("10.0.0.0/8", "192.168.1.7", 60+pref)
		}
		return inst, r
	case 1:
		r := static(fmt.Sprintf("172.16.%d.0/24", x), fmt.Sprintf("10.%d.%d.1", y, x), 60+pref)
		if x == 3 {
			r.Protocol, r.Cost = OSPFASE, pref
		}
		return pub, r
	default:
		r := Route{Prefix: pfx(fmt.Sprintf("100.64.%d.0/24", x)), Protocol: IBGP, Key: fmt.Sprint(y % 2),
			NextHops: []NextHop{{Gateway: ip(fmt.Sprintf("10.%d.0.1", y)), Instance: fibapi.Public,
				Labels: []uint32{48000 + uint32(x)}, Tunnel: y%2 == 0}}}
		inst := "red"
		if x == 0 {
			inst = pub
			r.NextHops[0].Instance = ""
		}
		return inst, r
	}
}

func (m *opsModel) step(t testing.TB, r *RIB, b []byte, i *int) {
	switch byteAt(b, i) % 6 {
	case 0, 1: // add route
		inst, rt := genRoute(b, i)
		if m.routes[inst] == nil {
			m.routes[inst] = map[RouteID]Route{}
		}
		m.routes[inst][rt.ID()] = rt
		if err := r.AddRoute(inst, rt); err != nil {
			t.Fatal(err)
		}
	case 2: // delete route
		inst, rt := genRoute(b, i)
		delete(m.routes[inst], rt.ID())
		if err := r.DelRoute(inst, rt.ID()); err != nil {
			t.Fatal(err)
		}
	case 3: // toggle an interface
		p := m.ports[modelPorts[byteAt(b, i)%len(modelPorts)].Name]
		p.Up = !p.Up
		m.ports[p.Name] = p
		if err := r.SetInterface(p); err != nil {
			t.Fatal(err)
		}
	case 4: // one owner's LSPs: a subset of a fixed list
		owner := modelOwners[byteAt(b, i)%len(modelOwners)]
		mask := byteAt(b, i)
		all := modelLSPs[owner]
		var set []LSP
		m.lsps[owner] = map[string]LSP{}
		for k, l := range all {
			if mask&(1<<k) != 0 {
				set = append(set, l)
				m.lsps[owner][l.Name] = l
			}
		}
		if err := r.SetLSPs(owner, set); err != nil {
			t.Fatal(err)
		}
	case 5: // remove every static route of a prefix
		inst, rt := genRoute(b, i)
		if rt.Protocol != Static {
			return
		}
		for id := range m.routes[inst] {
			if id.Protocol == Static && id.Prefix == rt.Prefix.Masked() {
				delete(m.routes[inst], id)
			}
		}
		if _, err := r.DelRoutes(inst, Static, rt.Prefix); err != nil {
			t.Fatal(err)
		}
	}
}

// fresh builds a RIB from the model in one go and returns its FIB.
func (m *opsModel) fresh(t testing.TB) *fakeFIB {
	r := m.freshRIB(t)
	f := newFakeFIB()
	f.apply(t, r.Compute())
	r.Commit()
	return f
}

// freshRIB builds a RIB from the model in one go.
func (m *opsModel) freshRIB(t testing.TB) *RIB {
	r := New(Options{})
	if err := r.AddInstance("red"); err != nil {
		t.Fatal(err)
	}
	for _, n := range sortedKeys(m.ports) {
		if err := r.SetInterface(m.ports[n]); err != nil {
			t.Fatal(err)
		}
	}
	for _, owner := range sortedKeys(m.lsps) {
		var lsps []LSP
		for _, n := range sortedKeys(m.lsps[owner]) {
			lsps = append(lsps, m.lsps[owner][n])
		}
		if err := r.SetLSPs(owner, lsps); err != nil {
			t.Fatal(err)
		}
	}
	for _, inst := range sortedKeys(m.routes) {
		ids := make([]RouteID, 0, len(m.routes[inst]))
		for id := range m.routes[inst] {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b RouteID) int {
			if c := cmpPrefix(a.Prefix, b.Prefix); c != 0 {
				return c
			}
			if a.Protocol != b.Protocol {
				return int(a.Protocol) - int(b.Protocol)
			}
			return cmp.Compare(a.Key, b.Key)
		})
		for _, id := range ids {
			if err := r.AddRoute(inst, m.routes[inst][id]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r
}

func fibDump(f *fakeFIB) []string {
	var out []string
	for k, r := range f.routes {
		out = append(out, k+" "+routeString(r))
	}
	for l, e := range f.labels {
		out = append(out, fmt.Sprintf("L%d %s", l, labelString(e)))
	}
	slices.Sort(out)
	return out
}

func checkIncremental(t testing.TB, b []byte) {
	m := &opsModel{ports: map[string]Port{}, routes: map[string]map[RouteID]Route{}, lsps: map[string]map[string]LSP{}}
	r := New(Options{})
	if err := r.AddInstance("red"); err != nil {
		t.Fatal(err)
	}
	for _, p := range modelPorts {
		m.ports[p.Name] = p
		if err := r.SetInterface(p); err != nil {
			t.Fatal(err)
		}
	}
	fib := newFakeFIB()
	i := 0
	for i < len(b) {
		steps := 1 + byteAt(b, &i)%4 // several changes per batch
		for s := 0; s < steps && i < len(b); s++ {
			m.step(t, r, b, &i)
		}
		fib.apply(t, r.Compute())
		r.Commit()
		if got, want := fibDump(fib), fibDump(m.fresh(t)); !slices.Equal(got, want) {
			t.Fatalf("after %d bytes the incremental FIB differs from a fresh one:\nincremental: %q\nfresh:       %q", i, got, want)
		}
		// Nothing left to program.
		if b := r.Compute(); !b.Empty() {
			t.Fatalf("a second Compute is not empty: %q", batchString(b))
		}
		r.Commit()
	}
	// Snapshots never fail on any state, and agree with a fresh RIB's.
	fresh := m.freshRIB(t)
	for _, inst := range r.Instances() {
		s, err := r.Snapshot(inst)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := fresh.Snapshot(inst)
		if got, want := snapRows(s), snapRows(f); !slices.Equal(got, want) {
			t.Fatalf("snapshot of %s differs from a fresh one:\nincremental: %q\nfresh:       %q", inst, got, want)
		}
	}
	if got, want := lspRows(r.LSPs("")), lspRows(fresh.LSPs("")); !slices.Equal(got, want) {
		t.Fatalf("LSP states differ from a fresh RIB's:\nincremental: %q\nfresh:       %q", got, want)
	}
}

// snapRows prints a snapshot without ages.
func snapRows(s Snapshot) []string {
	var out []string
	for _, e := range s.Routes {
		e.Age = 0
		out = append(out, fmt.Sprintf("%+v", e))
	}
	return out
}

func lspRows(ls []LSPStatus) []string {
	var out []string
	for _, l := range ls {
		out = append(out, fmt.Sprintf("%s %s up=%v carrying=%v hops=%v pop=%s", l.Owner, l.Name, l.Up, l.Carrying, l.Hops, l.PopInstance))
	}
	return out
}

func TestIncrementalMatchesFresh(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := 0; run < 200; run++ {
		b := make([]byte, 300)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		checkIncremental(t, b)
		if t.Failed() {
			t.Fatalf("run %d failed", run)
		}
	}
}

func FuzzIncremental(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 0, 1, 1, 1, 0, 0, 3, 1, 4, 255})
	f.Add([]byte{3, 0, 2, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 4, 7, 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 2000 {
			b = b[:2000]
		}
		checkIncremental(t, b)
	})
}
