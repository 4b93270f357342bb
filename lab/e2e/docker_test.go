package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

func containerPID(t testing.TB, name string) int {
	t.Helper()
	out, err := exec.Command("docker", "container", "inspect", "--format", "{{.State.Pid}}", name).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		t.Fatalf("container %s: pid %q", name, out)
	}
	return pid
}

// hostLinkExists tells whether the host has a link with this index and name.
func hostLinkExists(index int, name string) bool {
	l, err := netlink.LinkByIndex(index)
	return err == nil && l.Attrs().Name == name
}

// TestDockerLine runs the three-node line in containers from the image,
// unprivileged with the capabilities the README names. Without a Docker
// daemon it fails: CI installs and starts one.
func TestDockerLine(t *testing.T) {
	needRoot(t)
	image := labtest.Image(t, bin)
	labtest.CleanStale(t, prefix+"-dline")
	defaults := fmt.Sprintf("    image: %s\n    privileged: false\n    cap-add: [NET_ADMIN, NET_RAW, SYS_ADMIN]\n"+
		"    exec: [\"cli -c 'display interface brief'\"]\n", image)
	file := writeTopology(t, "dline.clab.yml", lineTopology(prefix+"-dline", 3, defaults))
	l := labtest.Up(t, file, labtest.Options{Binary: bin, Runtime: runner.RuntimeDocker})
	// exec entries ran in the containers once the nodes were ready.
	if !strings.Contains(l.UpOutput, "r2: exec cli -c 'display interface brief'\n") ||
		!regexpMatch(`(?m)^  GigabitEthernet0/2/0 +up +up`, l.UpOutput) {
		t.Errorf("up output does not show the exec entries:\n%s", l.UpOutput)
	}

	ports := map[string][]string{
		"r1": {"GigabitEthernet0/2/0"},
		"r2": {"GigabitEthernet0/1/0", "GigabitEthernet0/2/0"},
		"r3": {"GigabitEthernet0/1/0"},
	}
	for node, want := range ports {
		l.WaitCLI(t, node, "display version", labtest.Contains("VRP (R) software"), 20*time.Second)
		var rows []labtest.Row
		for _, p := range want {
			rows = append(rows, labtest.Row{"Interface": p, "PHY": "up", "Protocol": "up"})
		}
		l.WaitCLI(t, node, "display interface brief", labtest.Rows("Interface", rows...), 20*time.Second)
	}

	st, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	type hostVeth struct {
		index int
		name  string
	}
	var mgmtVeths []hostVeth
	for _, n := range st.Nodes {
		pid := containerPID(t, n.Runtime)
		h, err := netns.GetFromPid(pid)
		if err != nil {
			t.Fatal(err)
		}
		links := nsLinks(t, h)
		h.Close()
		// lo, the management port eth0 from Docker, and the data links.
		want := append([]string{"lo", "eth0"}, n.Intfs...)
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
			on, err := runner.TxChecksum(fmt.Sprintf("/proc/%d/ns/net", pid), ifc)
			if err != nil || on {
				t.Errorf("%s %s: tx checksum offload on=%v err=%v", n.Name, ifc, on, err)
			}
		}
		// The host end of eth0 must go with the container.
		if eth0, ok := links["eth0"]; ok && eth0.Attrs().ParentIndex > 0 {
			peer := eth0.Attrs().ParentIndex // the peer's index in the host namespace
			if hl, err := netlink.LinkByIndex(peer); err == nil {
				mgmtVeths = append(mgmtVeths, hostVeth{peer, hl.Attrs().Name})
			}
		}
	}
	if dev, err := l.HostCmd("r1", 5*time.Second, "cat", "/proc/net/dev"); err != nil ||
		!regexpMatch(`(?m)^\s*eth0:`, dev) || !regexpMatch(`(?m)^\s*eth2:`, dev) || regexpMatch(`(?m)^\s*eth1:`, dev) {
		t.Errorf("HostCmd: %v\n%s", err, dev)
	}
	cli := exec.Command(bin, "lab", "cli", "--workdir", l.Workdir(), file, "r3")
	cli.Stdin = strings.NewReader("display version\n")
	if out, err := cli.CombinedOutput(); err != nil || !strings.Contains(string(out), "VRP (R) software") {
		t.Errorf("lab cli: %v\n%s", err, out)
	}
	if len(mgmtVeths) != len(st.Nodes) {
		t.Errorf("found the host end of eth0 for %d of %d containers", len(mgmtVeths), len(st.Nodes))
	}
	out, err := l.Inspect()
	if err != nil || !regexpMatch(`(?m)^r2\s+clab-vtlab-dline-r2\s+ready\s+\d+\.\d+\.\d+\.\d+\s+eth1->r1:eth2 eth2->r3:eth1$`, out) {
		t.Errorf("inspect: %v\n%s", err, out)
	}

	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if out, err := exec.Command("docker", "container", "inspect", n.Runtime).CombinedOutput(); err == nil {
			t.Errorf("container %s is still there:\n%.200s", n.Runtime, out)
		}
	}
	for _, v := range mgmtVeths {
		if hostLinkExists(v.index, v.name) {
			t.Errorf("host veth %s is still there", v.name)
		}
	}
}
