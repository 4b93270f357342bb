// Package core is the OSPFv2 protocol engine of RFC 2328 as pure,
// deterministic code: the interface and neighbour state machines, the
// database exchange, the link-state database with flooding, aging and
// origination (router, network, summary and AS-external LSAs), and the
// shortest-path-first calculation with equal-cost multipath.
//
// It does no I/O, reads no clock and starts no goroutine. The caller feeds
// events with the current time (Step) and carries out the actions it
// returns: packets to send, multicast groups to join or leave, routes to
// install. NextDeadline tells when the next timer is due; the caller steps a
// Tick then (any event also runs the timers that are due). A Core is not
// safe for concurrent use.
package core

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"vpnos/services/ospf/packet"
)

// ID is a router, area or link state ID.
type ID = packet.ID

// Backbone is area 0.0.0.0.
const Backbone ID = 0

// Config is the process-wide configuration of the core.
type Config struct {
	RouterID ID
	// Areas lists the configured areas (interfaces name theirs; an area
	// an interface names but Areas lacks is a normal area).
	Areas []AreaConfig
	// MinLSInterval is the least time between two originations of one LSA
	// (RFC 2328: 5s, the default).
	MinLSInterval time.Duration
	// MinLSArrival is the least time between two accepted instances of one
	// LSA received by flooding (1s by default).
	MinLSArrival time.Duration
	// SPFHold is the least time between two SPF runs (default 50ms); the
	// first run after a quiet period is immediate.
	SPFHold time.Duration
	// MaxPaths bounds the equal-cost next hops of a route (default 8).
	MaxPaths int
}

// AreaConfig is one area.
type AreaConfig struct {
	ID ID
	// Stub areas carry no AS-external LSAs; their ABRs originate a default
	// summary LSA into them.
	Stub bool
	// NoSummary (a totally stubby area, with Stub) makes the ABR originate
	// only the default summary into the area.
	NoSummary bool
	// DefaultCost is the metric of that default summary (default 1).
	DefaultCost uint32
}

func (c *Config) defaults() {
	if c.MinLSInterval == 0 {
		c.MinLSInterval = 5 * time.Second
	}
	if c.MinLSArrival == 0 {
		c.MinLSArrival = time.Second
	}
	if c.SPFHold == 0 {
		c.SPFHold = 50 * time.Millisecond
	}
	if c.MaxPaths <= 0 {
		c.MaxPaths = 8
	}
}

// NetworkType is the OSPF network type of an interface.
type NetworkType uint8

// Network types.
const (
	Broadcast NetworkType = iota
	PointToPoint
)

func (t NetworkType) String() string {
	if t == PointToPoint {
		return "P2P"
	}
	return "Broadcast"
}

// IfaceConfig is one interface as OSPF runs on it.
type IfaceConfig struct {
	// Name is the interface (kernel) name; it keys the interface and is
	// what Send actions and route next hops carry.
	Name string
	Area ID
	// Prefix is the primary address with its mask (10.0.12.1/30).
	Prefix netip.Prefix
	Type   NetworkType
	// Up is the link state.
	Up bool
	// Loopback interfaces advertise their address as a /32 stub link of
	// cost 0 and send nothing.
	Loopback bool
	// Passive (silent) interfaces advertise their network and send nothing.
	Passive bool
	Cost    uint16
	// HelloInterval and DeadInterval in seconds (10 and 40 by default);
	// RetransmitInterval (5) and TransmitDelay (1) too.
	HelloInterval      uint16
	DeadInterval       uint32
	RetransmitInterval uint16
	TransmitDelay      uint16
	// Priority is the DR priority (0: never DR or BDR).
	Priority uint8
	// MTU is the IP MTU (default 1500): DD packets announce it, received DD
	// packets with a larger one are refused, and packets are sized for it.
	MTU uint16
	// AuthType and AuthKey: null or simple password authentication.
	AuthType packet.AuthType
	AuthKey  [8]byte
}

