package persist

import (
	"testing"

	"vpnos/services/owners"
	"vpnos/yang/datastore"
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
