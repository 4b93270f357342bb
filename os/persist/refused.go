package persist

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf16"
)

// Lines of the startup file that the configuration engine refused at boot
// are not in the running configuration, so the next `save` would write a
// file without them. Nothing is lost silently:
//
//   - Boot keeps the file as it was in startup.cfg.refused (RefusedPath)
//     when it refused a line; an older copy that differs is kept beside it
//     under a name with its time (startup.cfg.refused-20261203-101500).
//   - SaveWarning is the warning `save` prints before asking to continue,
//     until a save has replaced the file.
//   - Refused and Notes tell display startup about them.
//
// A file in UTF-16 (a copy saved by a Windows editor) is read as such, and
// a UTF-8 byte order mark is skipped; save writes UTF-8.

// Refusal is what the last boot refused.
type Refusal struct {
	// Lines are the refused lines, in file order.
	Lines []LineError
	// Copy is the file as it was at boot (RefusedPath), "" if it could not
	// be written.
	Copy string
	// SavedOver: a save has since replaced the startup file, so the lines
	// are only in Copy.
	SavedOver bool
}

// RefusedPath is where Boot keeps the startup file when it refused lines.
func (f *File) RefusedPath() string { return f.Path + ".refused" }

// Refused returns the lines the last boot refused; ok is false when it
// refused none.
func (f *File) Refused() (r Refusal, ok bool) {
	f.refMu.Lock()
	defer f.refMu.Unlock()
	if f.refusal == nil {
		return Refusal{}, false
	}
	r = *f.refusal
	r.Lines = append([]LineError(nil), r.Lines...)
	return r, true
}

// Encoding names the encoding the startup file was read in when it was not
// plain UTF-8 ("UTF-16LE", "UTF-16BE", "UTF-8 with a byte order mark"),
// else "".
func (f *File) Encoding() string {
	f.refMu.Lock()
	defer f.refMu.Unlock()
	return f.encoding
}

// SaveWarning is the warning `save` gives before it replaces a startup
// file whose lines were refused at boot ("" when there is nothing to lose).
func (f *File) SaveWarning() string {
	r, ok := f.Refused()
	if !ok || r.SavedOver {
		return ""
	}
	kept := "no copy of it could be kept"
	if r.Copy != "" {
		kept = "the file as it was is kept in " + r.Copy
	}
	return fmt.Sprintf("Warning: %d %s of %s %s refused when the device started and %s not in the running configuration; saving drops %s from the file (%s).",
		len(r.Lines), plural(len(r.Lines), "line", "lines"), f.Path, plural(len(r.Lines), "was", "were"), plural(len(r.Lines), "is", "are"),
		plural(len(r.Lines), "it", "them"), kept)
}

// maxNoteLines is how many refused lines Notes lists one by one.
const maxNoteLines = 20

// Notes are the lines display startup prints about the startup file: its
// encoding when it was not UTF-8, and the lines refused at boot (the first
// maxNoteLines of them, clipped) with where the file is kept.
func (f *File) Notes() []string {
	var out []string
	if enc := f.Encoding(); enc != "" {
		out = append(out, fmt.Sprintf("Info: The startup configuration file was read as %s; save writes UTF-8.", enc))
	}
	r, ok := f.Refused()
	if !ok {
		return out
	}
	where := ""
	if r.Copy != "" {
		where = fmt.Sprintf(" (the file as it was is kept in %s)", r.Copy)
	}
	out = append(out, fmt.Sprintf("Warning: %d %s of the startup configuration file %s refused at startup%s:",
		len(r.Lines), plural(len(r.Lines), "line", "lines"), plural(len(r.Lines), "was", "were"), where))
	for i, le := range r.Lines {
		if i == maxNoteLines {
			out = append(out, fmt.Sprintf("  ... and %d more", len(r.Lines)-i))
			break
		}
		out = append(out, fmt.Sprintf("  line %d: %s", le.Line, clip(le.Text)))
		out = append(out, "    "+clip(le.Message))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// keepRefused records what Boot refused and keeps the file (raw, as it was
// on disk) in RefusedPath.
func (f *File) keepRefused(raw []byte, errs []LineError) {
	r := &Refusal{Lines: append([]LineError(nil), errs...)}
	if err := f.writeCopy(raw); err != nil {
		f.Log.Error("cannot keep a copy of the startup file whose lines were refused", "path", f.RefusedPath(), "err", err)
	} else {
		r.Copy = f.RefusedPath()
		f.Log.Warn("startup file kept beside it: its refused lines are not in the running configuration", "copy", r.Copy, "refused", len(errs))
	}
	f.refMu.Lock()
	f.refusal = r
	f.refMu.Unlock()
}

func (f *File) writeCopy(raw []byte) error {
	path := f.RefusedPath()
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, raw):
		return nil
	case err == nil:
		// An older copy holds other lines: keep it under its time.
		st, serr := os.Stat(path)
		at := time.Now()
		if serr == nil {
			at = st.ModTime()
		}
		older := path + "-" + at.UTC().Format("20060102-150405")
		if err := os.Rename(path, older); err != nil {
			return err
		}
		f.Log.Info("older copy of a refused startup file kept", "path", older)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return f.atomicWrite(path, raw)
}

// savedOver notes that a save replaced the startup file.
func (f *File) savedOver() {
	f.refMu.Lock()
	defer f.refMu.Unlock()
	if f.refusal != nil {
		f.refusal.SavedOver = true
	}
}

// decode turns the bytes of a startup file into text: UTF-8 (a byte order
// mark skipped) or UTF-16 (with a byte order mark, or without one when
// every other byte is zero, as ASCII text in UTF-16 is). It names the
// encoding when it was not plain UTF-8.
func decode(b []byte) (string, string) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return string(b[3:]), "UTF-8 with a byte order mark"
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return decodeUTF16(b[2:], false), "UTF-16LE"
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return decodeUTF16(b[2:], true), "UTF-16BE"
	}
	if bytes.IndexByte(b, 0) >= 0 {
		var zeroEven, zeroOdd int
		for i, c := range b {
			if c == 0 {
				if i%2 == 0 {
					zeroEven++
				} else {
					zeroOdd++
				}
			}
		}
		half := len(b) / 2
		switch {
		case half > 0 && zeroOdd*10 >= half*9 && zeroEven*10 < half:
			return decodeUTF16(b, false), "UTF-16LE"
		case half > 0 && zeroEven*10 >= half*9 && zeroOdd*10 < half:
			return decodeUTF16(b, true), "UTF-16BE"
		}
	}
	return string(b), ""
}

func decodeUTF16(b []byte, bigEndian bool) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	var sb strings.Builder
	for _, r := range utf16.Decode(u) {
		sb.WriteRune(r)
	}
	return sb.String()
}
