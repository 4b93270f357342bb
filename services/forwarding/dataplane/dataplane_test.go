package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
)

func le(label uint32, ttl uint8, s bool) packet.LabelEntry {
	return packet.LabelEntry{Label: label, TTL: ttl, S: s}
}

// TestForwarding covers one frame in, one frame out, for every operation.
func TestForwarding(t *testing.T) {
	type want struct {
		port    string
		dst     packet.MAC
		et      uint16
		labels  []packet.LabelEntry
		ipTTL   uint8
		ipDst   string
		payload []byte // IPv4 payload expected unchanged (nil: skip)
	}
	pl := udp("10.1.0.2", "10.9.1.1", 64, 30)
	tests := []struct {
		name  string
		batch fibapi.Batch
		port  string
		frame []byte
		want  want
	}{
		{
			name:  "ipv4 attached",
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.2.0.2", 64, 30)),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeIPv4, ipTTL: 63, ipDst: "10.2.0.2", payload: udp("10.1.0.2", "10.2.0.2", 64, 30)[20:]},
		},
		{
			name: "ipv4 via gateway",
			batch: fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16"),
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2")}}}}},
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeIPv4, pl),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeIPv4, ipTTL: 63, ipDst: "10.9.1.1", payload: pl[20:]},
		},
		{
			name: "push two labels, ttl copied",
			batch: fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16"),
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{100, 200}}}}}},
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeIPv4, pl),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeMPLS, labels: []packet.LabelEntry{le(100, 63, false), le(200, 63, true)}, ipTTL: 63, ipDst: "10.9.1.1", payload: pl[20:]},
		},
		{
			name: "push from vpn instance",
			batch: fibapi.Batch{Routes: []fibapi.Route{{Instance: vpnA, Prefix: p("172.16.0.0/16"),
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{1000, 3, 40}}}}}},
			port:  "eth3",
			frame: ethFrame(mac3, ceMAC, packet.EtherTypeIPv4, udp("192.168.1.2", "172.16.0.5", 10, 0)),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeMPLS, labels: []packet.LabelEntry{le(1000, 9, false), le(40, 9, true)}, ipTTL: 9, ipDst: "172.16.0.5"},
		},
		{
			name: "swap",
			batch: fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{101}}}}}},
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(packet.LabelEntry{Label: 100, TC: 5, TTL: 50, S: true}), pl),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeMPLS, labels: []packet.LabelEntry{{Label: 101, TC: 5, TTL: 49, S: true}}, ipTTL: 64, ipDst: "10.9.1.1", payload: pl[20:]},
		},
		{
			name: "swap keeps inner label",
			batch: fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{101}}}}}},
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 50, false), le(77, 50, true)), pl),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeMPLS, labels: []packet.LabelEntry{le(101, 49, false), le(77, 50, true)}, ipTTL: 64},
		},
		{
			name: "swap and push",
			batch: fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{500, 501, 502}}}}}},
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 50, true)), pl),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeMPLS, labels: []packet.LabelEntry{le(500, 49, false), le(501, 49, false), le(502, 49, true)}, ipTTL: 64, payload: pl[20:]},
		},
		{
			name: "swap to explicit null",
			batch: fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{0}}}}}},
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 50, true)), pl),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeMPLS, labels: []packet.LabelEntry{le(0, 49, true)}, ipTTL: 64},
		},
		{
			name: "penultimate hop pop to ip, uniform ttl",
			batch: fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2")}}}}},
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 20, true)), pl),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeIPv4, ipTTL: 19, ipDst: "10.9.1.1", payload: pl[20:]},
		},
		{
			name: "implicit null out-label is pop",
			batch: fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{fibapi.LabelImplicitNull}}}}}},
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 200, true)), pl),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeIPv4, ipTTL: 64, ipDst: "10.9.1.1"},
		},
		{
			name: "penultimate hop pop exposes vpn label",
			batch: fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2")}}}}},
			port:  "eth1",
			frame: ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 20, false), le(40, 64, true)), pl),
			want:  want{port: "eth2", dst: hostB, et: packet.EtherTypeMPLS, labels: []packet.LabelEntry{le(40, 19, true)}, ipTTL: 64},
		},
		{
			name: "explicit null pops and looks up",
			port: "eth2",
			frame: ethFrame(mac2, hostB, packet.EtherTypeMPLS, labels(le(0, 30, true)),
				udp("10.2.0.2", "10.1.0.2", 64, 10)),
			want: want{port: "eth1", dst: hostA, et: packet.EtherTypeIPv4, ipTTL: 29, ipDst: "10.1.0.2"},
		},
		{
			name:  "pop and look up in vpn instance",
			batch: fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 300, Op: fibapi.PopLookup, Instance: vpnA}}},
			port:  "eth2",
			frame: ethFrame(mac2, hostB, packet.EtherTypeMPLS, labels(le(300, 60, true)), udp("172.16.0.5", "192.168.1.2", 61, 10)),
			want:  want{port: "eth3", dst: ceMAC, et: packet.EtherTypeIPv4, ipTTL: 59, ipDst: "192.168.1.2"},
		},
		{
			name:  "explicit null above vpn label",
			batch: fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 300, Op: fibapi.PopLookup, Instance: vpnA}}},
			port:  "eth2",
			frame: ethFrame(mac2, hostB, packet.EtherTypeMPLS, labels(le(0, 30, false), le(300, 60, true)), udp("172.16.0.5", "192.168.1.2", 61, 10)),
			want:  want{port: "eth3", dst: ceMAC, et: packet.EtherTypeIPv4, ipTTL: 29, ipDst: "192.168.1.2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.program(tt.batch)
			port, _, _ := f.d.PortByName(tt.port)
			out := f.in(port.ID, tt.frame)
			if len(out) != 1 || out[0].punt {
				t.Fatalf("got %d outputs %+v, want one transmit", len(out), out)
			}
			wp, _, _ := f.d.PortByName(tt.want.port)
			if out[0].port != wp.ID {
				t.Fatalf("sent on port %d, want %s", out[0].port, tt.want.port)
			}
			r := parseOut(t, out[0].frame)
			if r.eth.Dst != tt.want.dst || r.eth.Src != wp.MAC || r.eth.EtherType != tt.want.et {
				t.Fatalf("ethernet %+v", r.eth)
			}
			if len(r.labels) != len(tt.want.labels) {
				t.Fatalf("labels %+v, want %+v", r.labels, tt.want.labels)
			}
			for i := range r.labels {
				if r.labels[i] != tt.want.labels[i] {
					t.Fatalf("labels %+v, want %+v", r.labels, tt.want.labels)
				}
			}
			if r.ip.TTL != tt.want.ipTTL {
				t.Fatalf("ip ttl %d, want %d", r.ip.TTL, tt.want.ipTTL)
			}
			if tt.want.ipDst != "" && r.ip.Dst != a(tt.want.ipDst) {
				t.Fatalf("ip dst %v", r.ip.Dst)
			}
			if tt.want.payload != nil && !bytes.Equal(r.ipb[20:], tt.want.payload) {
				t.Fatalf("payload changed")
			}
			_, c, _ := f.d.PortByName(tt.want.port)
			if c.TxPackets != 1 || c.TxBytes != uint64(len(out[0].frame)) {
				t.Fatalf("tx counters %+v", c)
			}
		})
	}
}

