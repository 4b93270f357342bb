package daemon

import (
	"context"

	"vpnos/services/ospf"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
)

// addOSPF makes the OSPF service and its participant (the caller registers
// it on the datastore with the other owners) and adds the service to the
// registry (after the RIB and the
// instances: it subscribes to the vrf service and hands its routes to the
// RIB).
func (d *Daemon) addOSPF(r *routing, store *datastore.Store) {
	svc := ospf.NewService(ospf.ServiceDeps{
		Subscribe: func() ospf.Events { return r.vrf.Subscribe() },
		Do:        r.vrf.Do,
		SyncRoutes: func(ctx context.Context, proto rib.Protocol, routes map[string][]rib.Route) error {
			return r.rib.SyncRoutes(ctx, proto, routes)
		},
		WatchRoutes: func(ctx context.Context, instance string, protos ...rib.Protocol) (ospf.RouteWatch, error) {
			return r.rib.WatchRoutes(ctx, instance, protos...)
		},
		MTU: func(kernel string) int {
			if p, ok := d.Ifaces.Port(kernel); ok {
				return p.MTU
			}
			return 0
		},
		Log: d.Log.With("service", "ospf"),
	})
	part := &ospf.Participant{Service: svc, Log: d.Log.With("service", "ospf")}
	r.ospf, r.ospfPart = svc, part
	d.Registry.Add("ospf", []string{"rib", "vrf"}, func(ctx context.Context, ready func()) error {
		// A restarted service starts from the running configuration.
		part.Load(store.Running())
		return svc.Run(ctx, ready)
	})
}
