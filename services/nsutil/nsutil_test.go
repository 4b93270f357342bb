package nsutil

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestCreateDelete(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	const name = "vt-fwd-ns"
	path, err := Create(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	defer Delete(dir, name)
	if _, err := Create(dir, name); err == nil {
		t.Fatal("created twice")
	}
	var fwd []byte
	var loUp bool
	err = Do(path, func() error {
		var err error
		fwd, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		if err != nil {
			return err
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		loUp = lo.Attrs().Flags&1 != 0
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		if len(links) != 1 {
			t.Errorf("new namespace has %d links", len(links))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(fwd)) != "0" || !loUp {
		t.Fatalf("ip_forward=%q lo up=%v", fwd, loUp)
	}
	if err := Delete(dir, name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("namespace file left behind")
	}
	if err := Delete(dir, name); err != nil {
		t.Fatalf("deleting a missing namespace: %v", err)
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if _, err := Create(dir, bad); err == nil {
			t.Errorf("accepted name %q", bad)
		}
	}
	if err := Do(dir+"/missing", func() error { return nil }); err == nil {
		t.Fatal("entered a missing namespace")
	}
}

// newPair makes two namespaces with New, closed when the test ends.
func newPair(t *testing.T) (a, b netns.NsHandle) {
	t.Helper()
	for _, h := range []*netns.NsHandle{&a, &b} {
		n, err := New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		*h = n
	}
	return a, b
}

func TestNew(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	self, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	a, b := newPair(t)
	if a.Equal(b) || a.Equal(self) {
		t.Fatal("New must give a namespace of its own each time")
	}
	// The caller's thread is not moved.
	if now, _ := netns.Get(); !now.Equal(self) {
		t.Fatal("New left the calling thread in another namespace")
	}
	var links []string
	var loUp bool
	if err := DoHandle(a, func() error {
		ls, err := netlink.LinkList()
		for _, l := range ls {
			links = append(links, l.Attrs().Name)
			if l.Attrs().Name == "lo" {
				loUp = l.Attrs().Flags&1 != 0
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(links, ",") != "lo" || !loUp {
		t.Fatalf("new namespace links %v, lo up %v", links, loUp)
	}
}

func TestMoveLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	a, b := newPair(t)
	// In a: a veth pair; one end moves to b, renamed and up.
	err := DoHandle(a, func() error {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "m0"}, PeerName: "m1"}); err != nil {
			return err
		}
		if err := MoveLink("m1", b, "port7", true); err != nil {
			return err
		}
		if _, err := netlink.LinkByName("m1"); err == nil {
			return errors.New("m1 still in a")
		}
		return MoveLink("nosuch", b, "", false)
	})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("moving a missing link: %v", err)
	}
	if err := DoHandle(b, func() error {
		l, err := netlink.LinkByName("port7")
		if err != nil {
			return err
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			return errors.New("port7 is not up")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
