package static

import (
	"strings"
	"testing"

	"vpnos/yang/datastore"
)

func TestValidate(t *testing.T) {
	mpls := func(t *datastore.Tree) {
		t.Set(datastore.P("mpls", "lsr-id"), "1.1.1.1")
		t.SetPresence(datastore.P("mpls", "enable"))
	}
	lsp := func(kind, name string) datastore.Path { return datastore.P("static-lsps", kind, datastore.K(name)) }
	route := func(keys ...string) datastore.Path {
		return datastore.P("static-routes", "route", datastore.K(keys...))
	}
	vpnRoute := func(keys ...string) datastore.Path {
		return datastore.P("static-routes", "vpn-route", datastore.K(keys...))
	}
	vpn := func(t *datastore.Tree, names ...string) {
		for _, n := range names {
			t.SetPresence(datastore.P("vpn-instances", "vpn-instance", datastore.K(n)))
		}
	}
	tests := []struct {
		name string
		edit func(*datastore.Tree)
		want string // "path: message" of the refusals; "" = valid
	}{
		{"lsp ok", func(t *datastore.Tree) {
			mpls(t)
			t.Set(lsp("transit", "t1").Child("in-label"), "100")
			t.Set(lsp("transit", "t1").Child("nexthop"), "10.0.0.2")
			t.Set(lsp("egress", "e1").Child("in-label"), "101")
		}, ""},
		{"lsp needs mpls", func(t *datastore.Tree) { t.Set(lsp("egress", "e1").Child("in-label"), "101") },
			"/static-lsps/egress[e1]: MPLS must be enabled globally before static LSP e1"},
		{"lsp needs a next hop", func(t *datastore.Tree) {
			mpls(t)
			t.Set(lsp("transit", "t1").Child("in-label"), "100")
		}, "/static-lsps/transit[t1]: The static LSP t1 needs a next hop or an outgoing interface"},
		{"in-label twice", func(t *datastore.Tree) {
			mpls(t)
			t.Set(lsp("transit", "t1").Child("in-label"), "100")
			t.Set(lsp("transit", "t1").Child("outgoing-interface"), "GigabitEthernet0/1/0")
			t.Set(lsp("egress", "e1").Child("in-label"), "100")
		}, "/static-lsps/egress[e1]/in-label: The in-label 100 of static LSP e1 is already used by static LSP t1"},
		{"destination twice", func(t *datastore.Tree) {
			mpls(t)
			for _, n := range []string{"a", "b"} {
				t.Set(lsp("ingress", n).Child("destination"), "10.255.0.3")
				t.Set(lsp("ingress", n).Child("mask"), "255.255.255.255")
				t.Set(lsp("ingress", n).Child("nexthop"), "10.0.0.2")
			}
		}, "/static-lsps/ingress[b]/destination: The destination 10.255.0.3 255.255.255.255 of static LSP b is already used by static LSP a"},
		{"route ok", func(t *datastore.Tree) { t.SetPresence(route("10.0.0.0", "255.0.0.0", "192.0.2.1")) }, ""},
		{"destination and mask", func(t *datastore.Tree) { t.SetPresence(route("10.0.0.1", "255.0.0.0", "192.0.2.1")) },
			"/static-routes/route[10.0.0.1][255.0.0.0][192.0.2.1]: The destination address 10.0.0.1 and mask 255.0.0.0 do not match"},
		{"next-hop address after an address", func(t *datastore.Tree) {
			t.Set(route("10.0.0.0", "255.0.0.0", "192.0.2.1").Child("next-hop-address"), "192.0.2.2")
		}, "/static-routes/route[10.0.0.0][255.0.0.0][192.0.2.1]: The route 10.0.0.0 255.0.0.0: a next-hop address follows an interface only"},
		{"next hop in another instance is an address", func(t *datastore.Tree) {
			vpn(t, "red")
			t.Set(vpnRoute("red", "10.0.0.0", "255.0.0.0", "GigabitEthernet0/1/0").Child("public"), "")
		}, "/static-routes/vpn-route[red][10.0.0.0][255.0.0.0][GigabitEthernet0/1/0]: The route 10.0.0.0 255.0.0.0: a next hop in another instance must be an address"},
		{"next hop in its own instance", func(t *datastore.Tree) {
			vpn(t, "red")
			t.Set(vpnRoute("red", "10.0.0.0", "255.0.0.0", "192.0.2.1").Child("next-hop-vpn"), "red")
		}, "/static-routes/vpn-route[red][10.0.0.0][255.0.0.0][192.0.2.1]: The route 10.0.0.0 255.0.0.0: the next hop is in the route's own VPN instance; give it without vpn-instance"},
		// A route depends on the instances it names (NETCONF deleting an
		// instance alone meets these; the CLI's undo ip vpn-instance
		// deletes the routes with it).
		{"instance of the route missing", func(t *datastore.Tree) {
			t.SetPresence(vpnRoute("red", "10.0.0.0", "255.0.0.0", "192.0.2.1"))
		}, "/static-routes/vpn-route[red][10.0.0.0][255.0.0.0][192.0.2.1]: The static route 10.0.0.0 255.0.0.0 of VPN instance red needs VPN instance red, which does not exist"},
		{"next-hop instance missing", func(t *datastore.Tree) {
			t.Set(route("172.31.0.0", "255.255.255.0", "10.9.9.9").Child("next-hop-vpn"), "zz2")
		}, "/static-routes/route[172.31.0.0][255.255.255.0][10.9.9.9]/next-hop-vpn: The static route 172.31.0.0 255.255.255.0 resolves its next hop in VPN instance zz2, which does not exist"},
		{"next-hop instance present", func(t *datastore.Tree) {
			vpn(t, "zz2")
			t.Set(route("172.31.0.0", "255.255.255.0", "10.9.9.9").Child("next-hop-vpn"), "zz2")
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := datastore.NewTree()
			tc.edit(n)
			var got []string
			for _, e := range Validate(&datastore.Change{Old: datastore.NewTree(), New: n}) {
				got = append(got, e.Path.String()+": "+e.Msg)
			}
			if s := strings.Join(got, "\n"); s != tc.want {
				t.Fatalf("got  %q\nwant %q", s, tc.want)
			}
		})
	}
}
