// Package static turns the configured static routes (`ip route-static`) and
// static LSPs (`static-lsp ingress|transit|egress`) into RIB input. It is the
// datastore participant for /static-routes and /static-lsps: Prepare reserves
// the in-labels of transit and egress LSPs in the label manager (and refuses
// the commit when one is taken), Apply hands routes and LSPs to the RIB (the
// LSPs of owner rib.OwnerStatic), Abort gives the labels back.
package static

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"vpnos/services/fibapi"
	"vpnos/services/label"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
)

// Prefixes are the configuration paths this participant owns.
var Prefixes = []string{"/static-routes", "/static-lsps"}

// RIB is what the participant needs of the RIB service.
type RIB interface {
	SyncRoutes(ctx context.Context, proto rib.Protocol, routes map[string][]rib.Route) error
	SetLSPs(ctx context.Context, owner string, lsps []rib.LSP) error
}

// Participant feeds the RIB from the configuration.
type Participant struct {
	RIB    RIB
	Labels *label.Manager
	Log    *slog.Logger

	mu      sync.Mutex
	pending map[int]*label.Txn // by commit id, from Prepare to Apply or Abort
}

// Routes reads every static route of the tree, by instance. Interfaces are
// VRP names, as the configuration holds them.
func Routes(t *datastore.Tree) (map[string][]rib.Route, error) {
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
			hop.Interface = nh
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

// LSPs reads every static LSP of the tree: explicit LSPs of the public
// instance, as rib.OwnerStatic hands them to the RIB.
func LSPs(t *datastore.Tree) ([]rib.LSP, error) {
	var out []rib.LSP
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
	for _, role := range []struct {
		list string
		role rib.LSPRole
	}{{"ingress", rib.Ingress}, {"transit", rib.Transit}, {"egress", rib.Egress}} {
		for _, it := range t.Entries(datastore.P("static-lsps"), role.list) {
			l := rib.LSP{Name: it.Path.Last().Keys[0], Role: role.role, Instance: fibapi.Public, Explicit: true,
				InInterface: get(it, "incoming-interface")}
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
				o := rib.LSPOut{Gateway: addr(it, "nexthop"), Interface: get(it, "outgoing-interface")}
				if o.Label, err = label(it, "out-label"); err != nil {
					return nil, err
				}
				l.Out = []rib.LSPOut{o}
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// lspOwner is the label manager's owner tag of a static LSP's in-label.
func lspOwner(name string) string { return label.Owner(label.KindStaticLSP, name) }

// inLabels are the labels the static LSPs of t hold: label -> owner tag.
func inLabels(lsps []rib.LSP) map[uint32]string {
	out := map[uint32]string{}
	for _, l := range lsps {
		if l.Role != rib.Ingress {
			out[l.InLabel] = lspOwner(l.Name)
		}
	}
	return out
}

// Prepare checks that the new configuration converts, and reserves the
// in-labels of the new transit and egress LSPs (releasing those of LSPs that
// go or change label); a label another owner holds refuses the commit.
func (p *Participant) Prepare(ctx context.Context, c *datastore.Change) error {
	if _, err := Routes(c.New); err != nil {
		return err
	}
	lsps, err := LSPs(c.New)
	if err != nil {
		return err
	}
	var old []rib.LSP
	if c.Old != nil {
		old, _ = LSPs(c.Old)
	}
	want, have := inLabels(lsps), inLabels(old)
	tx := p.Labels.Begin()
	for l, owner := range have {
		if want[l] != owner {
			// Not held only if an earlier run lost it; nothing to give back then.
			_ = tx.Release(l, owner)
		}
	}
	for _, l := range lsps {
		if l.Role == rib.Ingress || have[l.InLabel] == lspOwner(l.Name) {
			continue
		}
		if err := tx.Reserve(l.InLabel, lspOwner(l.Name)); err != nil {
			tx.Abort()
			return labelError(l, err)
		}
	}
	if err := rib.ValidateLSPs(rib.OwnerStatic, lsps); err != nil {
		tx.Abort()
		return err
	}
	p.mu.Lock()
	if p.pending == nil {
		p.pending = map[int]*label.Txn{}
	}
	p.pending[c.ID] = tx
	p.mu.Unlock()
	return nil
}

// labelError words a refused in-label as VRP would.
func labelError(l rib.LSP, err error) error {
	var iu *label.InUseError
	switch {
	case errors.As(err, &iu):
		return fmt.Errorf("The in-label %d of static LSP %s is already used by %s", l.InLabel, l.Name, label.Describe(iu.Holder))
	case errors.Is(err, label.ErrOutOfRange):
		return fmt.Errorf("The in-label %d of static LSP %s is out of the static label range %d-%d", l.InLabel, l.Name, label.StaticMin, label.StaticMax)
	}
	return fmt.Errorf("static LSP %s: in-label %d: %w", l.Name, l.InLabel, err)
}

func (p *Participant) txn(id int) *label.Txn {
	p.mu.Lock()
	defer p.mu.Unlock()
	tx := p.pending[id]
	delete(p.pending, id)
	return tx
}

// Apply makes the labels reserved in Prepare final and hands the whole
// static configuration to the RIB.
func (p *Participant) Apply(ctx context.Context, c *datastore.Change) {
	if tx := p.txn(c.ID); tx != nil {
		tx.Commit()
	}
	// Prepare checked the tree; the RIB refuses only what Prepare refused,
	// so an error here is a bug, logged, and not the commit's failure.
	if err := p.Load(ctx, c.New); err != nil && p.Log != nil {
		p.Log.Error("static configuration not applied", "commit", c.ID, "err", err)
	}
}

// Load syncs the RIB with the static configuration of t (at start, and when
// the RIB's feeders start again); the labels are held since the commits
// that made t.
func (p *Participant) Load(ctx context.Context, t *datastore.Tree) error {
	routes, err := Routes(t)
	if err != nil {
		return err
	}
	if err := p.RIB.SyncRoutes(ctx, rib.Static, routes); err != nil {
		return fmt.Errorf("static routes: %w", err)
	}
	lsps, err := LSPs(t)
	if err != nil {
		return err
	}
	if err := p.RIB.SetLSPs(ctx, rib.OwnerStatic, lsps); err != nil {
		return fmt.Errorf("static LSPs: %w", err)
	}
	return nil
}

// Abort gives back the labels Prepare reserved (and takes back those it
// released).
func (p *Participant) Abort(ctx context.Context, c *datastore.Change) {
	if tx := p.txn(c.ID); tx != nil {
		tx.Abort()
	}
}
