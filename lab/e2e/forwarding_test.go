package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
	"vpnos/lab/topology"
)

// Helpers of the forwarding lab tests (issue 5): labs of the repository
// copied under a test name, CLI shortcuts, ping and tracert checks.

// forwardingPrefix names the labs of the forwarding tests (clab-vtl5-...).
const forwardingPrefix = "vtl5"

// labCopy returns a copy of the topology file lab/<folder>/<file> named lab,
// its binds made absolute and, if image is set, its image replaced, so that
// the test can run next to a `make lab` of the same folder; and the folder.
func labCopy(t testing.TB, folder, file, lab, image string) (string, string) {
	t.Helper()
	root, err := labtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "lab", folder)
	src, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^name: .*$`).ReplaceAllString(string(src), "name: "+lab)
	text = regexp.MustCompile(`"([A-Za-z0-9-]+):/etc/vpnos/"`).ReplaceAllString(text, `"`+dir+`/$1:/etc/vpnos/"`)
	if image != "" {
		text = strings.ReplaceAll(text, "image: "+topology.DefaultImage+"\n", "image: "+image+"\n")
	}
	return writeTopology(t, file, text), dir
}

// runtimes runs a forwarding test on both lab runtimes: network namespaces,
// and Docker containers (what containerlab users run).
func runtimes(t *testing.T, test func(t *testing.T, rt string)) {
	for _, rt := range []string{runner.RuntimeNetns, runner.RuntimeDocker} {
		t.Run(rt, func(t *testing.T) { test(t, rt) })
	}
}

// upCopy brings a copy of a repository lab up on a runtime under the name
// vtl5-<name>-<runtime> and waits until every node runs its startup.cfg.
func upCopy(t *testing.T, rt, folder, file, name string, nodes ...string) *labtest.Lab {
	t.Helper()
	needRoot(t)
	image := ""
	if rt == runner.RuntimeDocker {
		image = labtest.Image(t, bin)
	}
	lab := forwardingPrefix + "-" + name + "-" + rt
	labtest.CleanStale(t, lab)
	topo, dir := labCopy(t, folder, file, lab, image)
	l := labtest.Up(t, topo, labtest.Options{Binary: bin, Runtime: rt})
	waitStartupLoaded(t, l, dir, 20*time.Second, nodes...)
	return l
}

// configure runs commands in system view and commits them.
func configure(t testing.TB, l *labtest.Lab, node string, cmds ...string) {
	t.Helper()
	line := "system-view; " + strings.Join(cmds, "; ") + "; commit"
	out, err := l.CLI(node, line)
	if err != nil || strings.Contains(out, "Error") {
		t.Fatalf("%s: %s: %v\n%s", node, line, err, out)
	}
}

var received = regexp.MustCompile(`(?m)^\s+(\d+) packet\(s\) transmitted\n\s+(\d+) packet\(s\) received`)

// pingResult runs a ping command and returns how many echoes were sent and
// answered.
func pingResult(t testing.TB, l *labtest.Lab, node, cmd string) (sent, got int, out string) {
	t.Helper()
	out, err := l.CLI(node, cmd)
	m := received.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("%s: %s: %v\n%s", node, cmd, err, out)
	}
	fmt.Sscan(m[1], &sent)
	fmt.Sscan(m[2], &got)
	return sent, got, out
}

// pingOK waits (at most 15 s) until every echo of a ping command is answered
// by from, and returns the output.
func pingOK(t testing.TB, l *labtest.Lab, node, cmd, from string) string {
	t.Helper()
	reply := regexp.MustCompile(`Reply from ` + regexp.QuoteMeta(from) + `: bytes=\d+ Sequence=\d+ ttl=(\d+)`)
	return l.WaitCLI(t, node, cmd, labtest.MatchFunc(func(out string) error {
		m := received.FindStringSubmatch(out)
		if m == nil || m[1] != m[2] || m[1] == "0" {
			return fmt.Errorf("not every echo answered")
		}
		if n := len(reply.FindAllString(out, -1)); fmt.Sprint(n) != m[2] {
			return fmt.Errorf("%d replies from %s, want %s", n, from, m[2])
		}
		return nil
	}), 15*time.Second)
}

// pingFails runs a ping command that must get no answer at all.
func pingFails(t testing.TB, l *labtest.Lab, node, cmd string) {
	t.Helper()
	sent, got, out := pingResult(t, l, node, cmd)
	if sent == 0 || got != 0 || !strings.Contains(out, "100.00% packet loss") {
		t.Errorf("%s: %s: %d of %d answered, want none:\n%s", node, cmd, got, sent, out)
	}
}

var tracertHop = regexp.MustCompile(`(?m)^ *(\d+) +(\S+)( +(\d+ ms|\*))+ *$`)

// tracertHops waits (at most 15 s) until tracert lists exactly the hops
// wanted, each answering every probe, and returns the output.
func tracertHops(t testing.TB, l *labtest.Lab, node, cmd string, hops ...string) string {
	t.Helper()
	return l.WaitCLI(t, node, cmd, labtest.MatchFunc(func(out string) error { return sameHops(out, hops) }), 15*time.Second)
}

// tracertNow runs tracert once: it must list exactly the hops wanted, each
// answering every probe.
func tracertNow(t testing.TB, l *labtest.Lab, node, cmd string, hops ...string) {
	t.Helper()
	out, err := l.CLI(node, cmd)
	if err == nil {
		err = sameHops(out, hops)
	}
	if err != nil {
		t.Errorf("%s: %s: %v\n%s", node, cmd, err, out)
	}
}

// sameHops checks tracert output against the hops wanted.
func sameHops(out string, hops []string) error {
	var got []string
	for _, m := range tracertHop.FindAllStringSubmatch(out, -1) {
		if strings.Contains(m[0], "*") {
			return fmt.Errorf("hop %s: a probe timed out", m[1])
		}
		if m[1] != fmt.Sprint(len(got)+1) {
			return fmt.Errorf("hop %s out of order", m[1])
		}
		got = append(got, m[2])
	}
	if strings.Join(got, " ") != strings.Join(hops, " ") {
		return fmt.Errorf("hops %v, want %v", got, hops)
	}
	return nil
}

func TestSameHops(t *testing.T) {
	const head = " traceroute to 10.255.0.3(10.255.0.3), max hops: 30 ,packet length: 40,press CTRL_C to break\n"
	tests := []struct {
		name, out string
		ok        bool
	}{
		{"two hops", head + " 1 198.51.100.2 3 ms  3 ms  4 ms\n 2 10.255.0.3 3 ms  3 ms  3 ms\n", true},
		{"a probe lost", head + " 1 198.51.100.2 3 ms  3 ms  4 ms\n 2 * 10.255.0.3 3 ms  3 ms\n", false},
		{"all lost", head + " 1 198.51.100.2 3 ms  3 ms  4 ms\n 2 * * *\n", false},
		{"a hop missing", head + " 1 10.255.0.3 3 ms  3 ms  3 ms\n", false},
		{"an extra hop", head + " 1 198.51.100.2 3 ms  3 ms  4 ms\n 2 198.51.100.6 1 ms  1 ms  1 ms\n 3 10.255.0.3 3 ms  3 ms  3 ms\n", false},
		{"nothing", "Error: Wrong parameter found at '^' position.\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sameHops(tc.out, []string{"198.51.100.2", "10.255.0.3"})
			if (err == nil) != tc.ok {
				t.Errorf("sameHops: %v, want ok %v", err, tc.ok)
			}
		})
	}
}