// TestPunt: frames for the router go to the host stack of the right instance.
func TestPunt(t *testing.T) {
	arpReq := packet.ARP{Op: packet.ARPRequest, SenderHW: hostA, SenderIP: a("10.1.0.7"), TargetIP: a("10.1.0.1")}
	tests := []struct {
		name     string
		batch    fibapi.Batch
		port     string
		frame    []byte
		wantPort string // "" = dropped
		wantDst  packet.MAC
	}{
		{"to port address", fibapi.Batch{}, "eth1", ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.1.0.1", 64, 4)), "eth1", mac1},
		{"to other port's address", fibapi.Batch{}, "eth1", ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.2.0.1", 1, 4)), "eth1", mac1},
		{"local route (loopback)", fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("1.1.1.1/32"), Kind: fibapi.Local}}},
			"eth1", ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "1.1.1.1", 64, 4)), "eth1", mac1},
		{"arp broadcast", fibapi.Batch{}, "eth1", packet.ARPFrame(packet.Broadcast, hostA, &arpReq), "eth1", packet.Broadcast},
		{"multicast", fibapi.Batch{}, "eth2", ethFrame(packet.MAC{1, 0, 0x5e, 0, 0, 5}, hostB, packet.EtherTypeIPv4, udp("10.2.0.2", "224.0.0.5", 1, 4)), "eth2", packet.MAC{1, 0, 0x5e, 0, 0, 5}},
		{"802.1Q tagged", fibapi.Batch{}, "eth1", func() []byte {
			e := packet.Ethernet{Dst: mac1, Src: hostA, Tagged: true, TCI: 100, EtherType: packet.EtherTypeIPv4}
			return append(e.Append(nil), udp("10.1.0.2", "10.2.0.2", 64, 4)...)
		}(), "eth1", mac1},
		{"ipv6 to our mac", fibapi.Batch{}, "eth2", ethFrame(mac2, hostB, packet.EtherTypeIPv6, make([]byte, 40)), "eth2", mac2},
		{"unicast to another mac", fibapi.Batch{}, "eth1", ethFrame(hostB, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.1.0.1", 64, 4)), "", packet.MAC{}},
		{"vpn label to the pe's own vpn address", fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 300, Op: fibapi.PopLookup, Instance: vpnA}}},
			"eth2", ethFrame(mac2, hostB, packet.EtherTypeMPLS, labels(le(300, 5, true)), udp("172.16.0.5", "192.168.1.1", 64, 4)), "eth3", mac3},
		{"short frame", fibapi.Batch{}, "eth1", mac1[:], "", packet.MAC{}},
		{"bad ip checksum", fibapi.Batch{}, "eth1", func() []byte {
			f := ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.2.0.2", 64, 4))
			f[24]++
			return f
		}(), "", packet.MAC{}},
		{"unknown label", fibapi.Batch{}, "eth1", ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(999, 5, true)), udp("10.1.0.2", "10.2.0.2", 64, 4)), "", packet.MAC{}},
		{"router alert label", fibapi.Batch{}, "eth1", ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(1, 5, true)), udp("10.1.0.2", "10.2.0.2", 64, 4)), "", packet.MAC{}},
		{"martian source", fibapi.Batch{}, "eth1", ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("127.0.0.1", "10.2.0.2", 64, 4)), "", packet.MAC{}},
		{"drop route", fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.66.0.0/16"), Kind: fibapi.Drop}}},
			"eth1", ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.66.0.1", 64, 4)), "", packet.MAC{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.program(tt.batch)
			in, _, _ := f.d.PortByName(tt.port)
			out := f.in(in.ID, tt.frame)
			if tt.wantPort == "" {
				if len(out) != 0 {
					t.Fatalf("want drop, got %+v", out)
				}
				if _, c, _ := f.d.PortByName(tt.port); c.Drops != 1 {
					t.Fatalf("drop not counted: %+v", c)
				}
				return
			}
			wp, _, _ := f.d.PortByName(tt.wantPort)
			if len(out) != 1 || !out[0].punt || out[0].port != wp.ID {
				t.Fatalf("want punt to %s, got %+v", tt.wantPort, out)
			}
			if packet.MAC(out[0].frame[0:6]) != tt.wantDst {
				t.Fatalf("punted frame dst %x", out[0].frame[0:6])
			}
			if _, c, _ := f.d.PortByName(tt.wantPort); c.Punted != 1 {
				t.Fatalf("punt not counted: %+v", c)
			}
		})
	}
}

// icmpOut checks out is one IPv4 ICMP packet and returns it and its message.
func icmpOut(t *testing.T, e emitted) (parsed, packet.ICMP) {
	t.Helper()
	r := parseOut(t, e.frame)
	if r.ip.Protocol != packet.ProtoICMP {
		t.Fatalf("not ICMP: %+v", r.ip)
	}
	msg := r.ipb[r.ip.IHL:]
	if !packet.ICMPChecksumOK(msg) {
		t.Fatal("bad ICMP checksum")
	}
	m, err := packet.ParseICMP(msg)
	if err != nil {
		t.Fatal(err)
	}
	return r, m
}

