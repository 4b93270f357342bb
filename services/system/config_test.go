package system

import (
	"context"
	"slices"
	"testing"
	"time"

	"vpnos/yang/datastore"
)

func TestOwner(t *testing.T) {
	o := New()
	if _, ok := o.IdleTimeout(); ok {
		t.Fatal("an idle timeout without configuration")
	}
	n := datastore.NewTree()
	n.Set(datastore.P("system", "sysname"), "PE1")
	n.SetPresence(pathVTY)
	n.Set(pathVTY.Child("screen-length"), "0")
	n.Set(pathVTY.Child("idle-timeout"), "2")
	n.Set(pathVTY.Child("idle-timeout-seconds"), "30")
	c := &datastore.Change{Old: datastore.NewTree(), New: n}
	if errs := o.Validate(c); len(errs) != 0 {
		t.Fatal(errs)
	}
	o.Apply(context.Background(), c)
	if d, ok := o.IdleTimeout(); !ok || d != 150*time.Second {
		t.Fatalf("idle timeout %v %v", d, ok)
	}
	if cfg := o.Config(); cfg.Sysname != "PE1" || !cfg.VTY.HasScreenLength || cfg.VTY.ScreenLength != 0 {
		t.Fatalf("config %+v", cfg)
	}
	n = datastore.NewTree()
	n.SetPresence(pathVTY)
	n.Set(pathVTY.Child("idle-timeout-seconds"), "30")
	errs := Validate(&datastore.Change{Old: datastore.NewTree(), New: n})
	if len(errs) != 1 || errs[0].Msg != "The idle-timeout seconds need the idle-timeout minutes" || !errs[0].Path.Equal(pathVTY.Child("idle-timeout-seconds")) {
		t.Fatalf("seconds alone: %v", errs)
	}
}

// The followers of the system router ID hear of a change of `router id`
// and of nothing else.
func TestOwnerOnRouterID(t *testing.T) {
	o := New()
	var heard []string
	o.OnRouterID(func(_ context.Context, c *datastore.Change) {
		id, _ := RouterID(c.New)
		heard = append(heard, id.String())
	})
	tree := func(sysname, rid string) *datastore.Tree {
		n := datastore.NewTree()
		n.Set(datastore.P("system", "sysname"), sysname)
		if rid != "" {
			n.Set(pathRouterID, rid)
		}
		return n
	}
	steps := []struct {
		name     string
		old, new *datastore.Tree
		want     []string
	}{
		{"set", tree("PE1", ""), tree("PE1", "1.1.1.1"), []string{"1.1.1.1"}},
		{"sysname only", tree("PE1", "1.1.1.1"), tree("PE2", "1.1.1.1"), []string{"1.1.1.1"}},
		{"changed", tree("PE2", "1.1.1.1"), tree("PE2", "2.2.2.2"), []string{"1.1.1.1", "2.2.2.2"}},
		{"undone", tree("PE2", "2.2.2.2"), tree("PE2", ""), []string{"1.1.1.1", "2.2.2.2", "invalid IP"}},
		{"first load", nil, tree("PE2", ""), []string{"1.1.1.1", "2.2.2.2", "invalid IP", "invalid IP"}},
	}
	for _, s := range steps {
		o.Apply(context.Background(), &datastore.Change{Old: s.old, New: s.new})
		if !slices.Equal(heard, s.want) {
			t.Fatalf("%s: heard %v, want %v", s.name, heard, s.want)
		}
	}
}

func TestValidateRouterID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want string
	}{
		{"10.255.0.1", ""},
		{"0.0.0.0", "The router ID 0.0.0.0 is not valid"},
	} {
		n := datastore.NewTree()
		n.Set(pathRouterID, tc.id)
		errs := Validate(&datastore.Change{Old: datastore.NewTree(), New: n})
		switch {
		case tc.want == "" && len(errs) != 0:
			t.Errorf("%s: %v", tc.id, errs)
		case tc.want != "" && (len(errs) != 1 || errs[0].Msg != tc.want || !errs[0].Path.Equal(pathRouterID)):
			t.Errorf("%s: got %v, want %q", tc.id, errs, tc.want)
		}
	}
}
