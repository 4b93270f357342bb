package netconf_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vpnos/cli"
	"vpnos/cli/proto"
	"vpnos/os/netconf"
	"vpnos/os/sshd"
	"vpnos/yang/datastore"
)

// device is a CLI engine and a NETCONF server over one datastore, with
// NETCONF served over SSH on a free port of 127.0.0.1 (admin/admin).
type device struct {
	store  *datastore.Store
	engine *cli.Engine
	srv    *netconf.Server
	addr   string
}

func newDevice(t *testing.T) *device {
	t.Helper()
	d := &device{store: ownedStore(t)}
	var err error
	if d.engine, err = cli.New(cli.Deps{Sysname: "HUAWEI", Store: d.store, Ports: testPorts}); err != nil {
		t.Fatal(err)
	}
	if d.srv, err = netconf.New(netconf.Config{Store: d.store}); err != nil {
		t.Fatal(err)
	}
	ss, err := sshd.New(sshd.Config{
		Addr: "127.0.0.1:0", HostKeyPath: filepath.Join(t.TempDir(), "hostkey"),
		Auth:       sshd.AuthConfig{Username: "admin", Password: "admin", FailDelay: time.Millisecond},
		Subsystems: map[string]sshd.Subsystem{"netconf": d.srv.Subsystem},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = ss.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	d.addr = ss.Addr().String()
	return d
}

// cli runs CLI lines in one session and returns the output.
func (d *device) cli(t *testing.T, lines ...string) string {
	t.Helper()
	ctx := context.Background()
	s, _ := d.engine.Open(ctx, proto.Request{Op: proto.OpOpen, User: "alice"})
	defer s.Close()
	var b strings.Builder
	for _, l := range lines {
		r := s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: l})
		b.WriteString(r.Output)
	}
	return b.String()
}

// TestNcclient drives the server with ncclient (testdata/ncclient_check.py)
// and checks what it leaves: the CLI shows its commits, yanglint accepts
// the data it read against the modules it fetched with get-schema.
func TestNcclient(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import ncclient").Run(); err != nil {
		t.Fatalf("python3-ncclient is not installed (%s): %v", py, err)
	}
	d := newDevice(t)
	host, port, _ := strings.Cut(d.addr, ":")
	out := t.TempDir()
	cmd := exec.Command(py, "testdata/ncclient_check.py", host, port, out)
	res, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("ncclient: %v\n%s\n%s", err, res, stderr)
	}
	var facts struct {
		Session   string `json:"session"`
		Refused   string `json:"refused"`
		Holder    string `json:"lock_denied_holder"`
		Rollback  bool   `json:"rolled_back"`
		Malformed string `json:"malformed"`
	}
	if err := json.Unmarshal(res, &facts); err != nil {
		t.Fatalf("ncclient output %q: %v", res, err)
	}
	t.Logf("ncclient: session %s, refused commit %q, lock held by session %s, malformed XML: %q", facts.Session, facts.Refused, facts.Holder, facts.Malformed)
	if facts.Holder != facts.Session || !facts.Rollback || facts.Malformed == "" {
		t.Fatalf("ncclient facts %+v", facts)
	}

	// The CLI sees what ncclient committed, and not what rolled back.
	cfg := d.cli(t, "display current-configuration")
	for _, want := range []string{"ip vpn-instance nc-red\n description from ncclient\n ipv4-family\n  route-distinguisher 65000:11", "ip vpn-instance nc-blue"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("display current-configuration lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "nc-trial") || strings.Contains(cfg, "nc-dup") {
		t.Errorf("display current-configuration shows a rolled back or refused instance:\n%s", cfg)
	}
	list := d.cli(t, "display configuration commit list")
	if !strings.Contains(list, "admin") {
		t.Errorf("commit list:\n%s", list)
	}
	// The commit and the confirmed commit by admin, and the confirmed
	// commit's rollback by the datastore's trial user, all over NETCONF.
	var byAdmin, rolledBack int
	for _, r := range d.store.Commits() {
		switch {
		case r.Interface == "netconf" && r.User == "admin":
			byAdmin++
		case r.Interface == "netconf" && r.User == datastore.TrialUser:
			rolledBack++
		}
	}
	if byAdmin != 2 || rolledBack != 1 {
		t.Errorf("%d commits by admin and %d rollbacks over netconf: %+v", byAdmin, rolledBack, d.store.Commits())
	}

	// yanglint checks the data against the modules get-schema gave.
	mods, _ := filepath.Glob(filepath.Join(out, "*.yang"))
	if len(mods) < 8 {
		t.Fatalf("only %d modules fetched", len(mods))
	}
	for _, c := range []struct{ file, typ string }{{"running.xml", "config"}, {"get.xml", "data"}} {
		args := append([]string{"-p", out, "-t", c.typ}, mods...)
		args = append(args, filepath.Join(out, c.file))
		if o, err := exec.Command("yanglint", args...).CombinedOutput(); err != nil || len(strings.TrimSpace(string(o))) > 0 {
			data, _ := os.ReadFile(filepath.Join(out, c.file))
			t.Errorf("yanglint %s: %v\n%s\n%s", c.file, err, o, data)
		}
	}
}
