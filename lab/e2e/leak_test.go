package e2e

import (
	"testing"

	"time"

	"vpnos/lab/labtest"
	"vpnos/lab/runner"
)

// TestRouteLeak: static routes that resolve their next hop in another
// instance carry traffic between a VPN and the public instance, both ways:
// CE-A (red) reaches P's loopback through PE1, which routes red's packet
// into the public instance and P's answer back into red.
func TestRouteLeak(t *testing.T) {
	l := upCopy(t, runner.RuntimeNetns, "l3vpn", "l3vpn.clab.yml", "leak", "PE1", "P", "CE-A", "CE-B")
	// Without the leak, red knows nothing of the core.
	pingFails(t, l, "CE-A", "ping -c 2 -t 500 10.255.0.2")

	// CE-A learns the leaked route from PE1 over its EBGP session (red
	// imports its static routes into BGP).
	configure(t, l, "PE1",
		"ip route-static vpn-instance red 10.255.0.2 32 198.51.100.2 public",
		"ip route-static 192.0.2.0 30 vpn-instance red 192.0.2.2",
		"bgp 65000", "ipv4-family vpn-instance red", "import-route static")
	configure(t, l, "P", "ip route-static 192.0.2.0 30 198.51.100.1")
	// One router hop: P answers with TTL 255 - 1.
	out := pingOK(t, l, "CE-A", "ping -c 3 10.255.0.2", "10.255.0.2")
	if !received.MatchString(out) || !regexpMatch(`ttl=254`, out) {
		t.Fatalf("leaked ping:\n%s", out)
	}
	route := func(dest, flags, nh, port string) labtest.Matcher {
		return labtest.Rows("Destination/Mask", labtest.Row{"Destination/Mask": dest, "Proto": "Static", "Flags": flags, "NextHop": nh, "Interface": port})
	}
	l.WaitCLI(t, "PE1", "display ip routing-table vpn-instance red", route("10.255.0.2/32", "RD", "198.51.100.2", "GigabitEthernet0/3/0"), 10*time.Second)
	l.WaitCLI(t, "PE1", "display ip routing-table", route("192.0.2.0/30", "RDT", "192.0.2.2", "GigabitEthernet0/1/0"), 10*time.Second)

	// blue, the twin of red, gets nothing of it.
	pingFails(t, l, "CE-B", "ping -c 2 -t 500 10.255.0.2")
}
