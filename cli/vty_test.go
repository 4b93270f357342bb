package cli

import (
	"testing"
	"time"

	"vpnos/cli/proto"
	"vpnos/services/system"
)

// user-interface vty 0 4 gives SSH sessions their page length and idle
// timeout; console sessions keep the terminal's.
func TestVTYSettings(t *testing.T) {
	e := testEngine(t, "two-stage")
	runTranscript(t, e, "system-view\nuser-interface vty 0 4\nscreen-length 0\nidle-timeout 2 30\ncommit\n")
	if vty := system.FromTree(e.store.Running()).VTY; !vty.HasIdleTimeout || vty.IdleTimeout != 150*time.Second {
		t.Fatalf("idle timeout %+v", vty)
	}
	if s := e.newSession(proto.Request{Interactive: true, Source: "ssh", Height: 50}); s.screen != 0 {
		t.Fatalf("ssh session page length %d, want 0 (no paging)", s.screen)
	}
	if s := e.newSession(proto.Request{Interactive: true, Source: "console", Height: 50}); s.screen != 49 {
		t.Fatalf("console session page length %d, want the terminal's 49", s.screen)
	}
}
