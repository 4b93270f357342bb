// Package static turns the configured static routes (`ip route-static`) and
// static LSPs (`static-lsp ingress|transit|egress`) into RIB input. It is the
// datastore participant for /static-routes and /static-lsps.
package static

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
)

// Prefixes are the configuration paths this participant owns.
var Prefixes = []string{"/static-routes", "/static-lsps"}

// RIB is what the participant needs of the RIB service.
type RIB interface {
	SyncRoutes(ctx context.Context, proto rib.Protocol, routes map[string][]rib.Route) error
	SetStaticLSPs(ctx context.Context, lsps []rib.StaticLSP) error
}

// Participant feeds the RIB from the configuration.
type Participant struct {
	RIB    RIB
	Naming iface.Naming
}

// Routes reads every static route of the tree, by instance.
func Routes(t *datastore.Tree, naming iface.Naming) (map[string][]rib.Route, error) {
	out := map[string][]rib.Route{}
	add := func(inst string, it *datastore.Item, keys []string) error {
		// A VPN route's next hop may be resolved in the public instance or
		// in another VPN instance (`public`, `vpn-instance NAME`).
		nhInstance := ""
		if v, ok := t.Get(it.Path.Child("next-hop-vpn")); ok {
			nhInstance = v
		} else if _, ok := t.Get(it.Path.Child("public")); ok {
			nhInstance = fibapi.Public
		}
		prefix, mask, nh := keys[0], keys[1], keys[2]
		ip, err := netip.ParseAddr(prefix)
		if err != nil {
			return fmt.Errorf("static route %s: %w", prefix, err)
		}
		n, ok := datastore.MaskLen(mask)
		if !ok {
			return fmt.Errorf("static route %s: bad mask %s", prefix, mask)
		}
		r := rib.Route{Prefix: netip.PrefixFrom(ip, n).Masked(), Protocol: rib.Static, Key: strings.Join(keys, " ")}
		if v, ok := t.Get(it.Path.Child("preference")); ok {
			p, _ := strconv.ParseUint(v, 10, 32)
			r.Preference = uint32(p)
		}
		if v, ok := t.Get(it.Path.Child("tag")); ok {
			p, _ := strconv.ParseUint(v, 10, 32)
			r.Tag = uint32(p)
		}
		hop := rib.NextHop{Instance: nhInstance}
		if gw, err := netip.ParseAddr(nh); err == nil {
			hop.Gateway = gw
		} else {
			hop.Interface = kernelOr(naming, nh)
			if strings.EqualFold(nh, rib.Null0) {
				r.Blackhole = true
				hop.Interface = rib.Null0
			}
			if v, ok := t.Get(it.Path.Child("next-hop-address")); ok {
				if gw, err := netip.ParseAddr(v); err == nil {
					hop.Gateway = gw
				}
			}
		}
		r.NextHops = []rib.NextHop{hop}
		out[inst] = append(out[inst], r)
		return nil
	}
	for _, it := range t.Entries(datastore.P("static-routes"), "route") {
		if err := add(fibapi.Public, it, it.Path.Last().Keys); err != nil {
			return nil, err
		}
	}
	for _, it := range t.Entries(datastore.P("static-routes"), "vpn-route") {
		k := it.Path.Last().Keys
		if err := add(k[0], it, k[1:]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// kernelOr maps a VRP port name to its kernel name; other names (LoopBack,
// NULL0) stay as they are.
func kernelOr(n iface.Naming, vrp string) string {
	if k, ok := n.KernelName(vrp); ok {
		return k
	}
	return vrp
}

// LSPs reads every static LSP of the tree.
func LSPs(t *datastore.Tree, naming iface.Naming) ([]rib.StaticLSP, error) {
	var out []rib.StaticLSP
	get := func(it *datastore.Item, leaf string) string { v, _ := t.Get(it.Path.Child(leaf)); return v }
	label := func(it *datastore.Item, leaf string) (uint32, error) {
		v, err := strconv.ParseUint(get(it, leaf), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("static-lsp %s: %s: %w", it.Path.Last().Keys[0], leaf, err)
		}
		return uint32(v), nil
	}
	addr := func(it *datastore.Item, leaf string) netip.Addr {
		a, _ := netip.ParseAddr(get(it, leaf))
		return a
	}
	ifname := func(it *datastore.Item, leaf string) string {
		if v := get(it, leaf); v != "" {
			return kernelOr(naming, v)
		}
		return ""
	}
	for _, role := range []struct {
		list string
		role rib.LSPRole
	}{{"ingress", rib.Ingress}, {"transit", rib.Transit}, {"egress", rib.Egress}} {
		for _, it := range t.Entries(datastore.P("static-lsps"), role.list) {
			l := rib.StaticLSP{Name: it.Path.Last().Keys[0], Role: role.role,
				NextHop: addr(it, "nexthop"), OutInterface: ifname(it, "outgoing-interface"), InInterface: ifname(it, "incoming-interface")}
			var err error
			if role.role == rib.Ingress {
				ip := addr(it, "destination")
				n, ok := datastore.MaskLen(get(it, "mask"))
				if !ip.IsValid() || !ok {
					return nil, fmt.Errorf("static-lsp %s: bad destination", l.Name)
				}
				l.FEC = netip.PrefixFrom(ip, n)
			} else if l.InLabel, err = label(it, "in-label"); err != nil {
				return nil, err
			}
			if role.role != rib.Egress {
				if l.OutLabel, err = label(it, "out-label"); err != nil {
					return nil, err
				}
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// Prepare checks that the new configuration converts and that the static
// LSPs are consistent; nothing is reserved.
func (p *Participant) Prepare(ctx context.Context, c *datastore.Change) error {
	if _, err := Routes(c.New, p.Naming); err != nil {
		return err
	}
	lsps, err := LSPs(c.New, p.Naming)
	if err != nil {
		return err
	}
	if err := rib.ValidateStaticLSPs(lsps); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), rib.ErrBadLSP.Error()+": "))
	}
	return nil
}

// Apply hands the whole static configuration to the RIB.
func (p *Participant) Apply(ctx context.Context, c *datastore.Change) {
	_ = p.Load(ctx, c.New)
}

// Load syncs the RIB with the static configuration of t.
func (p *Participant) Load(ctx context.Context, t *datastore.Tree) error {
	routes, err := Routes(t, p.Naming)
	if err != nil {
		return err
	}
	if err := p.RIB.SyncRoutes(ctx, rib.Static, routes); err != nil {
		return fmt.Errorf("static routes: %w", err)
	}
	lsps, err := LSPs(t, p.Naming)
	if err != nil {
		return err
	}
	if err := p.RIB.SetStaticLSPs(ctx, lsps); err != nil {
		return fmt.Errorf("static LSPs: %w", err)
	}
	return nil
}

// Abort has nothing to undo.
func (p *Participant) Abort(ctx context.Context, c *datastore.Change) {}
