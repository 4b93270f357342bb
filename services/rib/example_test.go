package rib_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/rib"
)

// printer is a Programmer that prints what it is asked to program.
type printer struct{}

func (printer) Program(_ context.Context, b fibapi.Batch) error {
	for _, r := range b.Routes {
		if r.Instance == "red" && r.Prefix.Bits() == 24 {
			fmt.Printf("program %s %s via %s %s labels %v\n", r.Instance, r.Prefix, r.NextHops[0].Port, r.NextHops[0].Gateway, r.NextHops[0].Labels)
		}
	}
	return nil
}

// A PE: a VPN route learned from the remote PE rides a static LSP.
func ExampleService() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := rib.NewService(rib.ServiceConfig{
		Programmer: printer{},
		Now:        func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	go svc.Serve(ctx)

	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(svc.AddInstance(ctx, "red"))
	must(svc.SetInterface(ctx, rib.Port{Name: "GigabitEthernet0/3/0", Kernel: "eth3", Instance: fibapi.Public, Up: true,
		Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/30")}}))
	must(svc.AddRoute(ctx, fibapi.Public, rib.Route{Prefix: netip.MustParsePrefix("10.255.0.3/32"), Protocol: rib.Static,
		NextHops: []rib.NextHop{{Gateway: netip.MustParseAddr("198.51.100.2")}}}))
	must(svc.SetLSPs(ctx, rib.OwnerStatic, []rib.LSP{{Name: "to-pe2", Role: rib.Ingress, Instance: fibapi.Public,
		FEC: netip.MustParsePrefix("10.255.0.3/32"), Explicit: true,
		Out: []rib.LSPOut{{Gateway: netip.MustParseAddr("198.51.100.2"), Label: 100}}}}))
	must(svc.AddRoute(ctx, "red", rib.Route{Prefix: netip.MustParsePrefix("172.16.3.0/24"), Protocol: rib.IBGP,
		NextHops: []rib.NextHop{{Gateway: netip.MustParseAddr("10.255.0.3"), Instance: fibapi.Public,
			Labels: []uint32{48130}, Tunnel: true}}}))

	nh, _ := svc.ResolveNexthop(ctx, fibapi.Public, netip.MustParseAddr("10.255.0.3"))
	fmt.Printf("next hop 10.255.0.3: resolved %v via %s, tunnel %v (%s %s)\n", nh.Resolved, nh.Route, nh.Tunnel, nh.TunnelOwner, nh.TunnelName)
	snap, _ := svc.Snapshot(ctx, "red")
	for _, e := range snap.Routes {
		fmt.Println(e.Prefix, e.Protocol, e.Flags(), e.NextHop, e.Interface, e.OutLabels)
	}
	lsps, _ := svc.LSPs(ctx, rib.OwnerStatic)
	for _, l := range lsps {
		fmt.Println(l.Owner, l.Name, l.Role, l.Up, l.Hops[0].Interface, l.Hops[0].Labels)
	}
	// Output:
	// program red 172.16.3.0/24 via eth3 198.51.100.2 labels [100 48130]
	// next hop 10.255.0.3: resolved true via 10.255.0.3/32, tunnel true (static to-pe2)
	// 172.16.3.0/24 IBGP RD 10.255.0.3 GigabitEthernet0/3/0 [100 48130]
	// 255.255.255.255/32 Direct D 127.0.0.1 InLoopBack0 []
	// static to-pe2 Ingress true GigabitEthernet0/3/0 [100]
}
