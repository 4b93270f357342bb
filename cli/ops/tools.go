package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"vpnos/cli"
	"vpnos/services/diag"
)

// Options in any order. The template language has no "any order"
// construct: every accepted order would be one expansion of the template,
// and the engine matches each input line against every expansion of its
// view, so the permutations of tracert's six options (1957 expansions)
// would make every line, including each line of a startup replay, several
// times slower. Instead a tool is registered as
//
//	ping {host}
//	ping OPT {value} [{k2} {v2} [{k3} {v3} ...]] {host}
//	ping OPT {value} OPT {value} {host}
//
// where OPT are the option keywords (so '?' and Tab list them for the first
// two options) and k2/v2... are words that Run reads as further options, in
// any order, checking each keyword (unique prefixes, as the engine accepts)
// and value itself; an *cli.ArgError names the offending word, so the caret
// lands under it as for any wrong parameter.

// toolOpt is one option of ping or tracert.
type toolOpt struct {
	kw, name string // "-c", "count"
	ip       bool   // an IPv4 address
	word     bool   // any word (an instance name)
	lo, hi   uint64 // integer range otherwise
	help     string // the keyword's help
	valHelp  string // the value's help
}

func (t toolOpt) param() string {
	switch {
	case t.ip:
		return "{" + t.name + ":ip}"
	case t.word:
		return "{" + t.name + ":vpn-name}"
	}
	return fmt.Sprintf("{%s:int<%d-%d>}", t.name, t.lo, t.hi)
}

