package forwarding

import (
	"context"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"vpnos/services/fibapi"
)

// TestAttachPortCarrierRace: the port's peer comes up while AttachPort runs,
// after it read the port's carrier (down) and before it registered the port,
// so the link watcher sees the change while it does not know the port. The
// tap must still end up with carrier (it used to stay down for good, and the
// instance kernel with it: a lab node whose link was wired as it booted could
// not reach its neighbour).
func TestAttachPortCarrierRace(t *testing.T) {
	needRoot(t)
	l := newLab(t, "vt-fwd-cr-r", "vt-fwd-cr-b", "vt-fwd-cr-i")
	l.veth("vt-fwd-cr-r", "r1", "vt-fwd-cr-b", "b1")
	lowerUp := func(ns, link string) bool {
		var up bool
		l.do(ns, func() error {
			lk, err := netlink.LinkByName(link)
			if err != nil {
				return err
			}
			up = lk.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
			return nil
		})
		return up
	}
	setB1 := func(up bool) {
		l.do("vt-fwd-cr-b", func() error {
			lk, err := netlink.LinkByName("b1")
			if err != nil {
				return err
			}
			if up {
				return netlink.LinkSetUp(lk)
			}
			return netlink.LinkSetDown(lk)
		})
	}
	setB1(false)
	eventually(t, 3*time.Second, "r1 loses carrier", func() (bool, string) { return !lowerUp("vt-fwd-cr-r", "r1"), "" })

	f, _ := startForwarder(t, Options{PortNetNS: l.path["vt-fwd-cr-r"]})
	testHookAttachUnregistered = func(port string) {
		setB1(true)
		eventually(t, 3*time.Second, "r1 gets carrier", func() (bool, string) { return lowerUp("vt-fwd-cr-r", "r1"), "" })
		time.Sleep(200 * time.Millisecond) // the link watcher has seen the change by now
	}
	t.Cleanup(func() { testHookAttachUnregistered = nil })
	if err := f.AttachPort(context.Background(), "r1", fibapi.Public, l.path["vt-fwd-cr-i"]); err != nil {
		t.Fatal(err)
	}
	testHookAttachUnregistered = nil
	eventually(t, 3*time.Second, "tap r1 has carrier", func() (bool, string) { return lowerUp("vt-fwd-cr-i", "r1"), "" })

	// And the watcher still follows the port afterwards.
	setB1(false)
	eventually(t, 3*time.Second, "tap r1 loses carrier", func() (bool, string) { return !lowerUp("vt-fwd-cr-i", "r1"), "" })
	setB1(true)
	eventually(t, 3*time.Second, "tap r1 gets carrier back", func() (bool, string) { return lowerUp("vt-fwd-cr-i", "r1"), "" })
}
