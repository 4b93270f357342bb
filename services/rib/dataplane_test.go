package rib

import (
	"testing"

	"vpnos/services/fibapi"
	"vpnos/services/forwarding/dataplane"
)

// Every batch of a PE's life is accepted by the userspace forwarder's
// dataplane (which validates a batch whole before applying it).
func TestBatchesAcceptedByUserspaceDataplane(t *testing.T) {
	dp := dataplane.New(dataplane.Config{})
	e := referencePE1(t)
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
	e.must(e.r.AddRoute("", static("192.168.0.0/16", "NULL0", 0)))
	e.must(e.r.AddRoute("", static("172.20.0.0/16", "10.255.0.3", 0)))
	e.must(e.r.SetStaticLSPs([]StaticLSP{
		ingress("pe1-pe2", "10.255.0.3/32", "198.51.100.2", 3),
		{Name: "t", Role: Transit, InLabel: 100, NextHop: ip("198.51.100.2"), OutLabel: 0},
		{Name: "t2", Role: Transit, InLabel: 101, NextHop: ip("198.51.100.2"), OutLabel: 3},
	}))
	e.must(e.r.SetLabelEntries("bgp", []fibapi.LabelEntry{{InLabel: 48000, Op: fibapi.PopLookup, Instance: "red"}}))
	program("LSPs and labels")
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", "", false, "198.51.100.1/30")))
	program("core link down")
	e.must(e.r.SetInterface(port("eth3", "GigabitEthernet0/3/0", "", true, "198.51.100.1/30")))
	program("core link up")
	e.must(e.r.DelInstance("red"))
	program("instance deleted")
}
