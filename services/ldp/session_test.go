package ldp

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"vpnos/services/ldp/packet"
)

// rig is one core (LSR 10.255.0.5, LDP on eth1 10.0.12.1/30, not on eth2)
// whose peers the test plays by hand, byte for byte, on a fake clock.
type rig struct {
	t     *testing.T
	c     *Core
	alloc *testAlloc
	now   time.Time
	cfg   Config
	ifs   []Interface
}

var rigID = packet.LDPID{LSRID: netip.MustParseAddr("10.255.0.5")}

func newRig(t *testing.T, mod func(*Config)) *rig {
	r := &rig{t: t, alloc: newTestAlloc(), now: t0}
	r.c = New(r.alloc)
	r.ifs = []Interface{
		{Name: "lo", VRPName: "LoopBack0", Up: true, Addrs: []netip.Prefix{pfx("10.255.0.5/32")}},
		{Name: "eth1", VRPName: "GigabitEthernet0/1/0", Up: true, Addrs: []netip.Prefix{pfx("10.0.12.1/30")}, MTU: 1500},
		{Name: "eth2", VRPName: "GigabitEthernet0/2/0", Up: true, Addrs: []netip.Prefix{pfx("10.0.13.1/30")}, MTU: 1500},
	}
	r.step(InterfacesChanged{Interfaces: r.ifs})
	r.step(RoutesChanged{Full: true, Set: []Route{
		{Prefix: pfx("10.255.0.5/32"), NextHops: []NextHop{{Interface: "lo"}}},
		{Prefix: pfx("10.0.12.0/30"), NextHops: []NextHop{{Interface: "eth1"}}},
		{Prefix: pfx("10.255.0.9/32"), NextHops: []NextHop{{Gateway: addr("10.0.12.2"), Interface: "eth1"}}},
		{Prefix: pfx("10.255.0.1/32"), NextHops: []NextHop{{Gateway: addr("10.0.12.2"), Interface: "eth1"}}},
	}})
	r.cfg = Config{Enabled: true, LSRID: rigID.LSRID, Interfaces: []InterfaceConfig{{Name: "GigabitEthernet0/1/0"}}}
	if mod != nil {
		mod(&r.cfg)
	}
	r.step(ConfigChanged{Config: r.cfg})
	return r
}

func (r *rig) step(ev Event) []Action { return r.c.Step(r.now, ev) }

func (r *rig) at(d time.Duration) { r.now = t0.Add(d) }

// tick advances to d and ticks.
func (r *rig) tick(d time.Duration) []Action {
	r.at(d)
	return r.step(Tick{})
}

func helloPDU(lsr string, hold uint16, transport string) []byte {
	h := &packet.Hello{MsgID: 1, HoldTime: hold}
	if transport != "" {
		h.TransportAddr = addr(transport)
	}
	return packet.AppendPDU(nil, packet.LDPID{LSRID: addr(lsr)}, h)
}

func pduFrom(lsr string, msgs ...packet.Message) []byte {
	return packet.AppendPDU(nil, packet.LDPID{LSRID: addr(lsr)}, msgs...)
}

func initFrom(peer string, ka uint16) *packet.Init {
	return &packet.Init{MsgID: 100, Params: packet.SessionParams{Version: 1, KeepAlive: ka, Receiver: rigID}}
}

// sentTo decodes what the actions send on conn.
func sentTo(t *testing.T, acts []Action, conn ConnID) []packet.Message {
	t.Helper()
	var only []Action
	for _, a := range acts {
		if s, ok := a.(Send); ok && s.Conn == conn {
			only = append(only, s)
		}
	}
	return sentMessages(t, only)
}

func closes(acts []Action, conn ConnID) bool {
	for _, a := range acts {
		if c, ok := a.(Close); ok && c.Conn == conn {
			return true
		}
	}
	return false
}

func dials(acts []Action) []Dial {
	var out []Dial
	for _, a := range acts {
		if d, ok := a.(Dial); ok {
			out = append(out, d)
		}
	}
	return out
}

func types(msgs []packet.Message) []packet.MsgType {
	var out []packet.MsgType
	for _, m := range msgs {
		out = append(out, m.Type())
	}
	return out
}

func (r *rig) state(lsr string) State {
	if p := r.c.peers[addr(lsr)]; p != nil {
		return p.state
	}
	return NonExistent
}

