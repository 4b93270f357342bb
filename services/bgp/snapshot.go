package bgp

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"vpnos/services/bgp/packet"
)

// PeerSnapshot is a peer's state as displays show it (`display bgp peer`,
// `display bgp vpnv4 all peer`).
type PeerSnapshot struct {
	Key         PeerKey
	AS          uint32
	Description string
	Group       string
	State       State
	// UpSince is when the session was Established (zero when down).
	UpSince        time.Time
	MsgIn, MsgOut  uint64
	UpdIn, UpdOut  uint64
	EstablishedCnt int
	// Prefixes received and kept, per family.
	PrefixesUnicast, PrefixesVPNv4 int
	Families                       []packet.Family // negotiated (configured when down)
	LocalAddr                      netip.Addr
	RemoteID                       netip.Addr
	HoldTime, Keepalive            time.Duration
	LastError                      string
	ReflectClient                  bool
	EBGP                           bool

	// StateSince is when the session entered its current state (the
	// Up/Down column of `display bgp peer`); PrevState is the state it
	// left then (equal to State before the first change).
	StateSince time.Time
	PrevState  State
	// In and Out count the messages by type.
	In, Out MsgCounts
	// ConnectRetry and ConfHoldTime/ConfKeepalive are the configured
	// timers; PeerHoldTime is the hold time of the peer's OPEN (when up).
	ConnectRetry, ConfHoldTime, ConfKeepalive, PeerHoldTime time.Duration
	// PeerCaps are the capabilities of the peer's OPEN (nil when down).
	PeerCaps *packet.Capabilities
	// ConfFamilies are the families configured for the peer.
	ConfFamilies []packet.Family
	// PreferredValue is `peer X preferred-value` (IPv4 unicast).
	PreferredValue uint16
}

// Peers returns every peer, sorted by instance and address.
func (s *Speaker) Peers() []PeerSnapshot {
	var out []PeerSnapshot
	for _, k := range s.sortedPeerKeys() {
		p := s.peers[k]
		ps := PeerSnapshot{Key: k, AS: p.cfg.AS, Description: p.cfg.Description, Group: p.cfg.Group,
			State: p.sess.state, MsgIn: p.msgIn, MsgOut: p.msgOut, UpdIn: p.updIn, UpdOut: p.updOut,
			EstablishedCnt: p.establishedCnt, PrefixesUnicast: p.prefixes[0], PrefixesVPNv4: p.prefixes[1],
			LocalAddr: p.local, LastError: p.lastError, EBGP: p.ebgp,
			ReflectClient: p.client(packet.IPv4Unicast) || p.client(packet.VPNv4)}
		if p.lastError == "" {
			ps.LastError = p.sess.lastError
		}
		ps.StateSince, ps.PrevState = p.stats.since, p.stats.prev
		if !p.stats.changed {
			ps.PrevState = p.sess.state
		}
		ps.In, ps.Out = p.stats.in, p.stats.out
		ps.ConnectRetry = p.sess.cfg.ConnectRetry
		ps.ConfHoldTime = time.Duration(p.sess.cfg.HoldTime) * time.Second
		ps.ConfKeepalive = time.Duration(p.sess.cfg.Keepalive) * time.Second
		ps.ConfFamilies = p.cfg.families()
		ps.PreferredValue = p.af(packet.IPv4Unicast).PreferredValue
		if p.up {
			ps.UpSince = p.upSince
			ps.Families = append([]packet.Family(nil), p.neg.Families...)
			ps.RemoteID = p.neg.PeerID
			ps.HoldTime, ps.Keepalive = p.neg.HoldTime, p.neg.Keepalive
			if o := p.neg.PeerOpen; o != nil {
				caps := o.Caps
				caps.Families = append([]packet.Family(nil), o.Caps.Families...)
				ps.PeerCaps = &caps
				ps.PeerHoldTime = time.Duration(o.HoldTime) * time.Second
			}
		} else {
			ps.Families = p.cfg.families()
		}
		out = append(out, ps)
	}
	return out
}

