package ops

import (
	"testing"

	"vpnos/services/owners"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// testStore is a datastore where the services' rules own the
// configuration, as in the daemon (without their effects).
func testStore(t testing.TB) *datastore.Store {
	t.Helper()
	st, err := owners.NewStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testStoreWith is testStore where p owns the routing policies (and
// applies them).
func testStoreWith(t testing.TB, p datastore.Participant) *datastore.Store {
	t.Helper()
	sc, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	st := datastore.New(sc, nil)
	set := owners.Checking()
	set.Policy = p
	if err := owners.Register(st, set); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckOwners(); err != nil {
		t.Fatal(err)
	}
	return st
}
