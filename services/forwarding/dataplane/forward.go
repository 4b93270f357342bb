package dataplane

import (
	"encoding/binary"
	"net/netip"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
)

// Process handles one frame received on physical port in. The frame is
// buf[off:]; buf[:off] is headroom the dataplane may use. vnet is the
// virtio-net header received with the frame, or nil.
func (d *Dataplane) Process(now time.Time, in int, vnet, buf []byte, off int, out Sink) {
	if in < 0 || in >= len(d.byID) || d.byID[in] == nil || off < 0 || off > len(buf) {
		return
	}
	p := d.byID[in]
	frame := buf[off:]
	p.c.RxPackets++
	p.c.RxBytes += uint64(len(frame))
	if len(frame) < packet.EthernetLen {
		p.c.Drops++
		return
	}
	et := binary.BigEndian.Uint16(frame[12:14])
	if [6]byte(frame[0:6]) != p.MAC {
		if frame[0]&1 == 0 {
			// Unicast to someone else (veth delivers everything).
			p.c.Drops++
			return
		}
		if et == packet.EtherTypeARP {
			d.arpInput(now, p, frame[packet.EthernetLen:], out)
		}
		d.punt(p, vnet, frame, out)
		return
	}
	switch et {
	case packet.EtherTypeIPv4:
		d.ipInput(now, p, vnet, buf, off, out)
	case packet.EtherTypeMPLS:
		if !plain(vnet) {
			p.c.Drops++
			return
		}
		d.mplsInput(now, p, buf, off, out)
	case packet.EtherTypeARP:
		d.arpInput(now, p, frame[packet.EthernetLen:], out)
		d.punt(p, vnet, frame, out)
	default:
		d.punt(p, vnet, frame, out)
	}
}

func plain(vnet []byte) bool {
	return len(vnet) < packet.VnetHdrLen || (vnet[0]&packet.VnetFlagNeedsCsum == 0 && vnet[1]&^packet.VnetGSOECN == packet.VnetGSONone)
}

// FromHost handles a frame the host stack wrote to the tap of port; the
// frame is buf[off:] with headroom before it. It goes out of the physical
// port unchanged, except an IPv4 unicast packet whose route in the port's
// instance pushes labels: that one is sent along its LSP as the FIB says
// (TTL not decremented, labels take the IP TTL), so the router's own traffic
// (ping, tracert, sessions between loopbacks) follows the same LSPs as
// transit traffic.
func (d *Dataplane) FromHost(now time.Time, port int, vnet, buf []byte, off int, out Sink) {
	if port < 0 || port >= len(d.byID) || d.byID[port] == nil || off < 0 || off > len(buf) {
		return
	}
	p := d.byID[port]
	frame := buf[off:]
	if len(frame) < packet.EthernetLen {
		return
	}
	p.c.FromHost++
	if plain(vnet) && frame[0]&1 == 0 && binary.BigEndian.Uint16(frame[12:14]) == packet.EtherTypeIPv4 {
		ip := frame[packet.EthernetLen:]
		if tl := validIPv4(ip); tl != 0 {
			if v := p.inst.table.Lookup(be32(ip[16:20])); v != 0 {
				r := &p.inst.routes[v]
				if r.kind == fibapi.Forward && d.labelled(r, ip) {
					d.ipForward(now, p.inst, nil, buf[:off+packet.EthernetLen+tl], off, nil, true, out)
					return
				}
			}
		}
	}
	d.transmit(p, vnet, frame, out)
}

