package mpls

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"vpnos/yang/datastore"
)

var (
	ge1 = datastore.P("interfaces", "interface", datastore.K("GigabitEthernet0/1/0"))
	lo0 = datastore.P("interfaces", "interface", datastore.K("LoopBack0"))
)

func TestValidate(t *testing.T) {
	// base is a device with MPLS on LoopBack0's address.
	base := func(t *datastore.Tree) {
		t.Set(datastore.P("mpls", "lsr-id"), "10.255.0.1")
		t.SetPresence(datastore.P("mpls", "enable"))
		t.SetPresence(datastore.P("vpn-instances", "vpn-instance", datastore.K("red")))
		t.Set(lo0.Child("ipv4").Child("address", "10.255.0.1").Child("mask"), "255.255.255.255")
	}
	tests := []struct {
		name string
		old  func(*datastore.Tree) // running before the change (nil: empty)
		edit func(*datastore.Tree)
		want string
	}{
		{"ok", nil, func(t *datastore.Tree) {
			t.Set(datastore.P("mpls", "lsr-id"), "1.1.1.1")
			t.SetPresence(datastore.P("mpls", "enable"))
			t.Set(ge1.Child("mpls"), "")
		}, ""},
		{"mpls needs lsr-id", nil, func(t *datastore.Tree) { t.SetPresence(datastore.P("mpls", "enable")) },
			"/mpls/enable: The MPLS LSR ID must be configured before MPLS is enabled"},
		{"interface mpls needs global", nil, func(t *datastore.Tree) { t.Set(ge1.Child("mpls"), "") },
			"/interfaces/interface[GigabitEthernet0/1/0]/mpls: MPLS must be enabled globally before it is enabled on GigabitEthernet0/1/0"},
		{"lsr-id interface stays public", nil, func(t *datastore.Tree) {
			t.Set(datastore.P("mpls", "lsr-id"), "10.255.0.1")
			t.SetPresence(datastore.P("vpn-instances", "vpn-instance", datastore.K("red")))
			t.Set(lo0.Child("vpn-instance"), "red")
			t.Set(lo0.Child("ipv4").Child("address", "10.255.0.1").Child("mask"), "255.255.255.255")
		}, "/interfaces/interface[LoopBack0]/vpn-instance: The interface LoopBack0 holds the MPLS LSR ID 10.255.0.1 and cannot be bound to a VPN instance"},
		// The binding removes the addresses (the CLI's cascade): the
		// interface held the LSR ID before the change.
		{"binding the lsr-id interface", base, func(t *datastore.Tree) {
			t.Delete(lo0.Child("ipv4"))
			t.Set(lo0.Child("vpn-instance"), "red")
		}, "/interfaces/interface[LoopBack0]/vpn-instance: The interface LoopBack0 holds the MPLS LSR ID 10.255.0.1 and cannot be bound to a VPN instance"},
		{"deleting the lsr-id interface", base, func(t *datastore.Tree) { t.Delete(lo0) },
			"/interfaces/interface[LoopBack0]: The interface LoopBack0 holds the MPLS LSR ID 10.255.0.1 and cannot be deleted"},
		{"deleting it with the lsr-id", base, func(t *datastore.Tree) {
			t.Delete(lo0)
			t.Delete(datastore.P("mpls"))
		}, ""},
		{"undo lsr-id while mpls is on", base, func(t *datastore.Tree) { t.Delete(datastore.P("mpls", "lsr-id")) },
			"/mpls/lsr-id: The MPLS LSR ID cannot be deleted while MPLS is enabled; run undo mpls first"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := datastore.NewTree()
			if tc.old != nil {
				tc.old(old)
			}
			n := old.Clone()
			tc.edit(n)
			var got []string
			for _, e := range Validate(&datastore.Change{Old: old, New: n}) {
				got = append(got, e.Path.String()+": "+e.Msg)
			}
			if s := strings.Join(got, "\n"); s != tc.want {
				t.Fatalf("got  %q\nwant %q", s, tc.want)
			}
		})
	}
}

func TestOwnerApplies(t *testing.T) {
	o := New()
	n := datastore.NewTree()
	n.Set(datastore.P("mpls", "lsr-id"), "10.255.0.1")
	n.Set(datastore.P("mpls", "enable", "label-advertise"), "explicit-null")
	n.Set(ge1.Child("mpls"), "")
	n.Set(lo0.Child("description"), "x")
	c := &datastore.Change{Old: datastore.NewTree(), New: n}
	if err := o.Prepare(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if o.Config().Enabled {
		t.Fatal("prepared configuration applied before Apply")
	}
	o.Apply(context.Background(), c)
	want := Config{LSRID: netip.MustParseAddr("10.255.0.1"), Enabled: true, Advertise: ExplicitNull, Interfaces: []string{"GigabitEthernet0/1/0"}}
	if got := o.Config(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v want %+v", got, want)
	}
	if FromTree(datastore.NewTree()).Advertise != ImplicitNull || ImplicitNull.String() != "implicit-null" {
		t.Fatal("the default label is implicit null")
	}
}
