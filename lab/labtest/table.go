package labtest

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Row is one table row (or the wanted part of one): column header -> cell.
type Row map[string]string

func (r Row) String() string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %q", k, r[k])
	}
	b.WriteByte('}')
	return b.String()
}

type token struct {
	text       string
	start, end int
}

func tokens(line string) []token {
	var out []token
	for i := 0; i < len(line); {
		if line[i] == ' ' || line[i] == '\t' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		out = append(out, token{line[i:j], i, j})
		i = j
	}
	return out
}

// ParseTable finds the table whose header line starts with the column name
// first (for example "Interface" in `display interface brief`) and returns its
// rows, up to the first blank line after a row. A row with as many words as the header
// has columns is split on blanks; otherwise each word goes to the column
// whose header span holds the word's last character (VRP aligns text left and
// numbers right under their header), and words in one column are joined.
func ParseTable(out, first string) ([]Row, error) {
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	h := -1
	var cols []token
	for i, l := range lines {
		tk := tokens(l)
		if len(tk) > 0 && tk[0].text == first && tk[0].start == 0 {
			h, cols = i, tk
			break
		}
	}
	if h < 0 {
		return nil, fmt.Errorf("no table with a header starting %q in:\n%s", first, out)
	}
	var rows []Row
	for _, l := range lines[h+1:] {
		if strings.TrimSpace(l) == "" {
			if len(rows) == 0 {
				continue // VRP leaves a blank line under some headers
			}
			break
		}
		if strings.Trim(strings.TrimSpace(l), "-= ") == "" {
			continue // a separator line
		}
		tk := tokens(l)
		row := Row{}
		if len(tk) == len(cols) {
			for i, c := range cols {
				row[c.text] = tk[i].text
			}
		} else {
			for _, w := range tk {
				ci := 0
				for i, c := range cols {
					if w.end-1 >= c.start {
						ci = i
					}
				}
				if v, ok := row[cols[ci].text]; ok {
					row[cols[ci].text] = v + " " + w.text
				} else {
					row[cols[ci].text] = w.text
				}
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// HasRows checks that every wanted row matches some row of the table: each
// of its cells equals the row's cell (a cell written "~REGEXP" must match
// the regexp instead). Rows and columns not mentioned are ignored.
func HasRows(rows []Row, want ...Row) error {
	var missing []string
	for _, w := range want {
		found := false
		for _, r := range rows {
			if rowMatches(r, w) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, w.String())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "missing rows %s; the table has:", strings.Join(missing, ", "))
	for _, r := range rows {
		b.WriteString("\n  " + r.String())
	}
	return fmt.Errorf("%s", b.String())
}

func rowMatches(r, w Row) bool {
	for k, v := range w {
		got, ok := r[k]
		if !ok {
			return false
		}
		if strings.HasPrefix(v, "~") {
			re, err := regexp.Compile(v[1:])
			if err != nil || !re.MatchString(got) {
				return false
			}
			continue
		}
		if got != v {
			return false
		}
	}
	return true
}

// Matcher decides whether a command output is the one awaited; it returns nil
// on a match, or why not.
type Matcher interface {
	Match(out string) error
}

// MatchFunc adapts a function.
type MatchFunc func(out string) error

// Match implements Matcher.
func (f MatchFunc) Match(out string) error { return f(out) }

// Contains matches output holding s.
func Contains(s string) Matcher {
	return MatchFunc(func(out string) error {
		if strings.Contains(out, s) {
			return nil
		}
		return fmt.Errorf("output does not contain %q", s)
	})
}

// Regexp matches output matching expr (multi-line mode).
func Regexp(expr string) Matcher {
	re := regexp.MustCompile("(?m)" + expr)
	return MatchFunc(func(out string) error {
		if re.MatchString(out) {
			return nil
		}
		return fmt.Errorf("output does not match /%s/", expr)
	})
}

// Rows matches output holding a table (header starting with first) that has
// the wanted rows (see HasRows).
func Rows(first string, want ...Row) Matcher {
	return MatchFunc(func(out string) error {
		rows, err := ParseTable(out, first)
		if err != nil {
			return err
		}
		return HasRows(rows, want...)
	})
}

// All matches when every matcher does.
func All(ms ...Matcher) Matcher {
	return MatchFunc(func(out string) error {
		for _, m := range ms {
			if err := m.Match(out); err != nil {
				return err
			}
		}
		return nil
	})
}
