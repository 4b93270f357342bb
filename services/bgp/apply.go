package bgp

import (
	"log/slog"
	"net/netip"
	"reflect"
	"slices"

	"vpnos/services/bgp/packet"
)

// setConfig applies a new configuration: what changed restarts, the rest
// stays up. A new system router ID (RouterIDFromSystem) waits for
// takeRouterID.
func (s *Speaker) setConfig(c Config) {
	if err := c.Validate(); err != nil {
		s.logf(slog.LevelError, PeerKey{}, "configuration refused: %v", err)
		return
	}
	old := s.cfg
	// A new system router ID waits for `reset bgp all`: the sessions
	// keep the one they run with.
	s.nextRouterID = netip.Addr{}
	if old.AS != 0 && old.AS == c.AS && old.RouterIDFromSystem && c.RouterIDFromSystem && old.RouterID != c.RouterID {
		s.nextRouterID = c.RouterID
		c.RouterID = old.RouterID
	}
	if old.AS != c.AS || old.RouterID != c.RouterID {
		sub := uint8(packet.SubOtherConfigChange)
		if c.AS == 0 {
			sub = packet.SubPeerDeconfigured
		}
		for _, k := range s.sortedPeerKeys() {
			s.removePeer(s.peers[k], sub)
		}
	}
	s.cfg = c
	s.routerID = packet.Addr32(c.RouterID)
	if c.AS == 0 {
		for _, in := range s.instList() {
			if !in.dying {
				s.removeInstance(in)
			}
		}
		return
	}
	resolved := c.Resolve()
	want := map[PeerKey]Peer{}
	for _, p := range resolved {
		if p.AS == 0 {
			s.logf(slog.LevelError, p.Key(), "peer without an AS number is not started")
			continue
		}
		want[p.Key()] = p
	}
	vis := map[string]*Instance{}
	for i := range c.Instances {
		vis[c.Instances[i].Name] = &c.Instances[i]
	}
	// Instances whose identity changed are rebuilt, and their peers with
	// them.
	rebuild := map[string]bool{}
	for name, in := range s.insts {
		if in.vpn == nil {
			continue
		}
		vi := vis[name]
		if vi == nil || vi.RD != in.vpn.RD || vi.LabelMode != in.vpn.LabelMode || vi.StaticLabel != in.vpn.StaticLabel {
			rebuild[name] = true
		}
	}
	// Reflection settings shape what internal peers were sent: those
	// sessions restart when they change.
	reflectChanged := [2]bool{
		old.Unicast.ClusterID != c.Unicast.ClusterID || old.Unicast.NoReflectBetweenClients != c.Unicast.NoReflectBetweenClients,
		vpnv4Reflect(old.VPNv4) != vpnv4Reflect(c.VPNv4),
	}
	// Peers: removed or changed ones go first.
	for _, k := range s.sortedPeerKeys() {
		p := s.peers[k]
		np, ok := want[k]
		reflectReset := !p.ebgp && ((reflectChanged[0] && np.AF[packet.IPv4Unicast].Enabled) || (reflectChanged[1] && np.AF[packet.VPNv4].Enabled))
		switch {
		case !ok:
			s.removePeer(p, packet.SubPeerDeconfigured)
		case rebuild[k.Instance] || !samePeerConfig(p.cfg, np) || reflectReset:
			s.removePeer(p, packet.SubOtherConfigChange)
		default:
			s.softChange(p, np)
		}
	}
	// Instances.
	pub := s.insts[PublicInstance]
	if pub == nil {
		pub = s.newInstance(PublicInstance, nil)
	}
	pub.af = &s.cfg.Unicast
	if !reflect.DeepEqual(old.Unicast, c.Unicast) {
		s.refreshAllLocal(pub)
	}
	// A rebuilt instance keeps the RIB routes it was given (the RIB sends
	// changes only): the new one originates from them again.
	carried := map[string]map[packet.Prefix]RIBRoute{}
	for _, name := range sortedNames(s.insts) {
		in := s.insts[name]
		if in.vpn != nil && rebuild[name] {
			carried[name] = in.rib
			in.rib = map[packet.Prefix]RIBRoute{}
			s.removeInstance(in)
		}
	}
	policyOn := s.cfg.VPNv4 == nil || !s.cfg.VPNv4.NoPolicyVPNTarget
	wasOn := old.VPNv4 == nil || !old.VPNv4.NoPolicyVPNTarget
	refresh := false
	for _, name := range sortedNames(vis) {
		vi := vis[name]
		in := s.insts[name]
		if in == nil {
			in = s.newInstance(name, vi)
			if rs := carried[name]; len(rs) > 0 {
				in.rib = rs
				s.refreshAllLocal(in)
			}
			refresh = true
			continue
		}
		prev := *in.vpn
		cp := *vi
		in.vpn = &cp
		in.af = cp.BGP
		if !slices.Equal(prev.ImportRTs, vi.ImportRTs) || prev.ImportPolicy != vi.ImportPolicy {
			in.imports = rtSet(vi.ImportRTs)
			s.reimport(in)
			for _, rt := range vi.ImportRTs {
				if !slices.Contains(prev.ImportRTs, rt) {
					refresh = true
				}
			}
		}
		if !slices.Equal(prev.ExportRTs, vi.ExportRTs) || prev.ExportPolicy != vi.ExportPolicy || prev.ExportAddERTFirst != vi.ExportAddERTFirst {
			s.reexportAll(in)
		}
		if !reflect.DeepEqual(prev.BGP, vi.BGP) {
			s.refreshAllLocal(in)
		}
	}
	if policyOn && !wasOn {
		s.dropUnimported()
	}
	if (refresh && policyOn) || (!policyOn && wasOn) {
		// Routes dropped by policy vpn-target are asked for again.
		for _, k := range s.sortedPeerKeys() {
			p := s.peers[k]
			if p.up && p.neg.Has(packet.VPNv4) && p.neg.RouteRefresh {
				s.send(p, packet.EncodeRouteRefresh(packet.VPNv4))
			}
		}
	}
	// New peers.
	for _, p := range resolved {
		k := p.Key()
		if _, ok := want[k]; !ok || s.peers[k] != nil {
			continue
		}
		s.addPeer(p)
	}
}

