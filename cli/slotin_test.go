package cli

import (
	"io/fs"
	"os"
	"testing"
	"testing/fstest"
	"vpnos/lab/golden"

	"vpnos/services/owners"
	"vpnos/yang/datastore"
	"vpnos/yang/modules"
	"vpnos/yang/schema"
)

// TestNewModuleSlotsIn adds a BGP module to the embedded ones (in place
// of the real vpnos-bgp, as BGP was added before it existed): its
// commands, views, prompts, help and rendering come from the YANG alone.
func TestNewModuleSlotsIn(t *testing.T) {
	mfs := fstest.MapFS{}
	files, _ := fs.Glob(modules.FS, "*.yang")
	for _, f := range files {
		if f == "vpnos-bgp.yang" {
			continue
		}
		b, _ := fs.ReadFile(modules.FS, f)
		mfs[f] = &fstest.MapFile{Data: b}
	}
	b, err := os.ReadFile("testdata/slotin/vpnos-bgp-sample.yang")
	if err != nil {
		t.Fatal(err)
	}
	mfs["vpnos-bgp-sample.yang"] = &fstest.MapFile{Data: b}
	sc, err := schema.LoadFS(mfs)
	if err != nil {
		t.Fatal(err)
	}
	// A new module needs an owner: here, the sample's rules (none) own
	// /bgp in place of the BGP service; the rest is owned as in the daemon.
	st := datastore.New(sc, nil)
	set := owners.Checking()
	set.BGP = datastore.ValidateFunc(func(*datastore.Change) []*datastore.RuleError { return nil })
	if err := owners.Register(st, set); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckOwners(); err != nil {
		t.Fatal(err)
	}
	clock := testEngine(t, "").deps.Now
	st.Now = clock
	e, err := New(Deps{Store: st, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	got := runTranscript(t, e, `system-view
bgp 65000
router-id 10.255.0.1
peer 10.255.0.3 as-number 65000
peer 10.255.0.3 ?
ipv4-family unicast
display configuration candidate
commit
display current-configuration configuration bgp
undo synchronization
synchronization
commit
display current-configuration configuration bgp
quit
undo peer 10.255.0.3
display configuration candidate changes`)
	golden.Check(t, "testdata/slotin/bgp.golden", got)
}
