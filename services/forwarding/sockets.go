package forwarding

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"vpnos/services/forwarding/dataplane"
	"vpnos/services/forwarding/packet"
)

// maxFrame is the receive buffer size per frame: a GSO super-packet from a
// veth can be up to 64 KB.
const maxFrame = 65536 + 128

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openPacketSocket opens an AF_PACKET socket bound to ifindex with the
// virtio-net header enabled, in the calling thread's network namespace, with
// a TPACKET_V3 receive ring when ring is set. With group >= 0 the socket
// joins that fanout group (Forwarder.switchRx); newGroup makes a new one,
// whose id is returned; -1 joins none.
func openPacketSocket(ifindex int, ring bool, group int) (int, *rxRing, int, error) {
	// Protocol 0 receives nothing until bind, so no frame of another
	// interface slips in before the socket is bound.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, 0, fmt.Errorf("af_packet socket: %w", err)
	}
	opts := []struct {
		level, opt, val int
		name            string
	}{
		{unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1, "PACKET_VNET_HDR"},
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING"},
		// No PACKET_QDISC_BYPASS: it made no measurable difference on veth
		// and hid the forwarder's transmissions from captures on the port.
		{unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8 << 20, "SO_RCVBUFFORCE"},
		{unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4 << 20, "SO_SNDBUFFORCE"},
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			unix.Close(fd)
			return -1, nil, 0, fmt.Errorf("setsockopt %s: %w", o.name, err)
		}
	}
	if !ring {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			unix.Close(fd)
			return -1, nil, 0, fmt.Errorf("setsockopt PACKET_AUXDATA: %w", err)
		}
	}
	var rx *rxRing
	if ring {
		rx, err = setupRxRing(fd)
		if err != nil {
			unix.Close(fd)
			return -1, nil, 0, err
		}
	}
	fail := func(err error) (int, *rxRing, int, error) {
		rx.close()
		unix.Close(fd)
		return -1, nil, 0, err
	}
	if group >= 0 {
		// Bound on its own, the socket would get a copy of every frame
		// the group's member gets, until it joins the group.
		if err := attachFilter(fd, unix.SO_ATTACH_FILTER, 0); err != nil {
			return fail(fmt.Errorf("packet socket filter: %w", err))
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fail(fmt.Errorf("bind af_packet to ifindex %d: %w", ifindex, err))
	}
	if group < 0 {
		return fd, rx, 0, nil
	}
	flags := unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING
	if group == newGroup {
		group, flags = 0, flags|unix.PACKET_FANOUT_FLAG_UNIQUEID
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, group|(unix.PACKET_FANOUT_CBPF|flags)<<16); err != nil {
		return fail(fmt.Errorf("%w: PACKET_FANOUT: %w", errNoFanout, err))
	}
	if flags&unix.PACKET_FANOUT_FLAG_UNIQUEID != 0 {
		v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
		if err != nil {
			return fail(fmt.Errorf("%w: PACKET_FANOUT id: %w", errNoFanout, err))
		}
		group = v & 0xffff
		// An explicit program from the start: replacing it later waits
		// until no frame is still on its way to the old member.
		if err := attachFilter(fd, unix.PACKET_FANOUT_DATA, 0); err != nil {
			return fail(fmt.Errorf("%w: PACKET_FANOUT_DATA: %w", errNoFanout, err))
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0); err != nil {
		return fail(fmt.Errorf("packet socket filter: %w", err))
	}
	return fd, rx, group, nil
}

// newGroup asks openPacketSocket for a fanout group of the socket's own
// (fanout ids are 16 bits).
const newGroup = 1 << 16

// errNoFanout: the kernel lacks what switching a port between recvmmsg and
// its ring needs (PACKET_FANOUT with CBPF, unique ids and
// PACKET_FANOUT_FLAG_IGNORE_OUTGOING).
var errNoFanout = errors.New("packet fanout unavailable")

// attachFilter installs the one-instruction classic BPF program "return k"
// with setsockopt opt: as a socket filter (SO_ATTACH_FILTER) k = 0 drops
// every frame; as a fanout program (PACKET_FANOUT_DATA) k is the member of
// the group that receives every frame.
func attachFilter(fd, opt int, k uint32) error {
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: k}}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	level := unix.SOL_SOCKET
	if opt == unix.PACKET_FANOUT_DATA {
		level = unix.SOL_PACKET
	}
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&fprog)), unsafe.Sizeof(fprog), 0)
	runtime.KeepAlive(prog)
	if e != 0 {
		return e
	}
	return nil
}

