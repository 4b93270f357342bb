package diag

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Ranges and defaults of VRP's ping and tracert options.
const (
	DefaultPingCount   = 5
	MaxPingCount       = 4294967294
	DefaultPingSize    = 56
	MinPingSize        = 20
	MaxPingSize        = 9600
	DefaultPingTimeout = 2000 * time.Millisecond
	MaxTimeout         = 65535 * time.Millisecond

	DefaultFirstTTL      = 1
	DefaultMaxTTL        = 30
	MaxTTL               = 255
	DefaultProbes        = 3
	MaxProbes            = 65535
	DefaultTracertWait   = 5000 * time.Millisecond
	DefaultTracertPort   = 33434
	TracertPacketLength  = 40 // IPv4 header + UDP header + 12 bytes of data
	tracertPayloadLength = TracertPacketLength - ipv4HeaderLen - udpHeaderLen
)

// PingOptions are the arguments of `ping [ -a SRC | -c COUNT | -s SIZE |
// -t TIMEOUT | -vpn-instance NAME ] * HOST`, already parsed. The instance is
// not here: the caller resolves -vpn-instance to the NetNS it passes.
// Zero values mean the VRP default; call Validate (Ping does) to apply them.
type PingOptions struct {
	Dest    netip.Addr    // HOST, IPv4
	Source  netip.Addr    // -a; zero: chosen by the routing table
	Count   int           // -c, 1..4294967294, default 5
	Size    int           // -s, ICMP data bytes 20..9600, default 56
	Timeout time.Duration // -t, wait for each reply, 1..65535 ms, default 2000 ms
	// Interval is a pause between a reply (or timeout) and the next request.
	// VRP sends the next request as soon as the previous one is answered or
	// timed out, which is the default (0).
	Interval time.Duration
}

// Validate fills in defaults and checks ranges. It returns the completed
// options or an error naming the offending option.
func (o PingOptions) Validate() (PingOptions, error) {
	if !o.Dest.IsValid() {
		return o, errors.New("ping: destination address missing")
	}
	if !o.Dest.Is4() && !o.Dest.Is4In6() {
		return o, fmt.Errorf("ping: destination %s is not an IPv4 address", o.Dest)
	}
	o.Dest = o.Dest.Unmap()
	if err := checkSource("ping", o.Source); err != nil {
		return o, err
	}
	o.Source = o.Source.Unmap()
	if o.Count == 0 {
		o.Count = DefaultPingCount
	}
	if o.Count < 1 || o.Count > MaxPingCount {
		return o, fmt.Errorf("ping: -c %d out of range 1-%d", o.Count, MaxPingCount)
	}
	if o.Size == 0 {
		o.Size = DefaultPingSize
	}
	if o.Size < MinPingSize || o.Size > MaxPingSize {
		return o, fmt.Errorf("ping: -s %d out of range %d-%d", o.Size, MinPingSize, MaxPingSize)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultPingTimeout
	}
	if o.Timeout < time.Millisecond || o.Timeout > MaxTimeout {
		return o, fmt.Errorf("ping: -t %s out of range 1-65535 ms", o.Timeout)
	}
	if o.Interval < 0 || o.Interval > MaxTimeout {
		return o, fmt.Errorf("ping: interval %s out of range 0-65535 ms", o.Interval)
	}
	return o, nil
}

// TracertOptions are the arguments of `tracert [ -a SRC | -f FIRST | -m MAX |
// -q PROBES | -w TIMEOUT | -vpn-instance NAME ] * HOST`, already parsed.
// Zero values mean the VRP default; call Validate (Tracert does).
type TracertOptions struct {
	Dest     netip.Addr    // HOST, IPv4
	Source   netip.Addr    // -a; zero: chosen by the routing table
	FirstTTL int           // -f, 1..255, default 1, at most MaxTTL
	MaxTTL   int           // -m, 1..255, default 30
	Probes   int           // -q, 1..65535, default 3
	Timeout  time.Duration // -w, per probe, 1..65535 ms, default 5000 ms
	Port     int           // first destination port, 1..65535, default 33434
}

// Validate fills in defaults and checks ranges.
func (o TracertOptions) Validate() (TracertOptions, error) {
	if !o.Dest.IsValid() {
		return o, errors.New("tracert: destination address missing")
	}
	if !o.Dest.Is4() && !o.Dest.Is4In6() {
		return o, fmt.Errorf("tracert: destination %s is not an IPv4 address", o.Dest)
	}
	o.Dest = o.Dest.Unmap()
	if err := checkSource("tracert", o.Source); err != nil {
		return o, err
	}
	o.Source = o.Source.Unmap()
	if o.FirstTTL == 0 {
		o.FirstTTL = DefaultFirstTTL
	}
	if o.MaxTTL == 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.FirstTTL < 1 || o.FirstTTL > MaxTTL {
		return o, fmt.Errorf("tracert: -f %d out of range 1-%d", o.FirstTTL, MaxTTL)
	}
	if o.MaxTTL < 1 || o.MaxTTL > MaxTTL {
		return o, fmt.Errorf("tracert: -m %d out of range 1-%d", o.MaxTTL, MaxTTL)
	}
	if o.FirstTTL > o.MaxTTL {
		return o, fmt.Errorf("tracert: first TTL (-f %d) is greater than the maximum TTL (-m %d)", o.FirstTTL, o.MaxTTL)
	}
	if o.Probes == 0 {
		o.Probes = DefaultProbes
	}
	if o.Probes < 1 || o.Probes > MaxProbes {
		return o, fmt.Errorf("tracert: -q %d out of range 1-%d", o.Probes, MaxProbes)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTracertWait
	}
	if o.Timeout < time.Millisecond || o.Timeout > MaxTimeout {
		return o, fmt.Errorf("tracert: -w %s out of range 1-65535 ms", o.Timeout)
	}
	if o.Port == 0 {
		o.Port = DefaultTracertPort
	}
	if o.Port < 1 || o.Port > 65535 {
		return o, fmt.Errorf("tracert: port %d out of range 1-65535", o.Port)
	}
	return o, nil
}

func checkSource(tool string, a netip.Addr) error {
	if !a.IsValid() {
		return nil
	}
	a = a.Unmap()
	switch {
	case !a.Is4():
		return fmt.Errorf("%s: -a %s is not an IPv4 address", tool, a)
	case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s: -a %s cannot be a source address", tool, a)
	}
	return nil
}