func (c *IfaceConfig) defaults() {
	if c.HelloInterval == 0 {
		c.HelloInterval = 10
	}
	if c.DeadInterval == 0 {
		c.DeadInterval = 4 * uint32(c.HelloInterval)
	}
	if c.RetransmitInterval == 0 {
		c.RetransmitInterval = 5
	}
	if c.TransmitDelay == 0 {
		c.TransmitDelay = 1
	}
	if c.MTU == 0 {
		c.MTU = 1500
	}
	if c.Loopback {
		c.Cost = 0
	} else if c.Cost == 0 {
		c.Cost = 1
	}
}

// External is a route to advertise in an AS-external LSA (a route
// redistributed into OSPF).
type External struct {
	Prefix netip.Prefix
	// Type2 selects metric type 2 (E2), else type 1.
	Type2  bool
	Metric uint32
	Tag    uint32
	// Forward is the forwarding address (unset: this router).
	Forward netip.Addr
}

// Event is an input of Step.
type Event interface{ isEvent() }

// Tick only runs the timers that are due.
type Tick struct{}

// SetConfig replaces the process configuration. A new router ID restarts
// the process; a change of an area's stub settings restarts that area.
type SetConfig struct{ Config Config }

// SetInterfaces replaces the set of OSPF interfaces. New ones start, gone
// ones stop, changed ones adapt (a new area, address, type, timer, MTU or
// authentication restarts the interface; cost and priority do not).
type SetInterfaces struct{ Interfaces []IfaceConfig }

// SetExternal replaces the set of redistributed routes.
type SetExternal struct{ Routes []External }

// Receive is a packet received on an interface: the IP payload and the
// addresses of its IP header.
type Receive struct {
	Iface    string
	Src, Dst netip.Addr
	Data     []byte
}

// Reset restarts the process (`reset ospf process`): every adjacency goes
// down and the database is relearnt.
type Reset struct{}

func (Tick) isEvent()          {}
func (SetConfig) isEvent()     {}
func (SetInterfaces) isEvent() {}
func (SetExternal) isEvent()   {}
func (Receive) isEvent()       {}
func (Reset) isEvent()         {}

// Action is an output of Step.
type Action interface{ isAction() }

// Send is a packet to send out of an interface to Dst (AllSPFRouters,
// AllDRouters or a neighbour), IP TTL 1.
type Send struct {
	Iface string
	Dst   netip.Addr
	Data  []byte
}

// Join and Leave change the multicast groups of an interface.
type Join struct {
	Iface string
	Group netip.Addr
}

// Leave leaves a multicast group.
type Leave struct {
	Iface string
	Group netip.Addr
}

// RoutesChanged carries the complete new routing table of the process
// (sorted by prefix) whenever it changed.
type RoutesChanged struct{ Routes []Route }

// NeighborChanged reports a neighbour state change (for logs).
type NeighborChanged struct {
	Iface    string
	RouterID ID
	Addr     netip.Addr
	From, To NbrState
	Event    string
}

func (Send) isAction()            {}
func (Join) isAction()            {}
func (Leave) isAction()           {}
func (RoutesChanged) isAction()   {}
func (NeighborChanged) isAction() {}

// Counters count what the receive path dropped.
type Counters struct {
	Received  uint64 // packets accepted
	Malformed uint64 // undecodable packets
	Rejected  uint64 // decodable but failing a check (area, auth, parameters)
	BadLSA    uint64 // LSAs with a bad checksum or unknown type
	Sent      uint64
}

