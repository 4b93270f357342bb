// Package dataplane is the forwarding decision of the userspace forwarder as
// pure, deterministic code over frame bytes: per-instance IPv4 longest-prefix
// match, the MPLS incoming label map (push, swap, penultimate-hop pop,
// explicit null, pop-and-lookup into an instance), TTL handling, ICMP errors,
// ARP resolution of next hops, ECMP, and punting of everything addressed to
// the router to the host stack of the port's instance.
//
// It does no I/O: frames come in through Process (from a physical port) and
// FromHost (from the port's host-stack tap), and leave through a Sink. Time is
// passed in. A Dataplane is not safe for concurrent use; the caller
// serialises Process, FromHost, Tick and the configuration methods.
package dataplane

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/lpm"
	"vpnos/services/forwarding/packet"
)

// Headroom is the space a receive buffer should leave before the frame so
// labels can be pushed in place. With less, pushing copies the frame.
const Headroom = 64

// Sink receives the frames the dataplane emits. port is the id AddPort
// returned. vnet is a virtio-net header to send with the frame, or nil for a
// plain frame. frame may alias the buffer given to Process and stays valid
// until the caller reuses that buffer.
type Sink interface {
	// Transmit sends frame out of the physical port.
	Transmit(port int, vnet, frame []byte)
	// Punt hands frame to the host stack (tap) of the port.
	Punt(port int, vnet, frame []byte)
	// PuntInstance hands an IPv4 frame for the router to the host stack of
	// an instance that has no port (its interfaces are LoopBacks only),
	// through the instance's own tap. The frame's destination MAC is zero:
	// the sink puts the tap's in.
	PuntInstance(instance string, frame []byte)
}

// Config tunes the dataplane; zero fields take the defaults.
type Config struct {
	QueueLen       int           // packets held per unresolved neighbour (3)
	ARPRetries     int           // requests before giving up on a neighbour (3)
	ARPInterval    time.Duration // between requests (1s)
	NeighReachable time.Duration // after this an entry is refreshed on use (60s)
	NeighGC        time.Duration // unused entries older than this are removed (10m)
	ICMPRate       int           // ICMP errors per second, token bucket (1000)
	ICMPBurst      int           // bucket size (50)
}

func (c *Config) defaults() {
	if c.QueueLen <= 0 {
		c.QueueLen = 3
	}
	if c.ARPRetries <= 0 {
		c.ARPRetries = 3
	}
	if c.ARPInterval <= 0 {
		c.ARPInterval = time.Second
	}
	if c.NeighReachable <= 0 {
		c.NeighReachable = time.Minute
	}
	if c.NeighGC <= 0 {
		c.NeighGC = 10 * time.Minute
	}
	if c.ICMPRate <= 0 {
		c.ICMPRate = 1000
	}
	if c.ICMPBurst <= 0 {
		c.ICMPBurst = 50
	}
}

// Counters are the per-port forwarding counters.
type Counters struct {
	RxPackets, RxBytes uint64 // frames received on the physical port
	TxPackets, TxBytes uint64 // frames sent out of the physical port
	Drops              uint64 // received frames dropped (no route, TTL, malformed, no neighbour...)
	Punted             uint64 // frames handed to the host stack
	FromHost           uint64 // frames the host stack sent out of the port
	Offloaded          uint64 // received GSO or partial-checksum frames completed in software
	TxErrors           uint64 // frames the I/O layer could not send (filled in by package forwarding)
}

// Port is a physical port as the dataplane sees it.
type Port struct {
	ID       int
	Name     string
	MAC      packet.MAC
	MTU      int
	Instance string
	Addrs    []netip.Prefix // the host stack's IPv4 addresses on the port

	inst  *instance
	neigh map[netip.Addr]*neighbour
	c     Counters
}

type neighbour struct {
	mac      packet.MAC
	resolved bool
	static   bool      // installed by SetNeighbour: never refreshed or aged
	updated  time.Time // last learnt
	used     time.Time
	lastReq  time.Time
	tries    int
	queue    [][]byte // frames with room for the Ethernet header
}

