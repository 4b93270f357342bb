package system

import (
	"testing"

	"vpnos/yang/datastore"
)

func TestRouterID(t *testing.T) {
	addr := func(t *datastore.Tree, ifname, a string) {
		t.Set(datastore.P("interfaces", "interface", datastore.K(ifname), "ipv4").Child("address", a).Child("mask"), "255.255.255.255")
	}
	tests := []struct {
		name string
		edit func(*datastore.Tree)
		want string
		src  RouterIDSource
	}{
		{"none", func(*datastore.Tree) {}, "invalid IP", RouterIDNone},
		{"highest interface address", func(t *datastore.Tree) {
			addr(t, "GigabitEthernet0/1/0", "198.51.100.1")
			addr(t, "GigabitEthernet0/2/0", "198.51.100.9")
		}, "198.51.100.9", RouterIDInterface},
		{"a LoopBack beats higher interface addresses", func(t *datastore.Tree) {
			addr(t, "GigabitEthernet0/1/0", "198.51.100.1")
			addr(t, "LoopBack0", "10.255.0.1")
			addr(t, "LoopBack1", "10.255.0.7")
		}, "10.255.0.7", RouterIDLoopBack},
		{"VPN interfaces and shut ones do not count", func(t *datastore.Tree) {
			addr(t, "LoopBack0", "10.255.0.1")
			addr(t, "LoopBack1", "10.255.0.9")
			t.Set(datastore.P("interfaces", "interface", datastore.K("LoopBack1"), "vpn-instance"), "red")
			addr(t, "LoopBack2", "10.255.0.8")
			t.Set(datastore.P("interfaces", "interface", datastore.K("LoopBack2"), "shutdown"), "true")
		}, "10.255.0.1", RouterIDLoopBack},
		{"configured", func(t *datastore.Tree) {
			addr(t, "LoopBack0", "10.255.0.1")
			t.Set(datastore.P("system", "router-id"), "1.1.1.1")
		}, "1.1.1.1", RouterIDConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := datastore.NewTree()
			tc.edit(tr)
			a, src := RouterID(tr)
			if a.String() != tc.want || src != tc.src {
				t.Fatalf("got %v (%d), want %s (%d)", a, src, tc.want, tc.src)
			}
		})
	}
}
