package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"

	"vpnos/cli/proto"
	"vpnos/lab/topology"
)

// ConfigMount is where a node's configuration folder is bound in the image.
const ConfigMount = "/etc/vpnos"

// netnsBackend runs each node as `vpnos boot` in a named network namespace.
//
// Mapping of node settings:
//   - binds: a folder bound to /etc/vpnos/ becomes the node's --config-dir;
//     files bound into /etc/vpnos/ are linked into a node config folder. Other
//     bind targets are refused (the node shares the host's file system).
//   - env: the node process's environment (with CLAB_INTFS and a PATH), so
//     VPNOS_* settings apply as in a container.
//   - exec: entries `cli ARGS` run the node's CLI with ARGS once the node is
//     ready; other entries are refused (the vpnos image holds no other program).
//   - image, labels, cap-add, privileged: do not apply; the node runs this
//     vpnos binary as root. `up` says so.
type netnsBackend struct {
	o *Options

	mu     sync.Mutex
	exited map[int]chan struct{} // processes this runner started, closed on exit

	scanOnce sync.Once
	scan     map[uint64][]int // namespace inode -> processes (status)
}

func (b *netnsBackend) createParallelism() int { return 1 }

func (b *netnsBackend) nodeStep(ns *NodeState) Step {
	return Step{Kind: StepNetns, Name: ns.Runtime, Node: ns.Name}
}

func (b *netnsBackend) check(ctx context.Context, t *topology.Topology) error {
	if t.Mgmt != nil {
		// Accepting and ignoring it would leave the user believing the
		// nodes are on that network.
		return &topology.Error{File: t.File, Line: t.Mgmt.Line, Path: "mgmt", Unsupported: true,
			Msg: `key "mgmt" is not supported by the netns runtime: it has no management network (nodes have no eth0); use --runtime docker, or remove mgmt from the file`}
	}
	for _, n := range t.Nodes {
		if n.MgmtIPv4.IsValid() {
			return &topology.Error{File: t.File, Line: n.MgmtLine, Path: "topology.nodes." + n.Name + ".mgmt-ipv4", Unsupported: true,
				Msg: `key "mgmt-ipv4" is not supported by the netns runtime: it has no management network (nodes have no eth0); use --runtime docker, or remove mgmt-ipv4 from the file`}
		}
	}
	if b.o.Binary == "" {
		return fmt.Errorf("netns runtime: cannot find the vpnos executable")
	}
	if _, err := os.Stat(b.o.Binary); err != nil {
		return fmt.Errorf("netns runtime: vpnos executable: %w", err)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("the netns runtime needs root (network namespaces and veth links)")
	}
	dir := LabDir(b.o.Workdir, t.Name)
	notes := false
	for _, n := range t.Nodes {
		if _, _, err := nodeConfigDir(n); err != nil {
			return err
		}
		for _, e := range n.Exec {
			w, err := SplitWords(e)
			if err != nil {
				return fmt.Errorf("node %s: exec %q: %w", n.Name, e, err)
			}
			if w[0] != "cli" {
				return fmt.Errorf("node %s: exec %q: the netns runtime runs only `cli ...` entries (the node's CLI); the vpnos image holds no other program", n.Name, e)
			}
		}
		name := NodeName(t.Name, n.Name)
		if netnsExists(name) {
			return fmt.Errorf("node %s: network namespace %s already exists (another lab of the same name?)", n.Name, name)
		}
		sock := filepath.Join(dir, n.Name, "var/lib/vpnos", proto.SocketName)
		if len(sock) > 107 {
			return fmt.Errorf("node %s: socket path %s is longer than 107 bytes; use a shorter --workdir", n.Name, sock)
		}
		if n.Image != topology.DefaultImage || len(n.CapAdd) > 0 || n.Privileged || len(n.Labels) > 0 {
			notes = true
		}
	}
	if notes {
		fmt.Fprintf(b.o.Out, "note: the netns runtime runs every node from %s as root; image, labels, cap-add and privileged apply with --runtime docker\n", b.o.Binary)
	}
	return nil
}

