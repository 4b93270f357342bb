package ldp

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"vpnos/services/ldp/packet"
)

// Snapshot is a copy of LDP's state for the displays (`display mpls ldp
// [session|peer|adjacency|lsp|interface]`, `display mpls interface`,
// `display mpls lsp`). Everything is ordered: interfaces by name, peers by
// LSR ID, FECs by prefix.
type Snapshot struct {
	Enabled bool
	LSRID   netip.Addr
	// The global timers in force and the label policies.
	HelloHold     time.Duration
	KeepaliveHold time.Duration
	Trigger       Trigger
	Advertise     Advertise

	Interfaces  []InterfaceState
	Adjacencies []AdjacencyState
	Sessions    []SessionState
	FECs        []FECState
	Stats       Stats
}

// LDPID is this router's LDP Identifier.
func (s Snapshot) LDPID() packet.LDPID { return packet.LDPID{LSRID: s.LSRID} }

// InterfaceState is one interface with `mpls ldp`.
type InterfaceState struct {
	Name    string
	VRPName string
	Up      bool
	// Running: Hellos are sent (the interface is up with an address).
	Running       bool
	Address       netip.Addr
	MTU           int
	HelloHold     time.Duration
	HelloSend     time.Duration
	KeepaliveHold time.Duration
	Adjacencies   int
	// LSPs counts the LDP LSP next hops that leave through the interface.
	LSPs int
}

// AdjacencyState is one Hello adjacency.
type AdjacencyState struct {
	Peer      packet.LDPID
	Interface string
	VRPName   string
	// Source is the source address of the peer's Hellos.
	Source    netip.Addr
	Transport netip.Addr
	// Hold is the negotiated hold time (0: infinite); Remaining is what
	// is left of it.
	Hold, Remaining time.Duration
	Age             time.Duration
	HellosReceived  uint64
}

// SessionState is one peer: its session (possibly NonExistent while it is
// only discovered) and what it advertised.
type SessionState struct {
	Peer      packet.LDPID
	Transport netip.Addr
	State     State
	// Active: this router opened the connection (the higher transport
	// address).
	Active bool
	// Age is the time since the session became Operational (0 before).
	Age               time.Duration
	KeepAliveSent     uint64
	KeepAliveReceived uint64
	// KeepaliveHold is the negotiated hold (0 before negotiation);
	// PeerKeepalive is what the peer proposed, in seconds.
	KeepaliveHold time.Duration
	PeerKeepalive uint16
	MaxPDU        int
	// Local and Remote are the TCP endpoints (invalid without a
	// connection).
	Local, Remote netip.AddrPort
	// Discovery lists the interfaces (VRP names) of the adjacencies.
	Discovery []string
	// Addresses are the addresses the peer advertised.
	Addresses      []netip.Addr
	LabelsReceived int
	LabelsSent     int
	// Attempts counts connection attempts; Retry is when the next one is
	// due (zero when none is waiting).
	Attempts         uint64
	Retry            time.Duration
	LastNotification string
}

// Role is "Active" or "Passive" as VRP prints SsnRole.
func (s SessionState) Role() string {
	if s.Active {
		return "Active"
	}
	return "Passive"
}

// HopState is a downstream next hop of a FEC.
type HopState struct {
	Hop
	VRPName string
}

// Binding is a label a peer mapped for a FEC.
type Binding struct {
	Peer  netip.Addr
	Label uint32
	// InUse: the peer is a next hop of the FEC's LSP; otherwise the label
	// is only retained (liberal).
	InUse bool
}

// FECState is one FEC: the local label and where it went, the LSP's next
// hops, and every label received for it.
type FECState struct {
	FEC     netip.Prefix
	Local   uint32 // NoLabel when none
	Egress  bool
	Ingress bool
	// Upstream are the peers the local label was sent to.
	Upstream []netip.Addr
	NextHops []HopState
	Received []Binding
}

