package term

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	dockerImage     = "vt-term-img:test"
	dockerContainer = "vt-term-docker"
)

// moduleRoot is the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// buildImage builds the image as the Dockerfile does (FROM scratch, a static
// binary), from a context of its own, under a tag of its own.
func buildImage(t *testing.T) {
	t.Helper()
	root := moduleRoot(t)
	ctx := t.TempDir()
	bin := filepath.Join(ctx, "bin", "vpnos")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "vpnos/os/cmd/vpnos")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(root, "Dockerfile"), filepath.Join(root, "image"), ctx).CombinedOutput(); err != nil {
		t.Fatalf("copy the image files: %v\n%s", err, out)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", dockerImage, ctx).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", dockerImage).Run() })
}

// TestDockerExec opens the CLI with `docker exec -it NODE cli` in the
// FROM-scratch image, in a terminal, and uses `?` and Tab there.
func TestDockerExec(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for Docker")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("docker not found: %v", err)
	}
	buildImage(t)
	rm := func() { exec.Command("docker", "rm", "-f", dockerContainer).Run() }
	rm()
	t.Cleanup(rm)
	if out, err := exec.Command("docker", "run", "-d", "--name", dockerContainer, "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SYS_ADMIN", "-e", "VPNOS_INTERFACE_WAIT=0", dockerImage).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	// Wait until the daemon answers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command("docker", "exec", dockerContainer, "cli", "-c", "display version").CombinedOutput()
		if err == nil && strings.Contains(string(out), "VRP (R) software") {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := exec.Command("docker", "logs", dockerContainer).CombinedOutput()
			t.Fatalf("the CLI does not answer in the container: %v\n%s\n%s", err, out, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}

	m := StartTmux(t, fmt.Sprintf("docker exec -it %s cli; echo EXIT=$?; sleep 60", dockerContainer), 100, 30)
	m.WaitLast("<HUAWEI> ")
	m.Type("dis")
	m.Type("?")
	m.WaitContains("<HUAWEI> dis?\n  display\n<HUAWEI> dis")
	m.Key("Tab")
	m.WaitLast("<HUAWEI> display")
	m.Type("?")
	m.WaitFor("help for display", func(s string) bool {
		return strings.Contains(s, "<HUAWEI> display ?\n") && strings.Contains(s, "\n  version ") &&
			strings.HasSuffix(s, "\n<HUAWEI> display")
	})
	m.Type("ver")
	m.Key("Tab", "Enter")
	m.WaitContains("<HUAWEI> display version\nvpnos Versatile Routing Platform Software")
	m.WaitLast("<HUAWEI> ")
	m.Type("quit")
	m.Key("Enter")
	m.WaitContains("<HUAWEI> quit\nEXIT=0")
}
