package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestNetnsDownAfterIPNetnsAdd: a namespace added on the host with `ip netns
// add` after `lab up` must not keep `lab down` from removing the lab's
// namespaces. When /run/netns is not yet a mount point at up, `ip netns add`
// bind-mounts /run/netns onto itself, which copies every namespace mount
// under it and leaves the originals hidden below; removing a lab namespace
// then failed with "device or resource busy" and the namespaces stayed.
//
// The test runs in a mount namespace of its own with a fresh /run (the
// host's /run/netns and its mounts are untouched), where /run/netns starts
// as a plain folder.
func TestNetnsDownAfterIPNetnsAdd(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	const lab = "vsbusy"
	work := filepath.Join(t.TempDir(), "work")
	file := writeTopology(t, "busy.clab.yml", lineTopology(lab, 2, ""))
	script := `
set -u
mount -t tmpfs vs-busy /run || exit 2
mkdir -p /run/netns
[ "$(stat -c %m /run/netns)" = /run ] || { echo "setup: /run/netns is still a mount point"; exit 3; }
"$BIN" lab up --workdir "$WORK" --timeout 1m "$FILE" >/dev/null || { echo "up failed"; exit 4; }
ip netns add vs-busy-other || exit 5
"$BIN" lab down --workdir "$WORK" "$FILE"; rc=$?
echo "namespaces left:"; ls /run/netns
ip netns del vs-busy-other
exit $rc
`
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "WORK="+work, "FILE="+file)
	// Go makes / private in the new mount namespace: nothing propagates to
	// the host, and the namespaces die with it if the test fails.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	left := ""
	if _, after, ok := strings.Cut(string(out), "namespaces left:\n"); ok {
		left = after
	}
	if err != nil {
		t.Fatalf("lab down after ip netns add: %v\n%s", err, out)
	}
	if strings.Contains(left, "clab-"+lab) {
		t.Errorf("lab namespaces left behind:\n%s", out)
	}
	if !strings.Contains(string(out), "lab "+lab+" removed") {
		t.Errorf("down did not report the removal:\n%s", out)
	}
}
