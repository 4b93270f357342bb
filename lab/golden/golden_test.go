package golden

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct{ want, got, diff string }{
		{"a\nb\n", "a\nb\n", ""},
		{"a\nb\n", "a\nc\n", "line 2:\nwant: \"b\"\ngot:  \"c\""},
		{"a\n", "a\nb\n", "line 2:\nwant: \"\"\ngot:  \"b\""},
	} {
		if d := Diff(tc.want, tc.got); d != tc.diff {
			t.Errorf("Diff(%q, %q) = %q, want %q", tc.want, tc.got, d, tc.diff)
		}
	}
}

type recorder struct {
	testing.TB
	failed []string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Errorf(format string, a ...any) { r.failed = append(r.failed, format) }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = append(r.failed, format) }
func (r *recorder) Fatal(a ...any)                 { r.failed = append(r.failed, "fatal") }

func TestCheck(t *testing.T) {
	path := filepath.Join("testdata", "sample.golden")
	Check(t, path, "one\ntwo\n")
	r := &recorder{TB: t}
	Check(r, path, "one\nthree\n")
	if len(r.failed) != 1 || !strings.Contains(r.failed[0], "differs") {
		t.Fatalf("a different output must fail: %v", r.failed)
	}
}
