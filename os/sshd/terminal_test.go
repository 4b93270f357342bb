package sshd

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestControlKeysAtSessionStart sends Ctrl+C and Ctrl+\ the moment the
// shell starts, before the CLI has set up its terminal: the keys must stay
// keys (no signal kills the session, no stack dump reaches the client), and
// the session must work after them.
func TestControlKeysAtSessionStart(t *testing.T) {
	root := t.TempDir()
	port := freePort(t)
	writeSettings(t, root, port, "")
	d := StartDaemon(t, root, port)
	c, err := d.Dial("admin", []ssh.AuthMethod{ssh.Password("admin")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 10 {
		for _, tc := range []struct{ name, term, key, prompt string }{
			{"Ctrl+C", "xterm", "\x03", "<HUAWEI> "},
			{`Ctrl+\`, "xterm", "\x1c", "<HUAWEI> "},
			{`Ctrl+\ in plain mode`, "vt100", "\x1c\x03", "<HUAWEI>"},
		} {
			s, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.RequestPty(tc.term, 24, 80, nil); err != nil {
				t.Fatal(err)
			}
			in, _ := s.StdinPipe()
			out, _ := s.StdoutPipe()
			scr := NewScreen(out)
			if err := s.Shell(); err != nil {
				t.Fatal(err)
			}
			// At once: the CLI process was started before the shell request
			// was answered, and is still starting.
			io.WriteString(in, tc.key+tc.key)
			pos := scr.Expect(t, 0, tc.prompt)
			io.WriteString(in, "display version\r")
			pos = scr.Expect(t, pos, "VRP (R) software, Version 8.200")
			scr.Expect(t, pos, tc.prompt)
			for _, bad := range []string{"goroutine ", "SIGQUIT", "SIGINT", "runtime.", ".go:"} {
				if strings.Contains(scr.Text(), bad) {
					t.Fatalf("try %d, %s: %q reached the client:\n%s", i, tc.name, bad, scr.Text())
				}
			}
			io.WriteString(in, "quit\r")
			done := make(chan error, 1)
			go func() { done <- s.Wait() }()
			select {
			case err := <-done:
				var ee *ssh.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatalf("try %d, %s: %v", i, tc.name, err)
				}
				if err != nil {
					t.Fatalf("try %d, %s: the session ended with status %d:\n%s", i, tc.name, ee.ExitStatus(), scr.Text())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("try %d, %s: quit did not end the session:\n%s", i, tc.name, scr.Text())
			}
		}
	}
}

// TestPlainSessionBytes reads what a screen-scraper's terminal gets, byte
// for byte: no escape sequence, the prompt alone at the end of each answer,
// the input echoed as sent, and nothing after the prompt.
func TestPlainSessionBytes(t *testing.T) {
	root := t.TempDir()
	port := freePort(t)
	writeSettings(t, root, port, "sysname: PE1\n")
	d := StartDaemon(t, root, port)
	c, err := d.Dial("admin", []ssh.AuthMethod{ssh.Password("admin")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		term       string
		rows, cols int
	}{{"vt100", 24, 80}, {"xterm", 255, 80}, {"", 24, 80}, {"dumb", 24, 80}} {
		t.Run(fmt.Sprintf("%q %dx%d", tc.term, tc.rows, tc.cols), func(t *testing.T) {
			s, _ := c.NewSession()
			if err := s.RequestPty(tc.term, tc.rows, tc.cols, nil); err != nil {
				t.Fatal(err)
			}
			in, _ := s.StdinPipe()
			out, _ := s.StdoutPipe()
			scr := NewScreen(out)
			if err := s.Shell(); err != nil {
				t.Fatal(err)
			}
			raw := func() string {
				scr.mu.Lock()
				defer scr.mu.Unlock()
				return scr.buf.String()
			}
			steps := []struct{ send, want string }{
				{"", "<PE1>"},
				{"\n", "\r\n<PE1>"},
				{"screen-length 0 temporary\n", "screen-length 0 temporary\r\n<PE1>"},
				{"system-view\n", "system-view\r\nEnter system view, return user view with return command.\r\n[~PE1]"},
				{"sysname PE2\n", "sysname PE2\r\n[*PE1]"},
				{"bogus\n", "bogus\r\n      ^\r\nError: Unrecognized command found at '^' position.\r\n[*PE1]"},
				{"commit\n", "commit\r\n[~PE2]"},
				{"sysname PE1\n", "sysname PE1\r\n[*PE2]"},
				{"commit\n", "commit\r\n[~PE1]"},
				{"return\n", "return\r\n<PE1>"},
			}
			have := ""
			for _, st := range steps {
				io.WriteString(in, st.send)
				have += st.want
				deadline := time.Now().Add(10 * time.Second)
				for raw() != have {
					if len(raw()) > len(have) || time.Now().After(deadline) {
						t.Fatalf("after %q the session sent\n%q\nwant\n%q", st.send, raw(), have)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			// Nothing comes after the prompt.
			time.Sleep(300 * time.Millisecond)
			if raw() != have {
				t.Fatalf("stray output after the prompt: %q", raw()[len(have):])
			}
			io.WriteString(in, "quit\n")
			s.Wait()
		})
	}
}
