package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/packet"
)

type emitted struct {
	punt  bool
	port  int    // -1: punted into the instance's own tap
	inst  string // the instance of a frame punted into its own tap
	vnet  []byte
	frame []byte
}

type recorder struct{ out []emitted }

func (r *recorder) Transmit(port int, vnet, frame []byte) {
	r.out = append(r.out, emitted{port: port, vnet: bytes.Clone(vnet), frame: bytes.Clone(frame)})
}

func (r *recorder) Punt(port int, vnet, frame []byte) {
	r.out = append(r.out, emitted{punt: true, port: port, vnet: bytes.Clone(vnet), frame: bytes.Clone(frame)})
}

func (r *recorder) PuntInstance(instance string, frame []byte) {
	r.out = append(r.out, emitted{punt: true, port: -1, inst: instance, frame: bytes.Clone(frame)})
}

func (r *recorder) take() []emitted { o := r.out; r.out = nil; return o }

var (
	mac1   = packet.MAC{2, 0, 0, 0, 1, 1}
	mac2   = packet.MAC{2, 0, 0, 0, 2, 2}
	mac3   = packet.MAC{2, 0, 0, 0, 3, 3}
	hostA  = packet.MAC{2, 0xa, 0, 0, 0, 0xa} // on eth1
	hostB  = packet.MAC{2, 0xb, 0, 0, 0, 0xb} // on eth2
	ceMAC  = packet.MAC{2, 0xc, 0, 0, 0, 0xc} // on eth3
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vpnA   = "A"
	public = fibapi.Public
)

func a(s string) netip.Addr   { return netip.MustParseAddr(s) }
func p(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// fixture: eth1 10.1.0.1/24 (public), eth2 10.2.0.1/24 (public), eth3
// 192.168.1.1/24 (vpn A). Neighbours 10.1.0.2, 10.2.0.2, 192.168.1.2 known.
type fixture struct {
	t                *testing.T
	d                *Dataplane
	rec              *recorder
	eth1, eth2, eth3 int
	now              time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, d: New(Config{}), rec: &recorder{}, now: t0}
	var err error
	must := func(e error) {
		t.Helper()
		if e != nil {
			t.Fatal(e)
		}
	}
	f.eth1, err = f.d.AddPort("eth1", mac1, 1500, public)
	must(err)
	f.eth2, err = f.d.AddPort("eth2", mac2, 1500, public)
	must(err)
	f.eth3, err = f.d.AddPort("eth3", mac3, 1500, vpnA)
	must(err)
	must(f.d.SetPortAddrs("eth1", []netip.Prefix{p("10.1.0.1/24")}))
	must(f.d.SetPortAddrs("eth2", []netip.Prefix{p("10.2.0.1/24")}))
	must(f.d.SetPortAddrs("eth3", []netip.Prefix{p("192.168.1.1/24")}))
	must(f.d.SetNeighbour(t0, "eth1", a("10.1.0.2"), hostA, f.rec))
	must(f.d.SetNeighbour(t0, "eth2", a("10.2.0.2"), hostB, f.rec))
	must(f.d.SetNeighbour(t0, "eth3", a("192.168.1.2"), ceMAC, f.rec))
	must(f.d.Program(fibapi.Batch{Routes: []fibapi.Route{
		{Instance: public, Prefix: p("10.1.0.0/24"), NextHops: []fibapi.NextHop{{Port: "eth1"}}},
		{Instance: public, Prefix: p("10.2.0.0/24"), NextHops: []fibapi.NextHop{{Port: "eth2"}}},
		{Instance: public, Prefix: p("10.1.0.1/32"), Kind: fibapi.Local},
		{Instance: public, Prefix: p("10.2.0.1/32"), Kind: fibapi.Local},
		{Instance: vpnA, Prefix: p("192.168.1.0/24"), NextHops: []fibapi.NextHop{{Port: "eth3"}}},
		{Instance: vpnA, Prefix: p("192.168.1.1/32"), Kind: fibapi.Local},
	}}))
	f.rec.take()
	return f
}

func (f *fixture) program(b fibapi.Batch) {
	f.t.Helper()
	if err := f.d.Program(b); err != nil {
		f.t.Fatal(err)
	}
}

// in feeds a frame to port and returns what came out.
func (f *fixture) in(port int, frame []byte) []emitted {
	buf := make([]byte, Headroom+len(frame))
	copy(buf[Headroom:], frame)
	f.d.Process(f.now, port, nil, buf, Headroom, f.rec)
	return f.rec.take()
}

func udp(src, dst string, ttl uint8, payload int) []byte {
	u := make([]byte, 8+payload)
	binary.BigEndian.PutUint16(u[0:2], 5000)
	binary.BigEndian.PutUint16(u[2:4], 9)
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	for i := 8; i < len(u); i++ {
		u[i] = byte(i)
	}
	return packet.BuildIPv4(a(src), a(dst), packet.ProtoUDP, ttl, 1, u)
}

func ethFrame(dst, src packet.MAC, et uint16, payload ...[]byte) []byte {
	b := make([]byte, packet.EthernetLen)
	packet.PutEthernet(b, dst, src, et)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

func labels(ls ...packet.LabelEntry) []byte {
	var b []byte
	for _, l := range ls {
		b = binary.BigEndian.AppendUint32(b, l.Encode())
	}
	return b
}

// parsed is a decoded output frame.
type parsed struct {
	eth    packet.Ethernet
	labels []packet.LabelEntry
	ip     packet.IPv4
	ipb    []byte
}

func parseOut(t *testing.T, frame []byte) parsed {
	t.Helper()
	var r parsed
	var n int
	var err error
	r.eth, n, err = packet.ParseEthernet(frame)
	if err != nil {
		t.Fatal(err)
	}
	rest := frame[n:]
	if r.eth.EtherType == packet.EtherTypeMPLS {
		var m int
		r.labels, m, err = packet.ParseLabelStack(rest)
		if err != nil {
			t.Fatal(err)
		}
		rest = rest[m:]
	}
	if r.eth.EtherType == packet.EtherTypeARP {
		return r
	}
	r.ip, err = packet.ParseIPv4(rest)
	if err != nil {
		t.Fatalf("output is not IPv4: %v: %x", err, frame)
	}
	if !packet.IPv4ChecksumOK(rest) {
		t.Fatalf("bad IPv4 checksum in %x", frame)
	}
	r.ipb = rest[:r.ip.TotalLen]
	return r
}
