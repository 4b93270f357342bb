package cli

import (
	"strconv"
	"strings"
)

// Interface types accepted on input, in canonical spelling.
var ifTypes = []string{"GigabitEthernet", "LoopBack", "NULL", "MEth"}

// parseIfName reads an interface name from one token ("g0/1/0",
// "LoopBack0") or two ("loopback 0"). It returns the canonical name and the
// number of tokens used (0: not an interface name).
func parseIfName(toks []token) (string, int) {
	if len(toks) == 0 {
		return "", 0
	}
	t := toks[0].text
	i := 0
	for i < len(t) && (t[i] < '0' || t[i] > '9') {
		i++
	}
	letters, num := t[:i], t[i:]
	used := 1
	if num == "" {
		if len(toks) < 2 {
			return "", 0
		}
		num = toks[1].text
		used = 2
	}
	typ := ifType(letters)
	if typ == "" {
		return "", 0
	}
	if !validIfNumber(typ, num) {
		return "", 0
	}
	return typ + num, used
}

// IsOfType tells whether the interface name (canonical) is of type typ
// (GigabitEthernet, LoopBack ...).
func IsOfType(name, typ string) bool {
	rest, ok := strings.CutPrefix(name, typ)
	return ok && rest != "" && rest[0] >= '0' && rest[0] <= '9'
}

func ifType(letters string) string {
	low := strings.ToLower(letters)
	if low == "" {
		return ""
	}
	if low == "ge" {
		return "GigabitEthernet"
	}
	found := ""
	for _, t := range ifTypes {
		if strings.HasPrefix(strings.ToLower(t), low) {
			if found != "" {
				return ""
			}
			found = t
		}
	}
	return found
}

func validIfNumber(typ, num string) bool {
	switch typ {
	case "GigabitEthernet":
		main, sub, hasSub := strings.Cut(num, ".")
		parts := strings.Split(main, "/")
		if len(parts) != 3 {
			return false
		}
		for _, p := range parts {
			if !isSmallNumber(p, 0, 63) {
				return false
			}
		}
		return !hasSub || isSmallNumber(sub, 1, 4094)
	case "LoopBack":
		return isSmallNumber(num, 0, 1023)
	case "NULL":
		return num == "0"
	case "MEth":
		return num == "0/0/0"
	}
	return false
}

func isSmallNumber(s string, lo, hi int) bool {
	n, err := strconv.Atoi(s)
	return err == nil && strconv.Itoa(n) == s && n >= lo && n <= hi
}