// Core is one OSPF process.
type Core struct {
	cfg    Config
	areas  map[ID]*area
	ifaces map[string]*iface
	// ext is the AS-external part of the database.
	ext lsdb

	externals []External

	now time.Time
	out []Action

	// floodQ collects the LSAs to flood per interface during a step.
	floodQ map[*iface][]*lsaEntry

	ageAt     time.Time
	spfAt     time.Time
	spfDirty  bool
	lastSPF   time.Time
	spfRuns   int
	origDirty bool
	origAt    time.Time
	lastOrig  map[scopedKey]time.Time
	forceOrig map[scopedKey]bool

	// ddSeq seeds the DD sequence numbers of new adjacencies.
	ddSeq uint32

	routes    []Route
	rt        *routingTable
	sentAny   bool
	counters  Counters
	startedAt time.Time
}

// New returns a core with cfg (the router ID must be set) and no interfaces.
func New(cfg Config) *Core {
	cfg.defaults()
	c := &Core{
		cfg:       cfg,
		areas:     map[ID]*area{},
		ifaces:    map[string]*iface{},
		ext:       lsdb{},
		floodQ:    map[*iface][]*lsaEntry{},
		lastOrig:  map[scopedKey]time.Time{},
		forceOrig: map[scopedKey]bool{},
		rt:        &routingTable{},
	}
	for _, a := range cfg.Areas {
		c.areaFor(a.ID)
	}
	return c
}

// RouterID returns the router ID.
func (c *Core) RouterID() ID { return c.cfg.RouterID }

// Counters returns the receive counters.
func (c *Core) Counters() Counters { return c.counters }

// Routes returns the current routing table.
func (c *Core) Routes() []Route { return slices.Clone(c.routes) }

func (c *Core) areaConfig(id ID) AreaConfig {
	for _, a := range c.cfg.Areas {
		if a.ID == id {
			if a.DefaultCost == 0 {
				a.DefaultCost = 1
			}
			return a
		}
	}
	return AreaConfig{ID: id, DefaultCost: 1}
}

func (c *Core) areaFor(id ID) *area {
	a := c.areas[id]
	if a == nil {
		a = &area{id: id, cfg: c.areaConfig(id), db: lsdb{}}
		c.areas[id] = a
	}
	return a
}

// Step processes one event at time now and returns the actions to carry
// out, in order. Timers that are due run too.
func (c *Core) Step(now time.Time, ev Event) []Action {
	if now.Before(c.now) {
		now = c.now // time never runs backwards inside the core
	}
	c.now = now
	if c.startedAt.IsZero() {
		c.startedAt = now
		c.ddSeq = uint32(now.Unix())
		c.ageAt = now.Add(time.Second)
	}
	c.out = nil
	switch e := ev.(type) {
	case Tick:
	case SetConfig:
		c.setConfig(e.Config)
	case SetInterfaces:
		c.setInterfaces(e.Interfaces)
	case SetExternal:
		c.externals = slices.Clone(e.Routes)
		c.origDirty = true
	case Receive:
		c.receive(e)
	case Reset:
		c.reset()
	}
	c.runTimers()
	c.finish()
	out := c.out
	c.out = nil
	return out
}

// NextDeadline is when a timer is due next (the zero time: none).
func (c *Core) NextDeadline() time.Time {
	var d time.Time
	min := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	min(c.ageAt)
	min(c.spfAt)
	min(c.origAt)
	for _, i := range c.ifaces {
		min(i.helloAt)
		min(i.waitAt)
		min(i.ackAt)
		for _, n := range i.nbrs {
			min(n.inactivityAt)
			min(n.ddRxmtAt)
			min(n.lsrRxmtAt)
			min(n.rxmtAt)
			min(n.lastDDHoldUntil)
		}
	}
	return d
}

func (c *Core) emit(a Action) { c.out = append(c.out, a) }

