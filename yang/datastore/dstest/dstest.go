// Package dstest builds data trees for the tests of the services'
// participants, from paths in a short notation: elements separated by '/',
// list keys in brackets separated by ',' ("static-routes/route[10.0.0.0,
// 255.0.0.0,192.0.2.2]/preference"); a slash inside brackets belongs to the
// key (GigabitEthernet0/3/0).
package dstest

import (
	"strings"

	"vpnos/yang/datastore"
)

// Path reads a path in the notation of the package.
func Path(s string) datastore.Path {
	var p datastore.Path
	for _, e := range splitOutsideBrackets(s) {
		name, rest, ok := strings.Cut(e, "[")
		el := datastore.Elem{Name: name}
		if ok {
			el.Keys = strings.Split(strings.TrimSuffix(rest, "]"), ",")
		}
		p = append(p, el)
	}
	return p
}

// Tree makes a tree of lines, each "path = value" for a leaf or a path
// alone for a presence node (spaces around the '=' are dropped).
func Tree(lines ...string) *datastore.Tree {
	t := datastore.NewTree()
	for _, l := range lines {
		path, val, hasVal := strings.Cut(l, "=")
		p := Path(strings.TrimSpace(path))
		if hasVal {
			t.Set(p, strings.TrimSpace(val))
		} else {
			t.SetPresence(p)
		}
	}
	return t
}

// splitOutsideBrackets splits s at the slashes outside brackets.
func splitOutsideBrackets(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case '/':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
