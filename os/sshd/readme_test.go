package sshd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeBlock returns the one fenced block of the given language in the
// project README that holds mark.
func readmeBlock(t *testing.T, lang, mark string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, part := range strings.Split(string(b), "\n```"+lang+"\n")[1:] {
		end := strings.Index(part, "\n```\n")
		if end < 0 {
			t.Fatalf("a ```%s block of the README does not end", lang)
		}
		if block := part[:end+1]; strings.Contains(block, mark) {
			found = append(found, block)
		}
	}
	if len(found) != 1 {
		t.Fatalf("README has %d ```%s blocks with %q, want 1", len(found), lang, mark)
	}
	return found[0]
}

const readmeNetns = "va-readme"

// TestReadmeExamples runs the README's netmiko and scrapligo examples as
// written, against a daemon on port 22 of a network namespace of its own,
// the node's name replaced by its address.
func TestReadmeExamples(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for a network namespace")
	}
	clean := func() { exec.Command("ip", "netns", "del", readmeNetns).Run() }
	clean()
	t.Cleanup(clean)
	for _, args := range [][]string{{"netns", "add", readmeNetns}, {"-n", readmeNetns, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	root := t.TempDir()
	writeSettings(t, root, 22, "sysname: PE1\n")
	d := StartDaemonIn(t, readmeNetns, root, 22)
	node := func(code string) string {
		t.Helper()
		if !strings.Contains(code, `"clab-pe-pair-pe1"`) {
			t.Fatalf("the example does not name the node clab-pe-pair-pe1:\n%s", code)
		}
		return strings.ReplaceAll(code, `"clab-pe-pair-pe1"`, `"127.0.0.1"`)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command("ip", append([]string{"netns", "exec", readmeNetns}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the README's %s example: %v\n%s\ndaemon log:\n%s", name, err, out, d.Log)
		}
		return string(out)
	}

	py := filepath.Join(t.TempDir(), "example.py")
	if err := os.WriteFile(py, []byte(node(readmeBlock(t, "python", "from netmiko import"))), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run("netmiko", "/usr/bin/python3", py)
	inOrder(t, "the netmiko example's output", out, "Interface", "ip vpn-instance red\n", "  route-distinguisher 65000:1\n")

	// The Go example is built inside this module (for its go.mod), in a
	// directory the go command's ./... patterns skip.
	dir, err := os.MkdirTemp(".", ".readme-example-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(node(readmeBlock(t, "go", "github.com/scrapli/scrapligo"))), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "example")
	if out, err := exec.Command("go", "build", "-o", bin, "./"+dir).CombinedOutput(); err != nil {
		t.Fatalf("building the README's scrapligo example: %v\n%s", err, out)
	}
	out = run("scrapligo", bin)
	inOrder(t, "the scrapligo example's output", out, "Interface", "ip vpn-instance blue\n", "  route-distinguisher 65000:2\n")

	saved, err := os.ReadFile(filepath.Join(root, "etc", "vpnos", "startup.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	inOrder(t, "startup.cfg", string(saved), "ip vpn-instance red\n", "  route-distinguisher 65000:1\n")
	inOrder(t, "startup.cfg", string(saved), "ip vpn-instance blue\n", "  route-distinguisher 65000:2\n")
}
