package ldp_test

import (
	"context"
	"net/netip"
	"testing"

	"vpnos/services/ldp"
	"vpnos/services/mpls"
	"vpnos/services/owners"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// TestParticipantOnTheDatastore: LDP owns its paths on a datastore where
// every owner is registered as in the daemon, and the service gets the
// configuration of each commit, also of commits that change only the MPLS
// settings LDP reads (label advertise, the LSR ID: owned by services/mpls,
// which tells LDP through OnApply).
func TestParticipantOnTheDatastore(t *testing.T) {
	sc, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	st := datastore.New(sc, nil)
	svc := ldp.NewService(ldp.ServiceDeps{})
	part := &ldp.Participant{Service: svc}
	mo := mpls.New()
	mo.OnApply(part.Follow)
	set := owners.Checking()
	set.MPLS, set.LDP = mo, part
	if err := owners.Register(st, set); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckOwners(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/mpls/ldp", "/mpls/ldp/lsr-id", "/mpls/enable/lsp-trigger", "/interfaces/interface/mpls-ldp",
		"/interfaces/interface/mpls-ldp-hello-hold", "/interfaces/interface/mpls-ldp-keepalive-hold"} {
		if p, _ := st.Owner(path); p != datastore.Participant(part) {
			t.Errorf("%s is owned by %T", path, p)
		}
	}
	for _, path := range []string{"/mpls/lsr-id", "/mpls/enable/label-advertise", "/interfaces/interface/mpls"} {
		if p, _ := st.Owner(path); p != datastore.Participant(mo) {
			t.Errorf("%s is owned by %T", path, p)
		}
	}
	ctx := context.Background()
	commit := func(edit func(*datastore.Tree)) {
		t.Helper()
		c := st.NewCandidate()
		edit(c.Tree())
		if _, err := c.Commit(ctx, "test", ""); err != nil {
			t.Fatal(err)
		}
	}
	ge := datastore.P("interfaces", "interface", datastore.K("GigabitEthernet0/1/0"))
	commit(func(tr *datastore.Tree) {
		tr.Set(datastore.P("mpls", "lsr-id"), "10.255.0.1")
		tr.SetPresence(datastore.P("mpls", "enable"))
		tr.SetPresence(datastore.P("mpls", "ldp"))
		tr.Set(ge.Child("mpls"), "")
		tr.Set(ge.Child("mpls-ldp"), "")
	})
	if c := svc.Config(); !c.Enabled || c.LSRID != netip.MustParseAddr("10.255.0.1") || len(c.Interfaces) != 1 || c.Advertise != ldp.AdvertiseImplicitNull {
		t.Fatalf("after mpls ldp: %+v", c)
	}
	// Only MPLS settings change: LDP follows.
	commit(func(tr *datastore.Tree) {
		tr.Set(datastore.P("mpls", "enable", "label-advertise"), "explicit-null")
		tr.Set(datastore.P("mpls", "lsr-id"), "10.255.0.9")
	})
	if c := svc.Config(); c.Advertise != ldp.AdvertiseExplicitNull || c.LSRID != netip.MustParseAddr("10.255.0.9") {
		t.Fatalf("after label advertise explicit-null and a new LSR ID: %+v", c)
	}
	// A refused commit applies nothing.
	c := st.NewCandidate()
	c.Tree().Set(ge.Child("mpls-ldp-hello-hold"), "30")
	c.Tree().Delete(ge.Child("mpls-ldp"))
	if _, err := c.Commit(ctx, "test", ""); err == nil {
		t.Fatal("timers without mpls ldp committed")
	}
	if c := svc.Config(); len(c.Interfaces) != 1 || c.Interfaces[0].HelloHold != 0 {
		t.Fatalf("after a refused commit: %+v", c)
	}
	// undo mpls ldp.
	commit(func(tr *datastore.Tree) {
		tr.Delete(datastore.P("mpls", "ldp"))
		tr.Delete(ge.Child("mpls-ldp"))
	})
	if c := svc.Config(); c.Enabled || len(c.Interfaces) != 0 {
		t.Fatalf("after undo mpls ldp: %+v", c)
	}
}
