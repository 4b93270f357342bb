package ldp

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"vpnos/services/ldp/packet"
)

// An Initialization that arrives before the sender's Hello (the passive
// LSR reads UDP and TCP apart) waits for the Hello rather than being
// refused with "No Hello", which would hold the active LSR back for the
// 15 s of the RFC 5036 backoff.

func (r *rig) acceptFrom(id ConnID, remote string) {
	r.t.Helper()
	if acts := r.step(ConnAccepted{Conn: id, Local: netip.MustParseAddrPort("10.255.0.5:646"), Remote: netip.MustParseAddrPort(remote)}); closes(acts, id) {
		r.t.Fatalf("connection %d from %s closed at once", id, remote)
	}
}

func (r *rig) hello(lsr, transport string) []Action {
	return r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU(lsr, 15, transport)})
}

// noHelloRefusal checks that acts refuse conn with a No Hello Notification
// about the Init (message 100) and close it.
func noHelloRefusal(t *testing.T, acts []Action, conn ConnID) {
	t.Helper()
	nt := filterType[*packet.Notification](sentTo(t, acts, conn))
	if len(nt) != 1 || nt[0].Status.Code != packet.StatusNoHello || nt[0].Status.MsgID != 100 || nt[0].Status.MsgType != packet.MsgInit || !closes(acts, conn) {
		t.Fatalf("want No Hello and close on %d, got %v close=%v", conn, nt, closes(acts, conn))
	}
}

func TestInitBeforeHello(t *testing.T) {
	tests := []struct {
		name  string
		hello time.Duration // when the Hello arrives after the Init
	}{
		{"same instant", 0},
		{"one second later", time.Second},
		{"just in time", noHelloWait - time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.acceptFrom(7, "10.255.0.9:40001")
			acts := r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("", 180))})
			if len(sentTo(t, acts, 7)) != 0 || closes(acts, 7) {
				t.Fatalf("an Init before the Hello was answered: %+v", acts)
			}
			if got := r.c.conns[7].deadline; !got.Equal(t0.Add(noHelloWait)) {
				t.Fatalf("held until %v", got.Sub(t0))
			}
			// Time passing short of the wait changes nothing.
			if tc.hello > 0 {
				if acts := r.tick(tc.hello); len(sentTo(t, acts, 7)) != 0 || closes(acts, 7) {
					t.Fatalf("at %v: %+v", tc.hello, acts)
				}
			}
			r.at(tc.hello)
			acts = r.hello("10.255.0.9", "10.255.0.9")
			if got := types(sentTo(t, acts, 7)); !reflect.DeepEqual(got, []packet.MsgType{packet.MsgInit, packet.MsgKeepAlive}) {
				t.Fatalf("answer once the Hello came: %v", got)
			}
			if s := r.state("10.255.0.9"); s != OpenRec {
				t.Fatalf("state %v", s)
			}
			// The session's own initialization timer runs from now.
			if d := r.c.peers[addr("10.255.0.9")].initDeadline; !d.Equal(r.now.Add(initTimeout)) {
				t.Fatalf("init deadline %v", d.Sub(t0))
			}
			r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", &packet.KeepAlive{MsgID: 101})})
			if s := r.state("10.255.0.9"); s != Operational {
				t.Fatalf("state %v", s)
			}
			if st := r.c.Stats(); st.InitsHeld != 1 || st.NoHelloSent != 0 {
				t.Fatalf("stats %+v", st)
			}
			// The wait is over: nothing is refused when it would have ended.
			if acts := r.tick(noHelloWait); closes(acts, 7) {
				t.Fatalf("session closed at the end of the wait: %+v", acts)
			}
		})
	}
}

func TestInitHeldInVain(t *testing.T) {
	r := newRig(t, nil)
	r.acceptFrom(7, "10.255.0.9:40001")
	r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("", 180))})
	// Hellos that do not match the held Init do not release it: another
	// LSR, and the same LSR with another transport address than the
	// connection's source.
	r.at(time.Second)
	if acts := r.hello("10.255.0.8", "10.255.0.8"); len(sentTo(t, acts, 7)) != 0 || closes(acts, 7) {
		t.Fatalf("another LSR's Hello: %+v", acts)
	}
	r.at(2 * time.Second)
	if acts := r.hello("10.255.0.9", "10.255.0.7"); len(sentTo(t, acts, 7)) != 0 || closes(acts, 7) {
		t.Fatalf("a Hello with another transport address: %+v", acts)
	}
	if acts := r.tick(noHelloWait - time.Nanosecond); closes(acts, 7) {
		t.Fatal("refused before the wait ended")
	}
	noHelloRefusal(t, r.tick(noHelloWait), 7)
	if _, ok := r.c.conns[7]; ok {
		t.Fatal("refused connection kept")
	}
	if st := r.c.Stats(); st.InitsHeld != 1 || st.NoHelloSent != 1 || st.NotificationsSent != 1 {
		t.Fatalf("stats %+v", st)
	}
	if s := r.state("10.255.0.9"); s != NonExistent {
		t.Fatalf("state %v", s)
	}
}

