package packet

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// hx turns a hex dump with spaces, newlines and "FF16" (the marker) into
// bytes.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.ReplaceAll(s, "MARKER", strings.Repeat("ff", 16))
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestEncodeFixedMessages(t *testing.T) {
	rd1, _ := ParseRD("65000:1")
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"keepalive", EncodeKeepalive(), "MARKER 0013 04"},
		{"notification cease/admin shutdown", EncodeNotification(&Notification{Code: 6, Subcode: 2}), "MARKER 0015 03 06 02"},
		{"notification with data", EncodeNotification(&Notification{Code: 2, Subcode: 2, Data: []byte{0xfd, 0xe9}}), "MARKER 0017 03 02 02 fde9"},
		{"route-refresh vpnv4", EncodeRouteRefresh(VPNv4), "MARKER 0017 05 0001 00 80"},
		{"end-of-rib ipv4", EncodeEndOfRIB(IPv4Unicast), "MARKER 0017 02 0000 0000"},
		{"end-of-rib vpnv4", EncodeEndOfRIB(VPNv4), "MARKER 001d 02 0000 0006 800f03 0001 80"},
		{
			"open 4-octet AS with MP, RR",
			EncodeOpen(&Open{HoldTime: 90, RouterID: netip.MustParseAddr("10.0.0.1"), Caps: Capabilities{
				Families: []Family{IPv4Unicast, VPNv4}, RouteRefresh: true, AS4: true, AS4Number: 65001}}),
			// version 4, My AS 65001, hold 90, id, opt len 22: one
			// capability parameter (2, 20) holding MP(1/1), MP(1/128), RR,
			// AS4(65001).
			"MARKER 0033 01 04 fde9 005a 0a000001 16 02 14 01 04 0001 00 01 01 04 0001 00 80 02 00 41 04 0000fde9",
		},
		{
			"open AS above 65535 sends AS_TRANS",
			EncodeOpen(&Open{HoldTime: 180, RouterID: netip.MustParseAddr("192.0.2.9"), Caps: Capabilities{AS4: true, AS4Number: 4200000001}}),
			"MARKER 0025 01 04 5ba0 00b4 c0000209 08 02 06 41 04 fa56ea01",
		},
		{
			"vpn withdraw",
			AppendVPNWithdraws(nil, []VPNPrefix{{RD: rd1, Prefix: MustPrefix("172.16.1.0/24")}})[0],
			// MP_UNREACH (ext len) 18 bytes: AFI 1 SAFI 128, NLRI 112 bits,
			// label field 0x800000, RD 0:65000:1, 172.16.1
			"MARKER 002d 02 0000 0016 900f 0012 0001 80 70 800000 0000fde800000001 ac1001",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if want := hx(t, tc.want); !bytes.Equal(tc.got, want) {
				t.Errorf("got  %x\nwant %x", tc.got, want)
			}
		})
	}
}

// A hand-built IPv4 unicast UPDATE (4-octet session).
const ipv4Update = `MARKER 0039 02 0000 001b
	40 01 01 00
	40 02 06 02 01 0000fde9
	40 03 04 c0000201
	80 04 04 0000000a
	10 0a01
	18 0a0203`

// A hand-built VPN-IPv4 UPDATE: label 100, RD 65000:1, 172.16.1.0/24,
// next hop 10.255.0.1, RT 65000:100, LOCAL_PREF 100.
const vpnUpdate = `MARKER 0054 02 0000 003d
	90 0e 0020 0001 80 0c 0000000000000000 0aff0001 00
	   70 000641 0000fde800000001 ac1001
	40 01 01 00
	40 02 00
	40 05 04 00000064
	c0 10 08 0002fde800000064`

