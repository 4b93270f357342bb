package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"

	"vpnos/cli/proto"
	"vpnos/lab/topology"
)

// LabLabel marks every container the runner creates with its lab name; down
// removes a journalled container only if it carries the label.
const LabLabel = "vpnos-lab"

// NetworkLabel marks a management network the runner created, with the name
// of the lab that created it; down removes a journalled network only if it
// carries the label and no container is attached to it any more (labs share
// the network, as containerlab's do).
const NetworkLabel = "vpnos-lab-network"

// dockerBackend runs each node as a container clab-LAB-NODE, with the docker
// CLI. Its eth0 (the management port) is on the management network: the
// file's mgmt.network, else containerlab's `clab`; an existing network of
// that name is used as it is, otherwise it is created as a bridge network
// with mgmt.ipv4-subnet, else 172.20.20.0/24. Links are wired after the
// container starts, as containerlab does; the daemon waits for CLAB_INTFS
// links.
type dockerBackend struct {
	o *Options
	// run runs the docker CLI and returns its standard output (tests
	// replace it); nil runs o.Docker.
	run func(ctx context.Context, args ...string) (string, error)

	inspectOnce sync.Once
	inspected   map[string]containerStatus // status: the lab's containers

	netMu    sync.Mutex   // serializes making sure the management network exists
	subnet   netip.Prefix // the management subnet prepare asked for
	explicit bool         // the file asked for subnet
}

func (b *dockerBackend) createParallelism() int { return 4 }

// labHealthInterval is how often Docker runs a lab node's health check.
const labHealthInterval = "30s"

func (b *dockerBackend) nodeStep(ns *NodeState) Step {
	return Step{Kind: StepContainer, Name: ns.Runtime, Node: ns.Name}
}

// containerStateDir is where the daemon keeps its management socket inside
// the image, unless the node's environment moves it.
const containerStateDir = "/var/lib/vpnos"

func (b *dockerBackend) docker(ctx context.Context, args ...string) (string, error) {
	if b.run != nil {
		return b.run(ctx, args...)
	}
	cmd := exec.CommandContext(ctx, b.o.Docker, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return out.String(), fmt.Errorf("docker %s: %w: %s", args[0], err, msg)
	}
	return out.String(), nil
}

// network is what the runner needs to know of a docker network.
type network struct {
	Driver     string
	Subnets    []string // IPv4 and IPv6 subnets of its IPAM configuration
	Label      string   // value of NetworkLabel ("" when absent)
	Containers int      // attached (running) containers
}

// inspectNetwork returns the network called name; ok is false when there is none.
func (b *dockerBackend) inspectNetwork(ctx context.Context, name string) (nw network, ok bool, err error) {
	out, err := b.docker(ctx, "network", "inspect", "--format",
		`{{.Driver}}|{{index .Labels "`+NetworkLabel+`"}}|{{len .Containers}}|{{range .IPAM.Config}}{{.Subnet}} {{end}}`, name)
	if err != nil {
		if isNotFound(err) {
			return nw, false, nil
		}
		return nw, false, err
	}
	f := strings.SplitN(strings.TrimSpace(out), "|", 4)
	if len(f) != 4 {
		return nw, false, fmt.Errorf("docker network inspect %s: unexpected output %q", name, out)
	}
	nw.Driver, nw.Label = f[0], f[1]
	if nw.Containers, err = strconv.Atoi(f[2]); err != nil {
		return nw, false, fmt.Errorf("docker network inspect %s: unexpected output %q", name, out)
	}
	nw.Subnets = strings.Fields(f[3])
	return nw, true, nil
}

func isNotFound(err error) bool {
	s := err.Error()
	return strings.Contains(s, "not found") || strings.Contains(s, "No such")
}

// mgmtNetworkUsable checks an existing management network.
func mgmtNetworkUsable(name string, nw network) error {
	if nw.Driver != "bridge" {
		return fmt.Errorf("management network %s: it exists with driver %s; vpnos lab needs a bridge network (set mgmt.network to another name)", name, nw.Driver)
	}
	return nil
}

