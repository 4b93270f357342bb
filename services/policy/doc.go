// Package policy is VRP's routing policy: IPv4 prefix lists (ip
// ip-prefix), basic community and extended-community filters (ip
// community-filter, ip extcommunity-filter), AS-path filters (ip
// as-path-filter) and route-policies (route-policy NAME permit|deny node
// N with if-match and apply clauses), as a package the protocols call.
//
// # Layers
//
//   - FromTree reads the configuration (module vpnos-routing-policy) into
//     a typed Config and reports what VRP refuses that the schema cannot
//     (prefix length ranges, community, route-target and AS-number values,
//     regular expressions). Validate is the same check.
//   - Compile turns a Config into a Set: immutable, safe for any number
//     of goroutines, with every filter a policy names resolved.
//     Set.Evaluate (or Policy.Evaluate) runs a policy on a Route and
//     returns a Result: permit or deny, the changed route, and which
//     attributes the apply clauses set. Set.PermitPrefix is `peer X
//     ip-prefix NAME import|export`.
//   - Owner is the datastore participant: Prepare compiles, Apply swaps
//     the current Set atomically (Current), Abort drops the prepared one.
//     Subscribe delivers, after each Apply, an Event per policy or filter
//     whose results may have changed — a policy is named too when a
//     filter it uses changed — so BGP refreshes exactly the peers, VPN
//     instances and imports that use them (soft reconfiguration through
//     route refresh is BGP's job).
//
// # Semantics (VRP)
//
//   - Prefix list: entries in ascending index order; the first whose
//     prefix holds the route (the route's length at least the entry's mask
//     length) and whose length range holds the route's length decides.
//     Range: [len, len] without greater-equal/less-equal, [ge, 32] with
//     greater-equal alone, [len, le] with less-equal alone, [ge, le] with
//     both; masklen <= ge <= le <= 32 is required. No match denies.
//     `0.0.0.0 0` is the default route only, `0.0.0.0 0 less-equal 32`
//     every route. The address need not be the network address (matching
//     masks it).
//   - Community filter entry: the route carries every listed community;
//     `internet` is carried by every route. with `whole-match` (in the
//     if-match clause) the route carries exactly the listed communities.
//     Extended-community filter entry: the route carries every listed
//     route target. AS-path filter entry: its regular expression matches
//     the AS path's text (see ASPathString and translateASPathRegex). In
//     every filter the first matching entry decides and no match denies.
//   - Route-policy: nodes in ascending order; a node matches when all its
//     if-match clauses do (clauses of one kind, e.g. two community
//     filters, match when one of them does; a node without clauses matches
//     everything); the first matching node decides: permit runs the apply
//     clauses, deny denies. No matching node denies.
//   - An if-match clause naming a filter that does not exist matches every
//     route (documented by Huawei for if-match ip-prefix; applied to every
//     filter kind). A route-policy that does not exist denies every route
//     (Set.Evaluate); a prefix list that does not exist filters nothing
//     (Set.PermitPrefix). Callers that want another reading check
//     Set.Policy / Set.PrefixList for nil first.
//   - apply community VALUES replaces the communities, `additive` adds the
//     missing ones, `none` removes all. apply extcommunity rt RT...
//     replaces the route targets and keeps the other extended communities,
//     `additive` adds. apply as-path AS... replaces the path with one
//     AS_SEQUENCE, `additive` prepends the numbers in the given order
//     (joining the first AS_SEQUENCE while it has room for 255).
//
// # Mapping BGP onto Route
//
//	Prefix          NLRI prefix (VPNv4: the IPv4 prefix; the RD is not matched)
//	NextHop         NEXT_HOP / MP_REACH next hop
//	Cost            MULTI_EXIT_DISC (0 when absent; Result.Set&AttrCost says to add it)
//	LocalPref       LOCAL_PREF (the default 100 for routes without one)
//	PreferredValue  the local preferred value (VRP's weight, 0 by default)
//	ASPath          AS_PATH with 4-octet numbers (AS4_PATH merged); Segment.Type is the wire type
//	Communities     COMMUNITIES, each the 32-bit value (no-export = 0xFFFFFF01)
//	ExtCommunities  EXTENDED_COMMUNITIES, each the 8 octets big-endian (route targets and others)
//
// GoBGP's codec gives these directly: bgp.PathAttributeAsPath's segments
// (type and AS numbers), PathAttributeCommunities.Value, and each
// ExtendedCommunityInterface.Serialize() read with binary.BigEndian.Uint64.
// OSPF's import-route fills Prefix, NextHop and Cost (the metric) and uses
// Cost from the result.
//
// # Counters
//
// Each node counts the routes it matched (display route-policy). A prefix
// list counts the routes it permitted and denied when consulted: by
// PermitPrefix, and by a policy node the route reached. A policy skips the
// nodes whose prefix list cannot permit the route (an index of the lists'
// permit entries), and those lists are not consulted.
package policy
