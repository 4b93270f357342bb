package diag

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"vpnos/services/diag/mplsecho"
)

// LSP ping and traceroute (VRP's `ping lsp` and `tracert lsp`, RFC 8029): an
// MPLS echo request for the FEC is put on the LSP's first hop with the LSP's
// label, as IPv4/UDP to 127.0.0.1:3503 with IP TTL 1, from an address of the
// router; the egress of the FEC answers over IP to the UDP socket the run
// opened in the routing instance. Traceroute sends requests with label TTL
// 1, 2, ...: the LSR where the TTL runs out answers with where it switches
// the FEC's packets (its downstream mapping), until the egress answers.

// LSPHop is the first hop of an LSP: where the request leaves and the
// labels it carries (outermost first; none for implicit null).
type LSPHop struct {
	Port      string // kernel name of the port (eth3)
	Interface string // VRP name, for the output
	Gateway   netip.Addr
	Labels    []uint32
}

// LSPSender puts a packet the router built on an LSP (the forwarder's
// SendLabelled).
type LSPSender interface {
	SendLabelled(ctx context.Context, port string, gw netip.Addr, labels []uint32, ttl uint8, ip []byte) error
}

// LSPPingOptions are `ping lsp` options, with the LSP already found.
type LSPPingOptions struct {
	FEC    netip.Prefix
	Hop    LSPHop
	Source netip.Addr // the request's source and the reply's destination (required)
	// Count (-c, default 5), TTL of the label (-h, default 255), Size of
	// the echo message (-s, 65-9600, default 100), Interval between
	// requests (-m, default 200 ms), Timeout per request (-t, default 2 s).
	Count    int
	TTL      int
	Size     int
	Interval time.Duration
	Timeout  time.Duration
}

// Validate fills in the defaults and checks the ranges.
func (o LSPPingOptions) Validate() (LSPPingOptions, error) {
	if o.Count == 0 {
		o.Count = 5
	}
	if o.TTL == 0 {
		o.TTL = 255
	}
	if o.Size == 0 {
		o.Size = 100
	}
	if o.Interval == 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	switch {
	case !o.FEC.Addr().Is4():
		return o, errors.New("ping lsp: the FEC is not an IPv4 prefix")
	case !o.Source.Is4():
		return o, errors.New("ping lsp: no source address (configure the MPLS LSR ID, or give -a)")
	case o.Count < 1:
		return o, fmt.Errorf("ping lsp: count %d out of range", o.Count)
	case o.TTL < 1 || o.TTL > 255:
		return o, fmt.Errorf("ping lsp: TTL %d out of range 1-255", o.TTL)
	case o.Size < 65 || o.Size > 9600:
		return o, fmt.Errorf("ping lsp: size %d out of range 65-9600", o.Size)
	}
	return o, nil
}

// fecText is the FEC as VRP's LSP tools name it.
func fecText(p netip.Prefix) string { return "IPV4 PREFIX " + p.String() }

// lspProbe is the socket and the identity of one run.
type lspProbe struct {
	s      *sock
	port   uint16
	handle uint32
	send   LSPSender
	hop    LSPHop
	src    netip.Addr
	fec    netip.Prefix
	id     uint16
}

func openLSPProbe(ctx context.Context, ns NetNS, send LSPSender, hop LSPHop, src netip.Addr, fec netip.Prefix, tool string) (*lspProbe, error) {
	f, err := socketIn(ns, unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDP, "udp")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tool, err)
	}
	s, err := newSock(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tool, err)
	}
	if err := s.bind(src, 0); err != nil {
		s.Close()
		return nil, bindError(tool, src, err)
	}
	port, err := s.localPort()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", tool, err)
	}
	var h [4]byte
	rand.Read(h[:])
	return &lspProbe{s: s, port: uint16(port), handle: binary.BigEndian.Uint32(h[:]), send: send, hop: hop, src: src, fec: fec}, nil
}

// lspAnswer is a reply to one request.
type lspAnswer struct {
	from netip.Addr
	msg  *mplsecho.Message
	rtt  time.Duration
}

