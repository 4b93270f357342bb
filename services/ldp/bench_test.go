package ldp

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkLineConvergence200 is LDP converging on a generated line of 200
// routers, in one process without sockets: from `mpls ldp` on every router
// (with the IGP's routes already there) until every router has an LSP to
// every loopback. The reference beside it, measured in the same run, is the
// IGP work the LSPs follow: computing the same 200 routers' shortest-path
// routes and filling them into a routing table per router. ldp/igp is the
// ratio. (Hellos go out as soon as LDP is enabled, so no protocol timer
// lies on the path: the figure is CPU.)
func BenchmarkLineConvergence200(b *testing.B) {
	const n = 200
	var ldpT, refT time.Duration
	for i := 0; i < b.N; i++ {
		s := newSim(b)
		s.record = false
		line(s, n)

		// Reference: the route computation and a plain table fill.
		t0 := time.Now()
		rs := s.computeRoutes()
		tables := make(map[*simNode]map[netip.Prefix]Route, n)
		for _, node := range s.order {
			tab := make(map[netip.Prefix]Route, len(rs[node]))
			for _, r := range rs[node] {
				tab[r.Prefix] = r
			}
			tables[node] = tab
		}
		refT += time.Since(t0)

		// LDP.
		t1 := time.Now()
		for _, node := range s.order {
			s.step(node, RoutesChanged{Full: true, Set: rs[node]})
		}
		s.enableAll(nil)
		if !s.runUntil(time.Hour, s.converged) {
			b.Fatalf("no convergence: %d of %d LSPs", s.complete, n*n)
		}
		ldpT += time.Since(t1)
	}
	b.ReportMetric(float64(ldpT.Microseconds())/float64(b.N)/1000, "ldp-ms")
	b.ReportMetric(float64(refT.Microseconds())/float64(b.N)/1000, "igp-ms")
	b.ReportMetric(float64(ldpT)/float64(refT), "ldp/igp")
}
