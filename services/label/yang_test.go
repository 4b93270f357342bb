package label_test

import (
	"fmt"
	"testing"

	"vpnos/services/label"
	"vpnos/yang/schema"
)

// Every configuration leaf that takes a label of the static range offers
// exactly the label manager's static range, so that what the CLI's help and
// the schema accept is what Prepare can reserve.
func TestYANGStaticLabelRange(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d..%d", label.StaticMin, label.StaticMax)
	for _, path := range [][]string{
		{"static-lsps", "transit", "in-label"},
		{"static-lsps", "egress", "in-label"},
		{"vpn-instances", "vpn-instance", "ipv4-family", "apply-label-static"},
	} {
		e := s.Find(path...)
		if e == nil || e.Type == nil {
			t.Errorf("%v: no such leaf", path)
			continue
		}
		lo, hi, ok := schema.Bounds(e.Type)
		if got := lo + ".." + hi; !ok || got != want {
			t.Errorf("%v: range %s, want the label manager's %s", path, got, want)
		}
	}
	if r := label.DefaultRanges(); r.StaticMin != label.StaticMin || r.StaticMax != label.StaticMax {
		t.Errorf("DefaultRanges %+v disagree with StaticMin/StaticMax", r)
	}
}
