package ldp

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/rib"
)

// TestTunnelIteration: VPN routes resolve over LDP LSPs exactly as over
// static ones. PE1 of a converged PE1 - P - PE2 line hands its LSPs to a RIB
// holding two VPN routes that need a tunnel: one to PE2 (two hops: the LDP
// label of P, then the VPN label) and one to P acting as a directly
// connected PE (LDP out-label implicit null: the VPN label alone). Neither
// is usable before the LSPs arrive; both are once they do (TunnelTo, the
// next-hop watch's Tunnel, the FIB entry); when P leaves LDP the tunnels
// go and the routes are unusable again.
func TestTunnelIteration(t *testing.T) {
	s, n := lineOf3(t, nil)
	pe1 := n[0]
	r := rib.New(rib.Options{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.AddInstance("red"))
	// PE1's interfaces and IGP routes as the simulation has them.
	for _, i := range pe1.interfaceList() {
		must(r.SetInterface(rib.Port{Name: i.Name, Kernel: "k" + i.Name, Instance: fibapi.Public, Up: i.Up, Addresses: i.Addrs}))
	}
	for _, rt := range s.computeRoutes()[pe1] {
		if rt.egress() {
			continue
		}
		var nhs []rib.NextHop
		for _, nh := range rt.NextHops {
			nhs = append(nhs, rib.NextHop{Gateway: nh.Gateway, Interface: nh.Interface})
		}
		must(r.AddRoute(fibapi.Public, rib.Route{Prefix: rt.Prefix, Protocol: rib.OSPF, NextHops: nhs}))
	}
	p, pe2 := n[1].lsrID, n[2].lsrID
	vpn := func(prefix string, pe netip.Addr) rib.Route {
		return rib.Route{Prefix: pfx(prefix), Protocol: rib.IBGP, NextHops: []rib.NextHop{{
			Gateway: pe, Instance: fibapi.Public, Labels: []uint32{48130}, Tunnel: true}}}
	}
	must(r.AddRoute("red", vpn("172.16.3.0/24", pe2)))
	must(r.AddRoute("red", vpn("172.16.2.0/24", p)))
	w := r.WatchNexthops()
	must(w.Track(context.Background(), fibapi.Public, p, pe2))

	// fib is red's FIB as programmed, route by route.
	fib := map[netip.Prefix]fibapi.Route{}
	program := func() {
		b := r.Compute()
		for _, d := range b.DeleteRoutes {
			if d.Instance == "red" {
				delete(fib, d.Prefix)
			}
		}
		for _, rt := range b.Routes {
			if rt.Instance == "red" && pfx("172.16.0.0/16").Contains(rt.Prefix.Addr()) {
				fib[rt.Prefix] = rt
			}
		}
		r.Commit()
	}
	tunnels := func() map[netip.Addr]bool {
		out := map[netip.Addr]bool{}
		for _, st := range w.Take() {
			out[st.Addr] = st.Tunnel && st.TunnelOwner == rib.OwnerLDP
		}
		return out
	}
	program()
	if len(fib) != 0 {
		t.Fatalf("VPN routes usable without a tunnel: %v", fib)
	}
	if got := tunnels(); got[p] || got[pe2] {
		t.Fatalf("tunnels before LDP: %v", got)
	}

	// PE1's LDP LSPs go to the RIB as the service hands them over.
	set, del := LSPsChanged{Set: slices.Collect(maps.Values(pe1.lsps))}.RIBUpdate()
	must(r.UpdateLSPs(rib.OwnerLDP, set, del))
	program()
	pLabel := pe1.lsps[netip.PrefixFrom(pe2, 32)].NextHops[0].Out
	if pLabel < 16 {
		t.Fatalf("P's label for PE2: %d", pLabel)
	}
	want := map[netip.Prefix][]uint32{pfx("172.16.3.0/24"): {pLabel, 48130}, pfx("172.16.2.0/24"): {48130}}
	for prefix, labels := range want {
		rt, ok := fib[prefix]
		if !ok || len(rt.NextHops) != 1 || !slices.Equal(rt.NextHops[0].Labels, labels) || rt.NextHops[0].Gateway != addr("10.0.0.2") {
			t.Fatalf("%v over LDP: %+v, want labels %v", prefix, rt, labels)
		}
	}
	for _, pe := range []netip.Addr{p, pe2} {
		l, ok := r.TunnelTo(fibapi.Public, pe)
		if !ok || l.Owner != rib.OwnerLDP || l.Name != RIBName(rib.Ingress, netip.PrefixFrom(pe, 32)) {
			t.Fatalf("TunnelTo %v: %+v %v", pe, l, ok)
		}
	}
	if got := tunnels(); !got[p] || !got[pe2] {
		t.Fatalf("the next-hop watch sees no LDP tunnel: %v", got)
	}

	// P leaves LDP: PE1's LSPs through it go, and so do the VPN routes.
	s.step(n[1], ConfigChanged{Config: Config{LSRID: p}})
	s.run(time.Second)
	if len(pe1.lsps) != 1 {
		t.Fatalf("PE1 still has LSPs through P: %v", pe1.lsps)
	}
	var all []rib.LSP
	for _, l := range pe1.lsps {
		all = append(all, l.RIBLSPs()...)
	}
	must(r.SetLSPs(rib.OwnerLDP, all))
	program()
	if len(fib) != 0 {
		t.Fatalf("VPN routes usable after the LSPs went: %v", fib)
	}
	if _, ok := r.TunnelTo(fibapi.Public, pe2); ok {
		t.Fatal("a tunnel to PE2 without LSP")
	}
	if got := tunnels(); got[p] || got[pe2] {
		t.Fatalf("tunnels after LDP went: %v", got)
	}
}