// runTimers fires every timer that is due.
func (c *Core) runTimers() {
	now := c.now
	due := func(t time.Time) bool { return !t.IsZero() && !t.After(now) }
	for _, name := range c.ifaceNames() {
		i := c.ifaces[name]
		if due(i.waitAt) {
			i.waitAt = time.Time{}
			c.ifaceEvent(i, evWaitTimer)
		}
		if due(i.helloAt) {
			c.sendHello(i)
			i.helloAt = now.Add(time.Duration(i.cfg.HelloInterval) * time.Second)
		}
		if due(i.ackAt) {
			i.ackAt = time.Time{}
			c.flushDelayedAcks(i)
		}
		for _, n := range i.sortedNbrs() {
			if due(n.inactivityAt) {
				n.inactivityAt = time.Time{}
				c.nbrEvent(n, evInactivityTimer)
				continue
			}
			if due(n.ddRxmtAt) {
				c.retransmitDD(n)
			}
			if due(n.lsrRxmtAt) {
				n.lsrRxmtAt = time.Time{}
				n.lsrPending = nil
				c.sendLSRequest(n)
			}
			if due(n.rxmtAt) {
				c.retransmitLSAs(n)
			}
			if due(n.lastDDHoldUntil) {
				n.lastDDHoldUntil = time.Time{}
				n.lastDD = nil
			}
		}
	}
	if due(c.ageAt) {
		c.ageAt = now.Add(time.Second)
		c.ageDatabase()
	}
	if due(c.origAt) {
		c.origAt = time.Time{}
		c.origDirty = true
	}
	if due(c.spfAt) {
		c.spfAt = time.Time{}
		c.spfDirty = true
	}
}

// finish runs the deferred work of a step: origination, SPF (which may
// change summaries, hence origination again), and the flooding queue.
func (c *Core) finish() {
	for range 4 {
		if c.origDirty {
			c.origDirty = false
			c.originate()
		}
		if c.spfDirty {
			if c.now.Before(c.lastSPF.Add(c.cfg.SPFHold)) && c.spfRuns > 0 {
				if c.spfAt.IsZero() {
					c.spfAt = c.lastSPF.Add(c.cfg.SPFHold)
				}
			} else {
				c.spfDirty = false
				c.spfAt = time.Time{}
				c.runSPF()
				c.originate() // summaries follow the routing table
			}
		}
		if !c.origDirty && !c.spfDirty {
			break
		}
	}
	c.flushFloodQueue()
}

