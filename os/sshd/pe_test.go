package sshd

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

const peNetns = "vt-term-pe"

// peLinks makes a network namespace with eth1..eth3 (veth peers of
// vt-term-peN in the test's namespace), as containerlab gives a node.
func peLinks(t *testing.T) {
	t.Helper()
	clean := func() {
		exec.Command("ip", "netns", "del", peNetns).Run()
		for i := 1; i <= 3; i++ {
			exec.Command("ip", "link", "del", fmt.Sprintf("vt-term-pe%d", i)).Run()
		}
	}
	clean()
	t.Cleanup(clean)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	run("netns", "add", peNetns)
	run("-n", peNetns, "link", "set", "lo", "up")
	for i := 1; i <= 3; i++ {
		run("link", "add", fmt.Sprintf("vt-term-pe%d", i), "type", "veth", "peer", "name", fmt.Sprintf("eth%d", i), "netns", peNetns)
		run("link", "set", fmt.Sprintf("vt-term-pe%d", i), "up")
		run("-n", peNetns, "link", "set", fmt.Sprintf("eth%d", i), "up")
	}
}

// peConfig is PE1 of the reference network, typed as a person would (with
// abbreviations), ending with commit and save.
var peConfig = []string{
	"system-view",
	"sysname PE1",
	"ip vpn-instance red",
	"ipv4-family",
	"route-distinguisher 10.255.0.1:1",
	"vpn-target 65000:100 both",
	"quit",
	"quit",
	"ip vpn-instance blue",
	"ipv4-family",
	"route-distinguisher 10.255.0.1:2",
	"vpn-target 65000:200 both",
	"quit",
	"quit",
	"mpls lsr-id 10.255.0.1",
	"mpls",
	"quit",
	"interface GigabitEthernet0/1/0",
	"undo shutdown",
	"ip binding vpn-instance red",
	"ip address 192.0.2.1 30",
	"quit",
	"int g0/2/0",
	"ip binding vpn-instance blue",
	"ip add 192.0.2.5 255.255.255.252",
	"quit",
	"interface GigabitEthernet0/3/0",
	"ip address 198.51.100.1 30",
	"mpls",
	"quit",
	"interface LoopBack0",
	"ip address 10.255.0.1 32",
	"quit",
	"commit",
	"return",
	"save",
}

// TestPEConfigOverSSHSurvivesRestart configures a PE through an interactive
// SSH session, saves, restarts the daemon and finds the configuration in
// `display current-configuration`.
func TestPEConfigOverSSHSurvivesRestart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	peLinks(t)
	root := t.TempDir()
	const port = 2222 // the namespace is the test's own
	writeSettings(t, root, port, "")
	d := StartDaemonIn(t, peNetns, root, port)

	c, err := d.Dial("admin", []ssh.AuthMethod{ssh.Password("admin")}, nil)
	if err != nil {
		t.Fatalf("login: %v\n%s", err, d.Log)
	}
	s, _ := c.NewSession()
	if err := s.RequestPty("xterm", 40, 120, nil); err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	scr := NewScreen(out)
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	pos := scr.Expect(t, 0, "<HUAWEI> ")
	for _, line := range peConfig {
		io.WriteString(in, line+"\r")
		pos = scr.Expect(t, pos, line+"\r\n")
	}
	pos = scr.Expect(t, pos, "Are you sure to continue?")
	io.WriteString(in, "y\r")
	scr.Expect(t, pos, "Info: Save the configuration successfully.")
	io.WriteString(in, "quit\r")
	s.Wait()
	c.Close()
	if strings.Contains(scr.Text(), "Error") {
		t.Fatalf("the session reported errors:\n%s", scr.Text())
	}

	before := display(t, d)
	for _, want := range []string{
		"sysname PE1",
		"ip vpn-instance red\n ipv4-family\n  route-distinguisher 10.255.0.1:1\n",
		"  vpn-target 65000:200 export-extcommunity\n  vpn-target 65000:200 import-extcommunity\n",
		"mpls lsr-id 10.255.0.1\n#\nmpls\n#\n",
		"interface GigabitEthernet0/1/0\n undo shutdown\n ip binding vpn-instance red\n ip address 192.0.2.1 255.255.255.252\n",
		"interface GigabitEthernet0/2/0\n",
		" ip binding vpn-instance blue\n ip address 192.0.2.5 255.255.255.252\n",
		"interface GigabitEthernet0/3/0\n",
		" ip address 198.51.100.1 255.255.255.252\n mpls\n",
		"interface LoopBack0\n ip address 10.255.0.1 255.255.255.255\n",
	} {
		if !strings.Contains(before, want) {
			t.Fatalf("current configuration lacks %q:\n%s", want, before)
		}
	}
	saved, err := os.ReadFile(filepath.Join(root, "etc", "vpnos", "startup.cfg"))
	if err != nil || body(string(saved)) != body(before) {
		t.Fatalf("startup.cfg (%v) differs from the running configuration:\n%s", err, saved)
	}

	d.Stop()
	d = StartDaemonIn(t, peNetns, root, port)
	after := display(t, d)
	if body(after) != body(before) {
		t.Fatalf("after a restart the configuration differs.\nbefore:\n%s\nafter:\n%s\nlog:\n%s", before, after, d.Log)
	}
	if !strings.Contains(d.Log.String(), "refused=0") {
		t.Fatalf("startup load reported refused lines:\n%s", d.Log)
	}
}

// display runs `display current-configuration` through an SSH exec request.
func display(t *testing.T, d *Daemon) string {
	t.Helper()
	c, err := d.Dial("admin", []ssh.AuthMethod{ssh.Password("admin")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _ := c.NewSession()
	out, err := s.CombinedOutput("display current-configuration")
	if err != nil {
		t.Fatalf("display current-configuration: %v\n%s", err, out)
	}
	return string(out)
}

// body drops the header lines (they carry the time of the last change).
func body(cfg string) string {
	var keep []string
	for _, l := range strings.Split(cfg, "\n") {
		if !strings.HasPrefix(l, "!") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