// check validates a value given in the free form and returns it normalised.
func (t toolOpt) check(v string) (string, bool) {
	switch {
	case t.ip:
		a, err := netip.ParseAddr(v)
		return a.String(), err == nil && a.Is4()
	case t.word:
		return v, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return strconv.FormatUint(n, 10), err == nil && n >= t.lo && n <= t.hi
}

var pingOptions = []toolOpt{
	{kw: "-a", name: "src", ip: true, help: "Specify the source IP address", valHelp: "Source IP address"},
	{kw: "-c", name: "count", lo: 1, hi: diag.MaxPingCount, help: "Specify the number of echo requests", valHelp: "Number of echo requests, default 5"},
	{kw: "-s", name: "size", lo: diag.MinPingSize, hi: diag.MaxPingSize, help: "Specify the size of the echo data", valHelp: "Data size in bytes, default 56"},
	{kw: "-t", name: "timeout", lo: 0, hi: 65535, help: "Specify the timeout for each reply", valHelp: "Timeout in milliseconds, default 2000"},
	{kw: "-vpn-instance", name: "vrf", word: true, help: "Specify a VPN instance", valHelp: "VPN instance name"},
}

var tracertOptions = []toolOpt{
	{kw: "-a", name: "src", ip: true, help: "Specify the source IP address", valHelp: "Source IP address"},
	{kw: "-f", name: "first", lo: 1, hi: diag.MaxTTL, help: "Specify the TTL of the first probe", valHelp: "First TTL, default 1"},
	{kw: "-m", name: "max", lo: 1, hi: diag.MaxTTL, help: "Specify the maximum TTL", valHelp: "Maximum TTL, default 30"},
	{kw: "-q", name: "probes", lo: 1, hi: diag.MaxProbes, help: "Specify the number of probes per hop", valHelp: "Probes per hop, default 3"},
	{kw: "-w", name: "wait", lo: 1, hi: 65535, help: "Specify the timeout for each probe", valHelp: "Timeout in milliseconds, default 5000"},
	{kw: "-vpn-instance", name: "vrf", word: true, help: "Specify a VPN instance", valHelp: "VPN instance name"},
}

// toolSyntax builds the template of a tool (see above).
func toolSyntax(tool string, opts []toolOpt) string {
	return toolSyntaxTo(tool, opts, "{host:ip}")
}

// toolSyntaxTo is toolSyntax with another destination than {host:ip}
// (ping lsp: "ip {dest:ip} {len:int<0-32>}").
func toolSyntaxTo(tool string, opts []toolOpt, host string) string {
	free := ""
	for i := len(opts); i >= 2; i-- {
		inner := free
		if inner != "" {
			inner = " " + inner
		}
		free = fmt.Sprintf("[{k%d:word} {v%d:word}%s]", i, i, inner)
	}
	alts := []string{host}
	for _, o := range opts {
		alts = append(alts, o.kw+" "+o.param()+" "+free+" "+host)
	}
	for _, o := range opts {
		for _, p := range opts {
			if p.kw != o.kw {
				alts = append(alts, o.kw+" "+o.param()+" "+p.kw+" "+p.param()+" "+host)
			}
		}
	}
	return tool + " ( " + strings.Join(alts, " | ") + " )"
}

func toolHelp(tool, help string, opts []toolOpt) map[string]string {
	kws := make([]string, len(opts))
	for i, o := range opts {
		kws[i] = o.kw
	}
	m := map[string]string{tool: help, "host": "IP address of the destination"}
	for _, o := range opts {
		m[o.kw] = o.help
		m[o.name] = o.valHelp
	}
	for i := 2; i <= len(opts); i++ {
		m[fmt.Sprintf("k%d", i)] = "Another option: " + strings.Join(kws, " ")
		m[fmt.Sprintf("v%d", i)] = "The value of the option"
	}
	return m
}

// optVal is a given option: its value and the parameter to blame for it.
type optVal struct{ value, arg string }

// toolValues collects the options of a matched ping or tracert line by
// name, checking the free-form ones.
func toolValues(a *cli.Args, opts []toolOpt) (map[string]optVal, error) {
	vals := map[string]optVal{}
	for _, o := range opts {
		if v, ok := a.Value(o.name); ok {
			vals[o.name] = optVal{v, o.name}
		}
	}
	for i := 2; i <= len(opts); i++ {
		kArg, vArg := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		k, ok := a.Value(kArg)
		if !ok {
			break
		}
		v, _ := a.Value(vArg)
		var found *toolOpt
		low := strings.ToLower(k)
		for j := range opts {
			if opts[j].kw == low {
				found = &opts[j]
				break
			}
			if strings.HasPrefix(opts[j].kw, low) && len(low) > 1 {
				if found != nil {
					return nil, &cli.ArgError{Name: kArg} // ambiguous
				}
				found = &opts[j]
			}
		}
		if found == nil {
			return nil, &cli.ArgError{Name: kArg}
		}
		if _, dup := vals[found.name]; dup {
			return nil, &cli.ArgError{Name: kArg}
		}
		norm, ok := found.check(v)
		if !ok {
			return nil, &cli.ArgError{Name: vArg}
		}
		vals[found.name] = optVal{norm, vArg}
	}
	return vals, nil
}

func (o *ops) toolCommands() []cli.Command {
	return []cli.Command{
		{
			Views:  "any",
			Syntax: toolSyntax("ping", pingOptions),
			Help:   toolHelp("ping", "Ping function", pingOptions),
			Stream: o.runPing,
		},
		{
			Views:  "any",
			Syntax: toolSyntax("tracert", tracertOptions),
			Help:   toolHelp("tracert", "Trace the route to a host", tracertOptions),
			Stream: o.runTracert,
		},
		{
			Views:  "any",
			Syntax: toolSyntaxTo("ping lsp", pingLSPOptions, lspDest),
			Help:   lspHelp(toolHelp("ping", "Ping function", pingLSPOptions), "Ping an LSP (MPLS echo request)"),
			Stream: o.runPingLSP,
		},
		{
			Views:  "any",
			Syntax: toolSyntaxTo("tracert lsp", tracertLSPOptions, lspDest),
			Help:   lspHelp(toolHelp("tracert", "Trace the route to a host", tracertLSPOptions), "Trace an LSP (MPLS echo request)"),
			Stream: o.runTracertLSP,
		},
	}
}

// toolArgs are the arguments ping and tracert share.
type toolArgs struct {
	vals     map[string]optVal
	instance string
	dest     netip.Addr
	source   netip.Addr
	ns       diag.NetNS
}

func (t toolArgs) int(name string) int {
	n, _ := strconv.Atoi(t.vals[name].value)
	return n
}

// commonArgs reads the options and resolves the instance, the destination
// and the source: -a if given, else the address that the RIB's route
// towards the destination leaves from (when the RIB has no route, the
// instance's kernel chooses).
func (o *ops) commonArgs(ctx context.Context, a *cli.Args, opts []toolOpt) (toolArgs, error) {
	t := toolArgs{}
	var err error
	if t.vals, err = toolValues(a, opts); err != nil {
		return t, err
	}
	if t.instance, err = o.instance(t.vals["vrf"].value); err != nil {
		return t, err
	}
	h, _ := a.Value("host")
	if t.dest, err = netip.ParseAddr(h); err != nil || !t.dest.Is4() {
		return t, &cli.ArgError{Name: "host"}
	}
	if s, ok := t.vals["src"]; ok {
		src, err := netip.ParseAddr(s.value)
		if err != nil || !src.Is4() || src.IsUnspecified() || src.IsMulticast() || src == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return t, &cli.ArgError{Name: s.arg}
		}
		t.source = src
	} else if res, ok, err := o.d.RIB.Lookup(ctx, t.instance, t.dest); err == nil && ok && res.Source.IsValid() {
		t.source = res.Source
	}
	inst := t.instance
	t.ns = diag.NSFunc(func(fn func() error) error { return o.d.NS.Do(inst, fn) })
	return t, nil
}

