package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSaveHook(t *testing.T) {
	e := testEngine(t, "two-stage")
	var saved string
	e.SaveFunc = func(_ context.Context, text string) error { saved = text; return nil }
	out := runTranscript(t, e, "system-view\nsysname PE1\ncommit\nreturn\nsave\ny\nsave\nn\n")
	if !strings.Contains(out, "Info: Save the configuration successfully.") {
		t.Fatalf("save output:\n%s", out)
	}
	if saved != e.CurrentConfig() || !strings.Contains(saved, "\nsysname PE1\n") {
		t.Fatalf("saved text:\n%s", saved)
	}
	e.SaveFunc = func(context.Context, string) error { return errors.New("disk full") }
	out = runTranscript(t, e, "save\nyes\n")
	if !strings.Contains(out, "Error: Failed to save the configuration: disk full.") {
		t.Fatalf("failing save output:\n%s", out)
	}
	// What was saved loads back to the same tree.
	f := testEngine(t, "two-stage")
	if errs, err := f.Replay(context.Background(), saved); err != nil || len(errs) > 0 {
		t.Fatalf("replay of saved text: %v %+v", err, errs)
	}
	if !f.store.Running().Equal(e.store.Running()) {
		t.Fatal("saved configuration does not replay to the same tree")
	}
}
