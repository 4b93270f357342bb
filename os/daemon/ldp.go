package daemon

import (
	"context"

	"vpnos/services/ldp"
	"vpnos/services/rib"
)

// addLDP makes the LDP service and its participant, and adds the service
// to the registry (after the RIB and the instances: it subscribes to the
// vrf service, watches the RIB's routes and hands its LSPs to the RIB).
// The caller registers the participant on the datastore (services/owners)
// and has the MPLS owner tell it about the MPLS settings LDP reads.
func (d *Daemon) addLDP(r *routing) *ldp.Participant {
	svc := ldp.NewService(ldp.ServiceDeps{
		Subscribe: func() ldp.Events { return r.vrf.Subscribe() },
		Do:        r.vrf.Do,
		WatchRoutes: func(ctx context.Context, instance string, protos ...rib.Protocol) (ldp.RouteWatch, error) {
			return r.rib.WatchRoutes(ctx, instance, protos...)
		},
		UpdateLSPs: r.rib.UpdateLSPs,
		SetLSPs:    r.rib.SetLSPs,
		Labels:     r.labels,
		MTU: func(kernel string) int {
			if p, ok := d.Ifaces.Port(kernel); ok {
				return p.MTU
			}
			return 0
		},
		Log: d.Log.With("service", "ldp"),
	})
	r.ldp = svc
	return &ldp.Participant{Service: svc, Log: d.Log.With("service", "ldp")}
}
