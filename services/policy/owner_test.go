package policy

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"vpnos/yang/datastore"
)

// commit runs the participant protocol from old to new, as the datastore
// does; it returns Prepare's error (after Abort).
func commit(o *Owner, old, new *datastore.Tree) error {
	ctx := context.Background()
	c := &datastore.Change{Old: old, New: new}
	if err := o.Prepare(ctx, c); err != nil {
		o.Abort(ctx, c)
		return err
	}
	o.Apply(ctx, c)
	return nil
}

func policyTree(costs map[string]string, prefixes map[string]string) *datastore.Tree {
	b := newTB()
	for name, p := range prefixes {
		b.entry(prefixPath(name, "10"), "mode", "permit", "address", p, "mask-length", "8", "less-equal", "32")
	}
	for name, cost := range costs {
		n := nodePath(name, "10")
		b.entry(n, "mode", "permit")
		b.t.Set(n.Child("if-match").Child("ip-prefix"), "ten")
		b.t.Set(n.Child("apply").Child("cost"), cost)
	}
	return b.t
}

func TestOwnerApplyAndSubscribe(t *testing.T) {
	o := New(nil)
	if o.Current().Policy("a") != nil {
		t.Fatal("a new owner has policies")
	}
	sub := o.Subscribe()
	defer sub.Close()
	empty := datastore.NewTree()
	t1 := policyTree(map[string]string{"a": "1", "b": "2"}, map[string]string{"ten": "10.0.0.0"})
	if err := commit(o, empty, t1); err != nil {
		t.Fatal(err)
	}
	<-sub.C()
	evs, set := sub.Take()
	want := []Event{{Ref{KindPrefixList, "ten"}, true}, {Ref{KindPolicy, "a"}, true}, {Ref{KindPolicy, "b"}, true}}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("events %v, want %v", evs, want)
	}
	if r := set.Evaluate("a", Route{Prefix: pfx("10.1.0.0/16")}); !r.Permit || r.Route.Cost != 1 {
		t.Fatalf("a: %+v", r)
	}

	// Only b changes: only b is announced.
	t2 := policyTree(map[string]string{"a": "1", "b": "3"}, map[string]string{"ten": "10.0.0.0"})
	if err := commit(o, t1, t2); err != nil {
		t.Fatal(err)
	}
	if evs, _ := sub.Take(); !reflect.DeepEqual(evs, []Event{{Ref{KindPolicy, "b"}, true}}) {
		t.Fatalf("events %v", evs)
	}

	// The prefix list both use changes: both policies are announced.
	t3 := policyTree(map[string]string{"a": "1", "b": "3"}, map[string]string{"ten": "11.0.0.0"})
	if err := commit(o, t2, t3); err != nil {
		t.Fatal(err)
	}
	want = []Event{{Ref{KindPrefixList, "ten"}, true}, {Ref{KindPolicy, "a"}, true}, {Ref{KindPolicy, "b"}, true}}
	if evs, set := sub.Take(); !reflect.DeepEqual(evs, want) || set.Evaluate("a", Route{Prefix: pfx("10.1.0.0/16")}).Permit {
		t.Fatalf("events %v", evs)
	}

	// A refused change leaves the set and announces nothing.
	bad := policyTree(map[string]string{"a": "1"}, nil)
	bad.Set(prefixPath("ten", "10").Child("mode"), "permit")
	bad.Set(prefixPath("ten", "10").Child("address"), "10.0.0.0")
	bad.Set(prefixPath("ten", "10").Child("mask-length"), "16")
	bad.Set(prefixPath("ten", "10").Child("greater-equal"), "8")
	before := o.Current()
	if err := commit(o, t3, bad); err == nil {
		t.Fatal("a greater-equal below the mask length was prepared")
	}
	if o.Current() != before || sub.box.Len() != 0 {
		t.Fatal("a refused commit changed the set or announced something")
	}

	// Deletion is announced with Exists false.
	if err := commit(o, t3, empty); err != nil {
		t.Fatal(err)
	}
	want = []Event{{Ref{KindPrefixList, "ten"}, false}, {Ref{KindPolicy, "a"}, false}, {Ref{KindPolicy, "b"}, false}}
	if evs, set := sub.Take(); !reflect.DeepEqual(evs, want) || set.Policy("a") != nil {
		t.Fatalf("events %v", evs)
	}
}

// TestOwnerConcurrent evaluates the current set from several goroutines
// while commits swap it (run with -race): every result comes from one
// whole set, never from a mix.
func TestOwnerConcurrent(t *testing.T) {
	o := New(nil)
	trees := []*datastore.Tree{
		policyTree(map[string]string{"a": "1", "b": "1"}, map[string]string{"ten": "10.0.0.0"}),
		policyTree(map[string]string{"a": "2", "b": "2"}, map[string]string{"ten": "10.0.0.0"}),
	}
	if err := commit(o, datastore.NewTree(), trees[0]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			r := Route{Prefix: pfx("10.1.0.0/16")}
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := o.Current()
				a, b := s.Evaluate("a", r), s.Evaluate("b", r)
				if !a.Permit || a.Route.Cost != b.Route.Cost {
					errs <- "a mixed set"
					return
				}
			}
		})
	}
	for i := 1; i <= 200; i++ {
		if err := commit(o, trees[(i-1)%2], trees[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	if g := o.Current().Generation(); g != 201 {
		t.Errorf("generation %d after 201 commits from 0", g)
	}
}
