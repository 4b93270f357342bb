package rib

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"vpnos/services/fibapi"
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
	var live uint64
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
		if err := r.SetInterface(Port{Name: ge3, Kernel: "eth3", Instance: pub, Up: true, Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/30")}}); err != nil {
			b.Fatal(err)
		}
		for _, rt := range routes {
			if err := r.AddRoute(pub, rt); err != nil {
				b.Fatal(err)
			}
		}
		batch := r.Compute()
		r.Commit()
		ribT += time.Since(start)
		if len(batch.Routes) < n {
			b.Fatalf("%d routes programmed", len(batch.Routes))
		}
		if live == 0 {
			// Heap held by the RIB itself (the batch and the map released).
			batch, m = fibapi.Batch{}, nil
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			runtime.KeepAlive(r)
			r = nil
			runtime.GC()
			runtime.ReadMemStats(&after)
			live = before.HeapAlloc - after.HeapAlloc
		}
	}
	b.ReportMetric(float64(live)/n, "rib-B/route")
	b.ReportMetric(float64(ribT)/float64(mapT), "rib/map")
	b.ReportMetric(float64(ribT.Nanoseconds())/float64(b.N*n), "rib-ns/route")
	b.ReportMetric(float64(mapT.Nanoseconds())/float64(b.N*n), "map-ns/route")
}

// BenchmarkReresolve1M: one million routes resolve through one next hop;
// an interface carrying the same subnet comes and goes, so the connected
// route gains and loses a path and all of them are re-resolved and
// re-programmed (a batch of 1M changes). The reference, measured in the same
// run, rewrites the next hops of one million entries of a plain map.
func BenchmarkReresolve1M(b *testing.B) {
	const n = 1_000_000
	routes := benchRoutes(n)
	r := New(Options{})
	port := func(kernel string, up bool) Port {
		return Port{Name: "GigabitEthernet0/" + kernel[3:] + "/0", Kernel: kernel, Instance: pub, Up: up,
			Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/30")}}
	}
	if err := r.SetInterface(port("eth3", true)); err != nil {
		b.Fatal(err)
	}
	for _, rt := range routes {
		_ = r.AddRoute(pub, rt)
	}
	r.Compute()
	r.Commit()
	ref := map[netip.Prefix][]fibapi.NextHop{}
	for _, rt := range routes {
		ref[rt.Prefix] = nil
	}
	gw := netip.AddrFrom4([4]byte{198, 51, 100, 2})
	hopsA := []fibapi.NextHop{{Port: "eth3", Gateway: gw}}
	hopsB := []fibapi.NextHop{{Port: "eth3", Gateway: gw}, {Port: "eth4", Gateway: gw}}
	var ribT, mapT time.Duration
	up := true
	for b.Loop() {
		start := time.Now()
		hops := hopsA
		if up {
			hops = hopsB
		}
		for p := range ref {
			ref[p] = hops
		}
		mapT += time.Since(start)

		start = time.Now()
		_ = r.SetInterface(port("eth4", up))
		batch := r.Compute()
		r.Commit()
		ribT += time.Since(start)
		if len(batch.Routes) < n {
			b.Fatalf("%d routes re-programmed", len(batch.Routes))
		}
		up = !up
	}
	b.ReportMetric(float64(ribT)/float64(mapT), "rib/map")
	b.ReportMetric(float64(ribT.Nanoseconds())/float64(b.N*n), "rib-ns/route")
}
