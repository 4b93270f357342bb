package diag

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Network tests: namespaces vt-diag-*, veths vtd*. They need root.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// labNS creates namespace vt-diag-NAME (removing a leftover of that name),
// with lo up and forwarding as asked, and returns its handle.
func labNS(t *testing.T, name string, forward bool) *NSHandle {
	t.Helper()
	full := "vt-diag-" + name
	exec.Command("ip", "netns", "del", full).Run()
	run(t, "ip", "netns", "add", full)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", full).Run() })
	h, err := OpenNS(filepath.Join("/run/netns", full))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	run(t, "ip", "-n", full, "link", "set", "lo", "up")
	fw := "0"
	if forward {
		fw = "1"
	}
	sysctl(t, h, "net/ipv4/ip_forward", fw)
	return h
}

// sysctl writes /proc/sys/KEY inside the namespace (through Do, which this
// also exercises: /proc/sys/net follows the writing thread's namespace).
func sysctl(t *testing.T, h *NSHandle, key, val string) {
	t.Helper()
	if err := h.Do(func() error {
		return os.WriteFile(filepath.Join("/proc/sys", key), []byte(val), 0)
	}); err != nil {
		t.Fatalf("sysctl %s=%s: %v", key, val, err)
	}
}

// link joins namespaces a and b with a veth pair and gives each end an
// address (prefix notation).
func link(t *testing.T, veth, a, addrA, b, addrB string) {
	t.Helper()
	na, nb := "vt-diag-"+a, "vt-diag-"+b
	run(t, "ip", "link", "add", veth+"a", "netns", na, "type", "veth", "peer", "name", veth+"b", "netns", nb)
	run(t, "ip", "-n", na, "addr", "add", addrA, "dev", veth+"a")
	run(t, "ip", "-n", nb, "addr", "add", addrB, "dev", veth+"b")
	run(t, "ip", "-n", na, "link", "set", veth+"a", "up")
	run(t, "ip", "-n", nb, "link", "set", veth+"b", "up")
}

var (
	replyRE = regexp.MustCompile(`^    Reply from (\S+): bytes=(\d+) Sequence=(\d+) ttl=(\d+) time=(\d+) ms$`)
	rttRE   = regexp.MustCompile(`^    round-trip min/avg/max = (\d+)/(\d+)/(\d+) ms$`)
)

type pingOut struct {
	header   string
	replies  []string // "from bytes seq ttl"
	timeouts int
	stats    []string
}

func parsePing(t *testing.T, text string) pingOut {
	t.Helper()
	var p pingOut
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 6 {
		t.Fatalf("short output:\n%s", text)
	}
	p.header = lines[0]
	i := 1
	for ; i < len(lines) && lines[i] != ""; i++ {
		if m := replyRE.FindStringSubmatch(lines[i]); m != nil {
			p.replies = append(p.replies, strings.Join(m[1:5], " "))
			continue
		}
		if lines[i] == "    Request time out" {
			p.timeouts++
			continue
		}
		t.Fatalf("unexpected line %q in\n%s", lines[i], text)
	}
	p.stats = lines[i+1:]
	return p
}

