package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// alive tells whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// leftovers checks that nothing of a netns lab survives down.
func leftovers(t *testing.T, st *runner.State, pids []int) {
	t.Helper()
	for _, n := range st.Nodes {
		if _, err := os.Stat(runner.NetnsPath(n.Runtime)); err == nil {
			t.Errorf("namespace %s is still there", n.Runtime)
		}
	}
	deadline := time.Now().Add(2 * time.Second) // zombies are reaped by their new parent
	for _, p := range pids {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(p) {
			t.Errorf("process %d is still running", p)
		}
	}
	if _, err := os.Stat(st.Dir); err == nil {
		t.Errorf("lab folder %s is still there", st.Dir)
	}
}

func TestNetnsLine(t *testing.T) {
	needRoot(t)
	labtest.CleanStale(t, prefix+"-line")
	file := writeTopology(t, "line.clab.yml", lineTopology(prefix+"-line", 3, "    exec: [\"cli -c 'display interface brief'\"]\n"))
	l := labtest.Up(t, file, labtest.Options{Binary: bin})
	// exec entries ran once the nodes were ready.
	if !strings.Contains(l.UpOutput, "r2: exec cli -c 'display interface brief'\n") ||
		!regexpMatch(`(?m)^  GigabitEthernet0/2/0 +up +up`, l.UpOutput) {
		t.Errorf("up output does not show the exec entries:\n%s", l.UpOutput)
	}
	// `vpnos lab cli` reads commands from stdin when it is not a terminal.
	cli := exec.Command(bin, "lab", "cli", "--workdir", l.Workdir(), file, "r3")
	cli.Stdin = strings.NewReader("display version\n")
	if out, err := cli.CombinedOutput(); err != nil || !strings.Contains(string(out), "VRP (R) software") {
		t.Errorf("lab cli: %v\n%s", err, out)
	}

	// Every CLI answers, and the links are on the right ports, up.
	ports := map[string][]string{
		"r1": {"GigabitEthernet0/2/0"},
		"r2": {"GigabitEthernet0/1/0", "GigabitEthernet0/2/0"},
		"r3": {"GigabitEthernet0/1/0"},
	}
	for node, want := range ports {
		l.WaitCLI(t, node, "display version", labtest.Contains("VRP (R) software"), 10*time.Second)
		var rows []labtest.Row
		for _, p := range want {
			rows = append(rows, labtest.Row{"Interface": p, "PHY": "up", "Protocol": "up"})
		}
		out := l.WaitCLI(t, node, "display interface brief", labtest.Rows("Interface", rows...), 10*time.Second)
		got, _ := labtest.ParseTable(out, "Interface")
		var ge int
		for _, r := range got {
			if strings.HasPrefix(r["Interface"], "GigabitEthernet") {
				ge++
			}
		}
		if ge != len(want) {
			t.Errorf("%s: %d GigabitEthernet ports, want %d:\n%s", node, ge, len(want), out)
		}
	}

	st, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, n := range st.Nodes {
		h, err := netns.GetFromName(n.Runtime)
		if err != nil {
			t.Fatal(err)
		}
		// The node sees only lo and its own links, has no route anywhere,
		// and its links are MTU 9500 with TX checksum offload off.
		checkNodeLinks(t, n, h, runner.NetnsPath(n.Runtime))
		if r := nsRoutes(t, h); len(r) != 0 {
			t.Errorf("%s: routes %v, want none", n.Name, r)
		}
		h.Close()
		p, err := runner.NetnsPIDs(n.Runtime)
		if err != nil || len(p) < 2 {
			t.Errorf("%s: processes %v (%v), want vpnos boot and daemon", n.Name, p, err)
		}
		pids = append(pids, p...)
	}

	out, err := l.Inspect()
	if err != nil || !strings.Contains(out, "r2    clab-vtlab-line-r2  ready") || !strings.Contains(out, "eth1->r1:eth2") {
		t.Errorf("inspect: %v\n%s", err, out)
	}
	// A host program run in r2's namespace sees r2's links.
	if dev, err := l.HostCmd("r2", 5*time.Second, "cat", "/proc/net/dev"); err != nil ||
		!regexpMatch(`(?m)^\s*eth1:`, dev) || !regexpMatch(`(?m)^\s*eth2:`, dev) || regexpMatch(`(?m)^\s*eth3:`, dev) {
		t.Errorf("HostCmd: %v\n%s", err, dev)
	}
	js, err := exec.Command(bin, "lab", "inspect", "--format", "json", "--workdir", l.Workdir(), file).Output()
	var doc struct {
		Lab   string              `json:"lab"`
		Nodes []runner.NodeStatus `json:"nodes"`
	}
	if err != nil || json.Unmarshal(js, &doc) != nil || doc.Lab != "vtlab-line" || len(doc.Nodes) != 3 {
		t.Errorf("inspect --format json: %v\n%s", err, js)
	}
	for _, n := range doc.Nodes {
		if n.State != "ready" || n.Name != "clab-vtlab-line-"+n.Node {
			t.Errorf("inspect: %+v", n)
		}
	}
	// A failing command exits non-zero with the CLI's error.
	if out, err := l.CLI("r1", "displa foo"); err == nil || !strings.Contains(out, "Error:") {
		t.Errorf("bad command: err=%v out=%q", err, out)
	}

	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	leftovers(t, st, pids)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestUnsupportedKeyRefused(t *testing.T) {
	tests := []struct {
		name, text, key string
	}{
		{"node startup-config", "name: vtlab-bad\ntopology:\n  nodes:\n    r1:\n      kind: linux\n      startup-config: r1.cfg\n", "topology.nodes.r1.startup-config"},
		{"mgmt", "name: vtlab-bad\nmgmt:\n  network: m\ntopology:\n  nodes:\n    r1: {kind: linux}\n", `"mgmt"`},
		{"link vars", "name: vtlab-bad\ntopology:\n  nodes:\n    r1: {kind: linux}\n    r2: {kind: linux}\n  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n      vars: {a: 1}\n", "topology.links[0].vars"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writeTopology(t, "bad.clab.yml", tc.text)
			work := t.TempDir()
			out, err := exec.Command(bin, "lab", "up", "--workdir", work, file).CombinedOutput()
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(string(out), tc.key) || !strings.Contains(string(out), "not supported") {
				t.Errorf("message does not name %s:\n%s", tc.key, out)
			}
			if _, err := os.Stat(runner.NetnsPath("clab-vtlab-bad-r1")); err == nil {
				t.Error("a namespace was created")
			}
			if ents, _ := os.ReadDir(work); len(ents) != 0 {
				t.Errorf("up left %d entries in its workdir", len(ents))
			}
		})
	}
}

