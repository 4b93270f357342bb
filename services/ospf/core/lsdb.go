package core

import (
	"cmp"
	"slices"
	"time"

	"vpnos/services/ospf/packet"
)

type lsaKey = packet.LSAKey

// lsdb is one flooding scope of the database (an area, or the AS for
// type 5 LSAs).
type lsdb map[lsaKey]*lsaEntry

// lsaEntry is one LSA instance in the database.
type lsaEntry struct {
	lsa *packet.LSA
	// installed is when this instance was installed; age0 its age then.
	installed time.Time
	age0      uint16
	// own: originated by this router (in this incarnation or an earlier
	// one, as received).
	own bool
	// maxAgeFlooded: the MaxAge instance has been flooded.
	maxAgeFlooded bool
	// fromFlood: installed from a received update (MinLSArrival applies).
	fromFlood bool
	// sentBack: when this instance was last sent back to a neighbour
	// that had an older one (at most once per MinLSArrival).
	sentBack time.Time
}

func (e *lsaEntry) key() lsaKey { return e.lsa.Key() }

// age is the current LS age in seconds.
func (e *lsaEntry) age(now time.Time) uint16 {
	if e.age0&packet.DoNotAge != 0 {
		return e.age0
	}
	a := int64(e.age0) + int64(now.Sub(e.installed)/time.Second)
	if a >= packet.MaxAge {
		return packet.MaxAge
	}
	return uint16(a)
}

func (e *lsaEntry) maxAge(now time.Time) bool { return e.age(now)&^packet.DoNotAge >= packet.MaxAge }

// header is the LSA header with the current age.
func (e *lsaEntry) header(now time.Time) packet.LSAHeader {
	h := e.lsa.LSAHeader
	h.Age = e.age(now)
	return h
}

// sendBytes is the LSA as it goes into an update: its age increased by
// the interface's transmit delay (capped at MaxAge).
func (e *lsaEntry) sendBytes(now time.Time, delay uint16) []byte {
	a := e.age(now)
	if a&packet.DoNotAge == 0 {
		a += delay
		if a > packet.MaxAge {
			a = packet.MaxAge
		}
	}
	return e.lsa.WithAge(a)
}

// compareInstances compares two instances of one LSA (RFC 2328 13.1):
// >0 if a is more recent, <0 if b is, 0 if they are the same instance.
func compareInstances(a, b packet.LSAHeader) int {
	if a.Seq != b.Seq {
		if a.Seq > b.Seq {
			return 1
		}
		return -1
	}
	if a.Checksum != b.Checksum {
		if a.Checksum > b.Checksum {
			return 1
		}
		return -1
	}
	aMax := a.Age&^packet.DoNotAge >= packet.MaxAge
	bMax := b.Age&^packet.DoNotAge >= packet.MaxAge
	if aMax != bMax {
		if aMax {
			return 1
		}
		return -1
	}
	da, db := int(a.Age&^packet.DoNotAge), int(b.Age&^packet.DoNotAge)
	if da-db > packet.MaxAgeDiff {
		return -1
	}
	if db-da > packet.MaxAgeDiff {
		return 1
	}
	return 0
}

// scope is the database an LSA of type t belongs to, seen from area a
// (nil for types this implementation does not carry).
func (c *Core) scope(a *area, t packet.LSAType) lsdb {
	switch t {
	case packet.LSARouter, packet.LSANetwork, packet.LSASummary, packet.LSAASBRSummary:
		return a.db
	case packet.LSAExternal:
		if a.cfg.Stub {
			return nil
		}
		return c.ext
	}
	return nil
}

// scopedKey names an LSA across scopes (area is ignored for type 5).
type scopedKey struct {
	area ID
	key  lsaKey
}

func skey(a *area, k lsaKey) scopedKey {
	if k.Type == packet.LSAExternal || a == nil {
		return scopedKey{area: 0xffffffff, key: k}
	}
	return scopedKey{area: a.id, key: k}
}