// passive brings up a session with peer 10.255.0.9 (higher: it is
// active) on conn 7 and returns what the core sent after the KeepAlive.
func (r *rig) passive() []Action {
	r.t.Helper()
	r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")})
	r.step(ConnAccepted{Conn: 7, Local: netip.MustParseAddrPort("10.255.0.5:646"), Remote: netip.MustParseAddrPort("10.255.0.9:40001")})
	acts := r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("10.255.0.9", 180))})
	if got := types(sentTo(r.t, acts, 7)); !reflect.DeepEqual(got, []packet.MsgType{packet.MsgInit, packet.MsgKeepAlive}) {
		r.t.Fatalf("answer to Init: %v", got)
	}
	acts = r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", &packet.KeepAlive{MsgID: 101})})
	if s := r.state("10.255.0.9"); s != Operational {
		r.t.Fatalf("state %v", s)
	}
	return acts
}

func TestHelloSending(t *testing.T) {
	r := newRig(t, func(c *Config) {
		c.Interfaces = append(c.Interfaces, InterfaceConfig{Name: "eth2", HelloHold: 30 * time.Second})
	})
	// The first Hellos went out when LDP was enabled; check the next ones.
	acts := r.tick(5 * time.Second)
	var hellos []SendHello
	for _, a := range acts {
		if h, ok := a.(SendHello); ok {
			hellos = append(hellos, h)
		}
	}
	if len(hellos) != 1 || hellos[0].Interface != "eth1" || hellos[0].Src != addr("10.0.12.1") {
		t.Fatalf("hellos at 5 s: %+v", hellos)
	}
	pdu, err := packet.DecodePDU(hellos[0].Data, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := pdu.Messages[0].(*packet.Hello)
	if pdu.ID != rigID || h.HoldTime != 15 || h.TransportAddr != rigID.LSRID || h.Targeted {
		t.Fatalf("hello %v %+v", pdu.ID, h)
	}
	// eth2 has hello-hold 30: every 10 s.
	acts = r.tick(10 * time.Second)
	n := 0
	for _, a := range acts {
		if h, ok := a.(SendHello); ok {
			n++
			pdu, _ := packet.DecodePDU(h.Data, 0)
			want := uint16(15)
			if h.Interface == "eth2" {
				want = 30
			}
			if got := pdu.Messages[0].(*packet.Hello).HoldTime; got != want {
				t.Errorf("%s hold %d, want %d", h.Interface, got, want)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d hellos at 10 s", n)
	}
	if d := r.c.NextDeadline(); !d.Equal(t0.Add(15 * time.Second)) {
		t.Fatalf("next deadline %v", d.Sub(t0))
	}
	// eth1 goes down: no more Hellos there.
	r.ifs[1].Up = false
	r.step(InterfacesChanged{Interfaces: r.ifs})
	for _, a := range r.tick(15 * time.Second) {
		if h, ok := a.(SendHello); ok && h.Interface == "eth1" {
			t.Fatal("hello on a down interface")
		}
	}
}

func TestHelloHoldNegotiation(t *testing.T) {
	tests := []struct {
		name   string
		ours   time.Duration
		theirs uint16
		want   time.Duration
	}{
		{"theirs shorter", 15 * time.Second, 6, 6 * time.Second},
		{"ours shorter", 9 * time.Second, 30, 9 * time.Second},
		{"theirs default", 30 * time.Second, 0, 15 * time.Second},
		{"theirs infinite", 15 * time.Second, 0xffff, 15 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(c *Config) { c.HelloHold = tc.ours })
			r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", tc.theirs, "")})
			p := r.c.peers[addr("10.255.0.9")]
			if p == nil || p.adjs["eth1"].hold != tc.want || p.transport != addr("10.0.12.2") {
				t.Fatalf("adjacency %+v", p)
			}
			r.tick(tc.want - time.Millisecond)
			if r.c.peers[addr("10.255.0.9")] == nil {
				t.Fatal("adjacency expired early")
			}
			r.tick(tc.want)
			if r.c.peers[addr("10.255.0.9")] != nil {
				t.Fatal("adjacency did not expire")
			}
		})
	}
}

func TestHellosIgnored(t *testing.T) {
	tests := []struct {
		name  string
		iface string
		data  []byte
	}{
		{"own", "eth1", helloPDU("10.255.0.5", 15, "")},
		{"label space 1", "eth1", packet.AppendPDU(nil, packet.LDPID{LSRID: addr("10.255.0.9"), Space: 1}, &packet.Hello{MsgID: 1})},
		{"targeted", "eth1", pduFrom("10.255.0.9", &packet.Hello{MsgID: 1, Targeted: true})},
		{"interface without ldp", "eth2", helloPDU("10.255.0.9", 15, "")},
		{"unknown interface", "eth9", helloPDU("10.255.0.9", 15, "")},
		{"malformed", "eth1", []byte{0, 1, 0, 30, 1, 2}},
		{"not a hello", "eth1", pduFrom("10.255.0.9", &packet.KeepAlive{MsgID: 1})},
		{"transport is mine", "eth1", helloPDU("10.255.0.9", 15, "10.255.0.5")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.step(HelloReceived{Interface: tc.iface, Src: addr("10.0.12.2"), Data: tc.data})
			if len(r.c.peers) != 0 || r.c.Stats().HellosDropped != 1 {
				t.Fatalf("peers %v, stats %+v", r.c.peers, r.c.Stats())
			}
		})
	}
}

