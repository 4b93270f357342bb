package schema

import (
	"fmt"
	"net/netip"
	"strings"
)

// typeChecks complete the typedefs of vpnos-types whose values a pattern
// cannot check on its own (numeric limits inside a string), as type
// plugins do in libyang. They run after the typedef's own restrictions.
var typeChecks = map[string]func(string) error{
	"route-distinguisher": CheckRD,
	"route-target":        CheckRD,
}

// CheckRD checks a route distinguisher or route target: ASN2:NN (NN up to
// 4294967295), ASN4:NN (ASN up to 4294967295, NN up to 65535), x.y:NN (the
// dotted 4-byte AS) or IPv4:NN (NN up to 65535); 0:0 is not valid.
func CheckRD(rd string) error {
	admin, num, ok := strings.Cut(rd, ":")
	bad := fmt.Errorf("the value %s is not a valid route distinguisher or route target", rd)
	if !ok || admin == "" || num == "" {
		return bad
	}
	n, err := parseUint(num, 32)
	if err != nil {
		return bad
	}
	switch strings.Count(admin, ".") {
	case 0:
		a, err := parseUint(admin, 32)
		if err != nil || (a > 65535 && n > 65535) || (a == 0 && n == 0) {
			return bad
		}
	case 1:
		x, y, _ := strings.Cut(admin, ".")
		a, err1 := parseUint(x, 16)
		b, err2 := parseUint(y, 16)
		if err1 != nil || err2 != nil || n > 65535 || (a == 0 && b == 0 && n == 0) {
			return bad
		}
	case 3:
		if _, err := netip.ParseAddr(admin); err != nil || n > 65535 {
			return bad
		}
	default:
		return bad
	}
	return nil
}

func parseUint(s string, bits int) (uint64, error) {
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("bad number")
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number")
		}
		v = v*10 + uint64(c-'0')
	}
	if v>>bits != 0 {
		return 0, fmt.Errorf("out of range")
	}
	return v, nil
}

// FreeText is the typedef of free text in vpnos-types (descriptions, the
// host name).
const FreeText = "free-text"

// CheckText checks a value that is free text without being a leaf (a commit
// description) against the free-text typedef of vpnos-types, so that the
// one definition of free text holds for it too.
func (s *Schema) CheckText(v string) error {
	m, ok := s.Modules.Modules["vpnos-types"]
	if !ok {
		return fmt.Errorf("no module vpnos-types")
	}
	for _, td := range m.Typedef {
		if td.Name == FreeText && td.YangType != nil {
			_, err := s.checkType(td.YangType, v)
			return err
		}
	}
	return fmt.Errorf("no typedef %s", FreeText)
}
