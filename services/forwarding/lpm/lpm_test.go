package lpm

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func addr(s string) uint32 {
	b := netip.MustParseAddr(s).As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func TestTable(t *testing.T) {
	type op struct {
		del bool
		p   string
		v   uint32
	}
	tests := []struct {
		name   string
		ops    []op
		lookup map[string]uint32
	}{
		{"empty", nil, map[string]uint32{"1.2.3.4": 0}},
		{"default", []op{{p: "0.0.0.0/0", v: 1}}, map[string]uint32{"1.2.3.4": 1, "255.255.255.255": 1}},
		{"nested", []op{{p: "10.0.0.0/8", v: 1}, {p: "10.1.0.0/16", v: 2}, {p: "10.1.2.0/24", v: 3}, {p: "10.1.2.128/25", v: 4}, {p: "10.1.2.200/32", v: 5}},
			map[string]uint32{"10.9.9.9": 1, "10.1.9.9": 2, "10.1.2.1": 3, "10.1.2.129": 4, "10.1.2.200": 5, "10.1.2.201": 4, "11.0.0.0": 0}},
		{"shorter after longer", []op{{p: "10.1.2.0/24", v: 3}, {p: "10.0.0.0/8", v: 1}, {p: "10.1.0.0/16", v: 2}},
			map[string]uint32{"10.1.2.1": 3, "10.1.3.1": 2, "10.2.0.0": 1}},
		{"delete re-exposes covering", []op{{p: "10.0.0.0/8", v: 1}, {p: "10.1.2.0/24", v: 3}, {p: "10.1.2.7/32", v: 7}, {del: true, p: "10.1.2.0/24"}},
			map[string]uint32{"10.1.2.1": 1, "10.1.2.7": 7}},
		{"delete covering keeps longer", []op{{p: "10.0.0.0/8", v: 1}, {p: "10.1.2.0/24", v: 3}, {del: true, p: "10.0.0.0/8"}},
			map[string]uint32{"10.1.2.1": 3, "10.1.3.1": 0}},
		{"replace", []op{{p: "10.0.0.0/8", v: 1}, {p: "10.0.0.0/8", v: 9}}, map[string]uint32{"10.0.0.1": 9}},
		{"collapse then split", []op{{p: "10.1.0.0/17", v: 5}, {p: "10.1.128.0/17", v: 5}, {p: "10.0.0.0/8", v: 1}, {del: true, p: "10.1.0.0/17"}},
			map[string]uint32{"10.1.0.1": 1, "10.1.200.1": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := New()
			for _, o := range tt.ops {
				if o.del {
					if !tab.Delete(pfx(o.p)) {
						t.Fatalf("delete %s: not found", o.p)
					}
				} else if err := tab.Insert(pfx(o.p), o.v); err != nil {
					t.Fatal(err)
				}
			}
			for a, want := range tt.lookup {
				if got := tab.Lookup(addr(a)); got != want {
					t.Errorf("Lookup(%s) = %d, want %d", a, got, want)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tab := New()
	if err := tab.Insert(pfx("10.0.0.0/8"), 0); !errors.Is(err, ErrValue) {
		t.Fatal(err)
	}
	if err := tab.Insert(pfx("10.0.0.0/8"), MaxValue+1); !errors.Is(err, ErrValue) {
		t.Fatal(err)
	}
	if err := tab.Insert(pfx("::/0"), 1); err == nil {
		t.Fatal("IPv6 accepted")
	}
	if tab.Delete(pfx("10.0.0.0/8")) {
		t.Fatal("deleted a missing prefix")
	}
	if tab.LookupAddr(netip.MustParseAddr("::1")) != 0 {
		t.Fatal("IPv6 lookup")
	}
}

func randPrefix(r *rand.Rand) netip.Prefix {
	// Lengths weighted like a real table: mostly /24, some /16-/23, few host routes.
	var l int
	switch x := r.IntN(100); {
	case x < 55:
		l = 24
	case x < 85:
		l = 16 + r.IntN(8)
	case x < 95:
		l = 8 + r.IntN(8)
	default:
		l = 25 + r.IntN(8)
	}
	v := r.Uint32()
	a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return netip.PrefixFrom(a, l).Masked()
}

// TestAgainstReference applies random inserts and deletes and compares every
// lookup with the binary trie.
func TestAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tab, ref := New(), &refTrie{}
	var live []netip.Prefix
	for i := 0; i < 20000; i++ {
		if len(live) > 0 && r.IntN(3) == 0 {
			j := r.IntN(len(live))
			p := live[j]
			live[j] = live[len(live)-1]
			live = live[:len(live)-1]
			tab.Delete(p)
			ref.delete(p)
		} else {
			// Cluster prefixes in 10/8 so they overlap heavily.
			p := randPrefix(r)
			b := p.Addr().As4()
			b[0] = 10
			if r.IntN(4) == 0 {
				b[1] = 1
			}
			p = netip.PrefixFrom(netip.AddrFrom4(b), max(p.Bits(), 8)).Masked()
			v := uint32(r.IntN(1000) + 1)
			if _, ok := tab.Get(p); !ok {
				live = append(live, p)
			}
			if err := tab.Insert(p, v); err != nil {
				t.Fatal(err)
			}
			ref.insert(p, v)
		}
		if i%100 == 0 {
			for j := 0; j < 500; j++ {
				a := 10<<24 | r.Uint32()&0x00ffffff
				if j%2 == 0 {
					a = 10<<24 | 1<<16 | r.Uint32()&0xffff
				}
				if got, want := tab.Lookup(a), ref.lookup(a); got != want {
					t.Fatalf("step %d: Lookup(%08x) = %d, want %d", i, a, got, want)
				}
			}
		}
	}
	if tab.Len() != len(live) {
		t.Fatalf("Len %d, want %d", tab.Len(), len(live))
	}
	// Deleting everything returns every chunk.
	for _, p := range live {
		tab.Delete(p)
	}
	st := tab.Stats()
	if st.Prefixes != 0 || st.FreeL2 != st.L2Chunks || st.FreeL3 != st.L3Chunks {
		t.Fatalf("after deleting all: %+v", st)
	}
	n := 0
	tab.Walk(func(netip.Prefix, uint32) bool { n++; return true })
	if n != 0 {
		t.Fatal("walk found prefixes")
	}
}

func FuzzTable(f *testing.F) {
	f.Add([]byte{10, 0, 0, 0, 8, 1, 10, 1, 0, 0, 16, 2, 10, 1, 0, 0, 16, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tab, ref := New(), &refTrie{}
		for len(ops) >= 6 {
			a := netip.AddrFrom4([4]byte(ops[:4]))
			p := netip.PrefixFrom(a, int(ops[4])%33).Masked()
			if v := uint32(ops[5]); v == 0 {
				tab.Delete(p)
				ref.delete(p)
			} else {
				_ = tab.Insert(p, v)
				ref.insert(p, v)
			}
			k, _, _ := key(p)
			for _, x := range []uint32{k, k | 0xff, k ^ 0x80, k + 1<<16, k - 1} {
				if tab.Lookup(x) != ref.lookup(x) {
					t.Fatalf("Lookup(%08x) = %d, want %d", x, tab.Lookup(x), ref.lookup(x))
				}
			}
			ops = ops[6:]
		}
	})
}

const benchRoutes = 1_000_000

// bench1M is a table of a million random routes and the reference trie
// with the same routes, built once per test binary (the benchmark function
// runs several times while Go calibrates b.N), with their heap sizes.
var bench1M struct {
	once         sync.Once
	tab          *Table
	ref          *refTrie
	tabMB, refMB float64
}

func load1M() {
	bench1M.once.Do(func() {
		r := rand.New(rand.NewPCG(42, 42))
		prefixes := make([]netip.Prefix, benchRoutes)
		for i := range prefixes {
			prefixes[i] = randPrefix(r)
		}
		h0 := heapInUse()
		tab := New()
		for i, p := range prefixes {
			if err := tab.Insert(p, uint32(i%MaxValue+1)); err != nil {
				panic(err)
			}
		}
		h1 := heapInUse()
		ref := &refTrie{}
		for i, p := range prefixes {
			ref.insert(p, uint32(i%MaxValue+1))
		}
		h2 := heapInUse()
		bench1M.tab, bench1M.ref = tab, ref
		bench1M.tabMB, bench1M.refMB = float64(h1-h0)/(1<<20), float64(h2-h1)/(1<<20)
	})
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkLookup1M compares lookups in a table of a million random routes
// against the binary-trie reference built from the same routes. Metrics:
// Mlookups/s of each, the ratio, and the memory of each structure.
func BenchmarkLookup1M(b *testing.B) {
	load1M()
	tab, ref := bench1M.tab, bench1M.ref
	r := rand.New(rand.NewPCG(43, 43))
	addrs := make([]uint32, 1<<16)
	for i := range addrs {
		addrs[i] = r.Uint32()
	}
	for _, a := range addrs[:4096] {
		if tab.Lookup(a) != ref.lookup(a) {
			b.Fatalf("mismatch at %08x", a)
		}
	}
	var sink uint32
	measure := func(fn func(uint32) uint32) float64 {
		n := 0
		start := nanotime()
		for n < 4_000_000 {
			for _, a := range addrs {
				sink += fn(a)
			}
			n += len(addrs)
		}
		return float64(n) / (float64(nanotime()-start) / 1e9)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink += tab.Lookup(addrs[i&(len(addrs)-1)])
	}
	b.StopTimer()
	fast := measure(tab.Lookup)
	slow := measure(ref.lookup)
	st := tab.Stats()
	b.ReportMetric(fast/1e6, "Mlookups/s")
	b.ReportMetric(slow/1e6, "ref-Mlookups/s")
	b.ReportMetric(fast/slow, "ratio")
	b.ReportMetric(bench1M.tabMB, "MB")
	b.ReportMetric(float64(st.TrieBytes)/(1<<20), "trie-MB")
	b.ReportMetric(bench1M.refMB, "ref-MB")
	_ = sink
}

// BenchmarkInsertDelete measures route churn (insert then delete of a new
// prefix) on the table of a million routes, which it leaves as it was,
// beside the same churn on the binary-trie reference holding the same routes.
func BenchmarkInsertDelete(b *testing.B) {
	load1M()
	tab, ref := bench1M.tab, bench1M.ref
	r := rand.New(rand.NewPCG(7, 7))
	var ps []netip.Prefix
	for len(ps) < 4096 {
		if p := randPrefix(r); !has(tab, p) {
			ps = append(ps, p)
		}
	}
	var tabT, refT time.Duration
	for i := 0; b.Loop(); i++ {
		p := ps[i&4095]
		t0 := time.Now()
		_ = tab.Insert(p, 2)
		tab.Delete(p)
		t1 := time.Now()
		ref.insert(p, 2)
		ref.delete(p)
		tabT += t1.Sub(t0)
		refT += time.Since(t1)
	}
	b.ReportMetric(float64(tabT.Nanoseconds())/float64(b.N), "ns/churn")
	b.ReportMetric(float64(refT.Nanoseconds())/float64(b.N), "ref-ns/churn")
	b.ReportMetric(float64(tabT)/float64(refT), "ratio")
}

func has(t *Table, p netip.Prefix) bool { _, ok := t.Get(p); return ok }
