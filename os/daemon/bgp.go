package daemon

import (
	"context"

	"vpnos/services/bgp"
	"vpnos/yang/datastore"
)

// addBGP makes the BGP runner and its participant (the caller registers it
// on the datastore with the other owners) and adds the service to the
// registry, after the RIB and the instances: it opens its sockets in the
// instances' namespaces, follows the RIB and hands it its routes.
//
// The router ID without `router-id` is the system router ID
// (system.RouterID: `router id`, else the highest LoopBack address of the
// public instance, else its highest interface address); the caller makes
// the participant follow changes of `router id` (system.Owner.OnRouterID).
func (d *Daemon) addBGP(r *routing, store *datastore.Store) {
	log := d.Log.With("service", "bgp")
	run := bgp.NewRunner(bgp.RunnerConfig{
		Log:           log,
		RIB:           r.rib,
		Labels:        r.labels,
		SubscribeVRF:  func() bgp.VRFEvents { return r.vrf.Subscribe() },
		InstanceLabel: r.vpnLabels.InstanceLabel,
		Namespace:     r.host.Namespace,
		Policies:      r.policy.Current,
		SubscribePol:  func() bgp.PolicyEvents { return r.policy.Subscribe() },
	})
	part := &bgp.Participant{Sink: run, Log: log}
	r.bgp, r.bgpPart = run, part
	d.Registry.Add("bgp", []string{"rib", "vrf"}, func(ctx context.Context, ready func()) error {
		// A restarted service starts from the running configuration.
		part.Load(ctx, store.Running())
		return run.Run(ctx, ready)
	})
}
