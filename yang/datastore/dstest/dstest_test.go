package dstest

import (
	"testing"

	"vpnos/yang/datastore"
)

func TestTree(t *testing.T) {
	tr := Tree(
		"static-routes/route[10.9.0.0,255.255.0.0,GigabitEthernet0/3/0]/next-hop-address = 198.51.100.2",
		"vpn-instances/vpn-instance[red]",
	)
	p := datastore.P("static-routes").Child("route", "10.9.0.0", "255.255.0.0", "GigabitEthernet0/3/0").Child("next-hop-address")
	if v, ok := tr.Get(p); !ok || v != "198.51.100.2" {
		t.Fatalf("leaf: %q %v", v, ok)
	}
	if !tr.Exists(datastore.P("vpn-instances").Child("vpn-instance", "red")) {
		t.Fatal("presence node missing")
	}
	if got := Path("a/b[x,y/z]/c").String(); got != datastore.P("a").Child("b", "x", "y/z").Child("c").String() {
		t.Fatalf("path %s", got)
	}
}
