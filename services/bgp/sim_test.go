package bgp

import (
	"net/netip"
	"testing"
	"time"

	"vpnos/services/label"
)

// sim connects Speakers to each other in memory: what one sends the other
// receives, next hops resolve as told, time is fake.
type sim struct {
	t     testing.TB
	now   time.Time
	nodes map[string]*simNode
	order []*simNode
	links []*simLink
	next  ConnID
	// nhCost answers WatchNextHop for every node (unreachable when absent).
	reach map[netip.Addr]NextHopState
}

type simNode struct {
	name    string
	s       *Speaker
	inbox   []Event
	actions []Action
}

// simLink is a session between two nodes: a sees b as aKey (from local
// address aAddr), b sees a as bKey.
type simLink struct {
	a, b         *simNode
	aKey, bKey   PeerKey
	aAddr, bAddr netip.Addr
	aConn, bConn ConnID
	up           bool
}

func newSim(t testing.TB) *sim {
	return &sim{t: t, now: t0, nodes: map[string]*simNode{}, next: 100, reach: map[netip.Addr]NextHopState{}}
}

func (m *sim) add(name string, cfg Config) *simNode {
	n := &simNode{name: name, s: NewSpeaker(label.New())}
	m.nodes[name] = n
	m.order = append(m.order, n)
	n.actions = append(n.actions, n.s.Step(m.now, SetConfig{Config: cfg})...)
	return n
}

// link declares that node a (address aAddr) and node b (address bAddr)
// are peers; connect brings the TCP connection up.
func (m *sim) link(a *simNode, aAddr string, b *simNode, bAddr string) *simLink {
	l := &simLink{a: a, b: b, aAddr: netip.MustParseAddr(aAddr), bAddr: netip.MustParseAddr(bAddr)}
	l.aKey = PeerKey{Instance: PublicInstance, Addr: l.bAddr}
	l.bKey = PeerKey{Instance: PublicInstance, Addr: l.aAddr}
	m.links = append(m.links, l)
	return l
}

func (m *sim) connect(l *simLink) {
	l.aConn, l.bConn = m.next, m.next+1
	m.next += 2
	l.up = true
	l.a.inbox = append(l.a.inbox, Connected{Peer: l.aKey, Conn: l.aConn, Outgoing: true, Local: l.aAddr, Remote: l.bAddr})
	l.b.inbox = append(l.b.inbox, Connected{Peer: l.bKey, Conn: l.bConn, Local: l.bAddr, Remote: l.aAddr})
	m.pump()
}

// cut drops a link's TCP connection on both sides.
func (m *sim) cut(l *simLink) {
	if !l.up {
		return
	}
	l.up = false
	l.a.inbox = append(l.a.inbox, Closed{Conn: l.aConn})
	l.b.inbox = append(l.b.inbox, Closed{Conn: l.bConn})
	m.pump()
}

func (m *sim) deliver(n *simNode, evs ...Event) {
	n.inbox = append(n.inbox, evs...)
	m.pump()
}

// pump runs every node until no message is in flight.
func (m *sim) pump() {
	for round := 0; round < 1000; round++ {
		busy := false
		for _, n := range m.order {
			if len(n.inbox) == 0 {
				continue
			}
			busy = true
			evs := n.inbox
			n.inbox = nil
			for _, ev := range evs {
				acts := n.s.Step(m.now, ev)
				n.actions = append(n.actions, acts...)
				m.route(n, acts)
			}
		}
		if !busy {
			return
		}
	}
	m.t.Fatal("simulation does not settle")
}

func (m *sim) route(n *simNode, acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case Send:
			for _, l := range m.links {
				if !l.up {
					continue
				}
				if l.a == n && a.Conn == l.aConn {
					for _, msg := range a.Msgs {
						l.b.inbox = append(l.b.inbox, Received{Conn: l.bConn, Data: msg})
					}
				} else if l.b == n && a.Conn == l.bConn {
					for _, msg := range a.Msgs {
						l.a.inbox = append(l.a.inbox, Received{Conn: l.aConn, Data: msg})
					}
				}
			}
		case CloseConn:
			for _, l := range m.links {
				if l.up && ((l.a == n && a.Conn == l.aConn) || (l.b == n && a.Conn == l.bConn)) {
					l.up = false
					if l.a == n {
						l.b.inbox = append(l.b.inbox, Closed{Conn: l.bConn})
					} else {
						l.a.inbox = append(l.a.inbox, Closed{Conn: l.aConn})
					}
				}
			}
		case WatchNextHop:
			st, ok := m.reach[a.Addr]
			if !ok {
				st = NextHopState{Addr: a.Addr}
			}
			st.Instance, st.Addr = a.Instance, a.Addr
			n.inbox = append(n.inbox, st)
		}
	}
}

// routes returns what a node's table holds for a family, as sorted
// "prefix via next hop" lines.
func (n *simNode) vpnRoutes() []string {
	var out []string
	for _, k := range n.s.vpn.sortedKeys() {
		for _, p := range n.s.vpn.dests[k].paths {
			from := "local"
			if p.src != nil {
				from = p.src.key.Addr.String()
			}
			out = append(out, k.String()+" from "+from)
		}
	}
	return out
}

func (n *simNode) unicastRoutes() []string {
	var out []string
	in := n.s.insts[PublicInstance]
	for _, k := range in.routes.sortedKeys() {
		for _, p := range in.routes.dests[k].paths {
			from := "local"
			if p.src != nil {
				from = p.src.key.Addr.String()
			}
			out = append(out, k.String()+" from "+from)
		}
	}
	return out
}
