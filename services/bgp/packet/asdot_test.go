package packet

import "testing"

// A four-octet-AS RD or route target of a small AS (written 0.y) prints as
// 0.y, so that it reads back as the same type: y:NN is the two-octet form.
func TestSmallFourOctetASRoundTrip(t *testing.T) {
	for _, s := range []string{"0.5:7", "0.65535:1", "1.10:7", "5:7", "65546:7", "10.0.0.1:5"} {
		rt, err := ParseRouteTarget(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if back, err := ParseRouteTarget(rt.String()); err != nil || back != rt {
			t.Errorf("route target %s → %s → %#x (was %#x), %v", s, rt, uint64(back), uint64(rt), err)
		}
		rd, err := ParseRD(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if back, err := ParseRD(rd.String()); err != nil || back != rd {
			t.Errorf("RD %s → %s → %#x (was %#x), %v", s, rd, uint64(back), uint64(rd), err)
		}
	}
	if rt, _ := ParseRouteTarget("0.5:7"); rt.String() != "0.5:7" {
		t.Errorf("0.5:7 prints %s", rt)
	}
}
