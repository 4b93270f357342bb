package netconf

import (
	"context"
	"log/slog"

	"golang.org/x/crypto/ssh"

	"vpnos/os/settings"
	"vpnos/os/sshd"
)

// Subsystem is the SSH "netconf" subsystem (RFC 6242 §3): one session per
// channel.
func (s *Server) Subsystem(ctx context.Context, ch ssh.Channel, p sshd.Peer) {
	_ = s.Serve(ctx, ch, p.User, p.Remote)
}

// SSHConfig is the SSH server of NETCONF: port netconf_port on the
// management side, the host key and the credentials of the CLI's SSH
// server, and only the netconf subsystem.
func SSHConfig(st *settings.Settings, srv *Server, log *slog.Logger) sshd.Config {
	cfg := sshd.BaseConfig(st, st.NetconfPort, log)
	cfg.Subsystems = map[string]sshd.Subsystem{"netconf": srv.Subsystem}
	return cfg
}
