package cli

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"vpnos/cli/proto"
)

// randomLines produces a random mix of configuration lines, many valid and
// some not (the engine refuses those).
func randomLines(rng *rand.Rand) []string {
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	vrfs := []string{"red", "blue", "green", "Cust_A"}
	var out []string
	out = append(out, "system-view")
	if rng.Intn(2) == 0 {
		out = append(out, "sysname "+pick("PE1", "P", "edge router 7"))
	}
	if rng.Intn(2) == 0 {
		out = append(out, "mpls lsr-id 10.255.0."+fmt.Sprint(1+rng.Intn(3)), "mpls", "label advertise "+pick("explicit-null", "implicit-null", "non-null"), "quit")
		if rng.Intn(2) == 0 {
			out = append(out, "mpls ldp", pick("lsp-trigger all", "lsp-trigger host", "quit"))
		}
	}
	for i := 0; i < rng.Intn(5); i++ {
		v := pick(vrfs...)
		out = append(out, "ip vpn-instance "+v)
		if rng.Intn(3) > 0 {
			out = append(out, " description "+pick("VPN of customer A", "x"))
		}
		out = append(out, " ipv4-family")
		if rng.Intn(4) > 0 {
			out = append(out, fmt.Sprintf("  route-distinguisher %d:%d", 65000, rng.Intn(5)))
		}
		for j := 0; j < rng.Intn(4); j++ {
			out = append(out, fmt.Sprintf("  vpn-target %d:%d %s", 65000, rng.Intn(4), pick("", "both", "export-extcommunity", "import-extcommunity", "e", "i")))
		}
		if rng.Intn(3) == 0 {
			out = append(out, "  apply-label "+pick("per-instance", "per-route", "per-nexthop"))
		}
		if rng.Intn(3) == 0 {
			out = append(out, "  export route-policy P"+fmt.Sprint(rng.Intn(3))+pick("", " add-ert-first"))
		}
		if rng.Intn(3) == 0 {
			out = append(out, "  import route-policy I1", "  tnl-policy TP")
		}
		if rng.Intn(4) == 0 {
			out = append(out, "  undo vpn-target all")
		}
	}
	for i := 0; i < rng.Intn(6); i++ {
		ifn := pick("GigabitEthernet0/1/0", "g0/2/0", "interface gigabitethernet 0/3/0", "LoopBack0", "loopback 1", "lo2")
		if !strings.HasPrefix(ifn, "interface") {
			ifn = pick("interface ", "int ") + ifn
		}
		out = append(out, ifn)
		for j := 0; j < rng.Intn(5); j++ {
			out = append(out, " "+pick(
				"undo shutdown", "shutdown", "description link "+fmt.Sprint(rng.Intn(9)),
				"ip binding vpn-instance "+pick(vrfs...),
				fmt.Sprintf("ip address 10.%d.%d.1 %s", rng.Intn(3), rng.Intn(3), pick("30", "24", "255.255.255.252", "32")),
				fmt.Sprintf("ip address 10.9.%d.1 30 sub", rng.Intn(3)),
				"mpls", "mpls ldp", "undo mpls", "undo ip address", "undo description"))
		}
	}
	for i := 0; i < rng.Intn(4); i++ {
		out = append(out, pick(
			fmt.Sprintf("ip route-static 172.16.%d.0 24 10.0.0.%d", rng.Intn(4), 2+rng.Intn(3)),
			fmt.Sprintf("ip route-static 0.0.0.0 0 GigabitEthernet0/1/0 10.0.0.%d preference %d", 2+rng.Intn(3), 1+rng.Intn(255)),
			fmt.Sprintf("ip route-static vpn-instance %s 172.17.%d.0 255.255.255.0 192.0.2.2 tag 5 description d%d", pick(vrfs...), rng.Intn(4), rng.Intn(3)),
		))
	}
	for i := 0; i < rng.Intn(3); i++ {
		out = append(out, pick(
			fmt.Sprintf("static-lsp ingress L%d destination 10.255.0.%d 32 nexthop 10.0.0.2 out-label %d", rng.Intn(3), rng.Intn(9), 16+rng.Intn(100)),
			fmt.Sprintf("static-lsp transit T%d incoming-interface g0/1/0 in-label %d nexthop 10.0.0.2 out-label 3", rng.Intn(3), 16+rng.Intn(100)),
			fmt.Sprintf("static-lsp egress E%d in-label %d", rng.Intn(3), 16+rng.Intn(100)),
		))
	}
	for i := 0; i < rng.Intn(6); i++ {
		out = append(out, pick(
			fmt.Sprintf("ip ip-prefix %s %s %s 10.%d.0.0 16%s", pick("p1", "p2"), pick("", "index 5", "index 40"), pick("permit", "deny"), rng.Intn(3),
				pick("", " greater-equal 20", " less-equal 24", " greater-equal 18 less-equal 30", " greater-equal 8")),
			fmt.Sprintf("ip community-filter %s %s 65000:%d%s", pick("1", "basic cust"), pick("permit", "deny"), rng.Intn(3), pick("", " no-export", " internet 1:1")),
			fmt.Sprintf("ip extcommunity-filter %s permit rt 65000:%d%s", pick("7", "basic hub"), rng.Intn(3), pick("", " rt 10.0.0.1:2", " rt 4200000000:1")),
			fmt.Sprintf("ip as-path-filter %s %s %s", pick("1", "edge"), pick("permit", "deny"), pick("^65001_", "_6450[0-9]$", ".*", "^(1|2)_3 {")),
			"undo ip ip-prefix p1", "undo ip community-filter 1",
		))
	}
	for i := 0; i < rng.Intn(3); i++ {
		out = append(out, fmt.Sprintf("route-policy %s %s node %d", pick("rp", "to-ce"), pick("permit", "deny"), 10*rng.Intn(4)))
		for j := 0; j < rng.Intn(6); j++ {
			out = append(out, " "+pick(
				"if-match ip-prefix p1", "if-match community-filter 1 whole-match", "if-match community-filter cust",
				"if-match extcommunity-filter hub", "if-match as-path-filter edge", fmt.Sprintf("if-match cost %d", rng.Intn(50)),
				fmt.Sprintf("apply local-preference %d", rng.Intn(500)), fmt.Sprintf("apply cost %d", rng.Intn(50)),
				"apply community 65000:1 no-advertise additive", "apply community none", "apply community 1:1 2:2",
				"apply extcommunity rt 65000:1 rt 65000:2 additive", "apply extcommunity rt 1:1",
				"apply preferred-value 7", "apply as-path 65000 65000 additive", "apply as-path 1.5",
				"undo apply community", "undo if-match ip-prefix"))
		}
		out = append(out, "quit")
	}
	out = append(out, "commit")
	return out
}

