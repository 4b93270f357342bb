package dataplane

import (
	"net/netip"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
)

// maxStack bounds how many labels the dataplane looks through.
const maxStack = 8

// mplsInput handles a labelled frame at buf[off:] addressed to port p.
func (d *Dataplane) mplsInput(now time.Time, p *Port, buf []byte, off int, out Sink) {
	src := packet.MAC(buf[off+6 : off+12])
	pos := off + packet.EthernetLen
	for depth := 0; ; depth++ {
		if depth == maxStack || pos+packet.MPLSLen > len(buf) {
			p.c.Drops++
			return
		}
		e := packet.DecodeLabelEntry(be32(buf[pos:]))
		inst := p.inst
		if e.Label >= 16 {
			ent := d.ilm[e.Label]
			if ent == nil {
				p.c.Drops++
				return
			}
			if ent.op == fibapi.Swap {
				d.swap(now, p, ent, e, buf, off, pos, out)
				return
			}
			inst = d.instance(ent.inst)
		} else if e.Label != fibapi.LabelIPv4ExplicitNull {
			// Router alert, IPv6 explicit null, implicit null on the wire...
			p.c.Drops++
			return
		}
		// Pop: explicit null (look up in the port's instance) or PopLookup.
		pos += packet.MPLSLen
		if !e.S {
			if pos+packet.MPLSLen <= len(buf) && buf[pos+3] > e.TTL {
				buf[pos+3] = e.TTL // uniform model: the exposed label inherits the TTL
			}
			continue
		}
		d.popToIP(now, p, inst, src, buf, off, pos, e.TTL, out)
		return
	}
}

// popToIP continues with the IPv4 packet at buf[pos:] after the bottom label
// (whose TTL was ttl) was popped: it is looked up in inst.
func (d *Dataplane) popToIP(now time.Time, p *Port, inst *instance, src packet.MAC, buf []byte, off, pos int, ttl uint8, out Sink) {
	ip := buf[pos:]
	tl := validIPv4(ip)
	if tl == 0 {
		p.c.Drops++
		return
	}
	buf = buf[:pos+tl]
	if ip[8] > ttl {
		packet.SetIPv4TTL(ip, ttl)
	}
	eth := pos - packet.EthernetLen
	if loopbackDst(ip) {
		d.loopbackInput(p, inst, src, buf[eth:], out)
		return
	}
	if d.isLocal(inst, be32(ip[16:20])) {
		d.puntLocal(inst, p, src, buf[eth:], out)
		return
	}
	d.ipForward(now, inst, p, buf, eth, buf[off+packet.EthernetLen:pos], false, out)
}

// decodeStack decodes an encoded label stack (for ICMP extensions).
func decodeStack(b []byte) []packet.LabelEntry {
	if len(b) == 0 {
		return nil
	}
	st := make([]packet.LabelEntry, 0, len(b)/4)
	for ; len(b) >= 4; b = b[4:] {
		st = append(st, packet.DecodeLabelEntry(be32(b)))
	}
	return st
}

// puntLocal hands an IPv4 frame for the router to the host stack of inst:
// through the tap of inPort when it is a port of inst, else of the
// instance's first port, else (an instance of LoopBacks only) through the
// instance's own tap. inPort may be nil (the router's own traffic).
func (d *Dataplane) puntLocal(inst *instance, inPort *Port, src packet.MAC, frame []byte, out Sink) {
	p := inPort
	if p == nil || p.inst != inst {
		if len(inst.ports) == 0 {
			if inPort != nil {
				inPort.c.Punted++
			}
			packet.PutEthernet(frame, packet.MAC{}, src, packet.EtherTypeIPv4)
			out.PuntInstance(inst.name, frame)
			return
		}
		p = inst.ports[0]
	}
	packet.PutEthernet(frame, p.MAC, src, packet.EtherTypeIPv4)
	d.punt(p, nil, frame, out)
}

