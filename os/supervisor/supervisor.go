// Package supervisor is PID 1 of the vpnos image: it reaps zombies, runs the
// daemon as a child, restarts it with backoff when it exits or crashes,
// forwards SIGTERM/SIGINT and never exits because a child died (a container
// restart would lose every containerlab link).
package supervisor

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Config describes the child to supervise.
type Config struct {
	Path string   // executable
	Args []string // argv[1:]
	Env  []string
	// MinBackoff and MaxBackoff bound the delay before a restart; a child that
	// ran longer than StableAfter resets the backoff.
	MinBackoff, MaxBackoff, StableAfter time.Duration
	// StopTimeout is how long a stopping child gets after SIGTERM before SIGKILL.
	StopTimeout time.Duration
	// Subreaper makes this process reap orphans even when it is not PID 1
	// (tests, the netns lab runtime).
	Subreaper bool
	Log       *slog.Logger
	// Started, if set, is called with each new child's PID (tests).
	Started func(pid int)
}

func (c *Config) defaults() {
	if c.MinBackoff == 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.StableAfter == 0 {
		c.StableAfter = 10 * time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 1500 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
}

// Run supervises until SIGTERM/SIGINT (or ctx ends), then stops the child and
// returns. It is meant to be the whole life of the process.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	if cfg.Subreaper || os.Getpid() != 1 {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	defer signal.Stop(sigs)

	s := &state{cfg: cfg, exited: map[int]unix.WaitStatus{}}
	backoff := cfg.MinBackoff
	for {
		started := time.Now()
		pid, err := s.start()
		if err != nil {
			cfg.Log.Error("cannot start daemon", "err", err)
		} else {
			cfg.Log.Info("daemon started", "pid", pid)
			if cfg.Started != nil {
				cfg.Started(pid)
			}
			status, stop := s.wait(ctx, pid, sigs)
			if stop {
				return nil
			}
			cfg.Log.Warn("daemon exited", "pid", pid, "status", describe(status))
		}
		if time.Since(started) > cfg.StableAfter {
			backoff = cfg.MinBackoff
		}
		// Back off, still reaping and listening for stop signals.
		t := time.NewTimer(backoff)
	sleep:
		for {
			select {
			case <-t.C:
				break sleep
			case <-ctx.Done():
				t.Stop()
				return nil
			case sig := <-sigs:
				if sig == syscall.SIGCHLD {
					s.reap()
					continue
				}
				t.Stop()
				return nil
			}
		}
		backoff *= 2
		if backoff > cfg.MaxBackoff {
			backoff = cfg.MaxBackoff
		}
	}
}

type state struct {
	cfg    Config
	mu     sync.Mutex
	exited map[int]unix.WaitStatus
}

func (s *state) start() (int, error) {
	cmd := exec.Command(s.cfg.Path, s.cfg.Args...)
	cmd.Env = s.cfg.Env
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	// Own process group, so a stop reaches the daemon's children too. The
	// daemon gets SIGTERM when the supervisor dies (killed, not stopped):
	// a daemon without its supervisor would hold the node's state while a
	// new supervisor starts another one on the same root.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	// We reap with wait4(-1) ourselves; release the handle without Wait.
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return pid, nil
}

// reap collects every exited child (the daemon and any orphan).
func (s *state) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		s.mu.Lock()
		s.exited[pid] = ws
		s.mu.Unlock()
	}
}

func (s *state) takeExit(pid int) (unix.WaitStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws, ok := s.exited[pid]
	if ok {
		delete(s.exited, pid)
	}
	// Orphans' statuses are of no interest; keep the map small.
	for p := range s.exited {
		delete(s.exited, p)
	}
	return ws, ok
}

// wait returns when the child exits (stop=false) or a stop was requested and
// the child is gone (stop=true).
func (s *state) wait(ctx context.Context, pid int, sigs chan os.Signal) (unix.WaitStatus, bool) {
	tick := time.NewTicker(time.Second) // SIGCHLD can coalesce; poll as a safety net
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.stop(pid, sigs, syscall.SIGTERM)
			return 0, true
		case sig := <-sigs:
			if sig != syscall.SIGCHLD {
				s.stop(pid, sigs, sig.(syscall.Signal))
				return 0, true
			}
		case <-tick.C:
		}
		s.reap()
		if ws, ok := s.takeExit(pid); ok {
			return ws, false
		}
	}
}

// stop forwards sig to the daemon's process group and waits up to
// StopTimeout, then kills it.
func (s *state) stop(pid int, sigs chan os.Signal, sig syscall.Signal) {
	s.cfg.Log.Info("stopping", "signal", sig.String())
	_ = unix.Kill(-pid, sig)
	_ = unix.Kill(pid, sig)
	deadline := time.NewTimer(s.cfg.StopTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		s.reap()
		if _, ok := s.takeExit(pid); ok {
			_ = unix.Kill(-pid, syscall.SIGKILL) // leftovers of the group
			s.reap()
			return
		}
		select {
		case <-deadline.C:
			s.cfg.Log.Warn("daemon did not stop in time; killing it")
			_ = unix.Kill(-pid, syscall.SIGKILL)
			_ = unix.Kill(pid, syscall.SIGKILL)
			for i := 0; i < 50; i++ {
				s.reap()
				if _, ok := s.takeExit(pid); ok {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			return
		case <-sigs:
		case <-poll.C:
		}
	}
}

func describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return "exit " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		return "signal " + ws.Signal().String()
	}
	return "unknown"
}
