package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"vpnos/services/bgp/packet"
	"vpnos/services/system"
	"vpnos/yang/datastore"
)

// Prefixes are the configuration paths BGP owns.
var Prefixes = []string{"/bgp"}

// Configuration paths (module vpnos-bgp).
var (
	pathBGP       = datastore.P("bgp")
	pathInstances = datastore.P("vpn-instances")
	pathIfaces    = datastore.P("interfaces")
)

// reader turns a tree into a Config and collects the refusals.
type reader struct {
	t    *datastore.Tree
	errs []*datastore.RuleError
}

func (r *reader) refuse(p datastore.Path, format string, a ...any) {
	r.errs = append(r.errs, datastore.Refuse(p, format, a...))
}

func (r *reader) get(p datastore.Path) (string, bool) { return r.t.Get(p) }

func (r *reader) has(p datastore.Path) bool { _, ok := r.t.Get(p); return ok }

func (r *reader) num(p datastore.Path, bits int) (uint64, bool) {
	v, ok := r.t.Get(p)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		r.refuse(p, "The value %s is not valid", v)
		return 0, false
	}
	return n, true
}

// ParseASN reads an AS number as VRP accepts it: 1-4294967295 (asplain)
// or x.y (asdot).
func ParseASN(s string) (uint32, error) {
	if x, y, ok := strings.Cut(s, "."); ok {
		a, err1 := strconv.ParseUint(x, 10, 16)
		b, err2 := strconv.ParseUint(y, 10, 16)
		if err1 != nil || err2 != nil || (a == 0 && b == 0) {
			return 0, fmt.Errorf("invalid AS number %q", s)
		}
		return uint32(a<<16 | b), nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("invalid AS number %q", s)
	}
	return uint32(n), nil
}

func (r *reader) asn(p datastore.Path, v string) uint32 {
	n, err := ParseASN(v)
	if err != nil {
		r.refuse(p, "The AS number %s is not valid", v)
		return 0
	}
	return n
}

// clusterID reads reflector cluster-id: a number or a dotted quad.
func (r *reader) clusterID(p datastore.Path) uint32 {
	v, ok := r.get(p)
	if !ok {
		return 0
	}
	if a, err := netip.ParseAddr(v); err == nil && a.Is4() {
		return packet.Addr32(a)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		r.refuse(p, "The cluster ID %s is not valid", v)
		return 0
	}
	return uint32(n)
}

// interfaceAddr is the primary IPv4 address of a configured interface
// (ok false when the interface is not configured).
func interfaceAddr(t *datastore.Tree, name string) (netip.Addr, string, bool) {
	ifc := pathIfaces.Child("interface", name)
	if !t.Exists(ifc) {
		return netip.Addr{}, "", strings.HasPrefix(name, "GigabitEthernet")
	}
	inst, _ := t.Get(ifc.Child("vpn-instance"))
	for _, ad := range t.Entries(ifc.Child("ipv4"), "address") {
		if _, sub := t.Get(ad.Path.Child("sub")); sub {
			continue
		}
		if a, err := netip.ParseAddr(ad.Path.Last().Keys[0]); err == nil {
			return a, inst, true
		}
	}
	return netip.Addr{}, inst, true
}

