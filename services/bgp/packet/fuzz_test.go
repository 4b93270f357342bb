package packet

import (
	"testing"
)

// FuzzDecode feeds arbitrary messages to Decode under every option set: it
// must never panic, errors must be session errors with a valid code, and a
// decoded UPDATE's attributes must encode again.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{ipv4Update, vpnUpdate,
		"MARKER 0013 04", "MARKER 0015 03 06 02", "MARKER 0017 05 0001 00 80",
		"MARKER 0033 01 04 fde9 005a 0a000001 16 02 14 01 04 0001 00 01 01 04 0001 00 80 02 00 41 04 0000fde9",
		"MARKER 002d 02 0000 0016 900f 0012 0001 80 70 800000 0000fde800000001 ac1001",
	} {
		f.Add(hx(f, s), uint8(0))
		f.Add(hx(f, s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, msg []byte, o uint8) {
		opt := Options{AS4: o&1 != 0, EBGP: o&2 != 0, MultiFamily: o&4 != 0}
		m, err := Decode(msg, opt)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Code < ErrHeader || e.Code > ErrRouteRefresh {
				t.Fatalf("error %v is not a session error", err)
			}
			_ = EncodeNotification(e.Notification())
			return
		}
		if u, ok := m.(*Update); ok && u.Attrs != nil {
			if _, err := EncodeAttrs(u.Attrs, opt); err != nil {
				t.Fatalf("decoded attributes do not encode: %v", err)
			}
		}
	})
}

// FuzzParseHeader checks the framing never accepts a length outside
// 19..4096.
func FuzzParseHeader(f *testing.F) {
	f.Add(hx(f, "MARKER 0013 04"))
	f.Fuzz(func(t *testing.T, h []byte) {
		l, _, err := ParseHeader(h)
		if err == nil && (l < HeaderLen || l > MaxMsgLen) {
			t.Fatalf("length %d accepted", l)
		}
	})
}