type instance struct {
	name   string
	table  *lpm.Table
	routes []route // index = lpm value; 0 unused
	free   []uint32
	local  map[uint32]struct{} // addresses of ports in the instance
	lo     []netip.Addr        // addresses of Local host routes (loopbacks)
	ports  []*Port             // sorted by name
}

type route struct {
	kind fibapi.RouteKind
	nhs  []nextHop
}

type nextHop struct {
	port   string
	gw     netip.Addr
	labels []uint32
	p      *Port // resolved port, valid when gen == Dataplane.gen
	gen    uint64
}

type ilmEntry struct {
	op   fibapi.LabelOp
	nhs  []nextHop
	inst string
}

// Dataplane is the forwarding state and decision.
type Dataplane struct {
	cfg       Config
	instances map[string]*instance
	ilm       map[uint32]*ilmEntry
	ports     map[string]*Port
	byID      []*Port
	gen       uint64

	tokens   float64
	tokensAt time.Time
	ipID     uint16

	scratch []byte
}

// New returns an empty dataplane.
func New(cfg Config) *Dataplane {
	cfg.defaults()
	return &Dataplane{
		cfg:       cfg,
		instances: make(map[string]*instance),
		ilm:       make(map[uint32]*ilmEntry),
		ports:     make(map[string]*Port),
		tokens:    float64(cfg.ICMPBurst),
	}
}

// instance returns an instance by name, made on first use (callers check
// that the name is not empty: the public instance is fibapi.Public).
func (d *Dataplane) instance(name string) *instance {
	in := d.instances[name]
	if in == nil {
		in = &instance{name: name, table: lpm.New(), routes: make([]route, 1), local: make(map[uint32]struct{})}
		d.instances[name] = in
	}
	return in
}

// ErrPort is returned for an unknown or duplicate port.
var ErrPort = errors.New("dataplane: port")

// AddPort adds a physical port bound to instance and returns its id.
func (d *Dataplane) AddPort(name string, mac packet.MAC, mtu int, instance string) (int, error) {
	if instance == "" {
		return 0, fmt.Errorf("%w %s: no instance (the public instance is %s)", ErrPort, name, fibapi.Public)
	}
	if _, ok := d.ports[name]; ok {
		return 0, fmt.Errorf("%w %s already exists", ErrPort, name)
	}
	if mtu <= 0 {
		mtu = 1500
	}
	p := &Port{Name: name, MAC: mac, MTU: mtu, neigh: make(map[netip.Addr]*neighbour)}
	p.ID = len(d.byID)
	for i, q := range d.byID {
		if q == nil {
			p.ID = i
			break
		}
	}
	if p.ID == len(d.byID) {
		d.byID = append(d.byID, p)
	} else {
		d.byID[p.ID] = p
	}
	d.ports[name] = p
	d.bind(p, instance)
	return p.ID, nil
}

func (d *Dataplane) bind(p *Port, instance string) {
	p.inst = d.instance(instance)
	p.Instance = p.inst.name
	p.inst.ports = append(p.inst.ports, p)
	slices.SortFunc(p.inst.ports, func(a, b *Port) int { return cmp.Compare(a.Name, b.Name) })
	d.gen++
}

func (d *Dataplane) unbind(p *Port) {
	in := p.inst
	in.ports = slices.DeleteFunc(in.ports, func(q *Port) bool { return q == p })
	d.rebuildLocal(in)
	p.Addrs = nil
	clear(p.neigh)
	d.gen++
}

func (d *Dataplane) rebuildLocal(in *instance) {
	clear(in.local)
	for _, q := range in.ports {
		for _, a := range q.Addrs {
			in.local[u32(a.Addr())] = struct{}{}
		}
	}
}

// RemovePort removes a port.
func (d *Dataplane) RemovePort(name string) error {
	p := d.ports[name]
	if p == nil {
		return fmt.Errorf("%w %s not found", ErrPort, name)
	}
	d.unbind(p)
	delete(d.ports, name)
	d.byID[p.ID] = nil
	return nil
}

