package forwarding

import (
	"fmt"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
)

// A daemon restarted after a crash finds its old ingress qdisc and filter
// on the port: blocking again must succeed and leave exactly one filter.
func TestBlockKernelIngressTwice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	l := newLab(t, "vt-fwd-tc1", "vt-fwd-tc2")
	l.veth("vt-fwd-tc1", "p1", "vt-fwd-tc2", "p2")
	l.do("vt-fwd-tc1", func() error {
		lk, err := netlink.LinkByName("p1")
		if err != nil {
			return err
		}
		// Errors are returned, not reported with t.Fatal: this runs on a
		// goroutine of its own.
		for i := 0; i < 3; i++ {
			if err := blockKernelIngress(lk.Attrs().Index); err != nil {
				return fmt.Errorf("block #%d: %w", i+1, err)
			}
		}
		fs, err := netlink.FilterList(lk, netlink.MakeHandle(0xffff, 0))
		if err != nil {
			return err
		}
		if len(fs) != 1 {
			return fmt.Errorf("%d ingress filters, want 1", len(fs))
		}
		return unblockKernelIngress(lk.Attrs().Index)
	})
}
