package diag

import (
	"bytes"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	goldenfile "vpnos/lab/golden"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name+".golden"), string(got))
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// pingRun feeds replies (rtt > 0) and timeouts (rtt == 0) through the same
// accounting RunPing does and renders them.
func pingRun(t *testing.T, dest netip.Addr, size int, ttl int, rtts []time.Duration, cancelled bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	r := PingRenderer{W: &buf}
	var st PingStats
	emit := func(e PingEvent) {
		if err := r.Event(e); err != nil {
			t.Fatal(err)
		}
	}
	emit(PingEvent{Kind: PingStart, Dest: dest, Size: size})
	for i, rtt := range rtts {
		st.Transmitted++
		if rtt == 0 {
			emit(PingEvent{Kind: PingTimeout, Seq: i + 1})
			continue
		}
		st.Add(rtt)
		emit(PingEvent{Kind: PingReply, Seq: i + 1, From: dest, Bytes: size, TTL: ttl, RTT: rtt})
	}
	if cancelled {
		st.Transmitted++ // the probe in flight when Ctrl+C came
	}
	emit(PingEvent{Kind: PingDone, Dest: dest, Stats: st})
	return buf.Bytes()
}

func TestPingGolden(t *testing.T) {
	pe := netip.MustParseAddr("192.0.2.2")
	tests := []struct {
		name      string
		size, ttl int
		rtts      []time.Duration
		cancelled bool
	}{
		// The reference's example: 5 replies, round-trip 2/2/3.
		{"ping_all_replies", 56, 255, []time.Duration{ms(2.4), ms(1.7), ms(2), ms(1.2), ms(1.9)}, false},
		{"ping_no_reply", 56, 0, []time.Duration{0, 0, 0, 0, 0}, false},
		{"ping_some_lost", 100, 64, []time.Duration{ms(0.3), 0, ms(10.5), 0, 0}, false},
		{"ping_ctrl_c", 56, 253, []time.Duration{ms(5), ms(7)}, true},
		{"ping_ctrl_c_before_first", 56, 0, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, pingRun(t, pe, tc.size, tc.ttl, tc.rtts, tc.cancelled))
		})
	}
}

func TestPingStats(t *testing.T) {
	var s PingStats
	if s.LossPercent() != 0 || s.AvgMillis() != 0 {
		t.Fatalf("empty stats: %v %v", s.LossPercent(), s.AvgMillis())
	}
	s.Transmitted = 3
	for _, d := range []time.Duration{ms(4), ms(0.1), ms(9)} {
		s.Add(d)
	}
	if s.Min != ms(0.1) || s.Max != ms(9) || s.Received != 3 || s.TotalMillis != 14 || s.AvgMillis() != 4 {
		t.Fatalf("stats %+v avg %d", s, s.AvgMillis())
	}
	s.Transmitted = 7
	if got := FormatPingStats(dst, s); !bytes.Contains([]byte(got), []byte("    57.14% packet loss\n")) {
		t.Fatalf("loss line in\n%s", got)
	}
}

func TestMillis(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{{0, 0}, {-1, 0}, {1, 1}, {ms(0.2), 1}, {ms(1), 1}, {ms(1) + 1, 2}, {ms(24), 24}} {
		if got := Millis(tc.d); got != tc.want {
			t.Errorf("Millis(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestTracertGolden(t *testing.T) {
	dest := netip.MustParseAddr("172.16.3.1")
	a := netip.MustParseAddr("203.0.113.1")
	b := netip.MustParseAddr("203.0.113.9")
	te := func(from netip.Addr, rtt time.Duration) ProbeResult {
		return ProbeResult{From: from, RTT: rtt, Type: ICMPTimeExceeded}
	}
	un := func(from netip.Addr, rtt time.Duration, code uint8) ProbeResult {
		return ProbeResult{From: from, RTT: rtt, Type: ICMPDestUnreach, Code: code}
	}
	star := ProbeResult{}
	sendFailed := ProbeResult{Err: errors.New("network is unreachable")}
	tests := []struct {
		name   string
		maxTTL int
		first  int
		hops   [][]ProbeResult
	}{
		// The reference's example.
		{"tracert_two_hops", 30, 1, [][]ProbeResult{
			{te(a, ms(23.5)), te(a, ms(2.1)), te(a, ms(3))},
			{un(dest, ms(5), UnreachPort), un(dest, ms(4), UnreachPort), un(dest, ms(3.9), UnreachPort)},
		}},
		{"tracert_timeouts", 5, 2, [][]ProbeResult{
			{te(a, ms(1)), star, te(a, ms(2))},
			{star, star, star},
			{star, te(b, ms(7)), te(b, ms(8))},
			{sendFailed, star, star},
		}},
		{"tracert_ecmp_and_unreachable", 30, 1, [][]ProbeResult{
			{te(a, ms(1)), te(b, ms(1)), te(a, ms(1))},
			{un(b, ms(3), UnreachHost), un(b, ms(3), UnreachNet), un(b, ms(3), UnreachAdminProhib)},
		}},
		{"tracert_ctrl_c_mid_hop", 30, 1, [][]ProbeResult{
			{te(a, ms(1)), te(a, ms(1)), te(a, ms(1))},
			{te(b, ms(2))},
		}},
		{"tracert_odd_codes", 1, 1, [][]ProbeResult{
			{un(dest, ms(1), UnreachProtocol), un(dest, ms(1), UnreachFragNeeded), un(dest, ms(1), UnreachSourceRoute), un(dest, ms(1), 9)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := NewTracertRenderer(&buf)
			emit := func(e TracertEvent) {
				if err := r.Event(e); err != nil {
					t.Fatal(err)
				}
			}
			emit(TracertEvent{Kind: TracertStart, Dest: dest, MaxTTL: tc.maxTTL, PacketLen: TracertPacketLength})
			for i, hop := range tc.hops {
				ttl := tc.first + i
				emit(TracertEvent{Kind: TracertHopStart, TTL: ttl})
				for _, p := range hop {
					emit(TracertEvent{Kind: TracertProbe, TTL: ttl, Probe: p})
				}
				emit(TracertEvent{Kind: TracertHopEnd, TTL: ttl})
			}
			emit(TracertEvent{Kind: TracertDone})
			golden(t, tc.name, buf.Bytes())
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("terminal gone") }

func TestRenderersReportWriteErrors(t *testing.T) {
	if err := (PingRenderer{W: failWriter{}}).Event(PingEvent{Kind: PingTimeout}); err == nil {
		t.Fatal("ping renderer swallowed the write error")
	}
	if err := NewTracertRenderer(failWriter{}).Event(TracertEvent{Kind: TracertHopEnd}); err == nil {
		t.Fatal("tracert renderer swallowed the write error")
	}
}
