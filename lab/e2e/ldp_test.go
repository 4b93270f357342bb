package e2e

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// The LDP core of lab/ldp: PE1 and PE2 joined through P1 (the preferred
// path) and through P2 (a static route of preference 100 on each PE),
// every core interface with `mpls ldp`.
//
//	PE1 GE0/3/0 .1 -- .2 GE0/1/0 P1 GE0/2/0 .5 -- .6 GE0/3/0 PE2
//	PE1 GE0/4/0 .9 -- .10 GE0/1/0 P2 GE0/2/0 .13 -- .14 GE0/4/0 PE2
var ldpLoopbacks = map[string]string{"PE1": "10.255.0.1", "P1": "10.255.0.2", "PE2": "10.255.0.3", "P2": "10.255.0.4"}

// ldpNeighbours are the LDP peers of each node, one per core link.
var ldpNeighbours = map[string][]string{
	"PE1": {"10.255.0.2", "10.255.0.4"},
	"P1":  {"10.255.0.1", "10.255.0.3"},
	"P2":  {"10.255.0.1", "10.255.0.3"},
	"PE2": {"10.255.0.2", "10.255.0.4"},
}

var sessionRow = regexp.MustCompile(`(?m)^ (\d+\.\d+\.\d+\.\d+):0 +(\S+) +DU +(Active|Passive)`)

// sessionsOperational matches display mpls ldp session listing exactly
// the given peers, all Operational.
func sessionsOperational(peers ...string) labtest.Matcher {
	return labtest.MatchFunc(func(out string) error {
		var got []string
		for _, m := range sessionRow.FindAllStringSubmatch(out, -1) {
			if m[2] != "Operational" {
				return fmt.Errorf("session with %s is %s", m[1], m[2])
			}
			got = append(got, m[1])
		}
		sort.Strings(got)
		want := append([]string(nil), peers...)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			return fmt.Errorf("sessions with %v, want %v", got, want)
		}
		return nil
	})
}

// ingressLSP matches display mpls lsp protocol ldp with an ingress row for
// fec leaving through outIf (compact name), and returns the out-label in *label.
func ingressLSP(fec, outIf string, label *uint32) labtest.Matcher {
	row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(fec) + ` +NULL/(\d+) +-/` + regexp.QuoteMeta(outIf) + `\s*$`)
	return labtest.MatchFunc(func(out string) error {
		m := row.FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("no ingress LSP to %s through %s", fec, outIf)
		}
		n, _ := strconv.ParseUint(m[1], 10, 32)
		if label != nil {
			*label = uint32(n)
		}
		return nil
	})
}

// upLDPLab brings a copy of lab/ldp up on network namespaces (as vl-ldp,
// the prefix of the LDP tests) and waits until every node runs its
// startup.cfg.
func upLDPLab(t *testing.T) *labtest.Lab {
	t.Helper()
	needRoot(t)
	const name = "vl-ldp"
	labtest.CleanStale(t, name)
	topo, dir := labCopy(t, "ldp", "ldp.clab.yml", name, "")
	l := labtest.Up(t, topo, labtest.Options{Binary: bin, Runtime: runner.RuntimeNetns})
	waitStartupLoaded(t, l, dir, 20*time.Second, "PE1", "P1", "P2", "PE2")
	return l
}

