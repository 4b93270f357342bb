package ops

import (
	"context"
	"strings"
	"testing"

	"vpnos/services/ospf"
)

// fakeOSPF serves snapshots of two processes and records resets.
type fakeOSPF struct {
	snaps  []ospf.Snapshot
	resets []uint32
}

func (f *fakeOSPF) Snapshots(_ context.Context, process uint32) ([]ospf.Snapshot, error) {
	if process == 0 {
		return f.snaps, nil
	}
	for _, s := range f.snaps {
		if s.Process == process {
			return []ospf.Snapshot{s}, nil
		}
	}
	return nil, ospf.ErrNoProcess
}

func (f *fakeOSPF) Reset(_ context.Context, process uint32) error {
	if _, err := f.Snapshots(context.Background(), process); err != nil {
		return err
	}
	f.resets = append(f.resets, process)
	return nil
}

// The OSPF commands take a process ID or mean every process, print what
// the renderers print, and refuse a process that is not configured;
// reset ospf exists in the user view only.
func TestOSPFCommands(t *testing.T) {
	snaps := ospfLab(t)
	snaps[1].Process = 2
	f := &fakeOSPF{snaps: snaps}
	w := newWorldMore(t, "two-stage", nil, func(d *Deps) { d.OSPF = f })
	for _, tc := range []struct{ line, want string }{
		{"display ospf peer brief", RenderOSPFPeer(snaps, true, false)},
		{"display ospf 2 peer brief", RenderOSPFPeer(snaps[1:], true, false)},
		{"dis ospf 1 peer", RenderOSPFPeer(snaps[:1], false, false)},
		{"display ospf interface", RenderOSPFInterface(snaps)},
		{"display ospf 1 lsdb", RenderOSPFLSDB(snaps[:1], "")},
		{"display ospf 1 lsdb ase", RenderOSPFLSDB(snaps[:1], "ase")},
		{"display ospf 2 lsdb summary", RenderOSPFLSDB(snaps[1:], "summary")},
		{"display ospf routing", RenderOSPFRouting(snaps)},
		{"display ospf 2 brief", RenderOSPFBrief(snaps[1:])},
		{"display ospf 3 brief", "Error: The OSPF process does not exist.\n"},
		{"display ospf 0 brief", "Error: Wrong parameter found at '^' position.\n"},
		{"reset ospf 2 process", ""},
		{"reset ospf 7 process", "Error: The OSPF process does not exist.\n"},
	} {
		out := runTranscript(t, w, tc.line)
		_, got, _ := strings.Cut(out, "\n")
		if strings.Contains(tc.want, "'^'") {
			// The caret line comes first.
			_, got, _ = strings.Cut(got, "\n")
		}
		if got != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.line, got, tc.want)
		}
	}
	if len(f.resets) != 1 || f.resets[0] != 2 {
		t.Errorf("resets %v", f.resets)
	}
	out := runTranscript(t, w, "system-view\nreset ospf 1 process")
	if !strings.Contains(out, "Error: Unrecognized command") {
		t.Errorf("reset ospf in the system view:\n%s", out)
	}
	out = runTranscript(t, w, "display ospf ?")
	for _, kw := range []string{"INTEGER<1-4294967295>", "brief", "interface", "lsdb", "peer", "routing"} {
		if !strings.Contains(out, kw) {
			t.Errorf("display ospf ? lacks %s:\n%s", kw, out)
		}
	}
}