func TestICMPErrors(t *testing.T) {
	orig := udp("10.1.0.2", "10.2.0.2", 1, 20)
	tests := []struct {
		name       string
		batch      fibapi.Batch
		frame      []byte
		typ, code  uint8
		mtu        uint16
		wantSource string
	}{
		{"ttl exceeded", fibapi.Batch{}, ethFrame(mac1, hostA, packet.EtherTypeIPv4, orig), packet.ICMPTimeExceeded, 0, 0, "10.1.0.1"},
		{"no route", fibapi.Batch{}, ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "8.8.8.8", 64, 20)), packet.ICMPDestUnreachable, packet.ICMPNetUnreachable, 0, "10.1.0.1"},
		{"unreachable route", fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("8.0.0.0/8"), Kind: fibapi.Unreachable}}},
			ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "8.8.8.8", 64, 20)), packet.ICMPDestUnreachable, packet.ICMPHostUnreachable, 0, "10.1.0.1"},
		{"fragmentation needed", fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16"),
			NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{16, 17}}}}}},
			ethFrame(mac1, hostA, packet.EtherTypeIPv4, func() []byte {
				b := udp("10.1.0.2", "10.9.0.1", 64, 1480-8)
				b[6] = 0x40
				packet.SetIPv4Checksum(b)
				return b
			}()), packet.ICMPDestUnreachable, packet.ICMPFragNeeded, 1492, "10.1.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.program(tt.batch)
			out := f.in(f.eth1, tt.frame)
			if len(out) != 1 || out[0].port != f.eth1 {
				t.Fatalf("want one ICMP back on eth1, got %+v", out)
			}
			r, m := icmpOut(t, out[0])
			if r.eth.Dst != hostA || r.ip.Src != a(tt.wantSource) || r.ip.Dst != a("10.1.0.2") {
				t.Fatalf("icmp addressed %v -> %v dst mac %v", r.ip.Src, r.ip.Dst, r.eth.Dst)
			}
			if m.Type != tt.typ || m.Code != tt.code || binary.BigEndian.Uint16(m.Rest[2:]) != tt.mtu {
				t.Fatalf("icmp %d/%d rest %x", m.Type, m.Code, m.Rest)
			}
			q := tt.frame[packet.EthernetLen:]
			if !bytes.Equal(m.Body, q[:28]) {
				t.Fatalf("quote %x\nwant %x", m.Body, q[:28])
			}
		})
	}
}

// TestICMPSourceSkipsSpecialLocals: the RIB programs 127.0.0.1/32 and subnet
// broadcasts as Local routes too; an error must come from a real address.
func TestICMPSourceSkipsSpecialLocals(t *testing.T) {
	f := newFixture(t)
	if err := f.d.SetPortAddrs("eth1", nil); err != nil { // unnumbered receiving port
		t.Fatal(err)
	}
	if err := f.d.SetPortAddrs("eth2", []netip.Prefix{p("10.2.0.1/24")}); err != nil {
		t.Fatal(err)
	}
	f.program(fibapi.Batch{DeleteRoutes: []fibapi.Route{{Instance: public, Prefix: p("10.1.0.1/32")}, {Instance: public, Prefix: p("10.2.0.1/32")}}, Routes: []fibapi.Route{
		{Instance: public, Prefix: p("127.0.0.1/32"), Kind: fibapi.Local},
		{Instance: public, Prefix: p("10.2.0.255/32"), Kind: fibapi.Local},
		{Instance: public, Prefix: p("255.255.255.255/32"), Kind: fibapi.Local},
		{Instance: public, Prefix: p("1.1.1.1/32"), Kind: fibapi.Local},
	}})
	out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.2.0.2", 1, 8)))
	if len(out) != 1 {
		t.Fatalf("%+v", out)
	}
	if r, _ := icmpOut(t, out[0]); r.ip.Src != a("1.1.1.1") {
		t.Fatalf("source %v, want the loopback 1.1.1.1", r.ip.Src)
	}
}

func TestNoErrorAboutErrors(t *testing.T) {
	f := newFixture(t)
	icmpErr := packet.BuildIPv4(a("10.1.0.2"), a("10.2.0.2"), packet.ProtoICMP, 1, 9,
		packet.BuildICMPError(packet.ICMPTimeExceeded, 0, 0, udp("10.2.0.2", "10.1.0.2", 1, 8), nil))
	if out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, icmpErr)); len(out) != 0 {
		t.Fatalf("error about an error: %+v", out)
	}
	// Rate limit: the burst passes, then errors stop until tokens refill.
	n := 0
	for i := 0; i < 200; i++ {
		n += len(f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.2.0.2", 1, 8))))
	}
	if n != 50 {
		t.Fatalf("%d errors in a burst, want 50", n)
	}
	f.now = f.now.Add(10 * time.Millisecond)
	if out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.2.0.2", 1, 8))); len(out) != 1 {
		t.Fatal("no error after refill")
	}
}

// TestLabelTTLExpired: at a transit LSR the time exceeded goes on along the
// LSP, from the receiving port's address, with the label stack in an RFC 4950
// extension.
func TestLabelTTLExpired(t *testing.T) {
	f := newFixture(t)
	f.program(fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
		NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{101}}}}}})
	orig := udp("172.16.0.5", "192.168.9.9", 7, 20)
	out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 1, false), le(300, 1, true)), orig))
	if len(out) != 1 || out[0].port != f.eth2 {
		t.Fatalf("want the error forwarded on eth2, got %+v", out)
	}
	r, m := icmpOut(t, out[0])
	if len(r.labels) != 2 || r.labels[0] != le(101, 254, false) || r.labels[1] != le(300, 255, true) {
		t.Fatalf("labels %+v", r.labels)
	}
	if r.ip.Src != a("10.1.0.1") || r.ip.Dst != a("172.16.0.5") || m.Type != packet.ICMPTimeExceeded {
		t.Fatalf("icmp %v -> %v type %d", r.ip.Src, r.ip.Dst, m.Type)
	}
	ext, err := packet.ICMPExtensionLabels(r.ipb[r.ip.IHL:])
	if err != nil || len(ext) != 2 || ext[0] != le(100, 1, false) || ext[1] != le(300, 1, true) {
		t.Fatalf("extension %+v %v", ext, err)
	}
	if !bytes.Equal(m.Body[:len(orig)], orig) {
		t.Fatal("original not quoted")
	}

	// At the egress, the vpn label's instance routes the error back.
	f.program(fibapi.Batch{
		Labels: []fibapi.LabelEntry{{InLabel: 300, Op: fibapi.PopLookup, Instance: vpnA}},
		Routes: []fibapi.Route{{Instance: vpnA, Prefix: p("172.16.0.0/16"), NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{1000, 400}}}}},
	})
	out = f.in(f.eth2, ethFrame(mac2, hostB, packet.EtherTypeMPLS, labels(le(300, 1, true)), udp("172.16.0.5", "192.168.1.9", 7, 20)))
	if len(out) != 1 || out[0].port != f.eth2 {
		t.Fatalf("want the error sent back on eth2, got %+v", out)
	}
	r, m = icmpOut(t, out[0])
	if r.ip.Src != a("192.168.1.1") || r.ip.Dst != a("172.16.0.5") || m.Type != packet.ICMPTimeExceeded || len(r.labels) != 2 || r.labels[0].Label != 1000 {
		t.Fatalf("egress error %v -> %v labels %+v", r.ip.Src, r.ip.Dst, r.labels)
	}
}