// probe sends one request with the given label TTL and waits for its reply
// (nil on timeout or cancellation).
func (p *lspProbe) probe(ctx context.Context, seq uint32, ttl int, size int, ddmap bool, timeout time.Duration) (*lspAnswer, error) {
	m := &mplsecho.Message{Flags: mplsecho.FlagValidateFEC, Type: mplsecho.TypeRequest, ReplyMode: mplsecho.ReplyIPv4,
		Handle: p.handle, Seq: seq, FECs: []netip.Prefix{p.fec}}
	if ddmap {
		m.DDMaps = []mplsecho.DDMap{{MTU: 1500, Address: netip.AddrFrom4([4]byte{224, 0, 0, 2})}}
	}
	if pad := size - len(m.Marshal()) - 4; pad > 0 {
		m.Pad = pad
	}
	sent := time.Now()
	m.Sent = sent
	p.id++
	pkt := mplsecho.RequestPacket(p.src, p.port, p.id, m.Marshal())
	if err := p.send.SendLabelled(ctx, p.hop.Port, p.hop.Gateway, p.hop.Labels, uint8(ttl), pkt); err != nil {
		return nil, err
	}
	p.s.setReadDeadline(sent.Add(timeout))
	buf := make([]byte, 65536)
	for {
		n, from, err := p.s.recvFrom(buf)
		if errors.Is(err, errStopped) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		rep, err := mplsecho.Decode(buf[:n])
		if err != nil || rep.Type != mplsecho.TypeReply || rep.Handle != p.handle || rep.Seq != seq {
			continue // someone else's, a late one, or garbage
		}
		return &lspAnswer{from: from, msg: rep, rtt: time.Since(sent)}, nil
	}
}

