package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"vpnos/services/bgp/packet"
)

// PublicInstance is the name of the public routing instance (as in the RIB).
const PublicInstance = "_public_"

// Config is the whole configuration the speaker runs from: the `bgp AS`
// block with its address families, plus what it needs of the VPN
// instances (RD, targets, label mode). The datastore participant builds it
// from the YANG tree (FromTree, in the integration phase); the speaker takes
// it whole (Speaker.Step with SetConfig) and applies the difference.
//
// Names and values are already resolved: AS numbers are numbers (asdot
// parsed), connect-interface is given as the interface name and the source
// address it resolves to, groups are listed and also applied to their
// members by Resolve.
type Config struct {
	// AS is the local AS (`bgp AS`); 0 means BGP is not configured.
	AS uint32
	// RouterID (`router-id`, or the system router ID).
	RouterID netip.Addr
	// RouterIDFromSystem: RouterID is the system router ID (no
	// `router-id`). A running speaker keeps its router ID when the
	// system's changes, until `reset bgp all` (ResetPeers with nil Peers)
	// or a restart, as VRP does; a change of `router-id` itself restarts
	// every session at once.
	RouterIDFromSystem bool
	// Timers are the global `timer keepalive K hold H` (zero: defaults).
	Timers Timers
	// ConnectRetry (not a VRP command here; zero: 32 s).
	ConnectRetry time.Duration

	// Groups (`group NAME [internal|external]`).
	Groups []Group
	// Peers of the public instance and of the VPN instances (PE-CE
	// peers carry their Instance).
	Peers []Peer

	// Unicast is `ipv4-family unicast` of the public instance.
	Unicast UnicastAF
	// VPNv4 is `ipv4-family vpnv4`; nil when not configured.
	VPNv4 *VPNv4AF
	// Instances are the VPN instances with an RD (from `ip vpn-instance`),
	// with their `ipv4-family vpn-instance NAME` block when configured.
	Instances []Instance
}

// Timers are keepalive and hold times in seconds. Zero Keepalive and Hold
// mean "not configured" (60 and 180); Hold 0 with Set means no keepalives.
type Timers struct {
	Keepalive uint16
	Hold      uint16
	Set       bool
}

func (t Timers) orDefault(def Timers) Timers {
	if t.Set {
		return t
	}
	if def.Set {
		return def
	}
	return Timers{Keepalive: DefaultKeepalive, Hold: DefaultHoldTime, Set: true}
}

// Group is a peer group. Settings given on the group apply to members that
// do not set them themselves.
type Group struct {
	Name string
	// External is `group NAME external`; internal otherwise.
	External bool
	// AS is `peer GROUP as-number N` (external groups).
	AS      uint32
	Options PeerOptions
	AF      map[packet.Family]PeerAF
}

// PeerOptions are a peer's session settings (on a peer or a group).
type PeerOptions struct {
	Description string
	// ConnectInterface is the configured name (LoopBack0, or an address
	// as text), kept for displays; SourceAddr is the address it resolves
	// to, the session's local address (invalid: chosen by the kernel).
	ConnectInterface string
	SourceAddr       netip.Addr
	// EBGPMaxHop is `ebgp-max-hop [N]` (255 without N); 0 when not set
	// (an EBGP session then uses TTL 1).
	EBGPMaxHop uint8
	// Timers are `peer X timer keepalive K hold H` (unset: global).
	Timers Timers
	// Ignore is `peer X ignore`: the session is down and refuses
	// connections.
	Ignore bool
	// Passive waits for the peer to connect (never dials).
	Passive bool
	// AdvertiseCommunity / AdvertiseExtCommunity: VRP sends communities
	// only when configured (route targets on VPNv4 always leave).
	AdvertiseCommunity    bool
	AdvertiseExtCommunity bool
}

// PeerAF are a peer's settings in one address family.
type PeerAF struct {
	// Enabled is `peer X enable` (implied in the unicast family of the
	// public instance and of a VPN instance).
	Enabled bool
	// NextHopLocal is `peer X next-hop-local`.
	NextHopLocal bool
	// ReflectClient is `peer X reflect-client`.
	ReflectClient bool
	// DefaultRouteAdvertise is `peer X default-route-advertise`.
	DefaultRouteAdvertise bool
	// AllowASLoop is `peer X allow-as-loop [N]` (0: off).
	AllowASLoop uint8
	// SubstituteAS is `peer X substitute-as`.
	SubstituteAS bool
	// PreferredValue is `peer X preferred-value N`.
	PreferredValue uint16
	// ImportPolicy and ExportPolicy are `peer X route-policy NAME
	// import|export`; ImportPrefix and ExportPrefix `peer X ip-prefix NAME
	// import|export` (routing policies by name, see SetPolicies).
	ImportPolicy, ExportPolicy string
	ImportPrefix, ExportPrefix string
	// AdvertiseCommunity is `peer X advertise-community` in the family.
	AdvertiseCommunity bool
}