func TestDecodeUpdateVectors(t *testing.T) {
	rd1, _ := ParseRD("65000:1")
	rt, _ := ParseRouteTarget("65000:100")
	t.Run("ipv4", func(t *testing.T) {
		m, err := Decode(hx(t, ipv4Update), Options{AS4: true, EBGP: true})
		if err != nil {
			t.Fatal(err)
		}
		u := m.(*Update)
		want := &Update{
			NLRI: []Prefix{MustPrefix("10.1.0.0/16"), MustPrefix("10.2.3.0/24")},
			Attrs: &Attrs{Origin: OriginIGP, ASPath: ASPath{{Type: ASSequence, ASNs: []uint32{65001}}},
				NextHop: netip.MustParseAddr("192.0.2.1"), MED: 10, HasMED: true},
		}
		if !reflect.DeepEqual(u, want) {
			t.Errorf("got %+v\nwant %+v", u, want)
		}
	})
	t.Run("vpnv4", func(t *testing.T) {
		m, err := Decode(hx(t, vpnUpdate), Options{AS4: true, MultiFamily: true})
		if err != nil {
			t.Fatal(err)
		}
		u := m.(*Update)
		want := &Update{
			Attrs: &Attrs{Origin: OriginIGP, LocalPref: 100, HasLocalPref: true, ExtCommunities: []ExtCommunity{rt}},
			MPReach: &MPReach{Family: VPNv4, NextHop: netip.MustParseAddr("10.255.0.1"),
				VPN: []VPNRoute{{VPNPrefix: VPNPrefix{RD: rd1, Prefix: MustPrefix("172.16.1.0/24")}, Label: 100}}},
		}
		if !reflect.DeepEqual(u, want) {
			t.Errorf("got %+v\nwant %+v", u, want)
		}
	})
}

