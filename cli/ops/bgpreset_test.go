package ops

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"vpnos/services/bgp"
	"vpnos/services/bgp/packet"
)

// fakeBGPControl has three peers and records what is reset.
type fakeBGPControl struct {
	resets [][]bgp.PeerKey
}

func (f *fakeBGPControl) Peers(context.Context) ([]bgp.PeerSnapshot, error) {
	pk := func(inst, a string) bgp.PeerKey { return bgp.PeerKey{Instance: inst, Addr: netip.MustParseAddr(a)} }
	return []bgp.PeerSnapshot{
		{Key: pk(bgp.PublicInstance, "10.255.0.3"), Families: []packet.Family{packet.IPv4Unicast, packet.VPNv4}},
		{Key: pk(bgp.PublicInstance, "198.51.100.9"), EBGP: true, Families: []packet.Family{packet.IPv4Unicast}},
		{Key: pk("red", "192.0.2.2"), EBGP: true, Families: []packet.Family{packet.IPv4Unicast}},
	}, nil
}

func (f *fakeBGPControl) Reset(_ context.Context, peers []bgp.PeerKey) error {
	f.resets = append(f.resets, peers)
	return nil
}

func (f *fakeBGPControl) Refresh(context.Context, []bgp.PeerKey, bool, bool) error { return nil }

// reset bgp all restarts every session of the process (nil: the speaker
// also takes a system router ID that changed); the narrower forms name
// their peers.
func TestResetBGP(t *testing.T) {
	for _, tc := range []struct {
		line string
		want string
	}{
		{"reset bgp all", "[]"},
		{"reset bgp vpnv4 all", "[_public_/10.255.0.3]"},
		{"reset bgp internal", "[_public_/10.255.0.3]"},
		{"reset bgp external", "[_public_/198.51.100.9]"},
		{"reset bgp 198.51.100.9", "[_public_/198.51.100.9]"},
	} {
		f := &fakeBGPControl{}
		w := newWorldMore(t, "two-stage", nil, func(d *Deps) { d.BGPControl = f })
		out := runTranscript(t, w, tc.line)
		if len(f.resets) != 1 {
			t.Fatalf("%s: %d resets:\n%s", tc.line, len(f.resets), out)
		}
		got := f.resets[0]
		s := "["
		for i, k := range got {
			if i > 0 {
				s += " "
			}
			s += fmt.Sprintf("%s/%s", k.Instance, k.Addr)
		}
		s += "]"
		if s != tc.want || (tc.want == "[]") != (got == nil) {
			t.Errorf("%s: reset %s (nil %v), want %s", tc.line, s, got == nil, tc.want)
		}
	}
}
