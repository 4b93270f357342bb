package static

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"vpnos/services/fibapi"
	"vpnos/services/label"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
	"vpnos/yang/datastore/dstest"
)

func tree(sets map[string]string) *datastore.Tree {
	t := datastore.NewTree()
	keys := make([]string, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Set(dstest.Path(k), sets[k])
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
	got, err := Routes(tr)
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
		"_public_ 10.9.0.0/16 pref=0 tag=0 bh=false gw=198.51.100.2 if=GigabitEthernet0/3/0 in=",
		"_public_ 192.168.0.0/16 pref=0 tag=5 bh=true gw=invalid IP if=NULL0 in=",
		"blue 172.16.11.0/24 pref=60 tag=0 bh=false gw=192.0.2.6 if= in=",
		"blue 172.16.12.0/24 pref=0 tag=0 bh=false gw=invalid IP if=GigabitEthernet0/2/0 in=",
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
	got, err := LSPs(tr)
	if err != nil {
		t.Fatal(err)
	}
	pub := fibapi.Public
	want := []rib.LSP{
		{Name: "to-pe2", Role: rib.Ingress, Instance: pub, Explicit: true, FEC: netip.MustParsePrefix("10.255.0.3/32"),
			Out: []rib.LSPOut{{Gateway: netip.MustParseAddr("198.51.100.2"), Label: 100}}},
		{Name: "via-p", Role: rib.Transit, Instance: pub, Explicit: true, InLabel: 100,
			Out: []rib.LSPOut{{Gateway: netip.MustParseAddr("198.51.100.6"), Interface: "GigabitEthernet0/2/0", Label: 3}}},
		{Name: "at-pe2", Role: rib.Egress, Instance: pub, Explicit: true, InLabel: 200, InInterface: "GigabitEthernet0/1/0"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lsps:\n%v\nwant:\n%v", got, want)
	}
}

// fakeRIB records what the participant hands the RIB.
type fakeRIB struct {
	routes map[string][]rib.Route
	lsps   []rib.LSP
}

func (f *fakeRIB) SyncRoutes(_ context.Context, _ rib.Protocol, routes map[string][]rib.Route) error {
	f.routes = routes
	return nil
}

func (f *fakeRIB) SetLSPs(_ context.Context, owner string, lsps []rib.LSP) error {
	if owner != rib.OwnerStatic {
		return fmt.Errorf("owner %q", owner)
	}
	f.lsps = lsps
	return rib.ValidateLSPs(owner, lsps)
}

func lspNames(lsps []rib.LSP) string {
	var n []string
	for _, l := range lsps {
		n = append(n, l.Name)
	}
	return strings.Join(n, ",")
}

// The in-labels of static LSPs are reserved in Prepare: a label another
// owner holds refuses the commit with VRP's words, Abort gives back what
// Prepare took, Apply keeps it and programs the LSPs; a label that moves
// from one LSP to another in one commit is released and taken again.
func TestPrepareReservesLabels(t *testing.T) {
	ctx := context.Background()
	lm := label.New()
	f := &fakeRIB{}
	p := &Participant{RIB: f, Labels: lm}
	owners := func() string {
		var s []string
		for _, a := range lm.InUse() {
			s = append(s, fmt.Sprintf("%d=%s", a.Label, a.Owner))
		}
		return strings.Join(s, " ")
	}
	commit := func(id int, old, new *datastore.Tree) error {
		c := &datastore.Change{ID: id, Old: old, New: new}
		if err := p.Prepare(ctx, c); err != nil {
			return err
		}
		p.Apply(ctx, c)
		return nil
	}
	empty := datastore.NewTree()
	t1 := tree(map[string]string{
		"static-lsps/transit[t]/in-label":  "100",
		"static-lsps/transit[t]/nexthop":   "198.51.100.6",
		"static-lsps/transit[t]/out-label": "200",
		"static-lsps/egress[e]/in-label":   "101",
	})
	if err := commit(1, empty, t1); err != nil {
		t.Fatal(err)
	}
	if got := owners(); got != "100=static-lsp:t 101=static-lsp:e" {
		t.Fatalf("labels after the first commit: %s", got)
	}
	if lspNames(f.lsps) != "t,e" {
		t.Fatalf("RIB got %q", lspNames(f.lsps))
	}

	// Another owner holds 102: the commit is refused, nothing changes.
	if err := lm.Reserve(102, "vpn-instance:red"); err != nil {
		t.Fatal(err)
	}
	t2 := tree(map[string]string{
		"static-lsps/transit[t]/in-label":  "100",
		"static-lsps/transit[t]/nexthop":   "198.51.100.6",
		"static-lsps/transit[t]/out-label": "200",
		"static-lsps/egress[e2]/in-label":  "101", // e renamed e2: 101 moves
		"static-lsps/egress[x]/in-label":   "102",
	})
	err := commit(2, t1, t2)
	if err == nil || err.Error() != "The in-label 102 of static LSP x is already used by VPN instance red" {
		t.Fatalf("conflicting commit: %v", err)
	}
	if got := owners(); got != "100=static-lsp:t 101=static-lsp:e 102=vpn-instance:red" {
		t.Fatalf("labels after a refused commit: %s", got)
	}

	// Aborted by another participant after a successful Prepare: every
	// label is back with its owner.
	if err := lm.Free(102, "vpn-instance:red"); err != nil {
		t.Fatal(err)
	}
	c := &datastore.Change{ID: 3, Old: t1, New: t2}
	if err := p.Prepare(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := owners(); got != "100=static-lsp:t 101=static-lsp:e2 102=static-lsp:x" {
		t.Fatalf("labels while prepared: %s", got)
	}
	p.Abort(ctx, c)
	if got := owners(); got != "100=static-lsp:t 101=static-lsp:e" {
		t.Fatalf("labels after Abort: %s", got)
	}
	if lspNames(f.lsps) != "t,e" {
		t.Fatalf("an aborted commit reached the RIB: %q", lspNames(f.lsps))
	}

	// The same commit applied.
	if err := commit(4, t1, t2); err != nil {
		t.Fatal(err)
	}
	if got := owners(); got != "100=static-lsp:t 101=static-lsp:e2 102=static-lsp:x" {
		t.Fatalf("labels after Apply: %s", got)
	}
	if lspNames(f.lsps) != "t,e2,x" {
		t.Fatalf("RIB got %q", lspNames(f.lsps))
	}
	// Removing everything frees the labels.
	if err := commit(5, t2, empty); err != nil {
		t.Fatal(err)
	}
	if got := owners(); got != "" {
		t.Fatalf("labels after removing the LSPs: %s", got)
	}

	// Two LSPs with one in-label are refused at prepare.
	bad := tree(map[string]string{
		"static-lsps/egress[a]/in-label": "200",
		"static-lsps/egress[b]/in-label": "200",
	})
	err = p.Prepare(ctx, &datastore.Change{ID: 6, Old: empty, New: bad})
	if err == nil || err.Error() != "The in-label 200 of static LSP b is already used by static LSP a" {
		t.Fatalf("prepare: %v", err)
	}
	if got := owners(); got != "" {
		t.Fatalf("labels after a refused commit: %s", got)
	}
}
