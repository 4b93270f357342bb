package bgp

import (
	"net/netip"
	"strconv"
	"testing"

	"vpnos/services/bgp/packet"
	"vpnos/services/policy"
)

// polSet compiles a policy configuration: prefix lists by name (entries
// "permit 10.50.0.0/16" ...), route-policies by name.
func polSet(lists map[string][]string, policies map[string][]policy.Node) *policy.Set {
	c := policy.Config{PrefixLists: map[string][]policy.PrefixEntry{}, Policies: policies}
	for name, es := range lists {
		for i, e := range es {
			mode, p, _ := cutSpace(e)
			c.PrefixLists[name] = append(c.PrefixLists[name], policy.PrefixEntry{Index: uint32(10 * (i + 1)),
				Permit: mode == "permit", Prefix: netip.MustParsePrefix(p), GE: -1, LE: 32})
		}
	}
	return policy.Compile(c, nil)
}

func cutSpace(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// A policy that denies 10.50.0.0/16 and longer (list "deny50" permits
// them, node 10 denies), sets local preference 300 on 10.60.0.0/16 and
// longer, and permits the rest.
func importPolicies(lp uint32) *policy.Set {
	return polSet(map[string][]string{"p50": {"permit 10.50.0.0/16"}, "p60": {"permit 10.60.0.0/16"}},
		map[string][]policy.Node{"in": {
			{Seq: 10, Permit: false, Match: policy.Match{IPPrefix: "p50"}},
			{Seq: 20, Permit: true, Match: policy.Match{IPPrefix: "p60"}, Apply: policy.Apply{LocalPref: lp, HasLocalPref: true}},
			{Seq: 30, Permit: true},
		}})
}

func TestPeerImportPolicy(t *testing.T) {
	h := upPub(t, func(c *Config) { setAF(c, "10.0.0.9", func(a *PeerAF) { a.ImportPolicy = "in" }) })
	h.step(SetPolicies{Set: importPolicies(300)})
	h.takeSent(eb9)
	a := packet.Attrs{Origin: packet.OriginIGP, ASPath: seq(64509)}
	h.recv(eb9, ipv4Update(t, a, "10.0.0.9", "10.50.1.0/24", "10.60.1.0/24", "10.70.0.0/16"))
	checkLines(t, "IBGP gets what the policy permits", routesSent(h.takeSent(ib)), []string{
		"+ 10.60.1.0/24 nh 10.0.0.9 path [64509] i lp 300",
		"+ 10.70.0.0/16 nh 10.0.0.9 path [64509] i lp 100",
	})
	// A policy change asks the peer for its routes again (no reset).
	h.step(SetPolicies{Set: importPolicies(400)})
	var refresh int
	for _, b := range h.sent[eb9] {
		if m, err := packet.Decode(b, packet.Options{AS4: true}); err == nil {
			if _, ok := m.(*packet.RouteRefresh); ok {
				refresh++
			}
		}
	}
	h.sent[eb9] = nil
	if refresh != 1 || !h.s.peers[eb9].up {
		t.Fatalf("%d ROUTE-REFRESH sent, session up %v", refresh, h.s.peers[eb9].up)
	}
	// The peer sends its routes again; the new policy applies.
	h.recv(eb9, ipv4Update(t, a, "10.0.0.9", "10.50.1.0/24", "10.60.1.0/24", "10.70.0.0/16"))
	checkLines(t, "after the refresh", routesSent(h.takeSent(ib)), []string{"+ 10.60.1.0/24 nh 10.0.0.9 path [64509] i lp 400"})
	// An ip-prefix that stops permitting a route withdraws it on receipt.
	h.step(SetConfig{Config: pubConfig(func(c *Config) {
		setAF(c, "10.0.0.9", func(a *PeerAF) { a.ImportPolicy = "in"; a.ImportPrefix = "p60" })
	})})
	if !h.s.peers[eb9].up {
		t.Fatal("an import ip-prefix reset the session")
	}
	h.recv(eb9, ipv4Update(t, a, "10.0.0.9", "10.50.1.0/24", "10.60.1.0/24", "10.70.0.0/16"))
	checkLines(t, "ip-prefix import", routesSent(h.takeSent(ib)), []string{"- 10.70.0.0/16"})
}

func TestPeerExportPolicy(t *testing.T) {
	set := polSet(map[string][]string{"p50": {"permit 10.50.0.0/16"}},
		map[string][]policy.Node{"out": {
			{Seq: 10, Permit: true, Match: policy.Match{IPPrefix: "p50"}, Apply: policy.Apply{Cost: 77, HasCost: true,
				ASPath: &policy.ASPathAction{Additive: true, ASNs: []uint32{65000, 65000}}}},
		}})
	h := upPub(t, func(c *Config) { setAF(c, "10.0.0.10", func(a *PeerAF) { a.ExportPolicy = "out" }) })
	h.step(SetPolicies{Set: set})
	h.recv(ib, ipv4Update(t, packet.Attrs{Origin: packet.OriginIGP, LocalPref: 100, HasLocalPref: true}, "10.9.9.9",
		"10.50.1.0/24", "10.60.0.0/16"))
	checkLines(t, "EBGP without policy", routesSent(h.takeSent(eb9)), []string{
		"+ 10.50.1.0/24 nh 10.0.0.1 path [65000] i",
		"+ 10.60.0.0/16 nh 10.0.0.1 path [65000] i",
	})
	checkLines(t, "EBGP with the export policy", routesSent(h.takeSent(eb10)), []string{
		"+ 10.50.1.0/24 nh 10.0.1.1 path [65000 65000 65000] i med 77",
	})
	// The policy now permits everything: the peer gets the difference,
	// without a reset.
	set2 := polSet(nil, map[string][]policy.Node{"out": {{Seq: 10, Permit: true}}})
	h.step(SetPolicies{Set: set2})
	checkLines(t, "after the policy change", routesSent(h.takeSent(eb10)), []string{
		"+ 10.50.1.0/24 nh 10.0.1.1 path [65000] i",
		"+ 10.60.0.0/16 nh 10.0.1.1 path [65000] i",
	})
	checkLines(t, "others", routesSent(h.takeSent(eb9)), nil)
	// Removing the export policy from the configuration: no reset, and
	// nothing to send (the routes are the same).
	h.step(SetConfig{Config: pubConfig(nil)})
	if !h.s.peers[eb10].up {
		t.Fatal("an export policy change reset the session")
	}
	checkLines(t, "policy removed", routesSent(h.takeSent(eb10)), nil)
	// An export ip-prefix that denies 10.60/16 withdraws it.
	h.step(SetPolicies{Set: polSet(map[string][]string{"only50": {"permit 10.50.0.0/16"}}, nil)})
	h.step(SetConfig{Config: pubConfig(func(c *Config) { setAF(c, "10.0.0.10", func(a *PeerAF) { a.ExportPrefix = "only50" }) })})
	checkLines(t, "ip-prefix export", routesSent(h.takeSent(eb10)), []string{"- 10.60.0.0/16"})
	// A policy that does not exist denies every route.
	h.step(SetConfig{Config: pubConfig(func(c *Config) { setAF(c, "10.0.0.10", func(a *PeerAF) { a.ExportPolicy = "missing" }) })})
	checkLines(t, "missing policy", routesSent(h.takeSent(eb10)), []string{"- 10.50.1.0/24"})
}

func TestImportRoutePolicy(t *testing.T) {
	set := polSet(map[string][]string{"lan": {"permit 192.168.0.0/16"}},
		map[string][]policy.Node{"redist": {
			{Seq: 10, Permit: true, Match: policy.Match{IPPrefix: "lan"}, Apply: policy.Apply{Cost: 5, HasCost: true,
				Community: &policy.CommunityAction{Values: []uint32{0xfde80064}}}},
		}})
	h := upPub(t, func(c *Config) {
		c.Unicast.Imports = []ImportRoute{{Protocol: ProtoStatic, Policy: "redist"}}
		c.Peers[0].AdvertiseCommunity = true
	})
	h.step(SetPolicies{Set: set})
	h.step(
		RIBRoute{Prefix: netip.MustParsePrefix("192.168.1.0/24"), Protocol: ProtoStatic, Cost: 9, NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.0.0.9")}}},
		RIBRoute{Prefix: netip.MustParsePrefix("172.20.0.0/16"), Protocol: ProtoStatic, NextHops: []NextHop{{Gateway: netip.MustParseAddr("10.0.0.9")}}},
	)
	checkLines(t, "imported through the policy", routesSent(h.takeSent(ib)), []string{
		"+ 192.168.1.0/24 nh 10.0.0.1 path [] ? lp 100 med 5 comm [4259840100]",
	})
	// The policy changes: the originated routes follow.
	h.step(SetPolicies{Set: polSet(nil, map[string][]policy.Node{"redist": {{Seq: 10, Permit: true}}})})
	checkLines(t, "after the change", routesSent(h.takeSent(ib)), []string{
		"+ 172.20.0.0/16 nh 10.0.0.1 path [] ? lp 100 med 0",
		"+ 192.168.1.0/24 nh 10.0.0.1 path [] ? lp 100 med 9",
	})
}

func TestVPNInstancePolicies(t *testing.T) {
	set := polSet(map[string][]string{"p1": {"permit 172.16.1.0/24"}, "p9": {"permit 172.16.9.0/24"}},
		map[string][]policy.Node{
			// red imports everything but 172.16.9.0/24, 172.16.1.0/24 with LP 250.
			"red-in": {
				{Seq: 10, Permit: false, Match: policy.Match{IPPrefix: "p9"}},
				{Seq: 20, Permit: true, Match: policy.Match{IPPrefix: "p1"}, Apply: policy.Apply{LocalPref: 250, HasLocalPref: true}},
				{Seq: 30, Permit: true},
			},
			// red exports 172.16.0.0/24 with an extra target, nothing else.
			"red-out": {
				{Seq: 10, Permit: true, Match: policy.Match{IPPrefix: "p0"},
					Apply: policy.Apply{ExtCommunity: &policy.ExtCommunityAction{Additive: true, RTs: []policy.ExtCommunity{policy.ExtCommunity(mustRT("65000:999"))}}}},
			},
		})
	set = policy.Compile(func() policy.Config {
		c := set.Config()
		c.PrefixLists["p0"] = []policy.PrefixEntry{{Index: 10, Permit: true, Prefix: netip.MustParsePrefix("172.16.0.0/24"), GE: -1, LE: -1}}
		return c
	}(), nil)
	h := upTwoVPN(t, func(c *Config) {
		c.Instances[1].ImportPolicy = "red-in"
		c.Instances[1].ExportPolicy = "red-out"
	})
	h.step(SetPolicies{Set: set})
	h.recv(pe2, vpnUpdate(t, ibgpAttrs("65000:100"), "10.255.0.3",
		vpnR("10.255.0.3:1", "172.16.1.0/24", 3001), vpnR("10.255.0.3:1", "172.16.9.0/24", 3001), vpnR("10.255.0.3:1", "172.16.5.0/24", 3001)))
	routes := func(inst string) []string {
		var out []string
		for _, r := range h.s.Routes(inst, netip.Prefix{}) {
			for _, p := range r.Paths {
				out = append(out, r.Prefix.String()+" lp "+strconv.FormatUint(uint64(p.LocalPref), 10))
			}
		}
		return out
	}
	checkLines(t, "red's imports", routes("red"), []string{"172.16.1.0/24 lp 250", "172.16.5.0/24 lp 100"})
	h.takeSent(pe2)
	h.recv(ceRed, ipv4Update(t, ceAttrs(64501), "10.1.1.1", "172.16.0.0/24", "172.16.2.0/24"))
	checkLines(t, "red's exports", routesSent(h.takeSent(pe2)), []string{
		"+ 10.255.0.1:1:172.16.0.0/24 nh 10.255.0.1 label 48000 path [64501] i lp 100 ext [65000:999 65000:100]",
	})
	// The import policy goes away: 172.16.9.0/24 comes in, LP 100.
	h.step(SetPolicies{Set: polSet(map[string][]string{"p0": {"permit 172.16.0.0/24"}}, map[string][]policy.Node{
		"red-in":  {{Seq: 10, Permit: true}},
		"red-out": {{Seq: 10, Permit: true}},
	})})
	checkLines(t, "red's imports after the change", routes("red"), []string{
		"172.16.0.0/24 lp 100", "172.16.1.0/24 lp 100", "172.16.2.0/24 lp 100", "172.16.5.0/24 lp 100", "172.16.9.0/24 lp 100",
	})
	checkLines(t, "red's exports after the change", routesSent(h.takeSent(pe2)), []string{
		"+ 10.255.0.1:1:172.16.0.0/24 nh 10.255.0.1 label 48000 path [64501] i lp 100 ext [65000:100]",
		"+ 10.255.0.1:1:172.16.2.0/24 nh 10.255.0.1 label 48000 path [64501] i lp 100 ext [65000:100]",
	})
}
