package packet

import (
	"bytes"
	"encoding/binary"
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

func TestEthernet(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Ethernet
		wantLen int
		wantErr error
	}{
		{"untagged", "ffffffffffff0200000000010806", Ethernet{Dst: Broadcast, Src: MAC{2, 0, 0, 0, 0, 1}, EtherType: EtherTypeARP}, 14, nil},
		{"tagged", "0200000000020200000000018100200a0800", Ethernet{Dst: MAC{2, 0, 0, 0, 0, 2}, Src: MAC{2, 0, 0, 0, 0, 1}, Tagged: true, TCI: 0x200a, EtherType: EtherTypeIPv4}, 18, nil},
		{"short", "ffffffffffff02000000000108", Ethernet{}, 0, ErrShort},
		{"short tag", "02000000000202000000000181000001", Ethernet{}, 0, ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.in)
			got, n, err := ParseEthernet(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got != tt.want || n != tt.wantLen {
				t.Fatalf("got %+v len %d, want %+v len %d", got, n, tt.want, tt.wantLen)
			}
			if enc := got.Append(nil); !bytes.Equal(enc, b) {
				t.Fatalf("encode = %x, want %x", enc, b)
			}
		})
	}
}

func TestARP(t *testing.T) {
	// Request: who has 10.0.0.2? tell 10.0.0.1 (02:00:00:00:00:01).
	vec := "0001080006040001020000000001" + "0a000001" + "000000000000" + "0a000002"
	a, err := ParseARP(unhex(t, vec))
	if err != nil {
		t.Fatal(err)
	}
	want := ARP{Op: ARPRequest, SenderHW: MAC{2, 0, 0, 0, 0, 1}, SenderIP: netip.MustParseAddr("10.0.0.1"), TargetIP: netip.MustParseAddr("10.0.0.2")}
	if a != want {
		t.Fatalf("got %+v want %+v", a, want)
	}
	if enc := a.Append(nil); hex.EncodeToString(enc) != vec {
		t.Fatalf("encode %x", enc)
	}
	f := ARPFrame(Broadcast, a.SenderHW, &a)
	if len(f) != 60 || hex.EncodeToString(f[:42]) != "ffffffffffff0200000000010806"+vec {
		t.Fatalf("frame %x", f)
	}
	for _, bad := range []string{vec[:54], "0006" + vec[4:], "0001" + "86dd" + vec[8:]} {
		if _, err := ParseARP(unhex(t, bad)); err == nil {
			t.Errorf("ParseARP(%s) accepted", bad)
		}
	}
}

// A well-known header: 192.168.0.1 -> 192.168.0.199, UDP, TTL 64, checksum 0xb861.
const ipVec = "450000730000400040 11b861c0a80001c0a800c7"

func ipHeader(t testing.TB) []byte {
	b := unhex(t, ipVec[:18]+ipVec[19:])
	return append(b, make([]byte, 0x73-20)...)
}

