// Package rib is the routing information base of every routing instance (the
// public instance fibapi.Public and one per VPN instance) and of the LSPs of
// every owner (static, LDP, BGP, the VPN instances' labels). It computes the
// FIB: fully resolved fibapi.Route and fibapi.LabelEntry values, handed to a
// fibapi.Programmer as differences only.
//
// # Names
//
// Interfaces are named by their VRP names ("GigabitEthernet0/1/0",
// "LoopBack0"; case ignored) in everything the RIB takes and gives (Port,
// NextHop, LSP, Hop, snapshots, watches); kernel names ("eth1") appear only
// in the fibapi batches handed to the forwarder. Instances are named, the
// public one fibapi.Public: "" is no instance (except NextHop.Instance,
// where "" means the route's own).
//
// # Layers
//
//   - RIB is the pure core: single-threaded, deterministic, no I/O. Changes
//     (AddRoute, SetInterface, SetStaticLSPs, ...) are cheap; Compute processes
//     them and returns the batch of FIB differences, Commit records that the
//     batch was programmed (without Commit the next Compute repeats it).
//   - Service owns a RIB in one goroutine (Serve). Its methods take a
//     context.Context first, are messages to that goroutine, and return after
//     the change was programmed; calls arriving together share one batch.
//     Serve may run again after it returned (the registry restarts it).
//   - Snapshot, LSPs and Lookup copy typed state out; cli/ops renders the VRP
//     displays from them.
//   - Watches (watch.go) deliver next-hop states and best routes to
//     protocols without blocking the owner loop.
//
// # Selection
//
// Per prefix, among the routes whose next hops resolve: lowest preference
// (Direct 0, OSPF 10, static 60, O_ASE 150, BGP 255, or as configured), then
// lowest cost, then protocol order (Direct, Static, OSPF, O_ASE, IBGP, EBGP).
// Routes of the best protocol with equal preference and cost are all used
// (ECMP); the FIB entry carries the union of their next hops, sorted.
//
// # Next hops
//
// A next hop with an interface is usable while the interface is up (NULL0
// makes a blackhole). A next hop given only by address is resolved
// recursively (flag R) through the longest covering route of its instance
// that is usable: not the route's own prefix, not a route whose resolution
// leads back to it. Resolving onto a NULL0 route makes a blackhole; onto an
// own address, nothing. Dependents are re-resolved whenever a covering route
// appears, changes or goes. A next hop may name another instance (VPN static
// routes with a public next hop, BGP VPN routes whose next hop is the remote
// PE in the public instance) and carry labels (the VPN label), pushed below
// the labels of the path to the next hop. With Tunnel set, the path must be an
// LSP (see below), as VRP requires a tunnel for VPN routes.
//
// Routes resolving through each other in a cycle are unresolved unless a
// less specific route outside the cycle carries them; as a last resort a
// destination recomputed more than maxVisits times in one Compute gives up
// its recursive next hops, so Compute always terminates.
//
// # Direct routes
//
// An up interface adds, per address: its subnet (next hop = own address,
// forwarded out of the interface, attached), its host /32 and the subnet
// broadcast /32 (next hop 127.0.0.1, FIB kind Local); a /32 adds the host
// route only. The public instance always holds 127.0.0.0/8, 127.0.0.1/32,
// 127.255.255.255/32 and 255.255.255.255/32 on InLoopBack0, a VPN instance
// 255.255.255.255/32. Down interfaces withdraw theirs.
//
// # LSPs and the IP routing table
//
// See lsp.go: LSPs are keyed by owner and follow the route of their FEC. An
// Up ingress LSP replaces the FIB entry of its FEC prefix (the IP route
// stays in the routing table and in displays), so plain IP traffic to the
// FEC and everything resolved through it (static routes, BGP routes, VPN
// routes with their inner label) is labelled. Transit and egress LSPs become
// incoming-label entries (explicit null arriving at an egress is the
// forwarder's: it pops it and looks up in the port's instance).
package rib
