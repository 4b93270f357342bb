package mplsecho

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	t2026 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pe2   = netip.MustParsePrefix("10.255.0.3/32")
)

// The byte vectors follow RFC 8029's figures: the 32-byte header, the Target
// FEC Stack with an LDP IPv4 prefix sub-TLV (length 5, padded to 8), a
// Downstream Detailed Mapping with a label stack sub-TLV, a Pad TLV.
func TestVectors(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		hex  string
	}{
		{"request", Message{Flags: FlagValidateFEC, Type: TypeRequest, ReplyMode: ReplyIPv4, Handle: 0x01020304, Seq: 1,
			Sent: t2026, FECs: []netip.Prefix{pe2}}, `
			0001 0001  01 02 00 00  01020304  00000001
			ed003780 00000000  00000000 00000000
			0001 000c  0001 0005 0aff0003 20 000000`},
		{"reply with a downstream mapping", Message{Type: TypeReply, ReplyMode: ReplyIPv4, ReturnCode: CodeLabelSwitch, ReturnSubcode: 1,
			Handle: 7, Seq: 2, Sent: t2026, Received: t2026.Add(time.Second / 2),
			DDMaps: []DDMap{{MTU: 1500, Address: netip.MustParseAddr("198.51.100.6"), Interface: netip.MustParseAddr("198.51.100.5"), Labels: []uint32{3}}}}, `
			0001 0000  02 02 08 01  00000007  00000002
			ed003780 00000000  ed003780 80000000
			0014 0018  05dc 01 00  c6336406  c6336405  00 00 0008
			0002 0004  00003100`},
		{"pad", Message{Type: TypeRequest, ReplyMode: ReplyIPv4, Handle: 1, Seq: 3, Pad: 6}, `
			0001 0000  01 02 00 00  00000001  00000003
			00000000 00000000  00000000 00000000
			0003 0006  010000000000 0000`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got := tc.m.Marshal()
			if !bytes.Equal(got, want) {
				t.Fatalf("Marshal:\n got %x\nwant %x", got, want)
			}
			m, err := Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*m, tc.m) {
				t.Fatalf("Decode:\n got %+v\nwant %+v", *m, tc.m)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := (&Message{Type: TypeRequest, ReplyMode: ReplyIPv4, FECs: []netip.Prefix{pe2}}).Marshal()
	for name, b := range map[string][]byte{
		"short":            good[:31],
		"version 2":        append([]byte{0, 2}, good[2:]...),
		"TLV past the end": append(bytes.Clone(good[:32]), 0, 1, 0, 40, 1, 2),
		"TLV header cut":   append(bytes.Clone(good[:32]), 0, 1),
		"prefix length 33": func() []byte { b := bytes.Clone(good); b[44] = 33; return b }(),
		"FEC sub-TLV short": func() []byte {
			b := bytes.Clone(good[:32])
			return append(b, 0, 1, 0, 7, 0, 1, 0, 3, 10, 255, 0)
		}(),
		"DDMAP short": append(bytes.Clone(good[:32]), 0, 20, 0, 4, 5, 220, 1, 0),
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		} else if name == "version 2" && !errors.Is(err, ErrVersion) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// An unknown TLV is kept.
	b := append(bytes.Clone(good), 0x80, 0x01, 0, 2, 0xab, 0xcd, 0, 0)
	m, err := Decode(b)
	if err != nil || len(m.Unknown) != 1 || m.Unknown[0].Type != 0x8001 || !bytes.Equal(m.Unknown[0].Value, []byte{0xab, 0xcd}) {
		t.Fatalf("unknown TLV: %+v %v", m, err)
	}
}

func TestReply(t *testing.T) {
	now := t2026.Add(3 * time.Second)
	ds := []DDMap{{MTU: 1500, Address: netip.MustParseAddr("198.51.100.6"), Labels: []uint32{3}}}
	lookup := func(p netip.Prefix) FEC {
		switch p.String() {
		case "10.255.0.1/32":
			return FEC{Egress: true}
		case "10.255.0.3/32":
			return FEC{Downstream: ds}
		}
		return FEC{}
	}
	req := func(fec string, ddmap bool) *Message {
		m := &Message{Type: TypeRequest, ReplyMode: ReplyIPv4, Handle: 9, Seq: 4, Sent: t2026}
		if fec != "" {
			m.FECs = []netip.Prefix{netip.MustParsePrefix(fec)}
		}
		if ddmap {
			m.DDMaps = []DDMap{{MTU: 1500}}
		}
		return m
	}
	tests := []struct {
		name   string
		req    *Message
		code   uint8
		ddmaps int
	}{
		{"egress", req("10.255.0.1/32", false), CodeEgress, 0},
		{"transit, ping", req("10.255.0.3/32", false), CodeLabelSwitch, 0},
		{"transit, traceroute", req("10.255.0.3/32", true), CodeLabelSwitch, 1},
		{"no mapping", req("10.255.0.9/32", true), CodeNoMapping, 0},
		{"no FEC", req("", false), CodeMalformed, 0},
		{"unknown mandatory TLV", func() *Message {
			m := req("10.255.0.1/32", false)
			m.Unknown = []TLV{{Type: 77, Value: []byte{1}}}
			return m
		}(), CodeUnknownTLV, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, ok := Reply(tc.req, lookup, now)
			if !ok {
				t.Fatal("no reply")
			}
			if rep.Type != TypeReply || rep.Handle != 9 || rep.Seq != 4 || !rep.Sent.Equal(t2026) || !rep.Received.Equal(now) ||
				rep.ReturnCode != tc.code || len(rep.DDMaps) != tc.ddmaps {
				t.Fatalf("reply %+v", rep)
			}
			// The reply survives the wire.
			back, err := Decode(rep.Marshal())
			if err != nil || back.ReturnCode != tc.code {
				t.Fatalf("reply decoded %+v %v", back, err)
			}
		})
	}
	if _, ok := Reply(&Message{Type: TypeReply}, lookup, now); ok {
		t.Error("a reply answered")
	}
	if _, ok := Reply(&Message{Type: TypeRequest, ReplyMode: ReplyNone, FECs: []netip.Prefix{pe2}}, lookup, now); ok {
		t.Error("reply mode none answered")
	}
}

