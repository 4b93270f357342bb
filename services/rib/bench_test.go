package rib

import (
	"net/netip"
	"testing"
	"time"
)

// benchRoutes makes n distinct /24 static routes via a connected gateway.
func benchRoutes(n int) []Route {
	out := make([]Route, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{byte(1 + i>>16), byte(i >> 8), byte(i), 0})
		out[i] = Route{Prefix: netip.PrefixFrom(a, 24), Protocol: Static,
			NextHops: []NextHop{{Gateway: netip.AddrFrom4([4]byte{198, 51, 100, 2})}}}
	}
	return out
}

// BenchmarkInsert1M inserts one million routes into one instance and
// computes their FIB entries, and, as the reference in the same run, stores
// the same routes in a plain map. It reports the ratio (rib/map) and the
// cost per route of both.
func BenchmarkInsert1M(b *testing.B) {
	const n = 1_000_000
	routes := benchRoutes(n)
	var ribT, mapT time.Duration
	for b.Loop() {
		start := time.Now()
		m := map[netip.Prefix]Route{}
		for _, r := range routes {
			m[r.Prefix] = r
		}
		mapT += time.Since(start)
		if len(m) != n {
			b.Fatal(len(m))
		}

		start = time.Now()
		r := New(Options{})
		if err := r.SetInterface(Port{Name: "eth3", Up: true, Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/30")}}); err != nil {
			b.Fatal(err)
		}
		for _, rt := range routes {
			if err := r.AddRoute("", rt); err != nil {
				b.Fatal(err)
			}
		}
		batch := r.Compute()
		r.Commit()
		ribT += time.Since(start)
		if len(batch.Routes) < n {
			b.Fatalf("%d routes programmed", len(batch.Routes))
		}
	}
	b.ReportMetric(float64(ribT)/float64(mapT), "rib/map")
	b.ReportMetric(float64(ribT.Nanoseconds())/float64(b.N*n), "rib-ns/route")
	b.ReportMetric(float64(mapT.Nanoseconds())/float64(b.N*n), "map-ns/route")
}

// BenchmarkReresolve1M: one million routes resolve through one next hop;
// moving that next hop re-resolves all of them (one batch of 1M changes).
func BenchmarkReresolve1M(b *testing.B) {
	const n = 1_000_000
	routes := benchRoutes(n)
	r := New(Options{})
	port := func(up bool) Port {
		return Port{Name: "eth4", Up: up, Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/30")}}
	}
	_ = r.SetInterface(Port{Name: "eth3", Up: true, Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/30")}})
	for _, rt := range routes {
		_ = r.AddRoute("", rt)
	}
	r.Compute()
	r.Commit()
	_ = r.SetInterface(port(false))
	r.Compute()
	r.Commit()
	up := true
	for b.Loop() {
		// eth4 carries the same subnet: the connected route gains and loses a path.
		_ = r.SetInterface(port(up))
		batch := r.Compute()
		r.Commit()
		if len(batch.Routes) < n {
			b.Fatalf("%d routes re-programmed", len(batch.Routes))
		}
		up = !up
	}
}
