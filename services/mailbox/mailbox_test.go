package mailbox

import (
	"slices"
	"sync"
	"testing"
)

func TestLatestPerKeyInFirstPutOrder(t *testing.T) {
	m := New[string, int](nil)
	select {
	case <-m.C():
		t.Fatal("signal on an empty mailbox")
	default:
	}
	m.Put("b", 1)
	m.Put("a", 2)
	m.Put("b", 3)
	if m.Len() != 2 {
		t.Fatalf("Len = %d", m.Len())
	}
	select {
	case <-m.C():
	default:
		t.Fatal("no signal")
	}
	if got := m.Take(); !slices.Equal(got, []int{3, 2}) {
		t.Fatalf("Take = %v", got)
	}
	if got := m.Take(); got != nil {
		t.Fatalf("second Take = %v", got)
	}
	m.Close()
	m.Put("a", 9)
	if got := m.Take(); got != nil || !m.Closed() {
		t.Fatalf("closed mailbox gave %v", got)
	}
}

func TestMerge(t *testing.T) {
	// Keep the flags of every value not taken yet.
	m := New[int](func(old, new uint8) uint8 { return old | new })
	m.Put(1, 1)
	m.Put(1, 4)
	m.Put(2, 2)
	if got := m.Take(); !slices.Equal(got, []uint8{5, 2}) {
		t.Fatalf("Take = %v", got)
	}
}

// Many writers, one reader that takes now and then: never more than one
// value per key, and the last value of every key arrives.
func TestConcurrent(t *testing.T) {
	m := New[int, [2]int](nil)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i <= 1000; i++ {
				m.Put(w, [2]int{w, i})
			}
		}()
	}
	last := map[int]int{}
	take := func() {
		if n := m.Len(); n > 4 {
			t.Fatalf("%d values for 4 keys", n)
		}
		for _, v := range m.Take() {
			if v[1] < last[v[0]] {
				t.Fatalf("key %d went back from %d to %d", v[0], last[v[0]], v[1])
			}
			last[v[0]] = v[1]
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-m.C():
			take()
		case <-done:
			take()
			for w := 0; w < 4; w++ {
				if last[w] != 1000 {
					t.Errorf("key %d ended at %d", w, last[w])
				}
			}
			return
		}
	}
}
