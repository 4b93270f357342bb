package system

import (
	"context"
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