// TestRenderReplayRoundTrip: rendering running and replaying the text into
// a fresh engine gives the same tree; and a refused line never changes the
// candidate.
func TestRenderReplayRoundTrip(t *testing.T) {
	ctx := context.Background()
	nonEmpty := 0
	for seed := int64(0); seed < 150; seed++ {
		rng := rand.New(rand.NewSource(seed))
		mode := "two-stage"
		if seed%5 == 0 {
			mode = "immediate"
		}
		a := testEngine(t, mode)
		sm, _ := a.Open(ctx, proto.Request{User: "prop"})
		s := sm.(*session)
		for _, l := range randomLines(rng) {
			before := s.cand.Tree().Clone()
			resp := s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: l})
			if resp.Failed && !strings.HasPrefix(l, "commit") && !s.cand.Tree().Equal(before) {
				t.Fatalf("seed %d: refused line %q changed the candidate:\n%s", seed, l, resp.Output)
			}
			if resp.Failed && strings.HasPrefix(l, "commit") {
				t.Logf("seed %d: commit refused: %s", seed, resp.Output)
			}
		}
		text := a.CurrentConfig()
		if a.store.Running().Len() > 0 {
			nonEmpty++
		}
		b := testEngine(t, "two-stage")
		errs, err := b.Replay(ctx, text)
		if err != nil || len(errs) > 0 {
			t.Fatalf("seed %d: replay: %v %+v\n%s", seed, err, errs, text)
		}
		if !a.store.Running().Equal(b.store.Running()) {
			t.Fatalf("seed %d: replayed tree differs\nA:\n%s\nB:\n%s", seed, text, b.CurrentConfig())
		}
		if body(text) != body(b.CurrentConfig()) {
			t.Fatalf("seed %d: replayed text differs (order?)\nA:\n%s\nB:\n%s", seed, text, b.CurrentConfig())
		}
	}
	if nonEmpty < 100 {
		t.Fatalf("only %d of 150 random configurations were non-empty", nonEmpty)
	}
}

