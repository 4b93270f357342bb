package mplsecho

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// FEC is what the router knows about a FEC of an echo request.
type FEC struct {
	// Egress: the router is the FEC's egress (its own address).
	Egress bool
	// Downstream are where the router switches the FEC's packets (empty
	// when it has no mapping for the FEC).
	Downstream []DDMap
}

// Reply answers a request (pure): an egress for the FEC replies "egress at
// stack depth 1", a transit LSR "label switched at stack depth 1" with its
// downstream mappings when the request asked for them, a router without a
// mapping "no mapping at stack depth 1". ok is false when no reply is due
// (not a request, or reply mode "no reply").
func Reply(req *Message, lookup func(netip.Prefix) FEC, now time.Time) (*Message, bool) {
	if req.Type != TypeRequest || req.ReplyMode == ReplyNone {
		return nil, false
	}
	rep := &Message{Type: TypeReply, ReplyMode: req.ReplyMode, Handle: req.Handle, Seq: req.Seq,
		Sent: req.Sent, Received: now}
	for _, u := range req.Unknown {
		if u.Type < 0x8000 {
			// A mandatory TLV this router does not understand.
			rep.ReturnCode = CodeUnknownTLV
			rep.Unknown = append(rep.Unknown, TLV{Type: tlvErrored, Value: append(tlvHeader(u), u.Value...)})
			return rep, true
		}
	}
	if len(req.FECs) == 0 {
		rep.ReturnCode = CodeMalformed
		return rep, true
	}
	f := lookup(req.FECs[0])
	rep.ReturnSubcode = 1
	switch {
	case f.Egress:
		rep.ReturnCode = CodeEgress
	case len(f.Downstream) > 0:
		rep.ReturnCode = CodeLabelSwitch
		if len(req.DDMaps) > 0 {
			rep.DDMaps = f.Downstream
		}
	default:
		rep.ReturnCode = CodeNoMapping
	}
	return rep, true
}

func tlvHeader(u TLV) []byte {
	return []byte{byte(u.Type >> 8), byte(u.Type), byte(len(u.Value) >> 8), byte(len(u.Value))}
}

// Responder answers echo requests that arrive on a UDP socket bound to
// port 3503 in the routing instance's namespace (see Listen).
type Responder struct {
	// Lookup tells what the router knows of a FEC.
	Lookup func(netip.Prefix) FEC
	// Source is the address a reply comes from, given the index of the
	// interface the request arrived on (0: unknown) and whether the router
	// is the FEC's egress (invalid: the kernel chooses). vpnos answers
	// from its LSR ID as the egress and from the receiving interface's
	// address otherwise, so that traceroute shows where the LSP went.
	Source func(ifindex int, egress bool) netip.Addr
	Log    *slog.Logger
	Now    func() time.Time
}

// Listen opens the responder's socket on addr (":3503" in the routing
// instance's namespace), with IP_PKTINFO set before anything arrives so
// that every request tells its receiving interface.
func Listen(ctx context.Context, addr string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1) }); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// Serve answers the requests arriving on conn until ctx ends or conn
// closes; malformed messages are counted in the log and ignored.
func (r *Responder) Serve(ctx context.Context, conn *net.UDPConn) error {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	buf := make([]byte, 65536)
	oobIn := make([]byte, 128)
	for {
		n, noob, _, from, err := conn.ReadMsgUDPAddrPort(buf, oobIn)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		req, err := Decode(buf[:n])
		if err != nil {
			// A request too broken to decode cannot be matched by its
			// sender: nothing to answer.
			log.Debug("mpls echo: malformed message", "from", from, "err", err)
			continue
		}
		rep, ok := Reply(req, r.Lookup, now())
		if !ok {
			continue
		}
		var oob []byte
		if r.Source != nil {
			if src := r.Source(pktinfoIndex(oobIn[:noob]), rep.ReturnCode == CodeEgress); src.Is4() {
				oob = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: src.As4()})
			}
		}
		to := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if _, _, err := conn.WriteMsgUDPAddrPort(rep.Marshal(), oob, to); err != nil {
			log.Debug("mpls echo: reply", "to", to, "err", err)
		}
	}
}

// pktinfoIndex reads the incoming interface from an IP_PKTINFO control
// message (0 when there is none).
func pktinfoIndex(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo {
			return int(int32(binary.NativeEndian.Uint32(m.Data[0:4])))
		}
	}
	return 0
}
