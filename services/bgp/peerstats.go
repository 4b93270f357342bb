package bgp

import (
	"time"

	"vpnos/services/bgp/packet"
)

// MsgCounts counts a peer's messages of each type in one direction, and
// when the last KEEPALIVE and UPDATE passed (`display bgp peer verbose`).
type MsgCounts struct {
	Open, Update, Keepalive, Notification, Refresh uint64
	LastKeepalive, LastUpdate                      time.Time
}

// Total is the number of messages of every type.
func (c MsgCounts) Total() uint64 {
	return c.Open + c.Update + c.Keepalive + c.Notification + c.Refresh
}

func (c *MsgCounts) count(now time.Time, msg []byte) {
	if len(msg) < packet.HeaderLen {
		return
	}
	switch packet.Type(msg[packet.HeaderLen-1]) {
	case packet.TypeOpen:
		c.Open++
	case packet.TypeUpdate:
		c.Update++
		c.LastUpdate = now
	case packet.TypeKeepalive:
		c.Keepalive++
		c.LastKeepalive = now
	case packet.TypeNotification:
		c.Notification++
	case packet.TypeRouteRefresh:
		c.Refresh++
	}
}

// peerStats is what a peer's displays need beyond the speaker's own
// counters: messages by type, and when and from where the session last
// changed state. The speaker feeds it as messages pass and states change.
type peerStats struct {
	in, out MsgCounts
	since   time.Time // of the current state
	prev    State     // the state before the current one
	changed bool      // prev is set
}

func (st *peerStats) received(now time.Time, msg []byte) { st.in.count(now, msg) }

func (st *peerStats) sent(now time.Time, msgs [][]byte) {
	for _, m := range msgs {
		st.out.count(now, m)
	}
}

func (st *peerStats) state(now time.Time, from State) {
	st.since, st.prev, st.changed = now, from, true
}

func (st *peerStats) added(now time.Time) { st.since, st.changed = now, false }