// An LSR whose Hello is known with another transport address than the
// connection's source gets no reprieve: its Hellos will not change that.
func TestInitFromOtherTransportRefusedAtOnce(t *testing.T) {
	r := newRig(t, nil)
	r.hello("10.255.0.9", "10.255.0.9")
	r.acceptFrom(7, "10.0.12.2:40001")
	noHelloRefusal(t, r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("", 180))}), 7)
}

func TestHeldInitMisbehaves(t *testing.T) {
	t.Run("second PDU", func(t *testing.T) {
		// The active LSR sends nothing after its Init until it has ours.
		r := newRig(t, nil)
		r.acceptFrom(7, "10.255.0.9:40001")
		r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("", 180))})
		acts := r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", &packet.KeepAlive{MsgID: 101})})
		nt := filterType[*packet.Notification](sentTo(t, acts, 7))
		if len(nt) != 1 || nt[0].Status.Code != packet.StatusShutdown || nt[0].Status.MsgID != 101 || !closes(acts, 7) {
			t.Fatalf("notification %+v close=%v", nt, closes(acts, 7))
		}
		if acts := r.hello("10.255.0.9", "10.255.0.9"); len(sentTo(t, acts, 7)) != 0 {
			t.Fatalf("the closed connection was answered: %+v", acts)
		}
	})
	t.Run("peer closes", func(t *testing.T) {
		r := newRig(t, nil)
		r.acceptFrom(7, "10.255.0.9:40001")
		r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("", 180))})
		r.step(ConnClosed{Conn: 7})
		if acts := r.hello("10.255.0.9", "10.255.0.9"); len(sentTo(t, acts, 7)) != 0 || closes(acts, 7) {
			t.Fatalf("a closed connection was answered: %+v", acts)
		}
		if len(r.c.conns) != 0 {
			t.Fatalf("connections %v", r.c.conns)
		}
	})
	t.Run("LDP disabled", func(t *testing.T) {
		r := newRig(t, nil)
		r.acceptFrom(7, "10.255.0.9:40001")
		r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("", 180))})
		cfg := r.cfg
		cfg.Enabled = false
		if acts := r.step(ConfigChanged{Config: cfg}); !closes(acts, 7) {
			t.Fatalf("held connection not closed: %+v", acts)
		}
		if len(r.c.conns) != 0 {
			t.Fatalf("connections %v", r.c.conns)
		}
	})
}

// A later connection from the same source supersedes a held one (the peer
// gave the first up), and at most maxHeldInits Inits wait at once: the
// others are refused at once, as without the wait.
func TestHeldInitLimits(t *testing.T) {
	r := newRig(t, nil)
	r.acceptFrom(7, "10.255.0.9:40001")
	r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("", 180))})
	r.at(time.Second)
	r.acceptFrom(8, "10.255.0.9:40002")
	acts := r.step(PDUReceived{Conn: 8, Data: pduFrom("10.255.0.9", initFrom("", 180))})
	noHelloRefusal(t, acts, 7)
	if closes(acts, 8) {
		t.Fatal("the later connection was closed")
	}
	if got := r.c.conns[8].deadline; !got.Equal(r.now.Add(noHelloWait)) {
		t.Fatalf("held until %v", got.Sub(t0))
	}
	acts = r.hello("10.255.0.9", "10.255.0.9")
	if got := types(sentTo(t, acts, 8)); !reflect.DeepEqual(got, []packet.MsgType{packet.MsgInit, packet.MsgKeepAlive}) {
		t.Fatalf("answer on the later connection: %v", got)
	}

	r = newRig(t, nil)
	for i := range maxHeldInits {
		id := ConnID(100 + i)
		lsr := fmt.Sprintf("10.1.0.%d", i+1)
		r.acceptFrom(id, lsr+":40000")
		if acts := r.step(PDUReceived{Conn: id, Data: pduFrom(lsr, initFrom("", 180))}); closes(acts, id) {
			t.Fatalf("Init %d of %d not held", i+1, maxHeldInits)
		}
	}
	r.acceptFrom(200, "10.1.1.1:40000")
	noHelloRefusal(t, r.step(PDUReceived{Conn: 200, Data: pduFrom("10.1.1.1", initFrom("", 180))}), 200)
	// Once the held ones are refused, there is room again.
	r.tick(noHelloWait)
	if n := len(r.c.conns); n != 0 {
		t.Fatalf("%d connections left after the wait", n)
	}
	r.acceptFrom(201, "10.1.1.1:40001")
	if acts := r.step(PDUReceived{Conn: 201, Data: pduFrom("10.1.1.1", initFrom("", 180))}); closes(acts, 201) {
		t.Fatal("Init not held after the others were refused")
	}
}

