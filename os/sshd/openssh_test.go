package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestOpenSSHClient logs in with the OpenSSH client (ssh(1)) by public key:
// a command without and with a terminal (-tt), as automation does.
func TestOpenSSHClient(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatalf("the OpenSSH client is needed (apt-get install openssh-client): %v", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	port := freePort(t)
	authLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	writeSettings(t, root, port, fmt.Sprintf("authorized_keys:\n  - %q\n", authLine))
	StartDaemon(t, root, port)

	run := func(extra ...string) (string, error) {
		args := []string{"-F", "/dev/null", "-i", keyFile, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"-p", fmt.Sprint(port), "admin@127.0.0.1"}
		out, err := exec.Command(sshBin, append(args, extra...)...).CombinedOutput()
		return string(out), err
	}
	out, err := run("display version")
	if err != nil || !strings.Contains(out, "VRP (R) software, Version 8.200") {
		t.Fatalf("ssh host 'display version': %v\n%s", err, out)
	}
	out, err = run("-tt", "display version")
	if err != nil || !strings.Contains(out, "VRP (R) software, Version 8.200") {
		t.Fatalf("ssh -tt host 'display version': %v\n%s", err, out)
	}
	out, err = run("bogus")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out, "Error: Unrecognized command") {
		t.Fatalf("ssh host bogus: %v\n%s", err, out)
	}
}
