package forwarding

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// progLoadAttr is the head of union bpf_attr for BPF_PROG_LOAD.
type progLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
	progName    [16]byte
}

// loadDropProgram loads a two-instruction tc classifier that returns
// TC_ACT_SHOT for every packet and returns its fd.
func loadDropProgram() (int, error) {
	insns := []uint64{
		// r0 = 2 (TC_ACT_SHOT): opcode BPF_ALU64|BPF_MOV|BPF_K, imm in the high word.
		0xb7 | 2<<32,
		// exit
		0x95,
	}
	license := []byte("GPL\x00")
	attr := progLoadAttr{
		progType: 3, // BPF_PROG_TYPE_SCHED_CLS
		insnCnt:  uint32(len(insns)),
		insns:    uint64(uintptr(unsafe.Pointer(&insns[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "vpnos_drop")
	fd, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(insns)
	runtime.KeepAlive(license)
	if e != 0 {
		return -1, fmt.Errorf("bpf prog load: %w", e)
	}
	return int(fd), nil
}

// blockKernelIngress attaches an ingress qdisc with a drop-everything
// classifier (eBPF, direct action) to the link: packet sockets still receive
// every frame (taps run before tc ingress), the kernel's protocol handlers
// receive none. This needs no tc action modules.
func blockKernelIngress(index int) error {
	q := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}}
	// A daemon that died leaves its qdisc behind, and an ingress qdisc
	// cannot be replaced: take it away first.
	_ = netlink.QdiscDel(q)
	if err := netlink.QdiscAdd(q); err != nil {
		return fmt.Errorf("ingress qdisc: %w", err)
	}
	fd, err := loadDropProgram()
	if err != nil {
		_ = netlink.QdiscDel(q)
		return err
	}
	defer unix.Close(fd) // the filter keeps its own reference
	flt := &netlink.BpfFilter{
		FilterAttrs:  netlink.FilterAttrs{LinkIndex: index, Parent: netlink.MakeHandle(0xffff, 0), Handle: 1, Priority: 1, Protocol: unix.ETH_P_ALL},
		Fd:           fd,
		Name:         "vpnos_drop",
		DirectAction: true,
	}
	if err := netlink.FilterReplace(flt); err != nil {
		_ = netlink.QdiscDel(q)
		return fmt.Errorf("drop filter: %w", err)
	}
	return nil
}

// unblockKernelIngress removes the ingress qdisc and its filter.
func unblockKernelIngress(index int) error {
	q := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}}
	return netlink.QdiscDel(q)
}
