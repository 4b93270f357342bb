package daemon

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"vpnos/cli/proto"
	"vpnos/os/settings"
	"vpnos/yang/modules"
	"vpnos/yang/schema"
)

// vcExtraModule is a configuration module no service owns.
const vcExtraModule = `module vc-extra {
  yang-version 1.1;
  namespace "urn:vpnos:test:vc-extra";
  prefix vcx;
  container vc-extra {
    leaf knob { type string; }
  }
}`

// TestMain runs a daemon instead of the tests when the test binary is
// started as one (see startTestDaemon): the test build can give it a
// schema with a module of the test's own.
func TestMain(m *testing.M) {
	if root := os.Getenv("VC_DAEMON_ROOT"); root != "" {
		os.Exit(runTestDaemon(root, os.Getenv("VC_DAEMON_EXTRA") != ""))
	}
	os.Exit(m.Run())
}

func runTestDaemon(root string, extra bool) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := settings.Load(settings.Options{Root: root})
	if err != nil {
		fmt.Fprintln(os.Stderr, "settings:", err)
		return 2
	}
	d, err := New(s, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemon:", err)
		return 2
	}
	if extra {
		files, _ := fs.Glob(modules.FS, "*.yang")
		mfs := fstest.MapFS{"vc-extra.yang": &fstest.MapFile{Data: []byte(vcExtraModule)}}
		for _, f := range files {
			b, _ := fs.ReadFile(modules.FS, f)
			mfs[f] = &fstest.MapFile{Data: b}
		}
		if d.Schema, err = schema.LoadFS(mfs); err != nil {
			fmt.Fprintln(os.Stderr, "schema:", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "daemon failed:", err)
		return 1
	}
	return 0
}

// startTestDaemon runs this test binary as a daemon on a fresh root, in a
// network namespace of its own (nothing of it is left on the host when it
// ends). It returns the process, its socket path and its output.
func startTestDaemon(t *testing.T, extra bool) (*exec.Cmd, string, *syncLog, chan error) {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "vpnos")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vpnos.yaml"), []byte("ssh_port: 0\nnetconf_port: 0\ninterface_wait: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "VC_DAEMON_ROOT="+root, "CLAB_INTFS=")
	if extra {
		cmd.Env = append(cmd.Env, "VC_DAEMON_EXTRA=1")
	}
	out := &syncLog{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd, filepath.Join(root, "var", "lib", "vpnos", proto.SocketName), out, done
}

// TestDaemonChecksOwners: the daemon starts with today's modules, whose
// every configuration node has an owner or is marked unsupported, and
// refuses to start when a module holds a node nobody owns.
func TestDaemonChecksOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for the daemon's network namespaces")
	}
	t.Run("unowned node", func(t *testing.T) {
		_, _, out, done := startTestDaemon(t, true)
		select {
		case err := <-done:
			done <- err // for the cleanup
			if err == nil {
				t.Fatalf("the daemon ran to its end:\n%s", out)
			}
			want := "configuration nodes without an owner (register a participant or mark them unsupported): /vc-extra"
			if !strings.Contains(out.String(), want) {
				t.Fatalf("exit %v without %q:\n%s", err, want, out)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("the daemon did not refuse to start:\n%s", out)
		}
	})
	t.Run("today's modules", func(t *testing.T) {
		cmd, sock, out, done := startTestDaemon(t, false)
		deadline := time.Now().Add(60 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			cl, _, err := proto.Dial(ctx, sock, proto.Request{User: "vc", Source: "script"})
			cancel()
			if err == nil {
				resp, err := cl.Do(proto.Request{Op: proto.OpExec, Line: "display version"})
				cl.Close()
				if err != nil || !strings.Contains(resp.Output, "VRP (R) software") {
					t.Fatalf("display version: %v %q", err, resp.Output)
				}
				break
			}
			select {
			case err := <-done:
				done <- err
				t.Fatalf("the daemon exited (%v):\n%s", err, out)
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("the management socket does not answer: %v\n%s", err, out)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			done <- err
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, out)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no exit after SIGTERM:\n%s", out)
		}
	})
}