// openTap creates a tap device named name in the calling thread's network
// namespace with IFF_VNET_HDR, and returns its non-blocking fd.
func openTap(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("tap %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	return fd, nil
}

// ring holds the batch buffers of one physical port.
type ring struct {
	// receive
	rxBuf  [][]byte // Headroom + maxFrame each
	rxVnet [][packet.VnetHdrLen]byte
	rxIov  []unix.Iovec
	rxMsg  []unix.Mmsghdr
	rxCtl  [][auxSpace]byte // PACKET_AUXDATA control messages
	// transmit
	txVnet  [][]byte
	txFrame [][]byte
	txIov   []unix.Iovec
	txMsg   []unix.Mmsghdr
	// frames read from the tap
	tapBuf [][]byte
	// mem holds rxBuf and tapBuf: one anonymous mapping outside the Go
	// heap (see newRing), unmapped by free.
	mem []byte
}

var zeroVnet [packet.VnetHdrLen]byte

// newRing makes the batch buffers of a port (or of an instance's tap when
// recv is false). A buffer takes a frame of up to maxFrame bytes (a GSO
// super-packet), so a port's buffers add up to 5 MB. They live in one
// anonymous mapping rather than on the Go heap: the kernel backs a page
// with memory only once a frame is written into it, so an idle port costs
// the few pages its small frames touch, not 5 MB, and the collector neither
// counts nor clears them (on the heap, a reused span is zeroed whole at
// allocation and the buffers double the heap goal). free unmaps them.
func newRing(batch int, recv bool) (*ring, error) {
	r := &ring{
		txIov:  make([]unix.Iovec, 2*batch),
		txMsg:  make([]unix.Mmsghdr, batch),
		tapBuf: make([][]byte, min(batch, 16)),
	}
	for i := range r.txMsg {
		r.txMsg[i].Hdr.Iov = &r.txIov[2*i]
		r.txMsg[i].Hdr.SetIovlen(2)
	}
	const tapSize, rxSize = dataplane.Headroom + maxFrame, rxOff + maxFrame
	size := len(r.tapBuf) * tapSize
	if recv {
		size += batch * rxSize
	}
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap frame buffers: %w", err)
	}
	r.mem = mem
	for i := range r.tapBuf {
		r.tapBuf[i], mem = mem[:tapSize:tapSize], mem[tapSize:]
	}
	if !recv {
		return r, nil
	}
	r.rxBuf = make([][]byte, batch)
	r.rxVnet = make([][packet.VnetHdrLen]byte, batch)
	r.rxIov = make([]unix.Iovec, 2*batch)
	r.rxMsg = make([]unix.Mmsghdr, batch)
	r.rxCtl = make([][auxSpace]byte, batch)
	for i := range r.rxBuf {
		r.rxBuf[i], mem = mem[:rxSize:rxSize], mem[rxSize:]
		r.rxIov[2*i].Base = &r.rxVnet[i][0]
		r.rxIov[2*i].SetLen(packet.VnetHdrLen)
		r.rxIov[2*i+1].Base = &r.rxBuf[i][rxOff]
		r.rxIov[2*i+1].SetLen(maxFrame)
		r.rxMsg[i].Hdr.Iov = &r.rxIov[2*i]
		r.rxMsg[i].Hdr.SetIovlen(2)
	}
	return r, nil
}

// free unmaps the frame buffers. The forwarder calls it when the port is
// dropped, under its lock: no frame of the ring is queued anywhere then,
// since every batch is flushed before the lock is let go.
func (r *ring) free() {
	if r == nil || r.mem == nil {
		return
	}
	r.rxBuf, r.tapBuf, r.rxMsg, r.rxIov = nil, nil, nil, nil
	_ = unix.Munmap(r.mem)
	r.mem = nil
}

// rxOff is where a received frame starts in its buffer: headroom for the
// dataplane plus room to put back a VLAN tag.
const rxOff = dataplane.Headroom + vlanLen

// auxSpace holds one PACKET_AUXDATA control message.
const auxSpace = 64

// recv reads up to a batch of frames without blocking; it returns how many.
func (r *ring) recv(fd int) (int, error) {
	for i := range r.rxMsg {
		r.rxMsg[i].Hdr.Control = &r.rxCtl[i][0]
		r.rxMsg[i].Hdr.SetControllen(auxSpace)
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.rxMsg[0])), uintptr(len(r.rxMsg)), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == 0:
			return int(n), nil
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return 0, nil
		default:
			return 0, e
		}
	}
}

// queue adds a frame to the transmit batch; it reports whether the batch is full.
func (r *ring) queue(vnet, frame []byte) bool {
	if len(vnet) < packet.VnetHdrLen {
		vnet = zeroVnet[:]
	}
	r.txVnet = append(r.txVnet, vnet)
	r.txFrame = append(r.txFrame, frame)
	return len(r.txFrame) == len(r.txMsg)
}

// flush sends the transmit batch and returns how many frames could not be sent.
func (r *ring) flush(fd int) (dropped int, err error) {
	n := len(r.txFrame)
	if n == 0 {
		return 0, nil
	}
	for i := 0; i < n; i++ {
		r.txIov[2*i].Base = &r.txVnet[i][0]
		r.txIov[2*i].SetLen(packet.VnetHdrLen)
		r.txIov[2*i+1].Base = &r.txFrame[i][0]
		r.txIov[2*i+1].SetLen(len(r.txFrame[i]))
	}
	sent := 0
	for sent < n {
		m, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.txMsg[sent])), uintptr(n-sent), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			// The frame at sent is refused (too big, link down...): skip it.
			if errors.Is(e, unix.EAGAIN) || errors.Is(e, unix.ENOBUFS) {
				dropped += n - sent
				break
			}
			err = e
			dropped++
			sent++
			continue
		}
		sent += int(m)
	}
	for i := 0; i < n; i++ {
		r.txVnet[i], r.txFrame[i] = nil, nil
		r.txIov[2*i].Base, r.txIov[2*i+1].Base = nil, nil
	}
	r.txVnet, r.txFrame = r.txVnet[:0], r.txFrame[:0]
	return dropped, err
}

// vlan returns the 802.1Q tag the kernel moved out of frame i into its
// PACKET_AUXDATA, if any.
func (r *ring) vlan(i int) (tpid, tci uint16, ok bool) {
	ctl := r.rxCtl[i][:min(int(r.rxMsg[i].Hdr.Controllen), auxSpace)]
	for len(ctl) >= unix.CmsgLen(0) {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(ctl) {
			return 0, 0, false
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l >= unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))) {
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&ctl[unix.CmsgLen(0)]))
			if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 {
				return 0, 0, false
			}
			tpid = packet.EtherTypeVLAN
			if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
				tpid = aux.Vlan_tpid
			}
			return tpid, aux.Vlan_tci, true
		}
		ctl = ctl[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(ctl)):]
	}
	return 0, 0, false
}
