package ops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"vpnos/cli"
	"vpnos/yang/datastore"
)

// vpnInstance is one `ip vpn-instance` as its display prints it.
type vpnInstance struct {
	Name, Description string
	ID                int // 1-based, in creation order
	IPv4              bool
	RD                string
	Export, Import    []string
	LabelPolicy       string // per-instance, per-nexthop, per-route
	StaticLabel       string // apply-label per-instance static L ("" none)
	ImportPolicy      string
	ExportPolicy      string
	TunnelPolicy      string
	Created           time.Time
}

var pathVPN = datastore.P("vpn-instances")

// vpnInstances reads the instances from the running configuration, in
// creation order.
func (o *ops) vpnInstances() []vpnInstance {
	run := o.store.Running()
	var out []vpnInstance
	for i, it := range run.Entries(pathVPN, "vpn-instance") {
		name := it.Path.Last().Keys[0]
		v := vpnInstance{Name: name, ID: i + 1}
		v.Description, _ = run.Get(it.Path.Child("description"))
		af := it.Path.Child("ipv4-family")
		if run.Exists(af) {
			v.IPv4 = true
			v.RD, _ = run.Get(af.Child("route-distinguisher"))
			v.LabelPolicy, _ = run.Get(af.Child("apply-label"))
			v.StaticLabel, _ = run.Get(af.Child("apply-label-static"))
			if v.LabelPolicy == "" {
				v.LabelPolicy = "per-instance"
			}
			v.ImportPolicy, _ = run.Get(af.Child("import-route-policy"))
			v.ExportPolicy, _ = run.Get(af.Child("export-route-policy").Child("name"))
			v.TunnelPolicy, _ = run.Get(af.Child("tnl-policy"))
			for _, rt := range run.Entries(af, "vpn-target") {
				k := rt.Path.Last().Keys
				if len(k) != 2 {
					continue
				}
				switch k[1] {
				case "export-extcommunity":
					v.Export = append(v.Export, k[0])
				case "import-extcommunity":
					v.Import = append(v.Import, k[0])
				}
			}
		}
		v.Created = o.created(it.Path)
		out = append(out, v)
	}
	return out
}

// created is the time of the latest commit that created the entry at p.
// When the commit log no longer reaches back that far, the oldest logged
// commit (the entry existed then) is used; with no log at all, now.
func (o *ops) created(p datastore.Path) time.Time {
	recs := o.store.Commits() // newest first
	for _, r := range recs {
		if r.Created(p) {
			return r.Time
		}
	}
	if len(recs) > 0 {
		return recs[len(recs)-1].Time
	}
	return o.d.Now()
}

func (o *ops) vpnInstanceCommands() []cli.Command {
	return []cli.Command{{
		Views:   "any",
		Syntax:  "display ip vpn-instance [verbose] [{name:vpn-name}]",
		Display: true,
		Help: map[string]string{
			"ip": "IP information", "vpn-instance": "VPN instance information",
			"verbose": "Detailed information", "name": "VPN instance name",
		},
		Run: o.runDisplayVPNInstance,
	}, {
		Views:   "any",
		Syntax:  "display ip vpn-instance {name:vpn-name} interface",
		Display: true,
		Help: map[string]string{
			"ip": "IP information", "vpn-instance": "VPN instance information",
			"name": "VPN instance name", "interface": "The interfaces bound to the instance",
		},
		Run: o.runDisplayVPNInstanceInterfaces,
	}}
}

// runDisplayVPNInstanceInterfaces lists the interfaces bound to one
// instance, continuation lines aligned under the first name.
func (o *ops) runDisplayVPNInstanceInterfaces(_ context.Context, a *cli.Args) (string, error) {
	name, _ := a.Value("name")
	all := o.vpnInstances()
	i, err := instanceIndex(all, name)
	if err != nil {
		return "", err
	}
	ifs := o.instanceInterfaces()[name]
	var b strings.Builder
	fmt.Fprintf(&b, " VPN-Instance Name and ID : %s, %d\n", name, all[i].ID)
	fmt.Fprintf(&b, "  Interface Number : %d\n", len(ifs))
	const lead = "  Interface list : "
	for j, f := range ifs {
		sep := ","
		if j == len(ifs)-1 {
			sep = ""
		}
		if j == 0 {
			b.WriteString(lead + f.Name + sep + "\n")
		} else {
			b.WriteString(strings.Repeat(" ", len(lead)) + f.Name + sep + "\n")
		}
	}
	return b.String(), nil
}

