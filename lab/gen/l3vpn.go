// Package gen generates lab topologies: folders that `vpnos lab up` and
// containerlab run as they are (a FILE.clab.yml and one folder per node
// holding its startup.cfg).
package gen

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// L3VPN describes a generated BGP/MPLS IP VPN lab (RFC 4364) in one AS:
//
//   - a core ring of P routers (P1 ... Pn; P(j):eth2 -- P(j+1):eth1, and
//     Pn back to P1 when there are three or more);
//   - PEs attached around the ring, PE i to P((i-1) mod n + 1), each on
//     one core link;
//   - two route reflectors, RR1 on P1 and RR2 on the P half way round the
//     ring, in one cluster (the same cluster ID): every PE is a client of
//     both, so either one alone keeps every VPN whole; the two also peer
//     with each other;
//   - one CE per VPN per PE (CE<i>-<v>: PE i's site of VPN v), whose LAN
//     is its LoopBack1.
//
// The core (P, PE, RR) runs OSPF area 0 on point-to-point links with its
// loopbacks, and LDP on every core link; the PEs and RRs run IBGP VPNv4
// between loopbacks (no IPv4 unicast). PE-CE routing is static (a default
// route on the CE, a route to the site's LAN in the PE's VPN instance, both
// imported into BGP) or EBGP (each CE its own private AS).
type L3VPN struct {
	Name string // lab name (default "l3vpn-gen")
	P    int    // P routers in the ring (1-254)
	PE   int    // PEs (1-254)
	VPNs int    // VPN instances, one CE each on every PE (1-15)
	// EBGP: PE-CE routing by EBGP instead of static routes.
	EBGP bool
	// Timers (0: the defaults below).
	OSPFHello, OSPFDead   int // seconds (default 1 and 8)
	BGPKeepalive, BGPHold int // seconds (default 10 and 30)
}

// AS is the provider's AS number.
const AS = 65000

// Nodes is the number of nodes of the lab.
func (c L3VPN) Nodes() int { return c.P + c.PE + 2 + c.PE*c.VPNs }

// ForNodes returns the lab of about n nodes (exactly n when it can) with
// vpns VPNs: a ring of n/16 P routers (at least 3), two RRs and as many
// PEs, each with its vpns CEs, as fill the rest. For n = 200 and two VPNs:
// 12 P, 62 PE, 2 RR, 124 CE.
func ForNodes(name string, n, vpns int) L3VPN {
	p := max(3, n/16)
	pe := max(1, (n-2-p)/(1+vpns))
	return L3VPN{Name: name, P: p, PE: pe, VPNs: vpns}
}

func (c *L3VPN) defaults() error {
	if c.Name == "" {
		c.Name = "l3vpn-gen"
	}
	if c.OSPFHello == 0 {
		c.OSPFHello = 1
	}
	if c.OSPFDead == 0 {
		c.OSPFDead = 8 * c.OSPFHello
	}
	if c.BGPKeepalive == 0 {
		c.BGPKeepalive = 10
	}
	if c.BGPHold == 0 {
		c.BGPHold = 3 * c.BGPKeepalive
	}
	switch {
	case c.P < 1 || c.P > 254:
		return fmt.Errorf("P routers: %d, want 1 to 254", c.P)
	case c.PE < 1 || c.PE > 254:
		return fmt.Errorf("PEs: %d, want 1 to 254", c.PE)
	case c.VPNs < 1 || c.VPNs > 15:
		return fmt.Errorf("VPNs: %d, want 1 to 15", c.VPNs)
	case c.EBGP && c.PE*c.VPNs > 1022:
		return fmt.Errorf("%d CEs: EBGP gives each CE its own private AS, at most 1022", c.PE*c.VPNs)
	case c.OSPFDead <= c.OSPFHello:
		return errors.New("the OSPF dead interval must be longer than the hello interval")
	case c.BGPHold != 0 && c.BGPHold < 3:
		return errors.New("the BGP hold time must be 0 or at least 3 seconds")
	}
	return nil
}

// Lab is a generated lab.
type Lab struct {
	Name     string
	Topology string // the .clab.yml text; binds are relative to its folder
	Nodes    []Node
	Sites    []Site
}