// nodeConfigDir maps the node's binds to a config folder: dir is the bound
// folder, or "" when the node gets its own; files are host files bound into
// /etc/vpnos/ (name -> host path).
func nodeConfigDir(n *topology.Node) (dir string, files map[string]string, err error) {
	files = map[string]string{}
	for _, bd := range n.Binds {
		target := filepath.Clean(bd.Container)
		switch {
		case target == ConfigMount:
			st, err := os.Stat(bd.Host)
			if err != nil {
				return "", nil, fmt.Errorf("node %s: binds: %s: %w", n.Name, bd, err)
			}
			if !st.IsDir() {
				return "", nil, fmt.Errorf("node %s: binds: %s: %s is not a folder", n.Name, bd, bd.Host)
			}
			dir = bd.Host
		case filepath.Dir(target) == ConfigMount:
			if _, err := os.Stat(bd.Host); err != nil {
				return "", nil, fmt.Errorf("node %s: binds: %s: %w", n.Name, bd, err)
			}
			files[filepath.Base(target)] = bd.Host
		default:
			return "", nil, fmt.Errorf("node %s: binds: %q: the netns runtime can only bind a folder to %s/ or files into it (nodes share the host's file system)", n.Name, bd.String(), ConfigMount)
		}
	}
	if dir != "" && len(files) > 0 {
		return "", nil, fmt.Errorf("node %s: binds: bind either a folder to %s/ or files into it, not both", n.Name, ConfigMount)
	}
	return dir, files, nil
}

