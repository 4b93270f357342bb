package ldp

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Instance runs LDP for the public routing instance: one owner goroutine
// (Run) holds the Core and the Network; every API call is a message to it.
type Instance struct {
	log    *slog.Logger
	net    Network
	now    func() time.Time
	onLSPs func(LSPsChanged)
	core   *Core
	reqs   chan func()
	done   chan struct{}
	// running are the devices the network runs Hellos on, and byDevice
	// the interface name of each.
	running  []string
	byDevice map[string]string
	byName   map[string]string
}

// Options configure an Instance.
type Options struct {
	Logger *slog.Logger
	// Alloc hands out labels (the label manager's dynamic range).
	Alloc Allocator
	// Net carries the packets (OpenNet in the routing instance's
	// namespace).
	Net Network
	// OnLSPs receives the LSP changes, from the owner goroutine; it must
	// not call back into the Instance.
	OnLSPs func(LSPsChanged)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// ErrStopped is returned by calls after Run has ended.
var ErrStopped = errors.New("ldp: instance stopped")

// NewInstance returns an Instance; Run starts it.
func NewInstance(o Options) *Instance {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Instance{log: o.Logger, net: o.Net, now: o.Now, onLSPs: o.OnLSPs,
		core: New(o.Alloc), reqs: make(chan func()), done: make(chan struct{})}
}

// Run is the owner loop. When ctx ends, every session gets a Shutdown
// Notification, the sockets close, and Run returns.
func (i *Instance) Run(ctx context.Context) error {
	defer close(i.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		i.arm(timer)
		select {
		case <-ctx.Done():
			i.step(Stop{})
			i.net.Shutdown()
			return ctx.Err()
		case f := <-i.reqs:
			f()
		case ev := <-i.net.Events():
			i.step(ev)
		case <-timer.C:
			i.step(Tick{})
		}
	}
}

func (i *Instance) arm(t *time.Timer) {
	d := i.core.NextDeadline()
	wait := time.Hour
	if !d.IsZero() {
		wait = max(0, d.Sub(i.now()))
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(wait)
}

// step runs the core and carries its actions out.
func (i *Instance) step(ev Event) {
	if i.log.Enabled(context.Background(), slog.LevelDebug) {
		i.log.Debug("ldp: event", "type", fmt.Sprintf("%T", ev), "event", debugEvent(ev))
	}
	if h, ok := ev.(HelloReceived); ok {
		name, known := i.byDevice[h.Interface]
		if !known {
			return
		}
		h.Interface = name
		ev = h
	}
	for _, a := range i.core.Step(i.now(), ev) {
		switch a := a.(type) {
		case SendHello:
			i.net.SendHello(i.device(a.Interface), a.Src, a.Data)
		case Dial:
			i.net.Dial(a.Peer, a.Local, a.Remote, a.Attempt)
		case Send:
			i.net.Send(a.Conn, a.PDUs)
		case Close:
			i.net.Close(a.Conn)
		case LSPsChanged:
			if i.onLSPs != nil {
				i.onLSPs(a)
			}
		case SessionChanged:
			i.log.Info("ldp: session", "peer", a.Peer.String(), "state", a.State.String(), "reason", a.Reason)
		}
	}
	i.syncInterfaces()
}

// syncInterfaces hands the network the devices Hellos run on.
func (i *Instance) syncInterfaces() {
	names, devs := i.core.RunningInterfaces()
	if slices.Equal(devs, i.running) && len(names) == len(i.byName) {
		same := true
		for k, n := range names {
			same = same && i.byName[n] == devs[k]
		}
		if same {
			return
		}
	}
	i.running = devs
	i.byDevice, i.byName = map[string]string{}, map[string]string{}
	for k, n := range names {
		i.byDevice[devs[k]] = n
		i.byName[n] = devs[k]
	}
	i.net.SetInterfaces(devs)
}

// device is the device of an interface that runs Hellos.
func (i *Instance) device(name string) string {
	i.syncInterfaces()
	if d, ok := i.byName[name]; ok {
		return d
	}
	return name
}

// call runs f on the owner goroutine.
func (i *Instance) call(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case i.reqs <- func() { f(); close(done) }:
	case <-i.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-i.done:
		return ErrStopped
	}
}

// SetConfig applies a configuration (Validate it first). Disabling LDP
// (`undo mpls ldp`) ends every session with a Shutdown Notification.
func (i *Instance) SetConfig(ctx context.Context, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return i.call(ctx, func() { i.step(ConfigChanged{Config: c}) })
}

// SetInterfaces replaces the interfaces of the public instance.
func (i *Instance) SetInterfaces(ctx context.Context, ifs []Interface) error {
	ifs = slices.Clone(ifs)
	return i.call(ctx, func() { i.step(InterfacesChanged{Interfaces: ifs}) })
}

// UpdateRoutes changes the routing table LDP follows.
func (i *Instance) UpdateRoutes(ctx context.Context, u RoutesChanged) error {
	u.Set, u.Delete = slices.Clone(u.Set), slices.Clone(u.Delete)
	return i.call(ctx, func() { i.step(u) })
}

// Snapshot copies the state for the displays.
func (i *Instance) Snapshot(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	err := i.call(ctx, func() { s = i.core.Snapshot(i.now()) })
	return s, err
}

// LSPs returns the current LSPs.
func (i *Instance) LSPs(ctx context.Context) ([]LSP, error) {
	var out []LSP
	err := i.call(ctx, func() { out = i.core.LSPs() })
	return out, err
}

func debugEvent(ev Event) string {
	switch e := ev.(type) {
	case PDUReceived:
		return fmt.Sprintf("conn %d %s", e.Conn, hex.EncodeToString(e.Data))
	case HelloReceived:
		return fmt.Sprintf("%s from %v", e.Interface, e.Src)
	}
	return fmt.Sprintf("%+v", ev)
}
