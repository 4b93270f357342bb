package ops

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCompareIfNames(t *testing.T) {
	got := []string{"NULL0", "LoopBack10", "GigabitEthernet0/10/0", "LoopBack2", "GigabitEthernet0/2/0",
		"GigabitEthernet0/2/0.100", "MEth0/0/0", "Vlanif10", "GigabitEthernet0/2/0.20"}
	slices.SortFunc(got, compareIfNames)
	want := []string{"MEth0/0/0", "GigabitEthernet0/2/0", "GigabitEthernet0/2/0.20", "GigabitEthernet0/2/0.100",
		"GigabitEthernet0/10/0", "Vlanif10", "LoopBack2", "LoopBack10", "NULL0"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestFormatUptime(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 days, 00 hours, 00 minutes and 00 seconds"},
		{-time.Second, "0 days, 00 hours, 00 minutes and 00 seconds"},
		{50*time.Minute + 7*time.Second, "0 days, 00 hours, 50 minutes and 07 seconds"},
		{49*time.Hour + 3*time.Minute + 1500*time.Millisecond, "2 days, 01 hours, 03 minutes and 01 seconds"},
	} {
		if got := formatUptime(c.d); got != c.want {
			t.Errorf("formatUptime(%s) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestVPNCellAndMAC(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "--"}, {"red", "red"}, {"exactly15chars_", "exactly15chars_"}, {"sixteen-chars-xx", "sixteen-char..."},
	} {
		if got := vpnCell(c.in); got != c.want {
			t.Errorf("vpnCell(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := macVRP([]byte{0x00, 0xe0, 0xfc, 0x12, 0x34, 0x56}); got != "00e0-fc12-3456" {
		t.Errorf("macVRP = %q", got)
	}
	if got := macVRP(nil); got != "" {
		t.Errorf("macVRP(nil) = %q", got)
	}
}

// The tool templates stay small: every expansion costs every input line.
// A template has the bare host, n first-option forms with n-1 nested free
// pairs each (n expansions each), and n*(n-1) two-keyword forms.
func TestToolSyntaxSize(t *testing.T) {
	for _, opts := range [][]toolOpt{pingOptions, tracertOptions} {
		n := len(opts)
		syn := toolSyntax("x", opts)
		if alts := strings.Count(syn, " | ") + 1; alts != 1+n+n*(n-1) {
			t.Errorf("%d options: %d alternatives, want %d", n, alts, 1+n+n*(n-1))
		}
		if free := strings.Count(syn, "[{k"); free != n*(n-1) {
			t.Errorf("%d options: %d free pairs, want %d", n, free, n*(n-1))
		}
	}
}
