package core

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"vpnos/services/ospf/packet"
)

// recvLSU is RFC 2328 13: each LSA of an update is checked, compared with
// the database copy, installed and flooded, acknowledged, or answered.
func (c *Core) recvLSU(n *neighbor, u *packet.LSUpdate) {
	if n.state < NbrExchange {
		return
	}
	i := n.ifc
	a := i.area
	for _, l := range u.LSAs {
		if n.state < NbrExchange {
			return // the neighbour went down while processing
		}
		if !packet.ValidLSAChecksum(l.Raw) {
			c.counters.BadLSA++
			continue
		}
		db := c.scope(a, l.Type)
		if db == nil || !wellFormed(l) {
			c.counters.BadLSA++
			continue
		}
		h := l.LSAHeader
		k := h.Key()
		cur := db[k]
		isMaxAge := h.Age&^packet.DoNotAge >= packet.MaxAge
		if isMaxAge && cur == nil && !c.anyNbrExchanging() {
			c.sendAcks(i, c.unicastDst(n), []packet.LSAHeader{h})
			continue
		}
		cmp := 1
		if cur != nil {
			cmp = compareInstances(h, cur.header(c.now))
		}
		requested := false
		if req, ok := n.reqs[k]; ok && compareInstances(h, req) >= 0 {
			// An answer to our request, not flooding: MinLSArrival
			// does not hold it back, nor the next flooded instance.
			requested = true
		}
		switch {
		case cmp > 0:
			if !requested && cur != nil && cur.fromFlood && c.now.Sub(cur.installed) < c.cfg.MinLSArrival {
				continue
			}
			e := c.install(a, db, l, !requested)
			if isMaxAge {
				e.maxAgeFlooded = true
			}
			back := c.flood(a, e, i, n)
			switch {
			case back:
			case i.state == IfBackup:
				if packet.IDFromAddr(n.addr) == i.dr {
					c.queueDelayedAck(i, h)
				}
			default:
				c.queueDelayedAck(i, h)
			}
			if e.own {
				// Our own LSA from an earlier life, or one changed
				// elsewhere: originate a newer instance or flush it.
				c.forceOrig[skey(a, k)] = true
				c.origDirty = true
			}
		case n.reqs != nil && hasKey(n.reqs, k):
			c.nbrEvent(n, evBadLSReq)
			return
		case cmp == 0:
			if n.rxmt[k] != nil {
				// An implied acknowledgement.
				delete(n.rxmt, k)
				if len(n.rxmt) == 0 {
					n.rxmtAt = time.Time{}
				}
				if i.state == IfBackup && packet.IDFromAddr(n.addr) == i.dr {
					c.queueDelayedAck(i, h)
				}
			} else {
				c.sendAcks(i, c.unicastDst(n), []packet.LSAHeader{h})
			}
		default:
			if cur.maxAge(c.now) && cur.lsa.Seq == packet.MaxSequenceNumber {
				continue
			}
			if !cur.sentBack.IsZero() && c.now.Sub(cur.sentBack) < c.cfg.MinLSArrival {
				continue
			}
			cur.sentBack = c.now
			c.sendUpdates(i, c.unicastDst(n), []*lsaEntry{cur})
		}
	}
}

func hasKey(m map[lsaKey]packet.LSAHeader, k lsaKey) bool {
	_, ok := m[k]
	return ok
}

// wellFormed rejects LSAs whose body contradicts the header.
func wellFormed(l *packet.LSA) bool {
	switch l.Body.(type) {
	case *packet.RouterLSA:
		return l.Type == packet.LSARouter && l.ID == l.AdvRouter
	case *packet.NetworkLSA, *packet.SummaryLSA, *packet.ExternalLSA:
		return true
	}
	return false
}

// flood is RFC 2328 13.3: the LSA goes on the retransmission lists of the
// adjacent neighbours of its scope and out of the interfaces that need
// it. from and fromNbr are where it came from (nil for own LSAs). It
// reports whether the LSA was flooded back out of the receiving interface.
func (c *Core) flood(a *area, e *lsaEntry, from *iface, fromNbr *neighbor) bool {
	k := e.key()
	var outs []*iface
	if k.Type == packet.LSAExternal {
		for _, name := range c.ifaceNames() {
			if i := c.ifaces[name]; !i.area.cfg.Stub {
				outs = append(outs, i)
			}
		}
	} else if a != nil {
		outs = slices.Clone(a.ifaces)
		slices.SortFunc(outs, func(x, y *iface) int { return cmp.Compare(x.cfg.Name, y.cfg.Name) })
	}
	hdr := e.header(c.now)
	back := false
	for _, out := range outs {
		if out.state == IfDown || !out.sends() {
			continue
		}
		added := false
		for _, n := range out.sortedNbrs() {
			if n.state < NbrExchange {
				continue
			}
			if n.state == NbrExchange || n.state == NbrLoading {
				if req, ok := n.reqs[k]; ok {
					cmp := compareInstances(hdr, req)
					if cmp < 0 {
						continue
					}
					c.removeRequest(n, k)
					if cmp == 0 {
						continue
					}
				}
			}
			if n == fromNbr {
				continue
			}
			c.addRxmt(n, e)
			added = true
		}
		if !added {
			continue
		}
		if out == from {
			if fromNbr != nil && out.cfg.Type == Broadcast {
				na := packet.IDFromAddr(fromNbr.addr)
				if na == out.dr || na == out.bdr {
					continue
				}
			}
			if out.state == IfBackup {
				continue
			}
			back = true
		}
		c.floodQ[out] = append(c.floodQ[out], e)
	}
	return back
}

// floodDst is where flooded updates go on an interface.
func floodDst(i *iface) netip.Addr {
	if i.cfg.Type == Broadcast && i.state != IfDR && i.state != IfBackup {
		return packet.AllDRouters
	}
	return packet.AllSPFRouters
}

// flushFloodQueue sends the updates collected during the step, packed.
func (c *Core) flushFloodQueue() {
	if len(c.floodQ) == 0 {
		return
	}
	ifs := make([]*iface, 0, len(c.floodQ))
	for i := range c.floodQ {
		ifs = append(ifs, i)
	}
	slices.SortFunc(ifs, func(x, y *iface) int { return cmp.Compare(x.cfg.Name, y.cfg.Name) })
	for _, i := range ifs {
		es := c.floodQ[i]
		// The latest instance of each LSA only.
		seen := map[lsaKey]int{}
		var uniq []*lsaEntry
		for _, e := range es {
			if at, ok := seen[e.key()]; ok {
				uniq[at] = e
				continue
			}
			seen[e.key()] = len(uniq)
			uniq = append(uniq, e)
		}
		if i.state != IfDown {
			c.sendUpdates(i, floodDst(i), uniq)
		}
	}
	c.floodQ = map[*iface][]*lsaEntry{}
}

// recvAck is RFC 2328 13.7.
func (c *Core) recvAck(n *neighbor, ack *packet.LSAck) {
	if n.state < NbrExchange {
		return
	}
	for _, h := range ack.LSAs {
		k := h.Key()
		e := n.rxmt[k]
		if e == nil {
			continue
		}
		if compareInstances(h, e.header(c.now)) == 0 {
			delete(n.rxmt, k)
		}
	}
	if len(n.rxmt) == 0 {
		n.rxmtAt = time.Time{}
	}
}
