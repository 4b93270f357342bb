package forwarding

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
)

// TestMPLSCoreTraceroute runs three forwarders (PE1, P, PE2) in this process
// and checks the core scenario end to end: CE1 reaches CE2 in VPN V
// over a transport LSP (PHP towards PE2, explicit null towards PE1) with a VPN
// label, the labels are on the wire, and a TTL sweep from CE1 shows every hop,
// including P, which knows no VPN route (its time exceeded travels on along
// the LSP and PE2 routes it back in V).
//
//	ce1 c0 ── e1 [PE1] e2 ── e1 [P] e2 ── e1 [PE2] e2 ── c0 ce2
//	192.168.1.2  .1.1  10.0.12.1  .12.2  .23.2  10.0.23.3  .2.1  192.168.2.2
func TestMPLSCoreTraceroute(t *testing.T) {
	needRoot(t)
	l := newLab(t, "vt-fwd-ce1", "vt-fwd-ce2", "vt-fwd-pe1", "vt-fwd-p", "vt-fwd-pe2",
		"vt-fwd-pe1g", "vt-fwd-pe1v", "vt-fwd-pg", "vt-fwd-pe2g", "vt-fwd-pe2v")
	l.veth("vt-fwd-pe1", "e1", "vt-fwd-ce1", "c0")
	l.veth("vt-fwd-pe1", "e2", "vt-fwd-p", "e1")
	l.veth("vt-fwd-p", "e2", "vt-fwd-pe2", "e1")
	l.veth("vt-fwd-pe2", "e2", "vt-fwd-ce2", "c0")
	l.addr("vt-fwd-ce1", "c0", "192.168.1.2/24")
	l.addr("vt-fwd-ce2", "c0", "192.168.2.2/24")
	l.defaultRoute("vt-fwd-ce1", "192.168.1.1")
	l.defaultRoute("vt-fwd-ce2", "192.168.2.1")

	ctx := context.Background()
	type attach struct{ port, inst, ns, addr string }
	router := func(portNS string, as []attach, b fibapi.Batch) *Forwarder {
		f, _ := startForwarder(t, Options{PortNetNS: l.path[portNS]})
		for _, a := range as {
			if err := f.AttachPort(ctx, a.port, a.inst, l.path[a.ns]); err != nil {
				t.Fatal(err)
			}
			l.addr(a.ns, a.port, a.addr)
			ip := mustPrefix(a.addr)
			b.Routes = append(b.Routes,
				fibapi.Route{Instance: a.inst, Prefix: ip.Masked(), NextHops: []fibapi.NextHop{{Port: a.port}}},
				fibapi.Route{Instance: a.inst, Prefix: mustPrefix(ip.Addr().String() + "/32"), Kind: fibapi.Local})
		}
		if err := f.Program(ctx, b); err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			eventually(t, 3*time.Second, a.port+" address learnt", func() (bool, string) { return len(f.PortAddrs(a.port)) == 1, "" })
		}
		return f
	}
	pe1 := router("vt-fwd-pe1", []attach{
		{"e1", "V", "vt-fwd-pe1v", "192.168.1.1/24"},
		{"e2", fibapi.Public, "vt-fwd-pe1g", "10.0.12.1/24"},
	}, fibapi.Batch{
		Routes: []fibapi.Route{{Instance: "V", Prefix: mustPrefix("192.168.2.0/24"),
			NextHops: []fibapi.NextHop{{Port: "e2", Gateway: mustAddr("10.0.12.2"), Labels: []uint32{100, 300}}}}},
		Labels: []fibapi.LabelEntry{{InLabel: 301, Op: fibapi.PopLookup, Instance: "V"}},
	})
	router("vt-fwd-p", []attach{
		{"e1", fibapi.Public, "vt-fwd-pg", "10.0.12.2/24"},
		{"e2", fibapi.Public, "vt-fwd-pg", "10.0.23.2/24"},
	}, fibapi.Batch{Labels: []fibapi.LabelEntry{
		{InLabel: 100, Op: fibapi.Swap, NextHops: []fibapi.NextHop{{Port: "e2", Gateway: mustAddr("10.0.23.3")}}},
		{InLabel: 101, Op: fibapi.Swap, NextHops: []fibapi.NextHop{{Port: "e1", Gateway: mustAddr("10.0.12.1"), Labels: []uint32{0}}}},
	}})
	router("vt-fwd-pe2", []attach{
		{"e1", fibapi.Public, "vt-fwd-pe2g", "10.0.23.3/24"},
		{"e2", "V", "vt-fwd-pe2v", "192.168.2.1/24"},
	}, fibapi.Batch{
		Routes: []fibapi.Route{{Instance: "V", Prefix: mustPrefix("192.168.1.0/24"),
			NextHops: []fibapi.NextHop{{Port: "e1", Gateway: mustAddr("10.0.23.2"), Labels: []uint32{101, 301}}}}},
		Labels: []fibapi.LabelEntry{{InLabel: 300, Op: fibapi.PopLookup, Instance: "V"}},
	})

	// The PE1-P link, each direction captured where it arrives.
	capP, capPE1 := l.capture("vt-fwd-p", "e1"), l.capture("vt-fwd-pe1", "e2")
	t.Run("ce1 reaches ce2 over the lsp", func(t *testing.T) {
		eventually(t, 8*time.Second, "ce1 pings ce2", func() (bool, string) { return l.ping("vt-fwd-ce1", "-c1", "-W1", "192.168.2.2") })
		ok, out := l.ping("vt-fwd-ce1", "-c2", "-i0.2", "-W1", "192.168.2.2")
		if !ok || !contains(out, "ttl=61") {
			t.Fatalf("%s", out)
		}
	})
	t.Run("labels on the pe1-p link", func(t *testing.T) {
		go l.ping("vt-fwd-ce1", "-c3", "-i0.2", "-W1", "192.168.2.2")
		isMPLS := func(b []byte) bool { return binary.BigEndian.Uint16(b[12:]) == packet.EtherTypeMPLS }
		stack := func(c *capture) []packet.LabelEntry {
			b := c.wait(3*time.Second, isMPLS)
			if b == nil {
				return nil
			}
			st, _, err := packet.ParseLabelStack(b[14:])
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		toP, toPE1 := stack(capP), stack(capPE1)
		if len(toP) != 2 || toP[0].Label != 100 || toP[1].Label != 300 || toP[0].TTL != 63 {
			t.Fatalf("pe1 -> p stack %+v", toP)
		}
		if len(toPE1) != 2 || toPE1[0].Label != 0 || toPE1[1].Label != 301 {
			t.Fatalf("p -> pe1 stack %+v (explicit null expected on top)", toPE1)
		}
	})
	t.Run("ttl sweep shows every hop", func(t *testing.T) {
		hops := []string{"192.168.1.1", "10.0.12.2", "192.168.2.1"}
		for i, want := range hops {
			ok, out := l.ping("vt-fwd-ce1", "-c1", "-W2", fmt.Sprintf("-t%d", i+1), "192.168.2.2")
			if ok || !contains(out, "From "+want) || !contains(out, "Time to live exceeded") {
				t.Fatalf("ttl %d: want time exceeded from %s:\n%s", i+1, want, out)
			}
		}
		if ok, out := l.ping("vt-fwd-ce1", "-c1", "-W2", "-t4", "192.168.2.2"); !ok {
			t.Fatalf("ttl 4: %s", out)
		}
	})
	t.Run("the pe's own traffic in the vpn goes through its fib", func(t *testing.T) {
		if err := pe1.AddInstance(ctx, "V", l.path["vt-fwd-pe1v"]); err != nil {
			t.Fatal(err)
		}
		if err := pe1.AddInstance(ctx, "V", l.path["vt-fwd-pe1v"]); err == nil {
			t.Fatal("added twice")
		}
		// ping -vpn-instance V 192.168.2.2 on PE1: its kernel sends it to
		// fwd0, the forwarder labels it; the reply comes back by the LSP.
		if ok, out := l.ping("vt-fwd-pe1v", "-c2", "-i0.2", "-W1", "192.168.2.2"); !ok || !contains(out, "ttl=62") {
			t.Fatalf("%s", out)
		}
		// tracert -vpn-instance V from PE1: P answers the first hop.
		if ok, out := l.ping("vt-fwd-pe1v", "-c1", "-W2", "-t1", "192.168.2.2"); ok || !contains(out, "From 10.0.12.2") {
			t.Fatalf("ttl 1 from pe1: %s", out)
		}
		// TCP from the PE (a PE-CE or multihop session) with full-size
		// segments: labels make them too big for the core link, the
		// forwarder tells the PE's kernel, which lowers its MSS.
		l.tcpTransfer(t, "vt-fwd-pe1v", "vt-fwd-ce2", "192.168.2.2:179", 256<<10)
		if err := pe1.RemoveInstance(ctx, "V"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := l.ping("vt-fwd-pe1v", "-c1", "-W1", "192.168.2.2"); ok {
			t.Fatal("reached ce2 without the instance tap")
		}
	})
	t.Run("p's time exceeded carries the label stack (RFC 4950)", func(t *testing.T) {
		capCE1 := l.capture("vt-fwd-ce1", "c0")
		go l.ping("vt-fwd-ce1", "-c1", "-W2", "-t2", "192.168.2.2")
		b := capCE1.wait(3*time.Second, func(b []byte) bool {
			if binary.BigEndian.Uint16(b[12:]) != packet.EtherTypeIPv4 {
				return false
			}
			h, err := packet.ParseIPv4(b[14:])
			return err == nil && h.Protocol == packet.ProtoICMP && h.Src == mustAddr("10.0.12.2")
		})
		if b == nil {
			t.Fatal("no ICMP from P")
		}
		h, _ := packet.ParseIPv4(b[14:])
		msg := b[14+h.IHL : 14+int(h.TotalLen)]
		st, err := packet.ICMPExtensionLabels(msg)
		if err != nil || len(st) != 2 || st[0] != (packet.LabelEntry{Label: 100, TTL: 1}) || st[1] != (packet.LabelEntry{Label: 300, TTL: 1, S: true}) {
			t.Fatalf("extension %+v %v", st, err)
		}
	})
}