func TestIPv4Parse(t *testing.T) {
	b := ipHeader(t)
	h, err := ParseIPv4(b)
	if err != nil {
		t.Fatal(err)
	}
	want := IPv4{IHL: 20, TotalLen: 0x73, Flags: IPv4DontFragment, TTL: 64, Protocol: ProtoUDP, Checksum: 0xb861,
		Src: netip.MustParseAddr("192.168.0.1"), Dst: netip.MustParseAddr("192.168.0.199")}
	if h != want {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
	if !IPv4ChecksumOK(b) {
		t.Fatal("checksum not ok")
	}
	c := bytes.Clone(b)
	c[10], c[11] = 0, 0
	SetIPv4Checksum(c)
	if !bytes.Equal(c, b) {
		t.Fatalf("SetIPv4Checksum: %x", c[10:12])
	}
	h.Checksum = 0
	if enc := h.Append(nil); !bytes.Equal(enc, b[:20]) {
		t.Fatalf("Append = %x", enc)
	}
	bad := []struct {
		name string
		mod  func([]byte) []byte
		want error
	}{
		{"short", func(b []byte) []byte { return b[:19] }, ErrShort},
		{"version", func(b []byte) []byte { b[0] = 0x65; return b }, ErrMalformed},
		{"ihl", func(b []byte) []byte { b[0] = 0x44; return b }, ErrMalformed},
		{"options beyond", func(b []byte) []byte { b[0] = 0x4f; return b[:40] }, ErrShort},
		{"total < ihl", func(b []byte) []byte { b[2], b[3] = 0, 10; return b }, ErrMalformed},
		{"total > len", func(b []byte) []byte { return b[:100] }, ErrShort},
	}
	for _, tt := range bad {
		if _, err := ParseIPv4(tt.mod(bytes.Clone(b))); !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestTTLIncrementalChecksum(t *testing.T) {
	b := ipHeader(t)
	for ttl := 2; ttl < 256; ttl++ {
		for _, tos := range []byte{0, 0xff, 0x10} {
			h := bytes.Clone(b[:20])
			h[8], h[1] = byte(ttl), tos
			SetIPv4Checksum(h)
			if got := DecIPv4TTL(h); got != byte(ttl-1) {
				t.Fatalf("ttl %d", got)
			}
			want := bytes.Clone(h)
			SetIPv4Checksum(want)
			if !IPv4ChecksumOK(h) || !bytes.Equal(h[10:12], want[10:12]) {
				t.Fatalf("ttl %d: incremental %x full %x", ttl, h[10:12], want[10:12])
			}
		}
	}
	// RFC 1624 section 3 corner: a header whose checksum is 0x0000 must not become 0xffff.
	h := bytes.Clone(b[:20])
	for id := 0; id < 65536; id++ {
		binary.BigEndian.PutUint16(h[4:6], uint16(id))
		SetIPv4Checksum(h)
		if h[10] == 0 && h[11] == 0 {
			break
		}
	}
	DecIPv4TTL(h)
	if !IPv4ChecksumOK(h) {
		t.Fatal("checksum after decrement from 0x0000 is wrong")
	}
}

func TestMPLS(t *testing.T) {
	tests := []struct {
		in   string
		want LabelEntry
	}{
		{"000101ff", LabelEntry{Label: 16, S: true, TTL: 255}},
		{"fffffe01", LabelEntry{Label: MaxLabel, TC: 7, S: false, TTL: 1}},
		{"00000140", LabelEntry{Label: 0, S: true, TTL: 64}},
		{"00003b3f", LabelEntry{Label: 3, TC: 5, S: true, TTL: 63}},
	}
	for _, tt := range tests {
		got, err := ParseLabelEntry(unhex(t, tt.in))
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v %v want %+v", tt.in, got, err, tt.want)
		}
		b := make([]byte, 4)
		got.Put(b)
		if hex.EncodeToString(b) != tt.in {
			t.Errorf("Put = %x want %s", b, tt.in)
		}
	}
	st, n, err := ParseLabelStack(unhex(t, "0040003f00011140aa"))
	if err != nil || n != 8 || len(st) != 2 || st[0].Label != 1024 || st[1].Label != 17 || !st[1].S {
		t.Fatalf("stack %+v %d %v", st, n, err)
	}
	if _, _, err := ParseLabelStack(unhex(t, "0040003f0001104000")); !errors.Is(err, ErrShort) {
		t.Fatalf("stack without bottom: %v", err)
	}
}

func udpPacket(src, dst string, payload []byte) []byte {
	u := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:2], 1234)
	binary.BigEndian.PutUint16(u[2:4], 9)
	binary.BigEndian.PutUint16(u[4:6], uint16(8+len(payload)))
	u = append(u, payload...)
	ip := BuildIPv4(netip.MustParseAddr(src), netip.MustParseAddr(dst), ProtoUDP, 64, 7, u)
	setUDPChecksum(ip, ip[20:])
	return ip
}

