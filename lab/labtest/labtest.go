// Package labtest brings containerlab topologies up from Go tests with the
// real `vpnos lab` command, polls node CLIs until their output matches, and
// always tears the lab down; when a test fails it first dumps every node's
// running configuration and daemon log into the test log and a folder.
//
//	func TestX(t *testing.T) {
//		l := labtest.Up(t, "testdata/line.clab.yml", labtest.Options{Binary: bin})
//		l.WaitCLI(t, "r2", "display interface brief",
//			labtest.Rows("Interface", labtest.Row{"Interface": "GigabitEthernet0/1/0", "PHY": "up"}),
//			10*time.Second)
//	}
package labtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/lab/runner"
	"vpnos/lab/topology"
)

// Options configure a test lab.
type Options struct {
	// Binary is the vpnos executable (default: $VPNOS_BIN).
	Binary string
	// Runtime is netns (default) or docker.
	Runtime string
	// Workdir is the parent of the lab folder (default: a fresh temporary
	// folder, removed at cleanup).
	Workdir string
	// Timeout bounds `up` (default 2 minutes).
	Timeout time.Duration
	// DumpDir receives failure dumps (default $VPNOS_LAB_DUMP, else
	// <tmp>/vpnos-lab-dumps/<test name>).
	DumpDir string
}

// Lab is a running test lab.
type Lab struct {
	File string
	Name string
	// UpTime is how long `vpnos lab up` took.
	UpTime time.Duration
	// UpOutput is what `vpnos lab up` printed.
	UpOutput string

	opts Options
	down bool
}