func (b *dockerBackend) check(ctx context.Context, t *topology.Topology) error {
	if _, err := exec.LookPath(b.o.Docker); err != nil {
		return fmt.Errorf("docker runtime: %w", err)
	}
	if _, err := b.docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		return fmt.Errorf("docker runtime: the docker daemon does not answer: %w", err)
	}
	images := map[string]bool{}
	for _, n := range t.Nodes {
		if !images[n.Image] {
			if _, err := b.docker(ctx, "image", "inspect", "--format", "{{.Id}}", n.Image); err != nil {
				return fmt.Errorf("node %s: image %s is not present locally (build it with `make image`, or pull it)", n.Name, n.Image)
			}
			images[n.Image] = true
		}
		for _, bd := range n.Binds {
			if _, err := os.Stat(bd.Host); err != nil {
				return fmt.Errorf("node %s: binds: %s: %w", n.Name, bd, err)
			}
		}
		name := NodeName(t.Name, n.Name)
		if _, err := b.docker(ctx, "container", "inspect", "--format", "{{.Id}}", name); err == nil {
			return fmt.Errorf("node %s: container %s already exists (another lab of the same name?)", n.Name, name)
		}
	}
	name := t.Mgmt.NetworkName()
	nw, ok, err := b.inspectNetwork(ctx, name)
	if err != nil {
		return fmt.Errorf("management network %s: %w", name, err)
	}
	if ok {
		return mgmtNetworkUsable(name, nw)
	}
	return nil
}

// prepare makes sure the management network exists.
func (b *dockerBackend) prepare(ctx context.Context, st *State, t *topology.Topology) error {
	st.mu.Lock()
	st.MgmtNetwork = t.Mgmt.NetworkName()
	st.mu.Unlock()
	if err := st.save(); err != nil {
		return err
	}
	subnet, explicit := t.Mgmt.Subnet()
	if !explicit {
		subnet = netip.MustParsePrefix(topology.DefaultMgmtSubnet)
	}
	b.subnet, b.explicit = subnet, explicit
	return b.ensureNetwork(ctx, st, subnet, explicit)
}

// ensureNetwork uses the management network st.MgmtNetwork if it exists and
// creates it otherwise, with subnet; when subnet is not explicit (the file
// did not ask for it) and overlaps another network, Docker picks one.
func (b *dockerBackend) ensureNetwork(ctx context.Context, st *State, subnet netip.Prefix, explicit bool) error {
	b.netMu.Lock()
	defer b.netMu.Unlock()
	name := st.MgmtNetwork
	use := func(nw network) error {
		if err := mgmtNetworkUsable(name, nw); err != nil {
			return err
		}
		subnets := strings.Join(nw.Subnets, " ")
		if explicit && !slices.Contains(nw.Subnets, subnet.String()) {
			fmt.Fprintf(b.o.Out, "warning: management network %s exists with subnet %s; mgmt.ipv4-subnet %s is not applied (remove the network, or drop ipv4-subnet from the file)\n", name, subnets, subnet)
			b.o.Log.Warn("existing management network has another subnet", "network", name, "subnets", subnets, "asked", subnet)
		}
		if nw.Label != "" && !st.hasStep(StepNetwork, name) {
			// Another vpnos lab created it: the last lab down removes it.
			if err := st.record(Step{Kind: StepNetwork, Name: name}); err != nil {
				return err
			}
		}
		fmt.Fprintf(b.o.Out, "management network %s (%s): exists, used as it is\n", name, subnets)
		return nil
	}
	nw, ok, err := b.inspectNetwork(ctx, name)
	if err != nil {
		return fmt.Errorf("management network %s: %w", name, err)
	}
	if ok {
		return use(nw)
	}
	if !st.hasStep(StepNetwork, name) {
		if err := st.record(Step{Kind: StepNetwork, Name: name}); err != nil {
			return err
		}
	}
	create := func(subnet string) error {
		args := []string{"network", "create", "--driver", "bridge"}
		if subnet != "" {
			args = append(args, "--subnet", subnet)
		}
		args = append(args, "--label", NetworkLabel+"="+st.Lab, name)
		_, err := b.docker(ctx, args...)
		return err
	}
	err = create(subnet.String())
	if err != nil && strings.Contains(err.Error(), "overlaps") {
		if explicit {
			return fmt.Errorf("management network %s: mgmt.ipv4-subnet %s overlaps a network Docker already has (see `docker network ls`); choose a free subnet in the file, or set mgmt.network to that network: %w", name, subnet, err)
		}
		fmt.Fprintf(b.o.Out, "management network %s: the default subnet %s overlaps an existing Docker network; letting Docker choose the subnet\n", name, subnet)
		b.o.Log.Warn("default management subnet overlaps; Docker chooses", "network", name, "subnet", subnet)
		err = create("")
	}
	if err != nil && strings.Contains(err.Error(), "already exists") {
		// Another lab created it meanwhile.
		nw, ok, ierr := b.inspectNetwork(ctx, name)
		if ierr == nil && ok {
			return use(nw)
		}
	}
	if err != nil {
		return fmt.Errorf("management network %s: %w", name, err)
	}
	nw, ok, err = b.inspectNetwork(ctx, name)
	if err != nil || !ok {
		return fmt.Errorf("management network %s: created, but it cannot be inspected: %v", name, err)
	}
	fmt.Fprintf(b.o.Out, "management network %s (%s): created\n", name, strings.Join(nw.Subnets, " "))
	return nil
}

