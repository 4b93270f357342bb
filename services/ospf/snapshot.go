package ospf

import (
	"context"
	"net/netip"
	"time"

	"vpnos/services/ospf/core"
)

// The state types the displays read (defined by the core).
type (
	AreaSnapshot      = core.AreaSnapshot
	InterfaceSnapshot = core.InterfaceSnapshot
	NeighborSnapshot  = core.NeighborSnapshot
	LSASnapshot       = core.LSASnapshot
	Route             = core.Route
	NextHop           = core.NextHop
	IfState           = core.IfState
	NbrState          = core.NbrState
	RouteType         = core.RouteType
)

// Snapshot is the state of one process, for `display ospf ...`.
type Snapshot struct {
	Process uint32
	// VPNInstance is "" for the public instance.
	VPNInstance string
	// RouterID is the router ID in use (invalid before the process has
	// one).
	RouterID netip.Addr
	core.Snapshot
	// Names maps interface names to the names displays print.
	Names map[string]string
	// Imports are the import-route commands.
	Imports            []Import
	BandwidthReference uint32
	// Dropped counts packets dropped because the process was too busy.
	Dropped uint64
	// Now is when the snapshot was taken (ages and timers are relative
	// to it); Started when the process (re)started.
	Now     time.Time
	Started time.Time
}

// DisplayName is the name displays print for an interface.
func (s Snapshot) DisplayName(name string) string {
	if n, ok := s.Names[name]; ok && n != "" {
		return n
	}
	return name
}

// Snapshot copies the state of the process.
func (in *Instance) Snapshot(ctx context.Context) (Snapshot, error) {
	var out Snapshot
	err := in.call(ctx, func(st *state) {
		now := in.d.Now()
		out = Snapshot{
			Process:            st.cfg.Process,
			VPNInstance:        st.cfg.VPNInstance,
			RouterID:           st.routerID,
			Names:              map[string]string{},
			Imports:            append([]Import(nil), st.cfg.Imports...),
			BandwidthReference: st.cfg.BandwidthReference,
			Now:                now,
			Started:            st.started,
		}
		if out.BandwidthReference == 0 {
			out.BandwidthReference = 100
		}
		if st.core != nil {
			out.Snapshot = st.core.Snapshot(now)
		}
		for name, i := range st.ifs {
			out.Names[name] = i.displayName()
		}
	})
	in.mu.Lock()
	out.Dropped = in.dropped
	in.mu.Unlock()
	return out, err
}