// TestActivePassive: the higher transport address opens the connection.
func TestActivePassive(t *testing.T) {
	r := newRig(t, nil)
	acts := r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")})
	if d := dials(acts); len(d) != 0 {
		t.Fatalf("passive side dialled %+v", d)
	}
	acts = r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.3"), Data: helloPDU("10.255.0.1", 15, "10.255.0.1")})
	want := []Dial{{Peer: addr("10.255.0.1"), Local: addr("10.255.0.5"), Remote: addr("10.255.0.1"), Attempt: 1}}
	if d := dials(acts); !reflect.DeepEqual(d, want) {
		t.Fatalf("dials %+v", d)
	}
	// Further Hellos do not dial again while the attempt is under way.
	acts = r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.3"), Data: helloPDU("10.255.0.1", 15, "10.255.0.1")})
	if d := dials(acts); len(d) != 0 {
		t.Fatalf("second dial %+v", d)
	}
	// A second transport address for the same LSR is refused.
	r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.3"), Data: helloPDU("10.255.0.1", 15, "10.0.12.3")})
	if p := r.c.peers[addr("10.255.0.1")]; p.transport != addr("10.255.0.1") {
		t.Fatalf("transport %v", p.transport)
	}
}

func TestPassiveSession(t *testing.T) {
	r := newRig(t, nil)
	r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")})
	r.step(ConnAccepted{Conn: 7, Local: netip.MustParseAddrPort("10.255.0.5:646"), Remote: netip.MustParseAddrPort("10.255.0.9:40001")})
	acts := r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("10.255.0.9", 180))})
	msgs := sentTo(t, acts, 7)
	if len(msgs) != 2 {
		t.Fatalf("sent %v", types(msgs))
	}
	in := msgs[0].(*packet.Init)
	want := packet.SessionParams{Version: 1, KeepAlive: 45, MaxPDU: 4096, Receiver: packet.LDPID{LSRID: addr("10.255.0.9")}}
	if in.Params != want {
		t.Fatalf("init params %+v", in.Params)
	}
	if r.state("10.255.0.9") != OpenRec {
		t.Fatalf("state %v", r.state("10.255.0.9"))
	}
	acts = r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", &packet.KeepAlive{MsgID: 101})})
	if r.state("10.255.0.9") != Operational {
		t.Fatalf("state %v", r.state("10.255.0.9"))
	}
	msgs = sentTo(t, acts, 7)
	// Address (all addresses of up interfaces), then the mapping of the own
	// loopback with implicit null.
	wantMsgs := []packet.Message{
		&packet.Address{Family: packet.AFIPv4, Addrs: []netip.Addr{addr("10.0.12.1"), addr("10.0.13.1"), addr("10.255.0.5")}},
		&packet.LabelMapping{FEC: packet.FECOf(pfx("10.255.0.5/32")), Label: 3},
	}
	if len(msgs) != len(wantMsgs) {
		t.Fatalf("sent %v", types(msgs))
	}
	for i := range msgs {
		zeroID(msgs[i])
		if !reflect.DeepEqual(msgs[i], wantMsgs[i]) {
			t.Errorf("message %d: %#v, want %#v", i, msgs[i], wantMsgs[i])
		}
	}
	// Negotiated keepalive 45 s: a KeepAlive every 15 s, and the session
	// ends 45 s after the last PDU received.
	r.at(10 * time.Second)
	r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")})
	acts = r.tick(15 * time.Second)
	if got := types(sentTo(t, acts, 7)); !reflect.DeepEqual(got, []packet.MsgType{packet.MsgKeepAlive}) {
		t.Fatalf("at 15 s sent %v", got)
	}
	r.at(20 * time.Second)
	r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", &packet.KeepAlive{MsgID: 102})})
	for s := 10; s <= 60; s += 10 {
		r.tick(time.Duration(s) * time.Second)
		r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")})
	}
	if r.state("10.255.0.9") != Operational {
		t.Fatal("session ended before the keepalive hold")
	}
	acts = r.tick(65 * time.Second)
	nt := filterType[*packet.Notification](sentTo(t, acts, 7))
	if len(nt) != 1 || nt[0].Status.Code != packet.StatusKeepAliveExpired || !closes(acts, 7) {
		t.Fatalf("at 65 s: %v close=%v", nt, closes(acts, 7))
	}
	if r.state("10.255.0.9") != NonExistent {
		t.Fatalf("state %v", r.state("10.255.0.9"))
	}
	ps := r.c.peers[addr("10.255.0.9")]
	if ps.kaSent != 0 || len(ps.recv) != 0 {
		t.Fatalf("session state kept: %+v", ps)
	}
}

