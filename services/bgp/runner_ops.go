package bgp

import "context"

// The rest of what the BGP displays read (cli/ops.BGP), answered by the
// current run's Service like the Runner's other displays.

// Summary returns the local AS, router ID and VPN instances.
func (r *Runner) Summary(ctx context.Context) (Summary, error) {
	svc, err := r.service()
	if err != nil {
		return Summary{}, err
	}
	return svc.Summary(ctx)
}

// PeerRoutes counts a peer's received, active and advertised routes.
func (r *Runner) PeerRoutes(ctx context.Context, k PeerKey) (unicast, vpnv4 PeerRouteCounts, err error) {
	svc, err := r.service()
	if err != nil {
		return PeerRouteCounts{}, PeerRouteCounts{}, err
	}
	return svc.PeerRoutes(ctx, k)
}
