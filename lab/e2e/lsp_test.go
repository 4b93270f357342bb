package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
)

// staticLSPRow is a row of display mpls static-lsp.
type staticLSPRow struct{ FEC, Labels, Ifs, Status string }

// staticLSPs parses display mpls static-lsp: name -> row, and checks that the
// header counts agree with the rows.
func staticLSPs(out string) (map[string]staticLSPRow, error) {
	rows := map[string]staticLSPRow{}
	var total, up, down, inTable = -1, -1, -1, false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[1] == ":" && f[3] == "STATIC" || len(f) == 5 && f[1] == ":" && f[3] == "STATIC":
			var n int
			fmt.Sscan(f[2], &n)
			switch f[0] {
			case "TOTAL":
				total = n
			case "UP":
				up = n
			case "DOWN":
				down = n
			}
		case len(f) > 0 && f[0] == "Name" && strings.HasPrefix(line, "Name"):
			inTable = true
		case inTable && len(f) == 5:
			rows[f[0]] = staticLSPRow{f[1], f[2], f[3], f[4]}
		case inTable && len(f) > 0:
			return nil, fmt.Errorf("unexpected row %q", line)
		}
	}
	if !inTable {
		return nil, fmt.Errorf("no table")
	}
	var u, d int
	for _, r := range rows {
		switch r.Status {
		case "Up":
			u++
		case "Down":
			d++
		}
	}
	if total != len(rows) || up != u || down != d {
		return nil, fmt.Errorf("header TOTAL %d UP %d DOWN %d, rows: %d, %d up, %d down", total, up, down, len(rows), u, d)
	}
	return rows, nil
}

// lspState matches display mpls static-lsp holding exactly the wanted rows.
func lspState(want map[string]staticLSPRow) labtest.Matcher {
	return labtest.MatchFunc(func(out string) error {
		got, err := staticLSPs(out)
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			return fmt.Errorf("%d LSPs, want %d", len(got), len(want))
		}
		for name, w := range want {
			g, ok := got[name]
			if !ok {
				return fmt.Errorf("no LSP %s", name)
			}
			if g != w {
				return fmt.Errorf("LSP %s: %+v, want %+v", name, g, w)
			}
		}
		return nil
	})
}

func TestStaticLSPParse(t *testing.T) {
	out := `TOTAL          : 2              STATIC LSP(S)
UP             : 1              STATIC LSP(S)
DOWN           : 1              STATIC LSP(S)
Name               FEC                I/O Label    I/O If                      Status
PE1-PE2            -/-                100/3        GigabitEthernet0/1/0/-      Down
PE2-PE1            -/-                101/201      GigabitEthernet0/2/0/GigabitEthernet0/1/0 Up
`
	got, err := staticLSPs(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]staticLSPRow{
		"PE1-PE2": {"-/-", "100/3", "GigabitEthernet0/1/0/-", "Down"},
		"PE2-PE1": {"-/-", "101/201", "GigabitEthernet0/2/0/GigabitEthernet0/1/0", "Up"},
	}
	if err := lspState(want).Match(out); err != nil {
		t.Errorf("%v: %+v", err, got)
	}
	if _, err := staticLSPs(strings.Replace(out, "UP             : 1", "UP             : 2", 1)); err == nil {
		t.Error("wrong header counts accepted")
	}
	if _, err := staticLSPs("Info: nothing\n"); err == nil {
		t.Error("output without a table accepted")
	}
}

// The labelled core of lab/core: PE1 GE0/3/0 (eth3) -- (eth1) GE0/1/0 P GE0/2/0
// (eth2) -- (eth3) GE0/3/0 PE2. Its startup.cfg files set up
//
//	PE1 -> PE2: PE1 pushes 100, P swaps 100 -> 200, PE2 pops 200
//	PE2 -> PE1: PE2 pushes 101, P swaps 101 -> 201, PE1 pops 201
const (
	pe1Lo, pe2Lo = "10.255.0.1", "10.255.0.3"
	pToPE1       = "198.51.100.2" // P's address towards PE1: the first tracert hop
	lspPE1toPE2  = "static-lsp transit PE1-PE2 incoming-interface GigabitEthernet0/1/0 in-label 100 nexthop 198.51.100.6 out-label "
)

