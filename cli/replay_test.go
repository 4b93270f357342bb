package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"vpnos/yang/datastore"
)

// instances is a configuration of n VPN instances (an RD and two route
// targets each), as save writes it.
func vpnInstancesText(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "ip vpn-instance v%d\n ipv4-family\n  route-distinguisher 65000:%d\n  vpn-target 65000:%d export-extcommunity\n  vpn-target 65000:%d import-extcommunity\n#\n", i, i, i, i)
	}
	return b.String()
}

// withRollbackPoints commits n changes, as a device that has been
// configured for a while has them.
func withRollbackPoints(t testing.TB, e *Engine, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		c := e.store.NewCandidate()
		c.Tree().Set(datastore.P("system", "sysname"), fmt.Sprintf("PE%d", i))
		if _, err := c.Commit(context.Background(), "admin", ""); err != nil {
			t.Fatal(err)
		}
	}
}

func lineNumbers(errs []LineError) string {
	var out []string
	for _, le := range errs {
		out = append(out, fmt.Sprintf("%d %s", le.Line, le.Message))
	}
	return strings.Join(out, "\n")
}

// TestReplayBigFileWithOneBadLine: a big startup file with one duplicate
// RD loads in one commit, without that line only; the rollback points of
// the commit log stay (one startup commit is added, not one per line).
func TestReplayBigFileWithOneBadLine(t *testing.T) {
	for _, n := range []int{1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := testEngine(t, "two-stage")
			withRollbackPoints(t, e, datastore.MaxLog)
			text := vpnInstancesText(n) + "ip vpn-instance dup\n ipv4-family\n  route-distinguisher 65000:7\n  apply-label per-route\n#\nreturn\n"
			errs, err := e.Replay(context.Background(), text)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("%d Error: The route-distinguisher 65000:7 of VPN instance dup is already used by VPN instance v7.\n%d Error: The route-distinguisher of VPN instance dup must be configured before apply-label.", 6*n+3, 6*n+4)
			if got := lineNumbers(errs); got != want {
				t.Fatalf("refused:\n%s\nwant:\n%s", got, want)
			}
			cs := e.store.Commits()
			if cs[0].User != "startup" || cs[1].User != "admin" || len(cs) != datastore.MaxLog {
				t.Fatalf("commit log: %d records, newest by %s, next by %s", len(cs), cs[0].User, cs[1].User)
			}
			run := e.store.Running()
			if got := len(run.Entries(datastore.P("vpn-instances"), "vpn-instance")); got != n+1 {
				t.Fatalf("%d instances loaded, want %d", got, n+1)
			}
		})
	}
}

// TestReplayServiceRefusal: when a service refuses the commit (Prepare:
// a resource it cannot reserve), the lines that break it are found with
// the datastore's Check, by halves, and the rest still loads in one commit.
func TestReplayServiceRefusal(t *testing.T) {
	e := testEngine(t, "two-stage")
	ref := &refuser{}
	e.Store().Register(ref, "/interfaces/interface/description")
	withRollbackPoints(t, e, 3)
	var b strings.Builder
	for i := 0; i < 200; i++ {
		d := fmt.Sprintf("port %d", i)
		if i == 77 || i == 150 {
			d = "refuse me"
		}
		fmt.Fprintf(&b, "interface LoopBack%d\n description %s\n ip address 10.0.%d.%d 32\n#\n", i, d, i/250, i%250)
	}
	errs, err := e.Replay(context.Background(), b.String())
	if err != nil {
		t.Fatal(err)
	}
	want := "310 Error: Commit refused: the interface service cannot take this description.\n602 Error: Commit refused: the interface service cannot take this description."
	if got := lineNumbers(errs); got != want {
		t.Fatalf("refused:\n%s\nwant:\n%s", got, want)
	}
	cfg := e.CurrentConfig()
	if !strings.Contains(cfg, "interface LoopBack77\n ip address 10.0.0.77 255.255.255.255\n") || !strings.Contains(cfg, "interface LoopBack199\n description port 199\n") {
		t.Fatalf("configuration:\n%s", cfg)
	}
	if cs := e.store.Commits(); len(cs) != 4 || cs[0].User != "startup" {
		t.Fatalf("%d commits", len(cs))
	}
	// Check prepared and aborted; only the one commit applied.
	if ref.applied != 1 || ref.aborted == 0 {
		t.Fatalf("participant: %+v", ref)
	}
}

// TestReplayStrayLines: a refused line at column 0 that enters no view
// (junk, a line cut in two) leaves the view as it was, so the indented
// lines after it still load where they belong; one that would have
// entered a view takes its indented lines with it, with a message naming
// it.
func TestReplayStrayLines(t *testing.T) {
	text := strings.Join([]string{
		"interface LoopBack0",
		" description zero",
		"\x00\x01junk",
		"garbage line here",
		"ºº¤¤",
		"1234",
		"!",
		" ip address 10.0.0.1 32",
		"interface LoopBack4294967296",
		" description lost",
		" ip address 10.0.0.2 32",
		"interface LoopBack1",
		" ip address 10.0.0.3 32",
		"ip vpn-instance _public_",
		" ipv4-family",
		"  route-distinguisher 1:1",
		"ip vpn-instance red",
		" ipv4-family",
		"  route-distinguisher 1:2",
		"return",
	}, "\n")
	e := testEngine(t, "two-stage")
	errs, err := e.Replay(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"3 Error: Unrecognized command found at '^' position.",
		"4 Error: Unrecognized command found at '^' position.",
		"5 Error: Unrecognized command found at '^' position.",
		"6 Error: Unrecognized command found at '^' position.",
		"9 Error: Wrong parameter found at '^' position.",
		"10 Error: Line 9, which enters the view of this line, was refused.",
		"11 Error: Line 9, which enters the view of this line, was refused.",
		"14 Error: The name _public_ is reserved for the public instance.",
		"15 Error: Line 14, which enters the view of this line, was refused.",
		"16 Error: Line 14, which enters the view of this line, was refused.",
	}, "\n")
	if got := lineNumbers(errs); got != want {
		t.Fatalf("refused:\n%s\nwant:\n%s", got, want)
	}
	got := body(e.CurrentConfig())
	for _, w := range []string{"interface LoopBack0\n description zero\n ip address 10.0.0.1 255.255.255.255\n", "interface LoopBack1\n ip address 10.0.0.3 255.255.255.255\n", "route-distinguisher 1:2"} {
		if !strings.Contains(got, w) {
			t.Fatalf("missing %q in\n%s", w, got)
		}
	}
}