// TestLabelledTooBig: a labelled packet that no longer fits after the swap
// gets "fragmentation needed" along the LSP when its IP header has DF.
func TestLabelledTooBig(t *testing.T) {
	f := newFixture(t)
	f.program(fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 100, Op: fibapi.Swap,
		NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{101}}}}}})
	if err := f.d.SetPortMTU("eth2", 1400); err != nil {
		t.Fatal(err)
	}
	if err := f.d.SetPortMTU("eth2", 20); err == nil {
		t.Fatal("mtu 20 accepted")
	}
	big := udp("172.16.0.5", "192.168.9.9", 60, 1400)
	big[6] = 0x40
	packet.SetIPv4Checksum(big)
	out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 60, false), le(300, 60, true)), big))
	if len(out) != 1 || out[0].port != f.eth2 {
		t.Fatalf("%+v", out)
	}
	r, m := icmpOut(t, out[0])
	if len(r.labels) != 2 || r.labels[0] != le(101, 254, false) || r.labels[1] != le(300, 255, true) {
		t.Fatalf("labels %+v", r.labels)
	}
	if m.Type != packet.ICMPDestUnreachable || m.Code != packet.ICMPFragNeeded || binary.BigEndian.Uint16(m.Rest[2:]) != 1392 ||
		r.ip.Src != a("10.1.0.1") || r.ip.Dst != a("172.16.0.5") {
		t.Fatalf("icmp %+v %d/%d mtu %d", r.ip, m.Type, m.Code, binary.BigEndian.Uint16(m.Rest[2:]))
	}
	// Without DF: the inner packet is fragmented, every fragment carries
	// the swapped stack (RFC 3032 section 3).
	big[6] = 0
	packet.SetIPv4Checksum(big)
	checkFragments(t, f, f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 60, false), le(300, 60, true)), big)),
		big, 1400, []packet.LabelEntry{le(101, 59, false), le(300, 60, true)})
	// Penultimate hop pop of a DF packet too big for the IP link.
	f.program(fibapi.Batch{Labels: []fibapi.LabelEntry{{InLabel: 102, Op: fibapi.Swap,
		NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2")}}}}})
	big[6] = 0x40
	packet.SetIPv4Checksum(big)
	out = f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(102, 60, true)), big))
	if len(out) != 1 {
		t.Fatalf("%+v", out)
	}
	if r, m := icmpOut(t, out[0]); len(r.labels) != 0 || m.Code != packet.ICMPFragNeeded || binary.BigEndian.Uint16(m.Rest[2:]) != 1400 {
		t.Fatalf("php: %+v %+v", r, m)
	}
	// Penultimate hop pop without DF: plain IPv4 fragments.
	big[6] = 0
	packet.SetIPv4Checksum(big)
	checkFragments(t, f, f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(102, 60, true)), big)), big, 1400, nil)
	// Penultimate hop pop of the top label of two: the fragments keep the
	// bottom label.
	checkFragments(t, f, f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(102, 60, false), le(300, 60, true)), big)),
		big, 1400, []packet.LabelEntry{le(300, 59, true)})
	// A malformed inner packet too big is dropped, nothing sent.
	bad := append([]byte(nil), big...)
	bad[0] = 0x46 // header length beyond the options present: checksum fails
	if out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 60, false), le(300, 60, true)), bad)); len(out) != 0 {
		t.Fatalf("malformed: %+v", out)
	}
}

// checkFragments checks that out are fragments of the IPv4 packet orig on
// eth2, each within mtu (labels included) under the stack want, and that
// they put orig's payload back together.
func checkFragments(t *testing.T, f *fixture, out []emitted, orig []byte, mtu int, want []packet.LabelEntry) {
	t.Helper()
	if len(out) < 2 {
		t.Fatalf("want fragments, got %d frames", len(out))
	}
	h, err := packet.ParseIPv4(orig)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, int(h.TotalLen)-h.IHL)
	got := 0
	for i, o := range out {
		if o.port != f.eth2 {
			t.Fatalf("fragment %d on port %d", i, o.port)
		}
		r := parseOut(t, o.frame)
		if !slices.Equal(r.labels, want) {
			t.Fatalf("fragment %d labels %+v, want %+v", i, r.labels, want)
		}
		if l := len(o.frame) - packet.EthernetLen; l > mtu {
			t.Fatalf("fragment %d is %d bytes, mtu %d", i, l, mtu)
		}
		if r.ip.ID != h.ID || r.ip.Src != h.Src || r.ip.Dst != h.Dst || r.ip.Flags&0x2 != 0 {
			t.Fatalf("fragment %d header %+v", i, r.ip)
		}
		last := i == len(out)-1
		if (r.ip.Flags&0x1 != 0) == last {
			t.Fatalf("fragment %d more-fragments flag %x", i, r.ip.Flags)
		}
		off := int(r.ip.FragOff) * 8
		n := copy(payload[off:], r.ipb[r.ip.IHL:])
		got += n
	}
	if got != len(payload) || !bytes.Equal(payload, orig[h.IHL:h.TotalLen]) {
		t.Fatalf("fragments do not put the packet back together (%d of %d bytes)", got, len(payload))
	}
}

