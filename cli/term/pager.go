package term

import (
	"io"
	"strings"
)

// MoreText is the pager prompt.
const MoreText = "  ---- More ----"

// keySource yields keys; ok is false when the terminal is gone.
type keySource interface {
	readKey() ([]byte, bool)
}

// pageLength is the number of output lines per page: the session's screen
// length, but never more than fits above the More line.
func pageLength(screenLength, termRows int) int {
	if screenLength <= 0 {
		return 0
	}
	if termRows > 1 && termRows-1 < screenLength {
		return termRows - 1
	}
	return screenLength
}

// page writes text, stopping every n lines at `  ---- More ----`: Space shows
// the next page, Enter the next line, Ctrl+C or q stops. n <= 0 writes all.
// It reports whether the whole text was shown.
func page(w io.Writer, keys keySource, text string, n int) bool {
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if n <= 0 || len(lines) <= n {
		io.WriteString(w, text)
		return true
	}
	io.WriteString(w, strings.Join(lines[:n], ""))
	i := n
	for i < len(lines) {
		io.WriteString(w, MoreText)
		step := 0
		for step == 0 {
			k, ok := keys.readKey()
			if !ok {
				io.WriteString(w, "\n")
				return false
			}
			switch {
			case string(k) == " ":
				step = n
			case string(k) == "\r" || string(k) == "\n":
				step = 1
			case len(k) == 1 && (k[0] == ctrlC || k[0] == 'q' || k[0] == 'Q'):
				step = -1
			}
		}
		// Erase the More prompt, then go on where it stood.
		io.WriteString(w, "\r"+strings.Repeat(" ", len(MoreText))+"\r")
		if step < 0 {
			return false
		}
		end := min(i+step, len(lines))
		io.WriteString(w, strings.Join(lines[i:end], ""))
		i = end
	}
	return true
}