// vpnInstances reads what BGP needs of the VPN instances: those with an
// IPv4 family and an RD.
func (r *reader) vpnInstances() map[string]*Instance {
	out := map[string]*Instance{}
	for _, it := range r.t.Entries(pathInstances, "vpn-instance") {
		name := it.Path.Last().Keys[0]
		af := it.Path.Child("ipv4-family")
		rdText, ok := r.get(af.Child("route-distinguisher"))
		if !ok {
			continue
		}
		rd, err := packet.ParseRD(rdText)
		if err != nil {
			continue // the vrf owner refuses it
		}
		in := &Instance{Name: name, RD: rd}
		for _, vt := range r.t.Entries(af, "vpn-target") {
			k := vt.Path.Last().Keys
			rt, err := packet.ParseRouteTarget(k[0])
			if err != nil {
				continue
			}
			switch k[1] {
			case "export-extcommunity":
				in.ExportRTs = append(in.ExportRTs, rt)
			case "import-extcommunity":
				in.ImportRTs = append(in.ImportRTs, rt)
			}
		}
		if mode, ok := r.get(af.Child("apply-label")); ok && mode != "per-instance" {
			// per-nexthop is served as per-route: a label per route
			// towards a CE.
			in.LabelMode = LabelPerRoute
		}
		in.ImportPolicy, _ = r.get(af.Child("import-route-policy"))
		if exp := af.Child("export-route-policy"); r.t.Exists(exp) {
			in.ExportPolicy, _ = r.get(exp.Child("name"))
			in.ExportAddERTFirst = r.has(exp.Child("add-ert-first"))
		}
		out[name] = in
	}
	return out
}

