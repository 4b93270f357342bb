package term

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata")

// sshDaemon is a daemon with its SSH server on a free port of 127.0.0.1,
// named PE1, that lets keyFile's key in (the settings folder's
// authorized_keys file).
type sshDaemon struct {
	sock    string
	port    int
	keyFile string
}

func startSSHDaemon(t *testing.T) sshDaemon {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	etc := filepath.Join(root, "etc", "vpnos")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(root, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "authorized_keys"), ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	settings := fmt.Sprintf("ssh_port: %d\nssh_listen: 127.0.0.1\ninterface_wait: 0\nsysname: PE1\n", port)
	if err := os.WriteFile(filepath.Join(etc, "vpnos.yaml"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := exec.Command(vpnosBinary(t), "daemon", "--root", root)
	cmd.Stderr = &log
	cmd.Env = append(os.Environ(), "CLAB_INTFS=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("daemon exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("SSH not listening:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return sshDaemon{sock: filepath.Join(root, "var", "lib", "vpnos", "mgmt.sock"), port: port, keyFile: keyFile}
}

// sshCommand is the OpenSSH client command line that logs into d.
func (d sshDaemon) sshCommand(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatalf("the OpenSSH client is needed (apt-get install openssh-client): %v", err)
	}
	return fmt.Sprintf("ssh -F /dev/null -i %s -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no "+
		"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p %d admin@127.0.0.1", d.keyFile, d.port)
}

// personSession types what a person types, waiting for each answer: Tab,
// `?` after a space, the history (Up), Ctrl+C, a commit, Ctrl+Z, a display
// run again from the history, an error. sep is what follows the prompt
// before the input (" " with full editing, "" in plain mode). It returns the
// screen (the terminal is tall enough for the whole session; tmux's
// scrollback keeps copies of lines go-prompt redrew, which no one sees).
func personSession(m *Tmux, sep string) string {
	p := func(prompt string) string { return prompt + sep }
	af := "PE1-vpn-instance-blue-af-ipv4]"
	m.WaitLast(p("<PE1>"))
	m.Type("sys")
	m.Key("Tab")
	m.WaitLast(p("<PE1>") + "system-view")
	m.Key("Enter")
	m.WaitLast(p("[~PE1]"))
	m.Type("ip vpn-inst")
	m.Key("Tab")
	m.WaitLast(p("[~PE1]") + "ip vpn-instance")
	m.Type("blue")
	m.Key("Enter")
	m.WaitLast(p("[*PE1-vpn-instance-blue]"))
	m.Type("ipv4-family")
	m.Key("Enter")
	m.WaitLast(p("[*" + af))
	m.Type("route-distinguisher ")
	m.Type("?")
	m.WaitFor("help for route-distinguisher", func(s string) bool {
		return strings.Contains(s, p("[*"+af)+"route-distinguisher ?\n") && strings.HasSuffix(s, "\n"+p("[*"+af)+"route-distinguisher")
	})
	m.Type("65000:1")
	m.Key("Enter")
	m.WaitLast(p("[*" + af))
	m.Type("vpn-target 65000:1 b")
	m.Key("Tab")
	m.WaitLast(p("[*"+af) + "vpn-target 65000:1 both")
	m.Key("Enter")
	m.WaitLast(p("[*" + af))
	m.Key("Up")
	m.WaitLast(p("[*"+af) + "vpn-target 65000:1 both")
	m.Key("Up")
	m.WaitLast(p("[*"+af) + "route-distinguisher 65000:1")
	m.Key("C-c")
	m.WaitContains(p("[*"+af) + "route-distinguisher 65000:1\n" + p("[*"+af))
	m.Type("commit")
	m.Key("Enter")
	m.WaitLast(p("[~" + af))
	m.Key("C-z")
	m.WaitLast(p("<PE1>"))
	m.Type("display current-configuration configuration vpn-instance")
	m.Key("Enter")
	m.WaitContains("#\nreturn\n" + p("<PE1>"))
	m.Key("Up")
	m.WaitLast(p("<PE1>") + "display current-configuration configuration vpn-instance")
	m.Key("Enter")
	m.WaitFor("the display again", func(s string) bool {
		return strings.Count(s, "#\nreturn\n") == 2 && strings.HasSuffix(s, "\n"+strings.TrimRight(p("<PE1>"), " "))
	})
	m.Type("bogus")
	m.Key("Enter")
	m.WaitContains("Error: Unrecognized command found at '^' position.\n" + p("<PE1>"))
	return stamp.ReplaceAllString(trimLines(m.Screen()), "YYYY-MM-DD hh:mm:ss+zz:zz")
}

// stamp is the time of the last change in the configuration's header.
var stamp = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d`)

// checkGolden compares a transcript with testdata/name (-update rewrites it).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got+"\n" != string(want) {
		t.Fatalf("transcript differs from %s:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestSSHSessionForPeople types the same keys at the console (`vpnos cli`,
// as `docker exec -it NODE cli` runs it) and through OpenSSH's ssh to the
// daemon's SSH server, each in a terminal of its own, against two fresh
// daemons: the screens must be the same, and the same as the golden
// transcript. An SSH session is, for a person, the console.
func TestSSHSessionForPeople(t *testing.T) {
	bin := vpnosBinary(t)
	console := startSSHDaemon(t)
	remote := startSSHDaemon(t)
	mc := StartTmux(t, fmt.Sprintf("%s cli --socket %s; echo EXIT=$?; sleep 60", bin, console.sock), 120, 60)
	ms := StartTmux(t, remote.sshCommand(t)+"; echo EXIT=$?; sleep 60", 120, 60)
	atConsole := personSession(mc, " ")
	overSSH := personSession(ms, " ")
	if atConsole != overSSH {
		t.Fatalf("the SSH session differs from the console.\nconsole:\n%s\nssh:\n%s", atConsole, overSSH)
	}
	checkGolden(t, "person_session.golden", overSSH)
	ms.Type("quit")
	ms.Key("Enter")
	ms.WaitContains("EXIT=0")
}

// TestSSHPlainSessionForPeople: a person whose terminal says vt100 gets the
// plain mode, and still has Tab, `?`, the history and Ctrl+C.
func TestSSHPlainSessionForPeople(t *testing.T) {
	d := startSSHDaemon(t)
	m := StartTmux(t, "TERM=vt100 "+d.sshCommand(t)+"; echo EXIT=$?; sleep 60", 120, 60)
	checkGolden(t, "person_session_plain.golden", personSession(m, ""))
	m.Type("quit")
	m.Key("Enter")
	m.WaitContains("EXIT=0")
}
