package cli

import (
	"fmt"
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

// configIfTypes are the interface types a configuration command takes
// (the management port MEth is not configured).
var configIfTypes = []string{"GigabitEthernet", "LoopBack", "NULL"}

// ifTypeRows are the '?' rows of an interface parameter: its types.
func ifTypeRows(types []string) []hintRow {
	rows := make([]hintRow, len(types))
	for i, t := range types {
		rows[i] = hintRow{t, t + " interface"}
	}
	return rows
}

// ifMore answers '?' after an interface type typed alone ("interface
// GigabitEthernet ?"): the numbers that may follow.
func ifMore(types []string) func(s *session, toks []token) []hintRow {
	return func(s *session, toks []token) []hintRow {
		if len(toks) != 1 || strings.ContainsAny(toks[0].text, "0123456789") {
			return nil
		}
		typ := ifType(toks[0].text)
		for _, t := range types {
			if t == typ {
				return []hintRow{{s.ifNumbers(typ), typ + " interface number"}}
			}
		}
		return nil
	}
}

// ifNumbers is the hint of an interface type's numbers: for ports, the
// ranges the present ones span (<0-0>/<1-3>/<0-0>).
func (s *session) ifNumbers(typ string) string {
	switch typ {
	case "LoopBack":
		return "<0-1023>"
	case "NULL":
		return "<0-0>"
	case "MEth":
		return "<0-0>/<0-0>/<0-0>"
	}
	lo, hi := [3]int{63, 63, 63}, [3]int{}
	found := false
	if s.e.deps.Ports != nil {
		for _, p := range s.e.deps.Ports() {
			num, ok := strings.CutPrefix(p.Name, "GigabitEthernet")
			parts := strings.Split(num, "/")
			if !ok || p.Mgmt || len(parts) != 3 {
				continue
			}
			for i, x := range parts {
				n, err := strconv.Atoi(x)
				if err != nil {
					continue
				}
				lo[i], hi[i] = min(lo[i], n), max(hi[i], n)
				found = true
			}
		}
	}
	if !found {
		return "<0-63>/<0-63>/<0-63>"
	}
	return fmt.Sprintf("<%d-%d>/<%d-%d>/<%d-%d>", lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])
}

// physicalPort reports whether the interface name is a physical port
// (neither a LoopBack nor a sub-interface): it cannot be deleted.
func physicalPort(name string) bool {
	return !strings.HasPrefix(name, "LoopBack") && !strings.Contains(name, ".")
}