// Up runs `vpnos lab up` on file and registers the teardown (and, if the test
// failed, the dump) with t.Cleanup before anything is created.
func Up(t testing.TB, file string, o Options) *Lab {
	t.Helper()
	if o.Binary == "" {
		o.Binary = os.Getenv("VPNOS_BIN")
	}
	if o.Binary == "" {
		t.Fatal("labtest: no vpnos binary (set Options.Binary or VPNOS_BIN)")
	}
	if o.Runtime == "" {
		o.Runtime = runner.RuntimeNetns
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Workdir == "" {
		dir, err := os.MkdirTemp("", "vl")
		if err != nil {
			t.Fatal(err)
		}
		o.Workdir = dir
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	name, err := topology.LabName(file)
	if err != nil {
		t.Fatal(err)
	}
	l := &Lab{File: file, Name: name, opts: o}
	t.Cleanup(func() {
		if t.Failed() {
			l.Dump(t, "")
		}
		if err := l.Down(); err != nil {
			t.Errorf("labtest: down: %v", err)
		}
	})
	start := time.Now()
	out, err := l.vpnos(context.Background(), o.Timeout+30*time.Second,
		"lab", "up", "--runtime", o.Runtime, "--workdir", o.Workdir, "--timeout", o.Timeout.String(), file)
	l.UpTime = time.Since(start)
	l.UpOutput = out
	if err != nil {
		t.Fatalf("labtest: vpnos lab up %s: %v\n%s", file, err, out)
	}
	t.Logf("lab %s up in %s", name, l.UpTime.Round(time.Millisecond))
	return l
}

// vpnos runs the binary and returns its combined output.
func (l *Lab) vpnos(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.opts.Binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Down tears the lab down (once; later calls do nothing).
func (l *Lab) Down() error {
	if l.down {
		return nil
	}
	out, err := l.vpnos(context.Background(), time.Minute, "lab", "down", "--workdir", l.opts.Workdir, l.File)
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	l.down = true
	return nil
}

// State reads the lab's state file.
func (l *Lab) State() (*runner.State, error) { return runner.Load(l.opts.Workdir, l.Name) }

// Workdir is the parent of the lab folder.
func (l *Lab) Workdir() string { return l.opts.Workdir }

// Nodes lists the lab's node names.
func (l *Lab) Nodes() ([]string, error) {
	st, err := l.State()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range st.Nodes {
		out = append(out, n.Name)
	}
	return out, nil
}

// CLI runs one or more CLI commands ("cmd; cmd") on node with `vpnos lab exec`
// and returns the output; err is set when the CLI failed (a refused command
// exits 1, and the output holds the error).
func (l *Lab) CLI(node, cmd string) (string, error) {
	out, err := l.vpnos(context.Background(), 30*time.Second, "lab", "exec", "--workdir", l.opts.Workdir, l.File, node, cmd)
	if err != nil {
		return out, fmt.Errorf("%s: %q: %w", node, cmd, err)
	}
	return out, nil
}

// NetnsPath is the file of a node's network namespace: /run/netns/clab-LAB-NODE
// on the netns runtime, /proc/PID/ns/net of the container on Docker.
func (l *Lab) NetnsPath(node string) (string, error) {
	st, err := l.State()
	if err != nil {
		return "", err
	}
	ns, err := st.Node(node)
	if err != nil {
		return "", err
	}
	if st.Runtime != runner.RuntimeDocker {
		return runner.NetnsPath(ns.Runtime), nil
	}
	out, err := exec.Command("docker", "container", "inspect", "--format", "{{.State.Pid}}", ns.Runtime).Output()
	if err != nil {
		return "", fmt.Errorf("docker inspect %s: %w", ns.Runtime, err)
	}
	pid := strings.TrimSpace(string(out))
	if pid == "" || pid == "0" {
		return "", fmt.Errorf("container %s is not running", ns.Runtime)
	}
	return "/proc/" + pid + "/ns/net", nil
}

// HostCmd runs a program of the host (tcpdump, ping, ip ...) inside a node's
// network namespace, for tests that look at links from the node's side, and
// returns its combined output.
func (l *Lab) HostCmd(node string, timeout time.Duration, name string, args ...string) (string, error) {
	path, err := l.NetnsPath(node)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := runner.StartIn(path, cmd); err != nil {
		return "", err
	}
	err = cmd.Wait()
	return out.String(), err
}

// Inspect returns the output of `vpnos lab inspect`.
func (l *Lab) Inspect() (string, error) {
	return l.vpnos(context.Background(), 30*time.Second, "lab", "inspect", "--workdir", l.opts.Workdir, l.File)
}

// WaitCLI runs cmd on node until its output satisfies m, backing off from
// 50 ms to 1 s between tries, and returns that output. At the deadline the
// test fails with the last output and the reason it did not match.
func (l *Lab) WaitCLI(t testing.TB, node, cmd string, m Matcher, within time.Duration) string {
	t.Helper()
	out, err := l.Poll(node, cmd, m, within)
	if err != nil {
		t.Fatalf("labtest: %v", err)
	}
	return out
}

// Poll is WaitCLI returning an error instead of failing the test.
func (l *Lab) Poll(node, cmd string, m Matcher, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	delay := 50 * time.Millisecond
	tries := 0
	for {
		tries++
		out, err := l.CLI(node, cmd)
		var why error
		if err != nil {
			why = err
		} else if why = m.Match(out); why == nil {
			return out, nil
		}
		if time.Now().Add(delay).After(deadline) {
			return out, fmt.Errorf("%s: %q did not match within %s (%d tries): %v\nlast output:\n%s", node, cmd, within, tries, why, out)
		}
		time.Sleep(delay)
		if delay < time.Second {
			delay *= 2
		}
	}
}

var unrecognized = regexp.MustCompile(`Error: Unrecognized command`)

// Dump writes each node's running configuration (or, while the CLI cannot
// show it, `display version`) and daemon log to dir (default: Options.DumpDir,
// $VPNOS_LAB_DUMP or <tmp>/vpnos-lab-dumps/<test>) and to the test log.
func (l *Lab) Dump(t testing.TB, dir string) {
	t.Helper()
	if dir == "" {
		dir = l.opts.DumpDir
	}
	if dir == "" {
		dir = os.Getenv("VPNOS_LAB_DUMP")
	}
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "vpnos-lab-dumps")
	}
	dir = filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("labtest: dump: %v", err)
		return
	}
	st, err := l.State()
	if err != nil {
		t.Logf("labtest: dump: %v", err)
		return
	}
	if out, err := l.Inspect(); err == nil {
		t.Logf("lab %s:\n%s", l.Name, out)
	}
	for _, n := range st.Nodes {
		var b strings.Builder
		cfg, err := l.CLI(n.Name, "display current-configuration")
		if err != nil && unrecognized.MatchString(cfg) {
			cfg, err = l.CLI(n.Name, "display version")
		}
		fmt.Fprintf(&b, "=== %s: running configuration", n.Name)
		if err != nil {
			fmt.Fprintf(&b, " (%v)", err)
		}
		fmt.Fprintf(&b, "\n%s\n", cfg)
		logs, err := runner.Logs(context.Background(), st, n.Name, runner.Options{})
		if err != nil {
			logs = err.Error()
		}
		fmt.Fprintf(&b, "=== %s: log\n%s\n", n.Name, logs)
		path := filepath.Join(dir, n.Name+".txt")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Logf("labtest: dump: %v", err)
		}
		t.Logf("%s(dumped to %s)", b.String(), path)
	}
}