// TestNetnsDownAfterCrash kills `vpnos lab up` while it waits for a node that
// never gets ready; down must still remove every namespace and process.
func TestNetnsDownAfterCrash(t *testing.T) {
	needRoot(t)
	labtest.CleanStale(t, prefix+"-crash")
	// The daemons wait a minute for links that never come, so the nodes do
	// not answer while up waits for them.
	file := writeTopology(t, "crash.clab.yml", lineTopology(prefix+"-crash", 3, "    env: {CLAB_INTFS: \"9\", VPNOS_INTERFACE_WAIT: \"60\"}\n"))
	work, err := os.MkdirTemp("", "vl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	st2 := crashUp(t, work, prefix+"-crash", file, 3, 20*time.Second)
	var pids []int
	for _, n := range st2.Nodes {
		p, err := runner.NetnsPIDs(n.Runtime)
		if err != nil || len(p) == 0 {
			t.Fatalf("%s: no processes (%v): the crash came too late to test anything", n.Name, err)
		}
		pids = append(pids, p...)
	}
	out, err := exec.Command(bin, "lab", "down", "--workdir", work, file).CombinedOutput()
	if err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	leftovers(t, st2, pids)
}

// TestNetns50 brings 50 nodes up in one lab and reports time and memory.
func TestNetns50(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("short")
	}
	labtest.CleanStale(t, prefix+"-fifty")
	file := writeTopology(t, "fifty.clab.yml", lineTopology(prefix+"-fifty", 50, "    env: {VPNOS_INTERFACE_WAIT: \"5\"}\n"))
	l := labtest.Up(t, file, labtest.Options{Binary: bin})
	st, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 50 || len(st.Links) != 49 {
		t.Fatalf("%d nodes, %d links", len(st.Nodes), len(st.Links))
	}
	rss, pss := labMemory(t, st)
	t.Logf("50 nodes up in %s; per node: RSS %.1f MiB, PSS %.1f MiB", l.UpTime.Round(time.Millisecond), rss/1024, pss/1024)
	for _, node := range []string{"r1", "r25", "r50"} {
		l.WaitCLI(t, node, "display version", labtest.Contains("VRP (R) software"), 10*time.Second)
	}
	l.WaitCLI(t, "r25", "display interface brief", labtest.Rows("Interface",
		labtest.Row{"Interface": "GigabitEthernet0/1/0", "PHY": "up"},
		labtest.Row{"Interface": "GigabitEthernet0/2/0", "PHY": "up"}), 10*time.Second)
	var pids []int
	for _, n := range st.Nodes {
		p, _ := runner.NetnsPIDs(n.Runtime)
		pids = append(pids, p...)
	}
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	leftovers(t, st, pids)
}

