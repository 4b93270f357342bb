package iface

import "testing"

func TestNaming(t *testing.T) {
	for _, tc := range []struct {
		style  Naming
		kernel string
		vrp    string
	}{
		{SlotStyle, "eth1", "GigabitEthernet0/1/0"},
		{SlotStyle, "eth12", "GigabitEthernet0/12/0"},
		{PortStyle, "eth3", "GigabitEthernet0/0/3"},
		{SlotStyle, "eth0", ManagementName},
		{SlotStyle, "lo", ""},
		{SlotStyle, "eth01", ""},
		{SlotStyle, "ethx", ""},
		{SlotStyle, "veth1", ""},
	} {
		if got := tc.style.VRPName(tc.kernel); got != tc.vrp {
			t.Errorf("%s VRPName(%s) = %q, want %q", tc.style, tc.kernel, got, tc.vrp)
		}
		if tc.vrp == "" {
			continue
		}
		if k, ok := tc.style.KernelName(tc.vrp); !ok || k != tc.kernel {
			t.Errorf("%s KernelName(%s) = %q %v, want %s", tc.style, tc.vrp, k, ok, tc.kernel)
		}
	}
	for _, bad := range []string{"GigabitEthernet0/1/1", "GigabitEthernet1/1/0", "GigabitEthernet0/01/0", "LoopBack0", "GigabitEthernet0/0/0"} {
		if k, ok := SlotStyle.KernelName(bad); ok {
			t.Errorf("KernelName(%s) = %s, want refusal", bad, k)
		}
	}
}
