// Package bgp is vpnos's BGP speaker for BGP/MPLS IP VPNs (RFC 4364): IPv4
// unicast and VPNv4 sessions (RFC 4271, 4760, 6793, 2918, 7606), best path
// in VRP's order, VPN export and import by route target, route reflection
// (RFC 4456) and update groups. The wire format is GoBGP's codec, adapted in
// packet/; everything around it is here.
//
// # Layers
//
//   - packet/: messages and attributes (decode with the RFC 7606 decisions,
//     encode, UPDATE packing). Pure.
//   - fsm.go: the session state machine of one peer (RFC 4271 §8, collision
//     detection §6.8). Pure: step(now, event) → actions.
//   - table.go, routes.go, vpn.go, advertise.go, apply.go, speaker.go: the
//     Speaker, the pure core. Step(now, events...) → []Action, NextDeadline.
//     It owns every FSM, the Adj-RIB-In (the per-peer paths kept in each
//     destination, after the loop and target checks), the Loc-RIBs (IPv4
//     unicast per routing instance, VPNv4), the exports and imports, the
//     labels it asked for and the update groups. No goroutine, no clock, no
//     socket; deterministic (outputs are sorted).
//   - config.go: the datastore participant of /bgp (FromTree: the tree to
//     the typed Config, with VRP's refusals; Apply hands it to the Runner).
//   - instance.go: Service, one owner goroutine running the Speaker; every
//     method is a message to it.
//   - runner.go: Runner, the daemon's bgp service: a Service per run, fed
//     from the RIB (next-hop and route watches), the vrf service (each VPN
//     instance's own label) and the routing policies; its RIB actions go
//     to the RIB through a feeder that never blocks the speaker. The
//     displays (cli/ops) and reset/refresh bgp hold the Runner.
//   - net.go: listeners and dialers opened inside each routing instance's
//     network namespace (nsutil), a reader and a writer per connection.
//   - snapshot.go: typed state for the displays (peers, tables, counters).
//
// # What the speaker needs from the rest of vpnos
//
//   - Configuration: Service.SetConfig(Config) after every commit touching
//     BGP or VPN instances (RD, targets, label mode, pinned label).
//   - Next-hop tracking: for every WatchNextHop{Instance, Addr} the RIB
//     answers Service.NextHop(NextHopState{Reachable, Cost, Tunnel}) at once
//     and again on every change, until UnwatchNextHop. Tunnel means an LSP
//     to Addr exists (VPN routes are used only then). An unanswered next hop
//     is unresolved.
//   - Redistribution: Service.RIBRoutes(RIBRoute...) with the active routes
//     of each instance BGP runs in (all protocols except BGP; Delete to
//     remove). `network` and `import-route` pick from them.
//   - Labels: a LabelAllocator (label.Manager) for per-instance and per-route
//     VPN labels (owner "bgp:vpn-instance:NAME"); a pinned label comes in
//     the Config, already reserved by the datastore.
//
// # What it gives
//
//   - RIBSink.Apply with, in order: InstallRoute/RemoveRoute (instance,
//     prefix, IBGP or EBGP at preference 255, MED as cost, next hops: a
//     gateway in the instance, or a remote PE in the public instance with
//     the VPN label to push and Tunnel set, or, for local crossing, a next
//     hop in another VPN instance), WatchNextHop/UnwatchNextHop, and
//     ProgramLabel/RemoveLabel for incoming VPN labels (pop, then look up
//     in the instance).
//   - Snapshots for `display bgp ...`: Service.Peers, Routes, VPNRoutes,
//     Stats, InstanceLabel.
package bgp