func zeroID(m packet.Message) {
	reflect.ValueOf(m).Elem().FieldByName("MsgID").SetUint(0)
}

func TestActiveSession(t *testing.T) {
	r := newRig(t, nil)
	r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.1", 15, "10.255.0.1")})
	acts := r.step(ConnUp{Conn: 3, Peer: addr("10.255.0.1"), Attempt: 1})
	msgs := sentTo(t, acts, 3)
	if len(msgs) != 1 || msgs[0].(*packet.Init).Params.Receiver != (packet.LDPID{LSRID: addr("10.255.0.1")}) {
		t.Fatalf("sent %+v", msgs)
	}
	if r.state("10.255.0.1") != OpenSent {
		t.Fatalf("state %v", r.state("10.255.0.1"))
	}
	// The peer proposes a shorter keepalive (30 s) and answers with
	// Init and KeepAlive in one PDU.
	in := &packet.Init{MsgID: 1, Params: packet.SessionParams{Version: 1, KeepAlive: 30, MaxPDU: 1000, Receiver: rigID}}
	acts = r.step(PDUReceived{Conn: 3, Data: pduFrom("10.255.0.1", in, &packet.KeepAlive{MsgID: 2})})
	if got := types(sentTo(t, acts, 3)); got[0] != packet.MsgKeepAlive || r.state("10.255.0.1") != Operational {
		t.Fatalf("sent %v state %v", got, r.state("10.255.0.1"))
	}
	p := r.c.peers[addr("10.255.0.1")]
	if p.kaHold != 30*time.Second || p.maxPDU != 1000 {
		t.Fatalf("negotiated ka %v max pdu %d", p.kaHold, p.maxPDU)
	}
	// The connection drops: an operational session is retried at once.
	r.at(time.Minute)
	r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.1", 15, "10.255.0.1")})
	acts = r.step(ConnClosed{Conn: 3})
	if closes(acts, 3) {
		t.Fatal("closing a connection the peer closed")
	}
	if d := dials(acts); len(d) != 1 {
		t.Fatalf("no redial after an operational session: %v", acts)
	}
}

// TestSessionRejectedBackoff: an active LSR whose Init is refused tries
// again after 15 s, then 30, 60, 120 and 120 s.
func TestSessionRejectedBackoff(t *testing.T) {
	r := newRig(t, func(c *Config) { c.HelloHold = MaxHold })
	var now time.Duration
	hello := func() {
		r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.1", 0xffff, "10.255.0.1")})
	}
	hello()
	conn := ConnID(10)
	for k, wait := range []time.Duration{15, 30, 60, 120, 120} {
		r.step(ConnUp{Conn: conn, Peer: addr("10.255.0.1"), Attempt: uint64(k + 1)})
		rej := &packet.Notification{MsgID: 1, Status: packet.Status{Code: packet.StatusRejectedAdvMode, MsgID: 1, MsgType: packet.MsgInit}}
		acts := r.step(PDUReceived{Conn: conn, Data: pduFrom("10.255.0.1", rej)})
		if !closes(acts, conn) || len(sentTo(t, acts, conn)) != 0 {
			t.Fatalf("after a rejection: %+v", acts)
		}
		if d := r.c.NextDeadline(); d.After(t0.Add(now + wait*time.Second)) {
			t.Fatalf("no deadline for the retry: %v", d.Sub(t0))
		}
		if d := dials(r.tick(now + wait*time.Second - time.Millisecond)); len(d) != 0 {
			t.Fatalf("retry before %d s", wait)
		}
		if d := dials(r.tick(now + wait*time.Second)); len(d) != 1 {
			t.Fatalf("no retry after %d s", wait)
		}
		now += wait * time.Second
		conn++
	}
	// A connection that could not be opened is retried after 1 s: no
	// Initialization was refused. The initialization backoff stays: the
	// next refusal waits 120 s again.
	r.step(ConnFailed{Peer: addr("10.255.0.1"), Attempt: 6})
	if d := dials(r.tick(now + time.Second - time.Millisecond)); len(d) != 0 {
		t.Fatal("retry of a failed connection before 1 s")
	}
	now += time.Second
	if d := dials(r.tick(now)); len(d) != 1 || d[0].Attempt != 7 {
		t.Fatalf("retry of a failed connection after 1 s: %+v", d)
	}
	r.step(ConnUp{Conn: conn, Peer: addr("10.255.0.1"), Attempt: 7})
	rej := &packet.Notification{MsgID: 1, Status: packet.Status{Code: packet.StatusRejectedAdvMode, MsgID: 1, MsgType: packet.MsgInit}}
	r.step(PDUReceived{Conn: conn, Data: pduFrom("10.255.0.1", rej)})
	if d := dials(r.tick(now + 119*time.Second)); len(d) != 0 {
		t.Fatal("retry before the initialization backoff")
	}
	if d := dials(r.tick(now + 120*time.Second)); len(d) != 1 {
		t.Fatal("no retry after the initialization backoff")
	}
}