func (b *dockerBackend) create(ctx context.Context, st *State, n *topology.Node, ns *NodeState) error {
	args := []string{"run", "--detach", "--name", ns.Runtime, "--hostname", n.Name,
		"--label", LabLabel + "=" + st.Lab,
		"--label", "containerlab=" + st.Lab,
		"--label", "clab-node-name=" + n.Name,
		"--label", "clab-node-kind=" + n.Kind,
		"--label", "clab-topo-file=" + st.Topology,
		"--env", "CLAB_INTFS=" + strconv.Itoa(len(n.Intfs)),
		// The image checks its health every 2 s, a process started in the
		// container through runc each time (about 40 ms of CPU): a lab of
		// 40 idle nodes kept 0.8 of a core busy, and bring-up slowed down
		// as nodes were added. `vpnos lab` knows when a node is ready; the
		// check stays, every 30 s.
		"--health-interval", labHealthInterval,
	}
	keys := make([]string, 0, len(n.Labels))
	for k := range n.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--label", k+"="+n.Labels[k])
	}
	keys = keys[:0]
	for k := range n.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--env", k+"="+n.Env[k])
	}
	for _, bd := range n.Binds {
		args = append(args, "--volume", bd.String())
	}
	for _, c := range n.CapAdd {
		args = append(args, "--cap-add", c)
	}
	if n.Privileged {
		args = append(args, "--privileged")
	}
	if st.MgmtNetwork != "" {
		args = append(args, "--network", st.MgmtNetwork)
		if n.MgmtIPv4.IsValid() {
			args = append(args, "--ip", n.MgmtIPv4.String())
		}
	}
	args = append(args, n.Image)
	sock := filepath.Join(containerStateDir, proto.SocketName)
	if dir := n.Env["VPNOS_STATE_DIR"]; dir != "" {
		sock = filepath.Join(dir, proto.SocketName)
	}
	st.mu.Lock()
	ns.Socket = sock
	st.mu.Unlock()
	_, err := b.docker(ctx, args...)
	if err != nil && st.MgmtNetwork != "" && strings.Contains(err.Error(), "network "+st.MgmtNetwork+" not found") {
		// The last node of another lab left the shared network and its down
		// removed it between prepare and now: make it again, once. docker
		// run created the container before it failed to attach it.
		b.o.Log.Warn("management network vanished; making it again", "network", st.MgmtNetwork, "node", n.Name)
		if _, rerr := b.docker(ctx, "rm", "--force", "--volumes", ns.Runtime); rerr != nil {
			return fmt.Errorf("node %s: %w (and removing it: %v)", n.Name, err, rerr)
		}
		if err = b.ensureNetwork(ctx, st, b.subnet, b.explicit); err == nil {
			_, err = b.docker(ctx, args...)
		}
	}
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	pid, err := b.pid(ctx, ns.Runtime)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	st.mu.Lock()
	ns.PID = pid
	st.mu.Unlock()
	return nil
}

