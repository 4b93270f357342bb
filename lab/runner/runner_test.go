package runner

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"vpnos/lab/topology"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{`cli -c "display version"`, []string{"cli", "-c", "display version"}, false},
		{`cli -c 'display ip routing-table; display bgp peer'`, []string{"cli", "-c", "display ip routing-table; display bgp peer"}, false},
		{`  a   b\ c "d\"e" f'g'h `, []string{"a", "b c", `d"e`, "fgh"}, false},
		{`""`, []string{""}, false},
		{`a "b`, nil, true},
		{`a 'b`, nil, true},
		{`   `, nil, true},
	}
	for _, tc := range tests {
		got, err := SplitWords(tc.in)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q, err=%v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestNodeConfigDir(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "PE1")
	file := filepath.Join(dir, "startup.cfg")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("sysname X\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := func(host, ctr string) topology.Bind { return topology.Bind{Host: host, Container: ctr} }
	tests := []struct {
		name    string
		binds   []topology.Bind
		dir     string
		files   map[string]string
		wantErr string
	}{
		{"none", nil, "", map[string]string{}, ""},
		{"folder", []topology.Bind{b(folder, "/etc/vpnos/")}, folder, map[string]string{}, ""},
		{"folder no slash", []topology.Bind{b(folder, "/etc/vpnos")}, folder, map[string]string{}, ""},
		{"file", []topology.Bind{b(file, "/etc/vpnos/startup.cfg")}, "", map[string]string{"startup.cfg": file}, ""},
		{"both", []topology.Bind{b(folder, "/etc/vpnos"), b(file, "/etc/vpnos/startup.cfg")}, "", nil, "not both"},
		{"elsewhere", []topology.Bind{b(folder, "/opt/x")}, "", nil, "can only bind"},
		{"missing", []topology.Bind{b(filepath.Join(dir, "nope"), "/etc/vpnos")}, "", nil, "no such file"},
		{"folder is a file", []topology.Bind{b(file, "/etc/vpnos")}, "", nil, "is not a folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotDir, gotFiles, err := nodeConfigDir(&topology.Node{Name: "n", Binds: tc.binds})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || gotDir != tc.dir || !reflect.DeepEqual(gotFiles, tc.files) {
				t.Errorf("got %q %v %v", gotDir, gotFiles, err)
			}
		})
	}
}

func TestNodeEnv(t *testing.T) {
	n := &topology.Node{Env: map[string]string{"VPNOS_SSH_PORT": "2222", "PATH": "/x"}, Intfs: []string{"eth1", "eth2"}}
	got := nodeEnv(n)
	want := []string{"CLAB_INTFS=2", "HOME=/root", "PATH=/x", "VPNOS_SSH_PORT=2222"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}

func TestNodeSocket(t *testing.T) {
	b := &netnsBackend{o: &Options{}}
	if s, err := b.socket(&NodeState{Root: "/w/l/PE1"}); err != nil || s != "/w/l/PE1/var/lib/vpnos/mgmt.sock" {
		t.Errorf("default socket %q %v", s, err)
	}
	if s, _ := b.socket(&NodeState{Root: "/w/l/PE1", Env: []string{"VPNOS_STATE_DIR=/s"}}); s != "/s/mgmt.sock" {
		t.Errorf("socket in the environment's state directory: %q", s)
	}
	b.o.NodeSocket = func(root, configDir string, env []string) (string, error) {
		return "", errors.New("settings: log_level: \"loud\"")
	}
	if _, err := b.socket(&NodeState{Root: "/w/l/PE1"}); err == nil {
		t.Error("the settings' refusal is lost")
	}
}

func TestNames(t *testing.T) {
	if got := NodeName("l3vpn", "PE1"); got != "clab-l3vpn-PE1" {
		t.Errorf("NodeName = %q", got)
	}
	if got := LabDir("/w", "l3vpn"); got != "/w/l3vpn" {
		t.Errorf("LabDir = %q", got)
	}
	if got := LabDir("", "x"); got != DefaultWorkdir+"/x" {
		t.Errorf("LabDir = %q", got)
	}
}

func TestStateJournal(t *testing.T) {
	dir := t.TempDir()
	st := &State{Lab: "x", Runtime: RuntimeNetns, Dir: dir, Nodes: []NodeState{{Name: "a", Runtime: "clab-x-a"}}}
	if err := st.record(Step{Kind: StepNetns, Name: "clab-x-a", Node: "a"}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Steps) != 1 || got.Steps[0].Name != "clab-x-a" || got.Complete {
		t.Errorf("got %+v", got)
	}
	if _, err := got.Node("b"); err == nil || !strings.Contains(err.Error(), `no node "b"`) {
		t.Errorf("Node(b): %v", err)
	}
	if _, err := LoadState(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "not up") {
		t.Errorf("LoadState(none): %v", err)
	}
}

func TestStartRefusal(t *testing.T) {
	log := `time=2026-11-22T02:24:42.161Z level=INFO msg="daemon started" proc=boot pid=14
time=2026-11-22T02:24:42.170Z level=ERROR msg="cannot start" proc=daemon err="vpnos needs the capabilities NET_ADMIN, NET_RAW and SYS_ADMIN; missing SYS_ADMIN (hint)"
time=2026-11-22T02:24:42.171Z level=WARN msg="daemon exited" proc=boot pid=14 status="exit 1"
`
	if got := startRefusal(log); got != "vpnos needs the capabilities NET_ADMIN, NET_RAW and SYS_ADMIN; missing SYS_ADMIN (hint)" {
		t.Fatalf("got %q", got)
	}
	if got := startRefusal("level=INFO msg=ready\n"); got != "" {
		t.Fatalf("a healthy log gave %q", got)
	}
}
