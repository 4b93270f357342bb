package diag

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	// 10.1.1.1 -> 10.1.1.2, TTL 64, echo reply id 0x1234 seq 7, data 00..07.
	vecEchoReply = "45000024abcd4000400179070a0101010a0101020000e1b4123400070001020304050607"
	// 10.0.0.1 -> 10.1.1.2, time exceeded quoting UDP 10.1.1.2:40000 -> 10.2.2.2:33435.
	vecTimeExceeded = "45c0003822220000400142e00a0000010a0101020b00d60f000000004500002811114000011151ae0a0101020a0202029c40829b00140000"
)

func TestMarshalEcho(t *testing.T) {
	tests := []struct {
		name    string
		typ     uint8
		id, seq uint16
		data    []byte
		wantHex string
	}{
		{"classic 32-byte request", ICMPEchoRequest, 1, 1, []byte("abcdefghijklmnopqrstuvwabcdefghi"),
			"08004d5a00010001" + hex.EncodeToString([]byte("abcdefghijklmnopqrstuvwabcdefghi"))},
		{"reply, odd data length", ICMPEchoReply, 0x1234, 7, []byte{0, 1, 2, 3, 4, 5, 6, 7},
			"0000e1b4123400070001020304050607"},
		{"empty data", ICMPEchoRequest, 0, 0, nil, "0800f7ff00000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MarshalEcho(tc.typ, tc.id, tc.seq, tc.data)
			if h := hex.EncodeToString(got); h != tc.wantHex {
				t.Fatalf("MarshalEcho = %s, want %s", h, tc.wantHex)
			}
			if Checksum(got) != 0 {
				t.Fatalf("checksum over the message is %#x, want 0", Checksum(got))
			}
		})
	}
}

func TestChecksumOddLength(t *testing.T) {
	// RFC 1071: an odd trailing byte is padded with a zero byte.
	if a, b := Checksum([]byte{1, 2, 3}), Checksum([]byte{1, 2, 3, 0}); a != b {
		t.Fatalf("odd %#x != padded %#x", a, b)
	}
}

func TestParseICMPv4(t *testing.T) {
	p, err := ParseICMPv4(unhex(t, vecEchoReply))
	if err != nil {
		t.Fatal(err)
	}
	want := ICMPPacket{Src: netip.MustParseAddr("10.1.1.1"), Dst: netip.MustParseAddr("10.1.1.2"), TTL: 64,
		Type: ICMPEchoReply, ID: 0x1234, Seq: 7, Body: []byte{0, 1, 2, 3, 4, 5, 6, 7}}
	if p.Src != want.Src || p.Dst != want.Dst || p.TTL != want.TTL || p.Type != want.Type || p.Code != 0 ||
		p.ID != want.ID || p.Seq != want.Seq || !bytes.Equal(p.Body, want.Body) {
		t.Fatalf("got %+v, want %+v", p, want)
	}

	te, err := ParseICMPv4(unhex(t, vecTimeExceeded))
	if err != nil {
		t.Fatal(err)
	}
	if te.Type != ICMPTimeExceeded || te.Src != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("time exceeded: %+v", te)
	}
	q, err := ParseQuotedUDP(te.Body)
	if err != nil {
		t.Fatal(err)
	}
	wantQ := QuotedUDP{Src: netip.MustParseAddr("10.1.1.2"), Dst: netip.MustParseAddr("10.2.2.2"), SrcPort: 40000, DstPort: 33435}
	if q != wantQ {
		t.Fatalf("quote %+v, want %+v", q, wantQ)
	}
}

func TestParseICMPv4Errors(t *testing.T) {
	good := unhex(t, vecEchoReply)
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrShortPacket},
		{"short header", good[:19], ErrShortPacket},
		{"IPv6", mut(func(b []byte) []byte { b[0] = 0x65; return b }), ErrNotIPv4},
		{"IHL 4", mut(func(b []byte) []byte { b[0] = 0x44; return b }), ErrNotIPv4},
		{"IHL beyond data", mut(func(b []byte) []byte { b[0] = 0x4f; return b[:40] }), ErrShortPacket},
		{"UDP", mut(func(b []byte) []byte { b[9] = 17; return b }), ErrNotICMP},
		{"fragment", mut(func(b []byte) []byte { b[7] = 1; return b }), ErrNotICMP},
		{"truncated ICMP", good[:24], ErrShortPacket},
		{"bad checksum", mut(func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }), ErrChecksum},
		{"total length below header", mut(func(b []byte) []byte { b[2], b[3] = 0, 10; return b }), ErrNotIPv4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseICMPv4(tc.pkt); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseICMPv4TotalLengthTrims(t *testing.T) {
	// Bytes after the IP total length (Ethernet padding) are not ICMP data.
	b := append(unhex(t, vecEchoReply), 0xee, 0xee)
	p, err := ParseICMPv4(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Body) != 8 {
		t.Fatalf("body %x, want 8 bytes", p.Body)
	}
}

func TestParseQuotedUDPErrors(t *testing.T) {
	te, err := ParseICMPv4(unhex(t, vecTimeExceeded))
	if err != nil {
		t.Fatal(err)
	}
	body := te.Body
	tests := []struct {
		name string
		b    []byte
	}{
		{"no ports", body[:22]},
		{"short header", body[:10]},
		{"ICMP quote", func() []byte { b := append([]byte(nil), body...); b[9] = 1; return b }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseQuotedUDP(tc.b); err == nil {
				t.Fatal("no error")
			}
		})
	}
	// The source and destination ports are enough (RFC 792 quotes 8 bytes,
	// some routers fewer of the checksum).
	if _, err := ParseQuotedUDP(body[:24]); err != nil {
		t.Fatalf("ports only: %v", err)
	}
}

func FuzzParseICMPv4(f *testing.F) {
	f.Add(unhex(f, vecEchoReply))
	f.Add(unhex(f, vecTimeExceeded))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseICMPv4(b)
		if err != nil {
			return
		}
		if !p.Src.Is4() || !p.Dst.Is4() {
			t.Fatalf("addresses %v %v", p.Src, p.Dst)
		}
		if len(p.Body) > len(b) {
			t.Fatal("body longer than packet")
		}
		// An echo rebuilt from the parsed fields has a valid checksum.
		if Checksum(MarshalEcho(p.Type, p.ID, p.Seq, p.Body)) != 0 {
			t.Fatal("rebuilt echo checksum")
		}
		ParseQuotedUDP(p.Body) // must not panic
	})
}

func FuzzParseQuotedUDP(f *testing.F) {
	te, _ := ParseICMPv4(unhex(f, vecTimeExceeded))
	f.Add(te.Body)
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseQuotedUDP(b)
		if err == nil && (!q.Src.Is4() || !q.Dst.Is4()) {
			t.Fatalf("addresses %v %v", q.Src, q.Dst)
		}
	})
}
