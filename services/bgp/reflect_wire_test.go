package bgp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"vpnos/services/bgp/packet"
)

// Reflection and its loop checks on the wire: the peers' UPDATEs are byte
// vectors laid out as RFC 4271, 4456 and 4760 define them (the attributes as
// FRR and VRP send them), and what the reflector sends is checked byte for
// byte where RFC 4456 puts its attributes.

// unhex reads "40 01 01 00 ..." (spaces and newlines ignored).
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad vector %q: %v", s, err)
	}
	return b
}

// wireUpdate frames an UPDATE: marker, length, type 2, withdrawn routes,
// path attributes and NLRI, each given in hex.
func wireUpdate(t testing.TB, withdrawn, attrs, nlri string) []byte {
	t.Helper()
	w, a, n := unhex(t, withdrawn), unhex(t, attrs), unhex(t, nlri)
	b := bytes.Repeat([]byte{0xff}, 16)
	b = binary.BigEndian.AppendUint16(b, uint16(19+2+len(w)+2+len(a)+len(n)))
	b = append(b, 2)
	b = binary.BigEndian.AppendUint16(b, uint16(len(w)))
	b = append(b, w...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a)))
	b = append(b, a...)
	return append(b, n...)
}

// The attributes of the vectors.
const (
	wOriginIGP   = "40 01 01 00"
	wEmptyPath   = "40 02 00"
	wLocalPref   = "40 05 04 00 00 00 64"                         // 100
	wNextHopC1   = "40 03 04 0a ff 00 01"                         // 10.255.0.1
	wNextHopN1   = "40 03 04 0a ff 00 05"                         // 10.255.0.5
	wOrigC1      = "80 09 04 01 01 01 01"                         // ORIGINATOR_ID 1.1.1.1 (c1's router ID)
	wOrigOther   = "80 09 04 09 09 09 09"                         // ORIGINATOR_ID 9.9.9.9 (a PE behind a lower reflector)
	wOrigSelf    = "80 09 04 0a ff 00 0a"                         // ORIGINATOR_ID 10.255.0.10: the reflector itself
	wClusterSelf = "80 0a 04 0a ff 00 0a"                         // CLUSTER_LIST [10.255.0.10]: the reflector's cluster
	wClusterLow  = "80 0a 04 00 00 00 63"                         // CLUSTER_LIST [0.0.0.99]: a lower cluster
	wClusterLoop = "80 0a 08 00 00 00 01 0a ff 00 0a"             // CLUSTER_LIST [0.0.0.1 10.255.0.10]
	wRT100       = "c0 10 08 00 02 fd e8 00 00 00 64"             // EXTENDED_COMMUNITIES RT 65000:100
	wNLRI10_1    = "10 0a 01"                                     // 10.1.0.0/16
	wNLRI10_5    = "10 0a 05"                                     // 10.5.0.0/16
	wOrigBadLen  = "80 09 05 01 01 01 01 01"                      // ORIGINATOR_ID of length 5
	wVPNNLRI     = "70 00 3e 81 00 00 fd e8 00 00 00 01 ac 10 01" // label 1000, RD 65000:1, 172.16.1.0/24
	wVPNNextHop  = "0c 00 00 00 00 00 00 00 00 0a ff 00 01"       // RD 0, 10.255.0.1
)

// wMPReach is MP_REACH_NLRI for VPNv4 (AFI 1, SAFI 128) with one route.
func wMPReach() string {
	body := "00 01 80 " + wVPNNextHop + " 00 " + wVPNNLRI
	return "80 0e " + hex.EncodeToString([]byte{byte(len(strings.Fields(body)))}) + " " + body
}

// sentBytes is every message sent to a peer since the last take, joined,
// and the decoded UPDATEs as lines.
func sentBytes(h *harness, k PeerKey) ([]byte, []string) {
	raw := bytes.Join(h.sent[k], nil)
	return raw, routesSent(h.takeSent(k))
}