// TestNetnsUpFailureCleansUp: a node that cannot start (invalid settings)
// makes up fail with the reason, and up removes what it had created.
func TestNetnsUpFailureCleansUp(t *testing.T) {
	needRoot(t)
	labtest.CleanStale(t, prefix+"-fail")
	file := writeTopology(t, "fail.clab.yml", "name: vtlab-fail\ntopology:\n  nodes:\n    r1: {kind: linux}\n    r2: {kind: linux, env: {VPNOS_LOG_LEVEL: loud}}\n  links:\n    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n")
	work := t.TempDir()
	out, err := exec.Command(bin, "lab", "up", "--workdir", work, file).CombinedOutput()
	if err == nil {
		t.Fatalf("up succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), `node r2: settings: log_level: "loud"`) {
		t.Errorf("up does not say why:\n%s", out)
	}
	for _, n := range []string{"r1", "r2"} {
		if _, err := os.Stat(runner.NetnsPath("clab-vtlab-fail-" + n)); err == nil {
			t.Errorf("namespace of %s left behind", n)
		}
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("up left %d entries in its workdir", len(ents))
	}
}

// TestNetnsRefusals: what the netns runtime cannot honour is refused before
// anything is created.
func TestNetnsRefusals(t *testing.T) {
	needRoot(t)
	tests := []struct{ name, node, want string }{
		{"exec of a program", "{kind: linux, exec: [\"ip link\"]}", "runs only `cli ...` entries"},
		{"bind elsewhere", "{kind: linux, binds: [\"/tmp:/opt/x\"]}", "can only bind a folder to /etc/vpnos/"},
		{"missing config folder", "{kind: linux, binds: [\"nope:/etc/vpnos/\"]}", "no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writeTopology(t, "r.clab.yml", "name: vtlab-refuse\ntopology:\n  nodes:\n    r1: "+tc.node+"\n")
			work := t.TempDir()
			out, err := exec.Command(bin, "lab", "up", "--workdir", work, file).CombinedOutput()
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(string(out), "node r1") || !strings.Contains(string(out), tc.want) {
				t.Errorf("message lacks %q:\n%s", tc.want, out)
			}
			if _, err := os.Stat(runner.NetnsPath("clab-vtlab-refuse-r1")); err == nil {
				t.Error("a namespace was created")
			}
		})
	}
}

// TestNetnsTwoLabs runs two labs with the same node names at once: both
// work, and taking one down leaves the other untouched.
func TestNetnsTwoLabs(t *testing.T) {
	needRoot(t)
	labtest.CleanStale(t, prefix+"-twin")
	a := labtest.Up(t, writeTopology(t, "a.clab.yml", lineTopology(prefix+"-twin-a", 2, "")), labtest.Options{Binary: bin})
	b := labtest.Up(t, writeTopology(t, "b.clab.yml", lineTopology(prefix+"-twin-b", 2, "")), labtest.Options{Binary: bin})
	for _, l := range []*labtest.Lab{a, b} {
		l.WaitCLI(t, "r1", "display interface brief", labtest.Rows("Interface", labtest.Row{"Interface": "GigabitEthernet0/2/0", "PHY": "up"}), 10*time.Second)
	}
	stA, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Down(); err != nil {
		t.Fatal(err)
	}
	leftovers(t, stA, nil)
	b.WaitCLI(t, "r2", "display interface brief", labtest.Rows("Interface", labtest.Row{"Interface": "GigabitEthernet0/1/0", "PHY": "up"}), 10*time.Second)
}