// FromTree reads the BGP configuration of a tree (the `bgp AS` block and
// what it needs of the VPN instances and interfaces) and checks VRP's
// rules. It is pure. The per-instance VPN labels are not in the tree (the
// vrf service allocates them): the caller fills Instance.StaticLabel.
func FromTree(t *datastore.Tree) (Config, []*datastore.RuleError) {
	r := &reader{t: t}
	var c Config
	insts := t.Entries(pathBGP, "instance")
	if len(insts) == 0 {
		return c, nil
	}
	for _, extra := range insts[1:] {
		r.refuse(extra.Path, "BGP is already running with AS number %s; only one BGP process can be configured", insts[0].Path.Last().Keys[0])
	}
	ip := insts[0].Path
	c.AS = r.asn(ip, ip.Last().Keys[0])

	if v, ok := r.get(ip.Child("router-id")); ok {
		c.RouterID, _ = netip.ParseAddr(v)
		if c.RouterID.IsUnspecified() {
			r.refuse(ip.Child("router-id"), "The router ID 0.0.0.0 is not valid")
		}
	} else {
		// Without router-id, BGP takes the system router ID (`router id`,
		// else the highest LoopBack address, else the highest interface
		// address); a running speaker keeps its own until `reset bgp all`.
		c.RouterID, _ = system.RouterID(t)
		c.RouterIDFromSystem = true
		if !c.RouterID.IsValid() {
			r.refuse(ip, "BGP needs a router ID: configure router-id, router id in the system view, or an address on a LoopBack interface")
		}
	}
	c.Timers = r.timers(ip)

	vis := r.vpnInstances()
	names := make([]string, 0, len(vis))
	for n := range vis {
		names = append(names, n)
	}
	slices.Sort(names)

	// Groups and their shared settings.
	groups := map[string]*Group{}
	for _, it := range t.Entries(ip, "group") {
		name := it.Path.Last().Keys[0]
		typ, _ := r.get(it.Path.Child("type"))
		c.Groups = append(c.Groups, Group{Name: name, External: typ == "external", AF: map[packet.Family]PeerAF{}})
	}
	for i := range c.Groups {
		groups[c.Groups[i].Name] = &c.Groups[i]
	}

	// Peers of the public instance (and the `peer GROUP ...` settings).
	peers := map[string]*Peer{}
	var order []string
	for _, it := range t.Entries(ip, "peer") {
		p := it.Path
		key := p.Last().Keys[0]
		opts := r.sessionOptions(p, PublicInstance)
		addr, err := netip.ParseAddr(key)
		if err != nil {
			g := groups[key]
			if g == nil {
				r.refuse(p, "The peer group %s does not exist", key)
				continue
			}
			if v, ok := r.get(p.Child("as-number")); ok {
				g.AS = r.asn(p.Child("as-number"), v)
				if !g.External {
					r.refuse(p.Child("as-number"), "The AS number cannot be configured for the internal group %s", key)
				}
			}
			if r.has(p.Child("group")) {
				r.refuse(p.Child("group"), "A peer group cannot join another peer group")
			}
			g.Options = opts
			continue
		}
		pe := &Peer{Addr: addr, PeerOptions: opts, AF: map[packet.Family]PeerAF{}}
		if v, ok := r.get(p.Child("as-number")); ok {
			pe.AS = r.asn(p.Child("as-number"), v)
		}
		if g, ok := r.get(p.Child("group")); ok {
			pe.Group = g
		}
		if c.RouterID.IsValid() && addr == c.RouterID {
			r.refuse(p, "The peer address %s is the router's own router ID", addr)
		}
		peers[key] = pe
		order = append(order, key)
	}
	// Group membership: the AS and the group's type must agree.
	for _, key := range order {
		pe := peers[key]
		p := ip.Child("peer", key)
		if pe.Group == "" {
			if pe.AS == 0 {
				r.refuse(p, "The peer %s does not exist; configure its AS number first (peer %s as-number AS)", key, key)
			}
			continue
		}
		g := groups[pe.Group]
		if g == nil {
			r.refuse(p.Child("group"), "The peer group %s does not exist", pe.Group)
			continue
		}
		as := pe.AS
		if as == 0 {
			as = g.AS
		}
		switch {
		case !g.External && as == 0:
			pe.AS = c.AS
		case !g.External && as != c.AS:
			r.refuse(p.Child("group"), "The EBGP peer %s cannot join the internal group %s", key, g.Name)
		case g.External && as == 0:
			r.refuse(p, "The peer %s has no AS number (configure peer %s as-number AS, or peer %s as-number AS)", key, key, g.Name)
		case g.External && as == c.AS:
			r.refuse(p.Child("group"), "The IBGP peer %s cannot join the external group %s", key, g.Name)
		}
	}

	// IPv4 unicast of the public instance.
	uni := ip.Child("ipv4-unicast")
	c.Unicast = r.unicastAF(uni, PublicInstance)
	c.Unicast.ClusterID = r.clusterID(uni.Child("reflector-cluster-id"))
	if v, ok := r.get(uni.Child("reflect-between-clients")); ok && v == "false" {
		c.Unicast.NoReflectBetweenClients = true
	}
	for _, it := range t.Entries(uni, "peer") {
		key := it.Path.Last().Keys[0]
		af := r.peerAF(it.Path)
		if v, ok := r.get(it.Path.Child("enable")); ok {
			af.Enabled = v == "true"
		} else {
			af.Enabled = true
		}
		if !r.setAF(it.Path, key, packet.IPv4Unicast, af, peers, groups) {
			continue
		}
		if pe := peers[key]; pe != nil && !af.Enabled {
			pe.NoUnicast = true
		}
	}

	// VPNv4.
	vp := ip.Child("vpnv4")
	if t.Exists(vp) {
		v := &VPNv4AF{ClusterID: r.clusterID(vp.Child("reflector-cluster-id"))}
		if x, ok := r.get(vp.Child("policy-vpn-target")); ok && x == "false" {
			v.NoPolicyVPNTarget = true
		}
		if x, ok := r.get(vp.Child("reflect-between-clients")); ok && x == "false" {
			v.NoReflectBetweenClients = true
		}
		c.VPNv4 = v
		for _, it := range t.Entries(vp, "peer") {
			key := it.Path.Last().Keys[0]
			af := r.peerAF(it.Path)
			af.Enabled = r.has(it.Path.Child("enable"))
			r.setAF(it.Path, key, packet.VPNv4, af, peers, groups)
		}
	}

	// Reflection, EBGP-only and IBGP-only settings need the peer's kind.
	for _, key := range order {
		pe := peers[key]
		as := pe.AS
		if as == 0 && pe.Group != "" && groups[pe.Group] != nil {
			as = groups[pe.Group].AS
		}
		r.checkKind(ip.Child("peer", key), key, as != 0 && as != c.AS, pe.PeerOptions, pe.AF)
	}

	// The address families of the VPN instances.
	seenAF := map[string]bool{}
	for _, it := range t.Entries(ip, "vpn-instance") {
		p := it.Path
		name := p.Last().Keys[0]
		seenAF[name] = true
		vi := vis[name]
		if vi == nil {
			if t.Exists(pathInstances.Child("vpn-instance", name)) {
				r.refuse(p, "The route distinguisher of VPN instance %s is not configured; configure it before ipv4-family vpn-instance %s", name, name)
			}
			continue
		}
		u := r.unicastAF(p, name)
		vi.BGP = &u
		for _, pit := range t.Entries(p, "peer") {
			pp := pit.Path
			addr, err := netip.ParseAddr(pp.Last().Keys[0])
			if err != nil {
				continue
			}
			pe := Peer{Addr: addr, Instance: name, PeerOptions: r.sessionOptions(pp, name), AF: map[packet.Family]PeerAF{}}
			if v, ok := r.get(pp.Child("as-number")); ok {
				pe.AS = r.asn(pp.Child("as-number"), v)
			} else {
				r.refuse(pp, "The peer %s does not exist in VPN instance %s; configure its AS number first", addr, name)
			}
			af := r.peerAF(pp)
			af.Enabled = true
			af.SubstituteAS = r.has(pp.Child("substitute-as"))
			af.DefaultRouteAdvertise = r.has(pp.Child("default-route-advertise"))
			pe.AF[packet.IPv4Unicast] = af
			r.checkKind(pp, addr.String(), pe.AS != 0 && pe.AS != c.AS, pe.PeerOptions, pe.AF)
			c.Peers = append(c.Peers, pe)
		}
	}

	for _, key := range order {
		c.Peers = append(c.Peers, *peers[key])
	}
	for _, n := range names {
		c.Instances = append(c.Instances, *vis[n])
	}
	if len(r.errs) > 0 {
		return c, r.errs
	}
	if err := c.Validate(); err != nil {
		r.refuse(ip, "%s", strings.TrimPrefix(err.Error(), ErrConfig.Error()+": "))
	}
	return c, r.errs
}

