// Package sshd is the SSH server of the CLI. Every session runs the CLI in a
// process of its own (`vpnos cli`, the daemon's own executable) on a PTY, so a
// session that hangs or crashes never touches the daemon; `exec` requests
// (`ssh pe1 'display version'`) run the same CLI without a terminal.
//
// The same server serves SSH subsystems instead of the CLI (NETCONF on its
// own port: Config.Subsystems), with the same host key and credentials.
//
// Authentication is by the password and the public keys in the settings.
// A wrong password is refused after a delay (one second by default) and
// logged with the remote address. The ed25519 host key is created on first
// boot and kept in the state directory (mode 0600).
package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
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

	Username       string
	Password       string   // "" disables password login
	AuthorizedKeys []string // authorized_keys lines
	// AuthFailDelay is how long a wrong password waits before the refusal.
	AuthFailDelay time.Duration
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
	ssh    *ssh.ServerConfig
	signer ssh.Signer
	keys   map[string]bool // authorized keys, by their wire form

	mu sync.Mutex
	ln net.Listener
}

// New prepares a server: loads or creates the host key and parses the
// authorized keys (a bad line is logged and skipped).
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.AuthFailDelay == 0 {
		cfg.AuthFailDelay = time.Second
	}
	if len(cfg.CLI) == 0 && len(cfg.Subsystems) == 0 {
		return nil, errors.New("sshd: no CLI command and no subsystem")
	}
	signer, created, err := LoadOrCreateHostKey(cfg.HostKeyPath)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log, signer: signer, keys: map[string]bool{}}
	if created {
		s.log.Info("created SSH host key", "path", cfg.HostKeyPath, "fingerprint", ssh.FingerprintSHA256(signer.PublicKey()))
	}
	for i, line := range cfg.AuthorizedKeys {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			s.log.Warn("ignoring a bad authorized key", "index", i, "err", err)
			continue
		}
		s.keys[string(pk.Marshal())] = true
	}
	s.ssh = &ssh.ServerConfig{
		PasswordCallback:            s.checkPassword,
		PublicKeyCallback:           s.checkKey,
		KeyboardInteractiveCallback: s.checkInteractive,
		ServerVersion:               "SSH-2.0-vpnos",
		MaxAuthTries:                6,
	}
	s.ssh.AddHostKey(signer)
	return s, nil
}

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.signer.PublicKey() }

func (s *Server) checkPassword(c ssh.ConnMetadata, pass []byte) (*ssh.Permissions, error) {
	userOK := subtle.ConstantTimeCompare([]byte(c.User()), []byte(s.cfg.Username)) == 1
	passOK := subtle.ConstantTimeCompare(pass, []byte(s.cfg.Password)) == 1
	if userOK && passOK && s.cfg.Password != "" {
		s.log.Info("ssh login", "user", c.User(), "remote", c.RemoteAddr().String(), "method", "password")
		return &ssh.Permissions{}, nil
	}
	s.log.Warn("ssh login failed", "user", c.User(), "remote", c.RemoteAddr().String(), "method", "password")
	time.Sleep(s.cfg.AuthFailDelay)
	return nil, errors.New("wrong user name or password")
}

// checkInteractive asks for the password with keyboard-interactive, for
// clients that prefer it to the password method.
func (s *Server) checkInteractive(c ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	answers, err := client(c.User(), "", []string{"Password: "}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(answers) != 1 {
		return nil, errors.New("one answer expected")
	}
	return s.checkPassword(c, []byte(answers[0]))
}

func (s *Server) checkKey(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if c.User() == s.cfg.Username && s.keys[string(key.Marshal())] {
		// The library calls this for the query and again for the signed
		// request; the login is logged once the session opens.
		return &ssh.Permissions{Extensions: map[string]string{"pubkey-fp": ssh.FingerprintSHA256(key)}}, nil
	}
	s.log.Info("ssh public key not accepted", "user", c.User(), "remote", c.RemoteAddr().String(),
		"fingerprint", ssh.FingerprintSHA256(key))
	return nil, errors.New("public key not authorized")
}

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

// handshakeTimeout bounds the time a client may take to log in.
const handshakeTimeout = 30 * time.Second

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(c, s.ssh)
	if err != nil {
		s.log.Debug("ssh handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	defer sc.Close()
	if fp := sc.Permissions.Extensions["pubkey-fp"]; fp != "" {
		s.log.Info("ssh login", "user", sc.User(), "remote", sc.RemoteAddr().String(), "method", "publickey", "fingerprint", fp)
	}
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
