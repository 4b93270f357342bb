// Package daemon is `vpnos daemon`: it loads settings, probes the host,
// starts the services in dependency order and serves the management socket.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"vpnos/cli"
	"vpnos/cli/ops"
	"vpnos/os/mgmt"
	"vpnos/os/netconf"
	"vpnos/os/persist"
	"vpnos/os/probe"
	"vpnos/os/registry"
	"vpnos/os/settings"
	"vpnos/os/sshd"
	"vpnos/os/version"
	"vpnos/services/iface"
	"vpnos/services/mpls"
	"vpnos/services/owners"
	"vpnos/services/system"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// Daemon is the routing daemon.
type Daemon struct {
	Settings *settings.Settings
	Log      *slog.Logger
	Probe    probe.Result
	Backend  string
	Started  time.Time
	// Schema is the configuration schema: the embedded YANG modules (a test
	// may replace it before Run).
	Schema *schema.Schema

	Ifaces   *iface.Service
	Registry *registry.Registry
}

// New prepares a daemon; Run starts it.
func New(s *settings.Settings, log *slog.Logger) (*Daemon, error) {
	d := &Daemon{Settings: s, Log: log, Started: time.Now()}
	d.Probe = probe.Run(probe.System())
	if err := d.Probe.Usable(); err != nil {
		return nil, err
	}
	backend, err := d.Probe.Backend(s.Forwarding)
	if err != nil {
		return nil, err
	}
	d.Backend = backend
	if d.Schema, err = schema.Load(); err != nil {
		return nil, err
	}
	d.Ifaces = iface.New(log.With("service", "iface"), iface.Naming(s.InterfaceNaming))
	d.Registry = registry.New(log)
	return d, nil
}

// Run runs until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	s := d.Settings
	release, err := LockState(s.StateDir, "daemon.lock")
	if err != nil {
		return fmt.Errorf("another vpnos daemon runs on this root: %w", err)
	}
	defer release()
	d.Log.Info("vpnos daemon starting", "root", s.Root, "config_dir", s.ConfigDir, "state_dir", s.StateDir,
		"backend", d.Backend, "mpls", d.Probe.MPLS, "vrf", d.Probe.VRF)

	want, _ := strconv.Atoi(os.Getenv("CLAB_INTFS"))
	wait := time.Duration(s.InterfaceWait) * time.Second
	d.Registry.Add("iface", nil, func(ctx context.Context, ready func()) error {
		go func() {
			select {
			case <-d.Ifaces.Ready():
				ready()
			case <-ctx.Done():
			}
		}()
		return d.Ifaces.Run(ctx, want, wait)
	})

	// A commit record whose writing was cut short (the daemon killed
	// before its rename) left a temporary file nothing refers to.
	for _, tmp := range (datastore.FileJournal{Dir: filepath.Join(s.StateDir, "commits")}).RemoveTemps() {
		d.Log.Info("removed the temporary file of an interrupted commit record", "path", tmp)
	}

	// The datastore is the one owner of configuration semantics: the
	// services register on it as participants for their paths, before the
	// startup configuration is committed (Registry.Run), and every node of
	// the schema has an owner or is marked unsupported, or the daemon does
	// not start. The CLI (and the startup file through it) only translate.
	// The commit log outlives the daemon: records of earlier runs come back
	// before the startup configuration is committed.
	store := datastore.New(d.Schema, d.Log.With("service", "datastore"))
	journal := datastore.FileJournal{Dir: filepath.Join(s.StateDir, "commits")}
	kept, err := journal.Load()
	if err != nil {
		d.Log.Warn("commit records", "err", err)
	}
	store.RestoreLog(kept)
	store.SetJournal(journal)

	r, err := d.addRouting(ctx, store)
	if err != nil {
		return err
	}
	sys := system.New()
	// BGP and OSPF processes without a router ID of their own read the
	// system's: they read the tree again when `router id` changes (and
	// keep their running router ID until they are reset).
	sys.OnRouterID(r.bgpPart.Follow)
	sys.OnRouterID(r.ospfPart.Follow)
	ldpPart := d.addLDP(r)
	mplsOwner := mpls.New()
	mplsOwner.OnApply(ldpPart.Follow)
	if err := owners.Register(store, owners.Set{System: sys, VRF: r.vrf, MPLS: mplsOwner, Static: r.static, LDP: ldpPart, OSPF: r.ospfPart, Policy: r.policy, BGP: r.bgpPart}); err != nil {
		return err
	}
	// LDP keeps its configuration across its restarts (Configure), so a
	// restarted service runs the committed configuration again.
	d.Registry.Add("ldp", []string{"rib", "vrf"}, r.ldp.Run)
	if err := store.CheckOwners(); err != nil {
		return fmt.Errorf("configuration schema: %w", err)
	}
	platform := d.Probe.Summary()
	engine, err := cli.New(cli.Deps{
		Sysname: s.Sysname,
		System: func() cli.SystemInfo {
			return cli.SystemInfo{Started: d.Started, Version: version.Version, Revision: version.Revision(),
				Kernel: d.Probe.Kernel, Platform: platform, Backend: d.Backend}
		},
		Ports:      d.Ifaces.Ports,
		Store:      store,
		CommitMode: s.CommitMode,
		Log:        d.Log.With("service", "cli"),
	})
	if err != nil {
		return err
	}
	// Operational commands are registered before any session opens.
	if err := ops.Register(engine, ops.Deps{
		RIB: r.rib, VRF: r.vrf, NS: r.host,
		Counters: fwdCounters{fwd: r.fwd}, Ports: d.Ifaces,
		InstanceLabel: r.vpnLabels.InstanceLabel,
		OSPF:          r.ospf,
		LDP:           r.ldp,
		LSP:           r.fwd,
		Policy:        r.policy,
		BGP:           r.bgp,
		BGPControl:    r.bgp,
		VRP5:          s.CommitMode == "immediate",
		Log:           d.Log.With("service", "ops"),
	}); err != nil {
		return fmt.Errorf("operational commands: %w", err)
	}
	startup := persist.New(s.StartupPath(), d.Log.With("service", "persist"))
	engine.SaveFunc = startup.Save
	engine.SaveWarning = startup.SaveWarning
	engine.ReadFile = configFiles(s.ConfigDir, startup)
	engine.Startup = func() cli.StartupInfo {
		exe, _ := os.Executable()
		rep, _ := startup.Booted()
		return cli.StartupInfo{Software: fmt.Sprintf("%s (vpnos %s)", exe, version.Version), File: startup.Path,
			Loaded: rep.Source != persist.SourceNone, Notes: startup.Notes()}
	}
	d.Registry.Add("startup", []string{"iface", "vrf"}, persist.Service(startup, replayInto(engine), d.Log.With("service", "persist")))
	srv := &mgmt.Server{Path: s.SocketPath(), Engine: engine, Log: d.Log.With("service", "mgmt")}
	// The socket is the last thing to come up: once the CLI answers, the
	// interfaces the lab wired are known.
	d.Registry.Add("mgmt", []string{"iface", "startup"}, func(ctx context.Context, ready func()) error {
		if err := srv.Listen(); err != nil {
			return err
		}
		ready()
		d.Log.Info("management socket ready", "path", srv.Path)
		return srv.Serve(ctx)
	})
	// One count of failed logins for every server that takes passwords, so
	// that guesses spread over SSH and NETCONF meet the same limits.
	logins := sshd.NewLimiter(sshd.Limits{})
	if s.SSHPort != 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("ssh: %w", err)
		}
		cfg := sshd.FromSettings(s, exe, d.Log.With("service", "sshd"))
		cfg.SessionIdleTimeout = sys.IdleTimeout
		cfg.Auth.Limiter = logins
		d.Registry.Add("sshd", []string{"mgmt"}, sshd.Service(cfg))
	}
	if s.NetconfPort != 0 {
		// NETCONF over SSH: the same datastore as the CLI, the same host key
		// and credentials as SSH.
		log := d.Log.With("service", "netconf")
		srv, err := netconf.New(netconf.Config{
			Store: engine.Store(),
			State: &netconfState{store: engine.Store(), vrf: r.vrf, ports: d.Ifaces, counters: fwdCounters{fwd: r.fwd}, rib: r.rib},
			Log:   log,
			// An idle session (which may hold a lock) ends as SSH ones do.
			IdleTimeout: time.Duration(s.IdleTimeout) * time.Second,
		})
		if err != nil {
			return fmt.Errorf("netconf: %w", err)
		}
		ncfg := netconf.SSHConfig(s, srv, log)
		ncfg.Auth.Limiter = logins
		d.Registry.Add("netconf", []string{"mgmt"}, sshd.Service(ncfg))
	}
	go trimAfterStart(ctx, d.Registry.Ready("mgmt"), startTrimDelay, d.Log)
	return d.Registry.Run(ctx)
}

