package packet

import (
	"encoding/binary"
	"fmt"
)

// VnetHdrLen is the length of struct virtio_net_hdr, which AF_PACKET sockets
// with PACKET_VNET_HDR and tap devices with IFF_VNET_HDR put before each frame.
const VnetHdrLen = 10

// virtio_net_hdr flags and GSO types.
const (
	VnetFlagNeedsCsum = 1
	VnetFlagDataValid = 2

	VnetGSONone  = 0
	VnetGSOTCPv4 = 1
	VnetGSOUDP   = 3 // UFO: one UDP datagram sent as IPv4 fragments
	VnetGSOTCPv6 = 4
	VnetGSOUDPL4 = 5 // USO: UDP segmentation, one datagram per segment
	VnetGSOECN   = 0x80
)

// VnetHdr is struct virtio_net_hdr. The kernel uses the legacy (host byte
// order) layout for packet sockets and taps; this codec uses host order.
type VnetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16
	GSOSize    uint16
	CsumStart  uint16
	CsumOffset uint16
}

// ParseVnetHdr parses the header at the start of b.
func ParseVnetHdr(b []byte) (VnetHdr, error) {
	if len(b) < VnetHdrLen {
		return VnetHdr{}, fmt.Errorf("virtio-net header: %w", ErrShort)
	}
	return VnetHdr{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.NativeEndian.Uint16(b[2:4]),
		GSOSize:    binary.NativeEndian.Uint16(b[4:6]),
		CsumStart:  binary.NativeEndian.Uint16(b[6:8]),
		CsumOffset: binary.NativeEndian.Uint16(b[8:10]),
	}, nil
}

// Put writes the header into b[0:10].
func (h *VnetHdr) Put(b []byte) {
	b[0], b[1] = h.Flags, h.GSOType
	binary.NativeEndian.PutUint16(b[2:4], h.HdrLen)
	binary.NativeEndian.PutUint16(b[4:6], h.GSOSize)
	binary.NativeEndian.PutUint16(b[6:8], h.CsumStart)
	binary.NativeEndian.PutUint16(b[8:10], h.CsumOffset)
}

// Plain reports whether the frame needs neither checksum completion nor segmentation.
func (h *VnetHdr) Plain() bool {
	return h.GSOType&^VnetGSOECN == VnetGSONone && h.Flags&VnetFlagNeedsCsum == 0
}