func TestLabPing(t *testing.T) {
	requireRoot(t)
	a := labNS(t, "pa", false)
	labNS(t, "pb", false)
	link(t, "vtdp", "pa", "10.1.1.2/24", "pb", "10.1.1.1/24")
	ctx := context.Background()

	t.Run("reachable", func(t *testing.T) {
		var out bytes.Buffer
		st, err := Ping(ctx, a, PingOptions{Dest: netip.MustParseAddr("10.1.1.1")}, &out)
		if err != nil {
			t.Fatal(err)
		}
		p := parsePing(t, out.String())
		if p.header != "  PING 10.1.1.1: 56  data bytes, press CTRL_C to break" {
			t.Errorf("header %q", p.header)
		}
		want := []string{}
		for i := 1; i <= 5; i++ {
			want = append(want, fmt.Sprintf("10.1.1.1 56 %d 64", i))
		}
		if strings.Join(p.replies, "\n") != strings.Join(want, "\n") || p.timeouts != 0 {
			t.Fatalf("replies %q timeouts %d\n%s", p.replies, p.timeouts, out.String())
		}
		if len(p.stats) != 5 || p.stats[0] != "  --- 10.1.1.1 ping statistics ---" ||
			p.stats[1] != "    5 packet(s) transmitted" || p.stats[2] != "    5 packet(s) received" ||
			p.stats[3] != "    0.00% packet loss" || !rttRE.MatchString(p.stats[4]) {
			t.Fatalf("statistics block:\n%s", strings.Join(p.stats, "\n"))
		}
		if st.Transmitted != 5 || st.Received != 5 || st.Min <= 0 || st.Max < st.Min {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("count 2 size 100 source", func(t *testing.T) {
		var out bytes.Buffer
		st, err := Ping(ctx, a, PingOptions{Dest: netip.MustParseAddr("10.1.1.1"), Count: 2, Size: 100,
			Source: netip.MustParseAddr("10.1.1.2")}, &out)
		if err != nil {
			t.Fatal(err)
		}
		p := parsePing(t, out.String())
		if p.header != "  PING 10.1.1.1: 100  data bytes, press CTRL_C to break" ||
			strings.Join(p.replies, ",") != "10.1.1.1 100 1 64,10.1.1.1 100 2 64" || st.Received != 2 || st.Transmitted != 2 {
			t.Fatalf("output:\n%s", out.String())
		}
	})

	t.Run("largest size", func(t *testing.T) {
		// 9600 data bytes: fragmented on a 1500-byte veth, reassembled by both kernels.
		var out bytes.Buffer
		st, err := Ping(ctx, a, PingOptions{Dest: netip.MustParseAddr("10.1.1.1"), Count: 1, Size: 9600}, &out)
		if err != nil || st.Received != 1 || !strings.Contains(out.String(), "bytes=9600 Sequence=1 ttl=64") {
			t.Fatalf("err %v stats %+v\n%s", err, st, out.String())
		}
	})

	t.Run("own address", func(t *testing.T) {
		// The raw socket also sees its own echo requests on lo: only replies count.
		var out bytes.Buffer
		st, err := Ping(ctx, a, PingOptions{Dest: netip.MustParseAddr("10.1.1.2"), Count: 3}, &out)
		if err != nil || st.Received != 3 || strings.Count(out.String(), "Reply from 10.1.1.2: bytes=56 Sequence=") != 3 {
			t.Fatalf("err %v stats %+v\n%s", err, st, out.String())
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		var out bytes.Buffer
		st, err := Ping(ctx, a, PingOptions{Dest: netip.MustParseAddr("10.1.1.9"), Count: 3, Timeout: 300 * time.Millisecond}, &out)
		if err != nil {
			t.Fatal(err)
		}
		p := parsePing(t, out.String())
		if len(p.replies) != 0 || p.timeouts != 3 {
			t.Fatalf("output:\n%s", out.String())
		}
		want := []string{"  --- 10.1.1.9 ping statistics ---", "    3 packet(s) transmitted",
			"    0 packet(s) received", "    100.00% packet loss"}
		if strings.Join(p.stats, "\n") != strings.Join(want, "\n") {
			t.Fatalf("statistics (no round-trip line expected):\n%s", strings.Join(p.stats, "\n"))
		}
		if st.Transmitted != 3 || st.Received != 0 {
			t.Fatalf("stats %+v", st)
		}
	})

	t.Run("no route", func(t *testing.T) {
		// The send itself fails (ENETUNREACH): still a timeout line per probe.
		var out bytes.Buffer
		var events []PingEvent
		st, err := RunPing(ctx, a, PingOptions{Dest: netip.MustParseAddr("198.51.100.1"), Count: 2},
			func(e PingEvent) error { events = append(events, e); return PingRenderer{W: &out}.Event(e) })
		if err != nil {
			t.Fatal(err)
		}
		if st.Transmitted != 2 || st.Received != 0 || len(events) != 4 || events[1].Err == nil ||
			!strings.Contains(out.String(), "    100.00% packet loss\n") {
			t.Fatalf("stats %+v events %+v\n%s", st, events, out.String())
		}
	})

	t.Run("source not local", func(t *testing.T) {
		var out bytes.Buffer
		_, err := Ping(ctx, a, PingOptions{Dest: netip.MustParseAddr("10.1.1.1"), Source: netip.MustParseAddr("10.9.9.9")}, &out)
		if err == nil || !strings.Contains(err.Error(), "source address 10.9.9.9 is not an address of this instance") {
			t.Fatalf("err = %v", err)
		}
		if out.Len() != 0 {
			t.Fatalf("output despite the error: %q", out.String())
		}
	})

	t.Run("ctrl c", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		var out bytes.Buffer
		var mu sync.Mutex
		w := writerFunc(func(b []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			if bytes.Contains(b, []byte("Request time out")) {
				cancel() // Ctrl+C after the first lost probe, during the second
			}
			return out.Write(b)
		})
		start := time.Now()
		st, err := Ping(ctx, a, PingOptions{Dest: netip.MustParseAddr("10.1.1.9"), Count: 1000, Timeout: 200 * time.Millisecond,
			Interval: 50 * time.Millisecond}, w)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("cancel took %v", d)
		}
		p := parsePing(t, out.String())
		if p.timeouts != 1 || st.Transmitted < 1 || st.Transmitted > 2 || st.Received != 0 ||
			p.stats[1] != fmt.Sprintf("    %d packet(s) transmitted", st.Transmitted) || p.stats[3] != "    100.00% packet loss" {
			t.Fatalf("stats %+v\n%s", st, out.String())
		}
	})

	t.Run("concurrent pings do not mix", func(t *testing.T) {
		// All raw ICMP sockets of a namespace see every echo reply: each run
		// must count exactly its own.
		dests := []string{"10.1.1.1", "10.1.1.1", "10.1.1.1", "10.1.1.9"}
		stats := make([]PingStats, len(dests))
		outs := make([]bytes.Buffer, len(dests))
		var wg sync.WaitGroup
		for i, d := range dests {
			wg.Go(func() {
				var err error
				stats[i], err = Ping(ctx, a, PingOptions{Dest: netip.MustParseAddr(d), Count: 4, Timeout: 500 * time.Millisecond}, &outs[i])
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i, d := range dests {
			want := 4
			if d == "10.1.1.9" {
				want = 0
			}
			p := parsePing(t, outs[i].String())
			if stats[i].Received != want || len(p.replies) != want || p.timeouts != 4-want {
				t.Errorf("ping %d to %s: stats %+v\n%s", i, d, stats[i], outs[i].String())
			}
		}
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Two instances use the same addresses; each ping stays in its own. The
// answering hosts differ in their default TTL (64 and 99), so the reply's TTL
// tells which one answered. Both pings run at the same time.
func TestLabIsolation(t *testing.T) {
	requireRoot(t)
	a := labNS(t, "ia", false)
	labNS(t, "ib", false)
	a2 := labNS(t, "ja", false)
	b2 := labNS(t, "jb", false)
	link(t, "vtdi", "ia", "10.1.1.2/24", "ib", "10.1.1.1/24")
	link(t, "vtdj", "ja", "10.1.1.2/24", "jb", "10.1.1.1/24")
	sysctl(t, b2, "net/ipv4/ip_default_ttl", "99")

	ctx := context.Background()
	dest := netip.MustParseAddr("10.1.1.1")
	var outA, outB bytes.Buffer
	var stA, stB PingStats
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { stA, errA = Ping(ctx, a, PingOptions{Dest: dest, Count: 3}, &outA) })
	wg.Go(func() { stB, errB = Ping(ctx, a2, PingOptions{Dest: dest, Count: 3}, &outB) })
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if stA.Received != 3 || strings.Count(outA.String(), "ttl=64 ") != 3 {
		t.Errorf("instance A:\n%s", outA.String())
	}
	if stB.Received != 3 || strings.Count(outB.String(), "ttl=99 ") != 3 {
		t.Errorf("instance B:\n%s", outB.String())
	}

	// B's neighbour goes away: A still reaches its own 10.1.1.1, B nothing.
	run(t, "ip", "-n", "vt-diag-jb", "link", "set", "vtdjb", "down")
	run(t, "ip", "-n", "vt-diag-ja", "neigh", "flush", "all")
	outA.Reset()
	outB.Reset()
	stA, errA = Ping(ctx, a, PingOptions{Dest: dest, Count: 2, Timeout: 300 * time.Millisecond}, &outA)
	stB, errB = Ping(ctx, a2, PingOptions{Dest: dest, Count: 2, Timeout: 300 * time.Millisecond}, &outB)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if stA.Received != 2 || stB.Received != 0 || !strings.Contains(outB.String(), "100.00% packet loss") {
		t.Fatalf("after B's neighbour went down:\nA:\n%s\nB:\n%s", outA.String(), outB.String())
	}
}

// s (10.1.1.2) -- r (10.1.1.1 | 10.2.2.1, forwarding) -- d (10.2.2.2)
func TestLabTracert(t *testing.T) {
	requireRoot(t)
	s := labNS(t, "ts", false)
	r := labNS(t, "tr", true)
	d := labNS(t, "td", false)
	// Linux limits ICMP errors per peer (icmp_ratelimit, a burst of 6 then
	// one a second); the concurrent runs below need more than that.
	sysctl(t, r, "net/ipv4/icmp_ratelimit", "0")
	sysctl(t, d, "net/ipv4/icmp_ratelimit", "0")
	link(t, "vtdt", "ts", "10.1.1.2/24", "tr", "10.1.1.1/24")
	link(t, "vtdu", "tr", "10.2.2.1/24", "td", "10.2.2.2/24")
	run(t, "ip", "-n", "vt-diag-ts", "route", "add", "default", "via", "10.1.1.1")
	run(t, "ip", "-n", "vt-diag-td", "route", "add", "default", "via", "10.2.2.1")
	ctx := context.Background()
	dest := netip.MustParseAddr("10.2.2.2")
	hopRE := regexp.MustCompile(`^ (\d+) (\S+) (\d+) ms  (\d+) ms  (\d+) ms$`)

	t.Run("two hops", func(t *testing.T) {
		var out bytes.Buffer
		res, err := Tracert(ctx, s, TracertOptions{Dest: dest, Timeout: 2 * time.Second}, &out)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 3 ||
			lines[0] != " traceroute to 10.2.2.2(10.2.2.2), max hops: 30 ,packet length: 40,press CTRL_C to break" {
			t.Fatalf("output:\n%s", out.String())
		}
		for i, want := range []string{"10.1.1.1", "10.2.2.2"} {
			m := hopRE.FindStringSubmatch(lines[i+1])
			if m == nil || m[1] != fmt.Sprint(i+1) || m[2] != want {
				t.Fatalf("hop %d: %q, want %s answering 3 probes\n%s", i+1, lines[i+1], want, out.String())
			}
		}
		if !res.Reached || res.Unreachable || res.Hops != 2 {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("first ttl and source", func(t *testing.T) {
		var out bytes.Buffer
		res, err := Tracert(ctx, s, TracertOptions{Dest: dest, FirstTTL: 2, Probes: 1, Source: netip.MustParseAddr("10.1.1.2"),
			Timeout: 2 * time.Second}, &out)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 2 || !regexp.MustCompile(`^ 2 10\.2\.2\.2 \d+ ms$`).MatchString(lines[1]) || !res.Reached {
			t.Fatalf("result %+v\n%s", res, out.String())
		}
	})

	t.Run("silent hops up to max", func(t *testing.T) {
		// The destination drops the probes silently: stars until -m.
		run(t, "ip", "-n", "vt-diag-td", "route", "add", "blackhole", "10.1.1.0/24")
		defer run(t, "ip", "-n", "vt-diag-td", "route", "del", "blackhole", "10.1.1.0/24")
		var out bytes.Buffer
		var events []TracertEvent
		r := NewTracertRenderer(&out)
		res, err := RunTracert(ctx, s, TracertOptions{Dest: dest, MaxTTL: 3, Probes: 2, Timeout: 300 * time.Millisecond},
			func(e TracertEvent) error { events = append(events, e); return r.Event(e) })
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 4 || !regexp.MustCompile(`^ 1 10\.1\.1\.1 \d+ ms  \d+ ms$`).MatchString(lines[1]) ||
			lines[2] != " 2 * *" || lines[3] != " 3 * *" || res.Reached || res.Hops != 3 {
			t.Fatalf("result %+v\n%s", res, out.String())
		}
		if last := events[len(events)-1]; last.Kind != TracertDone || last.Result != res {
			t.Fatalf("last event %+v", last)
		}
	})

	t.Run("source not local", func(t *testing.T) {
		var out bytes.Buffer
		_, err := Tracert(ctx, s, TracertOptions{Dest: dest, Source: netip.MustParseAddr("10.2.2.2")}, &out)
		if err == nil || !strings.Contains(err.Error(), "source address 10.2.2.2 is not an address of this instance") || out.Len() != 0 {
			t.Fatalf("err = %v, output %q", err, out.String())
		}
	})

	t.Run("ctrl c", func(t *testing.T) {
		run(t, "ip", "-n", "vt-diag-td", "route", "add", "blackhole", "10.1.1.0/24")
		defer run(t, "ip", "-n", "vt-diag-td", "route", "del", "blackhole", "10.1.1.0/24")
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var out bytes.Buffer
		r := NewTracertRenderer(&out)
		var kinds []TracertEventKind
		start := time.Now()
		res, err := RunTracert(ctx, s, TracertOptions{Dest: dest, Timeout: 5 * time.Second},
			func(e TracertEvent) error {
				kinds = append(kinds, e.Kind)
				if e.Kind == TracertHopStart && e.TTL == 2 {
					time.AfterFunc(200*time.Millisecond, cancel) // while hop 2's first probe waits
				}
				return r.Event(e)
			})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Fatalf("cancel took %v", d)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 3 || lines[2] != " 2" || res.Hops != 2 || res.Reached ||
			kinds[len(kinds)-2] != TracertHopEnd || kinds[len(kinds)-1] != TracertDone {
			t.Fatalf("result %+v kinds %v\n%s", res, kinds, out.String())
		}
	})

	t.Run("concurrent runs do not mix", func(t *testing.T) {
		var wg sync.WaitGroup
		outs := make([]bytes.Buffer, 3)
		for i := range outs {
			wg.Go(func() {
				res, err := Tracert(ctx, s, TracertOptions{Dest: dest, Probes: 2, Timeout: 2 * time.Second}, &outs[i])
				if err != nil || !res.Reached || res.Hops != 2 {
					t.Errorf("run %d: %+v %v", i, res, err)
				}
			})
		}
		wg.Wait()
		for i := range outs {
			lines := strings.Split(strings.TrimSuffix(outs[i].String(), "\n"), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[1], " 1 10.1.1.1 ") || !strings.HasPrefix(lines[2], " 2 10.2.2.2 ") ||
				strings.Contains(outs[i].String(), "*") {
				t.Errorf("run %d:\n%s", i, outs[i].String())
			}
		}
	})
}
