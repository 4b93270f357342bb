package nsutil

import (
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
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
