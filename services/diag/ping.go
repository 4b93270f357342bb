package diag

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// echoIDs hands out ICMP echo identifiers so that pings running at the same
// time (in one namespace, whose raw sockets all see every echo reply) never
// take each other's replies. Seeded randomly so that separate processes
// rarely collide; a per-run cookie in the data settles the rest.
var echoIDs atomic.Uint32

func init() {
	var b [2]byte
	rand.Read(b[:])
	echoIDs.Store(uint32(binary.BigEndian.Uint16(b[:])))
}

// requestTTL is the TTL of echo requests, VRP's default.
const requestTTL = 255

func nextEchoID() uint16 { return uint16(echoIDs.Add(1)) }

// Ping runs VRP's ping in namespace ns and writes its output to w as it
// happens: the header, one line per probe, and the statistics (also when ctx
// is cancelled, as Ctrl+C does on VRP). It returns the statistics; the error
// is set when the run could not start (bad options, socket, source address)
// or writing to w failed.
func Ping(ctx context.Context, ns NetNS, opt PingOptions, w io.Writer) (PingStats, error) {
	return RunPing(ctx, ns, opt, PingRenderer{W: w}.Event)
}

// RunPing is Ping with the output as events: emit is called for each step in
// order (PingStart, then PingReply or PingTimeout per probe, then PingDone).
// An error from emit ends the run and is returned.
func RunPing(ctx context.Context, ns NetNS, opt PingOptions, emit func(PingEvent) error) (PingStats, error) {
	var stats PingStats
	opt, err := opt.Validate()
	if err != nil {
		return stats, err
	}
	f, err := socketIn(ns, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, "icmp")
	if err != nil {
		return stats, fmt.Errorf("ping: %w", err)
	}
	s, err := newSock(ctx, f)
	if err != nil {
		return stats, fmt.Errorf("ping: %w", err)
	}
	defer s.Close()
	if err := s.setICMPFilter(ICMPEchoReply); err != nil {
		return stats, fmt.Errorf("ping: %w", err)
	}
	// VRP sends echo requests with TTL 255.
	if err := s.setTTL(requestTTL); err != nil {
		return stats, fmt.Errorf("ping: set TTL: %w", err)
	}
	if opt.Source.IsValid() {
		if err := s.bind(opt.Source, 0); err != nil {
			return stats, bindError("ping", opt.Source, err)
		}
	}

	id := nextEchoID()
	data := make([]byte, opt.Size)
	cookie := data[:8]
	rand.Read(cookie)
	for i := 8; i < len(data); i++ {
		data[i] = byte(i)
	}

	if err := emit(PingEvent{Kind: PingStart, Dest: opt.Dest, Size: opt.Size}); err != nil {
		return stats, err
	}
	buf := make([]byte, 65536)
	for seq := 1; seq <= opt.Count && ctx.Err() == nil; seq++ {
		req := MarshalEcho(ICMPEchoRequest, id, uint16(seq), data)
		sent := time.Now()
		stats.Transmitted++
		ev := PingEvent{Kind: PingTimeout, Dest: opt.Dest, Seq: seq}
		if err := s.sendto(req, opt.Dest, 0); err != nil {
			ev.Err = err
		} else {
			s.setReadDeadline(sent.Add(opt.Timeout))
			for {
				n, err := s.recv(buf)
				if err == errStopped {
					break
				}
				if err != nil {
					return stats, fmt.Errorf("ping: receive: %w", err)
				}
				now := time.Now()
				p, err := ParseICMPv4(buf[:n])
				if err != nil || p.Type != ICMPEchoReply || p.ID != id || p.Seq != uint16(seq) ||
					!bytes.HasPrefix(p.Body, cookie) {
					continue // someone else's, a late one, or garbage
				}
				rtt := now.Sub(sent)
				stats.Add(rtt)
				ev = PingEvent{Kind: PingReply, Dest: opt.Dest, Seq: seq, From: p.Src,
					Bytes: len(p.Body), TTL: int(p.TTL), RTT: rtt}
				break
			}
		}
		if ev.Kind == PingTimeout && ctx.Err() != nil {
			break // interrupted while waiting: no line, straight to the statistics
		}
		if err := emit(ev); err != nil {
			return stats, err
		}
		if opt.Interval > 0 && seq < opt.Count {
			t := time.NewTimer(opt.Interval)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	return stats, emit(PingEvent{Kind: PingDone, Dest: opt.Dest, Stats: stats})
}
