package persist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const oldCfg = `!Software Version V800R012C10
#
sysname PE1
#
interface LoopBack0
 ip address 10.255.0.1 255.255.255.255
#
return
`

var newCfg = func() string {
	var b strings.Builder
	b.WriteString("!Software Version V800R012C10\n#\nsysname PE1\n#\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "ip vpn-instance vpn%d\n ipv4-family\n  route-distinguisher 10.255.0.1:%d\n#\n", i, i)
	}
	b.WriteString("return\n")
	return b.String()
}()

func TestComplete(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"", false},
		{"return\n", true},
		{"#\nsysname PE1\n#\nreturn\n", true},
		{"#\nsysname PE1\n#\nreturn", false},
		{"#\nsysname PE1\n#\nreturn\n\n  \n", true},
		{"#\nsysname PE1\n#\nretu", false},
		{"#\nsysname PE1\n#\n", false},
		{"#\nsysname return\n", false},
		{oldCfg, true},
		{oldCfg[:len(oldCfg)-3], false},
	} {
		if got := Complete([]byte(tc.text)); got != tc.want {
			t.Errorf("Complete(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f := New(filepath.Join(dir, "startup.cfg"), nil)
	text, src, err := f.Load(ctx)
	if err != nil || src != SourceNone || text != "" {
		t.Fatalf("Load of missing file = %q, %q, %v", text, src, err)
	}
	for _, want := range []string{oldCfg, newCfg, strings.TrimSuffix(oldCfg, "\n")} {
		if err := f.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, src, err := f.Load(ctx)
		if err != nil || src != SourceMain {
			t.Fatalf("Load = %q, %v", src, err)
		}
		if strings.TrimSuffix(got, "\n") != strings.TrimSuffix(want, "\n") || !strings.HasSuffix(got, "\n") {
			t.Fatalf("Load = %q, want %q", got, want)
		}
	}
	st, err := os.Stat(f.Path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
	assertOnly(t, dir, "startup.cfg")
}

// assertOnly checks that dir holds exactly the named files (no temporary
// file or copy left behind).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("directory holds %v, want %v", got, names)
	}
}

var errCrash = errors.New("simulated crash")

// crasher injects a crash at the n-th event of a Save: a step between system
// calls, or a write (which then writes only part of its data).
type crasher struct {
	n, seen int
	partial func(len int) int // bytes a crashing write gets out
	crashed bool
}

func (c *crasher) event() bool {
	c.seen++
	if c.seen == c.n {
		c.crashed = true
		return true
	}
	return false
}

func (c *crasher) install(f *File, bindMount bool) {
	f.step = func(string) error {
		if c.event() {
			return errCrash
		}
		return nil
	}
	f.write = func(fh *os.File, b []byte) (int, error) {
		if c.event() {
			n, _ := fh.Write(b[:c.partial(len(b))])
			return n, errCrash
		}
		return fh.Write(b)
	}
	f.rename = func(oldpath, newpath string) error {
		if bindMount && newpath == f.Path {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EBUSY}
		}
		if c.event() {
			return errCrash
		}
		return os.Rename(oldpath, newpath)
	}
}

// TestCrashAnywhere crashes Save at every step and in the middle of every
// write, on the rename path and on the in-place (bind mount) path, and checks
// that a fresh Load then returns the old or the new configuration, whole,
// and repairs the files so that the next Load agrees.
func TestCrashAnywhere(t *testing.T) {
	ctx := context.Background()
	partials := map[string]func(int) int{
		"nothing":   func(int) int { return 0 },
		"one byte":  func(int) int { return 1 },
		"half":      func(n int) int { return n / 2 },
		"all but 1": func(n int) int { return n - 1 },
		"all":       func(n int) int { return n },
	}
	for _, bind := range []bool{false, true} {
		for pname, partial := range partials {
			for n := 1; ; n++ {
				name := fmt.Sprintf("bind=%v/%s/event%d", bind, pname, n)
				dir := t.TempDir()
				path := filepath.Join(dir, "startup.cfg")
				if err := os.WriteFile(path, []byte(oldCfg), 0o644); err != nil {
					t.Fatal(err)
				}
				f := New(path, nil)
				c := &crasher{n: n, partial: partial}
				c.install(f, bind)
				err := f.Save(ctx, newCfg)
				if !c.crashed {
					if err != nil {
						t.Fatalf("%s: Save without crash: %v", name, err)
					}
					if n < 3 {
						t.Fatalf("%s: only %d crash points; hooks not reached", name, n-1)
					}
					break
				}
				if !errors.Is(err, errCrash) {
					t.Fatalf("%s: Save = %v, want the crash", name, err)
				}
				got, _, err := New(path, nil).Load(ctx)
				if err != nil {
					t.Fatalf("%s: Load: %v", name, err)
				}
				if got != oldCfg && got != newCfg {
					t.Fatalf("%s: Load after crash returned neither old nor new:\n%s", name, got)
				}
				again, src, err := New(path, nil).Load(ctx)
				if err != nil || again != got || src != SourceMain {
					t.Fatalf("%s: second Load = %q from %q, %v; not repaired", name, again, src, err)
				}
			}
		}
	}
}

