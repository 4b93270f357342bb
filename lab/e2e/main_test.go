// Package e2e holds the end-to-end tests of the lab runner: real topologies
// brought up with the vpnos binary built in TestMain, on network namespaces
// and in Docker.
package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// prefix of every lab these tests run (namespaces and containers are
// clab-vtlab-...), so that stale ones can be removed safely.
const prefix = "vtlab"

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vpnos-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, err = labtest.BuildVpnos(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
}

// writeTopology writes text to a new file and returns its path.
func writeTopology(t testing.TB, name, text string) string {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// lineTopology is n nodes r1..rn in a line: r(i):eth2 -- r(i+1):eth1.
func lineTopology(lab string, n int, defaults string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ntopology:\n  defaults:\n    kind: linux\n%s  nodes:\n", lab, defaults)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "    r%d:\n", i)
	}
	if n > 1 {
		b.WriteString("  links:\n")
	}
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "    - endpoints: [\"r%d:eth2\", \"r%d:eth1\"]\n", i, i+1)
	}
	return b.String()
}

// nsLinks lists the links of a network namespace: name -> link.
func nsLinks(t testing.TB, h netns.NsHandle) map[string]netlink.Link {
	t.Helper()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	links, err := nh.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]netlink.Link{}
	for _, l := range links {
		out[l.Attrs().Name] = l
	}
	return out
}

// nsRoutes counts the IPv4 routes of a network namespace.
func nsRoutes(t testing.TB, h netns.NsHandle) []netlink.Route {
	t.Helper()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	routes, err := nh.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

// memory sums VmRSS and Pss (proportional: shared pages split between
// sharers) of processes, in KiB.
func memory(pids []int) (rss, pss int) {
	for _, p := range pids {
		rss += statusField(fmt.Sprintf("/proc/%d/status", p), "VmRSS:")
		pss += statusField(fmt.Sprintf("/proc/%d/smaps_rollup", p), "Pss:")
	}
	return rss, pss
}

func statusField(file, key string) int {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == key {
			n, _ := strconv.Atoi(fields[1])
			return n
		}
	}
	return 0
}

// netnsPIDs lists the processes of every node of a netns lab, by node.
func netnsPIDs(t testing.TB, st *runner.State) map[string][]int {
	t.Helper()
	var names []string
	for _, n := range st.Nodes {
		names = append(names, n.Runtime)
	}
	procs := runner.NetnsProcs(names)
	out := map[string][]int{}
	for _, n := range st.Nodes {
		if len(procs[n.Runtime]) == 0 {
			t.Fatalf("node %s: no process in namespace %s", n.Name, n.Runtime)
		}
		out[n.Name] = procs[n.Runtime]
	}
	return out
}

// labMemory is the memory of every node process of a netns lab, in KiB per node.
func labMemory(t testing.TB, st *runner.State) (rssPerNode, pssPerNode float64) {
	t.Helper()
	var rss, pss int
	for _, pids := range netnsPIDs(t, st) {
		r, p := memory(pids)
		rss += r
		pss += p
	}
	return float64(rss) / float64(len(st.Nodes)), float64(pss) / float64(len(st.Nodes))
}

func regexpMatch(expr, s string) bool { return regexp.MustCompile(expr).MatchString(s) }

// crashUp starts `vpnos lab up args... file`, waits until the state file
// shows all n nodes started, kills up with SIGKILL (a crash halfway through
// up: the nodes never get ready) and returns the state it left.
func crashUp(t *testing.T, work, lab, file string, n int, wait time.Duration, args ...string) *runner.State {
	t.Helper()
	up := exec.Command(bin, append(append(append([]string{"lab", "up"}, args...), "--workdir", work, "--timeout", "1m"), file)...)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	stateFile := filepath.Join(work, lab, runner.StateFile)
	deadline := time.Now().Add(wait)
	for {
		var st runner.State
		if b, err := os.ReadFile(stateFile); err == nil && json.Unmarshal(b, &st) == nil && len(st.Nodes) == n &&
			!slices.ContainsFunc(st.Nodes, func(ns runner.NodeState) bool { return ns.PID <= 0 }) {
			break
		}
		if time.Now().After(deadline) {
			up.Process.Kill()
			up.Wait()
			t.Fatal("up did not start the nodes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := up.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	up.Wait()
	st, err := runner.Load(work, lab)
	if err != nil {
		t.Fatal(err)
	}
	if st.Complete {
		t.Fatal("state says complete")
	}
	return st
}

// checkNodeLinks checks that a node (namespace h, reachable at nsPath) has
// exactly lo, the extra links (eth0 in Docker) and its data links, and that
// the data links are veths of MTU runner.LinkMTU with TX checksum offload
// off, as containerlab makes them. It returns the node's links.
func checkNodeLinks(t *testing.T, n runner.NodeState, h netns.NsHandle, nsPath string, extra ...string) map[string]netlink.Link {
	t.Helper()
	links := nsLinks(t, h)
	want := append(append([]string{"lo"}, extra...), n.Intfs...)
	if len(links) != len(want) {
		t.Errorf("%s: links %v, want %v", n.Name, keys(links), want)
	}
	for _, ifc := range n.Intfs {
		lk, ok := links[ifc]
		if !ok {
			t.Errorf("%s: no %s", n.Name, ifc)
			continue
		}
		if lk.Type() != "veth" || lk.Attrs().MTU != runner.LinkMTU {
			t.Errorf("%s %s: type %s mtu %d", n.Name, ifc, lk.Type(), lk.Attrs().MTU)
		}
		on, err := runner.TxChecksum(nsPath, ifc)
		if err != nil || on {
			t.Errorf("%s %s: tx checksum offload on=%v err=%v", n.Name, ifc, on, err)
		}
	}
	return links
}
