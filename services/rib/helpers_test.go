package rib

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"vpnos/services/fibapi"
)

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// fakeFIB applies batches the way a forwarder would.
type fakeFIB struct {
	routes map[string]fibapi.Route
	labels map[uint32]fibapi.LabelEntry
}

func newFakeFIB() *fakeFIB {
	return &fakeFIB{routes: map[string]fibapi.Route{}, labels: map[uint32]fibapi.LabelEntry{}}
}

func fibKey(inst string, p netip.Prefix) string { return inst + " " + p.String() }

// checkContract fails on anything the fibapi contract (and the userspace
// forwarder, which enforces it) refuses.
func checkContract(t testing.TB, b fibapi.Batch) {
	t.Helper()
	hops := func(what string, hs []fibapi.NextHop) {
		for _, h := range hs {
			if h.Port == "" {
				t.Errorf("%s: next hop without a port", what)
			}
			if h.Gateway.IsValid() && !h.Gateway.Is4() {
				t.Errorf("%s: gateway %v", what, h.Gateway)
			}
			for _, l := range h.Labels {
				if l == fibapi.LabelImplicitNull || (l > 0 && l < 16) || l > 1<<20-1 {
					t.Errorf("%s: label %d pushed", what, l)
				}
			}
		}
	}
	for _, r := range b.Routes {
		what := fibKey(r.Instance, r.Prefix)
		if r.Prefix != r.Prefix.Masked() || r.Instance == "" {
			t.Errorf("route %s: not canonical", what)
		}
		if r.Kind == fibapi.Forward && len(r.NextHops) == 0 {
			t.Errorf("route %s: forward without next hops", what)
		}
		hops(what, r.NextHops)
	}
	for _, l := range b.Labels {
		what := fmt.Sprintf("label %d", l.InLabel)
		if l.InLabel < 16 || l.InLabel > 1<<20-1 {
			t.Errorf("%s: reserved or out of range", what)
		}
		switch l.Op {
		case fibapi.Swap:
			if len(l.NextHops) == 0 {
				t.Errorf("%s: swap without next hops", what)
			}
		case fibapi.PopLookup:
			if l.Instance == "" {
				t.Errorf("%s: pop into no instance", what)
			}
		default:
			t.Errorf("%s: op %d", what, l.Op)
		}
		hops(what, l.NextHops)
	}
}

func (f *fakeFIB) apply(t testing.TB, b fibapi.Batch) {
	t.Helper()
	checkContract(t, b)
	for _, r := range b.DeleteRoutes {
		k := fibKey(r.Instance, r.Prefix)
		if _, ok := f.routes[k]; !ok {
			t.Errorf("batch deletes %s which is not in the FIB", k)
		}
		delete(f.routes, k)
	}
	for _, r := range b.Routes {
		f.routes[fibKey(r.Instance, r.Prefix)] = r
	}
	for _, l := range b.DeleteLabels {
		if _, ok := f.labels[l]; !ok {
			t.Errorf("batch deletes label %d which is not in the FIB", l)
		}
		delete(f.labels, l)
	}
	for _, l := range b.Labels {
		f.labels[l.InLabel] = l
	}
}

func hopString(h fibapi.NextHop) string {
	s := h.Port
	if h.Gateway.IsValid() {
		s += ">" + h.Gateway.String()
	}
	if len(h.Labels) > 0 {
		var ls []string
		for _, l := range h.Labels {
			ls = append(ls, fmt.Sprint(l))
		}
		s += "[" + strings.Join(ls, ",") + "]"
	}
	return s
}

// routeString: "fwd eth1>192.0.2.2[100,48130] eth2>..." / "local" / "drop".
func routeString(r fibapi.Route) string {
	switch r.Kind {
	case fibapi.Local:
		return "local"
	case fibapi.Drop:
		return "drop"
	case fibapi.Unreachable:
		return "unreachable"
	}
	var hs []string
	for _, h := range r.NextHops {
		hs = append(hs, hopString(h))
	}
	return "fwd " + strings.Join(hs, " ")
}

func labelString(l fibapi.LabelEntry) string {
	if l.Op == fibapi.PopLookup {
		return "pop " + l.Instance
	}
	var hs []string
	for _, h := range l.NextHops {
		hs = append(hs, hopString(h))
	}
	return "swap " + strings.Join(hs, " ")
}

// get returns the FIB entry of inst/prefix as a string ("" if absent).
func (f *fakeFIB) get(inst, prefix string) string {
	if prefix == "" {
		return ""
	}
	r, ok := f.routes[fibKey(inst, netip.MustParsePrefix(prefix))]
	if !ok {
		return ""
	}
	return routeString(r)
}

// env is a RIB with a fake forwarder.
type env struct {
	t     *testing.T
	r     *RIB
	fib   *fakeFIB
	clock *fakeClock
	last  fibapi.Batch
}

func newEnv(t *testing.T) *env {
	c := &fakeClock{now: t0}
	e := &env{t: t, r: New(Options{Now: c.Now}), fib: newFakeFIB(), clock: c}
	e.flush()
	return e
}

func (e *env) flush() fibapi.Batch {
	e.t.Helper()
	b := e.r.Compute()
	e.fib.apply(e.t, b)
	e.r.Commit()
	e.last = b
	return b
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

// pub is the public instance.
const pub = fibapi.Public

// port is an interface: kernel name (ignored for a LoopBack), VRP name,
// instance, state, addresses.
func port(kernel, name, inst string, up bool, addrs ...string) Port {
	p := Port{Name: name, Kernel: kernel, Instance: inst, Up: up, Loopback: strings.HasPrefix(name, "LoopBack")}
	if p.Loopback {
		p.Kernel = ""
	}
	for _, a := range addrs {
		p.Addresses = append(p.Addresses, pfx(a))
	}
	return p
}

func static(prefix, gw string, pref uint32) Route {
	r := Route{Prefix: pfx(prefix), Protocol: Static, Preference: pref}
	nh := NextHop{}
	if a, err := netip.ParseAddr(gw); err == nil {
		nh.Gateway = a
	} else {
		nh.Interface = gw
	}
	r.NextHops = []NextHop{nh}
	return r
}

// batchString summarises a batch: "+inst prefix route", "-inst prefix", "+L label entry", "-L label".
func batchString(b fibapi.Batch) []string {
	var out []string
	for _, r := range b.Routes {
		out = append(out, "+"+fibKey(r.Instance, r.Prefix)+" "+routeString(r))
	}
	for _, r := range b.DeleteRoutes {
		out = append(out, "-"+fibKey(r.Instance, r.Prefix))
	}
	for _, l := range b.Labels {
		out = append(out, fmt.Sprintf("+L%d %s", l.InLabel, labelString(l)))
	}
	for _, l := range b.DeleteLabels {
		out = append(out, fmt.Sprintf("-L%d", l))
	}
	slices.Sort(out)
	return out
}

// pe1 sets up PE1 of the reference network: GE0/1/0 in red, GE0/3/0 to P,
// LoopBack0 10.255.0.1.
func pe1(t *testing.T) *env {
	e := newEnv(t)
	e.must(e.r.AddInstance("red"))
	e.must(e.r.SetInterface(port("eth1", "GigabitEthernet0/1/0", "red", true, "192.0.2.1/30")))
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", pub, true, "198.51.100.1/30")))
	e.must(e.r.SetInterface(port("lo0", "LoopBack0", pub, true, "10.255.0.1/32")))
	e.flush()
	return e
}

func netip_Prefix6() netip.Prefix { return netip.MustParsePrefix("2001:db8::/32") }
