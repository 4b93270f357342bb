package persist

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"vpnos/cli"
	"vpnos/cli/proto"
)

const validStartup = `!Software Version V100R001C00
#
sysname PE1
#
ip vpn-instance red
 description Zürich – 東京
 ipv4-family
  route-distinguisher 10.255.0.1:1
  vpn-target 65000:100 export-extcommunity
#
interface LoopBack0
 ip address 10.255.0.1 255.255.255.255
#
return
`

// saveThrough runs `save` in a CLI session of e and answers answer; it
// returns the session's output.
func saveThrough(t *testing.T, e *cli.Engine, answer string) string {
	t.Helper()
	ctx := context.Background()
	s, _ := e.Open(ctx, proto.Request{User: "admin"})
	defer s.Close()
	r := s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: "save"})
	out := r.Output + r.Question
	r = s.Handle(ctx, proto.Request{Op: proto.OpAnswer, Line: answer})
	return out + answer + "\n" + r.Output
}

func bootEngine(t *testing.T, f *File) (*cli.Engine, Report) {
	t.Helper()
	e := newEngine(t)
	e.SaveFunc, e.SaveWarning = f.Save, f.SaveWarning
	rep, err := Boot(context.Background(), f, replayInto(e), f.Log)
	if err != nil {
		t.Fatal(err)
	}
	return e, rep
}

// TestRefusedLinesAreKept: lines refused at boot are kept in a copy of the
// file beside it; save warns that it drops them (until a save has); the
// copy survives the save, and an older copy with other lines is not
// overwritten by the next boot's.
func TestRefusedLinesAreKept(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	f := New(filepath.Join(dir, "startup.cfg"), log)
	broken := strings.Replace(validStartup, "interface LoopBack0\n", "interface LoopBack0\n ip adress 10.0.0.9 32\n", 1)
	broken = strings.Replace(broken, "sysname PE1\n", "sysname PE1\nfuture-feature enable\n", 1)
	if err := os.WriteFile(f.Path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	e, rep := bootEngine(t, f)
	if len(rep.Errors) != 2 {
		t.Fatalf("refused %+v", rep.Errors)
	}
	if got, _ := os.ReadFile(f.RefusedPath()); string(got) != broken {
		t.Fatalf("copy %q", got)
	}
	r, ok := f.Refused()
	if !ok || len(r.Lines) != 2 || r.Copy != f.RefusedPath() || r.Lines[0].Text != "future-feature enable" {
		t.Fatalf("Refused() = %+v %v", r, ok)
	}
	notes := strings.Join(f.Notes(), "\n")
	if !strings.Contains(notes, "2 lines of the startup configuration file were refused") || !strings.Contains(notes, "line 4: future-feature enable") {
		t.Fatalf("notes:\n%s", notes)
	}
	// A save warns and asks; N keeps the file as it is.
	out := saveThrough(t, e, "n")
	want := "Warning: 2 lines of " + f.Path + " were refused when the device started and are not in the running configuration; saving drops them from the file (the file as it was is kept in " + f.RefusedPath() + ")."
	if !strings.Contains(out, want+"\nAre you sure to continue?[Y/N]") {
		t.Fatalf("save:\n%s\nwant the warning:\n%s", out, want)
	}
	if got, _ := os.ReadFile(f.Path); string(got) != broken {
		t.Fatal("save answered N changed the file")
	}
	out = saveThrough(t, e, "y")
	if !strings.Contains(out, "Info: Save the configuration successfully.") {
		t.Fatalf("save: %s", out)
	}
	if f.SaveWarning() != "" {
		t.Fatalf("still warns after a save: %s", f.SaveWarning())
	}
	if out := saveThrough(t, e, "y"); strings.Contains(out, "refused") {
		t.Fatalf("second save warns again: %s", out)
	}
	if got, _ := os.ReadFile(f.RefusedPath()); string(got) != broken {
		t.Fatal("the copy did not survive the save")
	}
	// Next boot refuses another line: the older copy is kept beside.
	other := strings.Replace(validStartup, "sysname PE1\n", "sysname PE1\nother-feature\n", 1)
	if err := os.WriteFile(f.Path, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	f2 := New(f.Path, log)
	bootEngine(t, f2)
	if got, _ := os.ReadFile(f2.RefusedPath()); string(got) != other {
		t.Fatalf("new copy %q", got)
	}
	olds, _ := filepath.Glob(f.RefusedPath() + "-*")
	if len(olds) != 1 {
		t.Fatalf("older copies %v", olds)
	}
	if got, _ := os.ReadFile(olds[0]); string(got) != broken {
		t.Fatal("the older copy lost its lines")
	}
	// A boot that refuses nothing warns about nothing.
	if err := os.WriteFile(f.Path, []byte(validStartup), 0o644); err != nil {
		t.Fatal(err)
	}
	f3 := New(f.Path, log)
	e3, _ := bootEngine(t, f3)
	if _, ok := f3.Refused(); ok || strings.Contains(saveThrough(t, e3, "n"), "refused") {
		t.Fatal("a clean boot warns")
	}
}

func utf16Bytes(s string, bigEndian, bom bool) []byte {
	var b bytes.Buffer
	u := utf16.Encode([]rune(s))
	if bom {
		u = append([]uint16{0xFEFF}, u...)
	}
	for _, c := range u {
		if bigEndian {
			b.Write([]byte{byte(c >> 8), byte(c)})
		} else {
			b.Write([]byte{byte(c), byte(c >> 8)})
		}
	}
	return b.Bytes()
}

// TestStartupEncodings: a copy of a valid startup file saved as UTF-16
// (either byte order, with or without a byte order mark) or with a UTF-8
// byte order mark loads whole, says how it was read, and the next save
// writes the same configuration in UTF-8 (never an empty one).
func TestStartupEncodings(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ref := newEngine(t)
	if errs, err := ref.Replay(context.Background(), validStartup); err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		enc  string
	}{
		{"UTF-8", []byte(validStartup), ""},
		{"UTF-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, validStartup...), "UTF-8 with a byte order mark"},
		{"UTF-16LE BOM", utf16Bytes(validStartup, false, true), "UTF-16LE"},
		{"UTF-16BE BOM", utf16Bytes(validStartup, true, true), "UTF-16BE"},
		{"UTF-16LE", utf16Bytes(validStartup, false, false), "UTF-16LE"},
		{"UTF-16BE", utf16Bytes(validStartup, true, false), "UTF-16BE"},
		{"UTF-16LE CRLF", utf16Bytes(strings.ReplaceAll(validStartup, "\n", "\r\n"), false, true), "UTF-16LE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New(filepath.Join(t.TempDir(), "startup.cfg"), log)
			if err := os.WriteFile(f.Path, tc.raw, 0o644); err != nil {
				t.Fatal(err)
			}
			e, rep := bootEngine(t, f)
			if len(rep.Errors) > 0 || f.Encoding() != tc.enc {
				t.Fatalf("refused %+v, encoding %q", rep.Errors, f.Encoding())
			}
			if body(e.CurrentConfig()) != body(ref.CurrentConfig()) {
				t.Fatalf("loaded:\n%s", e.CurrentConfig())
			}
			saveThrough(t, e, "y")
			got, _ := os.ReadFile(f.Path)
			if body(string(got)) != body(ref.CurrentConfig()) {
				t.Fatalf("saved:\n%q", got)
			}
		})
	}
}
