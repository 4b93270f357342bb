package bgp

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"vpnos/services/bgp/packet"
	"vpnos/services/label"
)

// harness drives a Speaker with fake peers: it connects them, encodes what
// they send and decodes what the speaker sends them.
type harness struct {
	t      testing.TB
	s      *Speaker
	now    time.Time
	conns  map[PeerKey]ConnID
	locals map[PeerKey]netip.Addr
	as4    map[PeerKey]bool
	next   ConnID
	labels *label.Manager
	// Collected since the last take*.
	sent    map[PeerKey][][]byte
	actions []Action
	// reach answers WatchNextHop at once for these addresses.
	reach map[netip.Addr]NextHopState
}

func newHarness(t testing.TB, cfg Config) *harness {
	h := &harness{t: t, now: t0, conns: map[PeerKey]ConnID{}, locals: map[PeerKey]netip.Addr{},
		as4: map[PeerKey]bool{}, next: 1, labels: label.New(), sent: map[PeerKey][][]byte{},
		reach: map[netip.Addr]NextHopState{}}
	h.s = NewSpeaker(h.labels)
	h.step(SetConfig{Config: cfg})
	return h
}

func (h *harness) step(evs ...Event) []Action {
	acts := h.s.Step(h.now, evs...)
	for _, a := range acts {
		if s, ok := a.(Send); ok {
			h.sent[s.Peer] = append(h.sent[s.Peer], s.Msgs...)
		}
	}
	h.actions = append(h.actions, acts...)
	var answers []Event
	for _, a := range acts {
		if w, ok := a.(WatchNextHop); ok {
			if st, ok := h.reach[w.Addr]; ok {
				st.Instance, st.Addr = w.Instance, w.Addr
				answers = append(answers, st)
			}
		}
	}
	if len(answers) > 0 {
		acts = append(acts, h.step(answers...)...)
	}
	return acts
}

func (h *harness) advance(d time.Duration) []Action {
	h.now = h.now.Add(d)
	return h.step(Tick{})
}

// establish brings a peer's session up over an outgoing connection.
func (h *harness) establish(k PeerKey, local string, as uint32, id string, fams ...packet.Family) {
	h.t.Helper()
	h.establishAS4(k, local, as, id, true, fams...)
}

func (h *harness) establishAS4(k PeerKey, local string, as uint32, id string, as4 bool, fams ...packet.Family) {
	h.t.Helper()
	k.Instance = normInstance(k.Instance)
	c := h.next
	h.next++
	h.conns[k] = c
	h.locals[k] = netip.MustParseAddr(local)
	h.as4[k] = as4
	h.step(Connected{Peer: k, Conn: c, Outgoing: true, Local: netip.MustParseAddr(local), Remote: k.Addr})
	o := peerOpen(as, id, 90, fams...)
	if !as4 {
		o.Caps.AS4 = false
	}
	h.step(Received{Conn: c, Data: packet.EncodeOpen(o)})
	h.step(Received{Conn: c, Data: packet.EncodeKeepalive()})
	if p := h.s.peers[k]; p == nil || !p.up {
		h.t.Fatalf("peer %s not established (%v)", k, h.s.peers[k].sess.lastError)
	}
}

func (h *harness) recv(k PeerKey, msgs ...[]byte) []Action {
	k.Instance = normInstance(k.Instance)
	var evs []Event
	for _, m := range msgs {
		evs = append(evs, Received{Conn: h.conns[k], Data: m})
	}
	return h.step(evs...)
}

// takeSent returns the decoded UPDATEs sent to a peer since the last call
// (KEEPALIVEs and End-of-RIB markers are left out).
func (h *harness) takeSent(k PeerKey) []*packet.Update {
	h.t.Helper()
	k.Instance = normInstance(k.Instance)
	var out []*packet.Update
	for _, b := range h.sent[k] {
		m, err := packet.Decode(b, packet.Options{AS4: h.as4[k], EBGP: h.s.peers[k] != nil && h.s.peers[k].ebgp, MultiFamily: true})
		if err != nil {
			h.t.Fatalf("speaker sent %s an undecodable message: %v", k, err)
		}
		if u, ok := m.(*packet.Update); ok {
			if _, eor := u.IsEndOfRIB(); !eor {
				out = append(out, u)
			}
		}
	}
	h.sent[k] = nil
	return out
}

func (h *harness) takeActions() []Action {
	a := h.actions
	h.actions = nil
	return a
}

// routesSent summarises UPDATEs as sorted lines:
// "+ 65000:1:10.0.0.0/24 nh 10.255.0.1 label 48000 path 64501 lp 100 rt [65000:100]" or "- prefix".
func routesSent(us []*packet.Update) []string {
	var out []string
	attrs := func(a *packet.Attrs) string {
		var b strings.Builder
		fmt.Fprintf(&b, "path [%s] %s", a.ASPath, a.Origin)
		if a.HasLocalPref {
			fmt.Fprintf(&b, " lp %d", a.LocalPref)
		}
		if a.HasMED {
			fmt.Fprintf(&b, " med %d", a.MED)
		}
		if a.OriginatorID != 0 {
			fmt.Fprintf(&b, " originator %s", packet.AddrFrom32(a.OriginatorID))
		}
		if len(a.ClusterList) > 0 {
			var cl []string
			for _, c := range a.ClusterList {
				cl = append(cl, packet.AddrFrom32(c).String())
			}
			fmt.Fprintf(&b, " clusters %v", cl)
		}
		if len(a.ExtCommunities) > 0 {
			fmt.Fprintf(&b, " ext %v", a.ExtCommunities)
		}
		if len(a.Communities) > 0 {
			fmt.Fprintf(&b, " comm %v", a.Communities)
		}
		return b.String()
	}
	for _, u := range us {
		for _, p := range u.Withdrawn {
			out = append(out, "- "+p.String())
		}
		for _, p := range u.NLRI {
			out = append(out, fmt.Sprintf("+ %s nh %s %s", p, u.Attrs.NextHop, attrs(u.Attrs)))
		}
		if u.MPUnreach != nil {
			for _, p := range u.MPUnreach.VPN {
				out = append(out, "- "+p.String())
			}
		}
		if u.MPReach != nil {
			for _, r := range u.MPReach.VPN {
				out = append(out, fmt.Sprintf("+ %s nh %s label %d %s", r.VPNPrefix, u.MPReach.NextHop, r.Label, attrs(u.Attrs)))
			}
		}
	}
	sort.Strings(out)
	return out
}

