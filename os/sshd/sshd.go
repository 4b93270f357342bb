// Package sshd is the SSH server of the CLI. Every session runs the CLI in a
// process of its own (`vpnos cli`, the daemon's own executable) on a PTY, so a
// session that hangs or crashes never touches the daemon; `exec` requests
// (`ssh pe1 'display version'`) run the same CLI without a terminal.
//
// The same server serves SSH subsystems instead of the CLI (NETCONF on its
// own port: Config.Subsystems), with the same host key and credentials.
//
// Authentication (see Auth) is by the password and the public keys of the
// settings and of the settings folder's authorized_keys file. A wrong
// password is refused after a delay (one second by default) and logged with
// the remote address; too many failures block the address, and too many in
// all stop password logins for a while (see Limiter). The ed25519 host key
// is created on first boot and kept in the state directory (mode 0600).
//
// A session on a terminal runs the CLI on a PTY that is in raw mode before
// the CLI starts, so that no key typed early (Ctrl+C, Ctrl+\) can become a
// signal.
package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"vpnos/os/serve"
)

// Config is the server's configuration.
type Config struct {
	// Addr is host:port to listen on ("" host: every address of the
	// daemon's own network namespace, the management side).
	Addr        string
	HostKeyPath string

	// Auth says who may log in.
	Auth AuthConfig
	// IdleTimeout closes interactive sessions without input for this long (0: never).
	IdleTimeout time.Duration
	// SessionIdleTimeout, when set, gives the idle timeout of each new
	// session instead (the device configuration's user-interface vty), with
	// ok false to keep IdleTimeout.
	SessionIdleTimeout func() (d time.Duration, ok bool)

	// CLI is the command line of the CLI process (the executable and its
	// arguments up to, not including, the per-session ones: --user, -c).
	CLI []string
	// Env is the environment of the CLI process (TERM is added per session).
	Env []string
	// Subsystems serve SSH subsystem requests by name ("netconf"). A server
	// without a CLI serves only these.
	Subsystems map[string]Subsystem

	Log *slog.Logger
}

// Subsystem serves one session channel of a subsystem until the channel
// or ctx ends.
type Subsystem func(ctx context.Context, ch ssh.Channel, peer Peer)

// Peer is the authenticated client of a session.
type Peer struct {
	User   string
	Remote string // the client's address (host only)
}

// Server is the SSH server.
type Server struct {
	cfg    Config
	log    *slog.Logger
	auth   *Auth
	ssh    *ssh.ServerConfig
	signer ssh.Signer

	mu sync.Mutex
	ln net.Listener
}

// New prepares a server: loads or creates the host key and prepares the
// login checks.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Auth.Log == nil {
		cfg.Auth.Log = cfg.Log
	}
	if len(cfg.CLI) == 0 && len(cfg.Subsystems) == 0 {
		return nil, errors.New("sshd: no CLI command and no subsystem")
	}
	signer, created, err := LoadOrCreateHostKey(cfg.HostKeyPath)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log, signer: signer, auth: NewAuth(cfg.Auth)}
	if created {
		s.log.Info("created SSH host key", "path", cfg.HostKeyPath, "fingerprint", ssh.FingerprintSHA256(signer.PublicKey()))
	}
	s.ssh = s.auth.ServerConfig()
	s.ssh.AddHostKey(signer)
	return s, nil
}

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.signer.PublicKey() }

// Listen opens the TCP socket.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("sshd: %w", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Addr is the listening address (after Listen).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections until ctx ends; then it closes every session.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("sshd: Serve before Listen")
	}
	s.log.Info("ssh server listening", "addr", ln.Addr().String(), "host_key", ssh.FingerprintSHA256(s.signer.PublicKey()))
	if err := serve.Conns(ctx, ln, s.serveConn); err != nil {
		return fmt.Errorf("sshd: %w", err)
	}
	return nil
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	sc, chans, reqs, err := s.auth.Handshake(c, s.ssh)
	if err != nil {
		s.log.Debug("ssh handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels are served")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.session(ctx, sc, ch, creqs)
		}()
	}
}

var hostKeyMu sync.Mutex

// LoadOrCreateHostKey reads the ed25519 host key at path, or creates one
// (mode 0600, written atomically) when there is none.
func LoadOrCreateHostKey(path string) (signer ssh.Signer, created bool, err error) {
	// Servers of one daemon (SSH, NETCONF) share the key: one creates it.
	hostKeyMu.Lock()
	defer hostKeyMu.Unlock()
	b, err := os.ReadFile(path)
	if err == nil {
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("sshd: host key %s: %w", path, err)
		}
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(path, 0o600)
		}
		return signer, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("sshd: host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("sshd: generate host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "vpnos host key")
	if err != nil {
		return nil, false, fmt.Errorf("sshd: encode host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, fmt.Errorf("sshd: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hostkey-*")
	if err != nil {
		return nil, false, fmt.Errorf("sshd: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("sshd: %w", err)
	}
	if _, err := tmp.Write(pem.EncodeToMemory(block)); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("sshd: write host key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("sshd: write host key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("sshd: write host key: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, false, fmt.Errorf("sshd: host key: %w", err)
	}
	signer, err = ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("sshd: %w", err)
	}
	return signer, true, nil
}
