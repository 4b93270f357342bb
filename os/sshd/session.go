package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// Request payloads (RFC 4254 §6.2, §6.5, §6.7).
type ptyRequest struct {
	Term   string
	Cols   uint32
	Rows   uint32
	Width  uint32
	Height uint32
	Modes  string
}

type windowChange struct {
	Cols   uint32
	Rows   uint32
	Width  uint32
	Height uint32
}

type execRequest struct {
	Command string
}

type exitStatus struct {
	Status uint32
}

type subsystemRequest struct {
	Name string
}

// remoteHost is the address of a client without its port.
func remoteHost(a net.Addr) string {
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

// clampSize keeps a terminal size within what a PTY takes.
func clampSize(v uint32) uint16 {
	if v > 0xffff {
		return 0xffff
	}
	return uint16(v)
}

// session serves one session channel: it collects pty-req and env, starts
// the CLI on shell or exec, resizes on window-change, and reports the exit
// status.
func (s *Server) session(ctx context.Context, sc *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var (
		ptyReq  *ptyRequest
		size    = &pty.Winsize{Rows: 24, Cols: 80}
		running *process
		sub     string // the subsystem served, if any
		done    = make(chan uint32, 1)
	)
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				if running != nil {
					running.stop()
					<-done
				}
				if sub != "" {
					ch.Close() // the subsystem's reads end
					<-done
				}
				return
			}
			switch req.Type {
			case "pty-req":
				var p ptyRequest
				if err := ssh.Unmarshal(req.Payload, &p); err != nil || running != nil {
					req.Reply(false, nil)
					continue
				}
				ptyReq = &p
				if p.Rows > 0 && p.Cols > 0 {
					size = &pty.Winsize{Rows: clampSize(p.Rows), Cols: clampSize(p.Cols)}
				}
				req.Reply(true, nil)
			case "window-change":
				var w windowChange
				if err := ssh.Unmarshal(req.Payload, &w); err == nil && w.Rows > 0 && w.Cols > 0 {
					size = &pty.Winsize{Rows: clampSize(w.Rows), Cols: clampSize(w.Cols)}
					if running != nil && running.ptmx != nil {
						_ = pty.Setsize(running.ptmx, size)
					}
				}
				if req.WantReply {
					req.Reply(true, nil)
				}
			case "env":
				// Nothing from the client's environment reaches the CLI.
				req.Reply(true, nil)
			case "shell", "exec":
				if running != nil || sub != "" || len(s.cfg.CLI) == 0 {
					req.Reply(false, nil)
					continue
				}
				var command *string
				if req.Type == "exec" {
					var e execRequest
					if err := ssh.Unmarshal(req.Payload, &e); err != nil {
						req.Reply(false, nil)
						continue
					}
					command = &e.Command
				}
				p, err := s.start(sc, ch, ptyReq, size, command)
				if err != nil {
					s.log.Error("cannot start the CLI", "user", sc.User(), "remote", sc.RemoteAddr().String(), "err", err)
					req.Reply(false, nil)
					continue
				}
				req.Reply(true, nil)
				running = p
				go func() { done <- p.wait() }()
			case "subsystem":
				var sr subsystemRequest
				if err := ssh.Unmarshal(req.Payload, &sr); err != nil || running != nil || sub != "" {
					req.Reply(false, nil)
					continue
				}
				h := s.cfg.Subsystems[sr.Name]
				if h == nil {
					s.log.Debug("ssh subsystem not served", "user", sc.User(), "remote", sc.RemoteAddr().String(), "subsystem", sr.Name)
					req.Reply(false, nil)
					continue
				}
				req.Reply(true, nil)
				sub = sr.Name
				peer := Peer{User: sc.User(), Remote: remoteHost(sc.RemoteAddr())}
				go func() {
					h(ctx, ch, peer)
					done <- 0
				}()
			default:
				// x11, agent and port forwarding are not served.
				req.Reply(false, nil)
			}
		case code := <-done:
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: code}))
			if running != nil {
				s.log.Debug("ssh session ended", "user", sc.User(), "remote", sc.RemoteAddr().String(),
					"status", code, "idle_timeout", running.timedOut.Load())
			}
			return
		case <-ctx.Done():
			if running != nil {
				running.stop()
				<-done
			}
			if sub != "" {
				ch.Close()
				<-done
			}
			return
		}
	}
}

// process is one CLI process serving a session.
type process struct {
	cmd      *exec.Cmd
	ptmx     *os.File // nil without a PTY
	output   sync.WaitGroup
	lastIn   atomic.Int64 // unix nanoseconds of the last input
	idle     time.Duration
	timedOut atomic.Bool
	exited   atomic.Bool
	ch       ssh.Channel
	stopOnce sync.Once
}