// TestLDPCore runs LDP on lab/ldp: sessions on every core link, an LSP
// from each PE to the other PE's loopback (and to every loopback), the LDP
// label on the wire for loopback traffic with penultimate-hop popping before
// the egress, ping lsp and tracert lsp over the LSP, the LSP moving to the
// other path when the IGP route changes and back, and undo mpls ldp ending
// the sessions at once.
func TestLDPCore(t *testing.T) {
	l := upLDPLab(t)
	for node, peers := range ldpNeighbours {
		l.WaitCLI(t, node, "display mpls ldp session", sessionsOperational(peers...), 30*time.Second)
	}
	// Every router has an ingress LSP to every other loopback.
	for node, lo := range ldpLoopbacks {
		for other, olo := range ldpLoopbacks {
			if other == node {
				continue
			}
			l.WaitCLI(t, node, "display mpls lsp protocol ldp", labtest.Regexp(`(?m)^`+regexp.QuoteMeta(olo)+`/32 +NULL/\d+ +-/GE0/`), 15*time.Second)
		}
		// Its own loopback: the implicit-null egress row.
		l.WaitCLI(t, node, "display mpls lsp protocol ldp", labtest.Regexp(`(?m)^`+regexp.QuoteMeta(lo)+`/32 +3/NULL +-/-\s*$`), 5*time.Second)
	}
	var pe1ToPE2, pe2ToPE1 uint32
	l.WaitCLI(t, "PE1", "display mpls lsp protocol ldp", ingressLSP("10.255.0.3/32", "GE0/3/0", &pe1ToPE2), 5*time.Second)
	l.WaitCLI(t, "PE2", "display mpls lsp protocol ldp", ingressLSP("10.255.0.1/32", "GE0/3/0", &pe2ToPE1), 5*time.Second)
	if pe1ToPE2 < 16 || pe2ToPE1 < 16 {
		t.Fatalf("LDP labels %d and %d: P1 advertised implicit null for a remote FEC", pe1ToPE2, pe2ToPE1)
	}
	// P1's transit LSP pops towards PE2 (PE2 advertised implicit null).
	l.WaitCLI(t, "P1", "display mpls lsp protocol ldp", labtest.Regexp(fmt.Sprintf(`(?m)^10\.255\.0\.3/32 +%d/3 +-/GE0/2/0`, pe1ToPE2)), 5*time.Second)
	l.WaitCLI(t, "PE1", "display tunnel-info all", labtest.Regexp(`(?m)^0x\S+ +ldp +10\.255\.0\.3 +UP$`), 5*time.Second)

	p1In := startCapture(t, l, "P1", "eth1")   // PE1 -> P1
	pe2In := startCapture(t, l, "PE2", "eth3") // P1 -> PE2
	p2In := startCapture(t, l, "P2", "eth1")   // PE1 -> P2
	resetAll := func() {
		for _, c := range []*capture{p1In, pe2In, p2In} {
			c.reset()
		}
	}
	request := icmpBetween("10.255.0.1", "10.255.0.3", icmpEcho)
	labelled := func(match func(frame) bool, label uint32) func(frame) bool {
		return func(f frame) bool {
			return match(f) && f.EtherType == etherMPLS && len(f.Labels) == 1 && f.Labels[0].Label == label
		}
	}

	t.Run("labels-on-the-wire", func(t *testing.T) {
		resetAll()
		pingOK(t, l, "PE1", "ping -c 3 -a 10.255.0.1 10.255.0.3", "10.255.0.3")
		p1In.wait(t, fmt.Sprintf("echo requests labelled %d (P1's label for PE2)", pe1ToPE2), 3, labelled(request, pe1ToPE2), 2*time.Second)
		// Penultimate-hop popping: the last link carries no label.
		pe2In.wait(t, "echo requests unlabelled on the last link, TTL 254", 3, func(f frame) bool {
			return request(f) && f.EtherType == etherIPv4 && f.IPTTL == 254
		}, 2*time.Second)
		if n := len(pe2In.match(func(f frame) bool { return request(f) && f.EtherType == etherMPLS })); n != 0 {
			t.Errorf("%d echo requests reached PE2 labelled", n)
		}
		tracertHops(t, l, "PE1", "tracert -a 10.255.0.1 10.255.0.3", "198.51.100.2", "10.255.0.3")
	})

	t.Run("ping-lsp", func(t *testing.T) {
		resetAll()
		out := l.WaitCLI(t, "PE1", "ping lsp -c 3 ip 10.255.0.3 32", labtest.All(
			labtest.Regexp(`LSP PING FEC: IPV4 PREFIX 10\.255\.0\.3/32/ : 100  data bytes`),
			labtest.Regexp(`(?m)^    Reply from 10\.255\.0\.3: bytes=100 Sequence=3 time=\d+ ms$`),
			labtest.Regexp(`3 packet\(s\) received`)), 15*time.Second)
		// The requests took the LSP: UDP to 127.0.0.1:3503 under P1's label
		// with TTL 255, and left it before PE2 (PHP).
		echo := func(f frame) bool {
			return f.HasIP && f.Proto == 17 && f.DstPort == 3503 && f.Dst.String() == "127.0.0.1" && f.Src.String() == "10.255.0.1"
		}
		p1In.wait(t, "MPLS echo requests labelled with P1's label", 3, func(f frame) bool {
			return echo(f) && len(f.Labels) == 1 && f.Labels[0].Label == pe1ToPE2 && f.Labels[0].TTL == 255 && f.IPTTL == 1
		}, 2*time.Second)
		pe2In.wait(t, "MPLS echo requests unlabelled on the last link", 3, func(f frame) bool {
			return echo(f) && f.EtherType == etherIPv4
		}, 2*time.Second)
		if n := len(p2In.match(echo)); n != 0 {
			t.Errorf("%d echo requests took the other path:\n%s", n, out)
		}
		l.WaitCLI(t, "PE2", "ping lsp -c 2 ip 10.255.0.1 32", labtest.Regexp(`2 packet\(s\) received`), 15*time.Second)
		// With label TTL 1 the request ends at P1, which is no egress for
		// PE2's loopback: it answers "label switched", and nothing counts
		// as received.
		l.WaitCLI(t, "PE1", "ping lsp -c 1 -h 1 ip 10.255.0.3 32", labtest.All(
			labtest.Regexp(`Reply from 198\.51\.100\.2: Sequence=1 return code 8 \(Label switched\)`),
			labtest.Regexp(`0 packet\(s\) received`)), 15*time.Second)
		// No LDP LSP, no ping.
		if out, _ := l.CLI("PE1", "ping lsp ip 10.255.0.9 32"); !strings.Contains(out, "Error: The LDP LSP of FEC 10.255.0.9/32 does not exist.") {
			t.Errorf("ping lsp without an LSP:\n%s", out)
		}
		// tracert lsp: P1 switches the FEC to PE2 with implicit null, PE2
		// is the egress.
		l.WaitCLI(t, "PE1", "tracert lsp ip 10.255.0.3 32", labtest.All(
			labtest.Regexp(fmt.Sprintf(`(?m)^  0 +Ingress +198\.51\.100\.2/\[%d \]$`, pe1ToPE2)),
			labtest.Regexp(`(?m)^  1 +198\.51\.100\.2 +\d+ ms +Transit +198\.51\.100\.6/\[3 \]$`),
			labtest.Regexp(`(?m)^  2 +10\.255\.0\.3 +\d+ ms +Egress`)), 15*time.Second)
	})

	t.Run("lsp-follows-the-igp", func(t *testing.T) {
		// The IGP (static routes until OSPF runs here) moves PE1's route
		// to PE2 to P2 (the route through P1 goes, the one of preference
		// 100 through P2 takes over): the LSP moves with it, with P2's
		// label.
		const viaP1 = "ip route-static 10.255.0.3 255.255.255.255 198.51.100.2"
		configure(t, l, "PE1", "undo "+viaP1)
		var viaP2 uint32
		l.WaitCLI(t, "PE1", "display mpls lsp protocol ldp", ingressLSP("10.255.0.3/32", "GE0/4/0", &viaP2), 20*time.Second)
		resetAll()
		pingOK(t, l, "PE1", "ping -c 3 -a 10.255.0.1 10.255.0.3", "10.255.0.3")
		p2In.wait(t, fmt.Sprintf("echo requests labelled %d through P2", viaP2), 3, labelled(request, viaP2), 2*time.Second)
		if n := len(p1In.match(request)); n != 0 {
			t.Errorf("%d echo requests still went through P1", n)
		}
		l.WaitCLI(t, "PE1", "tracert lsp ip 10.255.0.3 32", labtest.Regexp(`(?m)^  1 +198\.51\.100\.10 +\d+ ms +Transit`), 15*time.Second)

		// The route comes back: so does the LSP, through P1.
		configure(t, l, "PE1", viaP1)
		l.WaitCLI(t, "PE1", "display mpls lsp protocol ldp", ingressLSP("10.255.0.3/32", "GE0/3/0", nil), 20*time.Second)
		resetAll()
		pingOK(t, l, "PE1", "ping -c 3 -a 10.255.0.1 10.255.0.3", "10.255.0.3")
		p1In.wait(t, "echo requests labelled through P1 again", 3, labelled(request, pe1ToPE2), 2*time.Second)

		// A port that goes down takes its sessions and LSPs with it: PE1
		// shuts its port to P1; the session with P1 ends, and so does the
		// LSP through it, and PE1 keeps its session with P2.
		configure(t, l, "PE1", "interface GigabitEthernet0/3/0", "shutdown")
		l.WaitCLI(t, "PE1", "display mpls ldp session", sessionsOperational("10.255.0.4"), 20*time.Second)
		l.WaitCLI(t, "PE1", "display mpls lsp protocol ldp", ingressLSP("10.255.0.3/32", "GE0/4/0", nil), 20*time.Second)
		configure(t, l, "PE1", "interface GigabitEthernet0/3/0", "undo shutdown")
		l.WaitCLI(t, "PE1", "display mpls ldp session", sessionsOperational("10.255.0.2", "10.255.0.4"), 30*time.Second)
		l.WaitCLI(t, "PE1", "display mpls lsp protocol ldp", ingressLSP("10.255.0.3/32", "GE0/3/0", nil), 20*time.Second)
	})

	t.Run("undo-mpls-ldp", func(t *testing.T) {
		// P2 stops LDP: it tells its peers (Shutdown), so their sessions
		// end at once, long before any hold timer would have.
		configure(t, l, "P2", "undo mpls ldp")
		for _, node := range []string{"PE1", "PE2"} {
			l.WaitCLI(t, node, "display mpls ldp session", labtest.MatchFunc(func(out string) error {
				for _, m := range sessionRow.FindAllStringSubmatch(out, -1) {
					if m[1] == "10.255.0.4" && m[2] == "Operational" {
						return fmt.Errorf("the session with P2 is still Operational")
					}
				}
				return nil
			}), 5*time.Second)
		}
		if out, _ := l.CLI("P2", "display mpls ldp session"); !strings.Contains(out, "Error: LDP is not enabled globally.") {
			t.Errorf("P2 without LDP:\n%s", out)
		}
		l.WaitCLI(t, "P2", "display mpls lsp", labtest.MatchFunc(func(out string) error {
			if strings.Contains(out, "LDP LSP") {
				return fmt.Errorf("P2 still has LDP LSPs")
			}
			return nil
		}), 5*time.Second)
		l.WaitCLI(t, "PE1", "display mpls ldp session", sessionsOperational("10.255.0.2"), 30*time.Second)
		l.WaitCLI(t, "PE1", "ping lsp -c 2 ip 10.255.0.3 32", labtest.Regexp(`2 packet\(s\) received`), 15*time.Second)
	})
}