// Connections from unknown sources that send nothing cannot pile up: past
// maxUnboundConns without a session (silent or holding an Init), a new
// one is closed at once; sessions do not count.
func TestUnboundConnLimit(t *testing.T) {
	r := newRig(t, nil)
	r.passive() // conn 7: an operational session
	r.acceptFrom(8, "10.1.0.1:40000")
	r.step(PDUReceived{Conn: 8, Data: pduFrom("10.1.0.1", initFrom("", 180))})
	for i := 1; i < maxUnboundConns; i++ {
		r.acceptFrom(ConnID(100+i), fmt.Sprintf("10.2.%d.%d:40000", i/256, i%256))
	}
	if acts := r.step(ConnAccepted{Conn: 500, Remote: netip.MustParseAddrPort("10.3.0.1:40000")}); !closes(acts, 500) {
		t.Fatalf("connection %d without a session accepted", maxUnboundConns+1)
	}
	if _, ok := r.c.conns[500]; ok {
		t.Fatal("refused connection kept")
	}
	if s := r.state("10.255.0.9"); s != Operational {
		t.Fatalf("session %v", s)
	}
	// The silent ones are closed after 15 s, the held Init refused after
	// noHelloWait; then connections are accepted again.
	noHelloRefusal(t, r.tick(noHelloWait), 8)
	r.acceptFrom(501, "10.3.0.1:40000")
	acts := r.tick(initTimeout)
	for i := 1; i < maxUnboundConns; i++ {
		if !closes(acts, ConnID(100+i)) {
			t.Fatalf("silent connection %d not closed after %v", 100+i, initTimeout)
		}
	}
}

// In the simulation, the active LSR's Hello reaches the passive one after
// its Initialization, or is lost: the session comes up with the Hello, or
// with the next one, without a "No Hello" and the 15 s backoff.
func TestSimInitBeforeHello(t *testing.T) {
	tests := []struct {
		name string
		lost bool
		// within is when the session must be operational.
		within time.Duration
	}{
		{"hello behind the init", false, time.Second},
		// The next Hello, 5 s later (a third of the 15 s hold time).
		{"hello lost", true, DefaultHelloHold/3 + time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t)
			a := s.node("a", "10.255.0.2") // active: the higher address
			b := s.node("b", "10.255.0.1")
			s.link(a, "eth1", "10.0.0.2/30", b, "eth1", "10.0.0.1/30")
			s.installRoutes()
			// b hears nothing from a until a's Init reached it; then
			// the Hellos held back follow (unless lost).
			var late []delivery
			initSeen := false
			s.filter = func(d delivery) bool {
				if d.node != b || initSeen {
					return true
				}
				switch d.ev.(type) {
				case HelloReceived:
					if !tc.lost {
						late = append(late, d)
					}
					return false
				case PDUReceived:
					initSeen = true
					s.queue = append(s.queue, late...)
				}
				return true
			}
			s.enableAll(nil)
			if !s.runUntil(tc.within, s.allOperational) {
				t.Fatalf("sessions not operational within %v: a %v, b %v", tc.within, a.states, b.states)
			}
			if !initSeen {
				t.Fatal("the Init never reached b")
			}
			if st := b.core.Stats(); st.InitsHeld != 1 || st.NoHelloSent != 0 {
				t.Fatalf("b's stats %+v", st)
			}
		})
	}
}