// Docker fails the test (it does not skip: CI installs Docker) unless the
// docker daemon answers.
func Docker(t testing.TB) {
	t.Helper()
	out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil {
		t.Fatalf("labtest: the docker daemon does not answer (start dockerd): %v\n%s", err, out)
	}
}

// TestImage is the tag Image builds.
const TestImage = "vpnos:labtest"

// Image builds the vpnos image from the module's Dockerfile and image/ folder
// with the given (static) binary, tagged TestImage, once per test binary. It
// does not touch bin/ or vpnos:latest, so it cannot race with other packages'
// tests. It fails the test when Docker or the build does not work.
func Image(t testing.TB, binary string) string {
	t.Helper()
	Docker(t)
	imageOnce.Do(func() { imageErr = buildImage(binary) })
	if imageErr != nil {
		t.Fatalf("labtest: %v", imageErr)
	}
	return TestImage
}

// The image is built once per test binary.
var (
	imageOnce sync.Once
	imageErr  error
)

func buildImage(binary string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	ctx, err := os.MkdirTemp("", "vpnos-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctx)
	if err := os.MkdirAll(filepath.Join(ctx, "bin"), 0o755); err != nil {
		return err
	}
	for _, c := range [][]string{
		{"cp", "-a", filepath.Join(root, "Dockerfile"), ctx},
		{"cp", "-a", filepath.Join(root, "image"), ctx},
		{"cp", binary, filepath.Join(ctx, "bin", "vpnos")},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	out, err := exec.Command("docker", "build", "-q", "-t", TestImage, ctx).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker build: %w\n%s", err, out)
	}
	return nil
}

// CleanStale removes what an earlier crashed test run left: network
// namespaces and docker containers named clab-<prefix>*, their processes,
// and the management networks the runner created for them.
// Use a prefix only your tests' labs carry.
func CleanStale(t testing.TB, prefix string) {
	t.Helper()
	if err := runner.RemoveStale("clab-" + prefix); err != nil {
		t.Logf("labtest: stale labs: %v", err)
	}
}

// BuildVpnos builds the vpnos binary of the module containing the current
// directory into dir and returns its path (for TestMain).
func BuildVpnos(dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "vpnos")
	cmd := exec.Command("go", "build", "-o", bin, "./os/cmd/vpnos")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as in the image
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// Binary builds the vpnos command once per test binary (into a temporary
// folder) and returns its path; a build failure fails the test.
func Binary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vt-vpnos-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath, binaryErr = BuildVpnos(dir)
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// RemoveBinary deletes what Binary built; call it from TestMain after m.Run.
func RemoveBinary() {
	if binaryPath != "" {
		os.RemoveAll(filepath.Dir(binaryPath))
	}
}

// ModuleRoot is the folder of the vpnos go.mod.
func ModuleRoot() (string, error) {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(mod)))
	if root == "." || root == "" || root == "/dev" {
		return "", errors.New("not inside the vpnos module")
	}
	return root, nil
}
