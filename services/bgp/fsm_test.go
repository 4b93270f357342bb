package bgp

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"vpnos/services/bgp/packet"
)

var t0 = time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)

// describe renders FSM actions compactly, times relative to t0.
func describe(acts []fsmAction) []string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case actDial:
			out = append(out, "dial")
		case actSend:
			m, err := packet.Decode(a.Data, packet.Options{AS4: true})
			switch {
			case err != nil:
				out = append(out, fmt.Sprintf("send garbage %d: %v", a.Conn, err))
			case m.Type() == packet.TypeNotification:
				n := m.(*packet.Notification)
				out = append(out, fmt.Sprintf("send %d NOTIFICATION %d/%d", a.Conn, n.Code, n.Subcode))
			case m.Type() == packet.TypeOpen:
				o := m.(*packet.Open)
				out = append(out, fmt.Sprintf("send %d OPEN as %d hold %d", a.Conn, o.AS(), o.HoldTime))
			default:
				out = append(out, fmt.Sprintf("send %d %s", a.Conn, m.Type()))
			}
		case actClose:
			out = append(out, fmt.Sprintf("close %d", a.Conn))
		case actTimer:
			if a.At.IsZero() {
				out = append(out, fmt.Sprintf("timer %s %d stop", a.Timer, a.Conn))
			} else {
				out = append(out, fmt.Sprintf("timer %s %d +%s", a.Timer, a.Conn, a.At.Sub(t0)))
			}
		case actUp:
			out = append(out, fmt.Sprintf("up %d hold %s keepalive %s families %v", a.Neg.Conn, a.Neg.HoldTime, a.Neg.Keepalive, a.Neg.Families))
		case actDown:
			out = append(out, fmt.Sprintf("down %d: %s", a.Conn, a.Reason))
		case actDeliver:
			out = append(out, fmt.Sprintf("deliver %d %s", a.Conn, a.Msg.Type()))
		case actState:
			out = append(out, fmt.Sprintf("state %s", a.To))
		default:
			out = append(out, fmt.Sprintf("%T", a))
		}
	}
	return out
}

func peerOpen(as uint32, id string, hold uint16, fams ...packet.Family) *packet.Open {
	my := uint16(as)
	if as > 0xffff {
		my = packet.AS_TRANS
	}
	return &packet.Open{Version: 4, MyAS: my, HoldTime: hold, RouterID: netip.MustParseAddr(id),
		Caps: packet.Capabilities{Families: fams, AS4: true, AS4Number: as, RouteRefresh: true}}
}

type fsmStep struct {
	at   time.Duration
	ev   fsmEvent
	want []string
}

func msg(c ConnID, m packet.Message) evMessage { return evMessage{Conn: c, Msg: m} }

var baseCfg = sessionConfig{
	LocalAS: 65000, PeerAS: 65001, RouterID: netip.MustParseAddr("10.0.0.5"),
	HoldTime: 180, Keepalive: 60, Families: []packet.Family{packet.IPv4Unicast, packet.VPNv4},
}

// establish is the common opening: outgoing connection 1, peer hold 90.
var establish = []fsmStep{
	{0, evStart{}, []string{"timer ConnectRetry 0 +32s", "state Connect", "dial"}},
	{time.Second, evConnected{Conn: 1, Outgoing: true}, []string{"timer ConnectRetry 0 stop", "send 1 OPEN as 65000 hold 180", "timer Hold 1 +4m1s", "state OpenSent"}},
	{2 * time.Second, msg(1, peerOpen(65001, "10.0.0.9", 90, packet.IPv4Unicast)), []string{"send 1 KEEPALIVE", "timer Hold 1 +1m32s", "timer Keepalive 1 +32s", "state OpenConfirm"}},
	{3 * time.Second, msg(1, &packet.Keepalive{}), []string{"state Established", "up 1 hold 1m30s keepalive 30s families [IPv4-unicast]"}},
}