// FromInstance handles a frame the host stack of instance wrote to the
// instance's forwarding tap (the device its kernel routes everything
// non-connected to): an IPv4 packet is routed in the instance's FIB as
// locally originated (no TTL decrement, labels pushed with the IP TTL, no
// ICMP errors); one addressed to the router itself goes back to a host
// stack of the instance. Anything else is dropped. It reports whether the
// frame was accepted.
func (d *Dataplane) FromInstance(now time.Time, instance string, buf []byte, off int, out Sink) bool {
	in := d.instances[instance]
	if in == nil || off < 0 || off+packet.EthernetLen > len(buf) {
		return false
	}
	frame := buf[off:]
	if binary.BigEndian.Uint16(frame[12:14]) != packet.EtherTypeIPv4 {
		return false
	}
	tl := validIPv4(frame[packet.EthernetLen:])
	if tl == 0 {
		return false
	}
	buf = buf[:off+packet.EthernetLen+tl]
	if d.isLocal(in, be32(frame[packet.EthernetLen+16:])) {
		d.puntLocal(in, nil, packet.MAC(frame[6:12]), buf[off:], out)
		return true
	}
	d.ipForward(now, in, nil, buf, off, nil, true, out)
	return true
}

// labelled reports whether the next hop the flow of ip takes pushes labels.
func (d *Dataplane) labelled(r *route, ip []byte) bool {
	nh := &r.nhs[0]
	if len(r.nhs) > 1 {
		nh = &r.nhs[flowHash(ip)%uint32(len(r.nhs))]
	}
	return len(nh.labels) > 0
}

func (d *Dataplane) transmit(p *Port, vnet, frame []byte, out Sink) {
	p.c.TxPackets++
	p.c.TxBytes += uint64(len(frame))
	out.Transmit(p.ID, vnet, frame)
}

func (d *Dataplane) punt(p *Port, vnet, frame []byte, out Sink) {
	p.c.Punted++
	out.Punt(p.ID, vnet, frame)
}

func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

