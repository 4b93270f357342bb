package sshd

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// AuthConfig says who may log in. The CLI's SSH server and the NETCONF
// server each make an Auth from it and share one Limiter, so that password
// guesses on either port count against the same budget.
type AuthConfig struct {
	Username string
	Password string // "" disables password login
	// AuthorizedKeys are authorized_keys lines (from the settings).
	AuthorizedKeys []string
	// AuthorizedKeysFile is an authorized_keys file (the settings folder's);
	// it is read again whenever it changes, so a key added there works
	// without a restart. A missing file holds no keys.
	AuthorizedKeysFile string
	// FailDelay is how long a refused password waits before the answer
	// (default one second).
	FailDelay time.Duration
	// Limiter counts failed logins (nil: a limiter of its own with the
	// default limits).
	Limiter *Limiter
	Log     *slog.Logger
}

// Auth checks logins: the password (also asked by keyboard-interactive) and
// public keys, with failed passwords limited per source address and overall.
type Auth struct {
	cfg  AuthConfig
	log  *slog.Logger
	lim  *Limiter
	keys map[string]bool // from AuthorizedKeys, by wire form

	mu         sync.Mutex
	fileKeys   map[string]bool
	fileStat   fileStamp
	refused    int       // connections refused since refusedLog
	refusedLog time.Time // when a refusal was last logged as a warning
}

type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

// ErrTooManyPending refuses a connection when too many others from the same
// address (or in all) have not logged in yet.
var ErrTooManyPending = errors.New("too many connections waiting to log in")