func TestFSM(t *testing.T) {
	with := func(steps ...fsmStep) []fsmStep { return append(append([]fsmStep(nil), establish...), steps...) }
	tests := []struct {
		name  string
		cfg   func(*sessionConfig)
		steps []fsmStep
	}{
		{"establish, keepalives, hold timer expiry", nil, with(
			fsmStep{33 * time.Second, evTick{}, []string{"send 1 KEEPALIVE", "timer Keepalive 1 +1m3s"}},
			fsmStep{40 * time.Second, msg(1, &packet.Update{}), []string{"deliver 1 UPDATE"}},
			fsmStep{41 * time.Second, msg(1, &packet.RouteRefresh{Family: packet.IPv4Unicast}), []string{"deliver 1 ROUTE-REFRESH"}},
			fsmStep{63 * time.Second, evTick{}, []string{"send 1 KEEPALIVE", "timer Keepalive 1 +1m33s"}},
			// Hold restarted by the ROUTE-REFRESH at 41 s: expires at 131 s.
			fsmStep{130 * time.Second, evTick{}, []string{"send 1 KEEPALIVE", "timer Keepalive 1 +2m40s"}},
			fsmStep{131 * time.Second, evTick{}, []string{"send 1 NOTIFICATION 4/0", "close 1", "down 1: hold timer expired", "state Idle", "timer IdleHold 0 +2m13s"}},
			fsmStep{133 * time.Second, evTick{}, []string{"timer ConnectRetry 0 +2m45s", "state Connect", "dial"}},
		)},
		{"hold time zero: no keepalives, no hold timer", nil, []fsmStep{
			establish[0], establish[1],
			{2 * time.Second, msg(1, peerOpen(65001, "10.0.0.9", 0, packet.IPv4Unicast)), []string{"send 1 KEEPALIVE", "timer Hold 1 stop", "state OpenConfirm"}},
			{3 * time.Second, msg(1, &packet.Keepalive{}), []string{"state Established", "up 1 hold 0s keepalive 0s families [IPv4-unicast]"}},
			{time.Hour, evTick{}, nil},
		}},
		{"configured keepalive below a third of the hold time", func(c *sessionConfig) { c.Keepalive = 10 }, []fsmStep{
			establish[0], establish[1],
			{2 * time.Second, msg(1, peerOpen(65001, "10.0.0.9", 90, packet.IPv4Unicast, packet.VPNv4)), []string{"send 1 KEEPALIVE", "timer Hold 1 +1m32s", "timer Keepalive 1 +12s", "state OpenConfirm"}},
			{3 * time.Second, msg(1, &packet.Keepalive{}), []string{"state Established", "up 1 hold 1m30s keepalive 10s families [IPv4-unicast VPNv4]"}},
		}},
		{"dial fails: Active, then ConnectRetry dials again", nil, []fsmStep{
			establish[0],
			{time.Second, evConnectFailed{}, []string{"state Active"}},
			{31 * time.Second, evTick{}, nil},
			{32 * time.Second, evTick{}, []string{"timer ConnectRetry 0 +1m4s", "state Connect", "dial"}},
		}},
		{"passive waits in Active and accepts", func(c *sessionConfig) { c.Passive = true }, []fsmStep{
			{0, evStart{}, []string{"timer ConnectRetry 0 +32s", "state Active"}},
			{32 * time.Second, evTick{}, []string{"timer ConnectRetry 0 +1m4s"}},
			{33 * time.Second, evConnected{Conn: 7}, []string{"timer ConnectRetry 0 stop", "send 7 OPEN as 65000 hold 180", "timer Hold 7 +4m33s", "state OpenSent"}},
		}},
		{"connection lost in OpenSent: Active", nil, []fsmStep{
			establish[0], establish[1],
			{2 * time.Second, evClosed{Conn: 1}, []string{"close 1", "state Active", "timer ConnectRetry 0 +34s"}},
		}},
		{"bad peer AS", nil, []fsmStep{
			establish[0], establish[1],
			{2 * time.Second, msg(1, peerOpen(65002, "10.0.0.9", 90)), []string{"send 1 NOTIFICATION 2/2", "close 1", "state Idle", "timer IdleHold 0 +4s"}},
			// The next failure waits twice as long.
			{4 * time.Second, evTick{}, []string{"timer ConnectRetry 0 +36s", "state Connect", "dial"}},
			{5 * time.Second, evConnected{Conn: 2, Outgoing: true}, []string{"timer ConnectRetry 0 stop", "send 2 OPEN as 65000 hold 180", "timer Hold 2 +4m5s", "state OpenSent"}},
			{6 * time.Second, msg(2, peerOpen(65002, "10.0.0.9", 90)), []string{"send 2 NOTIFICATION 2/2", "close 2", "state Idle", "timer IdleHold 0 +10s"}},
		}},
		{"unacceptable hold time", nil, []fsmStep{
			establish[0], establish[1],
			{2 * time.Second, msg(1, peerOpen(65001, "10.0.0.9", 2)), []string{"send 1 NOTIFICATION 2/6", "close 1", "state Idle", "timer IdleHold 0 +4s"}},
		}},
		{"our own identifier on an internal session", func(c *sessionConfig) { c.PeerAS = 65000 }, []fsmStep{
			establish[0], establish[1],
			{2 * time.Second, msg(1, peerOpen(65000, "10.0.0.5", 90)), []string{"send 1 NOTIFICATION 2/3", "close 1", "state Idle", "timer IdleHold 0 +4s"}},
		}},
		{"identifier zero", nil, []fsmStep{
			establish[0], establish[1],
			{2 * time.Second, msg(1, peerOpen(65001, "0.0.0.0", 90)), []string{"send 1 NOTIFICATION 2/3", "close 1", "state Idle", "timer IdleHold 0 +4s"}},
		}},
		{"no family in common", func(c *sessionConfig) { c.Families = []packet.Family{packet.VPNv4} }, []fsmStep{
			establish[0], establish[1],
			{2 * time.Second, msg(1, peerOpen(65001, "10.0.0.9", 90, packet.IPv4Unicast)), []string{"send 1 NOTIFICATION 2/7", "close 1", "state Idle", "timer IdleHold 0 +4s"}},
		}},
		{"unexpected UPDATE in OpenSent", nil, []fsmStep{
			establish[0], establish[1],
			{2 * time.Second, msg(1, &packet.Update{}), []string{"send 1 NOTIFICATION 5/1", "close 1", "state Idle", "timer IdleHold 0 +4s"}},
		}},
		{"unexpected UPDATE in OpenConfirm", nil, []fsmStep{
			establish[0], establish[1], establish[2],
			{3 * time.Second, msg(1, &packet.Update{}), []string{"send 1 NOTIFICATION 5/2", "close 1", "state Idle", "timer IdleHold 0 +5s"}},
		}},
		{"unexpected OPEN in Established", nil, with(
			fsmStep{4 * time.Second, msg(1, peerOpen(65001, "10.0.0.9", 90)), []string{"send 1 NOTIFICATION 5/3", "close 1", "down 1: unexpected OPEN in Established", "state Idle", "timer IdleHold 0 +6s"}},
		)},
		{"notification received", nil, with(
			fsmStep{4 * time.Second, msg(1, &packet.Notification{Code: 6, Subcode: 2}), []string{"close 1", "down 1: received NOTIFICATION 6/2 (Cease / Administrative Shutdown)", "state Idle", "timer IdleHold 0 +6s"}},
		)},
		{"malformed message", nil, with(
			fsmStep{4 * time.Second, evBadMessage{Conn: 1, Err: &packet.Error{Code: 3, Subcode: 1, Reason: "x"}}, []string{"send 1 NOTIFICATION 3/1", "close 1", "down 1: sent UPDATE Message Error / Malformed Attribute List: x", "state Idle", "timer IdleHold 0 +6s"}},
		)},
		{"administrative stop and restart", nil, with(
			fsmStep{4 * time.Second, evStop{Subcode: packet.SubAdminReset, Restart: true}, []string{"send 1 NOTIFICATION 6/4", "close 1", "down 1: stopped: Cease / Administrative Reset", "state Idle", "timer IdleHold 0 +6s"}},
			fsmStep{6 * time.Second, evTick{}, []string{"timer ConnectRetry 0 +38s", "state Connect", "dial"}},
		)},
		{"stopped refuses incoming connections", nil, []fsmStep{
			{0, evConnected{Conn: 3}, []string{"send 3 NOTIFICATION 6/5", "close 3"}},
			establish[0],
			{time.Second, evStop{Subcode: packet.SubAdminShutdown}, []string{"state Idle"}},
			{2 * time.Second, evTick{}, nil},
			{3 * time.Second, evConnected{Conn: 4}, []string{"send 4 NOTIFICATION 6/5", "close 4"}},
		}},
		{"a connection colliding with an Established one is closed", nil, with(
			fsmStep{4 * time.Second, evConnected{Conn: 2}, []string{"send 2 NOTIFICATION 6/7", "close 2"}},
		)},
		{"collision: local identifier lower, our connection closes", func(c *sessionConfig) { c.RouterID = netip.MustParseAddr("10.0.0.1") }, []fsmStep{
			establish[0], establish[1],
			{time.Second, evConnected{Conn: 2}, []string{"timer ConnectRetry 0 stop", "send 2 OPEN as 65000 hold 180", "timer Hold 2 +4m1s"}},
			{2 * time.Second, msg(1, peerOpen(65001, "10.0.0.9", 90)), []string{"send 1 KEEPALIVE", "timer Hold 1 +1m32s", "timer Keepalive 1 +32s", "state OpenConfirm"}},
			{2 * time.Second, msg(2, peerOpen(65001, "10.0.0.9", 90)), []string{"send 1 NOTIFICATION 6/7", "close 1", "send 2 KEEPALIVE", "timer Hold 2 +1m32s", "timer Keepalive 2 +32s"}},
			{3 * time.Second, msg(2, &packet.Keepalive{}), []string{"state Established", "up 2 hold 1m30s keepalive 30s families [IPv4-unicast]"}},
		}},
		{"collision: local identifier higher, the incoming connection closes", nil, []fsmStep{
			establish[0], establish[1],
			{time.Second, evConnected{Conn: 2}, []string{"timer ConnectRetry 0 stop", "send 2 OPEN as 65000 hold 180", "timer Hold 2 +4m1s"}},
			{2 * time.Second, msg(2, peerOpen(65001, "10.0.0.1", 90)), []string{"send 2 KEEPALIVE", "timer Hold 2 +1m32s", "timer Keepalive 2 +32s", "state OpenConfirm"}},
			{2 * time.Second, msg(1, peerOpen(65001, "10.0.0.1", 90)), []string{"send 2 NOTIFICATION 6/7", "close 2", "send 1 KEEPALIVE", "timer Hold 1 +1m32s", "timer Keepalive 1 +32s"}},
			{3 * time.Second, msg(1, &packet.Keepalive{}), []string{"state Established", "up 1 hold 1m30s keepalive 30s families [IPv4-unicast]"}},
		}},
		{"collision resolved when the other connection establishes first", nil, []fsmStep{
			establish[0], establish[1],
			{time.Second, evConnected{Conn: 2}, []string{"timer ConnectRetry 0 stop", "send 2 OPEN as 65000 hold 180", "timer Hold 2 +4m1s"}},
			establish[2],
			{3 * time.Second, msg(1, &packet.Keepalive{}), []string{"send 2 NOTIFICATION 6/7", "close 2", "state Established", "up 1 hold 1m30s keepalive 30s families [IPv4-unicast]"}},
		}},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseCfg
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			s := newSession(cfg)
			for i, st := range tc.steps {
				got := describe(s.step(t0.Add(st.at), st.ev))
				if !reflect.DeepEqual(got, st.want) && !(len(got) == 0 && len(st.want) == 0) {
					t.Fatalf("step %d (%T at +%s):\n got  %s\n want %s", i, st.ev, st.at, strings.Join(got, " | "), strings.Join(st.want, " | "))
				}
			}
		})
	}
}

func TestFSMNextDeadline(t *testing.T) {
	s := newSession(baseCfg)
	for _, st := range establish {
		s.step(t0.Add(st.at), st.ev)
	}
	if d := s.nextDeadline(); !d.Equal(t0.Add(32 * time.Second)) {
		t.Errorf("next deadline +%s, want the keepalive at +32s", d.Sub(t0))
	}
}