// PathSnapshot is one path of a destination.
type PathSnapshot struct {
	// From is the peer the path was learned from (invalid address for a
	// local route); for a route imported into a VPN instance, the remote
	// PE's session.
	From     PeerKey
	Local    bool
	Imported bool
	// RD of a VPN route imported into an instance.
	RD        packet.RD
	NextHop   netip.Addr
	Label     uint32
	Best      bool
	Selected  bool // best or load-balanced
	Usable    bool
	IGPCost   uint32
	PrefVal   uint16
	LocalPref uint32
	MED       uint32
	HasMED    bool
	ASPath    packet.ASPath
	Origin    packet.Origin
	// Communities and route targets.
	Communities    []uint32
	ExtCommunities []packet.ExtCommunity
	OriginatorID   netip.Addr
	ClusterList    []netip.Addr

	// Internal: learned over IBGP, directly or through the VPNv4 table.
	Internal bool
	// HasLocalPref: the path carries LOCAL_PREF (IBGP).
	HasLocalPref bool
	// Protocol is the RIB protocol of a locally originated path (network
	// or import-route); zero for a route learned from a peer (a CE route
	// exported as VPNv4 included).
	Protocol Protocol
	// Instance is the VPN instance a VPNv4 path was exported from, or the
	// instance a locally crossed path comes from ("" otherwise).
	Instance string
}

// RouteSnapshot is a destination with its paths, best first.
type RouteSnapshot struct {
	Prefix netip.Prefix
	RD     packet.RD // VPNv4 table only
	Paths  []PathSnapshot
	// AdvertisedTo lists the peers the best path is advertised to, sorted;
	// filled only when the snapshot asks for one prefix (route details).
	AdvertisedTo []PeerKey
}

// TableStats counts a table's destinations and paths.
type TableStats struct {
	Destinations, Paths, Selected int
	// Best counts the destinations with a selected path (the prefixes BGP
	// gives the RIB).
	Best int
}

func snapPath(p *path, i int, nsel uint8) PathSnapshot {
	ps := PathSnapshot{
		Local: p.kind == kindLocal || p.kind == kindExport, Imported: p.kind == kindImported || p.kind == kindCrossed,
		RD: p.rd, Label: p.label, Best: i == 0 && nsel > 0, Selected: i < int(nsel), Usable: usable(p),
		IGPCost: p.igpCost(), PrefVal: p.pref, LocalPref: p.attrs.localPref(), MED: p.attrs.MED, HasMED: p.attrs.HasMED,
		ASPath: p.attrs.ASPath.Clone(), Origin: p.attrs.Origin,
		Communities:    append([]uint32(nil), p.attrs.Communities...),
		ExtCommunities: append([]packet.ExtCommunity(nil), p.attrs.ExtCommunities...),
	}
	if p.src != nil {
		ps.From = p.src.key
	}
	if p.nh != nil {
		ps.NextHop = p.nh.key.Addr
	}
	ps.HasLocalPref = p.attrs.HasLocalPref
	if p.src != nil {
		ps.Internal = !p.src.ebgp
	}
	if o := p.orig; o != nil {
		if p.kind == kindLocal {
			ps.Protocol = o.proto
		}
		if (p.kind == kindExport || p.kind == kindCrossed) && o.inst != nil {
			ps.Instance = o.inst.name
		}
		if p.kind == kindExport && o.proto == 0 && len(o.nexthops) > 0 && !ps.NextHop.IsValid() {
			// A CE route exported as VPNv4 keeps the CE as next hop.
			ps.NextHop = o.nexthops[0].Gateway
		}
	}
	if p.attrs.OriginatorID != 0 {
		ps.OriginatorID = packet.AddrFrom32(p.attrs.OriginatorID)
	}
	for _, c := range p.attrs.ClusterList {
		ps.ClusterList = append(ps.ClusterList, packet.AddrFrom32(c))
	}
	return ps
}

func snapDest(d *dest) []PathSnapshot {
	out := make([]PathSnapshot, len(d.paths))
	for i := range d.paths {
		out[i] = snapPath(&d.paths[i], i, d.nsel)
	}
	return out
}

