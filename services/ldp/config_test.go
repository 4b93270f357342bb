package ldp

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"vpnos/yang/datastore"
)

const (
	ge1 = "GigabitEthernet0/1/0"
	ge2 = "GigabitEthernet0/2/0"
)

func ifc(name string) datastore.Path {
	return datastore.P("interfaces", "interface", datastore.K(name))
}

// base is MPLS enabled with an LSR ID and LDP on GE0/1/0.
func base() *datastore.Tree {
	t := datastore.NewTree()
	t.Set(datastore.P("mpls", "lsr-id"), "10.255.0.1")
	t.SetPresence(datastore.P("mpls", "enable"))
	t.SetPresence(datastore.P("mpls", "ldp"))
	t.Set(ifc(ge1).Child("mpls"), "")
	t.Set(ifc(ge1).Child("mpls-ldp"), "")
	return t
}

func TestFromTree(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name string
		edit func(*datastore.Tree)
		want Config
	}{
		{"nothing", func(t *datastore.Tree) { *t = *datastore.NewTree() }, Config{}},
		{"MPLS without LDP", func(t *datastore.Tree) {
			t.Delete(datastore.P("mpls", "ldp"))
			t.Delete(ifc(ge1).Child("mpls-ldp"))
		}, Config{LSRID: a("10.255.0.1")}},
		{"defaults", func(*datastore.Tree) {}, Config{Enabled: true, LSRID: a("10.255.0.1"),
			Interfaces: []InterfaceConfig{{Name: ge1}}}},
		{"everything", func(t *datastore.Tree) {
			t.Set(datastore.P("mpls", "ldp", "lsr-id"), "10.255.0.9")
			t.Set(datastore.P("mpls", "enable", "lsp-trigger"), "all")
			t.Set(datastore.P("mpls", "enable", "label-advertise"), "explicit-null")
			t.Set(ifc(ge1).Child("mpls-ldp-hello-hold"), "30")
			t.Set(ifc(ge1).Child("mpls-ldp-keepalive-hold"), "90")
			t.Set(ifc(ge2).Child("mpls"), "")
			t.Set(ifc(ge2).Child("mpls-ldp"), "")
		}, Config{Enabled: true, LSRID: a("10.255.0.9"), Trigger: TriggerAll, Advertise: AdvertiseExplicitNull,
			Interfaces: []InterfaceConfig{{Name: ge1, HelloHold: 30 * time.Second, KeepaliveHold: 90 * time.Second}, {Name: ge2}}}},
		{"trigger none, non-null", func(t *datastore.Tree) {
			t.Set(datastore.P("mpls", "enable", "lsp-trigger"), "none")
			t.Set(datastore.P("mpls", "enable", "label-advertise"), "non-null")
		}, Config{Enabled: true, LSRID: a("10.255.0.1"), Trigger: TriggerNone, Advertise: AdvertiseNonNull,
			Interfaces: []InterfaceConfig{{Name: ge1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := base()
			tc.edit(tr)
			got := FromTree(tr)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			if got.Enabled {
				if err := got.Validate(); err != nil {
					t.Fatalf("a valid tree reads into an invalid Config: %v", err)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*datastore.Tree)
		want []string // path: message
	}{
		{"valid", func(*datastore.Tree) {}, nil},
		{"LDP without MPLS", func(t *datastore.Tree) { t.Delete(datastore.P("mpls", "enable")) },
			[]string{"/mpls/ldp: MPLS must be enabled globally before LDP is enabled"}},
		{"interface LDP without global LDP", func(t *datastore.Tree) { t.Delete(datastore.P("mpls", "ldp")) },
			[]string{ifc(ge1).Child("mpls-ldp").String() + ": LDP must be enabled globally before it is enabled on " + ge1}},
		{"interface LDP without interface MPLS", func(t *datastore.Tree) { t.Delete(ifc(ge1).Child("mpls")) },
			[]string{ifc(ge1).Child("mpls-ldp").String() + ": MPLS must be enabled on " + ge1 + " before LDP is enabled there"}},
		{"timers without interface LDP", func(t *datastore.Tree) {
			t.Set(ifc(ge2).Child("mpls"), "")
			t.Set(ifc(ge2).Child("mpls-ldp-keepalive-hold"), "60")
		}, []string{ifc(ge2).Child("mpls-ldp-keepalive-hold").String() + ": LDP must be enabled on " + ge2 + " before its LDP timers are set"}},
		{"LDP on a LoopBack", func(t *datastore.Tree) {
			t.Set(ifc("LoopBack0").Child("mpls"), "")
			t.Set(ifc("LoopBack0").Child("mpls-ldp"), "")
		}, []string{ifc("LoopBack0").Child("mpls-ldp").String() + ": LDP cannot be enabled on LoopBack0"}},
		{"LDP in a VPN instance", func(t *datastore.Tree) { t.Set(ifc(ge1).Child("vpn-instance"), "red") },
			[]string{ifc(ge1).Child("mpls-ldp").String() + ": LDP runs in the public network only, and " + ge1 + " is bound to VPN instance red"}},
		{"LSR ID 0.0.0.0", func(t *datastore.Tree) { t.Set(datastore.P("mpls", "ldp", "lsr-id"), "0.0.0.0") },
			[]string{"/mpls/ldp/lsr-id: The LSR ID 0.0.0.0 is not a unicast address"}},
		{"LSR ID multicast", func(t *datastore.Tree) { t.Set(datastore.P("mpls", "ldp", "lsr-id"), "224.0.0.2") },
			[]string{"/mpls/ldp/lsr-id: The LSR ID 224.0.0.2 is not a unicast address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := base()
			tc.edit(tr)
			var got []string
			for _, e := range Validate(&datastore.Change{Old: datastore.NewTree(), New: tr}) {
				got = append(got, e.Path.String()+": "+e.Msg)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}
