package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/lab/gen"
	"vpnos/lab/labtest"
)

// pingBatch is how many pings one CLI call of a CE sends at most.
const pingBatch = 16

// pingStats matches the statistics of one ping in a CLI output.
var pingStats = regexp.MustCompile(`--- (\S+) ping statistics ---\s+\d+ packet\(s\) transmitted\s+(\d+) packet\(s\) received`)

// pingFrom pings each destination once from a CE, sourced from its LAN
// address, in one CLI call; it returns the destinations that answered.
func pingFrom(l *labtest.Lab, s gen.Site, dsts []gen.Site, wait time.Duration) (map[string]bool, string, error) {
	var cmds []string
	for _, d := range dsts {
		cmds = append(cmds, fmt.Sprintf("ping -c 1 -t %d -a %s %s", wait.Milliseconds(), s.Addr, d.Addr))
	}
	out, err := l.CLI(s.CE, strings.Join(cmds, "; "))
	if err != nil {
		return nil, out, err
	}
	ok := map[string]bool{}
	for _, m := range pingStats.FindAllStringSubmatch(out, -1) {
		if n, _ := strconv.Atoi(m[2]); n > 0 {
			ok[m[1]] = true
		}
	}
	return ok, out, nil
}

// reachResult is when the CEs reached their remote sites.
type reachResult struct {
	first   time.Time // when the last CE to reach a remote site reached its first one
	last    time.Time // when the last site of the last CE answered
	pings   int       // pings sent in all
	lost    int       // pings not answered
	calls   int       // CLI calls
	missing []string  // "CE -> site" not reached before the deadline
}

// untilVPNsReach polls, from every CE at once (at most parallel CLI calls
// at a time), until the CE pings every remote site of its VPN, or the
// deadline passes. A CE pings its first unreached site alone until it
// answers (the VPN is not up before), then the rest, several per CLI call;
// after a call where a ping was lost it goes back to one at a time, so
// that a VPN half up costs one ping timeout per round, not one per site.
func untilVPNsReach(l *labtest.Lab, lab *gen.Lab, parallel int, deadline time.Time) reachResult {
	sem := make(chan struct{}, parallel)
	var (
		mu  sync.Mutex
		res reachResult
		wg  sync.WaitGroup
	)
	for _, s := range lab.Sites {
		wg.Add(1)
		go func(s gen.Site) {
			defer wg.Done()
			pending := lab.Remote(s)
			backoff := 100 * time.Millisecond
			gate := true
			for len(pending) > 0 && time.Now().Before(deadline) {
				batch := pending[:min(pingBatch, len(pending))]
				if gate {
					batch = pending[:1]
				}
				sem <- struct{}{}
				ok, _, err := pingFrom(l, s, batch, 300*time.Millisecond)
				<-sem
				now := time.Now()
				mu.Lock()
				res.pings += len(batch)
				res.lost += len(batch) - len(ok)
				res.calls++
				if len(ok) > 0 && len(pending) == len(lab.Remote(s)) && now.After(res.first) {
					res.first = now
				}
				mu.Unlock()
				if err != nil || len(ok) == 0 {
					time.Sleep(backoff) // poll interval, bounded by the deadline loop
					backoff = min(2*backoff, time.Second)
					continue
				}
				gate, backoff = len(ok) < len(batch), 100*time.Millisecond
				pending = slices.DeleteFunc(pending, func(d gen.Site) bool { return ok[d.Addr.String()] })
				if len(pending) == 0 {
					mu.Lock()
					if now.After(res.last) {
						res.last = now
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			for _, d := range pending {
				res.missing = append(res.missing, s.CE+" -> "+d.CE+" "+d.Addr.String())
			}
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	slices.Sort(res.missing)
	return res
}

// TestGeneratedL3VPN brings up a small generated L3VPN lab (3 P routers in
// a ring, 3 PEs, 2 route reflectors, 2 VPNs: 14 nodes) and checks that
// every CE reaches every remote site of its VPN over the core (OSPF, LDP,
// VPNv4 reflected by both RRs) and no site of the other VPN.
func TestGeneratedL3VPN(t *testing.T) {
	needRoot(t)
	c := gen.L3VPN{Name: "sc-l3vpn", P: 3, PE: 3, VPNs: 2}
	lab, err := c.Generate()
	if err != nil {
		t.Fatal(err)
	}
	file, err := lab.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	labtest.CleanStale(t, c.Name)
	start := time.Now()
	l := labtest.Up(t, file, labtest.Options{Binary: bin})
	res := untilVPNsReach(l, lab, 4, time.Now().Add(60*time.Second))
	if len(res.missing) > 0 {
		for _, n := range []string{"PE1", "RR1"} {
			out, _ := l.CLI(n, "display ip routing-table vpn-instance vpn1; display mpls lsp; display ospf peer brief")
			t.Logf("%s:\n%s", n, out)
		}
		t.Fatalf("not reached within 60 s of the nodes being ready:\n  %s", strings.Join(res.missing, "\n  "))
	}
	t.Logf("every CE reached its %d remote sites %.1fs after lab up started (nodes ready in %.1fs; %d pings)",
		c.PE-1, res.last.Sub(start).Seconds(), l.UpTime.Seconds(), res.pings)

	// The PE's instance holds the remote LANs as IBGP routes through the
	// remote PE's loopback (reflected, not through the RR).
	out, err := l.CLI("PE1", "display ip routing-table vpn-instance vpn2")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range lab.Sites {
		if s.VPN == "vpn2" && s.PE != "PE1" {
			pe := strings.TrimPrefix(s.PE, "PE")
			row := fmt.Sprintf(`(?m)^\s*%s/24\s+IBGP\s+255\s+0\s+RD\s+10\.255\.2\.%s\s`, regexp.QuoteMeta(s.LAN.Addr().String()), pe)
			if !regexpMatch(row, out) {
				t.Errorf("PE1 vpn2: no IBGP route to %s through %s:\n%s", s.LAN, s.PE, out)
			}
		}
		if s.VPN == "vpn1" && strings.Contains(out, s.LAN.Addr().String()+"/24") {
			t.Errorf("PE1 vpn2 holds vpn1's %s:\n%s", s.LAN, out)
		}
	}

	// No CE reaches a site of the other VPN (the remote LANs of vpn2 from
	// vpn1's CEs and the other way round).
	var wg sync.WaitGroup
	for _, s := range lab.Sites {
		wg.Add(1)
		go func(s gen.Site) {
			defer wg.Done()
			foreign := lab.Foreign(s)
			ok, out, err := pingFrom(l, s, foreign, 300*time.Millisecond)
			if err != nil {
				t.Errorf("%s: %v\n%s", s.CE, err, out)
				return
			}
			if len(ok) > 0 || len(pingStats.FindAllString(out, -1)) != len(foreign) {
				t.Errorf("%s (%s) reached another VPN's sites %v:\n%s", s.CE, s.VPN, ok, out)
			}
		}(s)
	}
	wg.Wait()
}