func TestInitRejected(t *testing.T) {
	tests := []struct {
		name   string
		from   string
		remote string
		init   *packet.Init
		code   packet.StatusCode
	}{
		{"bad keepalive", "10.255.0.9", "10.255.0.9:1", initFrom("", 1), packet.StatusBadKeepAliveTime},
		{"version 2", "10.255.0.9", "10.255.0.9:1",
			&packet.Init{MsgID: 100, Params: packet.SessionParams{Version: 2, KeepAlive: 45, Receiver: rigID}}, packet.StatusBadVersion},
		{"other receiver", "10.255.0.9", "10.255.0.9:1",
			&packet.Init{MsgID: 100, Params: packet.SessionParams{Version: 1, KeepAlive: 45, Receiver: packet.LDPID{LSRID: addr("10.255.0.6")}}}, packet.StatusNoHello},
		{"wrong source", "10.255.0.9", "10.0.12.2:1", initFrom("", 45), packet.StatusNoHello},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")})
			r.step(ConnAccepted{Conn: 7, Remote: netip.MustParseAddrPort(tc.remote)})
			acts := r.step(PDUReceived{Conn: 7, Data: pduFrom(tc.from, tc.init)})
			nt := filterType[*packet.Notification](sentTo(t, acts, 7))
			if len(nt) != 1 || nt[0].Status.Code != tc.code || nt[0].Status.MsgID != 100 || nt[0].Status.MsgType != packet.MsgInit {
				t.Fatalf("notification %+v", nt)
			}
			if !closes(acts, 7) || r.state("10.255.0.9") != NonExistent {
				t.Fatalf("close %v state %v", closes(acts, 7), r.state("10.255.0.9"))
			}
			// The peer may try again on a new connection.
			r.step(ConnAccepted{Conn: 8, Remote: netip.MustParseAddrPort("10.255.0.9:2")})
			r.step(PDUReceived{Conn: 8, Data: pduFrom("10.255.0.9", initFrom("", 45))})
			if r.state("10.255.0.9") != OpenRec {
				t.Fatalf("a good Init after a rejection: %v", r.state("10.255.0.9"))
			}
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		code  packet.StatusCode // Notification sent
		close bool
	}{
		{"bad tlv length", unhexT(t, `0001 0012 0aff0009 0000 0201 0008 00000001 0999 0009`), packet.StatusBadTLVLength, true},
		{"bad version", unhexT(t, `0002 000e 0aff0009 0000 0201 0004 00000001`), packet.StatusBadVersion, true},
		{"other ldp id", pduFrom("10.255.0.8", &packet.KeepAlive{MsgID: 5}), packet.StatusBadLDPID, true},
		{"init when operational", pduFrom("10.255.0.9", initFrom("", 45)), packet.StatusShutdown, true},
		{"unknown tlv without U bit", unhexT(t, `0001 0012 0aff0009 0000 0201 0008 00000001 0999 0000`), packet.StatusUnknownTLV, false},
		{"unknown message without U bit", unhexT(t, `0001 000e 0aff0009 0000 0777 0004 00000009`), packet.StatusUnknownMessage, false},
		{"unknown message with U bit", unhexT(t, `0001 000e 0aff0009 0000 8777 0004 00000009`), 0, false},
		{"unsupported fec", unhexT(t, `0001 001e 0aff0009 0000 0400 0014 00000001 0100 0004 05 02 0002 0200 0004 00000010`), packet.StatusUnknownFEC, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.passive()
			acts := r.step(PDUReceived{Conn: 7, Data: tc.data})
			nt := filterType[*packet.Notification](sentTo(t, acts, 7))
			if tc.code == 0 {
				if len(nt) != 0 {
					t.Fatalf("notifications %+v", nt)
				}
			} else if len(nt) != 1 || nt[0].Status.Code != tc.code {
				t.Fatalf("notifications %+v, want %v", nt, tc.code)
			}
			if closes(acts, 7) != tc.close {
				t.Fatalf("close %v", closes(acts, 7))
			}
			if want := map[bool]State{true: NonExistent, false: Operational}[tc.close]; r.state("10.255.0.9") != want {
				t.Fatalf("state %v", r.state("10.255.0.9"))
			}
		})
	}
}

