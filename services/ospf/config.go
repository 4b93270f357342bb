package ospf

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"vpnos/services/ospf/core"
	"vpnos/services/ospf/packet"
	"vpnos/services/system"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// ID is an OSPF area or router ID (a dotted quad; areas may be written as
// integers: see packet.ParseID).
type ID = packet.ID

// NetworkType is the OSPF network type of an interface.
type NetworkType uint8

// Network types (`ospf network-type p2p|broadcast`).
const (
	// NetworkDefault: broadcast for Ethernet, the loopback type for
	// loopbacks.
	NetworkDefault NetworkType = iota
	NetworkBroadcast
	NetworkP2P
)

// Config is one OSPF process as configured:
//
//	ospf PROCESS [router-id A.B.C.D] [vpn-instance NAME]
//	 bandwidth-reference MBPS
//	 silent-interface { IF | all }
//	 import-route { direct | static | bgp } [ cost C | type 1|2 | tag T ] *
//	 area A
//	  network ADDR WILDCARD
//	  stub [no-summary]
//	  default-cost C
//
// with the interface-view commands that concern it (`ospf cost`, `ospf
// network-type`, `ospf timer hello|dead`, `ospf dr-priority`, `ospf
// authentication-mode simple`, `ospf enable PROCESS area A`) in Interfaces.
type Config struct {
	// Process is the process ID (1-4294967295).
	Process uint32
	// RouterID is the router ID the process takes when it starts or is
	// reset (`reset ospf PROCESS process`; a running process keeps its
	// own until then, as on VRP): `router-id`, else for a process of the
	// public instance the system router ID (`router id`, else the highest
	// public LoopBack address, else the highest interface address: see
	// system.RouterID). Invalid means: chosen from the instance's
	// interfaces when the process starts (DefaultRouterID), which is what
	// a VPN-instance process without router-id does.
	RouterID netip.Addr
	// VPNInstance is the VPN instance the process runs in ("" for the
	// public instance): PE-CE OSPF.
	VPNInstance string
	// BandwidthReference is the reference bandwidth in Mbit/s for costs
	// derived from interface bandwidth (default 100: a GE port costs 1).
	BandwidthReference uint32
	Areas              []Area
	// SilentInterfaces are interfaces (names as in Interface.Name) that
	// advertise their networks but send and receive nothing; SilentAll
	// makes every interface silent.
	SilentInterfaces []string
	SilentAll        bool
	Imports          []Import
	// Interfaces are the per-interface settings.
	Interfaces []InterfaceSettings
}

// Area is `area A` with its networks.
type Area struct {
	ID ID
	// Stub (`stub`): no AS-external LSAs; NoSummary (`stub no-summary`):
	// only the default summary from the ABR.
	Stub      bool
	NoSummary bool
	// DefaultCost is the cost of the default summary an ABR originates
	// into a stub area (`default-cost`, default 1).
	DefaultCost uint32
	Networks    []Network
}

// Network is `network ADDR WILDCARD`: an interface joins the area when its
// primary address is in the range and its mask is no shorter than the
// network's (the inverse of the wildcard).
type Network struct {
	Address  netip.Addr
	Wildcard netip.Addr
}

// Matches reports whether an interface address joins through this network.
func (n Network) Matches(p netip.Prefix) bool {
	if !p.Addr().Is4() || !n.Address.Is4() || !n.Wildcard.Is4() {
		return false
	}
	w := uint32(packet.IDFromAddr(n.Wildcard))
	a := uint32(packet.IDFromAddr(p.Addr()))
	if a&^w != uint32(packet.IDFromAddr(n.Address))&^w {
		return false
	}
	return p.Bits() >= 32-bits.OnesCount32(w)
}

func (n Network) String() string { return n.Address.String() + " " + n.Wildcard.String() }

// Import is `import-route PROTOCOL [cost C] [type T] [tag G]`.
type Import struct {
	// Protocol is the source: "direct", "static" or "bgp".
	Protocol string
	// Type is the external metric type, 1 or 2 (default 2).
	Type int
	// Cost is the external metric (default 1); Tag the route tag
	// (default 1).
	Cost uint32
	Tag  uint32
	// CostSet and TagSet tell an explicit 0 from the default.
	CostSet, TagSet bool
}

// Import protocols.
var importProtocols = []string{"direct", "static", "bgp"}

