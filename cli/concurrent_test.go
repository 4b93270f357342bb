package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"vpnos/cli/proto"
)

// Several sessions configure and commit at once; every commit lands and
// no session sees another's uncommitted edits.
func TestConcurrentSessions(t *testing.T) {
	e := testEngine(t, "two-stage")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sm, _ := e.Open(ctx, proto.Request{User: fmt.Sprint("u", i)})
			for j, l := range []string{"system-view", fmt.Sprintf("interface LoopBack%d", i), fmt.Sprintf("ip address 10.0.%d.1 32", i), "display configuration candidate", "commit", "return"} {
				r := sm.Handle(ctx, proto.Request{Op: proto.OpExec, Line: l})
				if r.Failed {
					errs <- fmt.Errorf("session %d line %q: %s", i, l, r.Output)
					return
				}
				if j == 3 && strings.Count(r.Output, "interface LoopBack") != 1 {
					errs <- fmt.Errorf("session %d sees others' edits:\n%s", i, r.Output)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cfg := e.CurrentConfig()
	for i := 0; i < 8; i++ {
		if !strings.Contains(cfg, fmt.Sprintf("interface LoopBack%d\n ip address 10.0.%d.1 255.255.255.255", i, i)) {
			t.Fatalf("LoopBack%d missing:\n%s", i, cfg)
		}
	}
	if n := len(e.store.Commits()); n != 8 {
		t.Fatalf("%d commits, want 8", n)
	}
}