func TestRequestPacket(t *testing.T) {
	msg := (&Message{Type: TypeRequest, ReplyMode: ReplyIPv4, FECs: []netip.Prefix{pe2}}).Marshal()
	pkt := RequestPacket(netip.MustParseAddr("10.255.0.1"), 49152, 5, msg)
	if pkt[0] != 0x46 || pkt[8] != 1 || pkt[9] != 17 || !bytes.Equal(pkt[20:24], []byte{0x94, 4, 0, 0}) || !bytes.Equal(pkt[16:20], []byte{127, 0, 0, 1}) {
		t.Fatalf("header %x", pkt[:24])
	}
	src, port, got, err := ParseRequestPacket(pkt)
	if err != nil || src != netip.MustParseAddr("10.255.0.1") || port != 49152 || !bytes.Equal(got, msg) {
		t.Fatalf("parse: %v %v %d %x", err, src, port, got)
	}
	// The UDP checksum covers the pseudo-header: a flipped bit fails it.
	if checksum(pkt[24:], sum(append(append(bytes.Clone(pkt[12:20]), 0, 17), byte(len(pkt[24:])>>8), byte(len(pkt[24:]))), 0)) != 0 {
		t.Fatal("UDP checksum does not verify")
	}
	bad := bytes.Clone(pkt)
	bad[10] ^= 1
	if _, _, _, err := ParseRequestPacket(bad); err == nil {
		t.Fatal("bad IP checksum accepted")
	}
}

// FuzzDecode: any bytes decode or fail cleanly, and what decodes encodes
// into something that decodes to the same message.
func FuzzDecode(f *testing.F) {
	f.Add((&Message{Type: TypeRequest, ReplyMode: ReplyIPv4, FECs: []netip.Prefix{pe2}, DDMaps: []DDMap{{MTU: 1500}}, Pad: 9}).Marshal())
	f.Add((&Message{Type: TypeReply, ReturnCode: 8, DDMaps: []DDMap{{Labels: []uint32{48000, 3}}}}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(m.Marshal())
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if len(again.FECs) != len(m.FECs) || len(again.DDMaps) != len(m.DDMaps) || again.Handle != m.Handle || again.Seq != m.Seq {
			t.Fatalf("round trip changed the message: %+v -> %+v", m, again)
		}
		lookup := func(netip.Prefix) FEC { return FEC{Downstream: []DDMap{{MTU: 1}}} }
		if rep, ok := Reply(m, lookup, time.Time{}); ok {
			if _, err := Decode(rep.Marshal()); err != nil {
				t.Fatalf("reply does not decode: %v", err)
			}
		}
	})
}

// TestServe: the responder answers a request on its socket, from the
// address Source gives for the receiving interface, and ignores garbage.
func TestServe(t *testing.T) {
	conn, err := Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var gotIndex atomic.Int64
	r := &Responder{
		Lookup: func(p netip.Prefix) FEC { return FEC{Egress: p == pe2} },
		Source: func(ifindex int, egress bool) netip.Addr {
			gotIndex.Store(int64(ifindex))
			return netip.MustParseAddr("127.0.0.1")
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, conn) }()
	c, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("not an echo"))
	req := &Message{Type: TypeRequest, ReplyMode: ReplyIPv4, Handle: 42, Seq: 7, FECs: []netip.Prefix{pe2}}
	if _, err := c.Write(req.Marshal()); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Decode(buf[:n])
	if err != nil || rep.Type != TypeReply || rep.Handle != 42 || rep.Seq != 7 || rep.ReturnCode != CodeEgress {
		t.Fatalf("reply %+v %v", rep, err)
	}
	if lo, err := net.InterfaceByName("lo"); err == nil && gotIndex.Load() != int64(lo.Index) {
		t.Errorf("receiving interface %d, want lo (%d)", gotIndex.Load(), lo.Index)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
