package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netns"

	"vpnos/lab/topology"
)

// LabLabel marks every container the runner creates with its lab name; down
// removes a journalled container only if it carries the label.
const LabLabel = "vpnos-lab"

// dockerBackend runs each node as a container clab-LAB-NODE on the default
// bridge network (its eth0, the management port), with the docker CLI.
// Links are wired after the container starts, as containerlab does; the
// daemon waits for CLAB_INTFS links.
type dockerBackend struct {
	o *Options
}

func (b *dockerBackend) createParallelism() int { return 4 }

func (b *dockerBackend) docker(ctx context.Context, args ...string) (string, error) {
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
	args = append(args, n.Image)
	if err := st.record(Step{Kind: StepContainer, Name: ns.Runtime, Node: n.Name}); err != nil {
		return err
	}
	if _, err := b.docker(ctx, args...); err != nil {
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
	pid, err := b.pid(context.Background(), ns.Runtime)
	if err != nil {
		return netns.None(), err
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

func (b *dockerBackend) probe(ctx context.Context, ns *NodeState) error {
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
	if s.Kind != StepContainer {
		return fmt.Errorf("the docker runtime cannot remove a %s", s.Kind)
	}
	out, err := b.docker(ctx, "container", "inspect", "--format", "{{index .Config.Labels \""+LabLabel+"\"}}", s.Name)
	if err != nil {
		if strings.Contains(err.Error(), "No such") {
			return nil
		}
		return err
	}
	if strings.TrimSpace(out) != st.Lab {
		return errors.New("the container is not this lab's (label " + LabLabel + "=" + strings.TrimSpace(out) + "); left alone")
	}
	_, err = b.docker(ctx, "rm", "--force", "--volumes", s.Name)
	return err
}

func (b *dockerBackend) status(ctx context.Context, ns *NodeState) (string, string) {
	out, err := b.docker(ctx, "container", "inspect", "--format", "{{.State.Status}} {{.NetworkSettings.IPAddress}}", ns.Runtime)
	if err != nil {
		return "missing", "-"
	}
	f := strings.Fields(out)
	state, addr := "unknown", "-"
	if len(f) > 0 {
		state = f[0]
	}
	if len(f) > 1 {
		addr = f[1]
	}
	if state == "running" && b.probe(ctx, ns) == nil {
		state = "ready"
	}
	return state, addr
}

func (b *dockerBackend) logs(ctx context.Context, ns *NodeState) string {
	cmd := exec.CommandContext(ctx, b.o.Docker, "logs", "--tail", "500", ns.Runtime)
	out, _ := cmd.CombinedOutput()
	return string(out)
}