func TestReflectionOnTheWire(t *testing.T) {
	ebgp := key("", "192.0.2.2")
	withCE := func(c *Config) {
		c.Peers = append(c.Peers, Peer{Addr: ebgp.Addr, AS: 64501, AF: map[packet.Family]PeerAF{packet.IPv4Unicast: {Enabled: true}}})
	}
	type expect struct {
		peers []PeerKey
		// bytes that must follow one another in what each of peers gets
		// (empty: nothing at all is sent to them).
		wire []string
		// lines of the decoded UPDATEs each of peers gets.
		lines []string
	}
	cases := []struct {
		name string
		mod  func(*Config)
		from PeerKey
		// before is sent first (and its effect dropped).
		before []byte
		msg    func(t testing.TB) []byte
		want   []expect
		// kept: destinations of the public instance afterwards.
		kept int
	}{{
		name: "client route gets ORIGINATOR_ID and CLUSTER_LIST, next hop unchanged",
		from: c1,
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+wEmptyPath+wNextHopC1+wLocalPref, wNLRI10_1)
		},
		want: []expect{
			{peers: []PeerKey{c2, c3, n1, n2}, wire: []string{wNextHopC1, wLocalPref, wOrigC1 + wClusterSelf, wNLRI10_1},
				lines: []string{"+ 10.1.0.0/16 nh 10.255.0.1 path [] i lp 100 originator 1.1.1.1 clusters [10.255.0.10]"}},
			{peers: []PeerKey{c1}},
		},
		kept: 1,
	}, {
		name: "hierarchical: a lower reflector's originator is kept and our cluster goes first",
		from: c1,
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+wEmptyPath+wNextHopC1+wLocalPref+wOrigOther+wClusterLow, wNLRI10_1)
		},
		want: []expect{
			{peers: []PeerKey{c2, n1}, wire: []string{wOrigOther + "80 0a 08 0a ff 00 0a 00 00 00 63"},
				lines: []string{"+ 10.1.0.0/16 nh 10.255.0.1 path [] i lp 100 originator 9.9.9.9 clusters [10.255.0.10 0.0.0.99]"}},
		},
		kept: 1,
	}, {
		name: "non-client route reflected to clients only",
		from: n1,
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+wEmptyPath+wNextHopN1+wLocalPref, wNLRI10_5)
		},
		want: []expect{
			{peers: []PeerKey{c1, c2, c3}, wire: []string{wNextHopN1, "80 09 04 05 05 05 05" + wClusterSelf}},
			{peers: []PeerKey{n1, n2}},
		},
		kept: 1,
	}, {
		name: "our router ID as ORIGINATOR_ID: dropped",
		from: n1,
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+wEmptyPath+wNextHopN1+wLocalPref+wOrigSelf, wNLRI10_5)
		},
		want: []expect{{peers: []PeerKey{c1, c2, c3, n2}}},
	}, {
		name: "our cluster in CLUSTER_LIST: dropped",
		from: c2,
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+wEmptyPath+wNextHopC1+wLocalPref+wOrigOther+wClusterLoop, wNLRI10_1)
		},
		want: []expect{{peers: []PeerKey{c1, c3, n1, n2}}},
	}, {
		name:   "a route that turns into a loop is withdrawn from everyone",
		from:   c1,
		before: wireUpdate(t, "", wOriginIGP+wEmptyPath+wNextHopC1+wLocalPref, wNLRI10_1),
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+wEmptyPath+wNextHopC1+wLocalPref+wOrigOther+wClusterSelf, wNLRI10_1)
		},
		want: []expect{
			// An UPDATE with only withdrawn routes: 10.1.0.0/16.
			{peers: []PeerKey{c2, c3, n1, n2}, wire: []string{"00 03 " + wNLRI10_1 + " 00 00"}, lines: []string{"- 10.1.0.0/16"}},
		},
	}, {
		name:   "malformed ORIGINATOR_ID: treated as withdraw, session kept",
		from:   c1,
		before: wireUpdate(t, "", wOriginIGP+wEmptyPath+wNextHopC1+wLocalPref, wNLRI10_1),
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+wEmptyPath+wNextHopC1+wLocalPref+wOrigBadLen, wNLRI10_1)
		},
		want: []expect{{peers: []PeerKey{c2, n1}, lines: []string{"- 10.1.0.0/16"}}},
	}, {
		name: "ORIGINATOR_ID and CLUSTER_LIST from an EBGP peer are discarded, not taken for a loop",
		mod:  withCE,
		from: ebgp,
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+"40 02 06 02 01 00 00 fb f5"+"40 03 04 c0 00 02 02"+wOrigSelf+wClusterSelf, wNLRI10_5)
		},
		want: []expect{
			{peers: []PeerKey{c1, n1}, wire: []string{"40 02 06 02 01 00 00 fb f5"},
				lines: []string{"+ 10.5.0.0/16 nh 192.0.2.2 path [64501] i lp 100"}},
		},
		kept: 1,
	}, {
		name: "VPNv4: MP_REACH next hop and label unchanged, configured cluster ID",
		mod:  func(c *Config) { c.VPNv4.ClusterID = 7 },
		from: c1,
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+wEmptyPath+wLocalPref+wRT100+wMPReach(), "")
		},
		want: []expect{
			{peers: []PeerKey{c2, c3, n1, n2}, wire: []string{wOrigC1 + "80 0a 04 00 00 00 07", wRT100, wVPNNextHop, wVPNNLRI},
				lines: []string{"+ 65000:1:172.16.1.0/24 nh 10.255.0.1 label 1000 path [] i lp 100 originator 1.1.1.1 clusters [0.0.0.7] ext [65000:100]"}},
		},
	}, {
		name: "VPNv4: the configured cluster ID in CLUSTER_LIST is a loop",
		mod:  func(c *Config) { c.VPNv4.ClusterID = 7 },
		from: c1,
		msg: func(t testing.TB) []byte {
			return wireUpdate(t, "", wOriginIGP+wEmptyPath+wLocalPref+wOrigOther+"80 0a 04 00 00 00 07"+wRT100+wMPReach(), "")
		},
		want: []expect{{peers: []PeerKey{c2, c3, n1, n2}}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := upRR(t, tc.mod)
			if tc.from == ebgp {
				h.establish(ebgp, "192.0.2.1", 64501, "192.0.2.2", packet.IPv4Unicast)
				h.reach[ebgp.Addr] = reach("", "192.0.2.2", 0, false)
			}
			if tc.before != nil {
				h.recv(tc.from, tc.before)
			}
			for _, k := range []PeerKey{c1, c2, c3, n1, n2, ebgp} {
				h.takeSent(k)
			}
			h.recv(tc.from, tc.msg(t))
			for _, e := range tc.want {
				for _, k := range e.peers {
					raw, lines := sentBytes(h, k)
					if e.wire == nil && e.lines == nil {
						if len(lines) != 0 {
							t.Errorf("%s got %v, want nothing", k, lines)
						}
						continue
					}
					for _, w := range e.wire {
						if !bytes.Contains(raw, unhex(t, w)) {
							t.Errorf("%s: sent\n%x\nwithout %q", k, raw, w)
						}
					}
					if e.lines != nil {
						checkLines(t, k.String(), lines, e.lines)
					}
				}
			}
			if p := h.s.peers[tc.from]; p == nil || !p.up {
				t.Errorf("session with %s went down", tc.from)
			}
			if got := len(h.s.insts[PublicInstance].routes.dests); got != tc.kept {
				t.Errorf("%d destinations kept, want %d", got, tc.kept)
			}
		})
	}
}
