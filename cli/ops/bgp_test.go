package ops

import (
	"strings"
	"testing"
	"time"

	"vpnos/lab/golden"
)

var bgpEpoch = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// TestBGPTranscripts runs the BGP displays on one node of the reference
// network of real speakers (bgpsim_test.go): testdata/bgp/NAME.txt is the
// session on node NAME. "@bgp advance D" moves the network's clock, "@bgp
// cut LINK" drops a session.
func TestBGPTranscripts(t *testing.T) {
	golden.Files(t, "testdata/bgp/*.txt", func(t *testing.T, name, in string) string {
		ref := newRefNet(t, bgpEpoch)
		nodes := map[string]*bgpNode{"pe1": ref.pe1, "pe2": ref.pe2, "rr": ref.rr, "ce-b": ref.ceB}
		links := map[string]*bgpLink{"pe1rr": ref.pe1rr, "pe2rr": ref.pe2rr, "pe1ceA": ref.pe1ceA, "pe1ceB": ref.pe1ceB}
		node := nodes[name]
		if node == nil {
			t.Fatalf("no node %s", name)
		}
		w := newWorldWith(t, "two-stage", node)
		var out, chunk strings.Builder
		flush := func() {
			if chunk.Len() > 0 {
				out.WriteString(runTranscript(t, w, chunk.String()))
				chunk.Reset()
			}
		}
		for _, line := range strings.Split(strings.TrimRight(in, "\n"), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "@bgp" {
				chunk.WriteString(line + "\n")
				continue
			}
			flush()
			switch f[1] {
			case "advance":
				d, err := time.ParseDuration(f[2])
				if err != nil {
					t.Fatal(err)
				}
				ref.net.advance(d)
			case "cut":
				if links[f[2]] == nil {
					t.Fatalf("no link %s", f[2])
				}
				ref.net.cut(links[f[2]])
			default:
				t.Fatalf("unknown directive %q", line)
			}
			out.WriteString("--- " + strings.TrimPrefix(line, "@") + "\n")
		}
		flush()
		return out.String()
	})
}

// The label display ip vpn-instance verbose shows is the one BGP
// advertises the instance with, before the instances' own participant's.
func TestVPNInstanceLabelFromBGP(t *testing.T) {
	ref := newRefNet(t, bgpEpoch)
	for _, c := range []struct {
		node *bgpNode
		want string
	}{
		{ref.pe1, "  Per-Instance Label : 48000\n"}, // BGP's
		{nil, "  Per-Instance Label : 48120\n"},     // the participant's (fake: red has 48120)
	} {
		w := newWorldWith(t, "two-stage", c.node)
		out := runTranscript(t, w, "system-view\nip vpn-instance red\nipv4-family\nroute-distinguisher 10.255.0.1:1\ncommit\nreturn\ndisplay ip vpn-instance verbose red\n")
		if !strings.Contains(out, c.want) {
			t.Errorf("want %q in:\n%s", c.want, out)
		}
	}
}