// NewAuth prepares the checks; a bad authorized key is logged and skipped.
func NewAuth(cfg AuthConfig) *Auth {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.FailDelay <= 0 {
		cfg.FailDelay = time.Second
	}
	if cfg.Limiter == nil {
		cfg.Limiter = NewLimiter(Limits{})
	}
	a := &Auth{cfg: cfg, log: cfg.Log, lim: cfg.Limiter}
	a.keys = parseKeys([]byte(joinLines(cfg.AuthorizedKeys)), func(line int, err error) {
		a.log.Warn("ignoring an authorized key of the settings", "index", line-1, "err", err)
	})
	return a
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// parseKeys reads authorized_keys text. Lines with options (from=,
// command=, ...) are refused: vpnos cannot honour the restrictions they
// ask for, and ignoring them would let the key in more widely than meant.
func parseKeys(text []byte, bad func(line int, err error)) map[string]bool {
	keys := map[string]bool{}
	for i, line := range bytes.Split(text, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		pk, _, opts, _, err := ssh.ParseAuthorizedKey(line)
		switch {
		case err != nil:
			bad(i+1, err)
		case len(opts) > 0:
			bad(i+1, fmt.Errorf("key options (%s) are not supported", bytes.Join(toBytes(opts), []byte(","))))
		default:
			keys[string(pk.Marshal())] = true
		}
	}
	return keys
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// Limiter is the failed-login counter in use.
func (a *Auth) Limiter() *Limiter { return a.lim }

// ServerConfig is an SSH server configuration with these checks; the
// caller adds its host key.
func (a *Auth) ServerConfig() *ssh.ServerConfig {
	return &ssh.ServerConfig{
		PasswordCallback:            a.Password,
		PublicKeyCallback:           a.PublicKey,
		KeyboardInteractiveCallback: a.KeyboardInteractive,
		ServerVersion:               "SSH-2.0-vpnos",
		MaxAuthTries:                6,
	}
}

// handshakeTimeout bounds the time a client may take to log in.
const handshakeTimeout = 30 * time.Second

// Handshake runs the SSH handshake and the login on c, within 30 seconds,
// if the limits on connections that have not logged in yet allow it. On
// error the connection is closed.
func (a *Auth) Handshake(c net.Conn, conf *ssh.ServerConfig) (*ssh.ServerConn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	src := sourceOf(c.RemoteAddr())
	release, ok := a.lim.Admit(time.Now(), src)
	if !ok {
		c.Close()
		a.refusedConn(c.RemoteAddr())
		return nil, nil, nil, ErrTooManyPending
	}
	defer release()
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(c, conf)
	if err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	_ = c.SetDeadline(time.Time{})
	if fp := sc.Permissions.Extensions["pubkey-fp"]; fp != "" {
		a.log.Info("ssh login", "user", sc.User(), "remote", sc.RemoteAddr().String(), "method", "publickey", "fingerprint", fp)
	}
	return sc, chans, reqs, nil
}

// refusedConn logs a connection refused for the limits on connections
// that have not logged in: the first at once, then at most one line a
// minute with the number refused meanwhile.
func (a *Auth) refusedConn(remote net.Addr) {
	a.mu.Lock()
	a.refused++
	now := time.Now()
	if now.Sub(a.refusedLog) < time.Minute {
		a.mu.Unlock()
		a.log.Debug("ssh connection refused", "remote", remote.String(), "err", ErrTooManyPending)
		return
	}
	n := a.refused
	a.refused, a.refusedLog = 0, now
	a.mu.Unlock()
	lim := a.lim.Limits()
	a.log.Warn("ssh connections refused: too many waiting to log in", "remote", remote.String(), "refused", n,
		"per_address", lim.PendingPerSource, "overall", lim.PendingOverall)
}

// sourceOf is the address failures are counted by: the IPv4 address, or
// the /64 of an IPv6 address (one host usually holds a whole /64).
func sourceOf(addr net.Addr) string {
	var ip net.IP
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip = ta.IP
	} else if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		ip = net.ParseIP(host)
	}
	switch {
	case ip == nil:
		return addr.String()
	case ip.To4() != nil:
		return ip.To4().String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

var errLogin = errors.New("wrong user name or password")

// Password checks a password login (ssh.ServerConfig.PasswordCallback).
func (a *Auth) Password(c ssh.ConnMetadata, pass []byte) (*ssh.Permissions, error) {
	return a.checkPassword(c, pass, "password")
}

func (a *Auth) checkPassword(c ssh.ConnMetadata, pass []byte, method string) (*ssh.Permissions, error) {
	src := sourceOf(c.RemoteAddr())
	remote := c.RemoteAddr().String()
	v, until, first := a.lim.Begin(time.Now(), src)
	if v != Allowed {
		why := "too many failed logins from this address"
		if v == AllBlocked {
			why = "too many failed logins overall"
		}
		level := slog.LevelDebug
		if first {
			level = slog.LevelWarn
		}
		a.log.Log(context.Background(), level, "ssh login refused", "user", c.User(), "remote", remote, "method", method,
			"reason", why, "until", until.Format(time.RFC3339))
		time.Sleep(a.cfg.FailDelay)
		return nil, errLogin
	}
	userOK := subtle.ConstantTimeCompare([]byte(c.User()), []byte(a.cfg.Username)) == 1
	passOK := subtle.ConstantTimeCompare(pass, []byte(a.cfg.Password)) == 1
	ok := userOK && passOK && a.cfg.Password != ""
	ev, until := a.lim.Done(time.Now(), src, !ok)
	if ok {
		a.log.Info("ssh login", "user", c.User(), "remote", remote, "method", method)
		return &ssh.Permissions{}, nil
	}
	a.log.Warn("ssh login failed", "user", c.User(), "remote", remote, "method", method)
	lim := a.lim.Limits()
	switch ev {
	case BlockedSource:
		a.log.Warn("ssh logins from an address blocked", "address", src, "failures", lim.PerSource,
			"window", lim.Window.String(), "until", until.Format(time.RFC3339))
	case BlockedAll:
		a.log.Warn("ssh password logins suspended for everybody", "failures", lim.Overall,
			"window", lim.Window.String(), "until", until.Format(time.RFC3339))
	}
	time.Sleep(a.cfg.FailDelay)
	return nil, errLogin
}

// KeyboardInteractive asks for the password, for clients that prefer
// keyboard-interactive to the password method.
func (a *Auth) KeyboardInteractive(c ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	answers, err := client(c.User(), "", []string{"Password: "}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(answers) != 1 {
		return nil, errors.New("one answer expected")
	}
	return a.checkPassword(c, []byte(answers[0]), "keyboard-interactive")
}

// PublicKey accepts the keys of the settings and of the authorized_keys
// file for the configured user (ssh.ServerConfig.PublicKeyCallback).
func (a *Auth) PublicKey(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	wire := string(key.Marshal())
	if c.User() == a.cfg.Username && (a.keys[wire] || a.fileKey(wire)) {
		// The library calls this for the query and again for the signed
		// request; the login is logged once the handshake is over.
		return &ssh.Permissions{Extensions: map[string]string{"pubkey-fp": ssh.FingerprintSHA256(key)}}, nil
	}
	a.log.Info("ssh public key not accepted", "user", c.User(), "remote", c.RemoteAddr().String(),
		"fingerprint", ssh.FingerprintSHA256(key))
	return nil, errors.New("public key not authorized")
}

// fileKey looks the key up in the authorized_keys file, read again when its
// size or modification time changed.
func (a *Auth) fileKey(wire string) bool {
	path := a.cfg.AuthorizedKeysFile
	if path == "" {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var now fileStamp
	st, err := os.Stat(path)
	switch {
	case err == nil:
		now = fileStamp{mod: st.ModTime(), size: st.Size(), ok: true}
	case errors.Is(err, fs.ErrNotExist):
	default:
		a.log.Warn("cannot read the authorized keys", "path", path, "err", err)
	}
	if now != a.fileStat || a.fileKeys == nil {
		a.fileKeys = map[string]bool{}
		if now.ok {
			b, err := os.ReadFile(path)
			if err != nil {
				a.log.Warn("cannot read the authorized keys", "path", path, "err", err)
			} else {
				a.fileKeys = parseKeys(b, func(line int, err error) {
					a.log.Warn("ignoring an authorized key", "path", path, "line", line, "err", err)
				})
				a.log.Info("authorized keys loaded", "path", path, "keys", len(a.fileKeys))
			}
		}
		a.fileStat = now
	}
	return a.fileKeys[wire]
}
