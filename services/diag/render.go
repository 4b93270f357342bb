package diag

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// Millis converts a round-trip time to VRP's whole milliseconds, rounding up:
// a reply that took 0.2 ms shows as 1 ms, as on VRP, never as 0.
func Millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// PingStats counts the probes of one ping run.
type PingStats struct {
	Transmitted int
	Received    int
	Min, Max    time.Duration // over received replies
	Total       time.Duration // sum of the received replies' times
	// TotalMillis sums the times as printed (whole ms); the average in the
	// round-trip line is TotalMillis/Received, so it agrees with the lines.
	TotalMillis int64
}

// Add records one reply.
func (s *PingStats) Add(rtt time.Duration) {
	if s.Received == 0 || rtt < s.Min {
		s.Min = rtt
	}
	if rtt > s.Max {
		s.Max = rtt
	}
	s.Received++
	s.Total += rtt
	s.TotalMillis += Millis(rtt)
}

// AvgMillis is the average of the printed times in whole ms, rounded down
// (0 without replies).
func (s PingStats) AvgMillis() int64 {
	if s.Received == 0 {
		return 0
	}
	return s.TotalMillis / int64(s.Received)
}

// LossPercent is the share of transmitted probes without a reply, 0..100
// (0 when nothing was sent).
func (s PingStats) LossPercent() float64 {
	if s.Transmitted == 0 {
		return 0
	}
	lost := s.Transmitted - s.Received
	if lost < 0 {
		lost = 0
	}
	return float64(lost) * 100 / float64(s.Transmitted)
}

// PingEventKind says what a PingEvent reports.
type PingEventKind uint8

const (
	PingStart   PingEventKind = iota + 1 // before the first request: Dest, Size
	PingReply                            // a matching echo reply: Seq, From, Bytes, TTL, RTT
	PingTimeout                          // no reply within the timeout (or the send failed: Err)
	PingDone                             // the end, also after cancellation: Dest, Stats
)

// PingEvent is one step of a ping run, in the order it happens.
type PingEvent struct {
	Kind  PingEventKind
	Dest  netip.Addr
	Size  int // data bytes per request
	Seq   int // 1-based sequence number of the probe
	From  netip.Addr
	Bytes int // data bytes in the reply
	TTL   int // TTL of the reply's IP header
	RTT   time.Duration
	Err   error // PingTimeout after a failed send
	Stats PingStats
}

// PingRenderer writes ping events as VRP prints them (§4.12 of the reference).
type PingRenderer struct {
	W io.Writer
}

// Event writes the text of one event.
func (r PingRenderer) Event(e PingEvent) error {
	_, err := io.WriteString(r.W, FormatPingEvent(e))
	return err
}

// FormatPingEvent returns the lines VRP prints for one ping event.
func FormatPingEvent(e PingEvent) string {
	switch e.Kind {
	case PingStart:
		return fmt.Sprintf("  PING %s: %d  data bytes, press CTRL_C to break\n", e.Dest, e.Size)
	case PingReply:
		return fmt.Sprintf("    Reply from %s: bytes=%d Sequence=%d ttl=%d time=%d ms\n",
			e.From, e.Bytes, e.Seq, e.TTL, Millis(e.RTT))
	case PingTimeout:
		return "    Request time out\n"
	case PingDone:
		return FormatPingStats(e.Dest, e.Stats)
	}
	return ""
}

// FormatPingStats returns the statistics block, with the blank line before it.
// The round-trip line is left out when nothing came back.
func FormatPingStats(dest netip.Addr, s PingStats) string {
	return formatPingStats(dest.String(), s)
}

// formatPingStats is FormatPingStats for a destination named by text (the
// FEC of ping lsp).
func formatPingStats(dest string, s PingStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  --- %s ping statistics ---\n", dest)
	fmt.Fprintf(&b, "    %d packet(s) transmitted\n", s.Transmitted)
	fmt.Fprintf(&b, "    %d packet(s) received\n", s.Received)
	fmt.Fprintf(&b, "    %.2f%% packet loss\n", s.LossPercent())
	if s.Received > 0 {
		fmt.Fprintf(&b, "    round-trip min/avg/max = %d/%d/%d ms\n", Millis(s.Min), s.AvgMillis(), Millis(s.Max))
	}
	return b.String()
}