// PingLSP runs `ping lsp` and writes VRP's output to w as it happens. A
// probe counts as received when the egress of the FEC answers; any other
// answer is printed with its return code.
func PingLSP(ctx context.Context, ns NetNS, send LSPSender, o LSPPingOptions, w io.Writer) (PingStats, error) {
	var stats PingStats
	o, err := o.Validate()
	if err != nil {
		return stats, err
	}
	p, err := openLSPProbe(ctx, ns, send, o.Hop, o.Source, o.FEC, "ping lsp")
	if err != nil {
		return stats, err
	}
	defer p.s.Close()
	if _, err := fmt.Fprintf(w, "  LSP PING FEC: %s/ : %d  data bytes, press CTRL_C to break\n", fecText(o.FEC), o.Size); err != nil {
		return stats, err
	}
	for seq := 1; seq <= o.Count && ctx.Err() == nil; seq++ {
		stats.Transmitted++
		ans, err := p.probe(ctx, uint32(seq), o.TTL, o.Size, false, o.Timeout)
		var line string
		switch {
		case err != nil:
			line = fmt.Sprintf("    Request time out (%v)\n", err)
		case ans == nil && ctx.Err() != nil:
			stats.Transmitted--
		case ans == nil:
			line = "    Request time out\n"
		case ans.msg.ReturnCode == mplsecho.CodeEgress:
			stats.Add(ans.rtt)
			line = fmt.Sprintf("    Reply from %s: bytes=%d Sequence=%d time=%d ms\n", ans.from, o.Size, seq, Millis(ans.rtt))
		default:
			line = fmt.Sprintf("    Reply from %s: Sequence=%d return code %d (%s)\n", ans.from, seq, ans.msg.ReturnCode,
				mplsecho.CodeText(ans.msg.ReturnCode))
		}
		if line != "" {
			if _, err := io.WriteString(w, line); err != nil {
				return stats, err
			}
		}
		if seq < o.Count && ctx.Err() == nil {
			t := time.NewTimer(o.Interval)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	_, err = io.WriteString(w, formatPingStats("FEC: "+fecText(o.FEC), stats))
	return stats, err
}

// LSPTracertOptions are `tracert lsp` options, with the LSP already found.
type LSPTracertOptions struct {
	FEC    netip.Prefix
	Hop    LSPHop
	Source netip.Addr
	// MaxTTL (-h, default 30) and Timeout per probe (-t, default 2 s).
	MaxTTL  int
	Timeout time.Duration
}

// LSPHopResult is one line of `tracert lsp`.
type LSPHopResult struct {
	TTL  int
	From netip.Addr // invalid: no answer
	RTT  time.Duration
	Code uint8
	// Downstream is where the replier switches the FEC (its next hop and
	// out-labels).
	Downstream []mplsecho.DDMap
}

// TracertLSP runs `tracert lsp` and writes VRP's output to w as it
// happens; it returns the hops (ending with the egress when it answered).
func TracertLSP(ctx context.Context, ns NetNS, send LSPSender, o LSPTracertOptions, w io.Writer) ([]LSPHopResult, error) {
	if o.MaxTTL == 0 {
		o.MaxTTL = 30
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if !o.FEC.Addr().Is4() || !o.Source.Is4() || o.MaxTTL < 1 || o.MaxTTL > 255 {
		return nil, fmt.Errorf("tracert lsp: bad options (FEC %v, source %v, max TTL %d)", o.FEC, o.Source, o.MaxTTL)
	}
	p, err := openLSPProbe(ctx, ns, send, o.Hop, o.Source, o.FEC, "tracert lsp")
	if err != nil {
		return nil, err
	}
	defer p.s.Close()
	fmt.Fprintf(w, "  LSP Trace Route FEC: %s , press CTRL_C to break.\n", fecText(o.FEC))
	fmt.Fprintf(w, "  %s%s%s%s%s\n", pad("TTL", 7), pad("Replier", 19), pad("Time", 8), pad("Type", 10), "Downstream")
	fmt.Fprintf(w, "  %s%s%s%s%s\n", pad("0", 7), pad("", 19), pad("", 8), pad("Ingress", 10),
		downstreamText([]mplsecho.DDMap{{Address: o.Hop.Gateway, Labels: outLabels(o.Hop.Labels)}}))
	var hops []LSPHopResult
	for ttl := 1; ttl <= o.MaxTTL && ctx.Err() == nil; ttl++ {
		ans, err := p.probe(ctx, uint32(ttl), ttl, 100, true, o.Timeout)
		if err != nil {
			return hops, fmt.Errorf("tracert lsp: %w", err)
		}
		h := LSPHopResult{TTL: ttl}
		if ans == nil {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(w, "  %s*\n", pad(fmt.Sprint(ttl), 7))
			hops = append(hops, h)
			continue
		}
		h.From, h.RTT, h.Code, h.Downstream = ans.from, ans.rtt, ans.msg.ReturnCode, ans.msg.DDMaps
		hops = append(hops, h)
		typ := "Transit"
		switch h.Code {
		case mplsecho.CodeEgress:
			typ = "Egress"
		case mplsecho.CodeLabelSwitch:
		default:
			typ = fmt.Sprintf("Code %d", h.Code)
		}
		fmt.Fprintf(w, "  %s%s%s%s%s\n", pad(fmt.Sprint(ttl), 7), pad(h.From.String(), 19),
			pad(fmt.Sprintf("%d ms", Millis(h.RTT)), 8), pad(typ, 10), downstreamText(h.Downstream))
		if h.Code != mplsecho.CodeLabelSwitch {
			break // the egress, or an LSR that cannot switch the FEC
		}
	}
	return hops, nil
}

// outLabels is the label stack as a downstream mapping shows it: implicit
// null (3) when nothing is pushed.
func outLabels(ls []uint32) []uint32 {
	if len(ls) == 0 {
		return []uint32{3}
	}
	return ls
}

func downstreamText(ds []mplsecho.DDMap) string {
	var parts []string
	for _, d := range ds {
		var ls []string
		for _, l := range d.Labels {
			ls = append(ls, fmt.Sprint(l))
		}
		parts = append(parts, fmt.Sprintf("%s/[%s ]", d.Address, strings.Join(ls, " ")))
	}
	return strings.TrimRight(strings.Join(parts, " "), " ")
}

func pad(s string, w int) string {
	if len(s) >= w {
		return s + " "
	}
	return s + strings.Repeat(" ", w-len(s))
}

// recvFrom is recv with the sender's address.
func (s *sock) recvFrom(buf []byte) (int, netip.Addr, error) {
	var n int
	var from unix.Sockaddr
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, netip.Addr{}, errStopped
		}
		return 0, netip.Addr{}, err
	}
	if rerr != nil {
		return 0, netip.Addr{}, rerr
	}
	var a netip.Addr
	if in, ok := from.(*unix.SockaddrInet4); ok {
		a = netip.AddrFrom4(in.Addr)
	}
	return n, a, nil
}
