package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vpnos/cli/script"
	"vpnos/lab/labtest"
)

// TestScriptsSayWhatTheyLeaveUndone: `vpnos lab exec` (the node's `cli -c`)
// fails, saying why, when the script leaves a question unanswered (save
// saved nothing) or leaves configuration uncommitted; `save` answered with
// y saves, as on VRP. The saved file is what display saved-configuration
// shows and what rollback configuration to file restores.
func TestScriptsSayWhatTheyLeaveUndone(t *testing.T) {
	needRoot(t)
	f := writeTopology(t, "vfscript.clab.yml", lineTopology("vfscript", 1, ""))
	l := labtest.Up(t, f, labtest.Options{Binary: bin})
	st, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(st.Nodes[0].ConfigDir, "startup.cfg")

	out, err := l.CLI("r1", "save")
	if err == nil || !strings.Contains(out, script.NoAnswer) {
		t.Fatalf("save without an answer: err %v\n%s", err, out)
	}
	if _, err := os.Stat(saved); !os.IsNotExist(err) {
		t.Fatalf("save without an answer wrote %s: %v", saved, err)
	}
	out, err = l.CLI("r1", "system-view; sysname NEVER")
	if err == nil || !strings.Contains(out, script.Discarded) {
		t.Fatalf("uncommitted script: err %v\n%s", err, out)
	}
	if out, _ := l.CLI("r1", "display current-configuration"); strings.Contains(out, "NEVER") {
		t.Fatalf("discarded change committed:\n%s", out)
	}
	if out, err := l.CLI("r1", "system-view; sysname SAVED; commit; return; save; y"); err != nil || !strings.Contains(out, "Info: Save the configuration successfully.") {
		t.Fatalf("save answered: %v\n%s", err, out)
	}
	b, err := os.ReadFile(saved)
	if err != nil || !strings.Contains(string(b), "sysname SAVED") {
		t.Fatalf("saved file: %v\n%s", err, b)
	}
	if out, err := l.CLI("r1", "display saved-configuration"); err != nil || out != string(b) {
		t.Fatalf("display saved-configuration: %v\n%s", err, out)
	}
	if out, err := l.CLI("r1", "display startup"); err != nil || !strings.Contains(out, "Next startup saved-configuration file:  "+saved) {
		t.Fatalf("display startup: %v\n%s", err, out)
	}
	// Later changes, then back to the saved file.
	if out, err := l.CLI("r1", "system-view; sysname LATER; interface LoopBack1; ip address 10.9.9.9 32; commit"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := l.CLI("r1", "rollback configuration to file startup.cfg"); err != nil {
		t.Fatalf("rollback to file: %v\n%s", err, out)
	}
	out, err = l.CLI("r1", "display current-configuration")
	if err != nil || !strings.Contains(out, "sysname SAVED") || strings.Contains(out, "LoopBack1") {
		t.Fatalf("after rollback to the saved file: %v\n%s", err, out)
	}
}
