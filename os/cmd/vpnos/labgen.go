package main

import (
	"flag"
	"fmt"
	"io"

	"vpnos/lab/gen"
)

const labGenerateUsage = `usage: vpnos lab generate l3vpn [flags] DIR

Writes a BGP/MPLS IP VPN lab into DIR: DIR/NAME.clab.yml and DIR/NODE/startup.cfg
for every node (see lab/README.md, "Generated L3VPN labs"). A ring of P routers,
PEs attached around it, two route reflectors (one cluster), a CE per VPN per PE;
OSPF and LDP in the core, IBGP VPNv4 between the PEs and the reflectors.

flags:
  --name NAME    lab name (default l3vpn-gen)
  --nodes N      about N nodes in all: N/16 P routers (at least 3), 2 RRs, and
                 as many PEs with their CEs as fill the rest (200: 12 P, 62 PE,
                 124 CE); overrides --p and --pe
  --p N          P routers in the ring (default 3)
  --pe N         PEs (default 3)
  --vpns N       VPNs, one CE each on every PE (default 2)
  --ebgp         PE-CE routing by EBGP (default: static routes)
`

func cmdLabGenerate(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "l3vpn" {
		fmt.Fprint(stderr, labGenerateUsage)
		return 2
	}
	fs := flag.NewFlagSet("lab generate l3vpn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, labGenerateUsage) }
	c := gen.L3VPN{}
	fs.StringVar(&c.Name, "name", "l3vpn-gen", "lab name")
	nodes := fs.Int("nodes", 0, "about N nodes in all")
	fs.IntVar(&c.P, "p", 3, "P routers")
	fs.IntVar(&c.PE, "pe", 3, "PEs")
	fs.IntVar(&c.VPNs, "vpns", 2, "VPNs")
	fs.BoolVar(&c.EBGP, "ebgp", false, "PE-CE by EBGP")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "vpnos lab generate l3vpn: which folder?")
		return 2
	}
	if *nodes > 0 {
		n := gen.ForNodes(c.Name, *nodes, c.VPNs)
		c.P, c.PE = n.P, n.PE
	}
	lab, err := c.Generate()
	if err != nil {
		fmt.Fprintf(stderr, "vpnos lab generate l3vpn: %v\n", err)
		return 1
	}
	file, err := lab.Write(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "vpnos lab generate l3vpn: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d nodes (%d P, %d PE, 2 RR, %d CE in %d VPNs)\nbring it up: vpnos lab up %s\n",
		file, c.Nodes(), c.P, c.PE, c.PE*c.VPNs, c.VPNs, file)
	return 0
}