// TracertEventKind says what a TracertEvent reports.
type TracertEventKind uint8

const (
	TracertStart    TracertEventKind = iota + 1 // Dest, MaxTTL, PacketLen
	TracertHopStart                             // TTL: probes with this TTL follow
	TracertProbe                                // Probe: the outcome of one probe
	TracertHopEnd                               // TTL: the hop is complete (or cancelled)
	TracertDone                                 // Result
)

// ProbeResult is the outcome of one probe.
type ProbeResult struct {
	From netip.Addr // responder; invalid when the probe timed out
	RTT  time.Duration
	Type uint8 // ICMPTimeExceeded or ICMPDestUnreach
	Code uint8
	Err  error // the send failed (the probe shows as a timeout)
}

// TimedOut reports whether nothing answered the probe.
func (p ProbeResult) TimedOut() bool { return !p.From.IsValid() }

// Annotation is the mark printed after the time of a probe answered by an
// unreachable other than port unreachable (which means: destination reached).
func (p ProbeResult) Annotation() string {
	if p.TimedOut() || p.Type != ICMPDestUnreach {
		return ""
	}
	switch p.Code {
	case UnreachPort:
		return ""
	case UnreachNet:
		return "!N"
	case UnreachHost:
		return "!H"
	case UnreachProtocol:
		return "!P"
	case UnreachFragNeeded:
		return "!F"
	case UnreachSourceRoute:
		return "!S"
	case UnreachAdminProhib:
		return "!X"
	}
	return fmt.Sprintf("!<%d>", p.Code)
}

// TracertResult sums up a tracert run.
type TracertResult struct {
	Hops    int  // hop lines printed
	Reached bool // the destination answered (port unreachable)
	// Unreachable is set when a router reported the destination unreachable
	// (net, host, ...), which also ends the trace.
	Unreachable bool
}

// TracertEvent is one step of a tracert run.
type TracertEvent struct {
	Kind      TracertEventKind
	Dest      netip.Addr
	MaxTTL    int
	PacketLen int
	TTL       int
	Probe     ProbeResult
	Result    TracertResult
}

// TracertRenderer writes tracert events as VRP prints them, probe by probe:
//
//	traceroute to 172.16.3.1(172.16.3.1), max hops: 30 ,packet length: 40,press CTRL_C to break
//	1 203.0.113.1 24 ms  3 ms  3 ms
//	2 * * *
//
// (each line starts with one space). A time is followed by two spaces and a
// `*` by one before the next item; a responder's address is printed before
// its first time and again whenever a different address answers within the
// hop. Use one renderer per run: it keeps the state of the current line.
type TracertRenderer struct {
	W    io.Writer
	sep  string
	last netip.Addr
}

// NewTracertRenderer returns a renderer writing to w.
func NewTracertRenderer(w io.Writer) *TracertRenderer { return &TracertRenderer{W: w} }

// Event writes the text of one event.
func (r *TracertRenderer) Event(e TracertEvent) error {
	var s string
	switch e.Kind {
	case TracertStart:
		s = fmt.Sprintf(" traceroute to %s(%s), max hops: %d ,packet length: %d,press CTRL_C to break\n",
			e.Dest, e.Dest, e.MaxTTL, e.PacketLen)
	case TracertHopStart:
		s = fmt.Sprintf(" %d", e.TTL)
		r.sep = " "
		r.last = netip.Addr{}
	case TracertProbe:
		p := e.Probe
		if p.TimedOut() {
			s = r.sep + "*"
			r.sep = " "
			break
		}
		if p.From != r.last {
			s = r.sep + p.From.String()
			r.sep = " "
			r.last = p.From
		}
		s += fmt.Sprintf("%s%d ms", r.sep, Millis(p.RTT))
		if a := p.Annotation(); a != "" {
			s += " " + a
		}
		r.sep = "  "
	case TracertHopEnd:
		s = "\n"
	}
	if s == "" {
		return nil
	}
	_, err := io.WriteString(r.W, s)
	return err
}