// TestStaticLSPCore checks MPLS forwarding over static LSPs between the PE
// loopbacks of lab/core on frames captured on the links: the ingress pushes
// the configured label, P swaps it, pops it with implicit null (PHP) and
// swaps it to explicit null; the egress answers in every case; tracert lists
// every hop; display mpls static-lsp follows the ports.
func TestStaticLSPCore(t *testing.T) { runtimes(t, testStaticLSPCore) }

func testStaticLSPCore(t *testing.T, rt string) {
	l := upCopy(t, rt, "core", "core.clab.yml", "core", "PE1", "P", "PE2")
	nodeLSPs := map[string]map[string]staticLSPRow{
		"PE1": {
			"to-PE2":   {"10.255.0.3/32", "NULL/100", "-/GigabitEthernet0/3/0", "Up"},
			"from-PE2": {"-/-", "201/NULL", "GigabitEthernet0/3/0/-", "Up"},
		},
		"P": {
			"PE1-PE2": {"-/-", "100/200", "GigabitEthernet0/1/0/GigabitEthernet0/2/0", "Up"},
			"PE2-PE1": {"-/-", "101/201", "GigabitEthernet0/2/0/GigabitEthernet0/1/0", "Up"},
		},
		"PE2": {
			"to-PE1":   {"10.255.0.1/32", "NULL/101", "-/GigabitEthernet0/3/0", "Up"},
			"from-PE1": {"-/-", "200/NULL", "GigabitEthernet0/3/0/-", "Up"},
		},
	}
	for node, want := range nodeLSPs {
		l.WaitCLI(t, node, "display mpls static-lsp", lspState(want), 10*time.Second)
	}
	out := l.WaitCLI(t, "PE1", "display mpls lsp", labtest.Regexp(`(?m)^10\.255\.0\.3/32 +NULL/100 +-/GE0/3/0`), 5*time.Second)
	if !regexpMatch(`(?m)^-/- +201/NULL +GE0/3/0/-`, out) {
		t.Errorf("display mpls lsp on PE1 misses the egress LSP:\n%s", out)
	}

	// Each link is captured at its receiving end.
	pIn := startCapture(t, l, "P", "eth1")     // PE1 -> P
	pe2In := startCapture(t, l, "PE2", "eth3") // P -> PE2
	pBack := startCapture(t, l, "P", "eth2")   // PE2 -> P
	pe1In := startCapture(t, l, "PE1", "eth3") // P -> PE1
	request := icmpBetween(pe1Lo, pe2Lo, icmpEcho)
	reply := icmpBetween(pe2Lo, pe1Lo, icmpReply)
	labelled := func(match func(frame) bool, label uint32, ttl uint8) func(frame) bool {
		return func(f frame) bool {
			return match(f) && f.EtherType == etherMPLS && len(f.Labels) == 1 && f.Labels[0].Label == label && f.Labels[0].TTL == ttl
		}
	}
	plain := func(match func(frame) bool, ttl uint8) func(frame) bool {
		return func(f frame) bool { return match(f) && f.EtherType == etherIPv4 && f.IPTTL == ttl }
	}
	ping := "ping -c 3 -a " + pe1Lo + " " + pe2Lo
	resetAll := func() {
		for _, c := range []*capture{pIn, pe2In, pBack, pe1In} {
			c.reset()
		}
	}

	t.Run("swap", func(t *testing.T) {
		resetAll()
		// The router's own echo leaves with the IP TTL (255) copied into the
		// label; P decrements it as it swaps; the egress pops and answers,
		// and the reply takes the reverse LSP.
		pingOK(t, l, "PE1", ping, pe2Lo)
		pIn.wait(t, "echo requests labelled 100 ttl 255", 3, labelled(request, 100, 255), 2*time.Second)
		pe2In.wait(t, "echo requests labelled 200 ttl 254", 3, labelled(request, 200, 254), 2*time.Second)
		pBack.wait(t, "echo replies labelled 101", 3, labelled(reply, 101, 255), 2*time.Second)
		pe1In.wait(t, "echo replies labelled 201", 3, labelled(reply, 201, 254), 2*time.Second)
		// A capture on a node's own port sees what its forwarder sends, as
		// tcpdump on a router port would.
		pe1In.waitSent(t, "PE1's own echo requests leaving labelled 100", 3, labelled(request, 100, 255), 2*time.Second)
		if n := len(pe2In.match(plain(request, 254))); n != 0 {
			t.Errorf("%d echo requests reached PE2 unlabelled", n)
		}
		pingOK(t, l, "PE2", "ping -c 2 -a "+pe2Lo+" "+pe1Lo, pe1Lo)

		// tracert: the probe whose label TTL runs out at P gets a time
		// exceeded from P's port, quoting the received label stack (RFC
		// 4950), which P sends on along the LSP to PE2 (it knows no route
		// to the probe's source in general), and PE2 back along its own.
		resetAll()
		inP1, outP2 := p2In(t, l)
		tracertHops(t, l, "PE1", "tracert -a "+pe1Lo+" "+pe2Lo, pToPE1, pe2Lo)
		exceeded := func(label uint32) func(frame) bool {
			te := icmpBetween(pToPE1, pe1Lo, 11)
			return func(f frame) bool {
				return te(f) && len(f.Labels) == 1 && f.Labels[0].Label == label &&
					len(f.ICMPLabels) == 1 && f.ICMPLabels[0].Label == 100 && f.ICMPLabels[0].TTL == 1
			}
		}
		pe2In.wait(t, "time exceeded from P quoting label 100, labelled 200", 3, exceeded(200), 2*time.Second)
		pe1In.wait(t, "the same, labelled 201 on the way back", 3, exceeded(201), 2*time.Second)

		// The destination's answers (port unreachable) are not rate limited
		// per source: tracert run again and again still sees every hop.
		for i := 0; i < 3; i++ {
			tracertNow(t, l, "PE1", "tracert -a "+pe1Lo+" "+pe2Lo, pToPE1, pe2Lo)
		}

		// display interface counts what P forwarded: at least the tracert's
		// probes in on GE0/1/0 and out on GE0/2/0.
		inP2, outP3 := p2In(t, l)
		if inP2-inP1 < 6 || outP3-outP2 < 6 {
			t.Errorf("P counters: GigabitEthernet0/1/0 input +%d, GigabitEthernet0/2/0 output +%d, want at least 6 each", inP2-inP1, outP3-outP2)
		}
	})

	t.Run("php", func(t *testing.T) {
		// Implicit null from PE2: P pops, PE2 gets plain IPv4 whose TTL is
		// the label's, decremented.
		configure(t, l, "P", lspPE1toPE2+"3")
		l.WaitCLI(t, "P", "display mpls static-lsp", lspState(map[string]staticLSPRow{
			"PE1-PE2": {"-/-", "100/3", "GigabitEthernet0/1/0/GigabitEthernet0/2/0", "Up"},
			"PE2-PE1": nodeLSPs["P"]["PE2-PE1"],
		}), 10*time.Second)
		resetAll()
		pingOK(t, l, "PE1", ping, pe2Lo)
		pIn.wait(t, "echo requests labelled 100", 3, labelled(request, 100, 255), 2*time.Second)
		pe2In.wait(t, "unlabelled echo requests ttl 254", 3, plain(request, 254), 2*time.Second)
		if n := len(pe2In.match(func(f frame) bool { return request(f) && f.EtherType == etherMPLS })); n != 0 {
			t.Errorf("%d echo requests reached PE2 still labelled", n)
		}
		tracertHops(t, l, "PE1", "tracert -a "+pe1Lo+" "+pe2Lo, pToPE1, pe2Lo)
	})

	t.Run("explicit-null", func(t *testing.T) {
		// Explicit null: PE2 receives label 0 and still answers.
		configure(t, l, "P", lspPE1toPE2+"0")
		l.WaitCLI(t, "P", "display mpls static-lsp", lspState(map[string]staticLSPRow{
			"PE1-PE2": {"-/-", "100/0", "GigabitEthernet0/1/0/GigabitEthernet0/2/0", "Up"},
			"PE2-PE1": nodeLSPs["P"]["PE2-PE1"],
		}), 10*time.Second)
		resetAll()
		pingOK(t, l, "PE1", ping, pe2Lo)
		pIn.wait(t, "echo requests labelled 100", 3, labelled(request, 100, 255), 2*time.Second)
		pe2In.wait(t, "echo requests labelled 0 (explicit null) ttl 254", 3, labelled(request, 0, 254), 2*time.Second)
		tracertHops(t, l, "PE1", "tracert -a "+pe1Lo+" "+pe2Lo, pToPE1, pe2Lo)
	})

	t.Run("route-withdrawn", func(t *testing.T) {
		// An ingress LSP needs a route matching its destination: without
		// it the LSP is Down and PE1 has no way to PE2; with it back the
		// echoes are labelled again.
		const route = "ip route-static 10.255.0.3 255.255.255.255 198.51.100.2"
		configure(t, l, "PE1", "undo "+route)
		down := map[string]staticLSPRow{"to-PE2": nodeLSPs["PE1"]["to-PE2"], "from-PE2": nodeLSPs["PE1"]["from-PE2"]}
		down["to-PE2"] = staticLSPRow{"10.255.0.3/32", "NULL/100", "-/GigabitEthernet0/3/0", "Down"}
		l.WaitCLI(t, "PE1", "display mpls static-lsp", lspState(down), 10*time.Second)
		l.WaitCLI(t, "PE1", "display mpls lsp", labtest.MatchFunc(func(out string) error {
			if regexpMatch(`(?m)^10\.255\.0\.3/32 `, out) {
				return fmt.Errorf("the LSP to 10.255.0.3/32 is still listed")
			}
			return nil
		}), 5*time.Second)
		pingFails(t, l, "PE1", "ping -c 1 -t 300 -a "+pe1Lo+" "+pe2Lo)

		configure(t, l, "PE1", route)
		l.WaitCLI(t, "PE1", "display mpls static-lsp", lspState(nodeLSPs["PE1"]), 10*time.Second)
		resetAll()
		pingOK(t, l, "PE1", ping, pe2Lo)
		pIn.wait(t, "echo requests labelled 100", 3, labelled(request, 100, 255), 2*time.Second)
	})

	t.Run("port-down", func(t *testing.T) {
		// Shutting P's port towards PE2 takes down the LSPs through it on
		// P, and PE2's, whose link loses its carrier; undo brings them back.
		configure(t, l, "P", lspPE1toPE2+"200", "interface GigabitEthernet0/2/0", "shutdown")
		l.WaitCLI(t, "P", "display mpls static-lsp", lspState(map[string]staticLSPRow{
			"PE1-PE2": {"-/-", "100/200", "GigabitEthernet0/1/0/-", "Down"},
			"PE2-PE1": {"-/-", "101/201", "GigabitEthernet0/2/0/GigabitEthernet0/1/0", "Down"},
		}), 10*time.Second)
		l.WaitCLI(t, "PE2", "display mpls static-lsp", lspState(map[string]staticLSPRow{
			"to-PE1":   {"10.255.0.1/32", "NULL/101", "-/-", "Down"},
			"from-PE1": {"-/-", "200/NULL", "GigabitEthernet0/3/0/-", "Down"},
		}), 10*time.Second)
		// PE1's own port is still up: its LSPs stay Up, but nothing crosses.
		l.WaitCLI(t, "PE1", "display mpls static-lsp", lspState(nodeLSPs["PE1"]), 5*time.Second)
		pingFails(t, l, "PE1", "ping -c 1 -t 500 -a "+pe1Lo+" "+pe2Lo)

		configure(t, l, "P", "interface GigabitEthernet0/2/0", "undo shutdown")
		for node, want := range nodeLSPs {
			l.WaitCLI(t, node, "display mpls static-lsp", lspState(want), 10*time.Second)
		}
		resetAll()
		pingOK(t, l, "PE1", ping, pe2Lo)
		pe2In.wait(t, "echo requests labelled 200", 3, labelled(request, 200, 254), 2*time.Second)
	})
}

var inputPackets = regexp.MustCompile(`(?m)^\s+Input:\s+(\d+) packets`)
var outputPackets = regexp.MustCompile(`(?m)^\s+Output:\s+(\d+) packets`)

// ifPackets reads the input and output packet counters of a port from
// display interface.
func ifPackets(t testing.TB, l *labtest.Lab, node, port string) (in, out int) {
	t.Helper()
	text, err := l.CLI(node, "display interface "+port)
	mi, mo := inputPackets.FindStringSubmatch(text), outputPackets.FindStringSubmatch(text)
	if err != nil || mi == nil || mo == nil {
		t.Fatalf("%s display interface %s: %v\n%s", node, port, err, text)
	}
	in, _ = strconv.Atoi(mi[1])
	out, _ = strconv.Atoi(mo[1])
	return in, out
}

// p2In is P's input packets on its port from PE1 and output packets on its
// port to PE2.
func p2In(t testing.TB, l *labtest.Lab) (in, out int) {
	t.Helper()
	in, _ = ifPackets(t, l, "P", "GigabitEthernet0/1/0")
	_, out = ifPackets(t, l, "P", "GigabitEthernet0/2/0")
	return in, out
}
