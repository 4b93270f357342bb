package diag

import (
	"context"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// Tracert runs VRP's tracert in namespace ns and writes its output to w as it
// happens: the header, then each hop's number, responders and times probe by
// probe. It ends at the destination (port unreachable), at an unreachable
// reported by a router, at the maximum TTL, or when ctx is cancelled.
func Tracert(ctx context.Context, ns NetNS, opt TracertOptions, w io.Writer) (TracertResult, error) {
	return RunTracert(ctx, ns, opt, NewTracertRenderer(w).Event)
}

// RunTracert is Tracert with the output as events: TracertStart, then per hop
// TracertHopStart, one TracertProbe per probe and TracertHopEnd, then
// TracertDone. An error from emit ends the run and is returned.
//
// Probes are UDP datagrams from one ephemeral source port to destination
// ports counting up from opt.Port, one per probe; answers arrive on a raw ICMP
// socket and are matched by the UDP header quoted in them (destination
// address, both ports), so concurrent runs do not mix.
func RunTracert(ctx context.Context, ns NetNS, opt TracertOptions, emit func(TracertEvent) error) (TracertResult, error) {
	var res TracertResult
	opt, err := opt.Validate()
	if err != nil {
		return res, err
	}
	uf, err := socketIn(ns, unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDP, "udp")
	if err != nil {
		return res, fmt.Errorf("tracert: %w", err)
	}
	udp, err := newSock(ctx, uf)
	if err != nil {
		return res, fmt.Errorf("tracert: %w", err)
	}
	defer udp.Close()
	if err := udp.bind(opt.Source, 0); err != nil {
		return res, bindError("tracert", opt.Source, err)
	}
	srcPort, err := udp.localPort()
	if err != nil {
		return res, fmt.Errorf("tracert: local port: %w", err)
	}
	rf, err := socketIn(ns, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, "icmp")
	if err != nil {
		return res, fmt.Errorf("tracert: %w", err)
	}
	icmp, err := newSock(ctx, rf)
	if err != nil {
		return res, fmt.Errorf("tracert: %w", err)
	}
	defer icmp.Close()
	if err := icmp.setICMPFilter(ICMPDestUnreach, ICMPTimeExceeded); err != nil {
		return res, fmt.Errorf("tracert: %w", err)
	}

	if err := emit(TracertEvent{Kind: TracertStart, Dest: opt.Dest, MaxTTL: opt.MaxTTL, PacketLen: TracertPacketLength}); err != nil {
		return res, err
	}
	payload := make([]byte, tracertPayloadLength)
	buf := make([]byte, 65536)
	port := opt.Port
	for ttl := opt.FirstTTL; ttl <= opt.MaxTTL && ctx.Err() == nil; ttl++ {
		if err := udp.setTTL(ttl); err != nil {
			return res, fmt.Errorf("tracert: set TTL %d: %w", ttl, err)
		}
		if err := emit(TracertEvent{Kind: TracertHopStart, TTL: ttl}); err != nil {
			return res, err
		}
		res.Hops++
		for q := 0; q < opt.Probes; q++ {
			dport := port
			port++
			if port > 65535 {
				port = 1
			}
			payload[0] = byte(ttl)
			payload[1] = byte(q)
			probe := ProbeResult{}
			sent := time.Now()
			if err := udp.sendto(payload, opt.Dest, dport); err != nil {
				probe.Err = err
			} else {
				icmp.setReadDeadline(sent.Add(opt.Timeout))
				for {
					n, err := icmp.recv(buf)
					if err == errStopped {
						break
					}
					if err != nil {
						return res, fmt.Errorf("tracert: receive: %w", err)
					}
					now := time.Now()
					p, err := ParseICMPv4(buf[:n])
					if err != nil || (p.Type != ICMPTimeExceeded && p.Type != ICMPDestUnreach) {
						continue
					}
					quote, err := ParseQuotedUDP(p.Body)
					if err != nil || quote.Dst != opt.Dest || int(quote.SrcPort) != srcPort || int(quote.DstPort) != dport {
						continue
					}
					probe = ProbeResult{From: p.Src, RTT: now.Sub(sent), Type: p.Type, Code: p.Code}
					break
				}
			}
			if probe.TimedOut() && probe.Err == nil && ctx.Err() != nil {
				break // interrupted: end the line without a star
			}
			if probe.Type == ICMPDestUnreach {
				if probe.Code == UnreachPort {
					res.Reached = true
				} else {
					res.Unreachable = true
				}
			}
			if err := emit(TracertEvent{Kind: TracertProbe, TTL: ttl, Probe: probe}); err != nil {
				return res, err
			}
		}
		if err := emit(TracertEvent{Kind: TracertHopEnd, TTL: ttl}); err != nil {
			return res, err
		}
		if res.Reached || res.Unreachable {
			break
		}
	}
	return res, emit(TracertEvent{Kind: TracertDone, Result: res})
}
