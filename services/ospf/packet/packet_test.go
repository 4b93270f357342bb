package packet

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func id(s string) ID {
	v, err := ParseID(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Packets captured from FRR 8.4 ospfd between two namespaces (10.0.12.1 is
// router 10.255.0.1, 10.0.12.2 is 10.255.0.2); the last ones on the link
// made point-to-point with simple authentication "secret1".
var frrVectors = []struct {
	name string
	hex  string
	want *Packet
}{
	{
		name: "hello broadcast",
		hex: `02 01 0030 0aff0001 00000000 e59d 0000 0000000000000000
		      fffffffc 000a 02 01 00000028 00000000 00000000 0aff0002`,
		want: &Packet{
			Header: Header{Type: TypeHello, RouterID: id("10.255.0.1"), Length: 48, Checksum: 0xe59d},
			Body: &Hello{NetworkMask: id("255.255.255.252"), HelloInterval: 10, Options: OptE, Priority: 1,
				DeadInterval: 40, Neighbors: []ID{id("10.255.0.2")}},
		},
	},
	{
		name: "database description",
		hex: `02 02 0048 0aff0001 00000000 024e 0000 0000000000000000
		      05dc 02 00 2b6f787f
		      0000 02 01 0aff0001 0aff0001 80000003 3ac6 0030
		      0028 02 05 ac100100 0aff0001 80000001 373f 0024`,
		want: &Packet{
			Header: Header{Type: TypeDBDesc, RouterID: id("10.255.0.1"), Length: 72, Checksum: 0x024e},
			Body: &DBDesc{MTU: 1500, Options: OptE, Seq: 0x2b6f787f, LSAs: []LSAHeader{
				{Age: 0, Options: OptE, Type: LSARouter, ID: id("10.255.0.1"), AdvRouter: id("10.255.0.1"), Seq: -0x7ffffffd, Checksum: 0x3ac6, Length: 48},
				{Age: 40, Options: OptE, Type: LSAExternal, ID: id("172.16.1.0"), AdvRouter: id("10.255.0.1"), Seq: -0x7fffffff, Checksum: 0x373f, Length: 36},
			}},
		},
	},
	{
		name: "link state request",
		hex: `02 03 0030 0aff0002 00000000 24b5 0000 0000000000000000
		      00000001 0aff0001 0aff0001
		      00000005 ac100100 0aff0001`,
		want: &Packet{
			Header: Header{Type: TypeLSRequest, RouterID: id("10.255.0.2"), Length: 48, Checksum: 0x24b5},
			Body: &LSRequest{Requests: []LSAKey{
				{Type: LSARouter, ID: id("10.255.0.1"), AdvRouter: id("10.255.0.1")},
				{Type: LSAExternal, ID: id("172.16.1.0"), AdvRouter: id("10.255.0.1")},
			}},
		},
	},
	{
		name: "update with router and external LSAs",
		hex: `02 04 0070 0aff0001 00000000 85cc 0000 0000000000000000
		      00000002
		      0001 02 01 0aff0001 0aff0001 80000003 3ac6 0030
		        02 00 0002
		        0aff0001 ffffffff 03 00 0000
		        0a000c00 fffffffc 03 00 000a
		      0029 02 05 ac100100 0aff0001 80000001 373f 0024
		        ffffff00 00000014 00000000 00000000`,
		want: &Packet{
			Header: Header{Type: TypeLSUpdate, RouterID: id("10.255.0.1"), Length: 112, Checksum: 0x85cc},
			Body: &LSUpdate{LSAs: []*LSA{
				{
					LSAHeader: LSAHeader{Age: 1, Options: OptE, Type: LSARouter, ID: id("10.255.0.1"), AdvRouter: id("10.255.0.1"), Seq: -0x7ffffffd, Checksum: 0x3ac6, Length: 48},
					Body: &RouterLSA{Flags: RouterE, Links: []RouterLink{
						{ID: id("10.255.0.1"), Data: id("255.255.255.255"), Type: LinkStub, Metric: 0},
						{ID: id("10.0.12.0"), Data: id("255.255.255.252"), Type: LinkStub, Metric: 10},
					}},
				},
				{
					LSAHeader: LSAHeader{Age: 41, Options: OptE, Type: LSAExternal, ID: id("172.16.1.0"), AdvRouter: id("10.255.0.1"), Seq: -0x7fffffff, Checksum: 0x373f, Length: 36},
					Body:      &ExternalLSA{Mask: id("255.255.255.0"), Metric: 20},
				},
			}},
		},
	},
	{
		name: "update with a network LSA",
		hex: `02 04 009c 0aff0002 00000000 db6f 0000 0000000000000000
		      00000003
		      0001 02 01 0aff0002 0aff0002 80000003 2ed1 0030
		        00 00 0002
		        0aff0002 ffffffff 03 00 0000
		        0a000c00 fffffffc 03 00 000a
		      0001 02 01 0aff0002 0aff0002 80000004 d30f 0030
		        00 00 0002
		        0aff0002 ffffffff 03 00 0000
		        0a000c02 0a000c02 02 00 000a
		      0001 02 02 0a000c02 0aff0002 80000001 c859 0020
		        fffffffc 0aff0001 0aff0002`,
	},
	{
		name: "acknowledgement",
		hex: `02 05 0040 0aff0001 00000000 c030 0000 0000000000000000
		      0001 02 01 0aff0002 0aff0002 80000003 2ed1 0030
		      0001 02 02 0a000c02 0aff0002 80000001 c859 0020`,
		want: &Packet{
			Header: Header{Type: TypeLSAck, RouterID: id("10.255.0.1"), Length: 64, Checksum: 0xc030},
			Body: &LSAck{LSAs: []LSAHeader{
				{Age: 1, Options: OptE, Type: LSARouter, ID: id("10.255.0.2"), AdvRouter: id("10.255.0.2"), Seq: -0x7ffffffd, Checksum: 0x2ed1, Length: 48},
				{Age: 1, Options: OptE, Type: LSANetwork, ID: id("10.0.12.2"), AdvRouter: id("10.255.0.2"), Seq: -0x7fffffff, Checksum: 0xc859, Length: 32},
			}},
		},
	},
	{
		name: "hello with simple password",
		hex: `02 01 0030 0aff0002 00000000 e59c 0001 7365637265743100
		      fffffffc 000a 02 01 00000028 00000000 00000000 0aff0001`,
		want: &Packet{
			Header: Header{Type: TypeHello, RouterID: id("10.255.0.2"), Length: 48, Checksum: 0xe59c,
				AuthType: AuthSimple, Auth: [8]byte{'s', 'e', 'c', 'r', 'e', 't', '1'}},
			Body: &Hello{NetworkMask: id("255.255.255.252"), HelloInterval: 10, Options: OptE, Priority: 1,
				DeadInterval: 40, Neighbors: []ID{id("10.255.0.1")}},
		},
	},
	{
		name: "update with a point-to-point router LSA",
		hex: `02 04 0058 0aff0001 00000000 e1b1 0001 7365637265743100
		      00000001
		      0001 02 01 0aff0001 0aff0001 8000000a 2d91 003c
		        02 00 0003
		        0aff0001 ffffffff 03 00 0000
		        0aff0002 0a000c01 01 00 000a
		        0a000c00 fffffffc 03 00 000a`,
	},
	{
		name: "update flushing a network LSA (MaxAge)",
		hex: `02 04 0078 0aff0002 00000000 57f6 0001 7365637265743100
		      00000002
		      0006 02 01 0aff0002 0aff0002 80000008 2996 003c
		        00 00 0003
		        0aff0002 ffffffff 03 00 0000
		        0aff0001 0a000c02 01 00 000a
		        0a000c00 fffffffc 03 00 000a
		      0e10 02 02 0a000c02 0aff0002 80000001 c859 0020
		        fffffffc 0aff0001 0aff0002`,
	},
}

func TestFRRVectors(t *testing.T) {
	for _, v := range frrVectors {
		t.Run(v.name, func(t *testing.T) {
			b := unhex(t, v.hex)
			p, err := Decode(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if v.want != nil {
				got := stripRaw(p)
				if !reflect.DeepEqual(got, v.want) {
					t.Errorf("decoded\n%+v\nwant\n%+v", describe(got), describe(v.want))
				}
			}
			if out := p.Marshal(); !bytes.Equal(out, b) {
				t.Errorf("re-encoded\n%x\nwant\n%x", out, b)
			}
			if u, ok := p.Body.(*LSUpdate); ok {
				for _, l := range u.LSAs {
					if !ValidLSAChecksum(l.Raw) {
						t.Errorf("%v: checksum %#04x not accepted, computed %#04x", l.Key(), l.Checksum, LSAChecksum(l.Raw))
					}
					// Building the LSA from its parts gives FRR's bytes.
					h := l.LSAHeader
					h.Checksum, h.Length = 0, 0
					n := NewLSA(h, l.Body)
					if !bytes.Equal(n.Raw, l.Raw) {
						t.Errorf("%v rebuilt\n%x\nwant\n%x", l.Key(), n.Raw, l.Raw)
					}
				}
			}
		})
	}
}

// stripRaw drops the encodings so decoded packets compare with literals.
func stripRaw(p *Packet) *Packet {
	if u, ok := p.Body.(*LSUpdate); ok {
		c := &LSUpdate{}
		for _, l := range u.LSAs {
			cp := *l
			cp.Raw = nil
			c.LSAs = append(c.LSAs, &cp)
		}
		q := *p
		q.Body = c
		return &q
	}
	return p
}

func describe(p *Packet) string {
	s := fmt.Sprintf("%+v %+v", p.Header, p.Body)
	if u, ok := p.Body.(*LSUpdate); ok {
		for _, l := range u.LSAs {
			s += fmt.Sprintf(" [%+v %+v]", l.LSAHeader, l.Body)
		}
	}
	return s
}

// A Hello written out field by field (RFC 2328 A.3.1, A.3.2) and checked by
// hand: the checksum is the one's complement of the 16-bit one's complement
// sum of the words 0201 002c c000 0201 0000 0000 (checksum 0, auth type 0,
// auth skipped) ffff ff00 000a 0201 0000 0028 c000 0201 0000 0000:
//
//	0x0201+0x002c+0xc000+0x0201+0xffff+0xff00+0x000a+0x0201+0x0028+0xc000+0x0201
//	= 0x38761 -> 0x8761 + 0x3 = 0x8764 -> checksum ^0x8764 = 0x789b.
func TestHelloByHand(t *testing.T) {
	p := &Packet{
		Header: Header{Type: TypeHello, RouterID: id("192.0.2.1")},
		Body: &Hello{NetworkMask: id("255.255.255.0"), HelloInterval: 10, Options: OptE, Priority: 1,
			DeadInterval: 40, DR: id("192.0.2.1")},
	}
	want := unhex(t, `02 01 002c c0000201 00000000 789b 0000 0000000000000000
	                  ffffff00 000a 02 01 00000028 c0000201 00000000`)
	if got := p.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("got\n%x\nwant\n%x", got, want)
	}
}

// The LSA checksum of a router LSA checked by hand (RFC 905 annex B): over
// the 34 bytes after the age, C0 and C1 are summed modulo 255, and
// X = ((L-15)*C0 - C1) mod 255, Y = 510 - C0 - X (mod 255) with L = 34,
// the checksum field being octets 15 and 16 of that range.
func TestLSAChecksumByHand(t *testing.T) {
	h := LSAHeader{Age: 1, Options: OptE, Type: LSARouter, ID: id("1.1.1.1"), AdvRouter: id("1.1.1.1"), Seq: InitialSequenceNumber}
	l := NewLSA(h, &RouterLSA{Links: []RouterLink{{ID: id("1.1.1.1"), Data: id("255.255.255.255"), Type: LinkStub}}})
	// Bytes after the age: 02 01 01010101 01010101 80000001 [0000] 0024
	// 00 00 0001 01010101 ffffffff 03 00 0000.
	var c0, c1 int
	for i, v := range l.Raw[2:] {
		if i == 14 || i == 15 {
			v = 0
		}
		c0 = (c0 + int(v)) % 255
		c1 = (c1 + c0) % 255
	}
	x := ((34-15)*c0 - c1) % 255
	if x <= 0 {
		x += 255
	}
	y := (510 - c0 - x) % 255
	if y <= 0 {
		y += 255
	}
	if want := uint16(x<<8 | y); l.Checksum != want {
		t.Fatalf("checksum %#04x, by hand %#04x", l.Checksum, want)
	}
	// A valid checksum makes both running sums over the whole range zero.
	c0, c1 = 0, 0
	for _, v := range l.Raw[2:] {
		c0 = (c0 + int(v)) % 255
		c1 = (c1 + c0) % 255
	}
	if c0 != 0 || c1 != 0 {
		t.Fatalf("sums over a checksummed LSA: %d %d", c0, c1)
	}
	if l.Length != 36 {
		t.Fatalf("length %d", l.Length)
	}
	// Changing the age keeps the checksum valid; changing a byte does not.
	b := l.WithAge(MaxAge)
	if !ValidLSAChecksum(b) {
		t.Fatal("age change broke the checksum")
	}
	b[25] ^= 1
	if ValidLSAChecksum(b) {
		t.Fatal("corrupted LSA accepted")
	}
}

func TestRoundTrip(t *testing.T) {
	lsas := []*LSA{
		NewLSA(LSAHeader{Options: OptE, Type: LSARouter, ID: 1, AdvRouter: 1, Seq: 5},
			&RouterLSA{Flags: RouterB | RouterE, Links: []RouterLink{
				{ID: 2, Data: 3, Type: LinkPointToPoint, Metric: 10, TOS: []TOSMetric{{TOS: 2, Metric: 7}}},
				{ID: 4, Data: 5, Type: LinkTransit, Metric: 1},
			}}),
		NewLSA(LSAHeader{Type: LSANetwork, ID: 9, AdvRouter: 1, Seq: 5}, &NetworkLSA{Mask: MaskID(24), Routers: []ID{1, 2, 3}}),
		NewLSA(LSAHeader{Type: LSASummary, ID: 9, AdvRouter: 1, Seq: 5}, &SummaryLSA{Mask: MaskID(16), Metric: 300}),
		NewLSA(LSAHeader{Type: LSAASBRSummary, ID: 9, AdvRouter: 1, Seq: 5}, &SummaryLSA{Metric: LSInfinity}),
		NewLSA(LSAHeader{Type: LSAExternal, ID: 9, AdvRouter: 1, Seq: 5}, &ExternalLSA{Mask: MaskID(8), Type2: true, Metric: 1, Forward: 7, Tag: 99,
			TOS: []ExternalTOS{{Type2: false, TOS: 4, Metric: 3, Forward: 1, Tag: 2}}}),
		NewLSA(LSAHeader{Type: 11, ID: 9, AdvRouter: 1, Seq: 5}, &UnknownLSA{Data: []byte{1, 2, 3, 4}}),
	}
	var hdrs []LSAHeader
	for _, l := range lsas {
		hdrs = append(hdrs, l.LSAHeader)
	}
	pkts := []*Packet{
		{Header: Header{Type: TypeHello, RouterID: 1, AreaID: 2}, Body: &Hello{NetworkMask: MaskID(24), HelloInterval: 10, DeadInterval: 40, Neighbors: []ID{4, 5}}},
		{Header: Header{Type: TypeDBDesc, RouterID: 1}, Body: &DBDesc{MTU: 1500, Flags: DDInit | DDMore | DDMasterSlave, Seq: 77, LSAs: hdrs}},
		{Header: Header{Type: TypeLSRequest, RouterID: 1}, Body: &LSRequest{Requests: []LSAKey{{Type: 1, ID: 2, AdvRouter: 3}}}},
		{Header: Header{Type: TypeLSUpdate, RouterID: 1, AuthType: AuthSimple, Auth: [8]byte{'p', 'w'}}, Body: &LSUpdate{LSAs: lsas}},
		{Header: Header{Type: TypeLSAck, RouterID: 1}, Body: &LSAck{LSAs: hdrs}},
	}
	for _, p := range pkts {
		b := p.Marshal()
		q, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", p.Type, err)
		}
		if !bytes.Equal(q.Marshal(), b) {
			t.Errorf("%s does not round-trip", p.Type)
		}
		if u, ok := q.Body.(*LSUpdate); ok {
			for i, l := range u.LSAs {
				if !reflect.DeepEqual(l.Body, lsas[i].Body) || l.LSAHeader != lsas[i].LSAHeader {
					t.Errorf("LSA %d: %+v, want %+v", i, l, lsas[i])
				}
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good := (&Packet{Header: Header{Type: TypeHello, RouterID: 1}, Body: &Hello{HelloInterval: 10}}).Marshal()
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	lsu := func(body string) []byte {
		b := unhex(t, "02 04 0000 00000001 00000000 0000 0000 0000000000000000"+body)
		b[2], b[3] = byte(len(b)>>8), byte(len(b))
		c := Checksum(b)
		b[12], b[13] = byte(c>>8), byte(c)
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"short header", good[:20], ErrMalformed},
		{"version 3", mod(func(b []byte) []byte { b[0] = 3; return b }), ErrVersion},
		{"length beyond data", mod(func(b []byte) []byte { b[3] += 4; return b }), ErrMalformed},
		{"length below header", mod(func(b []byte) []byte { b[2], b[3] = 0, 20; return b }), ErrMalformed},
		{"checksum", mod(func(b []byte) []byte { b[30] ^= 0x10; return b }), ErrChecksum},
		{"auth type 7", mod(func(b []byte) []byte { b[15] = 7; return b }), ErrAuthType},
		{"packet type 9", mod(func(b []byte) []byte { b[1] = 9; c := Checksum(b); b[12], b[13] = byte(c>>8), byte(c); return b }), ErrMalformed},
		{"LSU count beyond data", lsu("00000005"), ErrMalformed},
		{"LSU LSA length beyond data", lsu("00000001 0001 02 01 01010101 01010101 80000001 0000 0040 00000000"), ErrMalformed},
		{"LSU LSA length below header", lsu("00000001 0001 02 01 01010101 01010101 80000001 0000 0010"), ErrMalformed},
		{"router LSA link count too large", lsu("00000001 0001 02 01 01010101 01010101 80000001 0000 0018 0000 0005"), ErrMalformed},
		{"router LSA trailing bytes", lsu("00000001 0001 02 01 01010101 01010101 80000001 0000 001a 0000 0000 0000"), ErrMalformed},
		{"network LSA odd length", lsu("00000001 0001 02 02 01010101 01010101 80000001 0000 0016 0000"), ErrMalformed},
		{"external LSA short", lsu("00000001 0001 02 05 01010101 01010101 80000001 0000 0018 ffffff00"), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.b)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseIDAndMasks(t *testing.T) {
	for s, want := range map[string]ID{"0": 0, "1": 1, "0.0.0.1": 1, "4294967295": 0xffffffff, "10.0.0.0": 0x0a000000} {
		got, err := ParseID(s)
		if err != nil || got != want {
			t.Errorf("ParseID(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "x", "4294967296", "1.2.3", "-1", "::1"} {
		if _, err := ParseID(s); err == nil {
			t.Errorf("ParseID(%q) accepted", s)
		}
	}
	for bits := 0; bits <= 32; bits++ {
		if n, ok := MaskBits(MaskID(bits)); !ok || n != bits {
			t.Errorf("mask /%d -> %d %v", bits, n, ok)
		}
	}
	if _, ok := MaskBits(id("255.0.255.0")); ok {
		t.Error("non-contiguous mask accepted")
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range frrVectors {
		f.Add(unhex(f, v.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes (up to the length
		// the header gave) and decodes again.
		out := p.Marshal()
		if p.AuthType != AuthCrypto && !bytes.Equal(out, b[:p.Length]) {
			t.Fatalf("re-encoded\n%x\nfrom\n%x", out, b[:p.Length])
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
	})
}

func FuzzDecodeLSA(f *testing.F) {
	for _, v := range frrVectors {
		b := unhex(f, v.hex)
		if b[1] == byte(TypeLSUpdate) {
			f.Add(b[28:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, rest, err := DecodeLSA(b)
		if err != nil {
			return
		}
		if len(l.Raw)+len(rest) != len(b) || !bytes.Equal(l.Raw, b[:len(l.Raw)]) {
			t.Fatal("raw bytes do not match the input")
		}
		_ = ValidLSAChecksum(l.Raw)
	})
}