func addrOf(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// validIPv4 checks the IPv4 header at ip and returns its total length, or 0.
func validIPv4(ip []byte) int {
	if len(ip) < packet.IPv4Len || ip[0]>>4 != 4 {
		return 0
	}
	ihl := int(ip[0]&0xf) * 4
	tl := int(binary.BigEndian.Uint16(ip[2:4]))
	if ihl < packet.IPv4Len || tl < ihl || tl > len(ip) || !packet.IPv4ChecksumOK(ip[:ihl]) {
		return 0
	}
	return tl
}

func (d *Dataplane) ipInput(now time.Time, p *Port, vnet, buf []byte, off int, out Sink) {
	ip := buf[off+packet.EthernetLen:]
	tl := validIPv4(ip)
	if tl == 0 {
		p.c.Drops++
		return
	}
	buf = buf[:off+packet.EthernetLen+tl] // strip Ethernet padding
	dst := be32(ip[16:20])
	if src := be32(ip[12:16]); src>>24 == 127 || src>>28 >= 0xe {
		// Martian source (RFC 1812 5.3.7): loopback, multicast, class E, broadcast.
		p.c.Drops++
		return
	}
	in := p.inst
	if dst>>24 == 127 {
		if !plain(vnet) {
			p.c.Drops++
			return
		}
		d.loopbackInput(p, in, packet.MAC(buf[off+6:off+12]), buf[off:], out)
		return
	}
	if d.isLocal(in, dst) {
		d.punt(p, vnet, buf[off:], out)
		return
	}
	if !plain(vnet) {
		h, err := packet.ParseVnetHdr(vnet)
		if err != nil {
			p.c.Drops++
			return
		}
		p.c.Offloaded++
		if h.GSOType&^packet.VnetGSOECN == packet.VnetGSONone {
			// Checksum completion only: in place, then forward as usual.
			if err := packet.CompleteChecksum(buf[off:], h); err != nil {
				p.c.Drops++
				return
			}
			d.ipForward(now, in, p, buf, off, nil, false, out)
			return
		}
		err = packet.Segment(buf[off:], h, func(seg []byte) {
			nb := make([]byte, Headroom+len(seg))
			copy(nb[Headroom:], seg)
			d.ipForward(now, in, p, nb, Headroom, nil, false, out)
		})
		if err != nil {
			p.c.Drops++
		}
		return
	}
	d.ipForward(now, in, p, buf, off, nil, false, out)
}

// isLocal reports whether dst is addressed to the router in the instance:
// a Local route, a port address, limited broadcast or multicast.
func (d *Dataplane) isLocal(in *instance, dst uint32) bool {
	if dst>>28 == 0xe || dst == 0xffffffff {
		return true
	}
	if v := in.table.Lookup(dst); v != 0 && in.routes[v].kind == fibapi.Local {
		return true
	}
	if len(in.local) == 0 {
		return false
	}
	_, ok := in.local[dst]
	return ok
}

// ipForward routes the IPv4 packet in buf[off:] (Ethernet header first, its
// contents ignored) in instance in. rxLabels is the encoded label stack it
// arrived with (for ICMP extensions). originated is set for packets the dataplane
// built itself: their TTL is not decremented and failures are silent.
func (d *Dataplane) ipForward(now time.Time, in *instance, inPort *Port, buf []byte, off int, rxLabels []byte, originated bool, out Sink) {
	ip := buf[off+packet.EthernetLen:]
	dst := be32(ip[16:20])
	v := in.table.Lookup(dst)
	if v == 0 {
		d.drop(inPort)
		if !originated {
			d.icmpError(now, in, inPort, ip, packet.ICMPDestUnreachable, packet.ICMPNetUnreachable, 0, rxLabels, out)
		}
		return
	}
	r := &in.routes[v]
	switch r.kind {
	case fibapi.Local:
		d.puntTo(in, inPort, buf[off:], out)
		return
	case fibapi.Drop:
		d.drop(inPort)
		return
	case fibapi.Unreachable:
		d.drop(inPort)
		if !originated {
			d.icmpError(now, in, inPort, ip, packet.ICMPDestUnreachable, packet.ICMPHostUnreachable, 0, rxLabels, out)
		}
		return
	}
	if !originated && ip[8] <= 1 {
		d.drop(inPort)
		d.icmpError(now, in, inPort, ip, packet.ICMPTimeExceeded, packet.ICMPTTLExceeded, 0, rxLabels, out)
		return
	}
	nh := &r.nhs[0]
	if len(r.nhs) > 1 {
		nh = &r.nhs[flowHash(ip)%uint32(len(r.nhs))]
	}
	op := d.nhPort(nh)
	if op == nil {
		d.drop(inPort)
		return
	}
	gw := nh.gw
	if !gw.IsValid() {
		gw = addrOf(dst)
	}
	k := len(nh.labels)
	tl := int(binary.BigEndian.Uint16(ip[2:4]))
	if tl+4*k > op.MTU {
		d.tooBig(now, in, inPort, op, nh, gw, buf[off:], rxLabels, originated, out)
		return
	}
	if !originated {
		packet.DecIPv4TTL(ip)
	}
	if k == 0 {
		d.send(now, op, gw, packet.EtherTypeIPv4, buf[off:], out)
		return
	}
	buf, off = pushRoom(buf, off, 4*k)
	ttl := ip[8]
	l := buf[off+packet.EthernetLen:]
	for i, lab := range nh.labels {
		packet.LabelEntry{Label: lab, TTL: ttl, S: i == k-1}.Put(l[4*i:])
	}
	d.send(now, op, gw, packet.EtherTypeMPLS, buf[off:], out)
}

// pushRoom makes n bytes of room before the frame at buf[off:] by moving
// off back, copying into a new buffer when the headroom is too small. The
// Ethernet header is left to be rewritten.
func pushRoom(buf []byte, off, n int) ([]byte, int) {
	if off >= n {
		return buf, off - n
	}
	nb := make([]byte, Headroom+n+len(buf)-off)
	copy(nb[Headroom+n:], buf[off:])
	return nb, Headroom
}

// tooBig handles a packet larger than the outgoing port's MTU: ICMP
// "fragmentation needed" when DF is set, else fragmentation.
func (d *Dataplane) tooBig(now time.Time, in *instance, inPort, op *Port, nh *nextHop, gw netip.Addr, frame []byte, rxLabels []byte, originated bool, out Sink) {
	ip := frame[packet.EthernetLen:]
	k := len(nh.labels)
	mtu := op.MTU - 4*k
	if ip[6]&0x40 != 0 || mtu < 68 {
		d.drop(inPort)
		if !originated {
			d.icmpError(now, in, inPort, ip, packet.ICMPDestUnreachable, packet.ICMPFragNeeded, uint16(max(mtu, 0)), rxLabels, out)
		} else {
			d.fragNeededToHost(now, in, ip, gw, uint16(max(mtu, 0)), out)
		}
		return
	}
	if !originated {
		packet.DecIPv4TTL(ip)
	}
	ihl := int(ip[0]&0xf) * 4
	hdr := make([]byte, Headroom+packet.EthernetLen+4*k)
	_ = packet.FragmentIPv4(nil, ip, mtu-ihl, func(f []byte) {
		nb := append(hdr[:len(hdr):len(hdr)], f...)
		et := uint16(packet.EtherTypeIPv4)
		if k > 0 {
			et = packet.EtherTypeMPLS
			for i, lab := range nh.labels {
				packet.LabelEntry{Label: lab, TTL: f[8], S: i == k-1}.Put(nb[Headroom+packet.EthernetLen+4*i:])
			}
		}
		d.send(now, op, gw, et, nb[Headroom:], out)
	})
}

func (d *Dataplane) drop(p *Port) {
	if p != nil {
		p.c.Drops++
	}
}

// puntTo hands an IPv4 frame addressed to the router in instance in to a
// host stack of that instance: the receiving port's when it belongs to the
// instance, else as puntLocal does (the instance's first port, or its own
// tap when it has none), with the Ethernet header rewritten.
func (d *Dataplane) puntTo(in *instance, inPort *Port, frame []byte, out Sink) {
	if inPort != nil && inPort.inst == in {
		d.punt(inPort, nil, frame, out)
		return
	}
	src := packet.MAC{}
	if inPort != nil {
		src = inPort.MAC
	}
	d.puntLocal(in, inPort, src, frame, out)
}

// send writes the Ethernet header of frame (which starts with room for it)
// and transmits it to neighbour gw on port p, resolving gw first if needed.
func (d *Dataplane) send(now time.Time, p *Port, gw netip.Addr, etherType uint16, frame []byte, out Sink) {
	n := p.neigh[gw]
	if n != nil && n.resolved {
		packet.PutEthernet(frame, n.mac, p.MAC, etherType)
		n.used = now
		if !n.static && now.Sub(n.updated) > d.cfg.NeighReachable && now.Sub(n.lastReq) >= d.cfg.ARPInterval {
			n.lastReq = now
			d.sendARPRequest(p, gw, n.mac, out)
		}
		d.transmit(p, nil, frame, out)
		return
	}
	if n == nil {
		n = &neighbour{}
		p.neigh[gw] = n
	}
	n.used = now
	packet.PutEthernet(frame, packet.MAC{}, p.MAC, etherType)
	if len(n.queue) >= d.cfg.QueueLen {
		n.queue = n.queue[1:]
		p.c.Drops++
	}
	n.queue = append(n.queue, append([]byte(nil), frame...))
	if n.tries == 0 || now.Sub(n.lastReq) >= d.cfg.ARPInterval {
		n.tries++
		n.lastReq = now
		d.sendARPRequest(p, gw, packet.Broadcast, out)
	}
}

func (d *Dataplane) sendARPRequest(p *Port, target netip.Addr, dst packet.MAC, out Sink) {
	a := packet.ARP{Op: packet.ARPRequest, SenderHW: p.MAC, SenderIP: portSource(p, target), TargetIP: target}
	d.transmit(p, nil, packet.ARPFrame(dst, p.MAC, &a), out)
}

// portSource is the port address on target's subnet, else its first
// address, else 0.0.0.0 (an ARP probe).
func portSource(p *Port, target netip.Addr) netip.Addr {
	for _, a := range p.Addrs {
		if a.Contains(target) {
			return a.Addr()
		}
	}
	if len(p.Addrs) > 0 {
		return p.Addrs[0].Addr()
	}
	return netip.IPv4Unspecified()
}

func (d *Dataplane) arpInput(now time.Time, p *Port, b []byte, out Sink) {
	a, err := packet.ParseARP(b)
	if err != nil || !a.SenderIP.IsValid() || a.SenderIP.IsUnspecified() {
		return
	}
	_, known := p.neigh[a.SenderIP]
	create := known
	for _, pa := range p.Addrs {
		if pa.Contains(a.SenderIP) || pa.Addr() == a.TargetIP {
			create = true
		}
	}
	if create {
		d.learn(now, p, a.SenderIP, a.SenderHW, false, out)
	}
}

// learn records a resolved neighbour and sends the frames queued for it.
func (d *Dataplane) learn(now time.Time, p *Port, addr netip.Addr, mac packet.MAC, static bool, out Sink) {
	n := p.neigh[addr]
	if n == nil {
		n = &neighbour{used: now}
		p.neigh[addr] = n
	}
	n.mac, n.resolved, n.updated, n.tries = mac, true, now, 0
	n.static = n.static || static
	q := n.queue
	n.queue = nil
	for _, f := range q {
		copy(f[0:6], mac[:])
		d.transmit(p, nil, f, out)
	}
}

// Tick retries ARP for unresolved neighbours, gives up on them after
// ARPRetries requests, and removes entries unused for NeighGC.
func (d *Dataplane) Tick(now time.Time, out Sink) {
	for _, p := range d.byID {
		if p == nil {
			continue
		}
		for a, n := range p.neigh {
			switch {
			case !n.resolved && now.Sub(n.lastReq) >= d.cfg.ARPInterval:
				if n.tries >= d.cfg.ARPRetries {
					p.c.Drops += uint64(len(n.queue))
					delete(p.neigh, a)
					d.unreachableQueued(now, p, n.queue, out)
					continue
				}
				n.tries++
				n.lastReq = now
				d.sendARPRequest(p, a, packet.Broadcast, out)
			case n.resolved && !n.static && now.Sub(n.used) > d.cfg.NeighGC && now.Sub(n.updated) > d.cfg.NeighGC:
				delete(p.neigh, a)
			}
		}
	}
}

// Resolving tells whether a neighbour is being resolved (Tick then has ARP
// retries due within ARPInterval); without one, Tick only ages neighbours,
// which a tick a second is enough for.
func (d *Dataplane) Resolving() bool {
	for _, p := range d.byID {
		if p == nil {
			continue
		}
		for _, n := range p.neigh {
			if !n.resolved {
				return true
			}
		}
	}
	return false
}

// unreachableQueued answers the IPv4 packets that waited for a neighbour
// that never answered with ICMP host unreachable, as a host would. Labelled
// frames are dropped silently (their source may live in another instance).
func (d *Dataplane) unreachableQueued(now time.Time, p *Port, queue [][]byte, out Sink) {
	for _, f := range queue {
		if len(f) < packet.EthernetLen || binary.BigEndian.Uint16(f[12:14]) != packet.EtherTypeIPv4 {
			continue
		}
		ip := f[packet.EthernetLen:]
		if validIPv4(ip) == 0 {
			continue
		}
		d.icmpError(now, p.inst, nil, ip, packet.ICMPDestUnreachable, packet.ICMPHostUnreachable, 0, nil, out)
	}
}

// flowHash hashes the IPv4 addresses, protocol and (for unfragmented TCP and
// UDP) ports, so one flow always takes the same ECMP member.
func flowHash(ip []byte) uint32 {
	h := uint64(be32(ip[12:16]))<<32 | uint64(be32(ip[16:20]))
	h ^= uint64(ip[9]) << 17
	ihl := int(ip[0]&0xf) * 4
	if (ip[9] == packet.ProtoTCP || ip[9] == packet.ProtoUDP) && binary.BigEndian.Uint16(ip[6:8])&0x3fff == 0 && len(ip) >= ihl+4 {
		h ^= uint64(be32(ip[ihl:])) * 0x9e3779b97f4a7c15
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return uint32(h)
}
