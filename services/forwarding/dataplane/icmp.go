package dataplane

import (
	"encoding/binary"
	"net/netip"
	"time"

	"vpnos/services/forwarding/packet"
)

// errorAllowed applies RFC 1812 4.3.2.7 (no ICMP error about an ICMP error,
// a non-first fragment, or a packet from or to a broadcast, multicast,
// loopback or unspecified address) and the rate limit.
func (d *Dataplane) errorAllowed(now time.Time, ip []byte) bool {
	src, dst := be32(ip[12:16]), be32(ip[16:20])
	if src == 0 || src>>24 == 127 || src>>28 >= 0xe || dst>>28 >= 0xe {
		return false
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x1fff != 0 {
		return false
	}
	ihl := int(ip[0]&0xf) * 4
	if ip[9] == packet.ProtoICMP && len(ip) > ihl {
		m := packet.ICMP{Type: ip[ihl]}
		if m.IsError() {
			return false
		}
	}
	if !d.tokensAt.IsZero() {
		d.tokens += now.Sub(d.tokensAt).Seconds() * float64(d.cfg.ICMPRate)
		d.tokens = min(d.tokens, float64(d.cfg.ICMPBurst))
	}
	d.tokensAt = now
	if d.tokens < 1 {
		return false
	}
	d.tokens--
	return true
}

// icmpSource picks the source address of an ICMP error generated in
// instance in for a packet received on inPort: the port's own address when
// the port belongs to the instance, else a Local host route of the instance
// (a loopback address; not 127/8 or a broadcast address, which the RIB also
// programs as Local), else an address of another port of the instance.
func (d *Dataplane) icmpSource(in *instance, inPort *Port) netip.Addr {
	if inPort != nil && inPort.inst == in && len(inPort.Addrs) > 0 {
		return inPort.Addrs[0].Addr()
	}
	for _, a := range in.lo {
		if usableSource(in, a) {
			return a
		}
	}
	for _, p := range in.ports {
		if len(p.Addrs) > 0 {
			return p.Addrs[0].Addr()
		}
	}
	return netip.Addr{}
}

// icmpError sends an ICMP error about ip (the offending IPv4 packet) back to
// its source, routed in instance in.
func (d *Dataplane) icmpError(now time.Time, in *instance, inPort *Port, ip []byte, typ, code uint8, mtu uint16, rxLabels []byte, out Sink) {
	tl := int(binary.BigEndian.Uint16(ip[2:4]))
	if tl > len(ip) || tl < packet.IPv4Len {
		return
	}
	ip = ip[:tl]
	if !d.errorAllowed(now, ip) {
		return
	}
	src := d.icmpSource(in, inPort)
	if !src.IsValid() {
		return
	}
	msg := packet.BuildICMPError(typ, code, mtu, ip, decodeStack(rxLabels))
	d.ipID++
	pkt := packet.BuildIPv4(src, addrOf(be32(ip[12:16])), packet.ProtoICMP, 64, d.ipID, msg)
	nb := make([]byte, Headroom+packet.EthernetLen+len(pkt))
	copy(nb[Headroom+packet.EthernetLen:], pkt)
	if d.isLocal(in, be32(pkt[16:20])) {
		return
	}
	d.ipForward(now, in, nil, nb, Headroom, nil, true, out)
}

// usableSource reports whether a Local /32 can source packets: not loopback,
// multicast or limited broadcast, and not the broadcast address of a port's
// subnet.
func usableSource(in *instance, a netip.Addr) bool {
	v := u32(a)
	if v>>24 == 127 || v>>28 >= 0xe || v == 0 {
		return false
	}
	for _, p := range in.ports {
		for _, pa := range p.Addrs {
			if pa.Bits() <= 30 && pa.Contains(a) && v == u32(pa.Masked().Addr())|(1<<(32-pa.Bits())-1) {
				return false
			}
		}
	}
	return true
}

// fragNeededToHost tells the instance's host stack that a packet it sent
// (ip, with DF) does not fit the path: labels made it larger than the
// outgoing port's MTU. The error comes from the next hop gw (a source the
// kernel accepts, unlike one of its own addresses), so the kernel lowers its
// path MTU (and TCP its segment size) for the destination.
func (d *Dataplane) fragNeededToHost(now time.Time, in *instance, ip []byte, gw netip.Addr, mtu uint16, out Sink) {
	tl := int(binary.BigEndian.Uint16(ip[2:4]))
	if tl > len(ip) || tl < packet.IPv4Len || !d.errorAllowed(now, ip[:tl]) {
		return
	}
	msg := packet.BuildICMPError(packet.ICMPDestUnreachable, packet.ICMPFragNeeded, mtu, ip[:tl], nil)
	d.ipID++
	pkt := packet.BuildIPv4(gw, addrOf(be32(ip[12:16])), packet.ProtoICMP, 64, d.ipID, msg)
	frame := make([]byte, packet.EthernetLen+len(pkt))
	copy(frame[packet.EthernetLen:], pkt)
	var p *Port // the port holding the source, else puntLocal's choice
	for _, q := range in.ports {
		for _, a := range q.Addrs {
			if a.Addr() == addrOf(be32(ip[12:16])) {
				p = q
			}
		}
	}
	d.puntLocal(in, p, packet.MAC{}, frame, out)
}