// timers reads `timer keepalive K hold H` at p.
func (r *reader) timers(p datastore.Path) Timers {
	k, okK := r.num(p.Child("keepalive"), 16)
	h, okH := r.num(p.Child("hold"), 16)
	if !okK && !okH {
		return Timers{}
	}
	if h != 0 && h < 3*k {
		r.refuse(p.Child("hold"), "The hold time %d must be at least three times the keepalive time %d", h, k)
	}
	if h == 0 && k != 0 {
		r.refuse(p.Child("keepalive"), "The keepalive time must be 0 when the hold time is 0")
	}
	return Timers{Keepalive: uint16(k), Hold: uint16(h), Set: true}
}

// sessionOptions reads a peer's (or group's) session settings.
func (r *reader) sessionOptions(p datastore.Path, inst string) PeerOptions {
	var o PeerOptions
	o.Description, _ = r.get(p.Child("description"))
	if ci, ok := r.get(p.Child("connect-interface")); ok {
		o.ConnectInterface = ci
		if a, err := netip.ParseAddr(ci); err == nil {
			o.SourceAddr = a
		} else {
			a, ifInst, exists := interfaceAddr(r.t, ci)
			switch {
			case !exists:
				r.refuse(p.Child("connect-interface"), "The interface %s does not exist", ci)
			case normInstance(ifInst) != inst:
				r.refuse(p.Child("connect-interface"), "The interface %s is not in the peer's routing instance", ci)
			default:
				o.SourceAddr = a
			}
		}
	}
	if hop := p.Child("ebgp-max-hop"); r.t.Exists(hop) {
		o.EBGPMaxHop = 255
		if n, ok := r.num(hop.Child("hops"), 8); ok {
			o.EBGPMaxHop = uint8(n)
		}
	}
	o.Timers = r.timers(p)
	o.Ignore = r.has(p.Child("ignore"))
	return o
}