func TestICMPError(t *testing.T) {
	orig := udpPacket("10.1.0.1", "10.2.0.1", bytes.Repeat([]byte{0xab}, 200))
	m := BuildICMPError(ICMPTimeExceeded, ICMPTTLExceeded, 0, orig, nil)
	if len(m) != 8+28 || !ICMPChecksumOK(m) || !bytes.Equal(m[8:], orig[:28]) || m[0] != 11 || m[1] != 0 {
		t.Fatalf("time exceeded %x", m)
	}
	m = BuildICMPError(ICMPDestUnreachable, ICMPFragNeeded, 1400, orig, nil)
	if p, _ := ParseICMP(m); p.Type != 3 || p.Code != 4 || binary.BigEndian.Uint16(p.Rest[2:]) != 1400 || !p.IsError() {
		t.Fatalf("frag needed %+v", p)
	}
	labels := []LabelEntry{{Label: 1024, TTL: 1}, {Label: 17, S: true, TTL: 5}}
	m = BuildICMPError(ICMPTimeExceeded, 0, 0, orig, labels)
	if !ICMPChecksumOK(m) || m[5] != 32 || !bytes.Equal(m[8:136], orig[:128]) {
		t.Fatalf("extended error %x", m)
	}
	got, err := ICMPExtensionLabels(m)
	if err != nil || len(got) != 2 || got[0] != labels[0] || got[1] != labels[1] {
		t.Fatalf("labels %+v %v", got, err)
	}
	// A short original is zero padded to 128 bytes.
	short := udpPacket("10.1.0.1", "10.2.0.1", nil)
	m = BuildICMPError(ICMPTimeExceeded, 0, 0, short, labels[:1])
	if len(m) != 8+128+4+8 || !bytes.Equal(m[8:36], short) || m[36] != 0 {
		t.Fatalf("padded %x", m)
	}
	e := BuildEcho(ICMPEchoRequest, 0x1234, 7, []byte("hi"))
	if hex.EncodeToString(e[:2]) != "0800" || hex.EncodeToString(e[4:]) != "123400076869" || !ICMPChecksumOK(e) {
		t.Fatalf("echo %x", e)
	}
	p, _ := ParseICMP(e)
	if id, seq := p.Echo(); id != 0x1234 || seq != 7 || p.IsError() {
		t.Fatal("echo fields")
	}
}

func frameOf(ip []byte) []byte {
	e := Ethernet{Dst: MAC{2, 0, 0, 0, 0, 2}, Src: MAC{2, 0, 0, 0, 0, 1}, EtherType: EtherTypeIPv4}
	return append(e.Append(nil), ip...)
}

func l4ChecksumOK(t *testing.T, ip []byte) {
	t.Helper()
	h, err := ParseIPv4(ip)
	if err != nil {
		t.Fatal(err)
	}
	l4 := ip[h.IHL:h.TotalLen]
	s := PseudoHeaderSum(ip[12:16], ip[16:20], h.Protocol, len(l4))
	if Fold(Sum(l4, s)) != 0xffff {
		t.Fatalf("bad l4 checksum in %x", ip)
	}
}

func TestCompleteChecksum(t *testing.T) {
	ip := udpPacket("10.1.0.1", "10.2.0.1", []byte("hello, partial checksum"))
	f := frameOf(ip)
	// Replace the UDP checksum with the pseudo-header sum, as the kernel leaves it.
	u := f[14+20:]
	binary.BigEndian.PutUint16(u[6:8], Fold(PseudoHeaderSum(ip[12:16], ip[16:20], ProtoUDP, len(u))))
	h := VnetHdr{Flags: VnetFlagNeedsCsum, CsumStart: 34, CsumOffset: 6}
	var out [][]byte
	if err := Segment(f, h, func(b []byte) { out = append(out, bytes.Clone(b)) }); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || !bytes.Equal(out[0][14:], ip) {
		t.Fatalf("completed %x\nwant %x", out, ip)
	}
	if err := CompleteChecksum(f[:40], VnetHdr{Flags: VnetFlagNeedsCsum, CsumStart: 39, CsumOffset: 6}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad offsets: %v", err)
	}
}