// SetPortInstance binds the port to another instance; its addresses and
// neighbours are cleared (as `ip binding vpn-instance` clears IPv4 config).
func (d *Dataplane) SetPortInstance(name, instance string) error {
	p := d.ports[name]
	if p == nil {
		return fmt.Errorf("%w %s not found", ErrPort, name)
	}
	if instance == "" {
		return fmt.Errorf("%w %s: no instance (the public instance is %s)", ErrPort, name, fibapi.Public)
	}
	d.unbind(p)
	d.bind(p, instance)
	return nil
}

// SetPortMTU sets the port's IP MTU (the largest IPv4 packet, labels
// included, it sends).
func (d *Dataplane) SetPortMTU(name string, mtu int) error {
	p := d.ports[name]
	if p == nil {
		return fmt.Errorf("%w %s not found", ErrPort, name)
	}
	if mtu < 68 || mtu > 65535 {
		return fmt.Errorf("dataplane: port %s: mtu %d out of range 68..65535", name, mtu)
	}
	p.MTU = mtu
	return nil
}

// SetPortAddrs sets the IPv4 addresses the host stack has on the port. The
// dataplane uses them as ARP and ICMP source and punts packets to them.
func (d *Dataplane) SetPortAddrs(name string, addrs []netip.Prefix) error {
	p := d.ports[name]
	if p == nil {
		return fmt.Errorf("%w %s not found", ErrPort, name)
	}
	var v []netip.Prefix
	for _, a := range addrs {
		if !a.IsValid() || !a.Addr().Is4() {
			return fmt.Errorf("dataplane: port %s: %v is not an IPv4 address", name, a)
		}
		v = append(v, a)
	}
	p.Addrs = v
	d.rebuildLocal(p.inst)
	return nil
}

// PortByName returns a copy of the port's settings and counters.
func (d *Dataplane) PortByName(name string) (Port, Counters, bool) {
	p := d.ports[name]
	if p == nil {
		return Port{}, Counters{}, false
	}
	c := *p
	c.inst, c.neigh = nil, nil
	c.Addrs = slices.Clone(p.Addrs)
	return c, p.c, true
}

// Neighbour returns the resolved MAC of addr on the port.
func (d *Dataplane) Neighbour(port string, addr netip.Addr) (packet.MAC, bool) {
	p := d.ports[port]
	if p == nil {
		return packet.MAC{}, false
	}
	n := p.neigh[addr]
	if n == nil || !n.resolved {
		return packet.MAC{}, false
	}
	return n.mac, true
}

// NeighbourEntry is one entry of a port's neighbour (ARP) cache.
type NeighbourEntry struct {
	Addr     netip.Addr
	MAC      packet.MAC // zero while unresolved
	Resolved bool
	Static   bool
	Updated  time.Time // last learnt (zero for static entries)
	Queued   int       // packets waiting for resolution
}