// vpnv4Reflect is what of `ipv4-family vpnv4` shapes reflection.
func vpnv4Reflect(a *VPNv4AF) [2]uint32 {
	if a == nil {
		return [2]uint32{}
	}
	b := uint32(0)
	if a.NoReflectBetweenClients {
		b = 1
	}
	return [2]uint32{a.ClusterID, b}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func rtSet(rts []packet.ExtCommunity) map[packet.ExtCommunity]bool {
	m := map[packet.ExtCommunity]bool{}
	for _, rt := range rts {
		m[rt] = true
	}
	return m
}

// samePeerConfig: a session restarts when a setting changes that is not
// its description, a policy or a setting of what is sent or accepted
// (those apply without a reset: softChange).
func samePeerConfig(a, b Peer) bool {
	return reflect.DeepEqual(sessionView(a), sessionView(b))
}

func sessionView(p Peer) Peer {
	p.Description = ""
	p.AdvertiseCommunity, p.AdvertiseExtCommunity = false, false
	afs := make(map[packet.Family]PeerAF, len(p.AF))
	for f, a := range p.AF {
		afs[f] = PeerAF{Enabled: a.Enabled, ReflectClient: a.ReflectClient}
	}
	p.AF = afs
	return p
}

// importView is what shapes the routes accepted from a peer in f.
type importView struct {
	policy, prefix string
	pref           uint16
	allowAS        uint8
}

func importOf(p Peer, f packet.Family) importView {
	a := p.AF[f]
	return importView{a.ImportPolicy, a.ImportPrefix, a.PreferredValue, a.AllowASLoop}
}

// exportView is what shapes the routes sent to a peer in f.
type exportView struct {
	policy, prefix                   string
	comm, ext, nhLocal, defRoute, sa bool
}

func exportOf(p Peer, f packet.Family) exportView {
	a := p.AF[f]
	return exportView{a.ExportPolicy, a.ExportPrefix, a.AdvertiseCommunity || p.AdvertiseCommunity, p.AdvertiseExtCommunity,
		a.NextHopLocal, a.DefaultRouteAdvertise, a.SubstituteAS}
}

// softChange applies a peer's new settings that need no reset: changed
// import settings ask the peer for its routes again (route refresh),
// changed export settings move it to its new update group and send it the
// differences.
func (s *Speaker) softChange(p *peer, np Peer) {
	old := p.cfg
	p.cfg = np
	if !p.up {
		return
	}
	for _, f := range p.neg.Families {
		if importOf(old, f) != importOf(np, f) {
			s.askRefresh(p, f)
		}
		i := famIdx(f)
		if exportOf(old, f) != exportOf(np, f) && !p.pending[i] && p.groups[i] != nil {
			if p.readv[i] == nil {
				p.readv[i] = &readvertise{g: p.groups[i], pol: s.policies()}
			}
			s.leaveGroup(p, p.groups[i])
			p.groups[i] = nil
		}
	}
}

func (s *Speaker) newInstance(name string, vi *Instance) *instance {
	in := &instance{name: name, routes: newTable(comparePrefix), rib: map[packet.Prefix]RIBRoute{},
		routeLabels: map[packet.Prefix]uint32{}}
	if vi != nil {
		cp := *vi
		in.vpn = &cp
		in.af = cp.BGP
		in.imports = rtSet(cp.ImportRTs)
	}
	s.insts[name] = in
	s.vpnList = nil
	if vi != nil {
		s.reimport(in)
	}
	return in
}

// removeInstance withdraws everything of an instance; flush drops it.
func (s *Speaker) removeInstance(in *instance) {
	in.dying = true
	delete(s.insts, in.name)
	s.vpnList = nil
	s.dying = append(s.dying, in)
	for _, k := range in.routes.sortedKeys() {
		d := in.routes.dests[k]
		for len(d.paths) > 0 {
			probe := d.paths[0]
			s.removeUnicast(in, k, &probe)
		}
		in.routes.touch(k, d)
	}
}

// refreshAllLocal re-evaluates every locally originated route of an
// instance and every selection (load balancing may have changed).
func (s *Speaker) refreshAllLocal(in *instance) {
	keys := make([]packet.Prefix, 0, len(in.rib))
	for k := range in.rib {
		keys = append(keys, k)
	}
	for k, d := range in.routes.dests {
		for i := range d.paths {
			if d.paths[i].kind == kindLocal {
				keys = append(keys, k)
			}
		}
		in.routes.touch(k, d)
	}
	slices.SortFunc(keys, comparePrefix)
	for _, k := range slices.Compact(keys) {
		s.refreshLocal(in, k)
	}
}

// dropUnimported removes received VPNv4 routes no instance imports (policy
// vpn-target turned on again).
func (s *Speaker) dropUnimported() {
	for k, d := range s.vpn.dests {
		for i := 0; i < len(d.paths); i++ {
			p := d.paths[i]
			if p.kind == kindPeer && !s.anyInstanceImports(p.attrs.rts) {
				s.removeVPN(k, &p)
				i--
			}
		}
	}
}

func (s *Speaker) addPeer(c Peer) {
	in := s.insts[c.Key().Instance]
	if in == nil {
		return
	}
	t := c.Timers.orDefault(s.cfg.Timers)
	p := &peer{key: c.Key(), cfg: c, inst: in, ebgp: c.AS != s.cfg.AS}
	p.sess = newSession(sessionConfig{
		LocalAS: s.cfg.AS, PeerAS: c.AS, RouterID: s.cfg.RouterID,
		HoldTime: t.Hold, Keepalive: t.Keepalive, ConnectRetry: s.cfg.ConnectRetry,
		Families: c.families(), Passive: c.Passive,
	})
	s.peers[p.key] = p
	p.stats.added(s.now)
	if !c.Ignore {
		s.runFSM(p, evStart{}, p.local)
	}
}

// removePeer stops a peer's session (Cease with sub) and forgets it.
func (s *Speaker) removePeer(p *peer, sub uint8) {
	s.runFSM(p, evStop{Subcode: sub}, p.local)
	s.peerDown(p, "peer removed")
	delete(s.peers, p.key)
	for c, q := range s.conns {
		if q == p {
			delete(s.conns, c)
		}
	}
}

// takeRouterID makes a system router ID that came while the speaker ran
// its own (setConfig) the speaker's: every session restarts with it
// (`reset bgp all`).
func (s *Speaker) takeRouterID() {
	if !s.nextRouterID.IsValid() {
		return
	}
	c := s.cfg
	c.RouterID = s.nextRouterID
	s.cfg.RouterIDFromSystem = false // not kept back again
	s.setConfig(c)
}