func TestEncodeUpdateVectors(t *testing.T) {
	rd1, _ := ParseRD("65000:1")
	rt, _ := ParseRouteTarget("65000:100")
	a := &Attrs{Origin: OriginIGP, ASPath: ASPath{{Type: ASSequence, ASNs: []uint32{65001}}},
		NextHop: netip.MustParseAddr("192.0.2.1"), MED: 10, HasMED: true}
	ab, err := EncodeAttrs(a, Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := AppendIPv4Updates(nil, ab, []Prefix{MustPrefix("10.1.0.0/16"), MustPrefix("10.2.3.0/24")})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	if want := hx(t, ipv4Update); !bytes.Equal(msgs[0], want) {
		t.Errorf("ipv4 got  %x\nwant %x", msgs[0], want)
	}
	v := &Attrs{Origin: OriginIGP, LocalPref: 100, HasLocalPref: true, ExtCommunities: []ExtCommunity{rt}}
	vb, err := EncodeAttrs(v, Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err = AppendVPNUpdates(nil, vb, netip.MustParseAddr("10.255.0.1"),
		[]VPNRoute{{VPNPrefix: VPNPrefix{RD: rd1, Prefix: MustPrefix("172.16.1.0/24")}, Label: 100}})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	if want := hx(t, vpnUpdate); !bytes.Equal(msgs[0], want) {
		t.Errorf("vpn got  %x\nwant %x", msgs[0], want)
	}
}

func TestTwoOctetSession(t *testing.T) {
	// AS_PATH 100 23456 200 (2-octet) with AS4_PATH 4200000000 200.
	msg := hx(t, `MARKER 003c 02 0000 0023
		40 01 01 02
		40 02 08 02 03 0064 5ba0 00c8
		40 03 04 c0000201
		c0 11 0a 02 02 fa56ea00 000000c8
		08 0a`)
	m, err := Decode(msg, Options{EBGP: true})
	if err != nil {
		t.Fatal(err)
	}
	u := m.(*Update)
	want := ASPath{{Type: ASSequence, ASNs: []uint32{100, 4200000000, 200}}}
	if !u.Attrs.ASPath.Equal(want) || u.Attrs.Origin != OriginIncomplete || len(u.Issues) != 0 {
		t.Fatalf("path %v origin %v issues %v", u.Attrs.ASPath, u.Attrs.Origin, u.Issues)
	}
	// Encoding for a 2-octet peer gives back AS_TRANS and AS4_PATH.
	b, err := EncodeAttrs(&Attrs{Origin: OriginIncomplete, ASPath: want, NextHop: netip.MustParseAddr("192.0.2.1")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := hx(t, "40 01 01 02 40 02 08 02 03 0064 5ba0 00c8 40 03 04 c0000201 c0 11 0e 02 03 00000064 fa56ea00 000000c8"); !bytes.Equal(b, w) {
		t.Errorf("got  %x\nwant %x", b, w)
	}
}

func TestHeaderAndOpenErrors(t *testing.T) {
	tests := []struct {
		name      string
		msg       string
		code, sub uint8
		data      string
	}{
		{"bad marker", "ffffffffffffffffffffffffffffff00 0013 04", 1, 1, ""},
		{"length below 19", "MARKER 0012 04", 1, 2, "0012"},
		{"length above 4096", "MARKER 1001 04", 1, 2, "1001"},
		{"unknown type", "MARKER 0013 09", 1, 3, "09"},
		{"keepalive with body", "MARKER 0014 04 00", 1, 2, "0014"},
		{"short open", "MARKER 0014 01 04", 1, 2, "0014"},
		{"open version 3", "MARKER 001d 01 03 fde9 005a 0a000001 00", 2, 1, "0004"},
		{"open auth parameter", "MARKER 0021 01 04 fde9 005a 0a000001 04 01 02 0000", 2, 4, ""},
		{"open parameter overrun", "MARKER 001f 01 04 fde9 005a 0a000001 02 02 05", 2, 0, ""},
		{"short route-refresh", "MARKER 0016 05 0001 00", 1, 2, "0016"},
		{"update withdrawn overrun", "MARKER 0017 02 0005 0000", 3, 1, ""},
		{"update attr length overrun", "MARKER 0017 02 0000 0009", 3, 1, ""},
		{"update prefix length 33", "MARKER 001c 02 0000 0000 21 0a000001", 3, 10, ""},
		{"update prefix truncated", "MARKER 0019 02 0000 0000 18 0a", 3, 10, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(hx(t, tc.msg), Options{AS4: true})
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("got %v, want a session error", err)
			}
			if e.Code != tc.code || e.Subcode != tc.sub || !bytes.Equal(e.Data, hx(t, tc.data)) {
				t.Errorf("got %d/%d data %x (%v), want %d/%d data %s", e.Code, e.Subcode, e.Data, e, tc.code, tc.sub, tc.data)
			}
		})
	}
}

func TestDecodeOpenSeparateParameters(t *testing.T) {
	// As FRR writes it: one capability per parameter, AS 65000, a GR
	// capability this speaker does not use.
	msg := hx(t, `MARKER 003b 01 04 fde8 00b4 0aff0003 1e
		02 06 01 04 0001 0080
		02 02 02 00
		02 06 41 04 0000fde8
		02 04 40 02 0078
		02 02 46 00`)
	m, err := Decode(msg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := m.(*Open)
	if o.AS() != 65000 || o.HoldTime != 180 || o.RouterID != netip.MustParseAddr("10.255.0.3") {
		t.Errorf("open %+v", o)
	}
	if !o.Caps.Has(VPNv4) || o.Caps.Has(IPv4Unicast) || !o.Caps.RouteRefresh || !o.Caps.AS4 || len(o.Caps.Other) != 2 {
		t.Errorf("caps %+v", o.Caps)
	}
}

// attrsMsg wraps an attribute list and NLRI into an UPDATE.
func attrsMsg(t *testing.T, attrs, nlri string) []byte {
	a, n := hx(t, attrs), hx(t, nlri)
	b := append([]byte{}, marker...)
	b = append(b, 0, 0, 2, 0, 0, byte(len(a)>>8), byte(len(a)))
	b = append(b, a...)
	b = append(b, n...)
	b[16], b[17] = byte(len(b)>>8), byte(len(b))
	return b
}

const (
	aOrigin = "40 01 01 00 "
	aPath   = "40 02 06 02 01 0000fde9 "
	aNH     = "40 03 04 c0000201 "
	aLP     = "40 05 04 00000064 "
	nlri1   = "18 0a0203"
)

func TestRFC7606(t *testing.T) {
	type want struct {
		reset     bool
		code, sub uint8
		taw       bool
		handling  []Handling // issues in order
		check     func(*Update) string
	}
	vpnReach := "90 0e 0020 0001 80 0c 0000000000000000 0aff0001 00 70 000641 0000fde800000001 ac1001 "
	tests := []struct {
		name  string
		opt   Options
		attrs string
		nlri  string
		w     want
	}{
		{"origin value 3", Options{AS4: true, EBGP: true}, "40 01 01 03 " + aPath + aNH, nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"origin length 2", Options{AS4: true, EBGP: true}, "40 01 02 0000 " + aPath + aNH, nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"origin flagged optional", Options{AS4: true, EBGP: true}, "c0 01 01 00 " + aPath + aNH, nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"communities length 3", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "c0 08 03 000001", nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"next hop 0.0.0.0", Options{AS4: true, EBGP: true}, aOrigin + aPath + "40 03 04 00000000", nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"as_path bad segment type", Options{AS4: true, EBGP: true}, aOrigin + "40 02 06 05 01 0000fde9 " + aNH, nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"as_path segment overrun", Options{AS4: true, EBGP: true}, aOrigin + "40 02 06 02 02 0000fde9 " + aNH, nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"confederation from ebgp", Options{AS4: true, EBGP: true}, aOrigin + "40 02 06 03 01 0000fde9 " + aNH, nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"missing next hop", Options{AS4: true, EBGP: true}, aOrigin + aPath, nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"missing origin", Options{AS4: true, EBGP: true}, aPath + aNH, nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"missing local_pref on ibgp", Options{AS4: true}, aOrigin + aPath + aNH, nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"mandatory attributes not needed without nlri", Options{AS4: true}, "c0 08 04 00010002", "", want{check: func(u *Update) string {
			if u.Attrs == nil || len(u.Attrs.Communities) != 1 {
				return "community lost"
			}
			return ""
		}}},
		{"atomic aggregate with a value", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "40 06 01 00", nlri1, want{handling: []Handling{AttributeDiscard}, check: func(u *Update) string {
			if u.Attrs.AtomicAggregate || len(u.NLRI) != 1 {
				return "atomic aggregate kept or route lost"
			}
			return ""
		}}},
		{"aggregator of wrong length", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "c0 07 06 fde9 0a000001", nlri1, want{handling: []Handling{AttributeDiscard}}},
		{"duplicate med keeps the first", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "80 04 04 00000001 80 04 04 00000002", nlri1, want{handling: []Handling{AttributeDiscard}, check: func(u *Update) string {
			if u.Attrs.MED != 1 {
				return "wrong MED kept"
			}
			return ""
		}}},
		{"local_pref from ebgp discarded", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + aLP, nlri1, want{handling: []Handling{AttributeDiscard}, check: func(u *Update) string {
			if u.Attrs.HasLocalPref {
				return "LOCAL_PREF kept"
			}
			return ""
		}}},
		{"originator and cluster list from ebgp discarded", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "80 09 04 0a000009 80 0a 04 0a000007", nlri1, want{handling: []Handling{AttributeDiscard, AttributeDiscard}}},
		{"originator of length 3", Options{AS4: true}, aOrigin + aPath + aNH + aLP + "80 09 03 0a0000", nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"cluster list of length 6", Options{AS4: true}, aOrigin + aPath + aNH + aLP + "80 0a 06 0a0000070a00", nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"ext communities of length 7", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "c0 10 07 0002fde8000000", nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"as4_path on a 4-octet session discarded", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "c0 11 06 02 01 0000fde9", nlri1, want{handling: []Handling{AttributeDiscard}}},
		{"malformed as4_path discarded", Options{EBGP: true}, aOrigin + "40 02 04 02 01 fde9 " + aNH + "c0 11 05 02 01 0000fd", nlri1, want{handling: []Handling{AttributeDiscard}}},
		{"unknown optional transitive kept", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "c0 63 02 abcd", nlri1, want{check: func(u *Update) string {
			if len(u.Attrs.Unknown) != 1 || u.Attrs.Unknown[0].Type != 0x63 {
				return "unknown attribute not kept"
			}
			return ""
		}}},
		{"unknown optional non-transitive dropped", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "80 63 02 abcd", nlri1, want{check: func(u *Update) string {
			if len(u.Attrs.Unknown) != 0 {
				return "non-transitive kept"
			}
			return ""
		}}},
		{"unknown well-known resets", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "40 63 02 abcd", nlri1, want{reset: true, code: 3, sub: 2}},
		{"attribute overrun on ipv4-only session", Options{AS4: true, EBGP: true}, aOrigin + aPath + aNH + "40 05 09 0000", nlri1, want{taw: true, handling: []Handling{TreatAsWithdraw}}},
		{"attribute overrun with MP families resets", Options{AS4: true, MultiFamily: true}, aOrigin + aPath + "40 05 09 0000", "", want{reset: true, code: 3, sub: 5}},
		{"mp_reach twice resets", Options{AS4: true, MultiFamily: true}, vpnReach + vpnReach + aOrigin + aPath + aLP, "", want{reset: true, code: 3, sub: 1}},
		{"mp_reach bad next hop length resets", Options{AS4: true, MultiFamily: true}, "90 0e 0018 0001 80 04 0aff0001 00 70 000641 0000fde800000001 ac1001 " + aOrigin + aPath + aLP, "", want{reset: true, code: 3, sub: 9}},
		{"mp_reach nlri too long resets", Options{AS4: true, MultiFamily: true}, "90 0e 0020 0001 80 0c 0000000000000000 0aff0001 00 79 000641 0000fde800000001 ac1001 " + aOrigin + aPath + aLP, "", want{reset: true, code: 3, sub: 9}},
		{"mp_reach missing origin withdraws vpn routes", Options{AS4: true, MultiFamily: true}, vpnReach + aPath + aLP, "", want{taw: true, handling: []Handling{TreatAsWithdraw}, check: func(u *Update) string {
			if u.MPReach == nil || len(u.MPReach.VPN) != 1 {
				return "MP NLRI not decoded for the withdrawal"
			}
			return ""
		}}},
		{"mp_reach of another family is skipped", Options{AS4: true, MultiFamily: true}, "90 0e 0005 0002 01 00 00 " + aOrigin + aPath + aLP, "", want{check: func(u *Update) string {
			if u.MPReach == nil || !u.MPReach.Unsupported {
				return "unsupported family not flagged"
			}
			return ""
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(attrsMsg(t, tc.attrs, tc.nlri), tc.opt)
			if tc.w.reset {
				e, ok := err.(*Error)
				if !ok || e.Code != tc.w.code || e.Subcode != tc.w.sub {
					t.Fatalf("got %v, want session reset %d/%d", err, tc.w.code, tc.w.sub)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected session reset: %v", err)
			}
			u := m.(*Update)
			if u.TreatAsWithdraw != tc.w.taw {
				t.Errorf("treat-as-withdraw %v, want %v (issues %v)", u.TreatAsWithdraw, tc.w.taw, u.Issues)
			}
			var got []Handling
			for _, i := range u.Issues {
				got = append(got, i.Handling)
			}
			if !reflect.DeepEqual(got, tc.w.handling) {
				t.Errorf("issues %v, want %v", u.Issues, tc.w.handling)
			}
			if tc.w.check != nil {
				if s := tc.w.check(u); s != "" {
					t.Error(s)
				}
			}
		})
	}
}

// The NLRI packed here decode identically in GoBGP's codec, and its encoding
// of the same routes decodes identically here.
func TestNLRIAgreesWithCodec(t *testing.T) {
	rdA, _ := ParseRD("65000:7")
	rdB, _ := ParseRD("10.0.0.1:3")
	rdC, _ := ParseRD("4200000000:9")
	routes := []VPNRoute{
		{VPNPrefix: VPNPrefix{RD: rdA, Prefix: MustPrefix("10.0.0.0/8")}, Label: 16},
		{VPNPrefix: VPNPrefix{RD: rdB, Prefix: MustPrefix("192.0.2.128/25")}, Label: 1048575},
		{VPNPrefix: VPNPrefix{RD: rdC, Prefix: MustPrefix("0.0.0.0/0")}, Label: 48000},
		{VPNPrefix: VPNPrefix{RD: rdA, Prefix: MustPrefix("198.51.100.7/32")}, Label: 3},
	}
	ab, _ := EncodeAttrs(&Attrs{Origin: OriginIGP, LocalPref: 100, HasLocalPref: true}, Options{AS4: true})
	msgs, err := AppendVPNUpdates(nil, ab, netip.MustParseAddr("10.255.0.1"), routes)
	if err != nil {
		t.Fatal(err)
	}
	gm, err := gobgp.ParseBGPMessage(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []VPNRoute
	for _, a := range gm.Body.(*gobgp.BGPUpdate).PathAttributes {
		mp, ok := a.(*gobgp.PathAttributeMpReachNLRI)
		if !ok {
			continue
		}
		if mp.Nexthop.String() != "10.255.0.1" {
			t.Errorf("codec next hop %v", mp.Nexthop)
		}
		for _, n := range mp.Value {
			l := n.(*gobgp.LabeledVPNIPAddrPrefix)
			rdb, _ := l.RD.Serialize()
			p, _ := PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte(l.Prefix.To4())), int(l.IPPrefixLen())))
			got = append(got, VPNRoute{VPNPrefix: VPNPrefix{RD: RD(uint64(rdb[0])<<56 | uint64(rdb[1])<<48 | uint64(rdb[2])<<40 | uint64(rdb[3])<<32 | uint64(rdb[4])<<24 | uint64(rdb[5])<<16 | uint64(rdb[6])<<8 | uint64(rdb[7])), Prefix: p}, Label: l.Labels.Labels[0]})
		}
	}
	if !reflect.DeepEqual(got, routes) {
		t.Errorf("codec read %v, want %v", got, routes)
	}
	if rdB.String() != "10.0.0.1:3" || rdC.String() != "4200000000:9" {
		t.Errorf("rd strings %s %s", rdB, rdC)
	}

	// The other way: the codec's message, our decoder.
	var nl []gobgp.AddrPrefixInterface
	for _, r := range routes {
		var rdb [8]byte
		binary.BigEndian.PutUint64(rdb[:], uint64(r.RD))
		rd := gobgp.GetRouteDistinguisher(rdb[:])
		nl = append(nl, gobgp.NewLabeledVPNIPAddrPrefix(r.Prefix.Len, r.Prefix.Netip().Addr().String(), *gobgp.NewMPLSLabelStack(r.Label), rd))
	}
	cm := gobgp.NewBGPUpdateMessage(nil, []gobgp.PathAttributeInterface{
		gobgp.NewPathAttributeMpReachNLRI("10.255.0.1", nl),
		gobgp.NewPathAttributeOrigin(0), gobgp.NewPathAttributeAsPath(nil), gobgp.NewPathAttributeLocalPref(100),
	}, nil)
	cb, err := cm.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(cb, Options{AS4: true, MultiFamily: true})
	if err != nil {
		t.Fatal(err)
	}
	if u := m.(*Update); !reflect.DeepEqual(u.MPReach.VPN, routes) || len(u.Issues) != 0 {
		t.Errorf("decoded %v (issues %v), want %v", u.MPReach.VPN, u.Issues, routes)
	}
}

func TestPacking(t *testing.T) {
	rd, _ := ParseRD("65000:1")
	var routes []VPNRoute
	var prefixes []Prefix
	for i := 0; i < 2000; i++ {
		p := Prefix{Addr: 0x0a000000 | uint32(i)<<8, Len: 24}
		prefixes = append(prefixes, p)
		routes = append(routes, VPNRoute{VPNPrefix: VPNPrefix{RD: rd, Prefix: p}, Label: uint32(48000 + i)})
	}
	ab, _ := EncodeAttrs(&Attrs{Origin: OriginIGP, LocalPref: 100, HasLocalPref: true}, Options{AS4: true})
	msgs, err := AppendVPNUpdates(nil, ab, netip.MustParseAddr("10.255.0.1"), routes)
	if err != nil {
		t.Fatal(err)
	}
	// 15 bytes per route: at most (4096-19-4-21-attrs)/15 per message.
	if len(msgs) != 8 {
		t.Errorf("%d messages for 2000 routes, want 8", len(msgs))
	}
	var back []VPNRoute
	for _, m := range msgs {
		if len(m) > MaxMsgLen {
			t.Fatalf("message of %d bytes", len(m))
		}
		d, err := Decode(m, Options{AS4: true, MultiFamily: true})
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, d.(*Update).MPReach.VPN...)
	}
	if !reflect.DeepEqual(back, routes) {
		t.Error("VPN routes changed through packing")
	}
	wmsgs := AppendVPNWithdraws(nil, vpnPrefixes(routes))
	var wback []VPNPrefix
	for _, m := range wmsgs {
		d, err := Decode(m, Options{AS4: true, MultiFamily: true})
		if err != nil {
			t.Fatal(err)
		}
		wback = append(wback, d.(*Update).MPUnreach.VPN...)
	}
	if !reflect.DeepEqual(wback, vpnPrefixes(routes)) {
		t.Error("VPN withdrawals changed through packing")
	}
	ab4, _ := EncodeAttrs(&Attrs{Origin: OriginIGP, NextHop: netip.MustParseAddr("192.0.2.1")}, Options{AS4: true})
	imsgs, err := AppendIPv4Updates(nil, ab4, prefixes)
	if err != nil {
		t.Fatal(err)
	}
	// 4 bytes per /24: about 1000 per message.
	if len(imsgs) != 2 {
		t.Errorf("%d IPv4 messages, want 2", len(imsgs))
	}
	var pback []Prefix
	for _, m := range AppendIPv4Withdraws(imsgs[:0:0], prefixes) {
		d, err := Decode(m, Options{AS4: true})
		if err != nil {
			t.Fatal(err)
		}
		pback = append(pback, d.(*Update).Withdrawn...)
	}
	if !reflect.DeepEqual(pback, prefixes) {
		t.Error("withdrawn prefixes changed")
	}
}

func vpnPrefixes(r []VPNRoute) []VPNPrefix {
	out := make([]VPNPrefix, len(r))
	for i := range r {
		out[i] = r[i].VPNPrefix
	}
	return out
}

func TestStrings(t *testing.T) {
	rt, err := ParseRouteTarget("1.2.3.4:5")
	if err != nil || rt.String() != "1.2.3.4:5" || !rt.IsRouteTarget() {
		t.Errorf("rt %v %v", rt, err)
	}
	if _, err := ParseRD("bogus"); err == nil {
		t.Error("bogus RD accepted")
	}
	p := ASPath{{Type: ASSequence, ASNs: []uint32{1, 2}}, {Type: ASSet, ASNs: []uint32{3, 4}}}
	if p.String() != "1 2 {3 4}" || p.Len() != 3 || p.First() != 1 {
		t.Errorf("path %s len %d", p, p.Len())
	}
	if q := p.Prepend(9, 2); q.String() != "9 9 1 2 {3 4}" || p.String() != "1 2 {3 4}" {
		t.Errorf("prepend %s (orig %s)", q, p)
	}
	if s := (&Notification{Code: 6, Subcode: 7}).String(); !strings.Contains(s, "Connection Collision Resolution") {
		t.Error(s)
	}
}

func TestParseRDAndRT(t *testing.T) {
	tests := []struct {
		in     string
		rd, rt string // hex of the 8 bytes; "" means an error
	}{
		{"65000:1", "0000fde800000001", "0002fde800000001"},
		{"1:4294967295", "00000001ffffffff", "00020001ffffffff"},
		{"4200000000:9", "0002fa56ea000009", "0202fa56ea000009"},
		{"1.2:7", "0002000100020007", "0202000100020007"},
		{"10.0.0.1:3", "00010a0000010003", "01020a0000010003"},
		{"65000:4294967296", "", ""},
		{"10.0.0.1:65536", "", ""},
		{"4200000000:65536", "", ""},
		{"x:1", "", ""},
		{":1", "", ""},
		{"65000:", "", ""},
	}
	for _, tc := range tests {
		rd, err := ParseRD(tc.in)
		if tc.rd == "" {
			if err == nil {
				t.Errorf("RD %q accepted", tc.in)
			}
		} else if got := fmt.Sprintf("%016x", uint64(rd)); err != nil || got != tc.rd {
			t.Errorf("RD %q = %s, %v; want %s", tc.in, got, err, tc.rd)
		}
		rt, err := ParseRouteTarget(tc.in)
		if tc.rt == "" {
			if err == nil {
				t.Errorf("RT %q accepted", tc.in)
			}
		} else if got := fmt.Sprintf("%016x", uint64(rt)); err != nil || got != tc.rt {
			t.Errorf("RT %q = %s, %v; want %s", tc.in, got, err, tc.rt)
		}
	}
	if r, _ := ParseRD("1.2:7"); r.String() != "65538:7" {
		t.Errorf("asdot RD prints %s", r)
	}
}
