package dataplane

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/lpm"
	"vpnos/services/forwarding/packet"
)

type nullSink struct{ n int }

func (s *nullSink) Transmit(int, []byte, []byte) { s.n++ }
func (s *nullSink) Punt(int, []byte, []byte)     { s.n++ }
func (s *nullSink) PuntInstance(string, []byte)  { s.n++ }

// benchDataplane has a public instance with a million random routes, all
// pointing at eth2 with two labels, and a swap entry for label 100.
func benchDataplane(b *testing.B) (*Dataplane, int) {
	b.Helper()
	d := New(Config{})
	e1, _ := d.AddPort("eth1", mac1, 1500, public)
	d.AddPort("eth2", mac2, 1500, public)
	d.SetPortAddrs("eth1", []netip.Prefix{p("10.1.0.1/24")})
	d.SetPortAddrs("eth2", []netip.Prefix{p("10.2.0.1/24")})
	d.SetNeighbour(t0, "eth2", a("10.2.0.2"), hostB, &nullSink{})
	r := rand.New(rand.NewPCG(1, 1))
	batch := fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
		NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{101}}}}}}
	nh := []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2")}}
	for i := 0; i < 1_000_000; i++ {
		v := r.Uint32()
		pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 16+r.IntN(9)).Masked()
		batch.Routes = append(batch.Routes, fibapi.Route{Instance: public, Prefix: pfx, NextHops: nh})
	}
	batch.Routes = append(batch.Routes, fibapi.Route{Instance: public, Prefix: p("0.0.0.0/0"), NextHops: nh})
	if err := d.Program(batch); err != nil {
		b.Fatal(err)
	}
	return d, e1
}

// benchFrames returns 256 pristine frames (with headroom) and working copies.
func benchFrames(b *testing.B, mk func(i int) []byte) (pristine, work [][]byte) {
	pristine = make([][]byte, 256)
	work = make([][]byte, 256)
	for i := range pristine {
		pristine[i] = append(make([]byte, Headroom), mk(i)...)
		work[i] = make([]byte, len(pristine[i]))
	}
	return pristine, work
}

// The reference beside each per-packet benchmark is the least any forwarder
// must do with the same frames, written inline: copy the frame in, look the
// destination up in the same million-route table (or the label in the same
// label map), rewrite TTL (with the checksum) or the label, and the MACs.
// The ratio is what validation, counters, ECMP, neighbour state and the
// exception paths cost on top of that floor.

// BenchmarkProcessIPv4 is the per-packet cost of the IPv4 forwarding
// decision (parse, checksum check, LPM over 1M routes, TTL, neighbour, header
// rewrite) without I/O.
func BenchmarkProcessIPv4(b *testing.B) {
	d, e1 := benchDataplane(b)
	r := rand.New(rand.NewPCG(2, 2))
	pristine, work := benchFrames(b, func(int) []byte {
		v := r.Uint32()
		dst := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		return ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", dst.String(), 255, 18))
	})
	tab := d.instance(public).table
	againstFloor(b, d, e1, pristine, work, func(f []byte) bool {
		ip := f[Headroom+packet.EthernetLen:]
		if tab.Lookup(be32(ip[16:20])) == 0 {
			return false
		}
		packet.DecIPv4TTL(ip)
		packet.PutEthernet(f[Headroom:], hostB, mac2, packet.EtherTypeIPv4)
		return true
	})
}

// BenchmarkProcessSwap is the per-packet cost of a label swap.
func BenchmarkProcessSwap(b *testing.B) {
	d, e1 := benchDataplane(b)
	pristine, work := benchFrames(b, func(int) []byte {
		return ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 255, true)), udp("10.1.0.2", "10.9.9.9", 64, 18))
	})
	againstFloor(b, d, e1, pristine, work, func(f []byte) bool {
		l := f[Headroom+packet.EthernetLen:]
		e := packet.DecodeLabelEntry(be32(l))
		ent := d.ilm[e.Label]
		if ent == nil || e.TTL <= 1 {
			return false
		}
		packet.LabelEntry{Label: ent.nhs[0].labels[0], TC: e.TC, TTL: e.TTL - 1, S: e.S}.Put(l)
		packet.PutEthernet(f[Headroom:], hostB, mac2, packet.EtherTypeMPLS)
		return true
	})
}