// start runs the CLI for a session: on a PTY when the client asked for a
// terminal, otherwise with pipes (exec, or a script on stdin).
func (s *Server) start(sc *ssh.ServerConn, ch ssh.Channel, ptyReq *ptyRequest, size *pty.Winsize, command *string) (*process, error) {
	args := append([]string{}, s.cfg.CLI[1:]...)
	args = append(args, "--user", sc.User(), "--via", "ssh")
	if command != nil && *command != "" {
		args = append(args, "-c", *command)
	}
	cmd := exec.Command(s.cfg.CLI[0], args...)
	cmd.Env = append([]string{}, s.cfg.Env...)
	p := &process{cmd: cmd, ch: ch}
	p.lastIn.Store(time.Now().UnixNano())
	// With a terminal (a shell, or `ssh -t host cmd`) the CLI runs on a PTY,
	// which also turns "\n" into "\r\n" for the client's raw terminal.
	if ptyReq != nil {
		term := ptyReq.Term
		if term == "" {
			term = "vt100"
		}
		cmd.Env = append(cmd.Env, "TERM="+term)
		ptmx, err := startOnPTY(cmd, size)
		if err != nil {
			return nil, err
		}
		p.ptmx = ptmx
		p.idle = s.cfg.IdleTimeout
		if s.cfg.SessionIdleTimeout != nil {
			if d, ok := s.cfg.SessionIdleTimeout(); ok {
				p.idle = d
			}
		}
		p.output.Add(1)
		go func() {
			defer p.output.Done()
			_, _ = io.Copy(ch, ptmx) // ends with EIO once the CLI is gone
		}()
		go func() {
			_, _ = io.Copy(ptmx, p.input(ch))
		}()
		if p.idle > 0 {
			go p.watchIdle()
		}
		s.log.Info("ssh session started", "user", sc.User(), "remote", sc.RemoteAddr().String(), "pid", cmd.Process.Pid)
		return p, nil
	}
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	var stdin io.WriteCloser
	if command == nil || *command == "" {
		// A script on stdin (ssh host < script).
		w, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdin = w
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(stdin, ch)
			stdin.Close()
		}()
	}
	return p, nil
}

// startOnPTY starts cmd on a new PTY that is already in raw mode: keys the
// client sends before the CLI has set up its terminal (Ctrl+C, Ctrl+\,
// Ctrl+Z) are plain input and never become signals, and nothing is echoed
// but what the CLI writes. Output processing stays on ("\n" is sent as
// "\r\n").
func startOnPTY(cmd *exec.Cmd, size *pty.Winsize) (*os.File, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	if err := setRaw(int(tty.Fd())); err != nil {
		ptmx.Close()
		return nil, fmt.Errorf("terminal: %w", err)
	}
	if err := pty.Setsize(ptmx, size); err != nil {
		ptmx.Close()
		return nil, fmt.Errorf("terminal: %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	// A session of its own, with the PTY as its controlling terminal (fd 0).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		ptmx.Close()
		return nil, err
	}
	return ptmx, nil
}

// setRaw turns off every input transformation, echo and the keys that make
// signals (ISIG), as cli/term does for the whole session.
func setRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Oflag |= unix.OPOST | unix.ONLCR
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// input counts client input as activity.
func (p *process) input(r io.Reader) io.Reader {
	return readerFunc(func(b []byte) (int, error) {
		n, err := r.Read(b)
		if n > 0 {
			p.lastIn.Store(time.Now().UnixNano())
		}
		return n, err
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// idleMessage is shown before an idle session is closed.
const idleMessage = "\r\nInfo: The session was idle for too long and is closed.\r\n"

func (p *process) watchIdle() {
	t := time.NewTicker(min(p.idle/4, time.Second))
	defer t.Stop()
	for range t.C {
		if p.exited.Load() || p.timedOut.Load() {
			return
		}
		if time.Since(time.Unix(0, p.lastIn.Load())) >= p.idle {
			p.timedOut.Store(true)
			p.stop()
			return
		}
	}
}

// wait waits for the CLI to end and its output to be sent, and returns the
// exit status.
func (p *process) wait() uint32 {
	err := p.cmd.Wait()
	p.exited.Store(true)
	if p.ptmx != nil {
		p.output.Wait()
		p.ptmx.Close()
	}
	if p.timedOut.Load() {
		_, _ = io.WriteString(p.ch, idleMessage)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return uint32(ee.ExitCode())
	}
	return 1
}

// stop ends the CLI: SIGHUP as a terminal hang-up would, then SIGKILL if it
// lingers.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		if p.cmd.Process == nil {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGHUP)
		go func() {
			time.Sleep(2 * time.Second)
			if !p.exited.Load() {
				_ = p.cmd.Process.Kill()
			}
		}()
	})
}