// TestInPlaceFallback checks the EBUSY path end to end without a crash: the
// file is rewritten in place (same inode, as a bind mount needs) and no copy
// is left.
func TestInPlaceFallback(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "startup.cfg")
	if err := os.WriteFile(path, []byte(newCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	before := inode(t, path)
	f := New(path, nil)
	f.rename = func(oldpath, newpath string) error {
		if newpath == path {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EXDEV}
		}
		return os.Rename(oldpath, newpath)
	}
	if err := f.Save(ctx, oldCfg); err != nil {
		t.Fatal(err)
	}
	if inode(t, path) != before {
		t.Fatal("in-place save replaced the inode")
	}
	if b, _ := os.ReadFile(path); string(b) != oldCfg {
		t.Fatalf("content %q", b)
	}
	assertOnly(t, dir, "startup.cfg")

	// Any other rename failure is an error, not a fallback.
	f.rename = func(string, string) error { return &os.LinkError{Op: "rename", Err: syscall.EACCES} }
	if err := f.Save(ctx, newCfg); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("Save with EACCES = %v", err)
	}
}

func TestLoadPrefersCompleteFile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		main, bak *string
		want      string
		src       Source
		remaining []string
	}{
		{"main only", ptr(oldCfg), nil, oldCfg, SourceMain, []string{"startup.cfg"}},
		{"hand written without return", ptr("sysname X\n"), nil, "sysname X\n", SourceMain, []string{"startup.cfg"}},
		{"last newline lost", ptr(strings.TrimSuffix(newCfg, "\n")), ptr(newCfg), newCfg, SourceBackup, []string{"startup.cfg"}},
		{"stale copy", ptr(oldCfg), ptr(newCfg), oldCfg, SourceMain, []string{"startup.cfg"}},
		{"cut short", ptr(newCfg[:100]), ptr(newCfg), newCfg, SourceBackup, []string{"startup.cfg"}},
		{"emptied", ptr(""), ptr(newCfg), newCfg, SourceBackup, []string{"startup.cfg"}},
		{"main missing", nil, ptr(newCfg), newCfg, SourceBackup, []string{"startup.cfg"}},
		{"both incomplete", ptr("sysname A\n"), ptr("sysname B\n"), "sysname A\n", SourceMain, []string{"startup.cfg", "startup.cfg.bak"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "startup.cfg")
			if tc.main != nil {
				os.WriteFile(path, []byte(*tc.main), 0o644)
			}
			if tc.bak != nil {
				os.WriteFile(path+".bak", []byte(*tc.bak), 0o644)
			}
			got, src, err := New(path, nil).Load(ctx)
			if err != nil || got != tc.want || src != tc.src {
				t.Fatalf("Load = %q, %q, %v; want %q from %q", got, src, err, tc.want, tc.src)
			}
			assertOnly(t, dir, tc.remaining...)
			if b, _ := os.ReadFile(path); string(b) != tc.want {
				t.Fatalf("startup.cfg now %q", b)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestBindMount saves over a real bind mount in a private mount namespace:
// rename over a mount point fails with EBUSY, and the in-place path must
// update the file that is bound (the one the lab host sees).
func TestBindMount(t *testing.T) {
	if dir := os.Getenv("VPNOS_PERSIST_BIND_HELPER"); dir != "" {
		bindHelper(t, dir)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare(1) not found: %v", err)
	}
	dir := t.TempDir()
	host := filepath.Join(dir, "host-startup.cfg")
	if err := os.WriteFile(host, []byte(oldCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", os.Args[0], "-test.run=^TestBindMount$", "-test.v")
	cmd.Env = append(os.Environ(), "VPNOS_PERSIST_BIND_HELPER="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("BIND-HELPER-OK")) {
		t.Fatalf("helper failed: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(host); string(b) != newCfg {
		t.Fatalf("bound file on the host side was not updated: %q", b)
	}
	if !bytes.Contains(out, []byte("EBUSY-SEEN")) {
		t.Fatalf("rename over the mount point did not fail; the fallback was not exercised:\n%s", out)
	}
}

func bindHelper(t *testing.T, dir string) {
	host := filepath.Join(dir, "host-startup.cfg")
	target := filepath.Join(dir, "etc", "startup.cfg")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(host, target, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	var logBuf bytes.Buffer
	f := New(target, slog.New(slog.NewTextHandler(&logBuf, nil)))
	f.rename = func(oldpath, newpath string) error {
		err := os.Rename(oldpath, newpath)
		if errors.Is(err, syscall.EBUSY) {
			fmt.Println("EBUSY-SEEN")
		}
		return err
	}
	if err := f.Save(context.Background(), newCfg); err != nil {
		t.Fatalf("Save over a bind mount: %v", err)
	}
	got, src, err := f.Load(context.Background())
	if err != nil || got != newCfg || src != SourceMain {
		t.Fatalf("Load = %q, %v", src, err)
	}
	if _, err := os.Stat(f.BackupPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("copy left behind: %v", err)
	}
	fmt.Println("BIND-HELPER-OK")
}

// refuse is a replay that refuses lines containing word.
func refuse(word string) ReplayFunc {
	return func(_ context.Context, text string) ([]LineError, error) {
		var errs []LineError
		for i, l := range strings.Split(text, "\n") {
			if word != "" && strings.Contains(l, word) {
				errs = append(errs, LineError{Line: i + 1, Text: l, Message: "Error: Unrecognized command found at '^' position."})
			}
		}
		return errs, nil
	}
}

func TestBootReportsLines(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "startup.cfg")
	bad := strings.Replace(oldCfg, " ip address", " ip adress", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	rep, err := Boot(ctx, New(path, log), refuse("adress"), log)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Source != SourceMain || rep.Lines != 8 || len(rep.Errors) != 1 || rep.Errors[0].Line != 6 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(logBuf.String(), "line=6") {
		t.Fatalf("refused line not logged with its number:\n%s", logBuf.String())
	}

	rep, err = Boot(ctx, New(filepath.Join(dir, "none.cfg"), log), refuse(""), log)
	if err != nil || rep.Source != SourceNone {
		t.Fatalf("missing file: %+v, %v", rep, err)
	}
}

// A save killed before its rename leaves a temporary file; the next load
// removes it (and only such files).
func TestLoadRemovesTempsOfInterruptedSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "startup.cfg")
	if err := os.WriteFile(path, []byte(oldCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	temps := []string{".startup.cfg.tmp-123", ".startup.cfg.bak.tmp-9"}
	keep := []string{"notes.txt", ".other.tmp-1"}
	for _, n := range append(append([]string{}, temps...), keep...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text, src, err := New(path, nil).Load(context.Background())
	if err != nil || src != SourceMain || text != oldCfg {
		t.Fatalf("load: %q %v %v", text, src, err)
	}
	for _, n := range temps {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there (%v)", n, err)
		}
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
}

// A file of junk is logged line by line only up to a bound, each line
// clipped: the log does not grow with the file.
func TestBootLogIsBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "startup.cfg")
	var b strings.Builder
	long := strings.Repeat("x", 100000)
	for i := 0; i < 1000; i++ {
		b.WriteString("junk " + long + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	rep, err := Boot(context.Background(), New(path, log), refuse("junk"), log)
	if err != nil || len(rep.Errors) != 1000 {
		t.Fatalf("report %d errors, %v", len(rep.Errors), err)
	}
	if n := strings.Count(logBuf.String(), "line refused"); n != MaxLoggedLines {
		t.Fatalf("%d refused lines logged one by one, want %d", n, MaxLoggedLines)
	}
	if !strings.Contains(logBuf.String(), "count=900") {
		t.Fatalf("no summary of the lines not logged:\n%.500s", logBuf.String())
	}
	if logBuf.Len() > MaxLoggedLines*(maxLoggedText+400)+1000 {
		t.Fatalf("log is %d bytes for a %d-byte file", logBuf.Len(), b.Len())
	}
}