func TestARPResolution(t *testing.T) {
	f := newFixture(t)
	f.program(fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16"),
		NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.9")}}}}})
	pkt := func(i int) []byte {
		return ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.9.0.1", 64, i))
	}
	out := f.in(f.eth1, pkt(1))
	if len(out) != 1 || out[0].port != f.eth2 {
		t.Fatalf("want an ARP request on eth2, got %+v", out)
	}
	r := parseOut(t, out[0].frame)
	req, err := packet.ParseARP(out[0].frame[14:])
	if err != nil || r.eth.Dst != packet.Broadcast || r.eth.Src != mac2 || req.Op != packet.ARPRequest ||
		req.SenderHW != mac2 || req.SenderIP != a("10.2.0.1") || req.TargetIP != a("10.2.0.9") {
		t.Fatalf("request %+v %+v %v", r.eth, req, err)
	}
	// More packets queue (the oldest beyond QueueLen is dropped) without new requests.
	for i := 2; i <= 4; i++ {
		if out := f.in(f.eth1, pkt(i)); len(out) != 0 {
			t.Fatalf("packet %d: %+v", i, out)
		}
	}
	// The reply releases the queue and is also given to the host stack.
	gwMAC := packet.MAC{2, 9, 9, 9, 9, 9}
	rep := packet.ARP{Op: packet.ARPReply, SenderHW: gwMAC, SenderIP: a("10.2.0.9"), TargetHW: mac2, TargetIP: a("10.2.0.1")}
	out = f.in(f.eth2, packet.ARPFrame(mac2, gwMAC, &rep))
	if len(out) != 4 {
		t.Fatalf("want 3 released packets and a punt, got %d", len(out))
	}
	for i, e := range out[:3] {
		r := parseOut(t, e.frame)
		if e.punt || r.eth.Dst != gwMAC || r.ip.TotalLen != uint16(28+i+2) {
			t.Fatalf("released %d: %+v len %d", i, r.eth, r.ip.TotalLen)
		}
	}
	if !out[3].punt || out[3].port != f.eth2 {
		t.Fatal("reply not punted")
	}
	if m, ok := f.d.Neighbour("eth2", a("10.2.0.9")); !ok || m != gwMAC {
		t.Fatal("not learnt")
	}
	ns := f.d.Neighbours("eth2")
	if len(ns) != 2 || ns[0].Addr != a("10.2.0.2") || !ns[0].Static || ns[1].Addr != a("10.2.0.9") || ns[1].MAC != gwMAC ||
		ns[1].Static || !ns[1].Resolved || !ns[1].Updated.Equal(f.now) {
		t.Fatalf("neighbours %+v", ns)
	}
	// Now it forwards directly.
	if out := f.in(f.eth1, pkt(9)); len(out) != 1 || parseOut(t, out[0].frame).eth.Dst != gwMAC {
		t.Fatalf("after resolution: %+v", out)
	}
	// After NeighReachable the entry is refreshed with a unicast request while still used.
	f.now = f.now.Add(2 * time.Minute)
	out = f.in(f.eth1, pkt(9))
	if len(out) != 2 || parseOut(t, out[0].frame).eth.Dst != gwMAC || parseOut(t, out[1].frame).eth.EtherType != packet.EtherTypeIPv4 {
		t.Fatalf("refresh: %+v", out)
	}
}

func TestARPGiveUp(t *testing.T) {
	f := newFixture(t)
	out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.2.0.77", 64, 1)))
	if len(out) != 1 {
		t.Fatalf("%+v", out)
	}
	for i := 1; i <= 2; i++ {
		f.now = f.now.Add(time.Second)
		f.d.Tick(f.now, f.rec)
		if n := len(f.rec.take()); n != 1 {
			t.Fatalf("tick %d: %d frames, want a retry", i, n)
		}
	}
	f.now = f.now.Add(time.Second)
	f.d.Tick(f.now, f.rec)
	if _, ok := f.d.ports["eth2"].neigh[a("10.2.0.77")]; ok {
		t.Fatal("unresolved neighbour kept")
	}
	// The queued packet's sender hears host unreachable (sent on eth1).
	var icmps []emitted
	for _, e := range f.rec.out {
		if e.port == f.eth1 {
			icmps = append(icmps, e)
		}
	}
	if len(icmps) != 1 || len(f.rec.out) != 1 {
		t.Fatalf("want one ICMP back, got %+v", f.rec.out)
	}
	if r, m := icmpOut(t, icmps[0]); m.Type != packet.ICMPDestUnreachable || m.Code != packet.ICMPHostUnreachable || r.ip.Dst != a("10.1.0.2") {
		t.Fatalf("%+v %+v", r.ip, m)
	}
	if _, c, _ := f.d.PortByName("eth2"); c.Drops != 1 {
		t.Fatalf("queued packet not counted as dropped: %+v", c)
	}
}

func TestECMP(t *testing.T) {
	f := newFixture(t)
	gw2 := packet.MAC{2, 0xb, 0, 0, 0, 0xc}
	if err := f.d.SetNeighbour(t0, "eth2", a("10.2.0.3"), gw2, f.rec); err != nil {
		t.Fatal(err)
	}
	f.program(fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16"), NextHops: []fibapi.NextHop{
		{Port: "eth2", Gateway: a("10.2.0.2")}, {Port: "eth2", Gateway: a("10.2.0.3")}}}}})
	count := map[packet.MAC]int{}
	for i := 0; i < 256; i++ {
		ip := udp("10.1.0.2", "10.9.0.1", 64, 1)
		binary.BigEndian.PutUint16(ip[20:], uint16(i)) // source port
		var first packet.MAC
		for rep := 0; rep < 2; rep++ {
			out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, ip))
			m := packet.MAC(out[0].frame[0:6])
			if rep == 1 && m != first {
				t.Fatal("one flow took two paths")
			}
			first = m
		}
		count[first]++
	}
	if count[hostB] < 80 || count[gw2] < 80 {
		t.Fatalf("unbalanced: %v", count)
	}
}

func TestGSOForward(t *testing.T) {
	f := newFixture(t)
	tcp := make([]byte, 20+3000)
	tcp[12] = 5 << 4
	tcp[13] = 0x10
	ip := packet.BuildIPv4(a("10.1.0.2"), a("10.2.0.2"), packet.ProtoTCP, 64, 1, tcp)
	frame := ethFrame(mac1, hostA, packet.EtherTypeIPv4, ip)
	vh := packet.VnetHdr{Flags: packet.VnetFlagNeedsCsum, GSOType: packet.VnetGSOTCPv4, GSOSize: 1400, CsumStart: 34, CsumOffset: 16}
	vb := make([]byte, packet.VnetHdrLen)
	vh.Put(vb)
	buf := append(make([]byte, Headroom), frame...)
	f.d.Process(f.now, f.eth1, vb, buf, Headroom, f.rec)
	out := f.rec.take()
	if len(out) != 3 {
		t.Fatalf("%d segments", len(out))
	}
	for _, e := range out {
		r := parseOut(t, e.frame)
		if e.port != f.eth2 || r.ip.TTL != 63 || len(e.frame) > 14+1500 || e.vnet != nil {
			t.Fatalf("segment %+v", r.ip)
		}
		s := packet.PseudoHeaderSum(r.ipb[12:16], r.ipb[16:20], packet.ProtoTCP, len(r.ipb)-20)
		if packet.Fold(packet.Sum(r.ipb[20:], s)) != 0xffff {
			t.Fatal("tcp checksum")
		}
	}
	// A GSO packet for the router itself goes to the host stack whole, with its header.
	ip2 := packet.BuildIPv4(a("10.1.0.2"), a("10.1.0.1"), packet.ProtoTCP, 64, 1, tcp)
	buf = append(make([]byte, Headroom), ethFrame(mac1, hostA, packet.EtherTypeIPv4, ip2)...)
	f.d.Process(f.now, f.eth1, vb, buf, Headroom, f.rec)
	out = f.rec.take()
	if len(out) != 1 || !out[0].punt || !bytes.Equal(out[0].vnet, vb) || len(out[0].frame) != 14+len(ip2) {
		t.Fatalf("punt of gso: %+v", out)
	}
}