func unhexT(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	var hi = -1
	for _, ch := range s {
		var v int
		switch {
		case ch >= '0' && ch <= '9':
			v = int(ch - '0')
		case ch >= 'a' && ch <= 'f':
			v = int(ch-'a') + 10
		default:
			continue
		}
		if hi < 0 {
			hi = v
		} else {
			b = append(b, byte(hi<<4|v))
			hi = -1
		}
	}
	return b
}

func TestUnexpectedDuringInit(t *testing.T) {
	r := newRig(t, nil)
	r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")})
	r.step(ConnAccepted{Conn: 7, Remote: netip.MustParseAddrPort("10.255.0.9:1")})
	r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", initFrom("", 45))})
	// In OpenRec only a KeepAlive is acceptable.
	acts := r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", &packet.Address{MsgID: 9, Addrs: []netip.Addr{addr("10.0.12.2")}})})
	nt := filterType[*packet.Notification](sentTo(t, acts, 7))
	if len(nt) != 1 || nt[0].Status.Code != packet.StatusShutdown || nt[0].Status.MsgID != 9 || !closes(acts, 7) {
		t.Fatalf("notification %+v", nt)
	}
	// A connection whose first message is not an Init is refused.
	r.step(ConnAccepted{Conn: 8, Remote: netip.MustParseAddrPort("10.255.0.9:2")})
	acts = r.step(PDUReceived{Conn: 8, Data: pduFrom("10.255.0.9", &packet.KeepAlive{MsgID: 3})})
	if !closes(acts, 8) {
		t.Fatal("not closed")
	}
}

func TestInitTimeout(t *testing.T) {
	r := newRig(t, func(c *Config) { c.HelloHold = MaxHold })
	r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 0xffff, "10.255.0.9")})
	r.step(ConnAccepted{Conn: 7, Remote: netip.MustParseAddrPort("10.255.0.9:1")})
	if acts := r.tick(15 * time.Second); !closes(acts, 7) {
		t.Fatal("silent connection not closed after 15 s")
	}
	r.step(ConnAccepted{Conn: 8, Remote: netip.MustParseAddrPort("10.255.0.9:1")})
	r.step(PDUReceived{Conn: 8, Data: pduFrom("10.255.0.9", initFrom("", 45))})
	if acts := r.tick(30 * time.Second); !closes(acts, 8) || r.state("10.255.0.9") != NonExistent {
		t.Fatal("OpenRec without KeepAlive not closed after 15 s")
	}
}

