package ospf

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"vpnos/services/ospf/core"
	"vpnos/services/ospf/packet"
)

// ipv4 wraps an OSPF packet in an IPv4 header as a raw socket returns it.
func ipv4(src, dst string, payload []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	h[1] = 0xc0
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	h[8] = 1
	h[9] = IPProtoOSPF
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return append(h, payload...)
}

func hello() []byte {
	p := &packet.Packet{Header: packet.Header{Type: packet.TypeHello, RouterID: 0x0a000002},
		Body: &packet.Hello{NetworkMask: packet.MaskID(30), HelloInterval: 10, DeadInterval: 40, Options: packet.OptE, Priority: 1}}
	return p.Marshal()
}

func TestParseIPv4(t *testing.T) {
	pl := hello()
	good := ipv4("10.0.12.2", "224.0.0.5", pl)
	p, ok := parseIPv4(good)
	if !ok || p.Src != a4("10.0.12.2") || p.Dst != a4("224.0.0.5") || !bytes.Equal(p.Data, pl) {
		t.Fatalf("parsed %+v %v", p, ok)
	}
	// With IP options (IHL 6) the payload starts 4 bytes later.
	opt := append(append([]byte{}, good[:20]...), 1, 1, 1, 0)
	opt = append(opt, pl...)
	opt[0] = 0x46
	binary.BigEndian.PutUint16(opt[2:], uint16(len(opt)))
	if p, ok := parseIPv4(opt); !ok || !bytes.Equal(p.Data, pl) {
		t.Fatalf("with options: %+v %v", p, ok)
	}
	// Trailing bytes beyond the IP total length are not payload.
	padded := append(append([]byte{}, good...), 0, 0, 0)
	if p, ok := parseIPv4(padded); !ok || !bytes.Equal(p.Data, pl) {
		t.Fatalf("padded: %d bytes", len(p.Data))
	}
	bad := map[string][]byte{
		"empty":         nil,
		"short":         good[:19],
		"IPv6":          append([]byte{0x60}, good[1:]...),
		"IHL 4":         append([]byte{0x44}, good[1:]...),
		"IHL too long":  append([]byte{0x4f}, good[1:40]...),
		"other proto":   func() []byte { b := bytes.Clone(good); b[9] = 6; return b }(),
		"short payload": ipv4("10.0.12.2", "224.0.0.5", pl[:10]),
	}
	for name, b := range bad {
		if _, ok := parseIPv4(b); ok {
			t.Errorf("%s accepted", name)
		}
	}
}

// FuzzRawReceive feeds datagrams as a raw socket returns them through the
// whole receive path: the IP parsing of net.go, then the core of a router
// with a neighbour on the interface. Nothing may panic.
func FuzzRawReceive(f *testing.F) {
	f.Add(ipv4("10.0.12.2", "224.0.0.5", hello()))
	f.Add(ipv4("10.0.12.2", "10.0.12.1", hello()))
	f.Add(ipv4("10.0.12.2", "224.0.0.6", hello()))
	f.Add([]byte{0x45, 0, 0, 20})
	now := time.Date(2024, 5, 6, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		c := core.New(core.Config{RouterID: 0x0a000001})
		c.Step(now, core.SetInterfaces{Interfaces: []core.IfaceConfig{{Name: "eth1", Prefix: p4("10.0.12.1/30"), Up: true, Type: core.Broadcast, Priority: 1}}})
		c.Step(now, core.Receive{Iface: "eth1", Src: a4("10.0.12.2"), Dst: a4("224.0.0.5"), Data: hello()})
		p, ok := parseIPv4(b)
		if !ok {
			return
		}
		if len(p.Data) > len(b) {
			t.Fatal("payload longer than the datagram")
		}
		c.Step(now.Add(time.Second), core.Receive{Iface: "eth1", Src: p.Src, Dst: p.Dst, Data: p.Data})
		c.Step(now.Add(50*time.Second), core.Tick{})
	})
}
