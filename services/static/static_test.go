package static

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"vpnos/services/iface"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
)

func tree(sets map[string]string) *datastore.Tree {
	t := datastore.NewTree()
	keys := make([]string, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// "a/b[x,y]/c" paths in a tiny notation: elements split by '/',
		// keys in brackets separated by ','.
		var p datastore.Path
		for _, e := range splitOutsideBrackets(k) {
			name, rest, ok := strings.Cut(e, "[")
			el := datastore.Elem{Name: name}
			if ok {
				el.Keys = strings.Split(strings.TrimSuffix(rest, "]"), ",")
			}
			p = append(p, el)
		}
		t.Set(p, sets[k])
	}
	return t
}

func TestRoutes(t *testing.T) {
	tr := tree(map[string]string{
		"static-routes/route[10.0.0.0,255.0.0.0,192.0.2.2]/preference":                             "70",
		"static-routes/route[10.9.0.0,255.255.0.0,GigabitEthernet0/3/0]/next-hop-address":          "198.51.100.2",
		"static-routes/route[192.168.0.0,255.255.0.0,NULL0]/tag":                                   "5",
		"static-routes/vpn-route[red,172.16.11.0,255.255.255.0,192.0.2.2]/description":             "lab-net",
		"static-routes/vpn-route[blue,172.16.11.0,255.255.255.0,192.0.2.6]/preference":             "60",
		"static-routes/vpn-route[blue,172.16.12.0,255.255.255.0,GigabitEthernet0/2/0]/description": "x",
		"static-routes/vpn-route[red,0.0.0.0,0.0.0.0,10.255.0.3]/public":                           "",
		"static-routes/vpn-route[red,10.9.0.0,255.255.0.0,192.0.2.6]/next-hop-vpn":                 "blue",
	})
	got, err := Routes(tr, iface.SlotStyle)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for inst, rs := range got {
		for _, r := range rs {
			nh := r.NextHops[0]
			lines = append(lines, fmt.Sprintf("%s %s pref=%d tag=%d bh=%v gw=%v if=%s in=%s", inst, r.Prefix, r.Preference, r.Tag, r.Blackhole, nh.Gateway, nh.Interface, nh.Instance))
		}
	}
	sort.Strings(lines)
	want := []string{
		"_public_ 10.0.0.0/8 pref=70 tag=0 bh=false gw=192.0.2.2 if= in=",
		"_public_ 10.9.0.0/16 pref=0 tag=0 bh=false gw=198.51.100.2 if=eth3 in=",
		"_public_ 192.168.0.0/16 pref=0 tag=5 bh=true gw=invalid IP if=NULL0 in=",
		"blue 172.16.11.0/24 pref=60 tag=0 bh=false gw=192.0.2.6 if= in=",
		"blue 172.16.12.0/24 pref=0 tag=0 bh=false gw=invalid IP if=eth2 in=",
		"red 0.0.0.0/0 pref=0 tag=0 bh=false gw=10.255.0.3 if= in=_public_",
		"red 10.9.0.0/16 pref=0 tag=0 bh=false gw=192.0.2.6 if= in=blue",
		"red 172.16.11.0/24 pref=0 tag=0 bh=false gw=192.0.2.2 if= in=",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("routes:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestLSPs(t *testing.T) {
	tr := tree(map[string]string{
		"static-lsps/ingress[to-pe2]/destination":       "10.255.0.3",
		"static-lsps/ingress[to-pe2]/mask":              "255.255.255.255",
		"static-lsps/ingress[to-pe2]/nexthop":           "198.51.100.2",
		"static-lsps/ingress[to-pe2]/out-label":         "100",
		"static-lsps/transit[via-p]/in-label":           "100",
		"static-lsps/transit[via-p]/outgoing-interface": "GigabitEthernet0/2/0",
		"static-lsps/transit[via-p]/nexthop":            "198.51.100.6",
		"static-lsps/transit[via-p]/out-label":          "3",
		"static-lsps/egress[at-pe2]/in-label":           "200",
		"static-lsps/egress[at-pe2]/incoming-interface": "GigabitEthernet0/1/0",
	})
	got, err := LSPs(tr, iface.SlotStyle)
	if err != nil {
		t.Fatal(err)
	}
	want := []rib.StaticLSP{
		{Name: "to-pe2", Role: rib.Ingress, FEC: netip.MustParsePrefix("10.255.0.3/32"), NextHop: netip.MustParseAddr("198.51.100.2"), OutLabel: 100},
		{Name: "via-p", Role: rib.Transit, InLabel: 100, NextHop: netip.MustParseAddr("198.51.100.6"), OutInterface: "eth2", OutLabel: 3},
		{Name: "at-pe2", Role: rib.Egress, InLabel: 200, InInterface: "eth1"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lsps:\n%v\nwant:\n%v", got, want)
	}
	// Two LSPs with one in-label are refused at prepare.
	bad := tree(map[string]string{
		"static-lsps/egress[a]/in-label": "200",
		"static-lsps/egress[b]/in-label": "200",
	})
	p := &Participant{Naming: iface.SlotStyle}
	err = p.Prepare(context.Background(), &datastore.Change{New: bad})
	if err == nil || !strings.Contains(err.Error(), "in-label 200 is already used") {
		t.Fatalf("prepare: %v", err)
	}
}

func splitOutsideBrackets(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case '/':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