func (o *ops) runDisplayVPNInstance(ctx context.Context, a *cli.Args) (string, error) {
	all := o.vpnInstances()
	shown := all
	if name, ok := a.Value("name"); ok {
		i, err := instanceIndex(all, name)
		if err != nil {
			return "", err
		}
		shown = all[i : i+1]
	}
	var b strings.Builder
	ipv4 := 0
	for _, v := range all {
		if v.IPv4 {
			ipv4++
		}
	}
	// The totals describe the device: the verbose block of one named
	// instance goes without them, as on VRP.
	if _, one := a.Value("name"); !one || !a.Keyword("verbose") {
		fmt.Fprintf(&b, " Total VPN-Instances configured : %d\n", len(all))
		fmt.Fprintf(&b, " Total IPv4 VPN-Instances configured : %d\n", ipv4)
		b.WriteString(" Total IPv6 VPN-Instances configured : 0\n\n")
	}
	if !a.Keyword("verbose") {
		b.WriteString("  VPN-Instance Name               RD                             Address family\n")
		for _, v := range shown {
			af := ""
			if v.IPv4 {
				af = "IPv4"
			}
			b.WriteString(strings.TrimRight("  "+pad(v.Name, 32)+pad(v.RD, 31)+af, " ") + "\n")
		}
		return b.String(), nil
	}
	members := o.instanceInterfaces()
	now := o.d.Now()
	labels := o.instanceLabels(ctx)
	for i, v := range shown {
		if i > 0 {
			b.WriteString("\n")
		}
		o.renderVPNInstanceVerbose(&b, v, members[v.Name], now, labels)
	}
	return b.String(), nil
}

// instanceIndex finds the instance name in all (errNoInstance if absent).
func instanceIndex(all []vpnInstance, name string) (int, error) {
	i := slices.IndexFunc(all, func(v vpnInstance) bool { return v.Name == name })
	if i < 0 {
		return 0, errNoInstance
	}
	return i, nil
}

// instanceInterfaces maps each VPN instance to its interfaces (sorted) and
// whether any of them is up.
func (o *ops) instanceInterfaces() map[string][]ifView {
	m := map[string][]ifView{}
	for _, v := range o.interfaces() {
		if v.Instance != "" {
			m[v.Instance] = append(m[v.Instance], v)
		}
	}
	return m
}

// formatUptime prints "0 days, 00 hours, 50 minutes and 07 seconds".
func formatUptime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%d days, %02d hours, %02d minutes and %02d seconds", s/86400, s/3600%24, s/60%60, s%60)
}

// instanceLabels returns the per-instance label in use of each instance:
// the one BGP advertises the instance's routes with, else the one the
// instances' label participant holds.
func (o *ops) instanceLabels(ctx context.Context) func(string) (uint32, bool) {
	inUse := map[string]uint32{}
	if o.d.BGP != nil {
		if sum, err := o.d.BGP.Summary(ctx); err == nil {
			for _, in := range sum.Instances {
				if in.Label != 0 {
					inUse[in.Name] = in.Label
				}
			}
		}
	}
	return func(name string) (uint32, bool) {
		if l, ok := inUse[name]; ok {
			return l, true
		}
		if o.d.InstanceLabel != nil {
			return o.d.InstanceLabel(name)
		}
		return 0, false
	}
}

func (o *ops) renderVPNInstanceVerbose(b *strings.Builder, v vpnInstance, ifs []ifView, now time.Time, label func(string) (uint32, bool)) {
	fmt.Fprintf(b, " VPN-Instance Name and ID : %s, %d\n", v.Name, v.ID)
	if v.Description != "" {
		fmt.Fprintf(b, "  Description : %s\n", v.Description)
	}
	up := false
	for i, f := range ifs {
		up = up || f.ProtoUp
		sep := ","
		if i == len(ifs)-1 {
			sep = ""
		}
		if i == 0 {
			fmt.Fprintf(b, "  Interfaces : %s%s\n", f.Name, sep)
		} else {
			fmt.Fprintf(b, "               %s%s\n", f.Name, sep)
		}
	}
	if !v.IPv4 {
		return
	}
	b.WriteString(" Address family ipv4\n")
	fmt.Fprintf(b, "  Create date : %s\n", v.Created.Format("2006-01-02 15:04:05-07:00"))
	fmt.Fprintf(b, "  Up time : %s\n", formatUptime(now.Sub(v.Created)))
	status := "DOWN"
	if up {
		status = "UP"
	}
	fmt.Fprintf(b, "  Vrf Status : %s\n", status)
	fmt.Fprintf(b, "  Route Distinguisher : %s\n", v.RD)
	if len(v.Export) > 0 {
		fmt.Fprintf(b, "  Export VPN Targets :  %s\n", strings.Join(v.Export, " "))
	}
	if len(v.Import) > 0 {
		fmt.Fprintf(b, "  Import VPN Targets :  %s\n", strings.Join(v.Import, " "))
	}
	fmt.Fprintf(b, "  Label Policy : label %s\n", strings.ReplaceAll(v.LabelPolicy, "-", " "))
	switch {
	case v.LabelPolicy != "per-instance":
	case v.StaticLabel != "":
		fmt.Fprintf(b, "  Per-Instance Label : %s\n", v.StaticLabel)
	default:
		if l, ok := label(v.Name); ok {
			fmt.Fprintf(b, "  Per-Instance Label : %d\n", l)
		}
	}
	if v.ImportPolicy != "" {
		fmt.Fprintf(b, "  Import Route Policy : %s\n", v.ImportPolicy)
	}
	if v.ExportPolicy != "" {
		fmt.Fprintf(b, "  Export Route Policy : %s\n", v.ExportPolicy)
	}
	if v.TunnelPolicy != "" {
		fmt.Fprintf(b, "  Tunnel Policy : %s\n", v.TunnelPolicy)
	}
	b.WriteString("  The diffserv-mode Information is : uniform\n")
	b.WriteString("  The ttl-mode Information is : pipe\n")
}