// startTrimDelay is how long after the management socket is up (the
// startup configuration committed) the daemon returns its start-up heap.
const startTrimDelay = 3 * time.Second

// trimAfterStart collects the garbage of the start (the CLI grammar built
// from the schema, the startup configuration parsed and committed, the
// protocols' first exchanges) once it is over, and gives the freed memory
// back to the kernel. Without it, the collector's goal stays at twice what
// was live at the last collection during the start, and an idle node, which
// allocates little, keeps that whole heap for minutes: a lab node spends
// most of its life idle, and a lab holds hundreds of them.
func trimAfterStart(ctx context.Context, ready <-chan struct{}, delay time.Duration, log *slog.Logger) {
	select {
	case <-ready:
	case <-ctx.Done():
		return
	}
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	debug.FreeOSMemory()
	runtime.ReadMemStats(&after)
	log.Debug("start-up heap returned", "heap_in_use_before", before.HeapInuse, "heap_in_use_after", after.HeapInuse,
		"returned", after.HeapReleased-min(after.HeapReleased, before.HeapReleased))
}

// configFiles reads the configuration files of the settings folder by
// name ("" is the startup file, as the boot loads it).
func configFiles(dir string, startup *persist.File) func(ctx context.Context, name string) (string, error) {
	return func(ctx context.Context, name string) (string, error) {
		path := startup.Path
		if name != "" {
			if name != filepath.Base(name) || strings.HasPrefix(name, ".") {
				return "", fmt.Errorf("%s is not a file of %s", name, dir)
			}
			path = filepath.Join(dir, name)
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "", fs.ErrNotExist
		}
		return string(b), err
	}
}

// replayInto loads startup text through the CLI engine, as one commit.
func replayInto(e *cli.Engine) persist.ReplayFunc {
	return func(ctx context.Context, text string) ([]persist.LineError, error) {
		errs, err := e.ReplayAs(ctx, text, "startup")
		out := make([]persist.LineError, len(errs))
		for i, le := range errs {
			out[i] = persist.LineError{Line: le.Line, Text: le.Text, Message: le.Message}
		}
		return out, err
	}
}