// Node is one node and its startup configuration.
type Node struct {
	Name   string
	Role   string // "P", "PE", "RR" or "CE"
	Config string // startup.cfg, in the order display current-configuration prints it
}

// Site is a CE's site: its VPN, its PE and its LAN (the CE's LoopBack1).
type Site struct {
	CE, PE, VPN string
	LAN         netip.Prefix
	Addr        netip.Addr // the CE's address in its LAN
}

// File is the name of the topology file Write writes.
func (l *Lab) File() string { return l.Name + ".clab.yml" }

// Write writes the topology file and a folder per node with its
// startup.cfg into dir (created if missing); it returns the topology
// file's path.
func (l *Lab) Write(dir string) (string, error) {
	for _, n := range l.Nodes {
		d := filepath.Join(dir, n.Name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(d, "startup.cfg"), []byte(n.Config), 0o644); err != nil {
			return "", err
		}
	}
	f := filepath.Join(dir, l.File())
	if err := os.WriteFile(f, []byte(l.Topology), 0o644); err != nil {
		return "", err
	}
	return f, nil
}

// Remote returns the sites of s's VPN on other PEs: the addresses s must
// reach.
func (l *Lab) Remote(s Site) []Site {
	var out []Site
	for _, o := range l.Sites {
		if o.VPN == s.VPN && o.PE != s.PE {
			out = append(out, o)
		}
	}
	return out
}

// Foreign returns the sites of the other VPNs on other PEs: addresses s
// must not reach.
func (l *Lab) Foreign(s Site) []Site {
	var out []Site
	for _, o := range l.Sites {
		if o.VPN != s.VPN && o.PE != s.PE {
			out = append(out, o)
		}
	}
	return out
}

// The address plan.
func pLoopback(j int) netip.Addr  { return netip.AddrFrom4([4]byte{10, 255, 1, byte(j)}) }
func peLoopback(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 255, 2, byte(i)}) }
func rrLoopback(k int) netip.Addr { return netip.AddrFrom4([4]byte{10, 255, 3, byte(k)}) }

// coreLink is the /30 of core link number l (from 0): 10.1.0.0/30, 10.1.0.4/30 ...
func coreLink(l int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 1, byte(l / 64), byte(l % 64 * 4)})
}

// ceLink is the /30 between PE i and its CE of VPN v: 10.(100+v).i.0/30.
func ceLink(i, v int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(100 + v), byte(i), 0}) }

// siteLAN is the LAN of PE i's site of VPN v: 172.(15+v).i.0/24.
func siteLAN(i, v int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(15 + v), byte(i), 0}), 24)
}

func plus(a netip.Addr, n int) netip.Addr {
	for ; n > 0; n-- {
		a = a.Next()
	}
	return a
}

func vpnName(v int) string   { return fmt.Sprintf("vpn%d", v) }
func ceName(i, v int) string { return fmt.Sprintf("CE%d-%d", i, v) }
func ceAS(c L3VPN, i, v int) int {
	return 64512 + (i-1)*c.VPNs + v
}

const mask30 = "255.255.255.252"

// port is a node's interface towards a link.
type port struct {
	eth  int
	addr netip.Addr // this end's address; the /30 is addr masked
	peer netip.Addr
}

func (p port) ifname() string { return fmt.Sprintf("GigabitEthernet0/%d/0", p.eth) }
func (p port) network() netip.Addr {
	return netip.PrefixFrom(p.addr, 30).Masked().Addr()
}

// coreNode is a router of the core while the lab is built.
type coreNode struct {
	name     string
	loopback netip.Addr
	ports    []port
}

func (n *coreNode) nextEth() int { return len(n.ports) + 1 }