// toolError words the errors of a run that could not start.
func toolError(err error, src netip.Addr) error {
	switch {
	case errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, unix.EADDRNOTAVAIL) && src.IsValid():
		return fmt.Errorf("The source address %s is not a local address of the VPN instance", src)
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return errors.New("The source address is not a local address of the VPN instance")
	}
	msg := err.Error()
	for _, p := range []string{"ping lsp: ", "tracert lsp: ", "ping: ", "tracert: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return errors.New(msg)
}

// runPing prints each reply as it comes; an interrupt (ctx) stops it and
// the statistics are still printed.
func (o *ops) runPing(ctx context.Context, a *cli.Args, w io.Writer) error {
	t, err := o.commonArgs(ctx, a, pingOptions)
	if err != nil {
		return err
	}
	opt := diag.PingOptions{
		Dest: t.dest, Source: t.source, Count: t.int("count"), Size: t.int("size"),
		Timeout: time.Duration(t.int("timeout")) * time.Millisecond,
	}
	if _, err := o.tools.ping(ctx, t.ns, opt, w); err != nil {
		o.d.Log.Debug("ping failed", "instance", t.instance, "dest", t.dest, "err", err)
		return toolError(err, t.source)
	}
	return nil
}

// runTracert prints each hop as it is found.
func (o *ops) runTracert(ctx context.Context, a *cli.Args, w io.Writer) error {
	t, err := o.commonArgs(ctx, a, tracertOptions)
	if err != nil {
		return err
	}
	opt := diag.TracertOptions{
		Dest: t.dest, Source: t.source, FirstTTL: t.int("first"), MaxTTL: t.int("max"),
		Probes: t.int("probes"), Timeout: time.Duration(t.int("wait")) * time.Millisecond,
	}
	if f, ok := t.vals["first"]; ok {
		max := opt.MaxTTL
		if max == 0 {
			max = diag.DefaultMaxTTL
		}
		if opt.FirstTTL > max {
			return &cli.ArgError{Name: f.arg}
		}
	}
	if _, err := o.tools.tracert(ctx, t.ns, opt, w); err != nil {
		o.d.Log.Debug("tracert failed", "instance", t.instance, "dest", t.dest, "err", err)
		return toolError(err, t.source)
	}
	return nil
}
