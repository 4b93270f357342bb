package sshd

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"vpnos/os/settings"
)

// HostKeyFile is the host key's name in the state directory.
const HostKeyFile = "ssh_host_ed25519_key"

// FromSettings is the daemon's SSH configuration. exe is the daemon's own
// executable: sessions run `exe cli --socket <state-dir>/mgmt.sock ...`, so
// they reach this daemon whatever --root or --config-dir it was started with.
func FromSettings(s *settings.Settings, exe string, log *slog.Logger) Config {
	cli := []string{exe, "cli", "--socket", s.SocketPath()}
	if s.Root != "" && s.Root != "/" {
		cli = append(cli, "--root", s.Root)
	}
	cli = append(cli, "--config-dir", s.ConfigDir)
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VPNOS_") || strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	cfg := BaseConfig(s, s.SSHPort, log)
	cfg.IdleTimeout = time.Duration(s.IdleTimeout) * time.Second
	cfg.CLI = cli
	cfg.Env = env
	return cfg
}

// BaseConfig is what every SSH server of the daemon shares (the CLI's on
// ssh_port, NETCONF's on netconf_port): the listening address on the
// management side, the host key in the state directory and the
// credentials of the settings.
func BaseConfig(s *settings.Settings, port int, log *slog.Logger) Config {
	return Config{
		Addr:        net.JoinHostPort(s.SSHListen, strconv.Itoa(port)),
		HostKeyPath: filepath.Join(s.StateDir, HostKeyFile),
		Auth:        AuthFromSettings(s, log),
		Log:         log,
	}
}

// AuthorizedKeysFile is the name of the authorized_keys file in the
// settings folder.
const AuthorizedKeysFile = "authorized_keys"

// AuthFromSettings is who may log in, from the settings: the user name, the
// password, the authorized_keys lines of vpnos.yaml and the authorized_keys
// file of the settings folder. Set Limiter to share one failure count
// between servers (SSH and NETCONF).
func AuthFromSettings(s *settings.Settings, log *slog.Logger) AuthConfig {
	return AuthConfig{
		Username:           s.Username,
		Password:           s.Password,
		AuthorizedKeys:     s.AuthorizedKeys,
		AuthorizedKeysFile: filepath.Join(s.ConfigDir, AuthorizedKeysFile),
		Log:                log,
	}
}

// Service is the daemon service running the SSH server (see registry.RunFunc):
// it calls ready once the port is open.
func Service(cfg Config) func(ctx context.Context, ready func()) error {
	return func(ctx context.Context, ready func()) error {
		srv, err := New(cfg)
		if err != nil {
			return err
		}
		if err := srv.Listen(); err != nil {
			return err
		}
		ready()
		return srv.Serve(ctx)
	}
}
