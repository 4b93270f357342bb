// Package settings loads the daemon settings from <config-dir>/vpnos.yaml
// with viper; every key can be overridden by a VPNOS_* environment variable
// (VPNOS_SYSNAME, VPNOS_SSH_PORT, VPNOS_LOG_LEVEL, ...).
package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/viper"
)

// Settings are the daemon's own settings (not the device configuration).
type Settings struct {
	// Root prefixes every default path, so that many daemons can run side by
	// side on one host (the lab runner gives each node its own root).
	Root string `mapstructure:"-"`
	// ConfigDir holds vpnos.yaml and startup.cfg (a lab binds a node folder here).
	ConfigDir string `mapstructure:"config_dir"`
	// StateDir holds the management socket, the SSH host key and the commit log.
	StateDir string `mapstructure:"state_dir"`

	Sysname  string `mapstructure:"sysname"`  // default sysname before configuration
	Username string `mapstructure:"username"` // login for SSH and NETCONF
	Password string `mapstructure:"password"`
	// AuthorizedKeys are public keys (authorized_keys lines) accepted for Username.
	AuthorizedKeys []string `mapstructure:"authorized_keys"`

	SSHPort int `mapstructure:"ssh_port"` // 0 disables
	// SSHListen is the address SSH and NETCONF listen on ("": every address
	// of the daemon's own network namespace, i.e. the management side).
	SSHListen   string `mapstructure:"ssh_listen"`
	NetconfPort int    `mapstructure:"netconf_port"` // NETCONF over SSH; 0 disables
	// IdleTimeout of SSH sessions, in seconds (0: none).
	IdleTimeout int `mapstructure:"idle_timeout"`

	// Forwarding backend: auto, userspace or kernel.
	Forwarding string `mapstructure:"forwarding"`
	// InterfaceNaming: "slot" maps ethN to GigabitEthernet0/N/0, "port" to GigabitEthernet0/0/N.
	InterfaceNaming string `mapstructure:"interface_naming"`
	// CommitMode: "two-stage" (VRP8, default) or "immediate" (VRP5).
	CommitMode string `mapstructure:"commit_mode"`
	LogLevel   string `mapstructure:"log_level"` // debug, info, warn, error
	// InterfaceWait is how long, in seconds, start-up waits for the CLAB_INTFS data links.
	InterfaceWait int `mapstructure:"interface_wait"`
}

// Options select where settings come from.
type Options struct {
	Root      string // "" means "/"
	ConfigDir string // "" means <root>/etc/vpnos
	Env       []string
}

// SocketPath is the management socket.
func (s *Settings) SocketPath() string { return filepath.Join(s.StateDir, "mgmt.sock") }

// StartupPath is the saved device configuration.
func (s *Settings) StartupPath() string { return filepath.Join(s.ConfigDir, "startup.cfg") }

// Load reads the settings file (missing is fine) and the environment.
func Load(o Options) (*Settings, error) {
	root := o.Root
	if root == "" {
		root = "/"
	}
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	envMap := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "VPNOS_") {
			envMap[k] = v
		}
	}
	cfgDir := o.ConfigDir
	if cfgDir == "" {
		cfgDir = envMap["VPNOS_CONFIG_DIR"]
	}
	if cfgDir == "" {
		cfgDir = filepath.Join(root, "etc/vpnos")
	}

	v := viper.New()
	v.SetConfigType("yaml")
	v.SetDefault("config_dir", cfgDir)
	v.SetDefault("state_dir", filepath.Join(root, "var/lib/vpnos"))
	v.SetDefault("sysname", "HUAWEI")
	v.SetDefault("username", "admin")
	v.SetDefault("password", "admin")
	v.SetDefault("authorized_keys", []string{})
	v.SetDefault("ssh_port", 22)
	v.SetDefault("ssh_listen", "")
	v.SetDefault("netconf_port", 830)
	v.SetDefault("idle_timeout", 600)
	v.SetDefault("forwarding", "auto")
	v.SetDefault("interface_naming", "slot")
	v.SetDefault("commit_mode", "two-stage")
	v.SetDefault("log_level", "info")
	v.SetDefault("interface_wait", 30)

	file := filepath.Join(cfgDir, "vpnos.yaml")
	f, err := os.Open(file)
	switch {
	case err == nil:
		err = v.ReadConfig(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("settings %s: %w", file, err)
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("settings: %w", err)
	}
	// Environment overrides: VPNOS_<KEY> for every known key.
	for _, k := range v.AllKeys() {
		if val, ok := envMap["VPNOS_"+strings.ToUpper(k)]; ok {
			if k == "authorized_keys" {
				v.Set(k, splitNonEmpty(val, "\n"))
				continue
			}
			v.Set(k, val)
		}
	}
	s := &Settings{}
	if err := v.Unmarshal(s); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	s.Root = root
	s.ConfigDir = cfgDir
	return s, s.validate()
}

func splitNonEmpty(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Settings) validate() error {
	oneOf := func(key, val string, allowed ...string) error {
		for _, a := range allowed {
			if val == a {
				return nil
			}
		}
		return fmt.Errorf("settings: %s: %q is not one of %s", key, val, strings.Join(allowed, ", "))
	}
	for _, e := range []error{
		oneOf("forwarding", s.Forwarding, "auto", "userspace", "kernel"),
		oneOf("interface_naming", s.InterfaceNaming, "slot", "port"),
		oneOf("commit_mode", s.CommitMode, "two-stage", "immediate"),
		oneOf("log_level", s.LogLevel, "debug", "info", "warn", "error"),
	} {
		if e != nil {
			return e
		}
	}
	if s.SSHPort < 0 || s.SSHPort > 65535 || s.NetconfPort < 0 || s.NetconfPort > 65535 {
		return fmt.Errorf("settings: port out of range")
	}
	if s.SSHListen != "" && net.ParseIP(s.SSHListen) == nil {
		return fmt.Errorf("settings: ssh_listen: %q is not an IP address", s.SSHListen)
	}
	if s.Sysname == "" || len(s.Sysname) > 246 {
		return fmt.Errorf("settings: sysname must be 1-246 characters")
	}
	return nil
}