// Generate builds the lab.
func (c L3VPN) Generate() (*Lab, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	lab := &Lab{Name: c.Name}
	var links [][2]string // "node:ethN" pairs, in file order
	nLinks := 0
	connect := func(a, b *coreNode) {
		base := coreLink(nLinks)
		nLinks++
		pa := port{eth: a.nextEth(), addr: plus(base, 1), peer: plus(base, 2)}
		pb := port{eth: b.nextEth(), addr: plus(base, 2), peer: plus(base, 1)}
		a.ports = append(a.ports, pa)
		b.ports = append(b.ports, pb)
		links = append(links, [2]string{fmt.Sprintf("%s:eth%d", a.name, pa.eth), fmt.Sprintf("%s:eth%d", b.name, pb.eth)})
	}

	ps := make([]*coreNode, c.P+1)
	for j := 1; j <= c.P; j++ {
		ps[j] = &coreNode{name: fmt.Sprintf("P%d", j), loopback: pLoopback(j)}
	}
	// The ring: P(j) -- P(j+1), then P(n) -- P1 (eth1 towards the previous
	// router, eth2 towards the next one, when there are three or more).
	for j := 1; j < c.P; j++ {
		if j == 1 && c.P >= 3 {
			// P1's eth1 is reserved for the link from P(n).
			ps[1].ports = append(ps[1].ports, port{})
		}
		connect(ps[j], ps[j+1])
	}
	if c.P >= 3 {
		// Close the ring on P1's reserved eth1.
		base := coreLink(nLinks)
		nLinks++
		last := ps[c.P]
		pl := port{eth: last.nextEth(), addr: plus(base, 1), peer: plus(base, 2)}
		last.ports = append(last.ports, pl)
		ps[1].ports[0] = port{eth: 1, addr: plus(base, 2), peer: plus(base, 1)}
		links = append(links, [2]string{fmt.Sprintf("%s:eth%d", last.name, pl.eth), "P1:eth1"})
	}

	rrs := []*coreNode{{name: "RR1", loopback: rrLoopback(1)}, {name: "RR2", loopback: rrLoopback(2)}}
	connect(ps[1], rrs[0])
	connect(ps[c.P/2+1], rrs[1])

	pes := make([]*coreNode, c.PE+1)
	for i := 1; i <= c.PE; i++ {
		pes[i] = &coreNode{name: fmt.Sprintf("PE%d", i), loopback: peLoopback(i)}
		connect(ps[(i-1)%c.P+1], pes[i])
	}

	// Nodes in file order: P, RR, PE, CE.
	for j := 1; j <= c.P; j++ {
		lab.Nodes = append(lab.Nodes, Node{Name: ps[j].name, Role: "P", Config: c.coreConfig(ps[j], nil, nil)})
	}
	for k, rr := range rrs {
		var b strings.Builder
		c.rrBGP(&b, k+1)
		lab.Nodes = append(lab.Nodes, Node{Name: rr.name, Role: "RR", Config: c.coreConfig(rr, nil, &b)})
	}
	var ces []Node
	for i := 1; i <= c.PE; i++ {
		pe := pes[i]
		var vpnPorts []port
		for v := 1; v <= c.VPNs; v++ {
			base := ceLink(i, v)
			p := port{eth: pe.nextEth() + v - 1, addr: plus(base, 1), peer: plus(base, 2)}
			vpnPorts = append(vpnPorts, p)
			links = append(links, [2]string{fmt.Sprintf("%s:eth%d", pe.name, p.eth), ceName(i, v) + ":eth1"})
			lan := siteLAN(i, v)
			site := Site{CE: ceName(i, v), PE: pe.name, VPN: vpnName(v), LAN: lan, Addr: lan.Addr().Next()}
			lab.Sites = append(lab.Sites, site)
			ces = append(ces, Node{Name: site.CE, Role: "CE", Config: c.ceConfig(i, v, p, site)})
		}
		var b strings.Builder
		c.peBGP(&b, i, vpnPorts)
		lab.Nodes = append(lab.Nodes, Node{Name: pe.name, Role: "PE", Config: c.coreConfig(pe, vpnPorts, &b)})
	}
	lab.Nodes = append(lab.Nodes, ces...)

	var t strings.Builder
	fmt.Fprintf(&t, "# A generated BGP/MPLS IP VPN lab: %d P routers in a ring, %d PEs, 2 route\n", c.P, c.PE)
	fmt.Fprintf(&t, "# reflectors (one cluster), %d VPNs with a CE on every PE (%d nodes).\n", c.VPNs, c.Nodes())
	t.WriteString("# Runs with `vpnos lab up` and with containerlab (after `make image`).\n")
	fmt.Fprintf(&t, "name: %s\n\ntopology:\n  kinds:\n    linux:\n      image: vpnos:latest\n", c.Name)
	t.WriteString("      cap-add: [NET_ADMIN, NET_RAW, SYS_ADMIN]\n\n  nodes:\n")
	for _, n := range lab.Nodes {
		fmt.Fprintf(&t, "    %s: {kind: linux, binds: [\"%s:/etc/vpnos/\"]}\n", n.Name, n.Name)
	}
	t.WriteString("\n  links:\n")
	for _, l := range links {
		fmt.Fprintf(&t, "    - endpoints: [\"%s\", \"%s\"]\n", l[0], l[1])
	}
	lab.Topology = t.String()
	return lab, nil
}

