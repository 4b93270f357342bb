package forwarding

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"vpnos/services/forwarding/dataplane"
	"vpnos/services/forwarding/packet"
)

// TPACKET_V3 receive ring geometry: blocks hold many frames and are handed
// to userspace when full or after rxRetire milliseconds. A block must hold
// the largest GSO super-packet.
const (
	rxBlockSize = 1 << 17
	rxBlocks    = 16
	rxFrameSize = 1 << 11
	rxRetireMs  = 1
	// rxReserve is the space the kernel leaves before each frame's MAC
	// header: the dataplane pushes labels into it.
	rxReserve = dataplane.Headroom + 16
)

// Offsets in struct tpacket_block_desc / tpacket_hdr_v1 and tpacket3_hdr.
const (
	bdBlockStatus = 8
	bdNumPkts     = 12
	bdFirstPkt    = 16
	t3NextOffset  = 0
	t3Snaplen     = 12
	t3Len         = 16
	t3Status      = 20
	t3Mac         = 24
	t3VlanTCI     = 32
	t3VlanTPID    = 36
	t3HdrLen      = 48
)

// rxRing is a memory-mapped TPACKET_V3 receive ring.
type rxRing struct {
	mem   []byte
	cur   int
	vnet  [packet.VnetHdrLen]byte
	trunc uint64 // frames longer than their snapshot (dropped)
}

// setupRxRing switches the (unbound or bound) packet socket to TPACKET_V3
// and maps its receive ring. PACKET_VNET_HDR must already be set.
func setupRxRing(fd int) (*rxRing, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("PACKET_VERSION v3: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, rxReserve); err != nil {
		return nil, fmt.Errorf("PACKET_RESERVE: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     rxBlockSize,
		Block_nr:       rxBlocks,
		Frame_size:     rxFrameSize,
		Frame_nr:       rxBlockSize / rxFrameSize * rxBlocks,
		Retire_blk_tov: rxRetireMs,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("PACKET_RX_RING: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, rxBlockSize*rxBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap rx ring: %w", err)
	}
	return &rxRing{mem: mem}, nil
}

func (r *rxRing) close() {
	if r != nil && r.mem != nil {
		_ = unix.Munmap(r.mem)
		r.mem = nil
	}
}

func (r *rxRing) status(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[b*rxBlockSize+bdBlockStatus]))
}

// next returns the next block owned by userspace, or nil.
func (r *rxRing) next() []byte {
	if atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER == 0 {
		return nil
	}
	return r.mem[r.cur*rxBlockSize : (r.cur+1)*rxBlockSize]
}

// pending tells whether the block the kernel fills holds frames it has not
// handed over yet.
func (r *rxRing) pending() bool {
	if atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER != 0 {
		return true
	}
	n := (*uint32)(unsafe.Pointer(&r.mem[r.cur*rxBlockSize+bdNumPkts]))
	return atomic.LoadUint32(n) != 0
}

// release hands the current block back to the kernel.
func (r *rxRing) release() {
	atomic.StoreUint32(r.status(r.cur), unix.TP_STATUS_KERNEL)
	r.cur = (r.cur + 1) % rxBlocks
}

// frames calls fn for every frame of block: vnet is the frame's virtio-net
// header, buf[off:] the frame with at least dataplane.Headroom bytes of
// writable room before it.
func (r *rxRing) frames(block []byte, fn func(vnet, buf []byte, off int)) {
	le := binary.NativeEndian
	n := int(le.Uint32(block[bdNumPkts:]))
	p := int(le.Uint32(block[bdFirstPkt:]))
	for i := 0; i < n; i++ {
		if p <= 0 || p+t3HdrLen > len(block) {
			return
		}
		h := block[p:]
		snap := int(le.Uint32(h[t3Snaplen:]))
		length := int(le.Uint32(h[t3Len:]))
		mac := p + int(le.Uint16(h[t3Mac:]))
		next := int(le.Uint32(h[t3NextOffset:]))
		start := mac - dataplane.Headroom - vlanLen
		if snap < length || mac+snap > len(block) || start < p+t3HdrLen || snap < packet.EthernetLen {
			r.trunc++
		} else {
			copy(r.vnet[:], block[mac-packet.VnetHdrLen:mac])
			status := le.Uint32(h[t3Status:])
			if status&unix.TP_STATUS_VLAN_VALID != 0 {
				tpid := uint16(packet.EtherTypeVLAN)
				if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
					tpid = le.Uint16(h[t3VlanTPID:])
				}
				mac = insertVLAN(block, mac, tpid, uint16(le.Uint32(h[t3VlanTCI:])))
				snap += vlanLen
			}
			fn(r.vnet[:], block[mac-dataplane.Headroom:mac+snap], dataplane.Headroom)
		}
		if next == 0 {
			return
		}
		p += next
	}
}

const vlanLen = 4

// insertVLAN puts back the 802.1Q tag the kernel moved out of the frame at
// b[mac:] (into packet metadata) before the frame reached the packet socket,
// so the dataplane sees tagged frames as tagged. It uses 4 bytes of room
// before the frame and returns the frame's new start.
func insertVLAN(b []byte, mac int, tpid, tci uint16) int {
	copy(b[mac-vlanLen:mac+2*6-vlanLen], b[mac:mac+2*6])
	binary.BigEndian.PutUint16(b[mac+2*6-vlanLen:], tpid)
	binary.BigEndian.PutUint16(b[mac+2*6-vlanLen+2:], tci)
	return mac - vlanLen
}