func TestLabelMessages(t *testing.T) {
	r := newRig(t, nil)
	r.passive()
	from := func(msgs ...packet.Message) []Action {
		return r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", msgs...)})
	}
	from(&packet.Address{MsgID: 1, Family: packet.AFIPv4, Addrs: []netip.Addr{addr("10.255.0.9"), addr("10.0.12.2")}})
	acts := from(
		&packet.LabelMapping{MsgID: 2, FEC: packet.FECOf(pfx("10.255.0.9/32")), Label: 3},
		&packet.LabelMapping{MsgID: 3, FEC: packet.FECOf(pfx("10.255.0.1/32")), Label: 1000},
	)
	lsps := r.c.LSPs()
	if len(lsps) != 3 {
		t.Fatalf("LSPs %+v", lsps)
	}
	// Ordered control: transit labels for both FECs go back to the peer.
	maps := filterType[*packet.LabelMapping](sentTo(t, acts, 7))
	if len(maps) != 2 || maps[0].Label != 48000 || maps[1].Label != 48001 {
		t.Fatalf("mappings %+v", maps)
	}
	// A new label for 10.255.0.1 replaces the old one, which is released.
	acts = from(&packet.LabelMapping{MsgID: 4, FEC: packet.FECOf(pfx("10.255.0.1/32")), Label: 1001})
	rel := filterType[*packet.LabelRelease](sentTo(t, acts, 7))
	if len(rel) != 1 || rel[0].Label != 1000 || !rel[0].HasLabel {
		t.Fatalf("release %+v", rel)
	}
	for _, l := range r.c.LSPs() {
		if l.FEC == pfx("10.255.0.1/32") && l.NextHops[0].Out != 1001 {
			t.Fatalf("out label %d", l.NextHops[0].Out)
		}
	}
	// Label Request: answered from the local label, or No Route.
	acts = from(&packet.LabelRequest{MsgID: 5, FEC: packet.FECOf(pfx("10.255.0.5/32"))},
		&packet.LabelRequest{MsgID: 6, FEC: packet.FECOf(pfx("192.0.2.0/24"))},
		&packet.LabelAbort{MsgID: 7, FEC: packet.FECOf(pfx("192.0.2.0/24")), RequestID: 6})
	sent := sentTo(t, acts, 7)
	if m := filterType[*packet.LabelMapping](sent); len(m) != 1 || m[0].Label != 3 || !m[0].HasRequestID || m[0].RequestID != 5 {
		t.Fatalf("answer %+v", m)
	}
	if n := filterType[*packet.Notification](sent); len(n) != 1 || n[0].Status.Code != packet.StatusNoRoute || n[0].Status.MsgID != 6 {
		t.Fatalf("no route %+v", n)
	}
	// A wildcard withdraw removes every label of the peer and is answered
	// with a wildcard release; the transit labels are withdrawn in turn.
	acts = from(&packet.LabelWithdraw{MsgID: 8, FEC: packet.WildcardFEC})
	sent = sentTo(t, acts, 7)
	if rel := filterType[*packet.LabelRelease](sent); len(rel) != 1 || !rel[0].FEC.Wildcard {
		t.Fatalf("release %+v", rel)
	}
	if w := filterType[*packet.LabelWithdraw](sent); len(w) != 2 {
		t.Fatalf("withdraws %+v", w)
	}
	if lsps := r.c.LSPs(); len(lsps) != 1 || !lsps[0].Egress {
		t.Fatalf("LSPs after the wildcard withdraw %+v", lsps)
	}
	// The peer releases the withdrawn labels: they return to the allocator.
	from(&packet.LabelRelease{MsgID: 9, FEC: packet.FECOf(pfx("10.255.0.9/32")), Label: 48000, HasLabel: true},
		&packet.LabelRelease{MsgID: 10, FEC: packet.FECOf(pfx("10.255.0.1/32")), Label: 48001, HasLabel: true})
	if len(r.alloc.used) != 0 {
		t.Fatalf("labels still held %v", r.alloc.used)
	}
}

func TestAddressWithdrawMovesOff(t *testing.T) {
	r := newRig(t, nil)
	r.passive()
	from := func(msgs ...packet.Message) []Action {
		return r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9", msgs...)})
	}
	from(&packet.Address{MsgID: 1, Family: packet.AFIPv4, Addrs: []netip.Addr{addr("10.0.12.2")}},
		&packet.LabelMapping{MsgID: 2, FEC: packet.FECOf(pfx("10.255.0.9/32")), Label: 3})
	if len(r.c.LSPs()) != 2 {
		t.Fatalf("LSPs %+v", r.c.LSPs())
	}
	acts := from(&packet.Address{MsgID: 3, Withdraw: true, Family: packet.AFIPv4, Addrs: []netip.Addr{addr("10.0.12.2")}})
	if len(r.c.LSPs()) != 1 {
		t.Fatalf("LSPs %+v", r.c.LSPs())
	}
	var ch LSPsChanged
	for _, a := range acts {
		if c, ok := a.(LSPsChanged); ok {
			ch = c
		}
	}
	if len(ch.Delete) != 1 || ch.Delete[0] != pfx("10.255.0.9/32") {
		t.Fatalf("change %+v", ch)
	}
}

func TestOwnAddressChanges(t *testing.T) {
	r := newRig(t, nil)
	r.passive()
	r.ifs[2].Addrs = []netip.Prefix{pfx("10.0.14.1/30")}
	acts := r.step(InterfacesChanged{Interfaces: r.ifs})
	msgs := sentTo(t, acts, 7)
	if len(msgs) != 2 {
		t.Fatalf("sent %v", types(msgs))
	}
	w, a := msgs[0].(*packet.Address), msgs[1].(*packet.Address)
	if !w.Withdraw || !reflect.DeepEqual(w.Addrs, []netip.Addr{addr("10.0.13.1")}) || a.Withdraw || !reflect.DeepEqual(a.Addrs, []netip.Addr{addr("10.0.14.1")}) {
		t.Fatalf("address messages %+v %+v", w, a)
	}
}