// Routes returns an instance's IPv4 table (PublicInstance or a VPN
// instance), sorted by prefix; filter (when valid) keeps only that prefix.
func (s *Speaker) Routes(instance string, filter netip.Prefix) []RouteSnapshot {
	in := s.insts[normInstance(instance)]
	if in == nil {
		return nil
	}
	if filter.IsValid() {
		// One prefix: a map lookup, with where the best path goes.
		k, err := packet.PrefixFrom(filter)
		if err != nil {
			return nil
		}
		d := in.routes.dests[k]
		if d == nil || len(d.paths) == 0 {
			return nil
		}
		r := RouteSnapshot{Prefix: k.Netip(), Paths: snapDest(d)}
		r.AdvertisedTo = s.advertisedTo(in.name, packet.IPv4Unicast, k, d)
		return []RouteSnapshot{r}
	}
	var out []RouteSnapshot
	for _, k := range in.routes.sortedKeys() {
		out = append(out, RouteSnapshot{Prefix: k.Netip(), Paths: snapDest(in.routes.dests[k])})
	}
	return out
}

// VPNRoutes returns the VPNv4 table, sorted by RD and prefix.
func (s *Speaker) VPNRoutes(filter netip.Prefix) []RouteSnapshot {
	var out []RouteSnapshot
	if filter.IsValid() {
		// One prefix in every RD, with where each best path goes.
		pk, err := packet.PrefixFrom(filter)
		if err != nil {
			return nil
		}
		var keys []packet.VPNPrefix
		for k, d := range s.vpn.dests {
			if k.Prefix == pk && len(d.paths) > 0 {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, compareVPN)
		for _, k := range keys {
			d := s.vpn.dests[k]
			out = append(out, RouteSnapshot{Prefix: k.Prefix.Netip(), RD: k.RD, Paths: snapDest(d),
				AdvertisedTo: s.advertisedTo(PublicInstance, packet.VPNv4, k.Prefix, d)})
		}
		return out
	}
	for _, k := range s.vpn.sortedKeys() {
		out = append(out, RouteSnapshot{Prefix: k.Prefix.Netip(), RD: k.RD, Paths: snapDest(s.vpn.dests[k])})
	}
	return out
}

// Stats counts the paths of an instance's table ("" or PublicInstance),
// or of the VPNv4 table when vpn is set.
func (s *Speaker) Stats(instance string, vpn bool) TableStats {
	var st TableStats
	add := func(d *dest) {
		st.Destinations++
		st.Paths += len(d.paths)
		st.Selected += int(d.nsel)
		if d.nsel > 0 {
			st.Best++
		}
	}
	if vpn {
		for _, d := range s.vpn.dests {
			add(d)
		}
		return st
	}
	if in := s.insts[normInstance(instance)]; in != nil {
		for _, d := range in.routes.dests {
			add(d)
		}
	}
	return st
}

// InstanceLabel is the per-instance label a VPN instance uses (0: none).
func (s *Speaker) InstanceLabel(instance string) uint32 {
	if in := s.insts[instance]; in != nil {
		return in.label
	}
	return 0
}

// advertisedTo lists the established peers the best path of d goes to
// (what the update groups send them, computed as the advertisement does).
func (s *Speaker) advertisedTo(inst string, f packet.Family, k packet.Prefix, d *dest) []PeerKey {
	b := s.newBatch()
	isDef := f == packet.IPv4Unicast && k == defaultPrefix
	var out []PeerKey
	for _, g := range s.groupsOf(inst, f) {
		for _, m := range g.members {
			if !m.up {
				continue
			}
			if s.advertises(d.best(), g, m, isDef, k, b) {
				out = append(out, m.key)
			}
		}
	}
	slices.SortFunc(out, comparePeerKey)
	return out
}

// advertises tells whether the update group g sends path p for prefix k
// to its member to, as the advertisement decides it (outFor).
func (s *Speaker) advertises(p *path, g *group, to *peer, isDef bool, k packet.Prefix, b *batch) bool {
	_, ok := s.outFor(p, g, to, isDef, k, b, s.policies())
	return ok
}

// PeerRouteCounts are a peer's routes in one family.
type PeerRouteCounts struct {
	// Received: paths kept from the peer; Active: those selected;
	// Advertised: destinations the peer is sent.
	Received, Active, Advertised int
}

// PeerRoutes counts a peer's routes per family (`display bgp peer
// verbose`): received, active and advertised. The zero value when the
// peer does not exist.
func (s *Speaker) PeerRoutes(k PeerKey) (unicast, vpnv4 PeerRouteCounts) {
	k.Instance = normInstance(k.Instance)
	p := s.peers[k]
	if p == nil {
		return
	}
	unicast.Received, vpnv4.Received = p.prefixes[0], p.prefixes[1]
	active := func(d *dest) int {
		for i := 0; i < int(d.nsel); i++ {
			if d.paths[i].kind == kindPeer && d.paths[i].src == p {
				return 1
			}
		}
		return 0
	}
	for _, d := range p.inst.routes.dests {
		unicast.Active += active(d)
	}
	if p.inst.vpn == nil {
		for _, d := range s.vpn.dests {
			vpnv4.Active += active(d)
		}
	}
	if !p.up {
		return
	}
	b := s.newBatch()
	if g := p.groups[0]; g != nil {
		sentDef := false
		for k, d := range p.inst.routes.dests {
			isDef := k == defaultPrefix
			if s.advertises(d.best(), g, p, isDef, k, b) {
				unicast.Advertised++
				sentDef = sentDef || isDef
			}
		}
		if g.key.defRoute && !sentDef {
			if s.advertises(nil, g, p, true, defaultPrefix, b) {
				unicast.Advertised++
			}
		}
	}
	if g := p.groups[1]; g != nil {
		for k, d := range s.vpn.dests {
			if s.advertises(d.best(), g, p, false, k.Prefix, b) {
				vpnv4.Advertised++
			}
		}
	}
	return
}

// Summary is the speaker's own configuration as the displays head it.
type Summary struct {
	// AS is the local AS (0: BGP is not configured).
	AS       uint32
	RouterID netip.Addr
	// ClusterID and VPNClusterID are the cluster IDs the reflector uses in
	// IPv4 unicast and VPNv4 (the router ID unless configured).
	ClusterID, VPNClusterID netip.Addr
	// VPNv4 is set when `ipv4-family vpnv4` is configured.
	VPNv4 bool
	// Instances are the VPN instances, in configuration order.
	Instances []InstanceSummary
}

// InstanceSummary is a VPN instance as BGP uses it.
type InstanceSummary struct {
	Name                 string
	RD                   packet.RD
	ImportRTs, ExportRTs []packet.ExtCommunity
	LabelMode            LabelMode
	// Label is the per-instance label in use (0: none yet).
	Label uint32
	// BGP is set when `ipv4-family vpn-instance NAME` is configured.
	BGP bool
}

// Summary returns the speaker's summary.
func (s *Speaker) Summary() Summary {
	sum := Summary{AS: s.cfg.AS, RouterID: s.cfg.RouterID, VPNv4: s.cfg.VPNv4 != nil}
	if s.cfg.AS != 0 {
		sum.ClusterID = packet.AddrFrom32(s.clusterID(packet.IPv4Unicast))
		sum.VPNClusterID = packet.AddrFrom32(s.clusterID(packet.VPNv4))
	}
	for _, c := range s.cfg.Instances {
		is := InstanceSummary{Name: c.Name, RD: c.RD, LabelMode: c.LabelMode, BGP: c.BGP != nil,
			ImportRTs: slices.Clone(c.ImportRTs), ExportRTs: slices.Clone(c.ExportRTs)}
		if in := s.insts[c.Name]; in != nil {
			is.Label = in.label
		}
		sum.Instances = append(sum.Instances, is)
	}
	return sum
}

// Summary returns the speaker's summary (see Speaker.Summary).
func (s *Service) Summary(ctx context.Context) (Summary, error) {
	var out Summary
	err := s.call(ctx, func(sp *Speaker) { out = sp.Summary() })
	return out, err
}

// PeerRoutes counts a peer's routes (see Speaker.PeerRoutes).
func (s *Service) PeerRoutes(ctx context.Context, k PeerKey) (unicast, vpnv4 PeerRouteCounts, err error) {
	err = s.call(ctx, func(sp *Speaker) { unicast, vpnv4 = sp.PeerRoutes(k) })
	return
}
