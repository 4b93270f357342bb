package persist

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/openconfig/goyang/pkg/yang"

	"vpnos/cli"
	"vpnos/cli/proto"
	"vpnos/services/owners"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

var (
	sharedSchemaOnce sync.Once
	sharedSchema     *schema.Schema
	sharedSchemaErr  error
)

// fastEngine is newEngine over a schema parsed once (the free-text table
// makes thousands of engines).
func fastEngine(t testing.TB) *cli.Engine {
	t.Helper()
	sharedSchemaOnce.Do(func() { sharedSchema, sharedSchemaErr = schema.Load() })
	if sharedSchemaErr != nil {
		t.Fatal(sharedSchemaErr)
	}
	st := datastore.New(sharedSchema, nil)
	if err := owners.Register(st, owners.Checking()); err != nil {
		t.Fatal(err)
	}
	e, err := cli.New(cli.Deps{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// textLeafCases says, for each free-text leaf of the schema (vcli:text),
// how to reach it: the configuration it needs around it (as datastore
// edits and as CLI lines entering its view) and the CLI line that sets
// it. A free-text leaf the schema gains without an entry here fails the
// test, so that every one is covered.
var textLeafCases = map[string]struct {
	path  datastore.Path          // the leaf
	edit  func(t *datastore.Tree) // its surroundings
	lines []string                // CLI lines entering its view (from the system view)
	set   func(v string) string   // the CLI line that sets it to v
	// owned: the leaf's owner refuses more values than its type (an
	// expression that does not compile).
	owned bool
	// values replaces the generated table for a leaf whose owner takes a
	// language of its own (AS-path expressions: digits and operators).
	values func() []string
}{
	"system/sysname": {
		path: datastore.P("system", "sysname"),
		edit: func(*datastore.Tree) {},
		set:  func(v string) string { return "sysname " + v },
	},
	"interfaces/interface/description": {
		path:  ifc("LoopBack7").Child("description"),
		edit:  func(t *datastore.Tree) { t.Set(ipAddr("LoopBack7", "192.0.2.7").Child("mask"), "255.255.255.255") },
		lines: []string{"interface LoopBack7", "ip address 192.0.2.7 32"},
		set:   func(v string) string { return "description " + v },
	},
	"vpn-instances/vpn-instance/description": {
		path: vi("red").Child("description"),
		edit: func(t *datastore.Tree) {
			t.SetPresence(vi("red").Child("ipv4-family"))
			t.Set(vi("red").Child("ipv4-family").Child("route-distinguisher"), "65000:1")
			t.SetPresence(vi("red").Child("ipv4-family").Child("vpn-target", "65000:1", "export-extcommunity"))
		},
		lines: []string{"ip vpn-instance red", "ipv4-family", "route-distinguisher 65000:1", "vpn-target 65000:1 export-extcommunity", "quit"},
		set:   func(v string) string { return "description " + v },
	},
	"static-routes/route/description": {
		path: datastore.P("static-routes", "route", datastore.K("10.0.0.0", "255.0.0.0", "192.0.2.1"), "description"),
		edit: func(t *datastore.Tree) {
			t.SetPresence(datastore.P("static-routes", "route", datastore.K("10.0.0.0", "255.0.0.0", "192.0.2.1")))
		},
		set: func(v string) string { return "ip route-static 10.0.0.0 8 192.0.2.1 description " + v },
	},
	"as-path-filters/as-path-filter/regular-expression": {
		path: datastore.P("as-path-filters", "as-path-filter", datastore.K("F1", "10"), "regular-expression"),
		edit: func(t *datastore.Tree) {
			t.Set(datastore.P("as-path-filters", "as-path-filter", datastore.K("F1", "10"), "mode"), "permit")
			t.Set(datastore.P("as-path-filters", "as-path-filter", datastore.K("F1", "10"), "regular-expression"), "^65000_")
		},
		set:    func(v string) string { return "ip as-path-filter F1 index 10 permit " + v },
		owned:  true,
		values: asPathRegexValues,
	},
	"bgp/instance/peer/description": {
		path: datastore.P("bgp", "instance", datastore.K("65000"), "peer", datastore.K("192.0.2.9"), "description"),
		edit: func(t *datastore.Tree) {
			t.Set(datastore.P("bgp", "instance", datastore.K("65000"), "router-id"), "10.255.0.1")
			t.Set(datastore.P("bgp", "instance", datastore.K("65000"), "peer", datastore.K("192.0.2.9"), "as-number"), "65001")
		},
		lines: []string{"bgp 65000", "router-id 10.255.0.1", "peer 192.0.2.9 as-number 65001"},
		set:   func(v string) string { return "peer 192.0.2.9 description " + v },
	},
	"bgp/instance/vpn-instance/peer/description": {
		path: datastore.P("bgp", "instance", datastore.K("65000"), "vpn-instance", datastore.K("red"), "peer", datastore.K("192.0.2.9"), "description"),
		edit: func(t *datastore.Tree) {
			t.SetPresence(vi("red").Child("ipv4-family"))
			t.Set(vi("red").Child("ipv4-family").Child("route-distinguisher"), "65000:1")
			t.Set(datastore.P("bgp", "instance", datastore.K("65000"), "router-id"), "10.255.0.1")
			t.Set(datastore.P("bgp", "instance", datastore.K("65000"), "vpn-instance", datastore.K("red"), "peer", datastore.K("192.0.2.9"), "as-number"), "65001")
		},
		lines: []string{"ip vpn-instance red", "ipv4-family", "route-distinguisher 65000:1", "quit", "quit",
			"bgp 65000", "router-id 10.255.0.1", "ipv4-family vpn-instance red", "peer 192.0.2.9 as-number 65001"},
		set: func(v string) string { return "peer 192.0.2.9 description " + v },
	},
	"static-routes/vpn-route/description": {
		path: datastore.P("static-routes", "vpn-route", datastore.K("red", "10.0.0.0", "255.0.0.0", "192.0.2.1"), "description"),
		edit: func(t *datastore.Tree) {
			t.SetPresence(vi("red").Child("ipv4-family"))
			t.Set(vi("red").Child("ipv4-family").Child("route-distinguisher"), "65000:1")
			t.SetPresence(datastore.P("static-routes", "vpn-route", datastore.K("red", "10.0.0.0", "255.0.0.0", "192.0.2.1")))
		},
		lines: []string{"ip vpn-instance red", "ipv4-family", "route-distinguisher 65000:1", "quit", "quit"},
		set:   func(v string) string { return "ip route-static vpn-instance red 10.0.0.0 8 192.0.2.1 description " + v },
	},
}

// textValues is the generated table of values every free-text leaf is
// tried with: each ASCII and C1 character between letters and at either
// end, the characters the configuration file gives a meaning to, the
// attacks seen (a line break followed by configuration, terminal escapes),
// Unicode, bytes that are not UTF-8, and the lengths around the limit.
func textValues(maxLen int) []string {
	vs := []string{"x", "a b", "a  b", " a", "a ", "  a  b  ", "#", "!", "a #", "return", "quit", "undo description",
		"[V200R003C00]", "a | include b", "|", "a?", "?", "a ?", "\"quoted\"", "'q'", `back\slash`, "%s%d", "{x}", "<x>",
		"x\nsysname HACKED", "hi\n#\nmpls lsr-id 9.9.9.9", "A\x1b]0;pwned\x07", "a\r\nb", "a\x00b", "\x1b[2J",
		"Zürich – 東京 🚀", "\u00a0a\u00a0", "a\u200bb", "a\u2028b", "a\u2029b", "a\ufeffb", "\xff\xfe", "a\xc3", "\xed\xa0\x80"}
	for c := rune(0); c < 0x100; c++ {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		s := string(c)
		vs = append(vs, "a"+s+"b")
		if c <= ' ' || c >= 0x7f && c < 0xa0 {
			vs = append(vs, s+"a", "a"+s)
		}
	}
	vs = append(vs, strings.Repeat("x", maxLen), strings.Repeat("x", maxLen+1), strings.Repeat("é", maxLen), strings.Repeat("é", maxLen+1))
	return vs
}

func maxLength(e *yang.Entry) int {
	if e.Type == nil || len(e.Type.Length) == 0 {
		return 0
	}
	return int(e.Type.Length[len(e.Type.Length)-1].Max.Value)
}

// TestFreeTextRoundTrip: every value a free-text leaf accepts, through a
// commit on the datastore (as NETCONF) or a CLI line (as SSH, `cli -c` and
// the management socket), survives save and restart byte-identical, and
// the rest of the configuration with it; every other value is refused by
// both, and refused lines change nothing. A line break in a description
// once became configuration at the next boot.
func TestFreeTextRoundTrip(t *testing.T) {
	ctx := context.Background()
	sc := fastEngine(t).Store().Schema
	var leaves []*yang.Entry
	var walk func(e *yang.Entry)
	walk = func(e *yang.Entry) {
		for _, c := range sc.Children(e) {
			if c.IsLeaf() && schema.HasExt(c, "text") {
				leaves = append(leaves, c)
			}
			walk(c)
		}
	}
	walk(sc.Root)
	if len(leaves) < len(textLeafCases) {
		t.Fatalf("%d free-text leaves in the schema, %d cases", len(leaves), len(textLeafCases))
	}
	log := slog.New(slog.DiscardHandler)
	for _, leaf := range leaves {
		name := strings.Join(schema.SchemaPath(leaf), "/")
		tc, ok := textLeafCases[name]
		if !ok {
			t.Errorf("free-text leaf %s has no case in textLeafCases", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			// NETCONF's way (a commit on the datastore) on one engine, the
			// CLI's way (the value as the rest of a line, sent as one
			// request: a line break inside it is part of the request) on
			// another; each value is committed on top of the leaf's
			// surroundings, and running goes back to them afterwards.
			eDS, eCLI, eBoot := fastEngine(t), fastEngine(t), fastEngine(t)
			for _, e := range []*cli.Engine{eDS, eCLI} {
				c := e.Store().NewCandidate()
				tc.edit(c.Tree())
				if _, err := c.Commit(ctx, "setup", ""); err != nil && !errors.Is(err, datastore.ErrNoChange) {
					t.Fatal(err)
				}
			}
			base := eDS.Store().Running()
			reset := func(e *cli.Engine) {
				c := e.Store().NewCandidate()
				c.Replace(base.Clone())
				if _, err := c.Commit(ctx, "reset", ""); err != nil && !errors.Is(err, datastore.ErrNoChange) {
					t.Fatal(err)
				}
			}
			s, _ := eCLI.Open(ctx, proto.Request{User: "admin"})
			defer s.Close()
			do := func(l string) proto.Response { return s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: l}) }
			do("system-view")
			file := New(filepath.Join(t.TempDir(), "startup.cfg"), log)
			accepted, refused := 0, 0
			values := textValues(maxLength(leaf))
			minAccepted := 100
			if tc.values != nil {
				values, minAccepted = tc.values(), 10
			}
			for _, v := range values {
				c := eDS.Store().NewCandidate()
				c.Tree().Set(tc.path, v)
				_, dsErr := c.Commit(ctx, "netconf", "")
				if errors.Is(dsErr, datastore.ErrNoChange) {
					dsErr = nil // the value of the surroundings
				}
				_, typeErr := sc.CheckValue(leaf, v)
				if (dsErr == nil) != (typeErr == nil) && (typeErr != nil || !tc.owned) {
					t.Errorf("%q: datastore %v, type %v", v, dsErr, typeErr)
				}
				if dsErr != nil {
					refused++
					if !eDS.Store().Running().Equal(base) {
						t.Errorf("%q: a refused commit changed running", v)
					}
				} else {
					accepted++
					roundTrip(ctx, t, file, eDS, eBoot, tc.path, v)
					reset(eDS)
				}

				cliV := strings.Trim(v, " \t")
				for _, l := range tc.lines {
					if r := do(l); r.Failed {
						t.Fatalf("%q: %s", l, r.Output)
					}
				}
				r := do(tc.set(v))
				cliOK := !r.Failed
				if cliOK {
					if r := do("commit"); r.Failed {
						t.Errorf("%q: commit: %s", v, r.Output)
						cliOK = false
					}
				} else if !strings.Contains(r.Output, "Error: ") {
					t.Errorf("%q: refused without an error: %q", v, r.Output)
				}
				do("return")
				do("system-view")
				if _, err := sc.CheckValue(leaf, cliV); (err == nil) != cliOK && (err != nil || !tc.owned) {
					t.Errorf("%q: CLI accepted %v, type %v (%s)", v, cliOK, err, r.Output)
				}
				if cliV == v && cliOK != (dsErr == nil) {
					t.Errorf("%q: CLI accepted %v, datastore %v", v, cliOK, dsErr)
				}
				if cliOK {
					roundTrip(ctx, t, file, eCLI, eBoot, tc.path, cliV)
					reset(eCLI)
				} else if !eCLI.Store().Running().Equal(base) {
					t.Errorf("%q: a refused line changed running", v)
				}
			}
			if accepted < minAccepted || refused < 30 {
				t.Errorf("%d values accepted, %d refused: the table does not exercise the type", accepted, refused)
			}
		})
	}
}

// roundTrip saves e's running configuration, boots a new engine from the
// file, and checks that the leaf at p holds want byte for byte and that the
// whole configuration is the same.
func roundTrip(ctx context.Context, t *testing.T, f *File, e, boot *cli.Engine, p datastore.Path, want string) {
	t.Helper()
	if got, _ := e.Store().Running().Get(p); got != want {
		t.Errorf("%q: committed as %q", want, got)
		return
	}
	cfg := e.CurrentConfig()
	// As save writes it (Save's crash safety is tested on its own; its
	// fsyncs would make this table slow).
	if err := os.WriteFile(f.Path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	boot.Store().LoadRunning(datastore.NewTree())
	rep, err := Boot(ctx, f, replayInto(boot), f.Log)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Errorf("%q: reload refused lines %+v", want, rep.Errors)
	}
	if got, _ := boot.Store().Running().Get(p); got != want {
		t.Errorf("%q: after save and restart %q (valid UTF-8: %v)", want, got, utf8.ValidString(got))
	}
	if body(boot.CurrentConfig()) != body(cfg) {
		t.Errorf("%q: configuration after restart:\n%s\nbefore:\n%s", want, boot.CurrentConfig(), cfg)
	}
}

// asPathRegexValues are AS-path expressions, each also with the characters
// free text refuses around it and inside it.
func asPathRegexValues() []string {
	exprs := []string{"^65000_", "_65001$", "^$", ".*", "^(65001|65002)_", "_[1-9]+_", "65000 65001", "^65000  65001$", "{65003,65004}", `\(`, "_6500[0-9]_", "^.+$", "(_65001_)+", "^65000?$"}
	var out []string
	for _, e := range exprs {
		out = append(out, e, " "+e, e+" ")
		for _, c := range []string{"\n", "\r", "\t", "\x00", "\x07", "\x1b", "\x7f", "\u0085", "\u2028", "\xff"} {
			out = append(out, e+c, c+e, e[:1]+c+e[1:])
		}
	}
	return append(out, "^65000_\nsysname HACKED", "a", "(", "^[", strings.Repeat("1", 1024), strings.Repeat("1", 1025))
}