func TestFragmentation(t *testing.T) {
	f := newFixture(t)
	ip := udp("10.1.0.2", "10.2.0.2", 64, 2000)
	ip[6] = 0
	packet.SetIPv4Checksum(ip)
	out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, ip))
	if len(out) != 2 {
		t.Fatalf("%d fragments", len(out))
	}
	var data []byte
	for _, e := range out {
		r := parseOut(t, e.frame)
		if r.ip.TTL != 63 || len(e.frame) > 1514 || int(r.ip.FragOff)*8 != len(data) {
			t.Fatalf("fragment %+v", r.ip)
		}
		data = append(data, r.ipb[20:]...)
	}
	if !bytes.Equal(data, ip[20:]) {
		t.Fatal("fragments do not reassemble")
	}
}

func TestFromHost(t *testing.T) {
	f := newFixture(t)
	f.program(fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16"),
		NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{100}}}}}})
	host := func(frame []byte) []emitted {
		buf := append(make([]byte, Headroom), frame...)
		f.d.FromHost(f.now, f.eth1, nil, buf, Headroom, f.rec)
		return f.rec.take()
	}
	// Unlabelled destinations leave as the host stack built them.
	frame := ethFrame(hostA, mac1, packet.EtherTypeIPv4, udp("10.1.0.1", "10.1.0.2", 64, 3))
	out := host(frame)
	if len(out) != 1 || out[0].punt || out[0].port != f.eth1 || !bytes.Equal(out[0].frame, frame) {
		t.Fatalf("%+v", out)
	}
	arp := packet.ARP{Op: packet.ARPRequest, SenderHW: mac1, SenderIP: a("10.1.0.1"), TargetIP: a("10.1.0.2")}
	if out := host(packet.ARPFrame(packet.Broadcast, mac1, &arp)); len(out) != 1 || out[0].port != f.eth1 {
		t.Fatalf("arp: %+v", out)
	}
	// The router's own packet to a labelled route follows the LSP.
	out = host(ethFrame(hostA, mac1, packet.EtherTypeIPv4, udp("10.1.0.1", "10.9.0.1", 64, 3)))
	if len(out) != 1 || out[0].port != f.eth2 {
		t.Fatalf("labelled: %+v", out)
	}
	r := parseOut(t, out[0].frame)
	if r.eth.Dst != hostB || len(r.labels) != 1 || r.labels[0] != le(100, 64, true) || r.ip.TTL != 64 {
		t.Fatalf("labelled: %+v %+v ttl %d", r.eth, r.labels, r.ip.TTL)
	}
	if _, c, _ := f.d.PortByName("eth1"); c.FromHost != 3 || c.TxPackets != 2 {
		t.Fatalf("%+v", c)
	}
}

func TestFromInstance(t *testing.T) {
	f := newFixture(t)
	f.program(fibapi.Batch{Routes: []fibapi.Route{{Instance: vpnA, Prefix: p("172.16.0.0/16"),
		NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{1000, 40}}}}}})
	from := func(inst string, frame []byte) (bool, []emitted) {
		buf := append(make([]byte, Headroom), frame...)
		ok := f.d.FromInstance(f.now, inst, buf, Headroom, f.rec)
		return ok, f.rec.take()
	}
	// The PE's own packet in vpn A to a remote CE: labelled, TTL kept.
	ok, out := from(vpnA, ethFrame(packet.MAC{}, mac3, packet.EtherTypeIPv4, udp("192.168.1.1", "172.16.0.9", 64, 4)))
	if !ok || len(out) != 1 || out[0].port != f.eth2 {
		t.Fatalf("%v %+v", ok, out)
	}
	r := parseOut(t, out[0].frame)
	if r.eth.Dst != hostB || r.eth.Src != mac2 || len(r.labels) != 2 || r.labels[0] != le(1000, 64, false) || r.labels[1] != le(40, 64, true) || r.ip.TTL != 64 {
		t.Fatalf("%+v %+v ttl %d", r.eth, r.labels, r.ip.TTL)
	}
	// Plain IP in the public instance.
	ok, out = from(public, ethFrame(packet.MAC{}, mac1, packet.EtherTypeIPv4, udp("10.1.0.1", "10.2.0.2", 64, 4)))
	if !ok || len(out) != 1 || out[0].port != f.eth2 || parseOut(t, out[0].frame).ip.TTL != 64 {
		t.Fatalf("%v %+v", ok, out)
	}
	// Too big with labels and DF: the host stack hears "fragmentation
	// needed" from the next hop, with the MTU left after the labels.
	big := udp("192.168.1.1", "172.16.0.9", 64, 1500-28)
	big[6] = 0x40
	packet.SetIPv4Checksum(big)
	ok, out = from(vpnA, ethFrame(packet.MAC{}, mac3, packet.EtherTypeIPv4, big))
	if !ok || len(out) != 1 || !out[0].punt || out[0].port != f.eth3 {
		t.Fatalf("too big: %v %+v", ok, out)
	}
	if r, m := icmpOut(t, out[0]); r.ip.Src != a("10.2.0.2") || r.ip.Dst != a("192.168.1.1") || m.Type != packet.ICMPDestUnreachable ||
		m.Code != packet.ICMPFragNeeded || binary.BigEndian.Uint16(m.Rest[2:]) != 1492 || r.eth.Dst != mac3 {
		t.Fatalf("too big: %+v %+v", r.ip, m)
	}
	// To the router itself: back to the instance's host stack.
	ok, out = from(vpnA, ethFrame(packet.MAC{}, mac3, packet.EtherTypeIPv4, udp("192.168.1.1", "192.168.1.1", 64, 4)))
	if !ok || len(out) != 1 || !out[0].punt || out[0].port != f.eth3 {
		t.Fatalf("%v %+v", ok, out)
	}
	// No route: dropped silently (no ICMP to ourselves).
	if ok, out = from(vpnA, ethFrame(packet.MAC{}, mac3, packet.EtherTypeIPv4, udp("192.168.1.1", "8.8.8.8", 64, 4))); len(out) != 0 {
		t.Fatalf("%+v", out)
	}
	for _, bad := range [][]byte{
		ethFrame(packet.MAC{}, mac3, packet.EtherTypeIPv6, make([]byte, 40)),
		ethFrame(packet.MAC{}, mac3, packet.EtherTypeIPv4, []byte{0x45, 0}),
		{1, 2, 3},
	} {
		if ok, _ := from(vpnA, bad); ok {
			t.Fatalf("accepted %x", bad)
		}
	}
	if ok, _ := from("nosuch", ethFrame(packet.MAC{}, mac3, packet.EtherTypeIPv4, udp("192.168.1.1", "172.16.0.9", 64, 4))); ok {
		t.Fatal("unknown instance accepted")
	}
}