// Peer is one `peer ADDRESS` of the public instance or of a VPN instance.
type Peer struct {
	Addr netip.Addr
	// Instance is "" or PublicInstance for the public instance, else the
	// VPN instance name (PE-CE peers in `ipv4-family vpn-instance NAME`).
	Instance string
	// AS is `peer X as-number N` (0: from the group).
	AS    uint32
	Group string
	PeerOptions
	// AF holds the families; a public peer is enabled in IPv4 unicast
	// unless AF[IPv4Unicast] says otherwise (`undo peer X enable`), a VPN
	// instance peer is in IPv4 unicast of its instance.
	AF map[packet.Family]PeerAF
	// NoUnicast is `undo peer X enable` in `ipv4-family unicast`.
	NoUnicast bool
}

// PeerKey names a peer: two VPN instances may both have a peer 10.1.1.1.
type PeerKey struct {
	Instance string
	Addr     netip.Addr
}

func (k PeerKey) String() string {
	if k.Instance == PublicInstance {
		return k.Addr.String()
	}
	return k.Instance + "/" + k.Addr.String()
}

// Key returns the peer's key (public instance normalised).
func (p *Peer) Key() PeerKey { return PeerKey{Instance: normInstance(p.Instance), Addr: p.Addr} }

func normInstance(s string) string {
	if s == "" {
		return PublicInstance
	}
	return s
}

// UnicastAF is `ipv4-family unicast` or `ipv4-family vpn-instance NAME`.
type UnicastAF struct {
	Networks []Network
	Imports  []ImportRoute
	// MaxLoadBalancing is `maximum load-balancing N` (0 or 1: one path).
	MaxLoadBalancing int
	// NoReflectBetweenClients is `undo reflect between-clients`.
	NoReflectBetweenClients bool
	// ClusterID is `reflector cluster-id` (0: the router ID).
	ClusterID uint32
}

// Network is `network P [M] [route-policy NAME]`.
type Network struct {
	Prefix netip.Prefix
	Policy string
}

// ImportRoute is `import-route PROTOCOL [PID] [med N]`.
type ImportRoute struct {
	Protocol  Protocol
	ProcessID uint32
	MED       uint32
	HasMED    bool
	// Policy is `route-policy NAME`: routes it denies are not imported.
	Policy string
}

// Protocol is a RIB route source BGP may import.
type Protocol uint8

// Protocols BGP imports (their names as in `import-route`).
const (
	ProtoDirect Protocol = iota + 1
	ProtoStatic
	ProtoOSPF
)

func (p Protocol) String() string {
	switch p {
	case ProtoDirect:
		return "direct"
	case ProtoStatic:
		return "static"
	case ProtoOSPF:
		return "ospf"
	}
	return fmt.Sprintf("protocol%d", p)
}

// VPNv4AF is `ipv4-family vpnv4`.
type VPNv4AF struct {
	// NoPolicyVPNTarget is `undo policy vpn-target`: keep every VPNv4
	// route whatever its targets (a route reflector).
	NoPolicyVPNTarget       bool
	NoReflectBetweenClients bool
	ClusterID               uint32
}

// LabelMode is `apply-label per-instance|per-route`.
type LabelMode uint8

// Label modes.
const (
	LabelPerInstance LabelMode = iota
	LabelPerRoute
)

// Instance is a VPN instance as BGP needs it.
type Instance struct {
	Name      string
	RD        packet.RD
	ImportRTs []packet.ExtCommunity
	ExportRTs []packet.ExtCommunity
	LabelMode LabelMode
	// StaticLabel is the instance's own per-instance label (in vpnos the
	// vrf service reserves it, pinned or dynamic, and programs its pop
	// entry); the speaker advertises it and programs nothing for it. 0:
	// the speaker allocates a label itself (and programs it).
	StaticLabel uint32
	// BGP is `ipv4-family vpn-instance NAME`; nil when absent (remote
	// routes are still imported by target).
	BGP *UnicastAF
	// ImportPolicy is the instance's `import route-policy NAME`: applied
	// to every VPNv4 route imported by target (deny: not imported).
	ImportPolicy string
	// ExportPolicy is `export route-policy NAME [add-ert-first]`: applied
	// to every route the instance exports (deny: not exported). The
	// export targets are added after the policy, or before it with
	// ExportAddERTFirst (then the policy may replace them).
	ExportPolicy      string
	ExportAddERTFirst bool
}

// Errors from Validate.
var ErrConfig = errors.New("invalid BGP configuration")

