package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
)

// MPLS echo (RFC 8029, LSP ping and traceroute). An echo request travels an
// LSP as IPv4/UDP to port 3503 of an address in 127/8, so that it is never
// forwarded as IP once it leaves the LSP. The dataplane hands such a request
// to the host stack of the public instance, where the responder listens:
// when it arrives as IP (after a penultimate-hop pop), after the last label
// is popped here, and when its label TTL runs out at a transit LSR
// (traceroute). Any other packet to 127/8 from a port is a martian and is
// dropped (RFC 1812 section 5.3.7). The host stack accepts 127/8 from the
// port taps (route_localnet), which see no other such packet.

// echoPort is the UDP port of MPLS echo.
const echoPort = 3503

// loopbackDst reports whether an IPv4 packet is addressed to 127/8.
func loopbackDst(ip []byte) bool { return ip[16] == 127 }

// echoRequest reports whether the valid IPv4 packet ip (total length tl) is
// UDP to port 3503 (and not a fragment).
func echoRequest(ip []byte, tl int) bool {
	ihl := int(ip[0]&0xf) * 4
	if ip[9] != packet.ProtoUDP || tl < ihl+8 || binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return false
	}
	return binary.BigEndian.Uint16(ip[ihl+2:ihl+4]) == echoPort
}

// loopbackInput handles an IPv4 packet to 127/8 that arrived from port p
// in instance inst: an echo request in the public instance goes to the
// host stack, anything else is dropped. frame starts with room for the
// Ethernet header (src is the sender's MAC).
func (d *Dataplane) loopbackInput(p *Port, inst *instance, src packet.MAC, frame []byte, out Sink) {
	ip := frame[packet.EthernetLen:]
	if inst == nil || inst.name != fibapi.Public || !echoRequest(ip, len(ip)) {
		p.c.Drops++
		return
	}
	d.puntLocal(inst, p, src, frame, out)
}

// labelledEcho reports whether the labelled frame at buf[off:] carries an
// MPLS echo request under its label stack; when it does, it returns the
// offset of the IPv4 packet and its total length.
func labelledEcho(buf []byte, off int) (int, int, bool) {
	_, n, err := packet.ParseLabelStack(buf[off+packet.EthernetLen:])
	if err != nil {
		return 0, 0, false
	}
	pos := off + packet.EthernetLen + n
	tl := validIPv4(buf[pos:])
	if tl == 0 || !loopbackDst(buf[pos:]) || !echoRequest(buf[pos:], tl) {
		return 0, 0, false
	}
	return pos, tl, true
}

// Originate sends an IPv4 packet the router built (an MPLS echo request)
// out of the named port to neighbour gw, under labels (outermost first, each
// with TTL ttl; none: plain IPv4). The neighbour is resolved as for
// forwarded packets. It fails for an unknown port, a packet that is not
// valid IPv4, or one too big for the port.
func (d *Dataplane) Originate(now time.Time, port string, gw netip.Addr, labels []uint32, ttl uint8, ip []byte, out Sink) error {
	p := d.ports[port]
	if p == nil {
		return fmt.Errorf("%w %s: not attached", ErrPort, port)
	}
	tl := validIPv4(ip)
	if tl == 0 || !gw.Is4() {
		return fmt.Errorf("originate on %s: not a valid IPv4 packet to an IPv4 neighbour", port)
	}
	if tl+4*len(labels) > p.MTU {
		return fmt.Errorf("originate on %s: %d bytes with %d labels exceed the MTU %d", port, tl, len(labels), p.MTU)
	}
	for _, l := range labels {
		if !validLabel(l) || l == fibapi.LabelImplicitNull {
			return fmt.Errorf("originate on %s: label %d", port, l)
		}
	}
	frame := make([]byte, packet.EthernetLen+4*len(labels)+tl)
	for i, l := range labels {
		packet.LabelEntry{Label: l, TTL: ttl, S: i == len(labels)-1}.Put(frame[packet.EthernetLen+4*i:])
	}
	copy(frame[packet.EthernetLen+4*len(labels):], ip[:tl])
	et := uint16(packet.EtherTypeIPv4)
	if len(labels) > 0 {
		et = packet.EtherTypeMPLS
	}
	d.send(now, p, gw, et, frame, out)
	return nil
}