func TestReplayReportsBadLines(t *testing.T) {
	ctx := context.Background()
	e := testEngine(t, "two-stage")
	text := strings.Join([]string{
		"#",
		"sysname PE1",
		"#",
		"ip vpn-instance red",
		" ipv4-family",
		"  route-distinguisher 10.255.0.1:1",
		"  vpn-target 65000:100 export-extcommunity",
		"  vpn-targt 65000:100 import-extcommunity",
		"#",
		"interface GigabitEthernet0/1/0",
		" ip binding vpn-instance red",
		" ip address 192.0.2.1 255.255.255.300",
		" ip address 192.0.2.1 255.255.255.252",
		"#",
		"interface MEth0/0/0",
		" description the management port",
		"#",
		"garbage line here",
		"return",
	}, "\n")
	errs, err := e.Replay(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, le := range errs {
		got = append(got, le.Line)
	}
	if fmt.Sprint(got) != "[8 12 15 16 18]" {
		t.Fatalf("bad lines %v: %+v", got, errs)
	}
	want := strings.Join([]string{
		"#", "sysname PE1", "#", "ip vpn-instance red", " ipv4-family", "  route-distinguisher 10.255.0.1:1",
		"  apply-label per-instance", "  vpn-target 65000:100 export-extcommunity", "#",
		"interface GigabitEthernet0/1/0", " ip binding vpn-instance red", " ip address 192.0.2.1 255.255.255.252", "#", "return", "",
	}, "\n")
	got2 := e.CurrentConfig()
	if i := strings.Index(got2, "#"); i < 0 || got2[i:] != want {
		t.Fatalf("loaded configuration:\n%s", got2)
	}
	if c := e.store.Commits(); len(c) != 1 || c[0].User != "startup" {
		t.Fatalf("want one startup commit, got %+v", c)
	}
}

func TestReplayFallsBackLineByLine(t *testing.T) {
	// The candidate as a whole is invalid (the /32 on a port is caught at
	// line time, but a duplicate in-label only across lines of static LSPs
	// of different kinds); valid lines still load.
	ctx := context.Background()
	e := testEngine(t, "two-stage")
	text := "mpls lsr-id 1.1.1.1\nmpls\n#\nstatic-lsp egress E1 in-label 100\nstatic-lsp transit T1 in-label 100 nexthop 10.0.0.2 out-label 3\n"
	errs, _ := e.Replay(ctx, text)
	if len(errs) != 1 || errs[0].Line != 5 {
		t.Fatalf("errors %+v", errs)
	}
	if !strings.Contains(e.CurrentConfig(), "static-lsp egress E1 in-label 100") {
		t.Fatalf("valid lines not loaded:\n%s", e.CurrentConfig())
	}
}

// FuzzExec: no input line crashes the engine, and a refused line leaves
// the candidate as it was.
func FuzzExec(f *testing.F) {
	for _, s := range []string{"interface g0/1/0", "ip address 1.1.1.1 33", "ip vpn-instance x", "vpn-target 1:1 both", "dis cur | inc (", "undo ip route-static 1.1.1.0 24", "static-lsp transit t in-label 20 nexthop 1.1.1.1 out-label 3", "?", "display current-configuration configuration interface",
		"ip ip-prefix p permit 10.0.0.0 8 greater-equal 16 less-equal 24", "ip extcommunity-filter 1 permit rt 1:1 rt 2:2",
		"route-policy rp permit node 10", "apply community 1:1 no-export additive", "ip as-path-filter 1 permit ^1_(2|3)$"} {
		f.Add(s)
	}
	e := testEngine(f, "two-stage")
	f.Fuzz(func(t *testing.T, line string) {
		ctx := context.Background()
		sm, _ := e.Open(ctx, proto.Request{User: "fuzz"})
		s := sm.(*session)
		s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: "system-view"})
		s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: "interface LoopBack0"})
		before := s.cand.Tree().Clone()
		resp := s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: line})
		if resp.Failed && !s.cand.Tree().Equal(before) {
			t.Fatalf("refused line %q changed the candidate", line)
		}
		s.Handle(ctx, proto.Request{Op: proto.OpHelp, Line: line})
		s.Handle(ctx, proto.Request{Op: proto.OpComplete, Line: line})
	})
}

// body drops the header lines (version, update time).
func body(cfg string) string {
	var keep []string
	for _, l := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(l, "!") || strings.HasPrefix(l, "[") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
