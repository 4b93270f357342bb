package vrf

import (
	"fmt"
	"strings"
	"testing"

	"vpnos/yang/datastore"
)

var (
	red    = datastore.P("vpn-instances", "vpn-instance", datastore.K("red"))
	blue   = datastore.P("vpn-instances", "vpn-instance", datastore.K("blue"))
	redAF  = red.Child("ipv4-family")
	blueAF = blue.Child("ipv4-family")
	ge1    = datastore.P("interfaces", "interface", datastore.K("GigabitEthernet0/1/0"))
	lo0    = datastore.P("interfaces", "interface", datastore.K("LoopBack0"))
)

func addr(p datastore.Path, ip string) datastore.Path {
	return p.Child("ipv4").Child("address", ip).Child("mask")
}

// refusals runs Validate on c and returns "path: message" lines.
func refusals(c *datastore.Change) []string {
	var out []string
	for _, e := range Validate(c) {
		out = append(out, e.Path.String()+": "+e.Msg)
	}
	return out
}

func TestValidateStates(t *testing.T) {
	tests := []struct {
		name string
		edit func(*datastore.Tree)
		want string // "path: message" of the one refusal; "" = valid
	}{
		{"vrf ok", func(t *datastore.Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("route-distinguisher"), "10.255.0.1:1")
			t.SetPresence(redAF.Child("vpn-target", "65000:100", "export-extcommunity"))
		}, ""},
		{"public name", func(t *datastore.Tree) {
			t.SetPresence(datastore.P("vpn-instances", "vpn-instance", datastore.K("_public_")))
		}, "/vpn-instances/vpn-instance[_public_]: The name _public_ is reserved for the public instance"},
		{"vpn-target needs rd", func(t *datastore.Tree) {
			t.SetPresence(redAF)
			t.SetPresence(redAF.Child("vpn-target", "65000:100", "export-extcommunity"))
		}, "/vpn-instances/vpn-instance[red]/ipv4-family/vpn-target: The route-distinguisher of VPN instance red must be configured before vpn-target"},
		{"rd unique", func(t *datastore.Tree) {
			t.SetPresence(redAF)
			t.SetPresence(blueAF)
			t.Set(redAF.Child("route-distinguisher"), "1:1")
			t.Set(blueAF.Child("route-distinguisher"), "1:1")
		}, "/vpn-instances/vpn-instance[blue]/ipv4-family/route-distinguisher: The route-distinguisher 1:1 of VPN instance blue is already used by VPN instance red"},
		{"management port", func(t *datastore.Tree) {
			t.Set(datastore.P("interfaces", "interface", datastore.K("MEth0/0/0"), "description"), "x")
		}, "/interfaces/interface[MEth0/0/0]: The management interface MEth0/0/0 cannot be configured"},
		{"/32 on GE", func(t *datastore.Tree) { t.Set(addr(ge1, "192.0.2.1"), "255.255.255.255") },
			"/interfaces/interface[GigabitEthernet0/1/0]/ipv4/address[192.0.2.1]: The mask length 32 is allowed on LoopBack interfaces only (GigabitEthernet0/1/0)"},
		{"/32 on loopback", func(t *datastore.Tree) { t.Set(addr(lo0, "10.255.0.1"), "255.255.255.255") }, ""},
		{"network address", func(t *datastore.Tree) { t.Set(addr(ge1, "192.0.2.0"), "255.255.255.252") },
			"/interfaces/interface[GigabitEthernet0/1/0]/ipv4/address[192.0.2.0]: The address 192.0.2.0/30 on GigabitEthernet0/1/0 is a network or broadcast address"},
		{"overlap", func(t *datastore.Tree) {
			t.Set(addr(ge1, "192.0.2.1"), "255.255.255.252")
			t.Set(addr(lo0, "192.0.2.2"), "255.255.255.0")
		}, "/interfaces/interface[LoopBack0]/ipv4/address[192.0.2.2]: The address 192.0.2.2/24 on LoopBack0 conflicts with 192.0.2.1/30 on GigabitEthernet0/1/0"},
		{"overlap in different instances", func(t *datastore.Tree) {
			t.SetPresence(red)
			t.Set(ge1.Child("vpn-instance"), "red")
			t.Set(addr(ge1, "192.0.2.1"), "255.255.255.252")
			t.Set(addr(lo0, "192.0.2.2"), "255.255.255.0")
		}, ""},
		{"two primaries", func(t *datastore.Tree) {
			t.Set(addr(ge1, "192.0.2.1"), "255.255.255.252")
			t.Set(addr(ge1, "198.51.100.1"), "255.255.255.252")
		}, "/interfaces/interface[GigabitEthernet0/1/0]: The interface GigabitEthernet0/1/0 has more than one primary address"},
		{"secondary alone", func(t *datastore.Tree) {
			t.Set(addr(ge1, "192.0.2.1"), "255.255.255.252")
			t.Set(ge1.Child("ipv4").Child("address", "192.0.2.1").Child("sub"), "")
		}, "/interfaces/interface[GigabitEthernet0/1/0]: The interface GigabitEthernet0/1/0 has a secondary address but no primary address"},
		{"static vpn label ok", func(t *datastore.Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("route-distinguisher"), "1:1")
			t.Set(redAF.Child("apply-label-static"), "100")
		}, ""},
		{"static vpn label needs per-instance", func(t *datastore.Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("route-distinguisher"), "1:1")
			t.Set(redAF.Child("apply-label"), "per-route")
			t.Set(redAF.Child("apply-label-static"), "100")
		}, "/vpn-instances/vpn-instance[red]/ipv4-family/apply-label-static: A static label needs apply-label per-instance (VPN instance red)"},
		{"static vpn label needs rd", func(t *datastore.Tree) {
			t.SetPresence(redAF)
			t.Set(redAF.Child("apply-label-static"), "100")
		}, "/vpn-instances/vpn-instance[red]/ipv4-family/apply-label-static: The route-distinguisher of VPN instance red must be configured before apply-label-static"},
		{"static vpn label twice", func(t *datastore.Tree) {
			for i, af := range []datastore.Path{redAF, blueAF} {
				t.SetPresence(af)
				t.Set(af.Child("route-distinguisher"), fmt.Sprintf("1:%d", i))
				t.Set(af.Child("apply-label-static"), "100")
			}
		}, "/vpn-instances/vpn-instance[blue]/ipv4-family/apply-label-static: VPN instance blue cannot use the static label 100: VPN instance red uses it"},
		{"static vpn label of a static lsp", func(t *datastore.Tree) {
			t.Set(datastore.P("static-lsps", "egress", datastore.K("e1"), "in-label"), "100")
			t.SetPresence(redAF)
			t.Set(redAF.Child("route-distinguisher"), "1:1")
			t.Set(redAF.Child("apply-label-static"), "100")
		}, "/vpn-instances/vpn-instance[red]/ipv4-family/apply-label-static: VPN instance red cannot use the static label 100: static LSP e1 uses it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := datastore.NewTree()
			tc.edit(n)
			got := strings.Join(refusals(&datastore.Change{Old: datastore.NewTree(), New: n}), "\n")
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// An RD is not changed in place, neither against running (Old) nor within
// a candidate (Prev); a rollback may jump across it.
func TestValidateRDInPlace(t *testing.T) {
	withRD := func(rd string) *datastore.Tree {
		t := datastore.NewTree()
		t.SetPresence(redAF)
		t.Set(redAF.Child("route-distinguisher"), rd)
		return t
	}
	rdPath := redAF.Child("route-distinguisher").String()
	tests := []struct {
		name string
		c    datastore.Change
		want string
	}{
		{"running", datastore.Change{Old: withRD("1:1"), New: withRD("1:2")},
			rdPath + ": The route-distinguisher of VPN instance red cannot be changed from 1:1 to 1:2; remove it and commit first"},
		{"candidate", datastore.Change{Old: datastore.NewTree(), Prev: withRD("1:1"), New: withRD("1:2")},
			rdPath + ": The route-distinguisher cannot be changed; undo the current one (1:1) first"},
		{"both: running is named (an undo alone would not do)", datastore.Change{Old: withRD("1:1"), Prev: withRD("1:1"), New: withRD("1:2")},
			rdPath + ": The route-distinguisher of VPN instance red cannot be changed from 1:1 to 1:2; remove it and commit first"},
		{"undone in the candidate, still in running", datastore.Change{Old: withRD("1:1"), Prev: datastore.NewTree(), New: withRD("1:2")},
			rdPath + ": The route-distinguisher of VPN instance red cannot be changed from 1:1 to 1:2; remove it and commit first"},
		{"same", datastore.Change{Old: withRD("1:1"), Prev: withRD("1:1"), New: withRD("1:1")}, ""},
		{"rollback", datastore.Change{Old: withRD("1:1"), New: withRD("1:2"), Rollback: true}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(refusals(&tc.c), "\n"); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
