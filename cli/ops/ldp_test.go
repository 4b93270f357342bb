package ops

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"vpnos/lab/golden"
	"vpnos/services/ldp"
	"vpnos/services/ldp/packet"
)

// pe1LDP is PE1 of the reference's example network: LoopBack0 10.255.0.1,
// one session with P (10.255.0.2) over GE0/3/0, PE2 (10.255.0.3) behind P.
func pe1LDP() ldp.Snapshot {
	a := netip.MustParseAddr
	p := netip.MustParsePrefix
	pID := packet.LDPID{LSRID: a("10.255.0.2")}
	hop := func(out uint32) []ldp.HopState {
		return []ldp.HopState{{Hop: ldp.Hop{Gateway: a("198.51.100.2"), Interface: "eth3", Peer: a("10.255.0.2"), Out: out},
			VRPName: "GigabitEthernet0/3/0"}}
	}
	return ldp.Snapshot{
		Enabled: true, LSRID: a("10.255.0.1"),
		HelloHold: 15 * time.Second, KeepaliveHold: 45 * time.Second,
		Interfaces: []ldp.InterfaceState{{Name: "eth3", VRPName: "GigabitEthernet0/3/0", Up: true, Running: true,
			Address: a("198.51.100.1"), MTU: 1500, HelloHold: 15 * time.Second, HelloSend: 5 * time.Second,
			KeepaliveHold: 45 * time.Second, Adjacencies: 1, LSPs: 4}},
		Adjacencies: []ldp.AdjacencyState{{Peer: pID, Interface: "eth3", VRPName: "GigabitEthernet0/3/0",
			Source: a("198.51.100.2"), Transport: a("10.255.0.2"), Hold: 15 * time.Second, Remaining: 12 * time.Second,
			Age: 9 * time.Minute, HellosReceived: 107}},
		Sessions: []ldp.SessionState{{Peer: pID, Transport: a("10.255.0.2"), State: ldp.Operational,
			Age: 41 * time.Minute, KeepAliveSent: 247, KeepAliveReceived: 247, KeepaliveHold: 45 * time.Second,
			PeerKeepalive: 45, MaxPDU: 4096,
			Local: netip.MustParseAddrPort("10.255.0.1:646"), Remote: netip.MustParseAddrPort("10.255.0.2:51532"),
			Discovery: []string{"GigabitEthernet0/3/0"}, Addresses: []netip.Addr{a("10.255.0.2"), a("198.51.100.2"), a("198.51.100.5")},
			LabelsReceived: 3, LabelsSent: 3}},
		FECs: []ldp.FECState{
			{FEC: p("10.255.0.1/32"), Local: 3, Egress: true, Upstream: []netip.Addr{a("10.255.0.2")},
				Received: []ldp.Binding{{Peer: a("10.255.0.2"), Label: 48201}}},
			{FEC: p("10.255.0.2/32"), Local: 48061, Ingress: true, Upstream: []netip.Addr{a("10.255.0.2")}, NextHops: hop(3),
				Received: []ldp.Binding{{Peer: a("10.255.0.2"), Label: 3, InUse: true}}},
			{FEC: p("10.255.0.3/32"), Local: 48062, Ingress: true, Upstream: []netip.Addr{a("10.255.0.2")}, NextHops: hop(48202),
				Received: []ldp.Binding{{Peer: a("10.255.0.2"), Label: 48202, InUse: true}}},
		},
	}
}

func TestLDPRenderers(t *testing.T) {
	s := pe1LDP()
	for _, tc := range []struct {
		name string
		out  string
	}{
		{"ldp", RenderMPLSLDP(s)},
		{"ldp-session", RenderLDPSessions(s, false, netip.Addr{})},
		{"ldp-session-verbose", RenderLDPSessions(s, true, netip.Addr{})},
		{"ldp-session-other-peer", RenderLDPSessions(s, false, netip.MustParseAddr("10.255.0.9"))},
		{"ldp-peer", RenderLDPPeers(s)},
		{"ldp-adjacency", RenderLDPAdjacencies(s)},
		{"ldp-lsp", RenderLDPLSPs(s, netip.Prefix{})},
		{"ldp-lsp-one", RenderLDPLSPs(s, netip.MustParsePrefix("10.255.0.3/32"))},
		{"mpls-interface", RenderMPLSInterfaces(MPLSInterfacesFromLDP(s))},
		{"mpls-lsp", renderMPLSLSPBoth(s)},
	} {
		t.Run(tc.name, func(t *testing.T) { golden.Check(t, "testdata/"+tc.name+".golden", tc.out) })
	}
}

func renderMPLSLSPBoth(s ldp.Snapshot) string {
	sec := ldpLSPSection(s)
	return renderMPLSLSP(sec) + "\n" + renderMPLSLSPVerbose(sec)
}

// TestLDPLSPTableMatchesReference: the rows of display mpls ldp lsp for the
// reference's example are the reference's, character for character.
func TestLDPLSPTableMatchesReference(t *testing.T) {
	want := []string{
		" DestAddress/Mask   In/OutLabel    UpstreamPeer    NextHop          OutInterface",
		" 10.255.0.1/32      3/NULL         10.255.0.2      127.0.0.1        InLoop0",
		"*10.255.0.1/32      Liberal/48201                  DS/10.255.0.2",
		" 10.255.0.2/32      NULL/3         -               198.51.100.2     GE0/3/0",
		" 10.255.0.2/32      48061/3        10.255.0.2      198.51.100.2     GE0/3/0",
		" 10.255.0.3/32      NULL/48202     -               198.51.100.2     GE0/3/0",
		" 10.255.0.3/32      48062/48202    10.255.0.2      198.51.100.2     GE0/3/0",
		" TOTAL: 5 Normal LSP(s) Found.",
		" TOTAL: 1 Liberal LSP(s) Found.",
	}
	got := RenderLDPLSPs(pe1LDP(), netip.Prefix{})
	lines := strings.Split(got, "\n")
	i := 0
	for _, l := range lines {
		if i < len(want) && l == want[i] {
			i++
		}
	}
	if i != len(want) {
		t.Fatalf("line %q not found in order in:\n%s", want[i], got)
	}
	sess := RenderLDPSessions(pe1LDP(), false, netip.Addr{})
	if !strings.Contains(sess, "\n 10.255.0.2:0       Operational DU   Passive  0000:00:41  247/247\n") {
		t.Fatalf("session row:\n%s", sess)
	}
}