// coreConfig is the startup.cfg of a P, PE or RR: VPN instances (PE),
// MPLS and LDP, interfaces, loopback, BGP (bgp, already written), OSPF and
// the static routes to the CE LANs (PE, static PE-CE).
func (c L3VPN) coreConfig(n *coreNode, vpnPorts []port, bgp *strings.Builder) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#\nsysname %s\n", n.name)
	for v := 1; v <= len(vpnPorts); v++ {
		fmt.Fprintf(&b, "#\nip vpn-instance %s\n ipv4-family\n  route-distinguisher %s:%d\n  apply-label per-instance\n", vpnName(v), n.loopback, v)
		fmt.Fprintf(&b, "  vpn-target %d:%d export-extcommunity\n  vpn-target %d:%d import-extcommunity\n", AS, 100*v, AS, 100*v)
	}
	fmt.Fprintf(&b, "#\nmpls lsr-id %s\n#\nmpls\n#\nmpls ldp\n", n.loopback)
	// Interfaces in the order of their names (GE0/1/0 ... GE0/9/0,
	// GE0/10/0 ...: the order display current-configuration uses).
	type ifc struct {
		p   port
		vpn int
	}
	var ifcs []ifc
	for _, p := range n.ports {
		ifcs = append(ifcs, ifc{p: p})
	}
	for v, p := range vpnPorts {
		ifcs = append(ifcs, ifc{p: p, vpn: v + 1})
	}
	for _, f := range ifcs {
		fmt.Fprintf(&b, "#\ninterface %s\n undo shutdown\n", f.p.ifname())
		if f.vpn > 0 {
			fmt.Fprintf(&b, " ip binding vpn-instance %s\n ip address %s %s\n", vpnName(f.vpn), f.p.addr, mask30)
			continue
		}
		fmt.Fprintf(&b, " ip address %s %s\n mpls\n mpls ldp\n ospf network-type p2p\n", f.p.addr, mask30)
		fmt.Fprintf(&b, " ospf timer hello %d\n ospf timer dead %d\n", c.OSPFHello, c.OSPFDead)
	}
	fmt.Fprintf(&b, "#\ninterface LoopBack0\n ip address %s 255.255.255.255\n", n.loopback)
	if bgp != nil {
		b.WriteString(bgp.String())
	}
	fmt.Fprintf(&b, "#\nospf 1 router-id %s\n area 0.0.0.0\n", n.loopback)
	for _, p := range n.ports {
		fmt.Fprintf(&b, "  network %s 0.0.0.3\n", p.network())
	}
	fmt.Fprintf(&b, "  network %s 0.0.0.0\n", n.loopback)
	if !c.EBGP && len(vpnPorts) > 0 {
		b.WriteString("#\n")
		for v, p := range vpnPorts {
			lan := siteLAN(peIndex(n.loopback), v+1)
			fmt.Fprintf(&b, "ip route-static vpn-instance %s %s 255.255.255.0 %s description site\n", vpnName(v+1), lan.Addr(), p.peer)
		}
	}
	b.WriteString("#\nreturn\n")
	return b.String()
}

func peIndex(loopback netip.Addr) int { return int(loopback.As4()[3]) }

func (c L3VPN) timers(b *strings.Builder) {
	fmt.Fprintf(b, " timer keepalive %d hold %d\n", c.BGPKeepalive, c.BGPHold)
}

