package policy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// benchPolicy is a route-policy of 100 nodes as an import policy of a PE
// might hold: node i (i = 1..99) denies or permits one customer block
// 10.i.0.0/16 (less-equal 24) by a prefix list, and sets the local
// preference and a community on what it permits; node 100 permits
// everything else with a lower local preference.
func benchPolicy() Config {
	c := Config{PrefixLists: map[string][]PrefixEntry{}, Policies: map[string][]Node{}}
	var nodes []Node
	for i := 1; i < 100; i++ {
		name := fmt.Sprintf("cust-%d", i)
		c.PrefixLists[name] = []PrefixEntry{pe(10, true, fmt.Sprintf("10.%d.0.0/16", i), -1, 24)}
		n := Node{Seq: uint32(i * 10), Permit: i%10 != 0, Match: Match{IPPrefix: name}}
		if n.Permit {
			n.Apply = Apply{LocalPref: uint32(100 + i), HasLocalPref: true,
				Community: &CommunityAction{Additive: true, Values: []uint32{65000<<16 | uint32(i)}}}
		}
		nodes = append(nodes, n)
	}
	nodes = append(nodes, Node{Seq: 1000, Permit: true, Apply: Apply{LocalPref: 50, HasLocalPref: true}})
	c.Policies["import"] = nodes
	return c
}

// benchRoutes are n /24 routes spread over 10.0.0.0/8 (so over every node,
// node 100 included for 10.0.x.x and 10.100-255.x.x).
func benchRoutes(n int) []Route {
	out := make([]Route, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{10, byte(i % 256), byte(i / 256 % 256), 0})
		out[i] = Route{Prefix: netip.PrefixFrom(a, 24), LocalPref: 100, Communities: []uint32{1}}
	}
	return out
}

// BenchmarkPolicy1M evaluates a 100-node route-policy on one million
// routes and, as the reference in the same run, looks each route up in a
// plain map from prefix to a precomputed decision (what a policy costs
// beyond finding a route's entry in a table). It reports the ratio
// (policy/map) and the cost per route of both.
func BenchmarkPolicy1M(b *testing.B) {
	const n = 1_000_000
	routes := benchRoutes(n)
	p := Compile(benchPolicy(), nil).Policy("import")
	ref := make(map[netip.Prefix]uint32, n)
	for _, r := range routes {
		if res := p.Evaluate(r); res.Permit {
			ref[r.Prefix] = res.Route.LocalPref
		}
	}
	var polT, mapT time.Duration
	var permitted, found int
	for b.Loop() {
		start := time.Now()
		found = 0
		for i := range routes {
			if _, ok := ref[routes[i].Prefix]; ok {
				found++
			}
		}
		mapT += time.Since(start)

		start = time.Now()
		permitted = 0
		for i := range routes {
			if p.Evaluate(routes[i]).Permit {
				permitted++
			}
		}
		polT += time.Since(start)
	}
	if permitted != found || permitted == 0 || permitted == n {
		b.Fatalf("permitted %d, reference %d of %d", permitted, found, n)
	}
	b.ReportMetric(float64(polT)/float64(mapT), "policy/map")
	b.ReportMetric(float64(polT.Nanoseconds())/float64(b.N*n), "policy-ns/route")
	b.ReportMetric(float64(mapT.Nanoseconds())/float64(b.N*n), "map-ns/route")
}