func (b *netnsBackend) create(ctx context.Context, st *State, n *topology.Node, ns *NodeState) error {
	root := filepath.Join(st.Dir, n.Name)
	dir, files, err := nodeConfigDir(n)
	if err != nil {
		return err
	}
	if dir == "" {
		dir = filepath.Join(root, "etc/vpnos")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		for name, host := range files {
			if err := os.Symlink(host, filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("node %s: bind %s: %w", n.Name, host, err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "var/lib/vpnos"), 0o755); err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	st.mu.Lock()
	ns.Root, ns.Log, ns.ConfigDir, ns.Env = root, filepath.Join(root, "boot.log"), dir, nodeEnv(n)
	st.mu.Unlock()
	sock, err := b.socket(ns)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	st.mu.Lock()
	ns.Socket = sock
	st.mu.Unlock()
	if err := createNamedNetns(ns.Runtime); err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	return nil
}

// nodeEnv is the environment of a node process: a PATH, the node's env and
// CLAB_INTFS, as a container would have them.
func nodeEnv(n *topology.Node) []string {
	env := map[string]string{
		"PATH":       "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME":       "/root",
		"CLAB_INTFS": strconv.Itoa(len(n.Intfs)),
	}
	for k, v := range n.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (b *netnsBackend) handle(ns *NodeState) (netns.NsHandle, error) {
	h, err := netns.GetFromName(ns.Runtime)
	if err != nil {
		return h, fmt.Errorf("open network namespace %s: %w", ns.Runtime, err)
	}
	return h, nil
}

func (b *netnsBackend) start(ctx context.Context, st *State, n *topology.Node, ns *NodeState) error {
	logf, err := os.OpenFile(ns.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("node %s: log: %w", n.Name, err)
	}
	defer logf.Close()
	cmd := exec.Command(b.o.Binary, "boot", "--root", ns.Root, "--config-dir", ns.ConfigDir)
	cmd.Env = ns.Env
	cmd.Dir = ns.Root
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = detach()
	if err := b.startCmd(ns, cmd); err != nil {
		return fmt.Errorf("node %s: start vpnos boot: %w", n.Name, err)
	}
	st.mu.Lock()
	ns.PID = cmd.Process.Pid
	st.mu.Unlock()
	done := make(chan struct{})
	b.mu.Lock()
	if b.exited == nil {
		b.exited = map[int]chan struct{}{}
	}
	b.exited[ns.PID] = done
	b.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()
	return nil
}

// socket is the node's management socket: what Options.NodeSocket reads
// from the node's settings, or by default the one in the state directory
// under the node's root (or in VPNOS_STATE_DIR of its environment).
func (b *netnsBackend) socket(ns *NodeState) (string, error) {
	if b.o.NodeSocket != nil {
		return b.o.NodeSocket(ns.Root, ns.ConfigDir, ns.Env)
	}
	for _, kv := range ns.Env {
		if v, ok := strings.CutPrefix(kv, "VPNOS_STATE_DIR="); ok {
			return filepath.Join(v, proto.SocketName), nil
		}
	}
	return filepath.Join(ns.Root, "var/lib/vpnos", proto.SocketName), nil
}

func (b *netnsBackend) probe(ctx context.Context, ns *NodeState) error {
	b.mu.Lock()
	done := b.exited[ns.PID]
	b.mu.Unlock()
	if done != nil {
		select {
		case <-done:
			return fatalError{fmt.Errorf("vpnos boot exited; its log %s ends with:\n%s", ns.Log, tail(ns.Log, 2000))}
		default:
		}
	}
	path := ns.Socket
	if path == "" { // a state written before the socket was kept
		var err error
		if path, err = b.socket(ns); err != nil {
			return fatalError{err}
		}
	}
	// Until the daemon listens, a probe is one file lookup.
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("not listening yet: %w", err)
	}
	return dialCLI(ctx, path)
}

// dialCLI opens a CLI session on a management socket and closes it: nil
// means the node's CLI answers.
func dialCLI(ctx context.Context, path string) error {
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cl, open, err := proto.Dial(dctx, path, proto.Request{User: "lab", Source: "script"})
	if err != nil {
		return err
	}
	defer cl.Close()
	if open.Exit {
		return fmt.Errorf("session refused: %s", strings.TrimSpace(open.Output))
	}
	return nil
}

func (b *netnsBackend) cli(ns *NodeState, tty bool, args []string) *exec.Cmd {
	a := append([]string{"cli", "--root", ns.Root, "--config-dir", ns.ConfigDir}, args...)
	cmd := exec.Command(b.o.Binary, a...)
	cmd.Env = ns.Env
	return cmd
}

func (b *netnsBackend) execCmd(ns *NodeState, words []string) *exec.Cmd {
	return b.cli(ns, false, words[1:])
}

func (b *netnsBackend) startCmd(ns *NodeState, cmd *exec.Cmd) error {
	h, err := b.handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	return startInNetns(h, cmd)
}

func (b *netnsBackend) remove(ctx context.Context, st *State, s Step) error {
	return b.removeNodes(ctx, st, []Step{s}, nil)
}

// removeNodes removes the nodes' namespaces together: one pass over /proc
// finds their processes, which are all stopped at once, then the namespaces
// go, 8 at a time.
func (b *netnsBackend) removeNodes(ctx context.Context, st *State, steps []Step, prog *progress) error {
	type node struct {
		step Step
		ino  uint64
	}
	var nodes []node
	var errs []error
	for _, s := range steps {
		if s.Kind != StepNetns {
			errs = append(errs, fmt.Errorf("%s %s: the netns runtime cannot remove a %s", s.Kind, s.Name, s.Kind))
			continue
		}
		ino, err := netnsInode(filepath.Join(netnsDir, s.Name))
		if err != nil {
			if !os.IsNotExist(err) {
				errs = append(errs, fmt.Errorf("netns %s: %w", s.Name, err))
			} else if prog != nil {
				prog.add(1) // never created, or already removed
			}
			continue
		}
		nodes = append(nodes, node{s, ino})
	}
	inodes := make([]uint64, len(nodes))
	for i, n := range nodes {
		inodes[i] = n.ino
	}
	left := stopNetnsProcesses(inodes, 3*time.Second)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, n := range nodes {
		if pids := left[n.ino]; len(pids) > 0 {
			errs = append(errs, fmt.Errorf("netns %s: processes %v do not stop", n.step.Name, pids))
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := deleteNamedNetns(n.step.Name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("netns %s: %w", n.step.Name, err))
			} else if prog != nil {
				prog.add(1)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *netnsBackend) prepare(ctx context.Context, st *State, t *topology.Topology) error {
	// Nodes share nothing (no management network); /run/netns must be a
	// mount point of its own before their namespaces are mounted there.
	return ensureNetnsDir()
}

func (b *netnsBackend) status(ctx context.Context, st *State, ns *NodeState, probe bool) (string, string) {
	ino, err := netnsInode(filepath.Join(netnsDir, ns.Runtime))
	if err != nil {
		return "missing", "-"
	}
	if len(livePids(b.procsOf(st, ino))) == 0 {
		return "stopped", "-"
	}
	if !probe {
		return "ready", "-"
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if b.probe(pctx, ns) != nil {
		return "running", "-"
	}
	return "ready", "-"
}

// procsOf returns the processes in the namespace of inode ino, from one
// scan of /proc for all the lab's nodes (made on the first call).
func (b *netnsBackend) procsOf(st *State, ino uint64) []int {
	b.scanOnce.Do(func() {
		set := map[uint64]bool{}
		for _, n := range st.Nodes {
			if i, err := netnsInode(filepath.Join(netnsDir, n.Runtime)); err == nil {
				set[i] = true
			}
		}
		b.scan = netnsProcs(set)
	})
	return b.scan[ino]
}

func (b *netnsBackend) logs(ctx context.Context, ns *NodeState) string {
	return tail(ns.Log, 64<<10)
}

func (b *netnsBackend) startLog(ctx context.Context, ns *NodeState) string {
	return tail(ns.Log, 4<<10)
}
