package owners

import (
	"testing"

	"vpnos/yang/datastore"
)

// Today's modules: every configuration node has an owner or is marked
// unsupported, and the marked ones say so.
func TestEveryNodeOwned(t *testing.T) {
	s, err := NewStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/mpls/ldp/lsr-id":                  "",
		"/mpls/enable/lsp-trigger":          "",
		"/interfaces/interface/mpls-ldp":    "",
		"/interfaces/interface/mpls":        "",
		"/interfaces/interface/description": "",
		"/user-interface/vty/idle-timeout":  "",
	} {
		p, unsupported := s.Owner(path)
		if unsupported != want || (want == "" && p == nil) {
			t.Errorf("%s: owner %T, unsupported %q", path, p, unsupported)
		}
	}
	if err := Register(datastore.New(s.Schema, nil), Set{}); err == nil {
		t.Fatal("an incomplete set registered")
	}
}
