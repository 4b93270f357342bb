// Package ops registers the operational commands of vpnos on the VRP
// engine: the displays of the routing instances, the RIB, the static LSPs
// and the interfaces, and the ping and tracert tools.
//
// The commands read the services through the small interfaces of Deps, so
// that tests run them on fakes; the daemon passes the real services
// (*rib.Service, *vrf.Service, *vrf.LinuxHost, *iface.Service and an adapter
// of the forwarder's counters). Configuration-only facts (route
// distinguishers, route targets, descriptions, creation dates) come from the
// engine's running configuration.
package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"vpnos/cli"
	"vpnos/services/diag"
	"vpnos/services/fibapi"
	"vpnos/services/iface"
	"vpnos/services/rib"
	"vpnos/services/vrf"
	"vpnos/yang/datastore"
)

// RIB is what the displays and the tools need from the routing table
// (*rib.Service implements it).
type RIB interface {
	// Snapshot copies an instance's routing table (fibapi.Public for the
	// public instance); rib.ErrNoInstance if it does not exist.
	Snapshot(ctx context.Context, instance string) (rib.Snapshot, error)
	// LSPs lists the LSPs of an owner (rib.OwnerStatic...; "" for all).
	LSPs(ctx context.Context, owner string) ([]rib.LSPStatus, error)
	// Lookup finds the FIB entry towards addr (the tools' source address).
	Lookup(ctx context.Context, instance string, addr netip.Addr) (rib.LookupResult, bool, error)
}

// Instances is the applied state of the instances and interfaces
// (*vrf.Service implements it).
type Instances interface {
	State() vrf.Desired
}

// Namespaces runs a function inside an instance's host stack
// (*vrf.LinuxHost implements it); the tools open their sockets there.
type Namespaces interface {
	Do(instance string, f func() error) error
}

// PortCounters are the forwarding counters of one port.
type PortCounters struct {
	RxPackets, RxBytes, RxDrops uint64
	TxPackets, TxBytes, TxDrops uint64
}

// Counters gives the forwarder's counters of a port by kernel name (eth1);
// ok is false when the forwarder does not handle the port.
type Counters interface {
	Counters(port string) (PortCounters, bool)
}

// Ports lists the discovered ports (*iface.Service implements it); the
// interface displays take the MAC address and MTU from it.
type Ports interface {
	Ports() []iface.Port
}

// Deps are the services the commands read. RIB, VRF and NS are required;
// the others are optional.
type Deps struct {
	RIB RIB
	VRF Instances
	NS  Namespaces
	// BGP adds the BGP displays, and the label BGP advertises an instance
	// with to `display ip vpn-instance verbose` (nil: BGP is not running).
	BGP BGP
	// Counters adds the forwarding counters to `display interface`.
	Counters Counters
	// Ports adds MAC addresses and MTUs to `display interface`.
	Ports Ports
	// Policy adds display route-policy and display ip ip-prefix.
	Policy Policies
	// BGPControl adds reset bgp and refresh bgp.
	BGPControl BGPControl
	// InstanceLabel returns the per-instance VPN label of an instance, when
	// one is allocated (`display ip vpn-instance verbose`).
	InstanceLabel func(instance string) (uint32, bool)
	// OSPF adds the OSPF displays and reset ospf.
	OSPF OSPF
	// LDP adds LDP's state to the displays (nil: LDP is not enabled).
	LDP LDP
	// LSP puts the MPLS echo requests of ping lsp and tracert lsp on their
	// LSP (the forwarder; nil: the tools answer that they cannot).
	LSP diag.LSPSender
	// VRP5 selects the VRP5 layouts where they differ (the engine's
	// "immediate" commit mode).
	VRP5 bool
	// Now is the clock of the up times (time.Now if nil).
	Now func() time.Time
	Log *slog.Logger
}

// Error texts (the engine prints them as "Error: <text>.").
var (
	errNoInstance  = errors.New("The VPN instance does not exist")
	errNoInterface = errors.New("The interface does not exist")
	errNoLSP       = errors.New("The static LSP does not exist")
)

// tools are the diag entry points; tests replace them.
type tools struct {
	ping       func(ctx context.Context, ns diag.NetNS, o diag.PingOptions, w io.Writer) (diag.PingStats, error)
	tracert    func(ctx context.Context, ns diag.NetNS, o diag.TracertOptions, w io.Writer) (diag.TracertResult, error)
	pingLSP    func(ctx context.Context, ns diag.NetNS, s diag.LSPSender, o diag.LSPPingOptions, w io.Writer) (diag.PingStats, error)
	tracertLSP func(ctx context.Context, ns diag.NetNS, s diag.LSPSender, o diag.LSPTracertOptions, w io.Writer) ([]diag.LSPHopResult, error)
}

var realTools = tools{ping: diag.Ping, tracert: diag.Tracert, pingLSP: diag.PingLSP, tracertLSP: diag.TracertLSP}

// ops holds what the commands share.
type ops struct {
	e     *cli.Engine
	store *datastore.Store
	d     Deps
	tools tools
}

// Register adds the operational commands to e (all views).
func Register(e *cli.Engine, d Deps) error {
	return register(e, d, realTools)
}

func register(e *cli.Engine, d Deps, t tools) error {
	if e == nil || d.RIB == nil || d.VRF == nil || d.NS == nil {
		return errors.New("ops: Register needs the engine, RIB, VRF and NS")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	o := &ops{e: e, store: e.Store(), d: d, tools: t}
	for _, c := range o.commands() {
		if err := e.Register(c); err != nil {
			return fmt.Errorf("ops: %w", err)
		}
	}
	return nil
}

func (o *ops) commands() []cli.Command {
	var out []cli.Command
	out = append(out, o.routingCommands()...)
	out = append(out, o.bgpCommands()...)
	out = append(out, o.interfaceCommands()...)
	out = append(out, o.vpnInstanceCommands()...)
	out = append(out, o.toolCommands()...)
	out = append(out, o.arpCommands()...)
	out = append(out, o.routingMoreCommands()...)
	out = append(out, o.ospfCommands()...)
	out = append(out, o.ldpCommands()...)
	out = append(out, o.policyCommands()...)
	out = append(out, o.bgpControlCommands()...)
	return out
}

// instance resolves a -vpn-instance / vpn-instance argument: "" is the
// public instance; any other name must be configured.
func (o *ops) instance(name string) (string, error) {
	if name == "" || name == fibapi.Public {
		return fibapi.Public, nil
	}
	if _, ok := o.store.Running().Get(datastore.P("vpn-instances", "vpn-instance", datastore.K(name))); !ok {
		return "", errNoInstance
	}
	return name, nil
}

// ribError turns the RIB's "no such instance" into the VRP message.
func ribError(err error) error {
	switch {
	case errors.Is(err, rib.ErrNoInstance):
		return errNoInstance
	case errors.Is(err, rib.ErrNoLSP):
		return errNoLSP
	}
	return err
}

// The daemon's services implement the interfaces.
var (
	_ RIB        = (*rib.Service)(nil)
	_ Instances  = (*vrf.Service)(nil)
	_ Namespaces = (*vrf.LinuxHost)(nil)
	_ Ports      = (*iface.Service)(nil)
)