// Snapshot copies the state at time now.
func (c *Core) Snapshot(now time.Time) Snapshot {
	s := Snapshot{
		Enabled:       c.cfg.Enabled,
		LSRID:         c.cfg.LSRID,
		HelloHold:     c.cfg.helloHold(nil),
		KeepaliveHold: c.cfg.keepaliveHold(nil),
		Trigger:       c.cfg.Trigger,
		Advertise:     c.cfg.Advertise,
		Stats:         c.stats,
	}
	vrpName := func(name string) string {
		if i := c.ifaceByName(name); i != nil {
			return i.displayName()
		}
		return name
	}
	lspCount := map[string]int{}
	for _, l := range c.lsps {
		for _, h := range l.NextHops {
			if i := c.ifaceByName(h.Interface); i != nil {
				lspCount[i.Name]++
			}
		}
	}
	adjCount := map[string]int{}
	peers := c.sortedPeers()
	for _, p := range peers {
		for name := range p.adjs {
			adjCount[name]++
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.ifaces)) {
		i := c.ifaces[name]
		if i.cfg == nil {
			continue
		}
		hold := c.cfg.helloHold(i.cfg)
		s.Interfaces = append(s.Interfaces, InterfaceState{
			Name: i.Name, VRPName: i.displayName(), Up: i.Up, Running: i.running,
			Address: i.primary(), MTU: i.MTU,
			HelloHold: hold, HelloSend: hold / 3, KeepaliveHold: c.cfg.keepaliveHold(i.cfg),
			Adjacencies: adjCount[name], LSPs: lspCount[name],
		})
	}
	for _, p := range peers {
		ss := SessionState{
			Peer: p.ldpID(), Transport: p.transport, State: p.state, Active: p.active,
			KeepAliveSent: p.kaSent, KeepAliveReceived: p.kaRcvd,
			KeepaliveHold: p.kaHold, PeerKeepalive: p.peerKA, MaxPDU: p.maxPDU,
			LabelsReceived: len(p.recv), LabelsSent: len(p.sent),
			Attempts: p.attempts, LastNotification: p.lastNotification,
			Addresses: slices.SortedFunc(maps.Keys(p.addrs), netip.Addr.Compare),
		}
		if p.state == Operational {
			ss.Age = now.Sub(p.established)
		}
		if p.conn != nil {
			ss.Local, ss.Remote = p.conn.local, p.conn.remote
		}
		if p.active && p.state == NonExistent && !p.dialing && p.nextAttempt.After(now) {
			ss.Retry = p.nextAttempt.Sub(now)
		}
		for _, name := range slices.Sorted(maps.Keys(p.adjs)) {
			a := p.adjs[name]
			ss.Discovery = append(ss.Discovery, vrpName(name))
			as := AdjacencyState{
				Peer: p.ldpID(), Interface: name, VRPName: vrpName(name),
				Source: a.src, Transport: a.transport, Hold: a.hold,
				Age: now.Sub(a.created), HellosReceived: a.received,
			}
			if !a.expires.IsZero() {
				as.Remaining = max(0, a.expires.Sub(now))
			}
			s.Adjacencies = append(s.Adjacencies, as)
		}
		s.Sessions = append(s.Sessions, ss)
	}
	// FECs: those with local state, and those with retained labels only.
	set := map[netip.Prefix]bool{}
	for pfx := range c.fecs {
		set[pfx] = true
	}
	for _, p := range peers {
		for pfx := range p.recv {
			set[pfx] = true
		}
	}
	for _, pfx := range sortedPrefixes(maps.Keys(set)) {
		fs := FECState{FEC: pfx, Local: NoLabel}
		used := map[netip.Addr]bool{}
		if f := c.fecs[pfx]; f != nil {
			fs.Local, fs.Egress, fs.Ingress = f.local, f.egress, f.ingress
			for _, h := range f.hops {
				fs.NextHops = append(fs.NextHops, HopState{Hop: h, VRPName: vrpName(h.Interface)})
				used[h.Peer] = true
			}
		}
		for _, p := range peers {
			if l, ok := p.sent[pfx]; ok && l == fs.Local {
				fs.Upstream = append(fs.Upstream, p.id)
			}
			if l, ok := p.recv[pfx]; ok {
				fs.Received = append(fs.Received, Binding{Peer: p.id, Label: l, InUse: used[p.id]})
			}
		}
		s.FECs = append(s.FECs, fs)
	}
	return s
}