// ribChanges summarises RIB and label actions as sorted lines.
func ribChanges(acts []Action) []string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case InstallRoute:
			proto := "IBGP"
			if a.Route.EBGP {
				proto = "EBGP"
			}
			var nhs []string
			for _, n := range a.Route.NextHops {
				s := n.Gateway.String()
				if n.Interface != "" {
					s += "%" + n.Interface
				}
				if n.Instance != "" {
					s += "@" + n.Instance
				}
				if n.Label != 0 {
					s += fmt.Sprintf(" label %d", n.Label)
				}
				if n.Tunnel {
					s += " tunnel"
				}
				nhs = append(nhs, s)
			}
			out = append(out, fmt.Sprintf("install %s %s %s med %d via %s", a.Instance, a.Route.Prefix, proto, a.Route.MED, strings.Join(nhs, ", ")))
		case RemoveRoute:
			out = append(out, fmt.Sprintf("remove %s %s", a.Instance, a.Prefix))
		case ProgramLabel:
			s := fmt.Sprintf("label %d -> %s", a.Label, a.Instance)
			if a.Prefix.IsValid() {
				s += " " + a.Prefix.String()
			}
			out = append(out, s)
		case RemoveLabel:
			out = append(out, fmt.Sprintf("unlabel %d %s", a.Label, a.Instance))
		case WatchNextHop:
			out = append(out, fmt.Sprintf("watch %s %s", a.Instance, a.Addr))
		case UnwatchNextHop:
			out = append(out, fmt.Sprintf("unwatch %s %s", a.Instance, a.Addr))
		}
	}
	sort.Strings(out)
	return out
}

func checkLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("%s:\n got:\n  %s\n want:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// Message builders for the fake peers.

func mustRD(s string) packet.RD {
	r, err := packet.ParseRD(s)
	if err != nil {
		panic(err)
	}
	return r
}

func mustRT(s string) packet.ExtCommunity {
	r, err := packet.ParseRouteTarget(s)
	if err != nil {
		panic(err)
	}
	return r
}

func pfx(s string) packet.Prefix { return packet.MustPrefix(s) }

func seq(as ...uint32) packet.ASPath {
	if len(as) == 0 {
		return nil
	}
	return packet.ASPath{{Type: packet.ASSequence, ASNs: as}}
}

func ipv4Update(t testing.TB, a packet.Attrs, nh string, prefixes ...string) []byte {
	a.NextHop = netip.MustParseAddr(nh)
	enc, err := packet.EncodeAttrs(&a, packet.Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	var ps []packet.Prefix
	for _, p := range prefixes {
		ps = append(ps, pfx(p))
	}
	msgs, err := packet.AppendIPv4Updates(nil, enc, ps)
	if err != nil {
		t.Fatal(err)
	}
	return msgs[0]
}

func ipv4Withdraw(prefixes ...string) []byte {
	var ps []packet.Prefix
	for _, p := range prefixes {
		ps = append(ps, pfx(p))
	}
	return packet.AppendIPv4Withdraws(nil, ps)[0]
}

// vpnRoute is "RD:prefix/len label N".
func vpnR(rd, prefix string, label uint32) packet.VPNRoute {
	return packet.VPNRoute{VPNPrefix: packet.VPNPrefix{RD: mustRD(rd), Prefix: pfx(prefix)}, Label: label}
}

func vpnUpdate(t testing.TB, a packet.Attrs, nh string, routes ...packet.VPNRoute) []byte {
	enc, err := packet.EncodeAttrs(&a, packet.Options{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := packet.AppendVPNUpdates(nil, enc, netip.MustParseAddr(nh), routes)
	if err != nil {
		t.Fatal(err)
	}
	return msgs[0]
}

func vpnWithdraw(routes ...packet.VPNRoute) []byte {
	var ps []packet.VPNPrefix
	for _, r := range routes {
		ps = append(ps, r.VPNPrefix)
	}
	return packet.AppendVPNWithdraws(nil, ps)[0]
}

func ibgpAttrs(rts ...string) packet.Attrs {
	a := packet.Attrs{Origin: packet.OriginIGP, LocalPref: 100, HasLocalPref: true}
	for _, rt := range rts {
		a.ExtCommunities = append(a.ExtCommunities, mustRT(rt))
	}
	return a
}

func key(inst, addr string) PeerKey {
	return PeerKey{Instance: normInstance(inst), Addr: netip.MustParseAddr(addr)}
}

func reach(inst, addr string, cost uint32, tunnel bool) NextHopState {
	return NextHopState{Instance: normInstance(inst), Addr: netip.MustParseAddr(addr), Reachable: true, Tunnel: tunnel, Cost: cost}
}
