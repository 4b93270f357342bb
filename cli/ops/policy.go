package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"vpnos/cli"
	"vpnos/services/policy"
)

// Policies gives the applied routing policies (*policy.Owner implements
// it).
type Policies interface {
	Current() *policy.Set
}

var _ Policies = (*policy.Owner)(nil)

var (
	errNoPolicy     = errors.New("The route-policy does not exist")
	errNoPrefixList = errors.New("The IP prefix list does not exist")
)

// policyCommands: display route-policy, display ip ip-prefix.
func (o *ops) policyCommands() []cli.Command {
	if o.d.Policy == nil {
		return nil
	}
	return []cli.Command{
		{
			Views:   "any",
			Syntax:  "display route-policy [{name:word}]",
			Display: true,
			Help: map[string]string{
				"route-policy": "Route-policies", "name": "Route-policy name",
			},
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				name, given := a.Value("name")
				st := o.d.Policy.Current().PolicyState(name)
				if given && len(st) == 0 {
					return "", errNoPolicy
				}
				return RenderRoutePolicies(st), nil
			},
		},
		{
			Views:   "any",
			Syntax:  "display ip ip-prefix [{name:word}]",
			Display: true,
			Help: map[string]string{
				"ip": "IP information", "ip-prefix": "IPv4 prefix lists", "name": "IP prefix list name",
			},
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				name, given := a.Value("name")
				st := o.d.Policy.Current().PrefixListState(name)
				if given && len(st) == 0 {
					return "", errNoPrefixList
				}
				return RenderPrefixLists(st), nil
			},
		},
	}
}

// RenderRoutePolicies prints route-policies as VRP's display route-policy
// does: per policy its nodes in order, each with its mode, number and
// matched count, then its if-match and apply clauses.
func RenderRoutePolicies(ps []policy.PolicyState) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "Route-policy : %s\n", p.Name)
		for _, n := range p.Nodes {
			mode := "deny"
			if n.Permit {
				mode = "permit"
			}
			fmt.Fprintf(&b, "  %s : %d (matched counts: %d)\n", mode, n.Seq, n.Matched)
			if len(n.Match) > 0 {
				b.WriteString("    Match clauses :\n")
				for _, c := range n.Match {
					fmt.Fprintf(&b, "      %s\n", c)
				}
			}
			if len(n.Apply) > 0 {
				b.WriteString("    Apply clauses :\n")
				for _, c := range n.Apply {
					fmt.Fprintf(&b, "      %s\n", c)
				}
			}
		}
	}
	return b.String()
}

// RenderPrefixLists prints prefix lists as VRP's display ip ip-prefix
// does: per list its name, the routes it permitted and denied, and its
// entries by index with the network address and the length range.
func RenderPrefixLists(ls []policy.PrefixListState) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "Prefix-list %s\n", l.Name)
		fmt.Fprintf(&b, "Permitted %d\n", l.Permitted)
		fmt.Fprintf(&b, "Denied %d\n", l.Denied)
		for _, e := range l.Entries {
			mode := "deny"
			if e.Permit {
				mode = "permit"
			}
			line := fmt.Sprintf("        index: %-16d%-8s%s", e.Index, mode, e.Prefix.Masked())
			if e.GE >= 0 || e.LE >= 0 {
				lo, hi := e.Range()
				line = fmt.Sprintf("%-58sge %-4dle %d", line, lo, hi)
			}
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