func TestVnetHdr(t *testing.T) {
	h := VnetHdr{Flags: 1, GSOType: VnetGSOTCPv4, HdrLen: 66, GSOSize: 1448, CsumStart: 34, CsumOffset: 16}
	b := make([]byte, VnetHdrLen)
	h.Put(b)
	want := []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.NativeEndian.PutUint16(want[2:], 66)
	binary.NativeEndian.PutUint16(want[4:], 1448)
	binary.NativeEndian.PutUint16(want[6:], 34)
	binary.NativeEndian.PutUint16(want[8:], 16)
	if !bytes.Equal(b, want) {
		t.Fatalf("%x", b)
	}
	got, err := ParseVnetHdr(b)
	if err != nil || got != h || got.Plain() {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := ParseVnetHdr(b[:9]); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
}

func tcpSuper(payload int) []byte {
	t := make([]byte, 20)
	binary.BigEndian.PutUint16(t[0:2], 40000)
	binary.BigEndian.PutUint16(t[2:4], 179)
	binary.BigEndian.PutUint32(t[4:8], 1000)
	t[12] = 5 << 4
	t[13] = 0x18 | 0x80 | 0x01 // PSH ACK CWR FIN
	p := make([]byte, payload)
	for i := range p {
		p[i] = byte(i)
	}
	ip := BuildIPv4(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), ProtoTCP, 64, 100, append(t, p...))
	return frameOf(ip)
}

func TestSegmentTCP(t *testing.T) {
	f := tcpSuper(2500)
	var segs [][]byte
	err := Segment(f, VnetHdr{Flags: VnetFlagNeedsCsum, GSOType: VnetGSOTCPv4 | VnetGSOECN, GSOSize: 1000, CsumStart: 34, CsumOffset: 16}, func(b []byte) { segs = append(segs, bytes.Clone(b)) })
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 3 {
		t.Fatalf("%d segments", len(segs))
	}
	var data []byte
	for i, s := range segs {
		ip := s[14:]
		if !IPv4ChecksumOK(ip) {
			t.Fatalf("segment %d ip checksum", i)
		}
		l4ChecksumOK(t, ip)
		h, _ := ParseIPv4(ip)
		if h.ID != uint16(100+i) || int(h.TotalLen) != len(ip) {
			t.Fatalf("segment %d: %+v", i, h)
		}
		tcp := ip[20:]
		if seq := binary.BigEndian.Uint32(tcp[4:]); seq != uint32(1000+1000*i) {
			t.Fatalf("segment %d seq %d", i, seq)
		}
		wantFlags := byte(0x10)
		if i == 0 {
			wantFlags |= 0x80
		}
		if i == 2 {
			wantFlags |= 0x09
		}
		if tcp[13] != wantFlags {
			t.Fatalf("segment %d flags %#x want %#x", i, tcp[13], wantFlags)
		}
		data = append(data, tcp[20:]...)
	}
	if !bytes.Equal(data, f[54:]) {
		t.Fatal("payload differs")
	}
	if err := Segment(f, VnetHdr{GSOType: VnetGSOTCPv4}, func([]byte) {}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("size 0: %v", err)
	}
	if err := Segment(f, VnetHdr{GSOType: VnetGSOUDPL4, GSOSize: 100}, func([]byte) {}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("udp gso on tcp: %v", err)
	}
}

func TestSegmentUDP(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 100)
	f := frameOf(udpPacket("10.0.0.1", "10.0.0.2", payload))
	var segs [][]byte
	if err := Segment(f, VnetHdr{Flags: 1, GSOType: VnetGSOUDPL4, GSOSize: 300, CsumStart: 34, CsumOffset: 6}, func(b []byte) { segs = append(segs, bytes.Clone(b)) }); err != nil {
		t.Fatal(err)
	}
	if len(segs) != 4 {
		t.Fatalf("%d segments", len(segs))
	}
	var data []byte
	for _, s := range segs {
		l4ChecksumOK(t, s[14:])
		if int(binary.BigEndian.Uint16(s[14+24:])) != len(s)-34 {
			t.Fatal("udp length")
		}
		data = append(data, s[42:]...)
	}
	if !bytes.Equal(data, payload) {
		t.Fatal("payload differs")
	}
}

