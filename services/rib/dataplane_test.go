package rib

import (
	"testing"

	"vpnos/services/forwarding/dataplane"
)

// Every batch of a PE's life is accepted by the userspace forwarder's
// dataplane (which validates a batch whole before applying it).
func TestBatchesAcceptedByUserspaceDataplane(t *testing.T) {
	dp := dataplane.New(dataplane.Config{})
	e := ldpPE1(t)
	e.must(e.r.AddRoute("red", vpnRoute("172.16.3.0/24")))
	e.flush()
	program := func(step string) {
		t.Helper()
		b := e.r.Compute()
		if err := dp.Program(b); err != nil {
			t.Fatalf("%s: dataplane refused the batch: %v\n%q", step, err, batchString(b))
		}
		e.r.Commit()
	}
	e.r.Resync() // everything referencePE1 programmed, again
	program("initial")
	e.must(e.r.AddRoute(pub, static("192.168.0.0/16", "NULL0", 0)))
	e.must(e.r.AddRoute(pub, static("172.20.0.0/16", "10.255.0.3", 0)))
	e.must(e.r.SetLSPs(OwnerStatic, []LSP{
		ingress("pe1-pe2", "10.255.0.3/32", "198.51.100.2", 3),
		transit("t", 100, "198.51.100.2", 0),
		transit("t2", 101, "198.51.100.2", 3),
		egress("e", 102),
	}))
	e.must(e.r.SetLSPs(OwnerLDP, []LSP{{Name: "pe2", Role: Transit, Instance: pub, FEC: pfx("10.255.0.3/32"), InLabel: 48500,
		Out: []LSPOut{{Gateway: ip("198.51.100.2"), Label: 48001}, {Gateway: ip("198.51.100.10"), Label: 3}}}}))
	e.must(e.r.SetLSPs(OwnerVPNInstance, []LSP{{Name: "red", Role: Egress, Instance: "red", InLabel: 48000}}))
	e.must(e.r.SetLSPs(OwnerBGP, []LSP{{Name: "ce", Role: Egress, Instance: "red", FEC: pfx("192.0.2.0/30"), InLabel: 48002}}))
	program("LSPs and labels")
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", pub, false, "198.51.100.1/30")))
	program("core link down")
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", pub, true, "198.51.100.1/30")))
	program("core link up")
	e.must(e.r.DelInstance("red"))
	program("instance deleted")
}
