package label

import (
	"errors"
	"sync"
	"testing"
)

func TestReserve(t *testing.T) {
	m := New()
	steps := []struct {
		name  string
		label uint32
		owner string
		want  error
	}{
		{"first", 100, "static-lsp:a", nil},
		{"same owner again", 100, "static-lsp:a", nil},
		{"taken", 100, "static-lsp:b", ErrInUse},
		{"low edge", 16, "static-lsp:b", nil},
		{"high edge", 32783, "static-lsp:c", nil},
		{"reserved 3", 3, "static-lsp:d", ErrOutOfRange},
		{"below range", 15, "static-lsp:d", ErrOutOfRange},
		{"above range", 32784, "static-lsp:d", ErrOutOfRange},
		{"dynamic", 48000, "static-lsp:d", ErrOutOfRange},
		{"no owner", 200, "", ErrNoOwner},
	}
	for _, s := range steps {
		err := m.Reserve(s.label, s.owner)
		if !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Errorf("%s: Reserve(%d, %q) = %v, want %v", s.name, s.label, s.owner, err, s.want)
		}
	}
	if o, ok := m.Owner(100); !ok || o != "static-lsp:a" {
		t.Errorf("Owner(100) = %q, %v", o, ok)
	}
	if err := m.Free(100, "static-lsp:b"); !errors.Is(err, ErrNotOwner) {
		t.Errorf("Free by other owner = %v, want ErrNotOwner", err)
	}
	if err := m.Free(100, "static-lsp:a"); err != nil {
		t.Fatal(err)
	}
	if err := m.Reserve(100, "static-lsp:b"); err != nil {
		t.Errorf("Reserve after free: %v", err)
	}
	if err := m.Free(500, "x"); !errors.Is(err, ErrNotOwner) {
		t.Errorf("Free of unused label = %v", err)
	}
}

func TestAllocateNeverReusesLabelInUse(t *testing.T) {
	m, err := NewWithRanges(Ranges{StaticMin: 16, StaticMax: 31, DynamicMin: 100, DynamicMax: 104})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]bool{}
	for i := 0; i < 5; i++ {
		l, err := m.Allocate("ldp")
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if l < 100 || l > 104 || got[l] {
			t.Fatalf("allocation %d: label %d out of range or duplicate", i, l)
		}
		got[l] = true
	}
	if _, err := m.Allocate("ldp"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("exhausted range: err = %v", err)
	}
	if err := m.Free(102, "ldp"); err != nil {
		t.Fatal(err)
	}
	l, err := m.Allocate("bgp")
	if err != nil || l != 102 {
		t.Fatalf("after freeing 102: Allocate = %d, %v", l, err)
	}
	if o, _ := m.Owner(102); o != "bgp" {
		t.Fatalf("owner of 102 = %q", o)
	}
	if n := m.FreeOwner("ldp"); n != 4 {
		t.Fatalf("FreeOwner(ldp) = %d, want 4", n)
	}
	if in := m.InUse(); len(in) != 1 || in[0].Label != 102 || in[0].Static {
		t.Fatalf("InUse = %+v", in)
	}
}

func TestAllocateMovesForward(t *testing.T) {
	m := New()
	a, _ := m.Allocate("bgp:vpn-instance:red")
	if a != DynamicMin {
		t.Fatalf("first dynamic label = %d, want %d", a, DynamicMin)
	}
	if err := m.Free(a, "bgp:vpn-instance:red"); err != nil {
		t.Fatal(err)
	}
	b, _ := m.Allocate("bgp:vpn-instance:blue")
	if b == a {
		t.Fatalf("a label just freed was handed out again at once: %d", b)
	}
	// Static and dynamic never mix.
	if err := m.Reserve(b, "static-lsp:x"); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("Reserve of dynamic label = %v", err)
	}
}

func TestRangesValidate(t *testing.T) {
	bad := []Ranges{
		{StaticMin: 0, StaticMax: 100, DynamicMin: 200, DynamicMax: 300},
		{StaticMin: 16, StaticMax: 300, DynamicMin: 200, DynamicMax: 400},
		{StaticMin: 16, StaticMax: 100, DynamicMin: 200, DynamicMax: MaxLabel + 1},
		{StaticMin: 50, StaticMax: 40, DynamicMin: 200, DynamicMax: 300},
	}
	for _, r := range bad {
		if _, err := NewWithRanges(r); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("NewWithRanges(%+v) = %v, want ErrOutOfRange", r, err)
		}
	}
}

func TestConcurrentAllocate(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	res := make([][]uint32, 8)
	for g := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				l, err := m.Allocate("owner")
				if err != nil {
					t.Error(err)
					return
				}
				res[g] = append(res[g], l)
			}
		}()
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for _, r := range res {
		for _, l := range r {
			if seen[l] {
				t.Fatalf("label %d handed out twice", l)
			}
			seen[l] = true
		}
	}
	if len(seen) != 4000 {
		t.Fatalf("got %d labels", len(seen))
	}
}
