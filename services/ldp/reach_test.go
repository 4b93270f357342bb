package ldp

import (
	"net/netip"
	"testing"
	"time"

	"vpnos/services/ldp/packet"
)

// Sessions of the active side towards 10.255.0.3 (lower than the rig's
// 10.255.0.5), whose transport address no route of the rig covers.

func (r *rig) helloFrom3() []Action {
	return r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.3"), Data: helloPDU("10.255.0.3", 0xffff, "10.255.0.3")})
}

var peer3 = addr("10.255.0.3")

// TestConnectRetry: a connection that could not be opened is tried again
// after 1, 2, 4, 8, 15 and 15 s while no route changes; a Hello does not
// cut the wait short.
func TestConnectRetry(t *testing.T) {
	r := newRig(t, func(c *Config) { c.HelloHold = MaxHold })
	d := dials(r.helloFrom3())
	if len(d) != 1 || d[0].Attempt != 1 || d[0].Remote != peer3 {
		t.Fatalf("first dial %+v", d)
	}
	var now time.Duration
	for k, wait := range []time.Duration{1, 2, 4, 8, 15, 15} {
		r.step(ConnFailed{Peer: peer3, Attempt: uint64(k + 1)})
		if ss, _ := sessionState(r.c.Snapshot(r.now), "10.255.0.3"); ss.Retry != wait*time.Second {
			t.Fatalf("failure %d: retry in %v, want %v s", k+1, ss.Retry, wait)
		}
		if d := dials(r.helloFrom3()); len(d) != 0 {
			t.Fatalf("a Hello redialled during the wait: %+v", d)
		}
		if d := dials(r.tick(now + wait*time.Second - time.Millisecond)); len(d) != 0 {
			t.Fatalf("failure %d: retry before %d s", k+1, wait)
		}
		now += wait * time.Second
		if d := dials(r.tick(now)); len(d) != 1 || d[0].Attempt != uint64(k+2) {
			t.Fatalf("failure %d: retry after %d s: %+v", k+1, wait, d)
		}
	}
	// Once a connection opens, the next failure starts again at 1 s.
	r.step(ConnUp{Conn: 5, Peer: peer3, Attempt: 7})
	r.step(ConnClosed{Conn: 5})
	if ss, _ := sessionState(r.c.Snapshot(r.now), "10.255.0.3"); ss.Retry != backoffInitial {
		t.Fatalf("a connection closed during initialization: retry in %v, want the RFC backoff", ss.Retry)
	}
	now += backoffInitial
	r.tick(now)
	r.step(ConnFailed{Peer: peer3, Attempt: 8})
	if ss, _ := sessionState(r.c.Snapshot(r.now), "10.255.0.3"); ss.Retry != time.Second {
		t.Fatalf("failure after a connection: retry in %v, want 1 s", ss.Retry)
	}
}