func TestProgramValidation(t *testing.T) {
	bad := []fibapi.Batch{
		{Routes: []fibapi.Route{{Instance: public, Prefix: p("::/0"), Kind: fibapi.Drop}}},
		{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.0.0.0/8")}}},
		{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.0.0.0/8"), NextHops: []fibapi.NextHop{{Port: ""}}}}},
		{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.0.0.0/8"), NextHops: []fibapi.NextHop{{Port: "eth1", Labels: []uint32{1 << 20}}}}}},
		{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.0.0.0/8"), NextHops: []fibapi.NextHop{{Port: "eth1", Gateway: a("::1")}}}}},
		{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.0.0.0/8"), Kind: 9}}},
		{Labels: []fibapi.LabelEntry{{InLabel: 3, Op: fibapi.PopLookup}}},
		{Labels: []fibapi.LabelEntry{{InLabel: 16, Op: fibapi.Swap}}},
		{Labels: []fibapi.LabelEntry{{InLabel: 16, Op: 7}}},
		{DeleteRoutes: []fibapi.Route{{}}},
	}
	for i, b := range bad {
		f := newFixture(t)
		good := fibapi.Route{Instance: public, Prefix: p("10.77.0.0/16"), Kind: fibapi.Drop}
		b.Routes = append([]fibapi.Route{good}, b.Routes...)
		if err := f.d.Program(b); err == nil {
			t.Errorf("batch %d accepted", i)
		}
		if _, ok := f.d.instance(public).table.Get(good.Prefix); ok {
			t.Errorf("batch %d partially applied", i)
		}
	}
	// Replace and delete.
	f := newFixture(t)
	f.program(fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16"), Kind: fibapi.Drop}}})
	f.program(fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16"), NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2")}}}}})
	if out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.9.0.1", 64, 1))); len(out) != 1 {
		t.Fatal("replaced route not used")
	}
	f.program(fibapi.Batch{DeleteRoutes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16")}}, DeleteLabels: []uint32{55}})
	out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.9.0.1", 64, 1)))
	if len(out) != 1 {
		t.Fatal("no unreachable after delete")
	}
	if _, m := icmpOut(t, out[0]); m.Type != packet.ICMPDestUnreachable {
		t.Fatal("not unreachable")
	}
}

// Apply in steps ends where Program in one go does, and keeps the batch's
// order on the way: deletions are all applied before any addition.
func TestApplyInSteps(t *testing.T) {
	var b fibapi.Batch
	for i := 0; i < 50; i++ {
		b.Routes = append(b.Routes, fibapi.Route{Instance: public, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 50, byte(i), 0}), 24), Kind: fibapi.Drop})
	}
	b.Labels = []fibapi.LabelEntry{{InLabel: 77, Op: fibapi.PopLookup, Instance: public}}
	one, stepped := newFixture(t), newFixture(t)
	for _, f := range []*fixture{one, stepped} {
		f.program(fibapi.Batch{Routes: []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16"), Kind: fibapi.Drop}, {Instance: public, Prefix: p("10.50.3.0/24"), Kind: fibapi.Drop}}})
	}
	b.DeleteRoutes = []fibapi.Route{{Instance: public, Prefix: p("10.9.0.0/16")}, {Instance: public, Prefix: p("10.50.3.0/24")}}
	if err := one.d.Program(b); err != nil {
		t.Fatal(err)
	}
	pr, err := Prepare(b)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Len() != 53 {
		t.Fatalf("len %d", pr.Len())
	}
	steps := 0
	for done := false; !done; steps++ {
		if done, err = stepped.d.Apply(pr, 7); err != nil {
			t.Fatal(err)
		}
		if steps == 0 {
			// The first step did both deletions, then 5 additions.
			in := stepped.d.instance(public)
			if _, ok := in.table.Get(p("10.9.0.0/16")); ok {
				t.Fatal("deletion not applied first")
			}
			if _, ok := in.table.Get(p("10.50.4.0/24")); !ok {
				t.Fatal("first additions missing")
			}
			if _, ok := in.table.Get(p("10.50.5.0/24")); ok {
				t.Fatal("more than a step applied")
			}
		}
	}
	if steps != 8 {
		t.Fatalf("%d steps for 53 operations of 7", steps)
	}
	a1, a2 := one.d.instance(public), stepped.d.instance(public)
	for i := 0; i < 60; i++ {
		pf := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 50, byte(i), 0}), 24)
		_, ok1 := a1.table.Get(pf)
		_, ok2 := a2.table.Get(pf)
		if ok1 != ok2 || ok1 != (i < 50) {
			t.Fatalf("%v: one go %v, in steps %v", pf, ok1, ok2)
		}
	}
	if one.d.ilm[77] == nil || stepped.d.ilm[77] == nil {
		t.Fatal("label not applied")
	}
	if done, err := stepped.d.Apply(pr, 7); !done || err != nil {
		t.Fatalf("applying a finished batch again: %v %v", done, err)
	}
}

func TestMovePort(t *testing.T) {
	f := newFixture(t)
	if err := f.d.SetPortInstance("eth1", vpnA); err != nil {
		t.Fatal(err)
	}
	port, _, _ := f.d.PortByName("eth1")
	if port.Instance != vpnA || len(port.Addrs) != 0 {
		t.Fatalf("%+v", port)
	}
	// 10.2.0.2 is not routed in A: unreachable, from an address of A.
	out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("192.168.1.2", "10.2.0.2", 64, 1)))
	if len(out) != 1 || out[0].port != f.eth3 {
		t.Fatalf("%+v", out)
	}
	if r, _ := icmpOut(t, out[0]); r.ip.Src != a("192.168.1.1") {
		t.Fatalf("source %v", r.ip.Src)
	}
	if err := f.d.RemovePort("eth2"); err != nil {
		t.Fatal(err)
	}
	if err := f.d.RemovePort("eth2"); err == nil {
		t.Fatal("removed twice")
	}
	if _, err := f.d.AddPort("eth1", mac1, 0, public); err == nil {
		t.Fatal("duplicate port")
	}
	if _, err := f.d.AddPort("eth8", mac1, 0, ""); err == nil {
		t.Fatal("a port in no instance")
	}
	id, err := f.d.AddPort("eth9", mac2, 0, public)
	if err != nil || id != f.eth2 {
		t.Fatalf("id %d not reused: %v", id, err)
	}
}