// peerAF reads the address-family settings every family shares.
func (r *reader) peerAF(p datastore.Path) PeerAF {
	var a PeerAF
	a.NextHopLocal = r.has(p.Child("next-hop-local"))
	a.ReflectClient = r.has(p.Child("reflect-client"))
	a.DefaultRouteAdvertise = r.has(p.Child("default-route-advertise"))
	if al := p.Child("allow-as-loop"); r.t.Exists(al) {
		a.AllowASLoop = 1
		if n, ok := r.num(al.Child("count"), 8); ok {
			a.AllowASLoop = uint8(n)
		}
	}
	a.ImportPolicy, _ = r.get(p.Child("route-policy-import"))
	a.ExportPolicy, _ = r.get(p.Child("route-policy-export"))
	a.ImportPrefix, _ = r.get(p.Child("ip-prefix-import"))
	a.ExportPrefix, _ = r.get(p.Child("ip-prefix-export"))
	a.AdvertiseCommunity = r.has(p.Child("advertise-community"))
	if n, ok := r.num(p.Child("preferred-value"), 16); ok {
		a.PreferredValue = uint16(n)
	}
	return a
}

// setAF records a family's settings on the peer or group named key.
func (r *reader) setAF(p datastore.Path, key string, f packet.Family, af PeerAF, peers map[string]*Peer, groups map[string]*Group) bool {
	if pe := peers[key]; pe != nil {
		pe.AF[f] = af
		return true
	}
	if g := groups[key]; g != nil {
		g.AF[f] = af
		return true
	}
	if _, err := netip.ParseAddr(key); err == nil {
		r.refuse(p, "The peer %s does not exist", key)
	} else {
		r.refuse(p, "The peer group %s does not exist", key)
	}
	return false
}

// checkKind refuses settings that need an IBGP or an EBGP peer.
func (r *reader) checkKind(p datastore.Path, key string, ebgp bool, o PeerOptions, afs map[packet.Family]PeerAF) {
	if !ebgp && o.EBGPMaxHop != 0 {
		r.refuse(p.Child("ebgp-max-hop"), "The peer %s is an IBGP peer; ebgp-max-hop applies to EBGP peers", key)
	}
	for f, af := range afs {
		if ebgp && af.ReflectClient {
			r.refuse(p, "The peer %s is an EBGP peer; it cannot be a reflect-client (%s)", key, f)
		}
		if !ebgp && af.SubstituteAS {
			r.refuse(p.Child("substitute-as"), "The peer %s is an IBGP peer; substitute-as applies to EBGP peers", key)
		}
	}
}

// unicastAF reads an IPv4 family's routes (unicast or a VPN instance's).
func (r *reader) unicastAF(p datastore.Path, inst string) UnicastAF {
	var u UnicastAF
	for _, it := range r.t.Entries(p, "network") {
		addr, err := netip.ParseAddr(it.Path.Last().Keys[0])
		if err != nil {
			continue
		}
		bits := classfulLen(addr)
		if m, ok := r.get(it.Path.Child("mask")); ok {
			l, ok := datastore.MaskLen(m)
			if !ok {
				r.refuse(it.Path.Child("mask"), "The mask %s is not valid", m)
				continue
			}
			bits = l
		}
		pfx := netip.PrefixFrom(addr, bits)
		if pfx.Masked().Addr() != addr {
			r.refuse(it.Path, "The address %s does not match the mask (the network is %s)", addr, pfx.Masked())
			continue
		}
		pol, _ := r.get(it.Path.Child("route-policy"))
		u.Networks = append(u.Networks, Network{Prefix: pfx, Policy: pol})
	}
	for _, it := range r.t.Entries(p, "import-route") {
		proto := it.Path.Last().Keys[0]
		ir := ImportRoute{}
		switch proto {
		case "direct":
			ir.Protocol = ProtoDirect
		case "static":
			ir.Protocol = ProtoStatic
		case "ospf":
			ir.Protocol = ProtoOSPF
		}
		if n, ok := r.num(it.Path.Child("process-id"), 32); ok {
			if ir.Protocol != ProtoOSPF {
				r.refuse(it.Path.Child("process-id"), "import-route %s takes no process ID", proto)
			}
			ir.ProcessID = uint32(n)
		} else if ir.Protocol == ProtoOSPF {
			r.refuse(it.Path, "import-route ospf needs the OSPF process ID")
		}
		if n, ok := r.num(it.Path.Child("med"), 32); ok {
			ir.MED, ir.HasMED = uint32(n), true
		}
		ir.Policy, _ = r.get(it.Path.Child("route-policy"))
		u.Imports = append(u.Imports, ir)
	}
	if n, ok := r.num(p.Child("maximum-load-balancing"), 8); ok {
		u.MaxLoadBalancing = int(n)
	}
	return u
}

