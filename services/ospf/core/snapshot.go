package core

import (
	"net/netip"
	"slices"
	"time"

	"vpnos/services/ospf/packet"
)

// Snapshot is a copy of the state of the process for the displays.
type Snapshot struct {
	RouterID ID
	ABR      bool
	ASBR     bool
	// SPFRuns counts the SPF calculations; LastSPF is the last one.
	SPFRuns  int
	LastSPF  time.Time
	Areas    []AreaSnapshot
	External []LSASnapshot
	Routes   []Route
	Counters Counters
	// MinLSInterval, MinLSArrival and SPFHold as configured.
	MinLSInterval time.Duration
	MinLSArrival  time.Duration
	SPFHold       time.Duration
}

// AreaSnapshot is one area.
type AreaSnapshot struct {
	ID         ID
	Stub       bool
	NoSummary  bool
	SPFRuns    int
	Interfaces []InterfaceSnapshot
	LSAs       []LSASnapshot
}

// InterfaceSnapshot is one interface.
type InterfaceSnapshot struct {
	Name     string
	Area     ID
	Prefix   netip.Prefix
	Type     NetworkType
	State    IfState
	Cost     uint16
	Priority uint8
	Passive  bool
	Loopback bool
	MTU      uint16
	// DR and BDR are interface addresses (invalid when none).
	DR, BDR                                       netip.Addr
	HelloInterval, RetransmitInterval, TransDelay uint16
	DeadInterval                                  uint32
	AuthType                                      packet.AuthType
	Stats                                         IfStats
	Neighbors                                     []NeighborSnapshot
}

// NeighborSnapshot is one neighbour.
type NeighborSnapshot struct {
	RouterID ID
	Addr     netip.Addr
	State    NbrState
	Priority uint8
	DR, BDR  netip.Addr
	Options  packet.Options
	// Master: the neighbour is the master of the database exchange.
	Master bool
	// DeadIn is the time left before the inactivity timer fires.
	DeadIn time.Duration
	// FullSince is when the adjacency reached Full (zero if not Full).
	FullSince time.Time
	// StateSince is when the neighbour entered its current state.
	StateSince time.Time
	DDSeq      uint32
	// Lists: retransmission, request and database summary.
	Retransmit, Requests, Summary int
}

// LSASnapshot is one LSA of the database with its current age.
type LSASnapshot struct {
	packet.LSAHeader
	Body packet.LSABody
	// Own: originated by this router.
	Own bool
}

// Metric is what the lsdb display prints in its Metric column: the
// metric of a summary or external LSA, the smallest link metric of a
// router LSA, 0 for a network LSA.
func (l LSASnapshot) Metric() uint32 {
	switch b := l.Body.(type) {
	case *packet.RouterLSA:
		var m uint32
		for k, link := range b.Links {
			if k == 0 || uint32(link.Metric) < m {
				m = uint32(link.Metric)
			}
		}
		return m
	case *packet.SummaryLSA:
		return b.Metric
	case *packet.ExternalLSA:
		return b.Metric
	}
	return 0
}

func addrOrInvalid(id ID) netip.Addr {
	if id == 0 {
		return netip.Addr{}
	}
	return id.Addr()
}

// Snapshot copies the state at time now.
func (c *Core) Snapshot(now time.Time) Snapshot {
	if now.Before(c.now) {
		now = c.now
	}
	s := Snapshot{
		RouterID:      c.cfg.RouterID,
		ABR:           c.isABR(),
		ASBR:          c.isASBR(),
		SPFRuns:       c.spfRuns,
		LastSPF:       c.lastSPF,
		Routes:        slices.Clone(c.routes),
		Counters:      c.counters,
		MinLSInterval: c.cfg.MinLSInterval,
		MinLSArrival:  c.cfg.MinLSArrival,
		SPFHold:       c.cfg.SPFHold,
	}
	for _, a := range c.sortedAreas() {
		if len(a.ifaces) == 0 && len(a.db) == 0 && !c.configuredArea(a.id) {
			continue
		}
		as := AreaSnapshot{ID: a.id, Stub: a.cfg.Stub, NoSummary: a.cfg.NoSummary, SPFRuns: a.spfRuns}
		for _, i := range c.sortedIfaces(a) {
			is := InterfaceSnapshot{
				Name: i.cfg.Name, Area: a.id, Prefix: i.cfg.Prefix, Type: i.cfg.Type, State: i.state,
				Cost: i.cfg.Cost, Priority: i.cfg.Priority, Passive: i.cfg.Passive, Loopback: i.cfg.Loopback,
				MTU: i.cfg.MTU, DR: addrOrInvalid(i.dr), BDR: addrOrInvalid(i.bdr),
				HelloInterval: i.cfg.HelloInterval, DeadInterval: i.cfg.DeadInterval,
				RetransmitInterval: i.cfg.RetransmitInterval, TransDelay: i.cfg.TransmitDelay,
				AuthType: i.cfg.AuthType, Stats: i.stats,
			}
			for _, n := range i.sortedNbrs() {
				ns := NeighborSnapshot{
					RouterID: n.id, Addr: n.addr, State: n.state, Priority: n.priority,
					DR: addrOrInvalid(n.dr), BDR: addrOrInvalid(n.bdr), Options: n.options,
					Master: !n.master && n.state >= NbrExchange, StateSince: n.since, DDSeq: n.ddSeq,
					Retransmit: len(n.rxmt), Requests: len(n.reqs), Summary: len(n.summary),
				}
				if n.state == NbrFull {
					ns.FullSince = n.fullSince
				}
				if !n.inactivityAt.IsZero() {
					ns.DeadIn = n.inactivityAt.Sub(now)
				}
				is.Neighbors = append(is.Neighbors, ns)
			}
			as.Interfaces = append(as.Interfaces, is)
		}
		as.LSAs = snapshotDB(a.db, now)
		s.Areas = append(s.Areas, as)
	}
	s.External = snapshotDB(c.ext, now)
	return s
}

func snapshotDB(db lsdb, now time.Time) []LSASnapshot {
	out := make([]LSASnapshot, 0, len(db))
	for _, k := range sortedKeys(db) {
		e := db[k]
		out = append(out, LSASnapshot{LSAHeader: e.header(now), Body: e.lsa.Body, Own: e.own})
	}
	return out
}
