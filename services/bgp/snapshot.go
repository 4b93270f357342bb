package bgp

import (
	"net/netip"
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
		if p.up {
			ps.UpSince = p.upSince
			ps.Families = append([]packet.Family(nil), p.neg.Families...)
			ps.RemoteID = p.neg.PeerID
			ps.HoldTime, ps.Keepalive = p.neg.HoldTime, p.neg.Keepalive
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
}

// RouteSnapshot is a destination with its paths, best first.
type RouteSnapshot struct {
	Prefix netip.Prefix
	RD     packet.RD // VPNv4 table only
	Paths  []PathSnapshot
}

// TableStats counts a table's destinations and paths.
type TableStats struct {
	Destinations, Paths, Selected int
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
	var out []RouteSnapshot
	for _, k := range in.routes.sortedKeys() {
		if filter.IsValid() && k.Netip() != filter.Masked() {
			continue
		}
		out = append(out, RouteSnapshot{Prefix: k.Netip(), Paths: snapDest(in.routes.dests[k])})
	}
	return out
}

// VPNRoutes returns the VPNv4 table, sorted by RD and prefix.
func (s *Speaker) VPNRoutes(filter netip.Prefix) []RouteSnapshot {
	var out []RouteSnapshot
	for _, k := range s.vpn.sortedKeys() {
		if filter.IsValid() && k.Prefix.Netip() != filter.Masked() {
			continue
		}
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