// classfulLen is the classful mask length of an address (network P
// without a mask).
func classfulLen(a netip.Addr) int {
	b := a.As4()[0]
	switch {
	case b < 128:
		return 8
	case b < 192:
		return 16
	case b < 224:
		return 24
	}
	return 32
}

// Validate returns the refusals of the BGP rules for the configuration c
// leads to (pure; see datastore.Validator). The rules read the VPN
// instances and interfaces as well, so they are checked whenever BGP is
// configured.
func Validate(c *datastore.Change) []*datastore.RuleError {
	if c.New == nil || !c.New.Exists(pathBGP) {
		return nil
	}
	_, errs := FromTree(c.New)
	return errs
}

// ConfigSink takes the configuration the participant applies (the
// daemon's Runner, which adds what the vrf service knows).
type ConfigSink interface {
	SetTreeConfig(ctx context.Context, c Config)
}

// Participant is the datastore participant of /bgp: Validate checks,
// Prepare reads the new configuration (nothing to reserve: per-route labels
// are allocated at run time, per-instance labels by the vrf service),
// Apply hands it to the sink, Abort drops it.
type Participant struct {
	Sink ConfigSink
	Log  *slog.Logger

	mu      sync.Mutex
	pending map[int]Config
}

// Validate checks a change.
func (p *Participant) Validate(c *datastore.Change) []*datastore.RuleError { return Validate(c) }

// Prepare reads the configuration the change leads to.
func (p *Participant) Prepare(ctx context.Context, c *datastore.Change) error {
	cfg, errs := FromTree(c.New)
	if len(errs) > 0 {
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = e
		}
		return errors.Join(out...)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = map[int]Config{}
	}
	p.pending[c.ID] = cfg
	return nil
}

// Apply hands the prepared configuration to the sink.
func (p *Participant) Apply(ctx context.Context, c *datastore.Change) {
	p.mu.Lock()
	cfg, ok := p.pending[c.ID]
	delete(p.pending, c.ID)
	p.mu.Unlock()
	if !ok {
		var errs []*datastore.RuleError
		cfg, errs = FromTree(c.New)
		for _, e := range errs {
			if p.Log != nil {
				p.Log.Warn("bgp: refused node", "path", e.Path.String(), "reason", e.Msg)
			}
		}
	}
	if p.Sink != nil {
		p.Sink.SetTreeConfig(ctx, cfg)
	}
}

// Abort drops what Prepare read.
func (p *Participant) Abort(ctx context.Context, c *datastore.Change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pending, c.ID)
}

// Follow hands the sink the configuration of a change of nodes BGP reads
// but does not own: `router id` (system.Owner.OnRouterID). The speaker
// keeps its running router ID until `reset bgp all`.
func (p *Participant) Follow(ctx context.Context, c *datastore.Change) { p.Load(ctx, c.New) }

// Load hands the configuration of a tree (running, when the service
// starts again) to the sink.
func (p *Participant) Load(ctx context.Context, t *datastore.Tree) {
	cfg, _ := FromTree(t)
	if p.Sink != nil {
		p.Sink.SetTreeConfig(ctx, cfg)
	}
}
