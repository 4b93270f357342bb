package schema

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// typeChecks complete the typedefs of vpnos-types whose values a pattern
// cannot check on its own (numeric limits inside a string), as type
// plugins do in libyang. They run after the typedef's own restrictions and
// return the value's canonical form.
var typeChecks = map[string]func(string) (string, error){
	"route-distinguisher": CanonicalRD,
	"route-target":        CanonicalRD,
	"as-number":           CanonicalASN,
}

// CheckASN checks an AS number: 1-4294967295, or x.y with x and y 0-65535
// and not 0.0 (asdot).
func CheckASN(as string) error {
	_, err := CanonicalASN(as)
	return err
}

// CanonicalASN checks an AS number (see CheckASN) and returns it without
// leading zeros (asdot stays asdot).
func CanonicalASN(as string) (string, error) {
	bad := fmt.Errorf("the value %s is not a valid AS number", as)
	if x, y, ok := strings.Cut(as, "."); ok {
		a, err1 := parseUint(x, 16)
		b, err2 := parseUint(y, 16)
		if err1 != nil || err2 != nil || (a == 0 && b == 0) {
			return "", bad
		}
		return strconv.FormatUint(a, 10) + "." + strconv.FormatUint(b, 10), nil
	}
	n, err := parseUint(as, 32)
	if err != nil || n == 0 {
		return "", bad
	}
	return strconv.FormatUint(n, 10), nil
}

// CheckRD checks a route distinguisher or route target: ASN2:NN (NN up to
// 4294967295), ASN4:NN (ASN up to 4294967295, NN up to 65535), x.y:NN (the
// dotted 4-byte AS) or IPv4:NN (NN up to 65535); 0:0, 0.0:0 and 0.0.0.0:0
// are not valid.
func CheckRD(rd string) error {
	_, err := CanonicalRD(rd)
	return err
}

// CanonicalRD checks a route distinguisher or route target (see CheckRD)
// and returns it with its numbers written without leading zeros, so that
// one value has one spelling: 0100:01, 100:0001 and 00100:1 are all
// 100:1. The address of the IPv4 form has no other spelling (the pattern
// of an IPv4 address takes no leading zeros).
func CanonicalRD(rd string) (string, error) {
	admin, num, ok := strings.Cut(rd, ":")
	bad := fmt.Errorf("the value %s is not a valid route distinguisher or route target", rd)
	if !ok || admin == "" || num == "" {
		return "", bad
	}
	n, err := parseUint(num, 32)
	if err != nil {
		return "", bad
	}
	nn := strconv.FormatUint(n, 10)
	switch strings.Count(admin, ".") {
	case 0:
		a, err := parseUint(admin, 32)
		if err != nil || (a > 65535 && n > 65535) || (a == 0 && n == 0) {
			return "", bad
		}
		return strconv.FormatUint(a, 10) + ":" + nn, nil
	case 1:
		x, y, _ := strings.Cut(admin, ".")
		a, err1 := parseUint(x, 16)
		b, err2 := parseUint(y, 16)
		if err1 != nil || err2 != nil || n > 65535 || (a == 0 && b == 0 && n == 0) {
			return "", bad
		}
		return strconv.FormatUint(a, 10) + "." + strconv.FormatUint(b, 10) + ":" + nn, nil
	case 3:
		ip, err := netip.ParseAddr(admin)
		if err != nil || !ip.Is4() || n > 65535 || (ip.IsUnspecified() && n == 0) {
			return "", bad
		}
		return ip.String() + ":" + nn, nil
	}
	return "", bad
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
	if s.freeText == nil {
		return fmt.Errorf("no typedef %s in vpnos-types", FreeText)
	}
	_, err := s.checkType(s.freeText, v)
	return err
}
