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

// A configuration file may configure a port that is not present (its link
// comes later): the configuration is kept and saved back, while an
// interactive session still cannot name a port that does not exist.
func TestReplayKeepsAbsentPorts(t *testing.T) {
	e := testEngine(t, "two-stage")
	text := "interface GigabitEthernet0/9/0\n description late link\n ip address 10.9.0.1 255.255.255.0\n#\n" +
		"interface GigabitEthernet0/1/0\n ip address 10.1.0.1 255.255.255.0\n"
	errs, err := e.Replay(context.Background(), text)
	if err != nil || len(errs) > 0 {
		t.Fatalf("replay: %v %+v", err, errs)
	}
	cfg := e.CurrentConfig()
	if !strings.Contains(cfg, "interface GigabitEthernet0/9/0\n description late link\n ip address 10.9.0.1 255.255.255.0\n") {
		t.Fatalf("absent port's configuration lost:\n%s", cfg)
	}
	out := runTranscript(t, e, "system-view\ninterface GigabitEthernet0/8/0\ninterface GigabitEthernet0/9/0\ndisplay this\n")
	if !strings.Contains(out, "Error: Wrong parameter found at '^' position.") {
		t.Errorf("an interactive session configured an absent port:\n%s", out)
	}
	if !strings.Contains(out, "[~HUAWEI-GigabitEthernet0/9/0] display this") || !strings.Contains(out, " description late link") {
		t.Errorf("the kept port cannot be edited:\n%s", out)
	}
}
