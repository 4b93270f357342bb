package datastore

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Revert puts a tree back exactly as it was at the checkpoint, whatever
// mix of sets, in-place changes and subtree deletions came after, and a
// later checkpoint can be reverted alone.
func TestCheckpointRevert(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	path := func() Path {
		inst := fmt.Sprintf("v%d", r.IntN(6))
		switch r.IntN(3) {
		case 0:
			return P("vpn-instances", "vpn-instance", K(inst), "ipv4-family", "route-distinguisher")
		case 1:
			return P("vpn-instances", "vpn-instance", K(inst), "description")
		}
		return P("interfaces", "interface", K(fmt.Sprintf("LoopBack%d", r.IntN(6))), "vpn-instance")
	}
	mutate := func(tr *Tree, n int) {
		for i := 0; i < n; i++ {
			switch r.IntN(5) {
			case 0:
				tr.Delete(path().Parent())
			case 1:
				tr.Delete(path())
			case 2:
				p := path()
				_, had := tr.Get(p)
				if tr.DeleteLeaf(p) != had || tr.Exists(p) {
					t.Fatalf("DeleteLeaf(%v) existed=%v", p, had)
				}
			default:
				tr.Set(path(), fmt.Sprint(r.IntN(3)))
			}
		}
	}
	for round := 0; round < 200; round++ {
		tr := NewTree()
		mutate(tr, 20)
		want := tr.Clone()
		cp := tr.Checkpoint()
		mutate(tr, 10)
		mid := tr.Clone()
		cp2 := tr.Checkpoint()
		mutate(tr, 10)
		tr.Revert(cp2)
		if !tr.Equal(mid) || tr.next != mid.next {
			t.Fatalf("round %d: inner revert differs", round)
		}
		tr.Revert(cp)
		if !tr.Equal(want) || tr.next != want.next {
			t.Fatalf("round %d: revert differs:\n%v\nwant\n%v", round, tr.Items(), want.Items())
		}
		for _, it := range want.Items() {
			if got := tr.Item(it.Path); got == nil || got.Seq != it.Seq || got.Value != it.Value {
				t.Fatalf("round %d: %v is %+v, want %+v", round, it.Path, got, it)
			}
		}
		tr.Release()
		tr.Set(path(), "x")
		if len(tr.undo) != 0 {
			t.Fatal("recording after Release")
		}
	}
}