func (b *dockerBackend) pid(ctx context.Context, name string) (int, error) {
	out, err := b.docker(ctx, "container", "inspect", "--format", "{{.State.Pid}}", name)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("container %s is not running (pid %q)", name, strings.TrimSpace(out))
	}
	return pid, nil
}

func (b *dockerBackend) handle(ns *NodeState) (netns.NsHandle, error) {
	pid := ns.PID // create read it
	if pid <= 0 {
		var err error
		if pid, err = b.pid(context.Background(), ns.Runtime); err != nil {
			return netns.None(), err
		}
	}
	h, err := netns.GetFromPid(pid)
	if err != nil {
		return h, fmt.Errorf("open network namespace of %s: %w", ns.Runtime, err)
	}
	return h, nil
}

func (b *dockerBackend) start(ctx context.Context, st *State, n *topology.Node, ns *NodeState) error {
	return nil // the container runs since create; its daemon sees the links appear
}

// probe dials the node's management socket through the container's root
// (/proc/PID/root), as cheap as on netns: no docker command per probe. Where
// that path is not reachable (the container's processes are not this
// host's), or the container's first process is gone, it asks Docker.
func (b *dockerBackend) probe(ctx context.Context, ns *NodeState) error {
	if ns.PID > 0 && ns.Socket != "" && len(livePids([]int{ns.PID})) == 1 {
		path := fmt.Sprintf("/proc/%d/root%s", ns.PID, ns.Socket)
		_, err := os.Stat(path)
		switch {
		case err == nil:
			return dialCLI(ctx, path)
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("not listening yet: %w", err)
		}
	}
	return b.probeExec(ctx, ns)
}