// TestRouteRetriesConnect: a change of the route to the peer's transport
// address retries at once a session whose connection failed or is being
// opened; other routes, and sessions whose initialization was refused,
// wait.
func TestRouteRetriesConnect(t *testing.T) {
	via := func(p string) RoutesChanged {
		return RoutesChanged{Set: []Route{{Prefix: pfx(p), NextHops: []NextHop{{Gateway: addr("10.0.12.3"), Interface: "eth1"}}}}}
	}
	refused := func(r *rig) {
		r.step(ConnUp{Conn: 5, Peer: peer3, Attempt: 1})
		rej := &packet.Notification{MsgID: 1, Status: packet.Status{Code: packet.StatusRejectedAdvMode, MsgID: 1, MsgType: packet.MsgInit}}
		r.step(PDUReceived{Conn: 5, Data: pduFrom("10.255.0.3", rej)})
	}
	failed := func(r *rig) { r.step(ConnFailed{Peer: peer3, Attempt: 1}) }
	tests := []struct {
		name   string
		before func(*rig) // after the first Dial
		event  RoutesChanged
		redial bool
	}{
		{"host route after a failure", failed, via("10.255.0.3/32"), true},
		{"covering route after a failure", failed, via("10.255.0.0/16"), true},
		{"default route after a failure", failed, via("0.0.0.0/0"), true},
		{"route to another address", failed, via("10.255.0.4/32"), false},
		{"route while connecting", nil, via("10.255.0.3/32"), true},
		{"route after a refused Initialization", refused, via("10.255.0.3/32"), false},
		{"deleted route that never existed", failed, RoutesChanged{Delete: []netip.Prefix{pfx("10.255.0.3/32")}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(c *Config) { c.HelloHold = MaxHold })
			r.helloFrom3()
			if tc.before != nil {
				tc.before(r)
			}
			r.at(100 * time.Millisecond)
			d := dials(r.step(tc.event))
			if !tc.redial {
				if len(d) != 0 {
					t.Fatalf("dialled %+v", d)
				}
				return
			}
			if len(d) != 1 || d[0].Attempt != 2 || d[0].Remote != peer3 {
				t.Fatalf("dials %+v", d)
			}
			// The superseded attempt's answers are ignored; its
			// connection, if it opened, is closed.
			if acts := r.step(ConnFailed{Peer: peer3, Attempt: 1}); len(acts) != 0 {
				t.Fatalf("stale failure: %+v", acts)
			}
			if acts := r.step(ConnUp{Conn: 4, Peer: peer3, Attempt: 1}); !closes(acts, 4) {
				t.Fatalf("stale connection kept: %+v", acts)
			}
			if r.state("10.255.0.3") != NonExistent {
				t.Fatalf("state %v after stale answers", r.state("10.255.0.3"))
			}
			// The same route again changes nothing.
			if d := dials(r.step(tc.event)); len(d) != 0 {
				t.Fatalf("unchanged route dialled again: %+v", d)
			}
			acts := r.step(ConnUp{Conn: 6, Peer: peer3, Attempt: 2})
			if got := types(sentTo(t, acts, 6)); len(got) != 1 || got[0] != packet.MsgInit || r.state("10.255.0.3") != OpenSent {
				t.Fatalf("sent %v state %v", got, r.state("10.255.0.3"))
			}
		})
	}
}

// TestRouteKeepsInitBackoff: route changes do not shorten the
// exponential backoff of refused Initializations (RFC 5036 section
// 2.5.3): 15, 30, 60 s whatever the routes do.
func TestRouteKeepsInitBackoff(t *testing.T) {
	r := newRig(t, func(c *Config) { c.HelloHold = MaxHold })
	r.helloFrom3()
	var now time.Duration
	conn := ConnID(20)
	for k, wait := range []time.Duration{15, 30, 60} {
		r.step(ConnUp{Conn: conn, Peer: peer3, Attempt: uint64(k + 1)})
		rej := &packet.Notification{MsgID: 1, Status: packet.Status{Code: packet.StatusRejectedMaxPDU, MsgID: 1, MsgType: packet.MsgInit}}
		r.step(PDUReceived{Conn: conn, Data: pduFrom("10.255.0.3", rej)})
		r.at(now + time.Second)
		nh := addr("10.0.12.3")
		if k%2 == 1 {
			nh = addr("10.0.12.2")
		}
		if d := dials(r.step(RoutesChanged{Set: []Route{{Prefix: pfx("10.255.0.3/32"), NextHops: []NextHop{{Gateway: nh, Interface: "eth1"}}}}})); len(d) != 0 {
			t.Fatalf("refusal %d: a route cut the backoff short: %+v", k+1, d)
		}
		if d := dials(r.tick(now + wait*time.Second - time.Millisecond)); len(d) != 0 {
			t.Fatalf("refusal %d: retry before %d s", k+1, wait)
		}
		now += wait * time.Second
		if d := dials(r.tick(now)); len(d) != 1 {
			t.Fatalf("refusal %d: no retry after %d s", k+1, wait)
		}
		conn++
	}
}