// swap handles an ILM Swap entry for the label e at buf[pos:].
func (d *Dataplane) swap(now time.Time, p *Port, ent *ilmEntry, e packet.LabelEntry, buf []byte, off, pos int, out Sink) {
	if e.TTL <= 1 {
		d.labelTTLExpired(now, p, buf, off, pos, out)
		return
	}
	ttl := e.TTL - 1
	nh := &ent.nhs[0]
	if len(ent.nhs) > 1 {
		nh = &ent.nhs[mplsHash(buf[pos:])%uint32(len(ent.nhs))]
	}
	op := d.nhPort(nh)
	if op == nil {
		p.c.Drops++
		return
	}
	rest := pos + packet.MPLSLen
	k := len(nh.labels)
	if k == 0 {
		// Penultimate-hop pop.
		if e.S {
			ip := buf[rest:]
			tl := validIPv4(ip)
			if tl == 0 {
				p.c.Drops++
				return
			}
			if ip[8] > ttl {
				packet.SetIPv4TTL(ip, ttl)
			}
			gw := nh.gw
			if !gw.IsValid() {
				gw = addrOf(be32(ip[16:20]))
			}
			if tl > op.MTU {
				d.lsrTooBig(now, p, buf, off, pos, op, gw, nil, out)
				return
			}
			d.send(now, op, gw, packet.EtherTypeIPv4, buf[rest-packet.EthernetLen:rest+tl], out)
			return
		}
		if rest+packet.MPLSLen > len(buf) || !nh.gw.IsValid() {
			p.c.Drops++
			return
		}
		if buf[rest+3] > ttl {
			buf[rest+3] = ttl
		}
		if len(buf)-rest > op.MTU {
			d.lsrTooBig(now, p, buf, off, pos, op, nh.gw, buf[rest:rest+d.labelBytesBelow(buf, off, rest)], out)
			return
		}
		d.send(now, op, nh.gw, packet.EtherTypeMPLS, buf[rest-packet.EthernetLen:], out)
		return
	}
	if !nh.gw.IsValid() {
		p.c.Drops++
		return
	}
	if len(buf)-rest+packet.MPLSLen*k > op.MTU {
		below := buf[rest : rest+d.labelBytesBelow(buf, off, rest)]
		stack := make([]byte, packet.MPLSLen*k, packet.MPLSLen*k+len(below))
		for i, l := range nh.labels {
			packet.LabelEntry{Label: l, TC: e.TC, TTL: ttl, S: e.S && i == k-1}.Put(stack[4*i:])
		}
		d.lsrTooBig(now, p, buf, off, pos, op, nh.gw, append(stack, below...), out)
		return
	}
	need := packet.EthernetLen + packet.MPLSLen*k
	eth := rest - need
	if eth < 0 {
		nb := make([]byte, Headroom+need+len(buf)-rest)
		copy(nb[Headroom+need:], buf[rest:])
		buf, eth = nb, Headroom
	}
	lp := eth + packet.EthernetLen
	for i, l := range nh.labels {
		packet.LabelEntry{Label: l, TC: e.TC, TTL: ttl, S: e.S && i == k-1}.Put(buf[lp+4*i:])
	}
	d.send(now, op, nh.gw, packet.EtherTypeMPLS, buf[eth:], out)
}

// labelBytesBelow is how many bytes of label stack lie from rest to the
// bottom of the stack that starts at buf[off+EthernetLen:].
func (d *Dataplane) labelBytesBelow(buf []byte, off, rest int) int {
	_, n, err := packet.ParseLabelStack(buf[off+packet.EthernetLen:])
	if err != nil {
		return 0
	}
	return max(off+packet.EthernetLen+n-rest, 0)
}

// lsrTooBig handles a labelled packet too big for the outgoing port op after
// the label operation, whose result is the label stack stack (empty after a
// penultimate-hop pop of the last label) on top of the inner IPv4 packet
// (RFC 3032 section 3). Without DF, the inner packet is fragmented and every
// fragment leaves with the same stack towards gw. With DF, or when the room
// left for the IP packet is below 68 bytes, the packet is dropped and an ICMP
// "fragmentation needed" carrying that room is sent along the LSP like a
// time exceeded.
func (d *Dataplane) lsrTooBig(now time.Time, p *Port, buf []byte, off, pos int, op *Port, gw netip.Addr, stack []byte, out Sink) {
	_, n, err := packet.ParseLabelStack(buf[off+packet.EthernetLen:])
	if err != nil {
		p.c.Drops++
		return
	}
	inner := buf[off+packet.EthernetLen+n:]
	tl := validIPv4(inner)
	if tl == 0 {
		p.c.Drops++
		return
	}
	ipMTU := op.MTU - len(stack)
	if inner[6]&0x40 != 0 || ipMTU < 68 {
		p.c.Drops++
		d.lsrICMP(now, p, buf, off, pos, packet.ICMPDestUnreachable, packet.ICMPFragNeeded, uint16(max(ipMTU, 68)), out)
		return
	}
	et := uint16(packet.EtherTypeIPv4)
	if len(stack) > 0 {
		et = packet.EtherTypeMPLS
	}
	ihl := int(inner[0]&0xf) * 4
	err = packet.FragmentIPv4(nil, inner[:tl], ipMTU-ihl, func(f []byte) {
		nb := make([]byte, Headroom+packet.EthernetLen+len(stack)+len(f))
		copy(nb[Headroom+packet.EthernetLen:], stack)
		copy(nb[Headroom+packet.EthernetLen+len(stack):], f)
		d.send(now, op, gw, et, nb[Headroom:], out)
	})
	if err != nil {
		p.c.Drops++
	}
}

