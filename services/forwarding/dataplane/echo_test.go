package dataplane

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
)

// echoReq is an MPLS echo request packet: UDP from port 49152 to
// 127.0.0.1:3503, IP TTL 1.
func echoReq(src string) []byte {
	u := make([]byte, 8+48)
	binary.BigEndian.PutUint16(u[0:2], 49152)
	binary.BigEndian.PutUint16(u[2:4], echoPort)
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	return packet.BuildIPv4(a(src), a("127.0.0.1"), packet.ProtoUDP, 1, 7, u)
}

// TestMPLSEcho: echo requests reach the public instance's host stack as IP
// (after a penultimate-hop pop), after the last label is popped here, and
// without their labels when their label TTL runs out at a transit LSR; any
// other packet to 127/8 is dropped, as are echo requests in a VPN instance.
func TestMPLSEcho(t *testing.T) {
	f := newFixture(t)
	f.program(fibapi.Batch{
		Routes: []fibapi.Route{{Instance: public, Prefix: p("0.0.0.0/0"), NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2")}}}},
		Labels: []fibapi.LabelEntry{
			{InLabel: 100, Op: fibapi.Swap, NextHops: []fibapi.NextHop{{Port: "eth2", Gateway: a("10.2.0.2"), Labels: []uint32{101}}}},
			{InLabel: 200, Op: fibapi.PopLookup, Instance: public},
		},
	})
	req := echoReq("10.9.9.1")
	punted := func(name string, out []emitted, port int) {
		t.Helper()
		if len(out) != 1 || !out[0].punt || out[0].port != port {
			t.Fatalf("%s: want the request punted to port %d, got %+v", name, port, out)
		}
		r := parseOut(t, out[0].frame)
		if len(r.labels) != 0 || r.eth.EtherType != packet.EtherTypeIPv4 || r.eth.Dst != f.d.byID[port].MAC || !bytes.Equal(r.ipb, req) {
			t.Fatalf("%s: punted %+v", name, r)
		}
	}

	// As IP: punted, never routed (the default route would take it).
	punted("ip", f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, req)), f.eth1)
	// Popped here (PopLookup and explicit null).
	punted("pop", f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(200, 9, true)), req)), f.eth1)
	punted("explicit null", f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(0, 9, true)), req)), f.eth1)
	// Label TTL out at a swap: the request without its labels.
	punted("ttl", f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 1, true)), req)), f.eth1)
	// With TTL left it is switched like any labelled packet.
	out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 5, true)), req))
	if len(out) != 1 || out[0].punt || out[0].port != f.eth2 {
		t.Fatalf("switched: %+v", out)
	}
	if r := parseOut(t, out[0].frame); len(r.labels) != 1 || r.labels[0] != le(101, 4, true) {
		t.Fatalf("switched labels %+v", r.labels)
	}

	// Not echo requests: dropped, never routed or answered.
	other := udp("10.9.9.1", "127.0.0.1", 1, 20)
	for name, frame := range map[string][]byte{
		"udp to 127/8":           ethFrame(mac1, hostA, packet.EtherTypeIPv4, other),
		"popped udp to 127/8":    ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(200, 9, true)), other),
		"echo in a VPN instance": ethFrame(mac3, ceMAC, packet.EtherTypeIPv4, req),
		"icmp to 127.1.2.3":      ethFrame(mac1, hostA, packet.EtherTypeIPv4, packet.BuildIPv4(a("10.9.9.1"), a("127.1.2.3"), packet.ProtoICMP, 1, 1, []byte{8, 0, 0, 0, 0, 0, 0, 0})),
	} {
		port := f.eth1
		if name == "echo in a VPN instance" {
			port = f.eth3
		}
		if out := f.in(port, frame); len(out) != 0 {
			t.Errorf("%s: %+v", name, out)
		}
	}
	frag := bytes.Clone(req)
	frag[6] = 0x20 // more fragments
	packet.SetIPv4TTL(frag, 1)
	if out := f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeIPv4, frag)); len(out) != 0 {
		t.Errorf("a fragment: %+v", out)
	}
	// A plain packet whose label TTL runs out still gets its time exceeded.
	out = f.in(f.eth1, ethFrame(mac1, hostA, packet.EtherTypeMPLS, labels(le(100, 1, true)), udp("10.9.9.1", "10.8.8.8", 5, 20)))
	if len(out) != 1 || out[0].punt {
		t.Fatalf("time exceeded: %+v", out)
	}
	if _, m := icmpOut(t, out[0]); m.Type != packet.ICMPTimeExceeded {
		t.Fatalf("icmp type %d", m.Type)
	}
}

// TestOriginate: a packet the router built leaves a port under its labels
// (each with the given TTL), or plain; an unknown neighbour is resolved
// first; bad requests change nothing.
func TestOriginate(t *testing.T) {
	f := newFixture(t)
	req := echoReq("10.1.0.1")
	if err := f.d.Originate(f.now, "eth2", a("10.2.0.2"), []uint32{48001}, 7, req, f.rec); err != nil {
		t.Fatal(err)
	}
	out := f.rec.take()
	if len(out) != 1 || out[0].punt || out[0].port != f.eth2 {
		t.Fatalf("%+v", out)
	}
	r := parseOut(t, out[0].frame)
	if r.eth.Dst != hostB || r.eth.Src != mac2 || len(r.labels) != 1 || r.labels[0] != le(48001, 7, true) || !bytes.Equal(r.ipb, req) {
		t.Fatalf("sent %+v", r)
	}
	// Implicit null at the first hop: plain IPv4.
	if err := f.d.Originate(f.now, "eth2", a("10.2.0.2"), nil, 255, req, f.rec); err != nil {
		t.Fatal(err)
	}
	if r := parseOut(t, f.rec.take()[0].frame); r.eth.EtherType != packet.EtherTypeIPv4 || !bytes.Equal(r.ipb, req) {
		t.Fatalf("plain %+v", r)
	}
	// An unknown neighbour: ARP first, the packet once it answers.
	if err := f.d.Originate(f.now, "eth2", a("10.2.0.9"), []uint32{48001, 48002}, 255, req, f.rec); err != nil {
		t.Fatal(err)
	}
	if out := f.rec.take(); len(out) != 1 || parseOut(t, out[0].frame).eth.EtherType != packet.EtherTypeARP {
		t.Fatalf("want an ARP request, got %+v", out)
	}
	for _, bad := range []struct {
		name   string
		port   string
		labels []uint32
		ip     []byte
	}{
		{"unknown port", "eth9", nil, req},
		{"not IPv4", "eth2", nil, req[:10]},
		{"implicit null label", "eth2", []uint32{3}, req},
		{"too big", "eth2", make([]uint32, 400), req},
	} {
		if err := f.d.Originate(f.now, bad.port, a("10.2.0.2"), bad.labels, 255, bad.ip, f.rec); err == nil {
			t.Errorf("%s: accepted", bad.name)
		} else if bad.name == "unknown port" && !errors.Is(err, ErrPort) {
			t.Errorf("%s: %v", bad.name, err)
		}
		if out := f.rec.take(); len(out) != 0 {
			t.Errorf("%s: sent %+v", bad.name, out)
		}
	}
}