// CompleteChecksum finishes a CHECKSUM_PARTIAL frame in place: the 16-bit
// field at CsumStart+CsumOffset holds the pseudo-header sum, and the
// checksum covers the frame from CsumStart to its end.
func CompleteChecksum(frame []byte, h VnetHdr) error {
	if h.Flags&VnetFlagNeedsCsum == 0 {
		return nil
	}
	start := int(h.CsumStart)
	field := start + int(h.CsumOffset)
	if start > len(frame) || field+2 > len(frame) {
		return fmt.Errorf("checksum start %d offset %d beyond frame of %d bytes: %w", h.CsumStart, h.CsumOffset, len(frame), ErrMalformed)
	}
	c := Checksum(frame[start:])
	if c == 0 && field >= start+6 && isUDPAt(frame, start) {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(frame[field:], c)
	return nil
}

// isUDPAt guesses whether the L4 header at off is UDP by looking at the IPv4
// header before it (used only to map a zero UDP checksum to 0xffff).
func isUDPAt(frame []byte, off int) bool {
	_, l2, err := ParseEthernet(frame)
	if err != nil || l2+IPv4Len > len(frame) || frame[l2]>>4 != 4 {
		return false
	}
	return frame[l2+9] == ProtoUDP && l2+int(frame[l2]&0xf)*4 == off
}

// Segment turns a frame received with virtio-net header h into frames that
// need no offload: a GSO super-packet (TCPv4, UFO or UDP L4) is cut into
// segments with complete headers and checksums; a CHECKSUM_PARTIAL frame has
// its checksum completed (in place); other frames pass unchanged. emit is
// called for each resulting frame; the slice is only valid during the call.
func Segment(frame []byte, h VnetHdr, emit func([]byte)) error {
	gso := h.GSOType &^ VnetGSOECN
	if gso == VnetGSONone {
		if err := CompleteChecksum(frame, h); err != nil {
			return err
		}
		emit(frame)
		return nil
	}
	if h.GSOSize == 0 {
		return fmt.Errorf("gso type %d with size 0: %w", gso, ErrMalformed)
	}
	_, l2, err := ParseEthernet(frame)
	if err != nil {
		return err
	}
	ip, err := ParseIPv4(frame[l2:])
	if err != nil {
		return fmt.Errorf("gso: %w", err)
	}
	// Trailing bytes beyond the IP total length are not part of the packet.
	frame = frame[:l2+int(ip.TotalLen)]
	l4 := l2 + ip.IHL
	switch gso {
	case VnetGSOTCPv4:
		if ip.Protocol != ProtoTCP {
			return fmt.Errorf("gso tcpv4 on protocol %d: %w", ip.Protocol, ErrMalformed)
		}
		return segmentTCP(frame, l2, l4, int(h.GSOSize), emit)
	case VnetGSOUDPL4:
		if ip.Protocol != ProtoUDP {
			return fmt.Errorf("gso udp_l4 on protocol %d: %w", ip.Protocol, ErrMalformed)
		}
		return segmentUDP(frame, l2, l4, int(h.GSOSize), emit)
	case VnetGSOUDP:
		if ip.Protocol != ProtoUDP {
			return fmt.Errorf("gso udp on protocol %d: %w", ip.Protocol, ErrMalformed)
		}
		return fragmentUFO(frame, l2, l4, int(h.GSOSize), emit)
	}
	return fmt.Errorf("gso type %d not supported: %w", gso, ErrMalformed)
}

func segmentTCP(frame []byte, l2, l4, mss int, emit func([]byte)) error {
	if l4+20 > len(frame) {
		return fmt.Errorf("tcp header: %w", ErrShort)
	}
	thl := int(frame[l4+12]>>4) * 4
	if thl < 20 || l4+thl > len(frame) {
		return fmt.Errorf("tcp header length %d: %w", thl, ErrMalformed)
	}
	hdr := l4 + thl
	payload := frame[hdr:]
	seq := binary.BigEndian.Uint32(frame[l4+4:])
	id := binary.BigEndian.Uint16(frame[l2+4:])
	flags := frame[l4+13]
	seg := make([]byte, 0, hdr+mss)
	for i, off := 0, 0; off < len(payload) || (off == 0 && len(payload) == 0); i++ {
		n := min(mss, len(payload)-off)
		seg = append(seg[:0], frame[:hdr]...)
		seg = append(seg, payload[off:off+n]...)
		ip := seg[l2:]
		binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
		binary.BigEndian.PutUint16(ip[4:6], id+uint16(i))
		SetIPv4Checksum(ip)
		t := seg[l4:]
		binary.BigEndian.PutUint32(t[4:8], seq+uint32(off))
		f := flags
		if off+n < len(payload) {
			f &^= 0x01 | 0x08 // FIN, PSH only on the last segment
		}
		if i > 0 {
			f &^= 0x80 // CWR only on the first
		}
		t[13] = f
		t[16], t[17] = 0, 0
		s := PseudoHeaderSum(ip[12:16], ip[16:20], ProtoTCP, len(t))
		binary.BigEndian.PutUint16(t[16:18], ^Fold(Sum(t, s)))
		emit(seg)
		off += n
		if n == 0 {
			break
		}
	}
	return nil
}

func segmentUDP(frame []byte, l2, l4, size int, emit func([]byte)) error {
	hdr := l4 + 8
	if hdr > len(frame) {
		return fmt.Errorf("udp header: %w", ErrShort)
	}
	payload := frame[hdr:]
	id := binary.BigEndian.Uint16(frame[l2+4:])
	seg := make([]byte, 0, hdr+size)
	for i, off := 0, 0; off < len(payload) || (off == 0 && len(payload) == 0); i++ {
		n := min(size, len(payload)-off)
		seg = append(seg[:0], frame[:hdr]...)
		seg = append(seg, payload[off:off+n]...)
		ip := seg[l2:]
		binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
		binary.BigEndian.PutUint16(ip[4:6], id+uint16(i))
		SetIPv4Checksum(ip)
		u := seg[l4:]
		binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
		setUDPChecksum(ip, u)
		emit(seg)
		off += n
		if n == 0 {
			break
		}
	}
	return nil
}

func setUDPChecksum(ip, u []byte) {
	u[6], u[7] = 0, 0
	s := PseudoHeaderSum(ip[12:16], ip[16:20], ProtoUDP, len(u))
	c := ^Fold(Sum(u, s))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:8], c)
}

// fragmentUFO computes the UDP checksum of the whole datagram and sends it
// as IPv4 fragments carrying at most size bytes (rounded down to a multiple
// of 8) of IP payload each.
func fragmentUFO(frame []byte, l2, l4, size int, emit func([]byte)) error {
	if l4+8 > len(frame) {
		return fmt.Errorf("udp header: %w", ErrShort)
	}
	if frame[l2+6]&0x40 != 0 && len(frame)-l4 > size {
		return fmt.Errorf("ufo packet has DF set: %w", ErrMalformed)
	}
	ip := frame[l2:]
	u := frame[l4:]
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	setUDPChecksum(ip, u)
	return FragmentIPv4(frame[:l2], frame[l2:], size, emit)
}

// FragmentIPv4 splits the IPv4 packet pkt into fragments with at most
// maxPayload bytes of IP payload each (rounded down to a multiple of 8),
// prefixing each with l2 (a link header, may be empty). The packet may
// itself be a fragment. Options are copied into every fragment.
func FragmentIPv4(l2, pkt []byte, maxPayload int, emit func([]byte)) error {
	h, err := ParseIPv4(pkt)
	if err != nil {
		return err
	}
	maxPayload &^= 7
	if maxPayload < 8 {
		return fmt.Errorf("fragment size %d: %w", maxPayload, ErrMalformed)
	}
	payload := pkt[h.IHL:h.TotalLen]
	buf := make([]byte, 0, len(l2)+h.IHL+maxPayload)
	for off := 0; off < len(payload); {
		n := min(maxPayload, len(payload)-off)
		buf = append(buf[:0], l2...)
		buf = append(buf, pkt[:h.IHL]...)
		buf = append(buf, payload[off:off+n]...)
		fip := buf[len(l2):]
		binary.BigEndian.PutUint16(fip[2:4], uint16(h.IHL+n))
		fw := uint16(h.Flags)<<13 | (h.FragOff + uint16(off/8))
		if off+n < len(payload) {
			fw |= IPv4MoreFragments << 13
		}
		binary.BigEndian.PutUint16(fip[6:8], fw)
		SetIPv4Checksum(fip)
		emit(buf)
		off += n
	}
	return nil
}
