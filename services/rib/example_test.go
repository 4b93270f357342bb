package rib_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/label"
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
		Labels:     label.New(),
		Now:        func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	go svc.Serve(ctx)

	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(svc.AddInstance(ctx, "red"))
	must(svc.SetInterface(ctx, rib.Port{Name: "eth3", VRPName: "GigabitEthernet0/3/0", Up: true,
		Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/30")}}))
	must(svc.AddRoute(ctx, "", rib.Route{Prefix: netip.MustParsePrefix("10.255.0.3/32"), Protocol: rib.Static,
		NextHops: []rib.NextHop{{Gateway: netip.MustParseAddr("198.51.100.2")}}}))
	must(svc.SetStaticLSPs(ctx, []rib.StaticLSP{{Name: "to-pe2", Role: rib.Ingress,
		FEC: netip.MustParsePrefix("10.255.0.3/32"), NextHop: netip.MustParseAddr("198.51.100.2"), OutLabel: 100}}))
	must(svc.AddRoute(ctx, "red", rib.Route{Prefix: netip.MustParsePrefix("172.16.3.0/24"), Protocol: rib.IBGP,
		NextHops: []rib.NextHop{{Gateway: netip.MustParseAddr("10.255.0.3"), Instance: fibapi.Public,
			Labels: []uint32{48130}, Tunnel: true}}}))

	snap, _ := svc.Snapshot(ctx, "red")
	fmt.Print(rib.RenderRoutingTable(snap, rib.TableOptions{}))
	lsps, _ := svc.StaticLSPs(ctx, "")
	fmt.Print(rib.RenderStaticLSPs(lsps, false))
	// Output:
	// program red 172.16.3.0/24 via eth3 198.51.100.2 labels [100 48130]
	// Route Flags: R - relay, D - download to fib, T - to vpn-instance, B - black hole route
	// ------------------------------------------------------------------------------
	// Routing Table: red
	//          Destinations : 2        Routes : 2
	//
	// Destination/Mask    Proto  Pre  Cost     Flags NextHop         Interface
	//
	//    172.16.3.0/24    IBGP   255  0        RD    10.255.0.3      GigabitEthernet0/3/0
	// 255.255.255.255/32  Direct 0    0        D     127.0.0.1       InLoopBack0
	// TOTAL          : 1              STATIC LSP(S)
	// UP             : 1              STATIC LSP(S)
	// DOWN           : 0              STATIC LSP(S)
	// Name               FEC                I/O Label    I/O If                      Status
	// to-pe2             10.255.0.3/32      NULL/100     -/GigabitEthernet0/3/0      Up
}
