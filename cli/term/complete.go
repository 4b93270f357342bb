package term

import (
	"strings"

	"vpnos/cli/proto"
)

// tabber implements VRP Tab completion on the text before the cursor:
//
//   - one match: the partial word is completed, followed by a space;
//   - several: the first Tab completes their common prefix (when that adds
//     anything), and every further Tab replaces the word with the next
//     candidate in turn, with no trailing space;
//   - none: the line stays as it is.
//
// A Tab counts as "further" while the text before the cursor is still what
// the previous Tab left there.
type tabber struct {
	ask func(line string) (proto.Response, error)

	cands  []string // candidates of the cycle in progress
	idx    int      // candidate shown; -1 while the common prefix is shown
	base   string   // text before the partial word
	expect string   // text before the cursor after the previous Tab
}

// tab returns the new text before the cursor.
func (t *tabber) tab(before string) (string, error) {
	if t.cands != nil && before == t.expect {
		t.idx = (t.idx + 1) % len(t.cands)
		t.expect = t.base + t.cands[t.idx]
		return t.expect, nil
	}
	t.cands = nil
	resp, err := t.ask(before)
	if err != nil {
		return before, err
	}
	var cands []string
	seen := map[string]bool{}
	for _, c := range resp.Candidates {
		// Parameter hints (<cr>, <1-4294967295>, X.X.X.X) are help, not words.
		if c.Text == "" || strings.HasPrefix(c.Text, "<") || strings.ContainsAny(c.Text, " \t") || seen[c.Text] {
			continue
		}
		seen[c.Text] = true
		cands = append(cands, c.Text)
	}
	replace := resp.Replace
	if replace < 0 || replace > len(before) {
		replace = 0
	}
	base, partial := before[:len(before)-replace], before[len(before)-replace:]
	switch len(cands) {
	case 0:
		return before, nil
	case 1:
		return base + cands[0] + " ", nil
	}
	t.cands, t.base = cands, base
	if p := commonPrefix(cands); len(p) > len(partial) {
		t.idx = -1
		t.expect = base + p
		return t.expect, nil
	}
	t.idx = 0
	t.expect = base + cands[0]
	return t.expect, nil
}

// commonPrefix is the longest prefix shared by all words, compared without
// case (keywords are case-insensitive), spelled as in the first word.
func commonPrefix(words []string) string {
	p := words[0]
	for _, w := range words[1:] {
		n := 0
		for n < len(p) && n < len(w) && lower(p[n]) == lower(w[n]) {
			n++
		}
		p = p[:n]
	}
	return p
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
