package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"vpnos/cli"
	"vpnos/services/diag"
	"vpnos/services/fibapi"
	"vpnos/services/ldp"
	"vpnos/services/rib"
	"vpnos/yang/datastore"
)

// ping lsp and tracert lsp: VRP's LSP ping and traceroute of an LDP LSP
// (ip DEST MASKLEN), through the services/diag tools.

const lspDest = "ip {dest:ip} {len:int<0-32>}"

var pingLSPOptions = []toolOpt{
	{kw: "-a", name: "src", ip: true, help: "Specify the source IP address", valHelp: "Source IP address, default the MPLS LSR ID"},
	{kw: "-c", name: "count", lo: 1, hi: 4294967295, help: "Specify the number of echo requests", valHelp: "Number of echo requests, default 5"},
	{kw: "-h", name: "ttl", lo: 1, hi: 255, help: "Specify the TTL of the label", valHelp: "TTL, default 255"},
	{kw: "-m", name: "interval", lo: 1, hi: 10000, help: "Specify the interval between requests", valHelp: "Interval in milliseconds, default 200"},
	{kw: "-s", name: "size", lo: 65, hi: 9600, help: "Specify the size of the echo message", valHelp: "Size in bytes, default 100"},
	{kw: "-t", name: "timeout", lo: 0, hi: 65535, help: "Specify the timeout for each reply", valHelp: "Timeout in milliseconds, default 2000"},
}

var tracertLSPOptions = []toolOpt{
	{kw: "-a", name: "src", ip: true, help: "Specify the source IP address", valHelp: "Source IP address, default the MPLS LSR ID"},
	{kw: "-h", name: "max", lo: 1, hi: 255, help: "Specify the maximum TTL", valHelp: "Maximum TTL, default 30"},
	{kw: "-t", name: "timeout", lo: 0, hi: 65535, help: "Specify the timeout for each reply", valHelp: "Timeout in milliseconds, default 2000"},
}

func lspHelp(m map[string]string, lspHelp string) map[string]string {
	m["lsp"] = lspHelp
	m["ip"] = "An LDP LSP to an IPv4 FEC"
	m["dest"] = "Destination address of the FEC"
	m["len"] = "Mask length of the FEC"
	return m
}

// lspRun is what both tools need: the FEC, its LDP LSP's first hop, the
// source address and the public instance's namespace.
type lspRun struct {
	vals   map[string]optVal
	fec    netip.Prefix
	hop    diag.LSPHop
	source netip.Addr
	ns     diag.NetNS
}

func (r lspRun) int(name string) int {
	n, _ := strconv.Atoi(r.vals[name].value)
	return n
}

// errNoLSPTool: the daemon gave no way to put packets on an LSP.
var errNoLSPTool = errors.New("The LSP tools are not available")

func (o *ops) lspArgs(ctx context.Context, a *cli.Args, opts []toolOpt) (lspRun, error) {
	var r lspRun
	var err error
	if o.d.LSP == nil {
		return r, errNoLSPTool
	}
	if r.vals, err = toolValues(a, opts); err != nil {
		return r, err
	}
	d, _ := a.Value("dest")
	addr, err := netip.ParseAddr(d)
	if err != nil || !addr.Is4() {
		return r, &cli.ArgError{Name: "dest"}
	}
	n, _ := strconv.Atoi(func() string { v, _ := a.Value("len"); return v }())
	r.fec = netip.PrefixFrom(addr, n).Masked()
	if s, ok := r.vals["src"]; ok {
		r.source, _ = netip.ParseAddr(s.value)
	} else if v, ok := o.store.Running().Get(datastore.P("mpls", "lsr-id")); ok {
		r.source, _ = netip.ParseAddr(v)
	}
	if !r.source.IsValid() {
		return r, errors.New("The MPLS LSR ID is not configured; give the source address with -a")
	}
	lsps, err := o.d.RIB.LSPs(ctx, rib.OwnerLDP)
	if err != nil {
		return r, ribError(err)
	}
	name := ldp.RIBName(rib.Ingress, r.fec)
	found := false
	for _, l := range lsps {
		if l.Name == name && l.Up && len(l.Hops) > 0 {
			h := l.Hops[0]
			kernel := o.d.VRF.State().Interfaces[h.Interface].Kernel
			r.hop = diag.LSPHop{Port: kernel, Interface: h.Interface, Gateway: h.Gateway, Labels: h.Labels}
			found = kernel != "" && h.Gateway.IsValid()
		}
	}
	if !found {
		return r, fmt.Errorf("The LDP LSP of FEC %s does not exist", r.fec)
	}
	r.ns = diag.NSFunc(func(fn func() error) error { return o.d.NS.Do(fibapi.Public, fn) })
	return r, nil
}

func (o *ops) runPingLSP(ctx context.Context, a *cli.Args, w io.Writer) error {
	r, err := o.lspArgs(ctx, a, pingLSPOptions)
	if err != nil {
		return err
	}
	opt := diag.LSPPingOptions{FEC: r.fec, Hop: r.hop, Source: r.source, Count: r.int("count"), TTL: r.int("ttl"),
		Size: r.int("size"), Interval: time.Duration(r.int("interval")) * time.Millisecond,
		Timeout: time.Duration(r.int("timeout")) * time.Millisecond}
	if _, err := o.tools.pingLSP(ctx, r.ns, o.d.LSP, opt, w); err != nil {
		return toolError(err, r.source)
	}
	return nil
}

func (o *ops) runTracertLSP(ctx context.Context, a *cli.Args, w io.Writer) error {
	r, err := o.lspArgs(ctx, a, tracertLSPOptions)
	if err != nil {
		return err
	}
	opt := diag.LSPTracertOptions{FEC: r.fec, Hop: r.hop, Source: r.source, MaxTTL: r.int("max"),
		Timeout: time.Duration(r.int("timeout")) * time.Millisecond}
	if _, err := o.tools.tracertLSP(ctx, r.ns, o.d.LSP, opt, w); err != nil {
		return toolError(err, r.source)
	}
	return nil
}
