package diag

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	dst = netip.MustParseAddr("192.0.2.2")
	src = netip.MustParseAddr("192.0.2.1")
)

func TestPingOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		in      PingOptions
		want    PingOptions
		wantErr string
	}{
		{"defaults", PingOptions{Dest: dst},
			PingOptions{Dest: dst, Count: 5, Size: 56, Timeout: 2 * time.Second}, ""},
		{"all set", PingOptions{Dest: dst, Source: src, Count: 2, Size: 100, Timeout: 500 * time.Millisecond},
			PingOptions{Dest: dst, Source: src, Count: 2, Size: 100, Timeout: 500 * time.Millisecond}, ""},
		{"mapped addresses", PingOptions{Dest: netip.MustParseAddr("::ffff:192.0.2.2"), Source: netip.MustParseAddr("::ffff:192.0.2.1")},
			PingOptions{Dest: dst, Source: src, Count: 5, Size: 56, Timeout: 2 * time.Second}, ""},
		{"limits", PingOptions{Dest: dst, Count: MaxPingCount, Size: 9600, Timeout: 65535 * time.Millisecond},
			PingOptions{Dest: dst, Count: MaxPingCount, Size: 9600, Timeout: 65535 * time.Millisecond}, ""},
		{"size 20", PingOptions{Dest: dst, Size: 20}, PingOptions{Dest: dst, Count: 5, Size: 20, Timeout: 2 * time.Second}, ""},
		{"no destination", PingOptions{}, PingOptions{}, "destination address missing"},
		{"IPv6 destination", PingOptions{Dest: netip.MustParseAddr("2001:db8::1")}, PingOptions{}, "not an IPv4 address"},
		{"IPv6 source", PingOptions{Dest: dst, Source: netip.MustParseAddr("2001:db8::1")}, PingOptions{}, "-a 2001:db8::1 is not an IPv4"},
		{"multicast source", PingOptions{Dest: dst, Source: netip.MustParseAddr("224.0.0.5")}, PingOptions{}, "cannot be a source"},
		{"zero source", PingOptions{Dest: dst, Source: netip.MustParseAddr("0.0.0.0")}, PingOptions{}, "cannot be a source"},
		{"count negative", PingOptions{Dest: dst, Count: -1}, PingOptions{}, "-c -1 out of range 1-4294967294"},
		{"size small", PingOptions{Dest: dst, Size: 19}, PingOptions{}, "-s 19 out of range 20-9600"},
		{"size large", PingOptions{Dest: dst, Size: 9601}, PingOptions{}, "-s 9601 out of range 20-9600"},
		{"timeout sub-ms", PingOptions{Dest: dst, Timeout: time.Microsecond}, PingOptions{}, "-t 1µs out of range"},
		{"timeout large", PingOptions{Dest: dst, Timeout: 70 * time.Second}, PingOptions{}, "-t 1m10s out of range"},
		{"interval negative", PingOptions{Dest: dst, Interval: -time.Second}, PingOptions{}, "interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Validate()
			checkValidated(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestTracertOptionsValidate(t *testing.T) {
	def := TracertOptions{Dest: dst, FirstTTL: 1, MaxTTL: 30, Probes: 3, Timeout: 5 * time.Second, Port: 33434}
	tests := []struct {
		name    string
		in      TracertOptions
		want    TracertOptions
		wantErr string
	}{
		{"defaults", TracertOptions{Dest: dst}, def, ""},
		{"first equals max", TracertOptions{Dest: dst, FirstTTL: 5, MaxTTL: 5, Probes: 1, Timeout: time.Millisecond, Port: 65535},
			TracertOptions{Dest: dst, FirstTTL: 5, MaxTTL: 5, Probes: 1, Timeout: time.Millisecond, Port: 65535}, ""},
		{"first above default max", TracertOptions{Dest: dst, FirstTTL: 31}, TracertOptions{}, "-f 31) is greater than the maximum TTL (-m 30)"},
		{"max 256", TracertOptions{Dest: dst, MaxTTL: 256}, TracertOptions{}, "-m 256 out of range 1-255"},
		{"first negative", TracertOptions{Dest: dst, FirstTTL: -1}, TracertOptions{}, "-f -1 out of range"},
		{"probes", TracertOptions{Dest: dst, Probes: 65536}, TracertOptions{}, "-q 65536 out of range 1-65535"},
		{"wait", TracertOptions{Dest: dst, Timeout: 66 * time.Second}, TracertOptions{}, "-w 1m6s out of range"},
		{"port", TracertOptions{Dest: dst, Port: 70000}, TracertOptions{}, "port 70000 out of range"},
		{"no destination", TracertOptions{}, TracertOptions{}, "destination address missing"},
		{"broadcast source", TracertOptions{Dest: dst, Source: netip.MustParseAddr("255.255.255.255")}, TracertOptions{}, "cannot be a source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Validate()
			checkValidated(t, got, err, tc.want, tc.wantErr)
		})
	}
}

// checkValidated compares the result of an options' Validate with the
// normalised options, or the error, a table case expects.
func checkValidated[T comparable](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