// selfOriginated: advertised by this router, or a network LSA for one of
// its interface addresses (RFC 2328 13.4).
func (c *Core) selfOriginated(h packet.LSAHeader) bool {
	if h.AdvRouter == c.cfg.RouterID {
		return true
	}
	if h.Type == packet.LSANetwork {
		for _, i := range c.ifaces {
			if packet.IDFromAddr(i.cfg.Prefix.Addr()) == h.ID {
				return true
			}
		}
	}
	return false
}

// install puts a new instance into db (RFC 2328 13.2), removing the old
// one from every retransmission list, and schedules SPF when the contents
// changed.
func (c *Core) install(a *area, db lsdb, l *packet.LSA, fromFlood bool) *lsaEntry {
	k := l.Key()
	old := db[k]
	e := &lsaEntry{lsa: l, installed: c.now, age0: l.Age, fromFlood: fromFlood}
	e.own = c.selfOriginated(l.LSAHeader)
	if old != nil {
		c.removeFromRxmtLists(a, old)
	}
	db[k] = e
	if old == nil || !packet.SameContents(old.lsa, l) || old.maxAge(c.now) != e.maxAge(c.now) {
		c.spfDirty = true
		if l.Type == packet.LSASummary || l.Type == packet.LSAASBRSummary || l.Type == packet.LSAExternal {
			c.spfDirty = true
		}
	}
	return e
}

// removeFromRxmtLists drops an instance from every neighbour's list (the
// neighbours of its scope).
func (c *Core) removeFromRxmtLists(a *area, e *lsaEntry) {
	k := e.key()
	for _, i := range c.ifaces {
		if k.Type != packet.LSAExternal && i.area != a {
			continue
		}
		for _, n := range i.nbrs {
			if n.rxmt[k] == e {
				delete(n.rxmt, k)
				if len(n.rxmt) == 0 {
					n.rxmtAt = time.Time{}
				}
			}
		}
	}
}

// onAnyRxmtList reports whether e waits for an acknowledgement anywhere.
func (c *Core) onAnyRxmtList(e *lsaEntry) bool {
	k := e.key()
	for _, i := range c.ifaces {
		for _, n := range i.nbrs {
			if n.rxmt[k] == e {
				return true
			}
		}
	}
	return false
}

func (c *Core) anyNbrExchanging() bool {
	for _, i := range c.ifaces {
		for _, n := range i.nbrs {
			if n.state == NbrExchange || n.state == NbrLoading {
				return true
			}
		}
	}
	return false
}

// ageDatabase runs once a second: LSAs reaching MaxAge are flooded and,
// once acknowledged everywhere, removed (RFC 2328 14); own LSAs are
// refreshed at LSRefreshTime.
func (c *Core) ageDatabase() {
	exchanging := c.anyNbrExchanging()
	visit := func(a *area, db lsdb) {
		for _, k := range sortedKeys(db) {
			e := db[k]
			if e.maxAge(c.now) {
				if !e.maxAgeFlooded {
					e.maxAgeFlooded = true
					c.flood(a, e, nil, nil)
				}
				if !exchanging && !c.onAnyRxmtList(e) {
					delete(db, k)
					c.spfDirty = true
					if e.own {
						// A flushed own LSA at MaxSequenceNumber may now
						// start again from the initial number.
						c.origDirty = true
					}
				}
				continue
			}
			if e.own && e.age(c.now) >= packet.LSRefreshTime && e.lsa.AdvRouter == c.cfg.RouterID {
				c.forceOrig[skey(a, k)] = true
				c.origDirty = true
			}
		}
	}
	for _, a := range c.sortedAreas() {
		visit(a, a.db)
	}
	var ext *area
	for _, a := range c.sortedAreas() {
		if !a.cfg.Stub {
			ext = a
			break
		}
	}
	visit(ext, c.ext)
}

func (c *Core) sortedAreas() []*area {
	out := make([]*area, 0, len(c.areas))
	for _, a := range c.areas {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y *area) int { return cmp.Compare(x.id, y.id) })
	return out
}

func sortedKeys(db lsdb) []lsaKey {
	keys := make([]lsaKey, 0, len(db))
	for k := range db {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpKey)
	return keys
}

func cmpKey(a, b lsaKey) int {
	if a.Type != b.Type {
		return int(a.Type) - int(b.Type)
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return cmp.Compare(a.AdvRouter, b.AdvRouter)
}
