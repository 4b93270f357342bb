package rib

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// SetInterface adds or updates an interface (keyed by its VRP name): its
// kernel name, instance, state and addresses. While it is up, each address
// adds its direct routes (the subnet, the host /32 and the subnet broadcast
// /32; a LoopBack /32 adds one route); going down withdraws them, and routes
// and LSPs through the interface become unusable.
func (r *RIB) SetInterface(p Port) error {
	if p.Name == "" {
		return fmt.Errorf("%w: interface without a name", ErrBadRoute)
	}
	if _, err := r.inst(p.Instance); err != nil {
		return err
	}
	for _, a := range p.Addresses {
		if !a.IsValid() || !a.Addr().Is4() {
			return fmt.Errorf("%w: interface %s address %v is not IPv4", ErrBadRoute, p.Name, a)
		}
	}
	if p.Up && !p.Loopback && p.Kernel == "" {
		return fmt.Errorf("%w: port %s is up without a kernel name", ErrBadRoute, p.Name)
	}
	if k, ok := r.portFold[strings.ToLower(p.Name)]; ok && k != p.Name {
		return fmt.Errorf("%w: interface %s is already known as %s", ErrBadRoute, p.Name, k)
	}
	p.Addresses = slices.Clone(p.Addresses)
	old := r.ports[p.Name]
	if old != nil {
		if old.Up == p.Up && old.Instance == p.Instance && old.Kernel == p.Kernel && old.Loopback == p.Loopback &&
			slices.Equal(old.Addresses, p.Addresses) {
			return nil
		}
		r.removeDirect(old)
		r.interfaceChanged(old)
	}
	np := p
	r.ports[p.Name] = &np
	r.portFold[strings.ToLower(p.Name)] = p.Name
	r.addDirect(&np)
	r.interfaceChanged(&np)
	return nil
}

// DelInterface removes an interface (and its direct routes); the name is
// its VRP name, case ignored.
func (r *RIB) DelInterface(name string) {
	old := r.lookupPort(name)
	if old == nil {
		return
	}
	r.removeDirect(old)
	delete(r.ports, old.Name)
	delete(r.portFold, strings.ToLower(old.Name))
	r.interfaceChanged(old)
}

// Interfaces returns the interfaces, sorted by name.
func (r *RIB) Interfaces() []Port {
	out := make([]Port, 0, len(r.ports))
	for _, n := range sortedKeys(r.ports) {
		p := *r.ports[n]
		p.Addresses = slices.Clone(p.Addresses)
		out = append(out, p)
	}
	return out
}

func (r *RIB) interfaceChanged(p *Port) {
	if m := r.ifDeps[strings.ToLower(p.Name)]; m != nil {
		r.markAll(m)
	}
	r.interfaceLSPs()
}

type directRoute struct {
	prefix netip.Prefix
	key    string
	info   directInfo
}

func directRoutes(p *Port) []directRoute {
	var out []directRoute
	seen := map[netip.Prefix]bool{}
	add := func(pfx netip.Prefix, kind string, local, redist bool, disp netip.Addr) {
		if seen[pfx] {
			return
		}
		seen[pfx] = true
		out = append(out, directRoute{pfx, p.Name + " " + kind, directInfo{port: p.Name, local: local, redist: redist, display: disp}})
	}
	for _, a := range p.Addresses {
		host := netip.PrefixFrom(a.Addr(), 32)
		if a.Bits() == 32 {
			add(host, "host "+a.Addr().String(), true, true, loopback127)
			continue
		}
		add(a.Masked(), "subnet "+a.Addr().String(), p.Loopback, true, a.Addr())
		add(host, "host "+a.Addr().String(), true, false, loopback127)
		if a.Bits() <= 30 {
			add(netip.PrefixFrom(lastAddr(a), 32), "broadcast "+a.Addr().String(), true, false, loopback127)
		}
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func (r *RIB) addDirect(p *Port) {
	if !p.Up {
		return
	}
	in := r.instances[p.Instance]
	if in == nil || in.deleted {
		return
	}
	for _, dr := range directRoutes(p) {
		info := dr.info
		if !info.local {
			info.hops = []Hop{{Interface: info.port}}
		}
		r.addRoute(in, &route{
			Route:  Route{Prefix: dr.prefix, Protocol: Direct, Key: dr.key},
			direct: &info,
		})
	}
}

func (r *RIB) removeDirect(p *Port) {
	in := r.instances[p.Instance]
	if in == nil {
		return
	}
	for _, dr := range directRoutes(p) {
		d := in.dests[dr.prefix]
		if d == nil {
			continue
		}
		for i, rt := range d.routes {
			if rt.direct != nil && rt.Key == dr.key {
				d.routes = slices.Delete(d.routes, i, i+1)
				r.enqueue(d)
				break
			}
		}
	}
}
