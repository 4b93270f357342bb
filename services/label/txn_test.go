package label

import (
	"errors"
	"slices"
	"testing"
)

func inUse(m *Manager) []Allocation { return m.InUse() }

func TestTxnCommitAndAbort(t *testing.T) {
	m, err := NewWithRanges(Ranges{StaticMin: 16, StaticMax: 31, DynamicMin: 100, DynamicMax: 103})
	if err != nil {
		t.Fatal(err)
	}
	// Running state: a holds 20, red holds dynamic 100.
	if err := m.Reserve(20, "static-lsp:a"); err != nil {
		t.Fatal(err)
	}
	if l, err := m.Allocate("vpn-instance:red"); err != nil || l != 100 {
		t.Fatalf("Allocate = %d, %v", l, err)
	}
	before := inUse(m)

	steps := func(tx *Txn) {
		t.Helper()
		// a is renamed b with the same label: released, then reserved again.
		if err := tx.Release(20, "static-lsp:a"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Reserve(20, "static-lsp:b"); err != nil {
			t.Fatalf("the released static label is free in the same transaction: %v", err)
		}
		// red goes: its dynamic label stays held until the commit.
		if err := tx.Release(100, "vpn-instance:red"); err != nil {
			t.Fatal(err)
		}
		if o, _ := m.Owner(100); o != "vpn-instance:red" {
			t.Fatalf("a released dynamic label changed hands before Commit: %q", o)
		}
		// blue comes with a new dynamic label and a pinned one.
		if l, err := tx.Allocate("vpn-instance:blue"); err != nil || l == 100 {
			t.Fatalf("Allocate = %d, %v", l, err)
		}
		if err := tx.Reserve(21, "vpn-instance:blue"); err != nil {
			t.Fatal(err)
		}
		// A label someone else holds is refused, naming the holder.
		err := tx.Reserve(21, "static-lsp:c")
		var iu *InUseError
		if !errors.As(err, &iu) || iu.Holder != "vpn-instance:blue" || !errors.Is(err, ErrInUse) {
			t.Fatalf("Reserve of a held label: %v", err)
		}
		if err := tx.Release(22, "static-lsp:z"); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("Release of a label not held: %v", err)
		}
	}

	tx := m.Begin()
	steps(tx)
	tx.Abort()
	if got := inUse(m); !slices.Equal(got, before) {
		t.Fatalf("after Abort: %+v, want %+v", got, before)
	}
	tx.Commit() // ended: nothing happens
	if got := inUse(m); !slices.Equal(got, before) {
		t.Fatalf("Commit after Abort changed labels: %+v", got)
	}
	if err := tx.Reserve(25, "x:y"); !errors.Is(err, ErrTxnDone) {
		t.Fatalf("Reserve after the end: %v", err)
	}

	tx = m.Begin()
	steps(tx)
	tx.Commit()
	// The allocator moves on (the aborted transaction had 101), so blue has 102.
	want := []Allocation{{Label: 20, Owner: "static-lsp:b", Static: true}, {Label: 21, Owner: "vpn-instance:blue", Static: true}, {Label: 102, Owner: "vpn-instance:blue"}}
	if got := inUse(m); !slices.Equal(got, want) {
		t.Fatalf("after Commit: %+v, want %+v", got, want)
	}
}

// Dynamic labels run out: Allocate fails with ErrExhausted and Abort gives
// back what the transaction took.
func TestTxnExhausted(t *testing.T) {
	m, err := NewWithRanges(Ranges{StaticMin: 16, StaticMax: 31, DynamicMin: 100, DynamicMax: 101})
	if err != nil {
		t.Fatal(err)
	}
	tx := m.Begin()
	for i := 0; i < 2; i++ {
		if _, err := tx.Allocate("vpn-instance:v"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Allocate("vpn-instance:w"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("third allocation: %v", err)
	}
	tx.Abort()
	if got := m.InUse(); len(got) != 0 {
		t.Fatalf("after Abort: %+v", got)
	}
}

func TestDescribe(t *testing.T) {
	for owner, want := range map[string]string{
		Owner(KindStaticLSP, "a"):     "static LSP a",
		Owner(KindVPNInstance, "red"): "VPN instance red",
		"ldp":                         "LDP",
		"bgp:red":                     "BGP (red)",
		"other":                       "other",
	} {
		if got := Describe(owner); got != want {
			t.Errorf("Describe(%q) = %q, want %q", owner, got, want)
		}
	}
}
