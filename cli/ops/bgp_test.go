package ops

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"vpnos/lab/golden"
	"vpnos/services/bgp"
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

// BenchmarkBGPTableDisplay renders `display bgp routing-table` for a PE
// that learned 20,000 routes from a CE (import-route static), beside the reference measured in
// the same run: taking the speaker's snapshot of that table (what every
// display pays). The ratio says what the rendering adds.
func BenchmarkBGPTableDisplay(b *testing.B) {
	n := newBGPNet(b, bgpEpoch)
	pe := n.add("PE", bgp.Config{AS: 65000, RouterID: netip.MustParseAddr("10.255.0.1"),
		Peers: []bgp.Peer{{Addr: netip.MustParseAddr("192.0.2.2"), AS: 64501}}})
	c := bgp.Config{AS: 64501, RouterID: netip.MustParseAddr("192.0.2.2"), Peers: []bgp.Peer{{Addr: netip.MustParseAddr("192.0.2.1"), AS: 65000}},
		Unicast: bgp.UnicastAF{Imports: []bgp.ImportRoute{{Protocol: bgp.ProtoStatic}}}}
	var evs []bgp.Event
	for i := 0; i < 20000; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		evs = append(evs, bgp.RIBRoute{Instance: bgp.PublicInstance, Prefix: p, Protocol: bgp.ProtoStatic,
			NextHops: []bgp.NextHop{{Gateway: netip.MustParseAddr("192.0.2.9")}}})
	}
	ce := n.add("CE", c)
	n.deliver(ce, evs...)
	pe.reachable(bgp.PublicInstance, "192.0.2.2", 0, false)
	n.connect(n.link(ce, bgp.PublicInstance, "192.0.2.2", pe, bgp.PublicInstance, "192.0.2.1"))
	sum := pe.s.Summary()
	if got := len(pe.s.Routes(bgp.PublicInstance, netip.Prefix{})); got != 20000 {
		b.Fatalf("PE learned %d routes", got)
	}
	var snap, render time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		rs := pe.s.Routes(bgp.PublicInstance, netip.Prefix{})
		t1 := time.Now()
		out := RenderBGPTable(sum, rs)
		render += time.Since(t1)
		snap += t1.Sub(t0)
		if len(out) < 20000*70 {
			b.Fatalf("%d bytes rendered", len(out))
		}
	}
	b.ReportMetric(float64(render)/float64(snap), "render/snapshot")
	b.ReportMetric(float64(render.Nanoseconds())/float64(b.N)/20000, "ns/route-rendered")
}
