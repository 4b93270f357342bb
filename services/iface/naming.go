package iface

import (
	"fmt"
	"strconv"
	"strings"
)

// Naming maps kernel names (ethN) to VRP names.
type Naming string

const (
	// SlotStyle maps ethN to GigabitEthernet0/N/0 (NE40E style, the default).
	SlotStyle Naming = "slot"
	// PortStyle maps ethN to GigabitEthernet0/0/N (AR style).
	PortStyle Naming = "port"
)

// ManagementName is the VRP name of eth0.
const ManagementName = "MEth0/0/0"

// VRPName returns the VRP name of a kernel interface, or "" if it has none
// (names other than ethN are not router ports).
func (n Naming) VRPName(kernel string) string {
	num, ok := ethNumber(kernel)
	if !ok {
		return ""
	}
	if num == 0 {
		return ManagementName
	}
	if n == PortStyle {
		return fmt.Sprintf("GigabitEthernet0/0/%d", num)
	}
	return fmt.Sprintf("GigabitEthernet0/%d/0", num)
}

// KernelName returns the kernel name of a canonical VRP port name.
func (n Naming) KernelName(vrp string) (string, bool) {
	rest, ok := strings.CutPrefix(vrp, "GigabitEthernet")
	if !ok {
		if vrp == ManagementName {
			return "eth0", true
		}
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] != "0" {
		return "", false
	}
	var numStr string
	if n == PortStyle {
		if parts[1] != "0" {
			return "", false
		}
		numStr = parts[2]
	} else {
		if parts[2] != "0" {
			return "", false
		}
		numStr = parts[1]
	}
	num, err := strconv.Atoi(numStr)
	if err != nil || num < 1 || strconv.Itoa(num) != numStr {
		return "", false
	}
	return "eth" + numStr, true
}

func ethNumber(kernel string) (int, bool) {
	s, ok := strings.CutPrefix(kernel, "eth")
	if !ok || s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}