// peBGP: IBGP VPNv4 to both RRs; the VPN instances import their direct
// routes and either their static routes or the CE's routes by EBGP.
func (c L3VPN) peBGP(b *strings.Builder, i int, vpnPorts []port) {
	fmt.Fprintf(b, "#\nbgp %d\n", AS)
	c.timers(b)
	for k := 1; k <= 2; k++ {
		fmt.Fprintf(b, " peer %s as-number %d\n peer %s connect-interface LoopBack0\n", rrLoopback(k), AS, rrLoopback(k))
	}
	b.WriteString(" #\n ipv4-family unicast\n  undo synchronization\n")
	for k := 1; k <= 2; k++ {
		fmt.Fprintf(b, "  undo peer %s enable\n", rrLoopback(k))
	}
	b.WriteString(" #\n ipv4-family vpnv4\n  policy vpn-target\n")
	for k := 1; k <= 2; k++ {
		fmt.Fprintf(b, "  peer %s enable\n", rrLoopback(k))
	}
	for v, p := range vpnPorts {
		fmt.Fprintf(b, " #\n ipv4-family vpn-instance %s\n  import-route direct\n", vpnName(v+1))
		if c.EBGP {
			fmt.Fprintf(b, "  peer %s as-number %d\n", p.peer, ceAS(c, i, v+1))
		} else {
			b.WriteString("  import-route static\n")
		}
	}
}

// rrBGP: the RR k reflects VPNv4 between all PEs (its clients) and peers
// with the other RR; it keeps every VPNv4 route (undo policy vpn-target).
func (c L3VPN) rrBGP(b *strings.Builder, k int) {
	other := rrLoopback(3 - k)
	fmt.Fprintf(b, "#\nbgp %d\n", AS)
	c.timers(b)
	fmt.Fprintf(b, " peer %s as-number %d\n peer %s connect-interface LoopBack0\n", other, AS, other)
	for i := 1; i <= c.PE; i++ {
		fmt.Fprintf(b, " peer %s as-number %d\n peer %s connect-interface LoopBack0\n", peLoopback(i), AS, peLoopback(i))
	}
	b.WriteString(" #\n ipv4-family unicast\n  undo synchronization\n")
	fmt.Fprintf(b, "  undo peer %s enable\n", other)
	for i := 1; i <= c.PE; i++ {
		fmt.Fprintf(b, "  undo peer %s enable\n", peLoopback(i))
	}
	b.WriteString(" #\n ipv4-family vpnv4\n  reflector cluster-id 10.255.3.254\n  undo policy vpn-target\n")
	fmt.Fprintf(b, "  peer %s enable\n", other)
	for i := 1; i <= c.PE; i++ {
		fmt.Fprintf(b, "  peer %s enable\n  peer %s reflect-client\n", peLoopback(i), peLoopback(i))
	}
}

// ceConfig: the CE's port towards its PE and its LAN; a default route to
// the PE, or EBGP with the PE advertising the LAN.
func (c L3VPN) ceConfig(i, v int, pePort port, s Site) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#\nsysname %s\n", s.CE)
	fmt.Fprintf(&b, "#\ninterface GigabitEthernet0/1/0\n undo shutdown\n ip address %s %s\n", pePort.peer, mask30)
	fmt.Fprintf(&b, "#\ninterface LoopBack1\n description site LAN\n ip address %s 255.255.255.0\n", s.Addr)
	if c.EBGP {
		fmt.Fprintf(&b, "#\nbgp %d\n", ceAS(c, i, v))
		c.timers(&b)
		fmt.Fprintf(&b, " peer %s as-number %d\n #\n ipv4-family unicast\n  undo synchronization\n", pePort.addr, AS)
		fmt.Fprintf(&b, "  network %s 255.255.255.0\n  peer %s enable\n", s.LAN.Addr(), pePort.addr)
	} else {
		fmt.Fprintf(&b, "#\nip route-static 0.0.0.0 0.0.0.0 %s\n", pePort.addr)
	}
	b.WriteString("#\nreturn\n")
	return b.String()
}