// againstFloor times b.N frames through d, then the same frames through
// floor (the least work, in place on the frame; true when forwarded), checks
// that both forwarded every frame and reports both and their ratio.
func againstFloor(b *testing.B, d *Dataplane, port int, pristine, work [][]byte, floor func(f []byte) bool) {
	s := &nullSink{}
	forwarded := 0
	b.ResetTimer()
	t0 := time.Now()
	processAll(b, d, port, pristine, work, s)
	t1 := time.Now()
	for i := 0; i < b.N; i++ {
		f := work[i&255]
		copy(f, pristine[i&255])
		if floor(f) {
			forwarded++
		}
	}
	t2 := time.Now()
	b.StopTimer()
	if s.n != b.N || forwarded != b.N {
		b.Fatalf("%d and %d of %d forwarded", s.n, forwarded, b.N)
	}
	reportFloor(b, t1.Sub(t0), t2.Sub(t1))
}

// processAll runs b.N frames through d, copying each in first as a
// receive does.
func processAll(b *testing.B, d *Dataplane, port int, pristine, work [][]byte, s Sink) {
	for i := 0; i < b.N; i++ {
		f := work[i&255]
		copy(f, pristine[i&255])
		d.Process(t1Bench, port, nil, f, Headroom, s)
	}
}

// t1Bench is the clock the benchmarks process at: the neighbour was learnt
// at the fixtures' t0 and stays fresh.
var t1Bench = t0

func reportFloor(b *testing.B, vpnos, floor time.Duration) {
	b.ReportMetric(float64(vpnos.Nanoseconds())/float64(b.N), "ns/pkt")
	b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N), "floor-ns/pkt")
	b.ReportMetric(float64(vpnos)/float64(floor), "ratio")
}

// program1M is a batch of a million random routes (a full Internet table).
func program1M() fibapi.Batch {
	r := rand.New(rand.NewPCG(3, 3))
	nh := []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{100}}}
	batch := fibapi.Batch{Routes: make([]fibapi.Route, 1_000_000)}
	for i := range batch.Routes {
		v := r.Uint32()
		pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 16+r.IntN(9)).Masked()
		batch.Routes[i] = fibapi.Route{Instance: public, Prefix: pfx, NextHops: nh}
	}
	return batch
}

// BenchmarkProgram1M is the time to program a batch of a million routes
// into an empty instance, beside the reference of inserting the same
// prefixes straight into a longest-prefix-match table.
func BenchmarkProgram1M(b *testing.B) {
	batch := program1M()
	var dpT, refT time.Duration
	for b.Loop() {
		start := time.Now()
		d := New(Config{})
		if err := d.Program(batch); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		tab := lpm.New()
		for i, r := range batch.Routes {
			if err := tab.Insert(r.Prefix, uint32(i%lpm.MaxValue+1)); err != nil {
				b.Fatal(err)
			}
		}
		dpT += mid.Sub(start)
		refT += time.Since(mid)
	}
	b.ReportMetric(float64(len(batch.Routes))*float64(b.N)/dpT.Seconds(), "routes/s")
	b.ReportMetric(float64(len(batch.Routes))*float64(b.N)/refT.Seconds(), "ref-routes/s")
	b.ReportMetric(float64(dpT)/float64(refT), "ratio")
}

// BenchmarkProgramPause is the longest time packets wait while a million
// routes are programmed: the forwarder applies ApplyStep operations per hold
// of its lock (the pause, "step-ms"), beside the reference of the whole batch
// in one hold ("whole-ms"), as it was before batches were applied in steps.
func BenchmarkProgramPause(b *testing.B) {
	batch := program1M()
	p, err := Prepare(batch)
	if err != nil {
		b.Fatal(err)
	}
	var whole, step time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := New(Config{})
		p.next = 0
		t0 := time.Now()
		if _, err := d.Apply(p, 0); err != nil {
			b.Fatal(err)
		}
		whole = max(whole, time.Since(t0))
		d = New(Config{})
		p.next = 0
		for done := false; !done; {
			t0 := time.Now()
			if done, err = d.Apply(p, ApplyStep); err != nil {
				b.Fatal(err)
			}
			step = max(step, time.Since(t0))
		}
	}
	b.ReportMetric(float64(whole.Microseconds())/1000, "whole-ms")
	b.ReportMetric(float64(step.Microseconds())/1000, "step-ms")
	b.ReportMetric(float64(whole)/float64(step), "ratio")
}
