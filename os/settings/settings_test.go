package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		env     []string
		check   func(*Settings) string
		wantErr string
	}{
		{name: "defaults", check: func(s *Settings) string {
			if s.Sysname != "HUAWEI" || s.SSHPort != 22 || s.NetconfPort != 830 || s.Username != "admin" ||
				s.Forwarding != "auto" || s.InterfaceNaming != "slot" || s.CommitMode != "two-stage" {
				return "wrong defaults"
			}
			return ""
		}},
		{name: "file", file: "sysname: PE1\nssh_port: 2222\ninterface_naming: port\n", check: func(s *Settings) string {
			if s.Sysname != "PE1" || s.SSHPort != 2222 || s.InterfaceNaming != "port" {
				return "file not applied"
			}
			return ""
		}},
		{name: "env beats file", file: "sysname: PE1\n", env: []string{"VPNOS_SYSNAME=PE2", "VPNOS_SSH_PORT=0", "VPNOS_COMMIT_MODE=immediate"},
			check: func(s *Settings) string {
				if s.Sysname != "PE2" || s.SSHPort != 0 || s.CommitMode != "immediate" {
					return "env not applied"
				}
				return ""
			}},
		{name: "bad backend", env: []string{"VPNOS_FORWARDING=warp"}, wantErr: "forwarding"},
		{name: "bad yaml", file: "sysname: [\n", wantErr: "vpnos.yaml"},
		{name: "bad port", file: "ssh_port: 70000\n", wantErr: "port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				dir := filepath.Join(root, "etc/vpnos")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "vpnos.yaml"), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Load(Options{Root: root, Env: append([]string{"HOME=/"}, tc.env...)})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(s); msg != "" {
				t.Fatalf("%s: %+v", msg, s)
			}
			if s.SocketPath() != filepath.Join(root, "var/lib/vpnos/mgmt.sock") || s.StartupPath() != filepath.Join(root, "etc/vpnos/startup.cfg") {
				t.Fatalf("paths: %s %s", s.SocketPath(), s.StartupPath())
			}
		})
	}
}