func TestSegmentUFO(t *testing.T) {
	payload := bytes.Repeat([]byte("abcdefgh"), 250)
	ip := udpPacket("10.0.0.1", "10.0.0.2", payload)
	ip[6] = 0 // no DF
	SetIPv4Checksum(ip)
	f := frameOf(ip)
	var frags [][]byte
	if err := Segment(f, VnetHdr{Flags: 1, GSOType: VnetGSOUDP, GSOSize: 1000, CsumStart: 34, CsumOffset: 6}, func(b []byte) { frags = append(frags, bytes.Clone(b)) }); err != nil {
		t.Fatal(err)
	}
	if len(frags) != 3 {
		t.Fatalf("%d fragments", len(frags))
	}
	// Reassemble and check the UDP checksum over the whole datagram.
	var l4 []byte
	for i, fr := range frags {
		h, err := ParseIPv4(fr[14:])
		if err != nil || !IPv4ChecksumOK(fr[14:]) {
			t.Fatal(err)
		}
		if int(h.FragOff)*8 != len(l4) || (h.Flags&IPv4MoreFragments != 0) != (i < 2) {
			t.Fatalf("fragment %d: %+v", i, h)
		}
		l4 = append(l4, fr[34:]...)
	}
	s := PseudoHeaderSum(ip[12:16], ip[16:20], ProtoUDP, len(l4))
	if Fold(Sum(l4, s)) != 0xffff || !bytes.Equal(l4[8:], payload) {
		t.Fatal("reassembled datagram is wrong")
	}
}

func FuzzParsers(f *testing.F) {
	f.Add(unhex(f, "ffffffffffff0200000000010806"+"0001080006040001020000000001"+"0a000001"+"000000000000"+"0a000002"))
	f.Add(frameOf(udpPacket("10.0.0.1", "10.0.0.2", []byte("x"))))
	f.Add(unhex(f, "0040003f00011140"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, n, err := ParseEthernet(b); err == nil && n != e.Len() {
			t.Fatal("length mismatch")
		}
		_, _ = ParseARP(b)
		if h, err := ParseIPv4(b); err == nil {
			if h.IHL > len(b) || int(h.TotalLen) > len(b) {
				t.Fatal("accepted out of bounds header")
			}
			_ = IPv4ChecksumOK(b)
			_ = BuildICMPError(ICMPTimeExceeded, 0, 0, b, []LabelEntry{{Label: 16, S: true}})
			_ = FragmentIPv4(nil, b, 64, func([]byte) {})
		}
		_, _, _ = ParseLabelStack(b)
		if m, err := ParseICMP(b); err == nil {
			_ = m.IsError()
			_, _ = ICMPExtensionLabels(b)
		}
		_ = Quoted(b)
	})
}

func FuzzSegment(f *testing.F) {
	f.Add([]byte{1, 1, 0, 0, 0xe8, 3, 34, 0, 16, 0}, tcpSuper(3000))
	f.Add([]byte{1, 5, 0, 0, 100, 0, 34, 0, 6, 0}, frameOf(udpPacket("10.0.0.1", "10.0.0.2", make([]byte, 500))))
	f.Add([]byte{1, 3, 0, 0, 100, 0, 34, 0, 6, 0}, frameOf(udpPacket("10.0.0.1", "10.0.0.2", make([]byte, 500))))
	f.Fuzz(func(t *testing.T, hdr, frame []byte) {
		h, err := ParseVnetHdr(hdr)
		if err != nil {
			return
		}
		if h.GSOSize != 0 && h.GSOSize < 8 {
			h.GSOSize = 8 // keep the fuzzer from spending its time on tiny segments
		}
		_ = Segment(frame, h, func(b []byte) {
			if len(b) > len(frame)+64 {
				t.Fatalf("segment of %d bytes from a %d-byte frame", len(b), len(frame))
			}
		})
	})
}