// InterfaceSettings are the OSPF commands of one interface.
type InterfaceSettings struct {
	// Name is the interface name as in Interface.Name.
	Name string
	// Cost (`ospf cost`, 1-65535); 0: from the bandwidth reference.
	Cost        uint16
	NetworkType NetworkType
	// HelloInterval and DeadInterval (`ospf timer hello|dead`, seconds);
	// 0: 10 and four times the hello interval.
	HelloInterval uint16
	DeadInterval  uint32
	// Priority (`ospf dr-priority`, 0-255); nil: 1.
	Priority *uint8
	// EnableArea (`ospf enable PROCESS area A`, when PROCESS is this
	// process) puts the interface into that area, whatever the networks.
	EnableArea *ID
	// Password is the simple authentication password (`ospf
	// authentication-mode simple PASSWORD`, at most 8 characters); ""
	// for none.
	Password string
}

// Validation errors (wrapped with details).
var (
	ErrConfig = errors.New("invalid OSPF configuration")
)

func cfgErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Validate checks what the types do not (pure; the datastore participant
// calls it).
func (c Config) Validate() error {
	if c.Process == 0 {
		return cfgErr("process ID 0")
	}
	if c.RouterID.IsValid() && (!c.RouterID.Is4() || c.RouterID.IsUnspecified()) {
		return cfgErr("router ID %v", c.RouterID)
	}
	if c.BandwidthReference > 2147483648 {
		return cfgErr("bandwidth-reference %d out of range 1-2147483648", c.BandwidthReference)
	}
	seen := map[ID]bool{}
	nets := map[Network]ID{}
	for _, a := range c.Areas {
		if seen[a.ID] {
			return cfgErr("area %v configured twice", a.ID)
		}
		seen[a.ID] = true
		if a.ID == core.Backbone && a.Stub {
			return cfgErr("the backbone area cannot be a stub area")
		}
		if a.NoSummary && !a.Stub {
			return cfgErr("area %v: no-summary needs stub", a.ID)
		}
		if a.DefaultCost > 16777214 {
			return cfgErr("area %v: default-cost %d out of range 0-16777214", a.ID, a.DefaultCost)
		}
		for _, n := range a.Networks {
			if !n.Address.Is4() || !n.Wildcard.Is4() {
				return cfgErr("network %v in area %v", n, a.ID)
			}
			if other, ok := nets[n]; ok {
				return cfgErr("network %v is already in area %v", n, other)
			}
			nets[n] = a.ID
		}
	}
	for _, im := range c.Imports {
		if !slices.Contains(importProtocols, im.Protocol) {
			return cfgErr("import-route %q", im.Protocol)
		}
		if im.Type != 0 && im.Type != 1 && im.Type != 2 {
			return cfgErr("import-route %s type %d", im.Protocol, im.Type)
		}
		if im.Cost > 16777214 {
			return cfgErr("import-route %s cost %d out of range 0-16777214", im.Protocol, im.Cost)
		}
	}
	names := map[string]bool{}
	for _, s := range c.Interfaces {
		if s.Name == "" || names[s.Name] {
			return cfgErr("interface settings for %q given twice or unnamed", s.Name)
		}
		names[s.Name] = true
		if s.DeadInterval != 0 && s.HelloInterval != 0 && s.DeadInterval <= uint32(s.HelloInterval) {
			return cfgErr("%s: dead interval %d not above the hello interval %d", s.Name, s.DeadInterval, s.HelloInterval)
		}
		if len(s.Password) > 8 {
			return cfgErr("%s: simple password longer than 8 characters", s.Name)
		}
	}
	return nil
}

// Interface is an interface of the process's routing instance, as the
// interface and VRF services report it.
type Interface struct {
	// Name is the kernel name (eth1, or the loopback's name); it keys
	// everything and is what route next hops carry.
	Name string
	// VRPName is the name displays print (GigabitEthernet0/1/0,
	// LoopBack0); "" falls back to Name.
	VRPName  string
	Up       bool
	Loopback bool
	// Addresses: primary first.
	Addresses []netip.Prefix
	// MTU is the IP MTU (0: 1500).
	MTU int
	// Bandwidth in Mbit/s (0: 1000, a GE port).
	Bandwidth uint64
}

func (i Interface) displayName() string {
	if i.VRPName != "" {
		return i.VRPName
	}
	return i.Name
}

func (c Config) settings(name string) InterfaceSettings {
	for _, s := range c.Interfaces {
		if s.Name == name {
			return s
		}
	}
	return InterfaceSettings{Name: name}
}

// areaOf is the area an interface joins (ok false: none).
func (c Config) areaOf(i Interface) (ID, bool) {
	if s := c.settings(i.Name); s.EnableArea != nil {
		return *s.EnableArea, true
	}
	if len(i.Addresses) == 0 {
		return 0, false
	}
	p := i.Addresses[0]
	// The most specific matching network wins; then the lowest area.
	best, found, bestBits := ID(0), false, -1
	for _, a := range c.sortedAreas() {
		for _, n := range a.Networks {
			if !n.Matches(p) {
				continue
			}
			b := 32 - bits.OnesCount32(uint32(packet.IDFromAddr(n.Wildcard)))
			if b > bestBits {
				best, found, bestBits = a.ID, true, b
			}
		}
	}
	return best, found
}

func (c Config) sortedAreas() []Area {
	as := slices.Clone(c.Areas)
	slices.SortFunc(as, func(x, y Area) int {
		switch {
		case x.ID < y.ID:
			return -1
		case x.ID > y.ID:
			return 1
		}
		return 0
	})
	return as
}

// Resolve turns the configuration and the interfaces into what the core
// runs: the interfaces that join an area with their parameters, sorted by
// name. Pure.
func (c Config) Resolve(ifs []Interface) []core.IfaceConfig {
	ref := uint64(c.BandwidthReference)
	if ref == 0 {
		ref = 100
	}
	var out []core.IfaceConfig
	for _, i := range ifs {
		if len(i.Addresses) == 0 || !i.Addresses[0].Addr().Is4() {
			continue
		}
		area, ok := c.areaOf(i)
		if !ok {
			continue
		}
		s := c.settings(i.Name)
		ic := core.IfaceConfig{
			Name:          i.Name,
			Area:          area,
			Prefix:        i.Addresses[0],
			Up:            i.Up,
			Loopback:      i.Loopback,
			Passive:       c.SilentAll || slices.Contains(c.SilentInterfaces, i.Name),
			HelloInterval: s.HelloInterval,
			DeadInterval:  s.DeadInterval,
			Priority:      1,
			MTU:           1500,
		}
		if s.NetworkType == NetworkP2P {
			ic.Type = core.PointToPoint
		}
		if s.Priority != nil {
			ic.Priority = *s.Priority
		}
		if i.MTU > 0 && i.MTU < 65536 {
			ic.MTU = uint16(i.MTU)
		}
		switch {
		case s.Cost != 0:
			ic.Cost = s.Cost
		case i.Loopback:
			ic.Cost = 0
		default:
			bw := i.Bandwidth
			if bw == 0 {
				bw = 1000
			}
			ic.Cost = uint16(min(65535, max(1, ref/bw)))
		}
		if s.Password != "" {
			ic.AuthType = packet.AuthSimple
			copy(ic.AuthKey[:], s.Password)
		}
		out = append(out, ic)
	}
	slices.SortFunc(out, func(a, b core.IfaceConfig) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// coreAreas are the area settings of the core.
func (c Config) coreAreas() []core.AreaConfig {
	var out []core.AreaConfig
	for _, a := range c.sortedAreas() {
		out = append(out, core.AreaConfig{ID: a.ID, Stub: a.Stub, NoSummary: a.NoSummary, DefaultCost: a.DefaultCost})
	}
	return out
}

// DefaultRouterID picks a router ID from the interfaces of a process's
// instance when its configuration brings none (a VPN-instance process
// without router-id, or a public one while the system has no router ID):
// the highest loopback address, else the highest interface address
// (invalid when there is none).
func DefaultRouterID(ifs []Interface) netip.Addr {
	var lo, any netip.Addr
	for _, i := range ifs {
		for _, p := range i.Addresses {
			a := p.Addr()
			if !a.Is4() || a.IsLoopback() || a.IsUnspecified() {
				continue
			}
			if i.Loopback && (!lo.IsValid() || a.Compare(lo) > 0) {
				lo = a
			}
			if !any.IsValid() || a.Compare(any) > 0 {
				any = a
			}
		}
	}
	if lo.IsValid() {
		return lo
	}
	return any
}

// RedistRoute is a route of the routing instance offered for import-route.
type RedistRoute struct {
	Prefix netip.Prefix
	// Protocol is the source as import-route names it: "direct",
	// "static" or "bgp".
	Protocol string
}

// externals turns the routes offered into AS-external routes, as the
// import-route commands say (routes of other protocols are ignored).
func (c Config) externals(routes []RedistRoute) []core.External {
	var out []core.External
	for _, r := range routes {
		for _, im := range c.Imports {
			if im.Protocol != r.Protocol {
				continue
			}
			e := core.External{Prefix: r.Prefix.Masked(), Type2: im.Type != 1, Metric: 1, Tag: 1}
			if im.Cost != 0 || im.CostSet {
				e.Metric = im.Cost
			}
			if im.Tag != 0 || im.TagSet {
				e.Tag = im.Tag
			}
			out = append(out, e)
			break
		}
	}
	return out
}

// Paths of the configuration the OSPF participant owns.
var (
	pathOSPF       = datastore.P("ospf")
	pathInterfaces = datastore.P("interfaces")
)

// Prefixes are the schema paths the OSPF participant owns.
var Prefixes = []string{"/ospf", "/interfaces/interface/ospf"}

func refuse(p datastore.Path, format string, a ...any) *datastore.RuleError {
	return datastore.Refuse(p, format, a...)
}

// Settings is what the OSPF configuration of a tree asks for: every
// process.
type Settings struct {
	Processes []Config
}

// Process returns the configuration of process id.
func (s Settings) Process(id uint32) (Config, bool) {
	for _, c := range s.Processes {
		if c.Process == id {
			return c, true
		}
	}
	return Config{}, false
}

// treeInterface is an interface as the configuration describes it.
type treeInterface struct {
	name     string
	path     datastore.Path
	instance string // "" for the public instance
	primary  netip.Prefix
	settings InterfaceSettings
	enable   *uint32 // ospf enable PROCESS
	hasOSPF  bool
}

func readInterfaces(t *datastore.Tree, probs *[]*datastore.RuleError) []treeInterface {
	var out []treeInterface
	for _, it := range t.Entries(pathInterfaces, "interface") {
		name := it.Path.Last().Keys[0]
		ti := treeInterface{name: name, path: it.Path}
		ti.instance, _ = t.Get(it.Path.Child("vpn-instance"))
		for _, a := range t.Entries(it.Path.Child("ipv4"), "address") {
			if _, sub := t.Get(a.Path.Child("sub")); sub {
				continue
			}
			ip, err := netip.ParseAddr(a.Path.Last().Keys[0])
			mask, _ := t.Get(a.Path.Child("mask"))
			n, ok := datastore.MaskLen(mask)
			if err == nil && ok {
				ti.primary = netip.PrefixFrom(ip, n)
			}
		}
		base := it.Path.Child("ospf")
		s := InterfaceSettings{Name: name}
		if v, ok := t.Get(base.Child("cost")); ok {
			n, _ := strconv.ParseUint(v, 10, 16)
			s.Cost = uint16(n)
			ti.hasOSPF = true
		}
		if v, ok := t.Get(base.Child("network-type")); ok {
			ti.hasOSPF = true
			switch v {
			case "p2p":
				s.NetworkType = NetworkP2P
			case "broadcast":
				s.NetworkType = NetworkBroadcast
			}
		}
		if v, ok := t.Get(base.Child("timer-hello")); ok {
			n, _ := strconv.ParseUint(v, 10, 16)
			s.HelloInterval = uint16(n)
			ti.hasOSPF = true
		}
		if v, ok := t.Get(base.Child("timer-dead")); ok {
			n, _ := strconv.ParseUint(v, 10, 32)
			s.DeadInterval = uint32(n)
			ti.hasOSPF = true
		}
		if v, ok := t.Get(base.Child("dr-priority")); ok {
			n, _ := strconv.ParseUint(v, 10, 8)
			p := uint8(n)
			s.Priority = &p
			ti.hasOSPF = true
		}
		if t.Exists(base.Child("enable")) {
			ti.hasOSPF = true
			pv, _ := t.Get(base.Child("enable").Child("process"))
			av, _ := t.Get(base.Child("enable").Child("area"))
			pid, err1 := strconv.ParseUint(pv, 10, 32)
			area, err2 := packet.ParseID(av)
			if err1 == nil && err2 == nil {
				p := uint32(pid)
				ti.enable = &p
				s.EnableArea = &area
			}
		}
		if am := base.Child("authentication-mode"); t.Exists(am) {
			ti.hasOSPF = true
			if v, ok := t.Get(am.Child("plain")); ok {
				s.Password = v
			} else if v, ok := t.Get(am.Child("cipher")); ok {
				pw, err := schema.PlainPassword(v)
				switch {
				case err != nil:
					*probs = append(*probs, refuse(am.Child("cipher"), "The cipher password of interface %s is not valid", name))
				case len(pw) > 8:
					*probs = append(*probs, refuse(am.Child("cipher"), "The simple authentication password of interface %s is longer than 8 characters", name))
				default:
					s.Password = pw
				}
			}
		}
		hello, dead := uint32(s.HelloInterval), s.DeadInterval
		if hello == 0 {
			hello = 10
		}
		if dead != 0 && dead <= hello {
			*probs = append(*probs, refuse(base.Child("timer-dead"), "The dead interval %d of interface %s must be greater than its hello interval %d", dead, name, hello))
			s.DeadInterval = 0
		}
		ti.settings = s
		out = append(out, ti)
	}
	return out
}

// FromTree reads the OSPF configuration of a tree: every process, sorted by
// process ID, with the OSPF settings of the interfaces of its routing
// instance, and the refusals of the OSPF rules. Pure.
func FromTree(t *datastore.Tree) (Settings, []*datastore.RuleError) {
	var probs []*datastore.RuleError
	ifs := readInterfaces(t, &probs)
	var set Settings
	procs := map[uint32]bool{}
	for _, pe := range t.Entries(pathOSPF, "process") {
		id, err := strconv.ParseUint(pe.Path.Last().Keys[0], 10, 32)
		if err != nil || id == 0 {
			continue // the schema refuses it
		}
		c := Config{Process: uint32(id)}
		procs[c.Process] = true
		if v, ok := t.Get(pe.Path.Child("router-id")); ok {
			a, err := netip.ParseAddr(v)
			if err == nil && a.IsUnspecified() {
				probs = append(probs, refuse(pe.Path.Child("router-id"), "The router ID of OSPF process %d cannot be 0.0.0.0", id))
			} else if err == nil {
				c.RouterID = a
			}
		}
		if v, ok := t.Get(pe.Path.Child("vpn-instance")); ok {
			c.VPNInstance = v
		} else if !c.RouterID.IsValid() {
			// A process of the public instance without router-id takes
			// the system router ID; one of a VPN instance picks from the
			// instance's interfaces when it starts (DefaultRouterID).
			if id, src := system.RouterID(t); src != system.RouterIDNone && id.Is4() && !id.IsUnspecified() {
				c.RouterID = id
			}
		}
		if c.VPNInstance != "" {
			v := c.VPNInstance
			vi := datastore.P("vpn-instances", "vpn-instance", datastore.K(v))
			if t.Exists(vi) && !t.Exists(vi.Child("ipv4-family")) {
				probs = append(probs, refuse(pe.Path.Child("vpn-instance"), "The IPv4 address family of VPN instance %s must be enabled before OSPF process %d runs in it", v, id))
			}
		}
		if v, ok := t.Get(pe.Path.Child("bandwidth-reference")); ok {
			n, _ := strconv.ParseUint(v, 10, 32)
			c.BandwidthReference = uint32(n)
		}
		_, c.SilentAll = t.Get(pe.Path.Child("silent-all"))
		for _, s := range t.Entries(pe.Path, "silent-interface") {
			c.SilentInterfaces = append(c.SilentInterfaces, s.Path.Last().Keys[0])
		}
		for _, ir := range t.Entries(pe.Path, "import-route") {
			im := Import{Protocol: ir.Path.Last().Keys[0], Type: 2}
			if v, ok := t.Get(ir.Path.Child("cost")); ok {
				n, _ := strconv.ParseUint(v, 10, 32)
				im.Cost, im.CostSet = uint32(n), true
			}
			if v, ok := t.Get(ir.Path.Child("type")); ok {
				im.Type, _ = strconv.Atoi(v)
			}
			if v, ok := t.Get(ir.Path.Child("tag")); ok {
				n, _ := strconv.ParseUint(v, 10, 32)
				im.Tag, im.TagSet = uint32(n), true
			}
			c.Imports = append(c.Imports, im)
		}
		slices.SortFunc(c.Imports, func(a, b Import) int { return strings.Compare(a.Protocol, b.Protocol) })
		nets := map[Network]ID{}
		for _, ae := range t.Entries(pe.Path, "area") {
			id, err := packet.ParseID(ae.Path.Last().Keys[0])
			if err != nil {
				continue
			}
			a := Area{ID: id}
			if t.Exists(ae.Path.Child("stub")) {
				a.Stub = true
				_, a.NoSummary = t.Get(ae.Path.Child("stub").Child("no-summary"))
				if id == core.Backbone {
					probs = append(probs, refuse(ae.Path.Child("stub"), "The backbone area cannot be a stub area"))
					a.Stub, a.NoSummary = false, false
				}
			}
			if v, ok := t.Get(ae.Path.Child("default-cost")); ok {
				n, _ := strconv.ParseUint(v, 10, 32)
				a.DefaultCost = uint32(n)
			}
			for _, ne := range t.Entries(ae.Path, "network") {
				k := ne.Path.Last().Keys
				addr, err1 := netip.ParseAddr(k[0])
				wc, err2 := netip.ParseAddr(k[1])
				if err1 != nil || err2 != nil {
					continue
				}
				n := Network{Address: addr, Wildcard: wc}
				if other, dup := nets[n]; dup {
					probs = append(probs, refuse(ne.Path, "The network %s %s of OSPF process %d is already in area %v", k[0], k[1], c.Process, other))
					continue
				}
				nets[n] = id
				a.Networks = append(a.Networks, n)
			}
			c.Areas = append(c.Areas, a)
		}
		// The settings of every interface: the process applies those of
		// the interfaces of its instance (an interface that moves to
		// another instance moves without a change of OSPF configuration).
		for _, ti := range ifs {
			if !ti.hasOSPF {
				continue
			}
			s := ti.settings
			if ti.enable == nil || *ti.enable != c.Process {
				s.EnableArea = nil
			}
			c.Interfaces = append(c.Interfaces, s)
		}
		if err := c.Validate(); err != nil {
			probs = append(probs, refuse(pe.Path, "OSPF process %d: %s", c.Process, strings.TrimPrefix(err.Error(), ErrConfig.Error()+": ")))
			continue
		}
		set.Processes = append(set.Processes, c)
	}
	slices.SortFunc(set.Processes, func(a, b Config) int { return cmp.Compare(a.Process, b.Process) })
	// ospf enable names a process of the interface's own instance.
	for _, ti := range ifs {
		if ti.enable == nil {
			continue
		}
		p := ti.path.Child("ospf").Child("enable").Child("process")
		c, ok := set.Process(*ti.enable)
		switch {
		case !ok && !procs[*ti.enable]:
			probs = append(probs, refuse(p, "The OSPF process %d does not exist", *ti.enable))
		case ok && c.VPNInstance != ti.instance:
			probs = append(probs, refuse(p, "The OSPF process %d does not run in the instance of interface %s", *ti.enable, ti.name))
		}
	}
	// An interface runs in one process at most.
	for _, ti := range ifs {
		if !ti.primary.IsValid() {
			continue
		}
		in := Interface{Name: ti.name, Addresses: []netip.Prefix{ti.primary}}
		var claims []uint32
		for _, c := range set.Processes {
			if c.VPNInstance != ti.instance {
				continue
			}
			if ti.enable != nil && *ti.enable != c.Process {
				continue // ospf enable puts it into that process only
			}
			if _, ok := c.areaOf(in); ok {
				claims = append(claims, c.Process)
			}
		}
		if len(claims) > 1 {
			probs = append(probs, refuse(ti.path, "The interface %s cannot run in OSPF process %d: it already runs in OSPF process %d", ti.name, claims[1], claims[0]))
		}
	}
	return set, probs
}

// transitions refuses what cannot change in place between two trees: the
// VPN instance of a process.
func transitions(old, new *datastore.Tree) []*datastore.RuleError {
	if old == nil {
		return nil
	}
	var probs []*datastore.RuleError
	for _, pe := range new.Entries(pathOSPF, "process") {
		was := old.Item(pe.Path)
		if was == nil {
			continue
		}
		a, _ := old.Get(pe.Path.Child("vpn-instance"))
		b, _ := new.Get(pe.Path.Child("vpn-instance"))
		if a != b {
			id := pe.Path.Last().Keys[0]
			probs = append(probs, refuse(pe.Path.Child("vpn-instance"), "The VPN instance of OSPF process %s cannot be changed; undo ospf %s first", id, id))
		}
	}
	return probs
}