// TestUndoInterface: `undo mpls ldp` on the only interface to a peer ends
// the session with a Shutdown Notification; `undo mpls ldp` in system view
// ends them all and releases everything.
func TestUndoMplsLdp(t *testing.T) {
	r := newRig(t, nil)
	r.passive()
	cfg := r.cfg
	cfg.Interfaces = nil
	acts := r.step(ConfigChanged{Config: cfg})
	nt := filterType[*packet.Notification](sentTo(t, acts, 7))
	if len(nt) != 1 || nt[0].Status.Code != packet.StatusShutdown || !closes(acts, 7) {
		t.Fatalf("%+v", acts)
	}
	if len(r.c.peers) != 0 {
		t.Fatal("peer kept")
	}

	r = newRig(t, func(c *Config) { c.Advertise = AdvertiseNonNull })
	r.passive()
	if len(r.alloc.used) != 1 {
		t.Fatalf("labels %v", r.alloc.used)
	}
	acts = r.step(Stop{})
	nt = filterType[*packet.Notification](sentTo(t, acts, 7))
	if len(nt) != 1 || nt[0].Status.Code != packet.StatusShutdown || !closes(acts, 7) {
		t.Fatalf("%+v", acts)
	}
	if len(r.c.LSPs()) != 0 || len(r.alloc.used) != 0 {
		t.Fatalf("after stop: LSPs %v labels %v", r.c.LSPs(), r.alloc.used)
	}
	if !r.c.NextDeadline().IsZero() {
		t.Fatal("a stopped core wants ticks")
	}
	// Nothing is accepted while stopped.
	if acts := r.step(ConnAccepted{Conn: 9}); !closes(acts, 9) {
		t.Fatal("connection accepted while disabled")
	}
}

// TestInterfaceDown: the only interface to a peer goes down; the
// adjacency goes at once and the session ends (Shutdown).
func TestInterfaceDown(t *testing.T) {
	r := newRig(t, nil)
	r.passive()
	r.step(PDUReceived{Conn: 7, Data: pduFrom("10.255.0.9",
		&packet.Address{MsgID: 1, Family: packet.AFIPv4, Addrs: []netip.Addr{addr("10.0.12.2")}},
		&packet.LabelMapping{MsgID: 2, FEC: packet.FECOf(pfx("10.255.0.9/32")), Label: 3})})
	if len(r.c.LSPs()) != 2 {
		t.Fatalf("LSPs %+v", r.c.LSPs())
	}
	r.ifs[1].Up = false
	acts := r.step(InterfacesChanged{Interfaces: r.ifs})
	nt := filterType[*packet.Notification](sentTo(t, acts, 7))
	if len(nt) != 1 || nt[0].Status.Code != packet.StatusShutdown || !closes(acts, 7) {
		t.Fatalf("%+v", acts)
	}
	if l := r.c.LSPs(); len(l) != 1 || !l[0].Egress {
		t.Fatalf("LSPs %+v", l)
	}
	if got, _ := r.c.RunningInterfaces(); len(got) != 0 {
		t.Fatalf("running %v", got)
	}
}

// TestHelloToNewNeighbour: a Hello from a new neighbour is answered at
// once with our Hello on that interface, ahead of our Init when we are the
// active side (so the passive side knows us when the Init arrives); later
// Hellos of the same neighbour keep the period.
func TestHelloToNewNeighbour(t *testing.T) {
	r := newRig(t, nil)
	r.at(2 * time.Second)
	acts := r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.3"), Data: helloPDU("10.255.0.1", 15, "10.255.0.1")})
	hello, dial := -1, -1
	for i, a := range acts {
		switch a := a.(type) {
		case SendHello:
			if a.Interface == "eth1" && hello < 0 {
				hello = i
			}
		case Dial:
			dial = i
		}
	}
	if hello < 0 || dial < 0 || hello > dial {
		t.Fatalf("want a Hello on eth1 before the Dial, got %+v", acts)
	}
	r.at(3 * time.Second)
	for _, a := range r.step(HelloReceived{Interface: "eth1", Src: addr("10.0.12.3"), Data: helloPDU("10.255.0.1", 15, "10.255.0.1")}) {
		if _, ok := a.(SendHello); ok {
			t.Fatalf("a Hello for a known neighbour: %+v", a)
		}
	}
	// The period goes on from the triggered Hello.
	if d := r.c.NextDeadline(); !d.Equal(t0.Add(7 * time.Second)) {
		t.Fatalf("next deadline %v", d.Sub(t0))
	}
}
