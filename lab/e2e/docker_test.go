package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
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

// withMgmt adds a top-level mgmt section to a topology text.
func withMgmt(text, network, subnet string) string {
	name, rest, _ := strings.Cut(text, "\n")
	return fmt.Sprintf("%s\nmgmt:\n  network: %s\n  ipv4-subnet: %s\n%s", name, network, subnet, rest)
}

// dockerNetwork reports whether a docker network exists and the value of the
// runner's label on it.
func dockerNetwork(t testing.TB, name string) (exists bool, label string) {
	t.Helper()
	out, err := exec.Command("docker", "network", "inspect", "--format",
		`{{index .Labels "`+runner.NetworkLabel+`"}}`, name).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not found") || strings.Contains(string(out), "No such") {
			return false, ""
		}
		t.Fatalf("docker network inspect %s: %v\n%s", name, err, out)
	}
	return true, strings.TrimSpace(string(out))
}

// removeNetwork removes a docker network if it exists.
func removeNetwork(t testing.TB, name string) {
	t.Helper()
	if ok, _ := dockerNetwork(t, name); ok {
		if out, err := exec.Command("docker", "network", "rm", name).CombinedOutput(); err != nil {
			t.Errorf("docker network rm %s: %v\n%s", name, err, out)
		}
	}
}

// checkMgmtPort checks that every node's eth0 is on the management network
// with an address in subnet, and that inspect shows that address.
func checkMgmtPort(t *testing.T, l *labtest.Lab, st *runner.State, network, subnet string) {
	t.Helper()
	pfx := netip.MustParsePrefix(subnet)
	inspect, err := l.Inspect()
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, inspect)
	}
	for _, n := range st.Nodes {
		out, err := exec.Command("docker", "container", "inspect", "--format",
			`{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}`, n.Runtime).Output()
		if err != nil || strings.TrimSpace(string(out)) != network {
			t.Errorf("%s: networks %q (%v), want only %s", n.Name, out, err, network)
		}
		h, err := netns.GetFromPid(containerPID(t, n.Runtime))
		if err != nil {
			t.Fatal(err)
		}
		nh, err := netlink.NewHandleAt(h)
		h.Close()
		if err != nil {
			t.Fatal(err)
		}
		var addr netip.Prefix
		if eth0, err := nh.LinkByName("eth0"); err == nil {
			addrs, _ := nh.AddrList(eth0, netlink.FAMILY_V4)
			if len(addrs) == 1 {
				a, _ := netip.AddrFromSlice(addrs[0].IP.To4())
				ones, _ := addrs[0].Mask.Size()
				addr = netip.PrefixFrom(a, ones)
			}
		}
		nh.Close()
		if !addr.IsValid() || !pfx.Contains(addr.Addr()) || addr.Bits() != pfx.Bits() {
			t.Errorf("%s: eth0 address %v, want one in %s", n.Name, addr, subnet)
			continue
		}
		row := fmt.Sprintf(`(?m)^%s\s+%s\s+\S+\s+%s\s`, regexp.QuoteMeta(n.Name), regexp.QuoteMeta(n.Runtime), regexp.QuoteMeta(addr.String()))
		if !regexpMatch(row, inspect) {
			t.Errorf("inspect does not show %s at %s:\n%s", n.Name, addr, inspect)
		}
	}
}