// probeExec asks Docker whether the container runs and its CLI answers.
func (b *dockerBackend) probeExec(ctx context.Context, ns *NodeState) error {
	out, err := b.docker(ctx, "container", "inspect", "--format", "{{.State.Status}}", ns.Runtime)
	if err != nil {
		return fatalError{err}
	}
	if s := strings.TrimSpace(out); s != "running" {
		return fatalError{fmt.Errorf("container %s is %s; its log ends with:\n%s", ns.Runtime, s, b.logs(ctx, ns))}
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = b.docker(pctx, "exec", ns.Runtime, "cli", "-c", "display version")
	return err
}

func (b *dockerBackend) cli(ns *NodeState, tty bool, args []string) *exec.Cmd {
	a := []string{"exec"}
	switch {
	case tty:
		a = append(a, "-it")
	case len(args) == 0:
		a = append(a, "-i") // a session reading commands from stdin
	}
	a = append(a, ns.Runtime, "cli")
	return exec.Command(b.o.Docker, append(a, args...)...)
}

func (b *dockerBackend) execCmd(ns *NodeState, words []string) *exec.Cmd {
	return exec.Command(b.o.Docker, append([]string{"exec", ns.Runtime}, words...)...)
}

func (b *dockerBackend) startCmd(ns *NodeState, cmd *exec.Cmd) error { return cmd.Start() }

func (b *dockerBackend) remove(ctx context.Context, st *State, s Step) error {
	switch s.Kind {
	case StepContainer:
		return b.removeContainer(ctx, st, s.Name)
	case StepNetwork:
		return b.removeNetwork(ctx, s.Name)
	}
	return fmt.Errorf("the docker runtime cannot remove a %s", s.Kind)
}

func (b *dockerBackend) removeContainer(ctx context.Context, st *State, name string) error {
	out, err := b.docker(ctx, "container", "inspect", "--format", "{{index .Config.Labels \""+LabLabel+"\"}}", name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if strings.TrimSpace(out) != st.Lab {
		return errors.New("the container is not this lab's (label " + LabLabel + "=" + strings.TrimSpace(out) + "); left alone")
	}
	_, err = b.docker(ctx, "rm", "--force", "--volumes", name)
	return err
}

// removeNetwork removes a management network that vpnos lab created once no
// container is attached to it; one still in use by other labs stays.
func (b *dockerBackend) removeNetwork(ctx context.Context, name string) error {
	nw, ok, err := b.inspectNetwork(ctx, name)
	if err != nil || !ok {
		return err
	}
	if nw.Label == "" {
		fmt.Fprintf(b.o.Out, "management network %s: left in place (not created by vpnos lab)\n", name)
		return nil
	}
	if nw.Containers > 0 {
		fmt.Fprintf(b.o.Out, "management network %s: left in place (%d containers of other labs are attached)\n", name, nw.Containers)
		return nil
	}
	if _, err := b.docker(ctx, "network", "rm", name); err != nil {
		switch {
		case isNotFound(err):
			return nil
		case strings.Contains(err.Error(), "active endpoints"):
			fmt.Fprintf(b.o.Out, "management network %s: left in place (a container was attached meanwhile)\n", name)
			return nil
		}
		return err
	}
	fmt.Fprintf(b.o.Out, "management network %s: removed\n", name)
	return nil
}

// status reports the container's state and its address on the management
// network (Docker's default bridge for labs journalled before there was one),
// from one `docker container inspect` of all the lab's containers.
func (b *dockerBackend) status(ctx context.Context, st *State, ns *NodeState, probe bool) (string, string) {
	c, ok := b.inspectAll(ctx, st)[ns.Runtime]
	if !ok {
		return "missing", "-"
	}
	state, addr := c.state, c.addr
	if state == "running" && c.pid > 0 {
		n := *ns
		n.PID = c.pid
		if !probe || b.probe(ctx, &n) == nil {
			state = "ready"
		}
	}
	return state, addr
}

// containerStatus is what status needs of one container.
type containerStatus struct {
	state, addr string
	pid         int
}

// inspectAll inspects every container of the lab at once (on the first
// call): container name -> status. Missing containers are left out.
func (b *dockerBackend) inspectAll(ctx context.Context, st *State) map[string]containerStatus {
	b.inspectOnce.Do(func() {
		net := st.MgmtNetwork
		if net == "" {
			net = "bridge"
		}
		args := []string{"container", "inspect", "--format",
			`{{.Name}} {{.State.Status}} {{.State.Pid}} {{with index .NetworkSettings.Networks "` + net + `"}}{{.IPAddress}}/{{.IPPrefixLen}}{{end}}`}
		for _, n := range st.Nodes {
			args = append(args, n.Runtime)
		}
		// Missing containers make docker fail, after it printed the others.
		out, _ := b.docker(ctx, args...)
		b.inspected = map[string]containerStatus{}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			c := containerStatus{state: f[1], addr: "-"}
			c.pid, _ = strconv.Atoi(f[2])
			if len(f) > 3 && !strings.HasPrefix(f[3], "/") {
				c.addr = f[3]
			}
			b.inspected[strings.TrimPrefix(f[0], "/")] = c
		}
	})
	return b.inspected
}

func (b *dockerBackend) startLog(ctx context.Context, ns *NodeState) string {
	out, _ := exec.CommandContext(ctx, b.o.Docker, "logs", "--tail", "20", ns.Runtime).CombinedOutput()
	return string(out)
}

func (b *dockerBackend) logs(ctx context.Context, ns *NodeState) string {
	cmd := exec.CommandContext(ctx, b.o.Docker, "logs", "--tail", "500", ns.Runtime)
	out, _ := cmd.CombinedOutput()
	return string(out)
}