// Neighbours lists a port's neighbour cache sorted by address (for
// `display arp`).
func (d *Dataplane) Neighbours(port string) []NeighbourEntry {
	p := d.ports[port]
	if p == nil {
		return nil
	}
	out := make([]NeighbourEntry, 0, len(p.neigh))
	for a, n := range p.neigh {
		e := NeighbourEntry{Addr: a, Resolved: n.resolved, Static: n.static, Queued: len(n.queue)}
		if n.resolved {
			e.MAC = n.mac
		}
		if !n.static {
			e.Updated = n.updated
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(x, y NeighbourEntry) int { return x.Addr.Compare(y.Addr) })
	return out
}

// SetNeighbour installs a resolved neighbour (a static ARP entry, or one
// learnt elsewhere).
func (d *Dataplane) SetNeighbour(now time.Time, port string, addr netip.Addr, mac packet.MAC, out Sink) error {
	p := d.ports[port]
	if p == nil {
		return fmt.Errorf("%w %s not found", ErrPort, port)
	}
	d.learn(now, p, addr, mac, true, out)
	return nil
}

func validLabel(l uint32) bool {
	return l <= packet.MaxLabel && (l >= 16 || l == fibapi.LabelIPv4ExplicitNull || l == fibapi.LabelImplicitNull)
}

func convertNextHops(nhs []fibapi.NextHop) ([]nextHop, error) {
	out := make([]nextHop, 0, len(nhs))
	for _, n := range nhs {
		if n.Port == "" {
			return nil, errors.New("next hop without port")
		}
		if n.Gateway.IsValid() && !n.Gateway.Is4() {
			return nil, fmt.Errorf("next hop gateway %v is not IPv4", n.Gateway)
		}
		var ls []uint32
		for _, l := range n.Labels {
			if !validLabel(l) {
				return nil, fmt.Errorf("next hop label %d is reserved or out of range", l)
			}
			if l != fibapi.LabelImplicitNull {
				ls = append(ls, l)
			}
		}
		out = append(out, nextHop{port: n.Port, gw: n.Gateway, labels: ls})
	}
	return out, nil
}

// Program applies a batch: it is validated whole first, so an invalid batch
// changes nothing. Deletions are applied before additions.
func (d *Dataplane) Program(b fibapi.Batch) error {
	p, err := Prepare(b)
	if err != nil {
		return err
	}
	_, err = d.Apply(p, 0)
	return err
}

// Prepared is a batch that was checked and converted by Prepare, ready to
// be applied by Apply, possibly in several steps.
type Prepared struct {
	routes    []preparedRoute
	del       []fibapi.Route
	delLabels []uint32
	labels    []fibapi.LabelEntry
	ilm       []*ilmEntry
	// next is how many operations (route deletions, label deletions, route
	// additions, label additions, in this order) were applied.
	next int
}

type preparedRoute struct {
	r   fibapi.Route
	nhs []nextHop
}

// Prepare checks and converts a batch without touching any dataplane, so
// that it can run outside the lock that guards the dataplane.
func Prepare(b fibapi.Batch) (*Prepared, error) {
	p := &Prepared{del: b.DeleteRoutes, delLabels: b.DeleteLabels, labels: b.Labels}
	p.routes = make([]preparedRoute, 0, len(b.Routes))
	for _, r := range b.Routes {
		if !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() {
			return nil, fmt.Errorf("route %v in %q: not an IPv4 prefix", r.Prefix, r.Instance)
		}
		if r.Instance == "" {
			return nil, fmt.Errorf("route %v in no instance (the public instance is %s)", r.Prefix, fibapi.Public)
		}
		if r.Kind > fibapi.Unreachable {
			return nil, fmt.Errorf("route %v: unknown kind %d", r.Prefix, r.Kind)
		}
		nhs, err := convertNextHops(r.NextHops)
		if err != nil {
			return nil, fmt.Errorf("route %v in %q: %w", r.Prefix, r.Instance, err)
		}
		if r.Kind == fibapi.Forward && len(nhs) == 0 {
			return nil, fmt.Errorf("route %v in %q: forward route without next hops", r.Prefix, r.Instance)
		}
		p.routes = append(p.routes, preparedRoute{r, nhs})
	}
	for _, r := range b.DeleteRoutes {
		if !r.Prefix.IsValid() || !r.Prefix.Addr().Is4() {
			return nil, fmt.Errorf("delete route %v: not an IPv4 prefix", r.Prefix)
		}
		if r.Instance == "" {
			return nil, fmt.Errorf("delete route %v in no instance (the public instance is %s)", r.Prefix, fibapi.Public)
		}
	}
	p.ilm = make([]*ilmEntry, len(b.Labels))
	for i, l := range b.Labels {
		if l.InLabel < 16 || l.InLabel > packet.MaxLabel {
			return nil, fmt.Errorf("label %d: reserved or out of range", l.InLabel)
		}
		e := &ilmEntry{op: l.Op, inst: l.Instance}
		switch l.Op {
		case fibapi.Swap:
			nhs, err := convertNextHops(l.NextHops)
			if err != nil {
				return nil, fmt.Errorf("label %d: %w", l.InLabel, err)
			}
			if len(nhs) == 0 {
				return nil, fmt.Errorf("label %d: swap without next hops", l.InLabel)
			}
			e.nhs = nhs
		case fibapi.PopLookup:
			if e.inst == "" {
				return nil, fmt.Errorf("label %d: pop into no instance", l.InLabel)
			}
		default:
			return nil, fmt.Errorf("label %d: unknown operation %d", l.InLabel, l.Op)
		}
		p.ilm[i] = e
	}
	return p, nil
}

// ApplyStep is how many operations a forwarder applies per hold of the lock
// its packet loops share: a million-route batch then never stops forwarding
// for longer than one step (BenchmarkProgramPause measures it).
const ApplyStep = 4096

// Len is the number of operations in the batch.
func (p *Prepared) Len() int { return len(p.del) + len(p.delLabels) + len(p.routes) + len(p.labels) }

// Apply applies up to max operations of p (all of them when max <= 0),
// continuing where the previous call stopped, and reports whether p is
// done. Between two calls the dataplane forwards with part of the batch
// applied, in the batch's order: deletions first, then additions.
func (d *Dataplane) Apply(p *Prepared, max int) (bool, error) {
	end := p.Len()
	if max > 0 && p.next+max < end {
		end = p.next + max
	}
	for ; p.next < end; p.next++ {
		i := p.next
		switch {
		case i < len(p.del):
			d.deleteRoute(p.del[i])
		case i < len(p.del)+len(p.delLabels):
			delete(d.ilm, p.delLabels[i-len(p.del)])
		case i < len(p.del)+len(p.delLabels)+len(p.routes):
			if err := d.addRoute(p.routes[i-len(p.del)-len(p.delLabels)]); err != nil {
				p.next++ // the failed operation is not retried
				return p.next == p.Len(), err
			}
		default:
			j := i - len(p.del) - len(p.delLabels) - len(p.routes)
			d.ilm[p.labels[j].InLabel] = p.ilm[j]
		}
	}
	return p.next == p.Len(), nil
}

func (d *Dataplane) deleteRoute(r fibapi.Route) {
	in := d.instance(r.Instance)
	p := r.Prefix.Masked()
	if v, ok := in.table.Get(p); ok {
		in.table.Delete(p)
		if in.routes[v].kind == fibapi.Local && p.Bits() == 32 {
			in.lo = slices.DeleteFunc(in.lo, func(a netip.Addr) bool { return a == p.Addr() })
		}
		in.routes[v] = route{}
		in.free = append(in.free, v)
	}
}

func (d *Dataplane) addRoute(c preparedRoute) error {
	in := d.instance(c.r.Instance)
	p := c.r.Prefix.Masked()
	v, ok := in.table.Get(p)
	if !ok {
		if n := len(in.free); n > 0 {
			v = in.free[n-1]
			in.free = in.free[:n-1]
		} else {
			v = uint32(len(in.routes))
			in.routes = append(in.routes, route{})
		}
		if err := in.table.Insert(p, v); err != nil {
			in.free = append(in.free, v)
			return fmt.Errorf("route %v: %w", p, err)
		}
	} else if in.routes[v].kind == fibapi.Local && p.Bits() == 32 {
		in.lo = slices.DeleteFunc(in.lo, func(a netip.Addr) bool { return a == p.Addr() })
	}
	in.routes[v] = route{kind: c.r.Kind, nhs: c.nhs}
	if c.r.Kind == fibapi.Local && p.Bits() == 32 {
		in.lo = append(in.lo, p.Addr())
	}
	return nil
}

func (d *Dataplane) nhPort(nh *nextHop) *Port {
	if nh.gen != d.gen || nh.p == nil {
		nh.p = d.ports[nh.port]
		nh.gen = d.gen
	}
	return nh.p
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
