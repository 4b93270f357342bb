package persist

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vpnos/cli"
)

// replayInto binds the VRP engine's replay, as the daemon does.
func replayInto(e *cli.Engine) ReplayFunc {
	return func(ctx context.Context, text string) ([]LineError, error) {
		errs, err := e.Replay(ctx, text)
		out := make([]LineError, len(errs))
		for i, le := range errs {
			out[i] = LineError{Line: le.Line, Text: le.Text, Message: le.Message}
		}
		return out, err
	}
}

// TestCorruptedStartupWithEngine loads a startup file with broken lines into
// the real VRP engine: each broken line is reported with its number, and
// everything else loads.
func TestCorruptedStartupWithEngine(t *testing.T) {
	ctx := context.Background()
	const startup = `!Software Version V100R001C00
#
sysname PE1
#
ip vpn-instance red
 ipv4-family
  route-distinguisher 10.255.0.1:1
  vpn-target 65000:100 export-extcommunity
#
interface LoopBack0
 ip adress 10.255.0.1 255.255.255.255
#
interface LoopBack1
 ip binding vpn-instance red
 ip address 192.0.2.9 255.255.255.255
#
mpls lsr-id 10.255.0.300
#
garbage line here
#
return
`
	path := filepath.Join(t.TempDir(), "startup.cfg")
	if err := os.WriteFile(path, []byte(startup), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := cli.New(cli.Deps{Store: testStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	rep, err := Boot(ctx, New(path, log), replayInto(e), log)
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, le := range rep.Errors {
		lines = append(lines, le.Line)
		if le.Message == "" || !strings.HasPrefix(le.Message, "Error") {
			t.Errorf("line %d: message %q", le.Line, le.Message)
		}
	}
	if want := []int{11, 17, 19}; !equalInts(lines, want) {
		t.Fatalf("refused lines %v, want %v (%+v)", lines, want, rep.Errors)
	}
	cfg := e.CurrentConfig()
	for _, want := range []string{
		"sysname PE1\n",
		"  route-distinguisher 10.255.0.1:1\n",
		"interface LoopBack1\n ip binding vpn-instance red\n ip address 192.0.2.9 255.255.255.255\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Fatalf("running configuration lacks %q:\n%s", want, cfg)
		}
	}
	for _, bad := range []string{"adress", "10.255.0.300", "garbage"} {
		if strings.Contains(cfg, bad) {
			t.Fatalf("running configuration took %q:\n%s", bad, cfg)
		}
	}

	// What save writes loads back to the same configuration.
	f := New(filepath.Join(t.TempDir(), "startup.cfg"), log)
	if err := f.Save(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	e2, _ := cli.New(cli.Deps{Store: testStore(t)})
	rep, err = Boot(ctx, f, replayInto(e2), log)
	if err != nil || len(rep.Errors) != 0 {
		t.Fatalf("reload: %v %+v", err, rep.Errors)
	}
	if body(e2.CurrentConfig()) != body(cfg) {
		t.Fatalf("reloaded configuration differs:\n%s\nwant:\n%s", e2.CurrentConfig(), cfg)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// body drops the header lines (they carry the time of the last change).
func body(cfg string) string {
	var keep []string
	for _, l := range strings.Split(cfg, "\n") {
		if !strings.HasPrefix(l, "!") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
