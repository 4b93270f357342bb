package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/cli/proto"
	"vpnos/lab/gen"
	"vpnos/lab/labtest"
)

// ceSession is a CLI session on a CE's management socket, kept open while
// the test pings from it (no `vpnos lab exec` process per call: the cost
// measured is the pings').
type ceSession struct {
	site gen.Site
	cl   *proto.Client
}

func openCE(l *labtest.Lab, s gen.Site) (*ceSession, error) {
	st, err := l.State()
	if err != nil {
		return nil, err
	}
	n, err := st.Node(s.CE)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, _, err := proto.Dial(ctx, n.Socket, proto.Request{User: "admin", Source: "script"})
	if err != nil {
		return nil, err
	}
	return &ceSession{site: s, cl: cl}, nil
}

func (c *ceSession) Close() { c.cl.Close() }

// pingStats matches the statistics of a ping in the CLI's output.
var pingStats = regexp.MustCompile(`--- (\S+) ping statistics ---\s+\d+ packet\(s\) transmitted\s+(\d+) packet\(s\) received`)

// ping pings dst once from the CE's LAN address and tells whether it
// answered.
func (c *ceSession) ping(dst gen.Site, wait time.Duration) (bool, string, error) {
	line := fmt.Sprintf("ping -c 1 -t %d -a %s %s", wait.Milliseconds(), c.site.Addr, dst.Addr)
	resp, err := c.cl.Do(proto.Request{Op: proto.OpExec, Line: line})
	if err != nil {
		return false, resp.Output, err
	}
	m := pingStats.FindStringSubmatch(resp.Output)
	if m == nil || m[1] != dst.Addr.String() {
		return false, resp.Output, fmt.Errorf("%s: %q: no statistics in %q", c.site.CE, line, resp.Output)
	}
	n, _ := strconv.Atoi(m[2])
	return n > 0, resp.Output, nil
}

// reachResult is when the CEs reached their remote sites.
type reachResult struct {
	first   time.Time // when the last CE to reach a remote site reached its first one
	last    time.Time // when the last site of the last CE answered
	pings   int       // pings sent in all
	lost    int       // pings not answered
	missing []string  // "CE -> site" not reached before the deadline, or why not
}

// untilVPNsReach polls, from every CE at once (at most parallel pings in
// flight), until the CE pings every remote site of its VPN, or the
// deadline passes. A CE pings its remote sites in turn, going on to the
// next one when one answers and backing off (100 ms to 1 s) when one does
// not, so that a VPN not up yet costs one ping timeout per round.
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
			// Each CE starts with the sites after its own, so that not
			// every CE pings the same site at the same time.
			pending := lab.Remote(s)
			at := slices.IndexFunc(pending, func(d gen.Site) bool { return d.CE > s.CE })
			if at > 0 {
				pending = append(pending[at:], pending[:at]...)
			}
			ce, err := openCE(l, s)
			if err != nil {
				mu.Lock()
				res.missing = append(res.missing, fmt.Sprintf("%s: %v", s.CE, err))
				mu.Unlock()
				return
			}
			defer ce.Close()
			backoff := 100 * time.Millisecond
			reached := 0
			for len(pending) > 0 && time.Now().Before(deadline) {
				sem <- struct{}{}
				ok, _, err := ce.ping(pending[0], 300*time.Millisecond)
				<-sem
				now := time.Now()
				mu.Lock()
				res.pings++
				if !ok {
					res.lost++
				}
				if ok && reached == 0 && now.After(res.first) {
					res.first = now
				}
				mu.Unlock()
				if err != nil || !ok {
					time.Sleep(backoff) // poll interval, bounded by the deadline loop
					backoff = min(2*backoff, time.Second)
					continue
				}
				reached++
				backoff = 100 * time.Millisecond
				pending = pending[1:]
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
// a ring, 3 PEs, 2 route reflectors, 2 VPNs: 14 nodes), PE-CE by static
// routes, then by EBGP, and checks that every CE reaches every remote site
// of its VPN over the core (OSPF, LDP, VPNv4 reflected by both RRs) and no
// site of the other VPN.
func TestGeneratedL3VPN(t *testing.T) {
	for _, c := range []gen.L3VPN{
		{Name: "sc-l3s", P: 3, PE: 3, VPNs: 2},
		{Name: "sc-l3e", P: 3, PE: 3, VPNs: 2, EBGP: true},
	} {
		pece := "static"
		if c.EBGP {
			pece = "ebgp"
		}
		t.Run(pece, func(t *testing.T) { testGeneratedL3VPN(t, c) })
	}
}

func testGeneratedL3VPN(t *testing.T, c gen.L3VPN) {
	needRoot(t)
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

	// Both reflectors have every PE and each other as peers, and each
	// reflects to PE1 the routes of the other PEs: two LANs and two PE-CE
	// links each.
	for _, rr := range []string{"RR1", "RR2"} {
		want := fmt.Sprintf("Total number of peers : %d +Peers in established state : %d\n", c.PE+1, c.PE+1)
		l.WaitCLI(t, rr, "display bgp vpnv4 all peer", labtest.Regexp(want), 10*time.Second)
	}
	pePeers := 2 // the RRs, and with EBGP a CE per VPN instance
	if c.EBGP {
		pePeers += c.VPNs
	}
	l.WaitCLI(t, "PE1", "display bgp vpnv4 all peer", labtest.All(
		labtest.Regexp(fmt.Sprintf(`Total number of peers : %d +Peers in established state : %d\n`, pePeers, pePeers)),
		labtest.Regexp(fmt.Sprintf(`(?m)^ +10\.255\.3\.1 +4 +65000 .* Established +%d$`, 4*(c.PE-1))),
		labtest.Regexp(fmt.Sprintf(`(?m)^ +10\.255\.3\.2 +4 +65000 .* Established +%d$`, 4*(c.PE-1))),
	), 10*time.Second)

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
			ce, err := openCE(l, s)
			if err != nil {
				t.Error(err)
				return
			}
			defer ce.Close()
			for _, f := range lab.Foreign(s) {
				ok, out, err := ce.ping(f, 300*time.Millisecond)
				if err != nil || ok {
					t.Errorf("%s (%s) -> %s (%s): reached=%v err=%v\n%s", s.CE, s.VPN, f.CE, f.VPN, ok, err, out)
				}
			}
		}(s)
	}
	wg.Wait()
}