// labelTTLExpired answers a labelled packet whose label TTL ran out at a
// transit LSR (RFC 3032 section 2.3.2, RFC 4950): the LSR builds an ICMP time
// exceeded about the inner IPv4 packet, from the receiving port's address
// (the public instance, where the LSR's labels live), carrying the received
// label stack, and sends it onward along the same LSP with fresh TTLs, so
// the egress LSR routes it back to the source in whatever instance the source
// belongs to. This is what lets tracert across an MPLS core (where P routers
// know no VPN routes) show every hop.
//
// An MPLS echo request whose label TTL runs out (LSP traceroute) goes to
// the host stack instead, without its labels, for the responder to answer.
func (d *Dataplane) labelTTLExpired(now time.Time, p *Port, buf []byte, off, pos int, out Sink) {
	if ip, tl, ok := labelledEcho(buf, off); ok {
		eth := ip - packet.EthernetLen
		d.loopbackInput(p, p.inst, packet.MAC(buf[off+6:off+12]), buf[eth:ip+tl], out)
		return
	}
	p.c.Drops++
	d.lsrICMP(now, p, buf, off, pos, packet.ICMPTimeExceeded, packet.ICMPTTLExceeded, 0, out)
}

// lsrICMP builds an ICMP error about the IPv4 packet under the label stack
// of the frame at buf[off:] and sends it on along the LSP of the label at
// buf[pos:] (see labelTTLExpired).
func (d *Dataplane) lsrICMP(now time.Time, p *Port, buf []byte, off, pos int, typ, code uint8, mtu uint16, out Sink) {
	stack, n, err := packet.ParseLabelStack(buf[off+packet.EthernetLen:])
	if err != nil {
		return
	}
	inner := buf[off+packet.EthernetLen+n:]
	tl := validIPv4(inner)
	if tl == 0 || !d.errorAllowed(now, inner[:tl]) {
		return
	}
	srcA := d.icmpSource(p.inst, p)
	if !srcA.IsValid() {
		return
	}
	msg := packet.BuildICMPError(typ, code, mtu, inner[:tl], stack)
	d.ipID++
	pkt := packet.BuildIPv4(srcA, addrOf(be32(inner[12:16])), packet.ProtoICMP, 255, d.ipID, msg)
	labels := buf[pos : off+packet.EthernetLen+n]
	nb := make([]byte, Headroom+packet.EthernetLen+len(labels)+len(pkt))
	f := nb[Headroom:]
	packet.PutEthernet(f, p.MAC, p.MAC, packet.EtherTypeMPLS)
	copy(f[packet.EthernetLen:], labels)
	for i := packet.EthernetLen; i < packet.EthernetLen+len(labels); i += 4 {
		f[i+3] = 255
	}
	copy(f[packet.EthernetLen+len(labels):], pkt)
	d.mplsInput(now, p, nb, Headroom, out)
}

// mplsHash hashes the label stack and, under it, the IPv4 flow.
func mplsHash(b []byte) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < maxStack && len(b) >= 4; i++ {
		v := be32(b) &^ 0xff // without TTL
		h = (h ^ v) * 16777619
		b = b[4:]
		if v&0x100 != 0 {
			if len(b) >= packet.IPv4Len && b[0]>>4 == 4 {
				h ^= flowHash(b)
			}
			break
		}
	}
	return h
}
