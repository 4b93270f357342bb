package daemon

import (
	"context"
	"log/slog"

	"vpnos/services/rib"
	"vpnos/services/vrf"
)

// ribSink tells the RIB about instances and interfaces as the vrf service
// applies them (direct routes follow interface addresses and state).
type ribSink struct {
	rib *rib.Service
	log *slog.Logger
}

func (s ribSink) InstanceAdded(ctx context.Context, name string) {
	if err := s.rib.AddInstance(ctx, name); err != nil {
		s.log.Error("rib: add instance", "instance", name, "err", err)
	}
}

func (s ribSink) InstanceRemoved(ctx context.Context, name string) {
	if err := s.rib.DelInstance(ctx, name); err != nil {
		s.log.Error("rib: remove instance", "instance", name, "err", err)
	}
}

func (s ribSink) InterfaceChanged(ctx context.Context, in vrf.Interface) {
	p := rib.Port{Name: in.Name, Kernel: in.Kernel, Instance: in.Instance, Up: in.Present && in.Up,
		Loopback: in.Loopback, Addresses: in.Addresses}
	if err := s.rib.SetInterface(ctx, p); err != nil {
		s.log.Error("rib: interface", "interface", in.Name, "err", err)
	}
}

func (s ribSink) InterfaceRemoved(ctx context.Context, in vrf.Interface) {
	if err := s.rib.DelInterface(ctx, in.Name); err != nil {
		s.log.Error("rib: remove interface", "interface", in.Name, "err", err)
	}
}
