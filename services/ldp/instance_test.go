package ldp

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"vpnos/services/ldp/packet"
)

// fakeNet records what the Instance asks of the network.
type fakeNet struct {
	mu       sync.Mutex
	events   chan Event
	ifaces   []string
	hellos   []string
	sent     map[ConnID][][]byte
	closed   []ConnID
	shutdown bool
}

func newFakeNet() *fakeNet {
	return &fakeNet{events: make(chan Event, 16), sent: map[ConnID][][]byte{}}
}

func (f *fakeNet) SetInterfaces(names []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ifaces = names
}
func (f *fakeNet) SendHello(iface string, _ netip.Addr, _ []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hellos = append(f.hellos, iface)
}
func (f *fakeNet) Dial(peer, local, remote netip.Addr, attempt uint64) {}
func (f *fakeNet) Send(c ConnID, pdus [][]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent[c] = append(f.sent[c], pdus...)
}
func (f *fakeNet) Close(c ConnID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = append(f.closed, c)
}
func (f *fakeNet) Events() <-chan Event { return f.events }
func (f *fakeNet) Shutdown() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shutdown = true
}

func (f *fakeNet) messages(t *testing.T, c ConnID) []packet.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sentMessages(t, []Action{Send{Conn: c, PDUs: f.sent[c]}})
}

func TestInstance(t *testing.T) {
	fn := newFakeNet()
	var mu sync.Mutex
	lsps := map[netip.Prefix]LSP{}
	inst := NewInstance(Options{Alloc: newLockedAlloc(), Net: fn, OnLSPs: func(c LSPsChanged) {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range c.Set {
			lsps[l.FEC] = l
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- inst.Run(ctx) }()
	bg := context.Background()

	if err := inst.SetConfig(bg, Config{Enabled: true, LSRID: addr("10.255.0.5"), HelloHold: time.Second}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("hello-hold 1 s accepted: %v", err)
	}
	if err := inst.SetConfig(bg, Config{Enabled: true}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("no LSR ID accepted: %v", err)
	}
	ifs := []Interface{
		{Name: "LoopBack0", Device: "lo", Up: true, Addrs: []netip.Prefix{pfx("10.255.0.5/32")}},
		{Name: "GigabitEthernet0/1/0", Device: "eth1", Up: true, Addrs: []netip.Prefix{pfx("10.0.12.1/30")}},
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(inst.SetInterfaces(bg, ifs))
	must(inst.UpdateRoutes(bg, RoutesChanged{Full: true, Set: []Route{{Prefix: pfx("10.255.0.5/32"), NextHops: []NextHop{{Interface: "LoopBack0"}}}}}))
	must(inst.SetConfig(bg, Config{Enabled: true, LSRID: addr("10.255.0.5"), Interfaces: []InterfaceConfig{{Name: "GigabitEthernet0/1/0"}}}))
	fn.mu.Lock()
	if len(fn.ifaces) != 1 || fn.ifaces[0] != "eth1" || len(fn.hellos) != 1 {
		t.Fatalf("interfaces %v hellos %v", fn.ifaces, fn.hellos)
	}
	fn.mu.Unlock()

	// A peer with the higher address connects (the network names the
	// device).
	fn.events <- HelloReceived{Interface: "eth9", Src: addr("10.0.12.9"), Data: helloPDU("10.255.0.8", 15, "10.255.0.8")}
	fn.events <- HelloReceived{Interface: "eth1", Src: addr("10.0.12.2"), Data: helloPDU("10.255.0.9", 15, "10.255.0.9")}
	fn.events <- ConnAccepted{Conn: 1, Remote: netip.MustParseAddrPort("10.255.0.9:4000")}
	fn.events <- PDUReceived{Conn: 1, Data: pduFrom("10.255.0.9", initFrom("", 45))}
	fn.events <- PDUReceived{Conn: 1, Data: pduFrom("10.255.0.9", &packet.KeepAlive{MsgID: 2})}
	var snap Snapshot
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		snap, err = inst.Snapshot(bg)
		must(err)
		if len(snap.Sessions) == 1 && snap.Sessions[0].State == Operational {
			break
		}
	}
	if len(snap.Sessions) != 1 || snap.Sessions[0].State != Operational || snap.Adjacencies[0].Interface != "GigabitEthernet0/1/0" {
		t.Fatalf("sessions %+v adjacencies %+v", snap.Sessions, snap.Adjacencies)
	}
	l, err := inst.LSPs(bg)
	must(err)
	mu.Lock()
	if len(l) != 1 || !l[0].Egress || !lsps[pfx("10.255.0.5/32")].Egress {
		t.Fatalf("LSPs %+v / %+v", l, lsps)
	}
	mu.Unlock()

	// Stopping sends a Shutdown Notification, closes, shuts the network.
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	msgs := fn.messages(t, 1)
	n, ok := msgs[len(msgs)-1].(*packet.Notification)
	if !ok || n.Status.Code != packet.StatusShutdown {
		t.Fatalf("last message %+v", msgs[len(msgs)-1])
	}
	fn.mu.Lock()
	if len(fn.closed) != 1 || fn.closed[0] != 1 || !fn.shutdown {
		t.Fatalf("closed %v shutdown %v", fn.closed, fn.shutdown)
	}
	fn.mu.Unlock()
	if _, err := inst.Snapshot(bg); !errors.Is(err, ErrStopped) {
		t.Fatalf("snapshot after stop: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	lsr := addr("10.255.0.1")
	for _, tc := range []struct {
		name string
		c    Config
		ok   bool
	}{
		{"disabled without lsr id", Config{}, true},
		{"defaults", Config{Enabled: true, LSRID: lsr}, true},
		{"no lsr id", Config{Enabled: true}, false},
		{"hello-hold 3", Config{Enabled: true, LSRID: lsr, HelloHold: 3 * time.Second}, true},
		{"hello-hold 2", Config{Enabled: true, LSRID: lsr, HelloHold: 2 * time.Second}, false},
		{"keepalive-hold 29", Config{Enabled: true, LSRID: lsr, KeepaliveHold: 29 * time.Second}, false},
		{"keepalive-hold 65535", Config{Enabled: true, LSRID: lsr, KeepaliveHold: MaxHold}, true},
		{"fraction", Config{Enabled: true, LSRID: lsr, HelloHold: 3500 * time.Millisecond}, false},
		{"interface twice", Config{Enabled: true, LSRID: lsr, Interfaces: []InterfaceConfig{{Name: "GE0/1/0"}, {Name: "ge0/1/0"}}}, false},
		{"interface timer", Config{Enabled: true, LSRID: lsr, Interfaces: []InterfaceConfig{{Name: "GE0/1/0", KeepaliveHold: time.Second}}}, false},
		{"interface without name", Config{Enabled: true, LSRID: lsr, Interfaces: []InterfaceConfig{{}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate: %v", err)
			}
			if err != nil && !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error %v is not ErrBadConfig", err)
			}
		})
	}
}