// Validate checks what the speaker relies on (the datastore's participant
// checks the user-facing rules with VRP's messages).
func (c *Config) Validate() error {
	if c.AS == 0 {
		return nil
	}
	if !c.RouterID.Is4() || c.RouterID.IsUnspecified() {
		return fmt.Errorf("%w: router ID %v", ErrConfig, c.RouterID)
	}
	groups := map[string]bool{}
	for _, g := range c.Groups {
		groups[g.Name] = true
	}
	insts := map[string]bool{}
	for _, in := range c.Instances {
		if in.Name == "" || in.Name == PublicInstance || insts[in.Name] {
			return fmt.Errorf("%w: VPN instance %q", ErrConfig, in.Name)
		}
		insts[in.Name] = true
	}
	seen := map[PeerKey]bool{}
	for _, p := range c.Peers {
		k := p.Key()
		if !p.Addr.Is4() {
			return fmt.Errorf("%w: peer %v is not an IPv4 address", ErrConfig, p.Addr)
		}
		if seen[k] {
			return fmt.Errorf("%w: peer %s twice", ErrConfig, k)
		}
		seen[k] = true
		if k.Instance != PublicInstance && !insts[k.Instance] {
			return fmt.Errorf("%w: peer %s in unknown VPN instance", ErrConfig, k)
		}
		if p.Group != "" && !groups[p.Group] {
			return fmt.Errorf("%w: peer %s in unknown group %s", ErrConfig, k, p.Group)
		}
	}
	return nil
}

// Resolve applies groups to their members: AS, options and families a peer
// does not set come from its group. The result is sorted by key.
func (c *Config) Resolve() []Peer {
	groups := map[string]*Group{}
	for i := range c.Groups {
		groups[c.Groups[i].Name] = &c.Groups[i]
	}
	out := make([]Peer, 0, len(c.Peers))
	for _, p := range c.Peers {
		r := p
		r.Instance = normInstance(p.Instance)
		r.AF = map[packet.Family]PeerAF{}
		if g := groups[p.Group]; g != nil {
			if r.AS == 0 {
				r.AS = g.AS
			}
			o, go_ := &r.PeerOptions, g.Options
			if o.Description == "" {
				o.Description = go_.Description
			}
			if o.ConnectInterface == "" {
				o.ConnectInterface, o.SourceAddr = go_.ConnectInterface, go_.SourceAddr
			}
			if o.EBGPMaxHop == 0 {
				o.EBGPMaxHop = go_.EBGPMaxHop
			}
			if !o.Timers.Set {
				o.Timers = go_.Timers
			}
			o.Ignore = o.Ignore || go_.Ignore
			o.Passive = o.Passive || go_.Passive
			o.AdvertiseCommunity = o.AdvertiseCommunity || go_.AdvertiseCommunity
			o.AdvertiseExtCommunity = o.AdvertiseExtCommunity || go_.AdvertiseExtCommunity
			for f, ga := range g.AF {
				pa := p.AF[f]
				pa.Enabled = pa.Enabled || ga.Enabled
				pa.NextHopLocal = pa.NextHopLocal || ga.NextHopLocal
				pa.ReflectClient = pa.ReflectClient || ga.ReflectClient
				pa.DefaultRouteAdvertise = pa.DefaultRouteAdvertise || ga.DefaultRouteAdvertise
				pa.SubstituteAS = pa.SubstituteAS || ga.SubstituteAS
				if pa.AllowASLoop == 0 {
					pa.AllowASLoop = ga.AllowASLoop
				}
				if pa.PreferredValue == 0 {
					pa.PreferredValue = ga.PreferredValue
				}
				pa.AdvertiseCommunity = pa.AdvertiseCommunity || ga.AdvertiseCommunity
				for _, s := range [][2]*string{{&pa.ImportPolicy, &ga.ImportPolicy}, {&pa.ExportPolicy, &ga.ExportPolicy},
					{&pa.ImportPrefix, &ga.ImportPrefix}, {&pa.ExportPrefix, &ga.ExportPrefix}} {
					if *s[0] == "" {
						*s[0] = *s[1]
					}
				}
				r.AF[f] = pa
			}
		}
		for f, a := range p.AF {
			if _, done := r.AF[f]; !done {
				r.AF[f] = a
			}
		}
		// The unicast family is implied (public: unless undone; VPN
		// instance peers: always).
		u := r.AF[packet.IPv4Unicast]
		if r.Instance != PublicInstance || !p.NoUnicast {
			u.Enabled = true
		}
		r.AF[packet.IPv4Unicast] = u
		if r.Instance != PublicInstance {
			delete(r.AF, packet.VPNv4)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key(), out[j].Key()
		if a.Instance != b.Instance {
			return a.Instance < b.Instance
		}
		return a.Addr.Less(b.Addr)
	})
	return out
}

// families lists a resolved peer's enabled families in a fixed order.
func (p *Peer) families() []packet.Family {
	var out []packet.Family
	for _, f := range []packet.Family{packet.IPv4Unicast, packet.VPNv4} {
		if p.AF[f].Enabled {
			out = append(out, f)
		}
	}
	return out
}