// TestDockerLine runs the three-node line in containers from the image,
// unprivileged with the capabilities the README names, on a management
// network the runner creates. Without a Docker daemon it fails: CI installs
// and starts one.
func TestDockerLine(t *testing.T) {
	needRoot(t)
	image := labtest.Image(t, bin)
	labtest.CleanStale(t, prefix+"-dline") // also the network clab-vtlab-dline-mgmt
	mgmtNet, mgmtSubnet := "clab-"+prefix+"-dline-mgmt", "172.31.251.0/24"
	t.Cleanup(func() { labtest.CleanStale(t, prefix+"-dline") })
	defaults := fmt.Sprintf("    image: %s\n    privileged: false\n    cap-add: [NET_ADMIN, NET_RAW, SYS_ADMIN]\n"+
		"    exec: [\"cli -c 'display interface brief'\"]\n", image)
	text := withMgmt(lineTopology(prefix+"-dline", 3, defaults), mgmtNet, mgmtSubnet)
	// r2 has a fixed management address, as containerlab's mgmt-ipv4 sets.
	text = strings.Replace(text, "    r2:\n", "    r2:\n      mgmt-ipv4: 172.31.251.77\n", 1)
	file := writeTopology(t, "dline.clab.yml", text)
	l := labtest.Up(t, file, labtest.Options{Binary: bin, Runtime: runner.RuntimeDocker})
	if !strings.Contains(l.UpOutput, "management network "+mgmtNet+" ("+mgmtSubnet+"): created") {
		t.Errorf("up output does not say it created the management network:\n%s", l.UpOutput)
	}
	if ok, label := dockerNetwork(t, mgmtNet); !ok || label != prefix+"-dline" {
		t.Errorf("network %s: exists %v, label %q", mgmtNet, ok, label)
	}
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
		// lo, the management port eth0 from Docker, and the data links.
		links := checkNodeLinks(t, n, h, fmt.Sprintf("/proc/%d/ns/net", pid), "eth0")
		h.Close()
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
	if err != nil || !regexpMatch(`(?m)^r2\s+clab-vtlab-dline-r2\s+ready\s+172\.31\.251\.\d+/24\s+eth1->r1:eth2 eth2->r3:eth1$`, out) {
		t.Errorf("inspect: %v\n%s", err, out)
	}
	checkMgmtPort(t, l, st, mgmtNet, mgmtSubnet)
	if inspect, _ := l.Inspect(); !regexpMatch(`(?m)^r2\s+\S+\s+\S+\s+172\.31\.251\.77/24\s`, inspect) {
		t.Errorf("r2 is not at its mgmt-ipv4 172.31.251.77:\n%s", inspect)
	}

	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := dockerNetwork(t, mgmtNet); ok {
		t.Errorf("down left the management network %s it created", mgmtNet)
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

// TestDockerMgmtExisting runs a lab on a management network that exists
// before it (as containerlab's shared `clab` does): up uses it, a lab asking
// for a subnet that overlaps it is refused, and down leaves it.
func TestDockerMgmtExisting(t *testing.T) {
	needRoot(t)
	image := labtest.Image(t, bin)
	labtest.CleanStale(t, prefix+"-dmgmt")
	labtest.CleanStale(t, prefix+"-dovl")
	mgmtNet, mgmtSubnet := prefix+"-dmgmt-net", "172.31.250.0/24"
	removeNetwork(t, mgmtNet)
	t.Cleanup(func() {
		labtest.CleanStale(t, prefix+"-dmgmt")
		labtest.CleanStale(t, prefix+"-dovl")
		removeNetwork(t, mgmtNet)
	})
	if out, err := exec.Command("docker", "network", "create", "--driver", "bridge", "--subnet", mgmtSubnet, mgmtNet).CombinedOutput(); err != nil {
		t.Fatalf("docker network create: %v\n%s", err, out)
	}
	defaults := fmt.Sprintf("    image: %s\n    cap-add: [NET_ADMIN, NET_RAW, SYS_ADMIN]\n", image)
	file := writeTopology(t, "dmgmt.clab.yml", withMgmt(lineTopology(prefix+"-dmgmt", 2, defaults), mgmtNet, mgmtSubnet))
	l := labtest.Up(t, file, labtest.Options{Binary: bin, Runtime: runner.RuntimeDocker})
	if !strings.Contains(l.UpOutput, "management network "+mgmtNet+" ("+mgmtSubnet+"): exists, used as it is") {
		t.Errorf("up output does not say it uses the existing network:\n%s", l.UpOutput)
	}
	st, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.MgmtNetwork != mgmtNet {
		t.Errorf("state: management network %q", st.MgmtNetwork)
	}
	for _, s := range st.Steps {
		if s.Kind == runner.StepNetwork {
			t.Errorf("the network the lab did not create is journalled: %+v", s)
		}
	}
	checkMgmtPort(t, l, st, mgmtNet, mgmtSubnet)

	// Another lab asking for a subnet the existing network holds.
	ovlNet := "clab-" + prefix + "-dovl-mgmt"
	ovl := writeTopology(t, "dovl.clab.yml", withMgmt(lineTopology(prefix+"-dovl", 1, defaults), ovlNet, mgmtSubnet))
	work := t.TempDir()
	out, err := exec.Command(bin, "lab", "up", "--runtime", "docker", "--workdir", work, ovl).CombinedOutput()
	if err == nil {
		t.Errorf("up on an overlapping subnet succeeded:\n%s", out)
	} else if !strings.Contains(string(out), "mgmt.ipv4-subnet "+mgmtSubnet+" overlaps a network Docker already has") {
		t.Errorf("the error does not say the subnet overlaps:\n%s", out)
	}
	if ok, _ := dockerNetwork(t, ovlNet); ok {
		t.Errorf("network %s was created", ovlNet)
	}
	if err := exec.Command("docker", "container", "inspect", "clab-"+prefix+"-dovl-r1").Run(); err == nil {
		t.Error("the refused lab left a container")
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("the refused lab left %d entries in its workdir", len(ents))
	}

	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if err := exec.Command("docker", "container", "inspect", n.Runtime).Run(); err == nil {
			t.Errorf("container %s is still there", n.Runtime)
		}
	}
	if ok, label := dockerNetwork(t, mgmtNet); !ok || label != "" {
		t.Errorf("down did not leave the pre-existing network %s as it was: exists %v, label %q", mgmtNet, ok, label)
	}
}

// TestDockerDownAfterCrash kills `vpnos lab up` while it waits for nodes that
// never get ready; down must still remove every container and the
// management network up created.
func TestDockerDownAfterCrash(t *testing.T) {
	needRoot(t)
	image := labtest.Image(t, bin)
	lab := prefix + "-dcrash"
	labtest.CleanStale(t, lab)
	t.Cleanup(func() { labtest.CleanStale(t, lab) })
	mgmtNet := "clab-" + lab + "-mgmt"
	// The daemons wait a minute for links that never come, so the nodes do
	// not answer while up waits for them.
	defaults := fmt.Sprintf("    image: %s\n    cap-add: [NET_ADMIN, NET_RAW, SYS_ADMIN]\n"+
		"    env: {CLAB_INTFS: \"9\", VPNOS_INTERFACE_WAIT: \"60\"}\n", image)
	file := writeTopology(t, "dcrash.clab.yml", withMgmt(lineTopology(lab, 2, defaults), mgmtNet, "172.31.252.0/24"))
	work := t.TempDir()
	st2 := crashUp(t, work, lab, file, 2, 60*time.Second, "--runtime", "docker")
	if ok, label := dockerNetwork(t, mgmtNet); !ok || label != lab {
		t.Fatalf("network %s: exists %v, label %q: the crash came too late or too early to test anything", mgmtNet, ok, label)
	}
	for _, n := range st2.Nodes {
		if err := exec.Command("docker", "container", "inspect", n.Runtime).Run(); err != nil {
			t.Fatalf("container %s is missing: the crash came too late to test anything", n.Runtime)
		}
	}
	out, err := exec.Command(bin, "lab", "down", "--workdir", work, file).CombinedOutput()
	if err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	for _, n := range st2.Nodes {
		if err := exec.Command("docker", "container", "inspect", n.Runtime).Run(); err == nil {
			t.Errorf("container %s is still there", n.Runtime)
		}
	}
	if ok, _ := dockerNetwork(t, mgmtNet); ok {
		t.Errorf("down left the management network %s:\n%s", mgmtNet, out)
	}
	if _, err := os.Stat(st2.Dir); err == nil {
		t.Errorf("lab folder %s is still there", st2.Dir)
	}
}

// TestDockerMissingCapabilities: a node started without the capabilities
// vpnos needs (not privileged, no cap-add) makes up fail at once with the
// daemon's own reason, and up removes what it created.
func TestDockerMissingCapabilities(t *testing.T) {
	needRoot(t)
	image := labtest.Image(t, bin)
	labtest.CleanStale(t, prefix+"-dcaps")
	t.Cleanup(func() { labtest.CleanStale(t, prefix+"-dcaps") })
	defaults := fmt.Sprintf("    image: %s\n    privileged: false\n", image)
	file := writeTopology(t, "dcaps.clab.yml", lineTopology(prefix+"-dcaps", 1, defaults))
	work := t.TempDir()
	start := time.Now()
	out, err := exec.Command(bin, "lab", "up", "--runtime", "docker", "--workdir", work, file).CombinedOutput()
	if err == nil {
		t.Fatalf("up without capabilities succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "node r1: the daemon refuses to start: vpnos needs the capabilities NET_ADMIN, NET_RAW and SYS_ADMIN; missing NET_ADMIN, SYS_ADMIN") {
		t.Errorf("up does not give the daemon's reason:\n%s", out)
	}
	// Well before the readiness deadline.
	t.Logf("up failed after %.1fs", time.Since(start).Seconds())
	if err := exec.Command("docker", "container", "inspect", "clab-"+prefix+"-dcaps-r1").Run(); err == nil {
		t.Error("the failed lab left its container")
	}
}