func FuzzProcess(f *testing.F) {
	f.Add(ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.2.0.2", 64, 30)), []byte(nil))
	f.Add(ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 1, false), le(300, 1, true)), udp("172.16.0.5", "192.168.9.9", 7, 20)), []byte(nil))
	f.Add(ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(0, 5, false), le(300, 9, true)), udp("172.16.0.5", "192.168.1.9", 7, 20)), []byte(nil))
	f.Add(ethFrame(mac1, hostA, packet.EtherTypeIPv4, udp("10.1.0.2", "10.9.0.2", 64, 3000)), []byte{1, 3, 0, 0, 0, 4, 34, 0, 6, 0})
	// The dataplane is built once per worker: state (neighbours, ICMP tokens)
	// carries over between inputs, which only widens what the fuzzer explores.
	d := New(Config{})
	rec := &recorder{}
	e1, _ := d.AddPort("eth1", mac1, 1500, public)
	d.AddPort("eth2", mac2, 1400, public)
	d.AddPort("eth3", mac3, 1500, vpnA)
	d.SetPortAddrs("eth1", []netip.Prefix{p("10.1.0.1/24")})
	d.SetNeighbour(t0, "eth2", a("10.2.0.2"), hostB, rec)
	err := d.Program(fibapi.Batch{
		Routes: []fibapi.Route{
			{Instance: public, Prefix: p("0.0.0.0/0"), NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{100, 200}}, {Port: "eth2", Gateway: a("10.2.0.3")}}},
			{Instance: public, Prefix: p("10.1.0.0/24"), NextHops: []fibapi.NextHop{{Port: "eth1"}}},
			{Instance: vpnA, Prefix: p("0.0.0.0/0"), NextHops: []fibapi.NextHop{{Port: "eth3"}}},
		},
		Labels: []fibapi.LabelEntry{
			{InLabel: 100, Op: fibapi.Swap, NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118}}}},
			{InLabel: 101, Op: fibapi.Swap, NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2")}}},
			{InLabel: 300, Op: fibapi.PopLookup, Instance: vpnA},
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frame, vnet []byte) {
		buf := append(make([]byte, 8), frame...)
		d.Process(t0, e1, vnet, buf, 8, rec)
		d.Tick(t0.Add(time.Second), rec)
		rec.take()
	})
}

// TestLoopbackOnlyInstance: an instance whose interfaces are LoopBacks only
// (no port) still has a host stack, reached through its own tap: a packet
// popped into it for its LoopBack, the router's own packet to that address,
// and "fragmentation needed" for its own too-big packet go there; the
// router's own packet from the LoopBack to a remote one leaves labelled.
func TestLoopbackOnlyInstance(t *testing.T) {
	const vpnB = "B"
	f := newFixture(t)
	f.program(fibapi.Batch{
		Routes: []fibapi.Route{
			{Instance: vpnB, Prefix: p("172.31.0.3/32"), Kind: fibapi.Local},
			{Instance: vpnB, Prefix: p("172.31.0.1/32"),
				NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{1000, 41}}}},
		},
		Labels: []fibapi.LabelEntry{{InLabel: 301, Op: fibapi.PopLookup, Instance: vpnB}},
	})
	from := func(frame []byte) (bool, []emitted) {
		buf := append(make([]byte, Headroom), frame...)
		ok := f.d.FromInstance(f.now, vpnB, buf, Headroom, f.rec)
		return ok, f.rec.take()
	}
	intoB := func(what string, out []emitted, src, dst string) parsed {
		t.Helper()
		if len(out) != 1 || !out[0].punt || out[0].port != -1 || out[0].inst != vpnB {
			t.Fatalf("%s: want a punt into %s's own tap, got %+v", what, vpnB, out)
		}
		r := parseOut(t, out[0].frame)
		if r.eth.Dst != (packet.MAC{}) || r.eth.EtherType != packet.EtherTypeIPv4 || r.ip.Src != a(src) || r.ip.Dst != a(dst) {
			t.Fatalf("%s: %+v %+v", what, r.eth, r.ip)
		}
		return r
	}

	// From the core: the VPN label is popped, the LoopBack is the router's.
	out := f.in(f.eth2, ethFrame(mac2, hostB, packet.EtherTypeMPLS, labels(le(301, 60, true)), udp("172.31.0.1", "172.31.0.3", 64, 4)))
	if r := intoB("popped", out, "172.31.0.1", "172.31.0.3"); r.ip.TTL != 60 || r.eth.Src != hostB {
		t.Fatalf("popped: ttl %d, src %v", r.ip.TTL, r.eth.Src)
	}
	if _, c, _ := f.d.PortByName("eth2"); c.Punted != 1 || c.Drops != 0 {
		t.Fatalf("eth2 counters %+v", c)
	}
	// The router's own ping to its LoopBack in B.
	ok, out := from(ethFrame(packet.MAC{}, mac1, packet.EtherTypeIPv4, udp("172.31.0.3", "172.31.0.3", 64, 4)))
	if !ok {
		t.Fatal("own packet to own LoopBack refused")
	}
	intoB("own", out, "172.31.0.3", "172.31.0.3")
	// From the LoopBack to the remote one: labelled out of eth2.
	ok, out = from(ethFrame(packet.MAC{}, mac1, packet.EtherTypeIPv4, udp("172.31.0.3", "172.31.0.1", 64, 4)))
	if !ok || len(out) != 1 || out[0].punt || out[0].port != f.eth2 {
		t.Fatalf("to the remote LoopBack: %v %+v", ok, out)
	}
	if r := parseOut(t, out[0].frame); len(r.labels) != 2 || r.labels[1] != le(41, 64, true) || r.ip.Src != a("172.31.0.3") {
		t.Fatalf("to the remote LoopBack: %+v %+v", r.labels, r.ip)
	}
	// Too big for the labels, with DF: the error comes back into B.
	big := udp("172.31.0.3", "172.31.0.1", 64, 1500-28)
	big[6] = 0x40
	packet.SetIPv4Checksum(big)
	ok, out = from(ethFrame(packet.MAC{}, mac1, packet.EtherTypeIPv4, big))
	if !ok {
		t.Fatal("too big: refused")
	}
	r := intoB("too big", out, "10.2.0.2", "172.31.0.3")
	if r.ip.Protocol != packet.ProtoICMP {
		t.Fatalf("too big: %+v", r.ip)
	}
}