func (c *Core) ifaceNames() []string {
	names := make([]string, 0, len(c.ifaces))
	for n := range c.ifaces {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (c *Core) setConfig(cfg Config) {
	cfg.defaults()
	old := c.cfg
	c.cfg = cfg
	if cfg.RouterID != old.RouterID {
		c.reset()
		return
	}
	for id, a := range c.areas {
		nc := c.areaConfig(id)
		if nc.Stub != a.cfg.Stub || nc.NoSummary != a.cfg.NoSummary {
			// The E bit of the area changes: its adjacencies restart.
			a.cfg = nc
			for _, i := range a.ifaces {
				if i.state != IfDown {
					c.ifaceEvent(i, evInterfaceDown)
					c.ifaceEvent(i, evInterfaceUp)
				}
			}
			a.db = lsdb{}
		}
		a.cfg = nc
	}
	for _, a := range cfg.Areas {
		c.areaFor(a.ID)
	}
	c.origDirty = true
	c.spfDirty = true
}

// reset restarts the process: all interfaces go down and come up again
// with an empty database.
func (c *Core) reset() {
	var ups []*iface
	for _, name := range c.ifaceNames() {
		i := c.ifaces[name]
		if i.state != IfDown {
			c.ifaceEvent(i, evInterfaceDown)
			ups = append(ups, i)
		}
	}
	for _, a := range c.areas {
		a.db = lsdb{}
	}
	c.ext = lsdb{}
	c.lastOrig = map[scopedKey]time.Time{}
	c.forceOrig = map[scopedKey]bool{}
	c.floodQ = map[*iface][]*lsaEntry{}
	for _, i := range ups {
		c.ifaceEvent(i, evInterfaceUp)
	}
	c.origDirty = true
	c.spfDirty = true
}

func (c *Core) setInterfaces(cfgs []IfaceConfig) {
	want := map[string]IfaceConfig{}
	for _, ic := range cfgs {
		ic.defaults()
		want[ic.Name] = ic
	}
	for _, name := range c.ifaceNames() {
		if _, ok := want[name]; !ok {
			c.removeIface(c.ifaces[name])
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		ic := want[name]
		i := c.ifaces[name]
		if i == nil {
			i = c.addIface(ic)
			if ic.Up {
				c.ifaceEvent(i, evInterfaceUp)
			}
			continue
		}
		old := i.cfg
		restart := old.Area != ic.Area || old.Prefix != ic.Prefix || old.Type != ic.Type ||
			old.Loopback != ic.Loopback || old.Passive != ic.Passive ||
			old.HelloInterval != ic.HelloInterval || old.DeadInterval != ic.DeadInterval ||
			old.MTU != ic.MTU || old.AuthType != ic.AuthType || old.AuthKey != ic.AuthKey
		switch {
		case restart:
			c.removeIface(i)
			i = c.addIface(ic)
			if ic.Up {
				c.ifaceEvent(i, evInterfaceUp)
			}
		case old.Up != ic.Up:
			i.cfg = ic
			if ic.Up {
				c.ifaceEvent(i, evInterfaceUp)
			} else {
				c.ifaceEvent(i, evInterfaceDown)
			}
		default:
			i.cfg = ic
			if old.Priority != ic.Priority && i.cfg.Type == Broadcast {
				c.ifaceEvent(i, evNeighborChange)
			}
			if old.Cost != ic.Cost || old.RetransmitInterval != ic.RetransmitInterval {
				c.origDirty = true
				c.spfDirty = true
			}
		}
	}
}

func (c *Core) addIface(ic IfaceConfig) *iface {
	a := c.areaFor(ic.Area)
	i := &iface{cfg: ic, area: a, nbrs: map[netip.Addr]*neighbor{}}
	c.ifaces[ic.Name] = i
	a.ifaces = append(a.ifaces, i)
	c.origDirty = true
	return i
}

func (c *Core) removeIface(i *iface) {
	if i.state != IfDown {
		c.ifaceEvent(i, evInterfaceDown)
	}
	delete(c.ifaces, i.cfg.Name)
	delete(c.floodQ, i)
	a := i.area
	a.ifaces = slices.DeleteFunc(a.ifaces, func(x *iface) bool { return x == i })
	if len(a.ifaces) == 0 && !c.configuredArea(a.id) {
		// An area nothing refers to any more goes with its database
		// (there is nobody left in it to flush our LSAs to).
		delete(c.areas, a.id)
	}
	c.origDirty = true
	c.spfDirty = true
}

func (c *Core) configuredArea(id ID) bool {
	for _, a := range c.cfg.Areas {
		if a.ID == id {
			return true
		}
	}
	return false
}

// activeAreas are the areas with at least one interface up, sorted.
func (c *Core) activeAreas() []*area {
	var out []*area
	for _, a := range c.areas {
		if a.active() {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y *area) int { return cmp.Compare(x.id, y.id) })
	return out
}

// isABR: attached to more than one area.
func (c *Core) isABR() bool { return len(c.activeAreas()) > 1 }

// isASBR: originates AS-external LSAs.
func (c *Core) isASBR() bool {
	if len(c.externals) == 0 {
		return false
	}
	for _, a := range c.activeAreas() {
		if !a.cfg.Stub {
			return true
		}
	}
	return false
}

// area is one OSPF area.
type area struct {
	id     ID
	cfg    AreaConfig
	db     lsdb
	ifaces []*iface
	// spf results
	spfRuns int
}

func (a *area) active() bool {
	for _, i := range a.ifaces {
		if i.state != IfDown {
			return true
		}
	}
	return false
}

func (a *area) options() packet.Options {
	if a.cfg.Stub {
		return 0
	}
	return packet.OptE
}
