package persist

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"unicode/utf8"
)

// LineError is one startup line the configuration engine refused.
type LineError struct {
	Line    int    // 1-based line number in the startup file
	Text    string // the line as written
	Message string // the engine's error, e.g. "Error: Wrong parameter found at '^' position."
}

func (e LineError) Error() string {
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Text, e.Message)
}

// ReplayFunc applies startup text to the running configuration, line by
// line, and reports the lines it could not take; the rest is applied. The
// daemon binds it to the VRP engine's Replay.
type ReplayFunc func(ctx context.Context, text string) ([]LineError, error)

// Report is the outcome of loading the startup configuration at boot.
type Report struct {
	Source Source
	Lines  int         // lines in the file
	Errors []LineError // refused lines
}

// Boot loads the startup file into the engine. Refused lines are logged with
// their line numbers and returned; they do not stop the rest from loading.
// An error is returned only when nothing could be loaded.
func Boot(ctx context.Context, f *File, replay ReplayFunc, log *slog.Logger) (rep Report, err error) {
	defer func() {
		f.bootMu.Lock()
		f.boot = &rep
		f.bootMu.Unlock()
	}()
	text, src, err := f.Load(ctx)
	if err != nil {
		return Report{}, err
	}
	rep = Report{Source: src}
	if src == SourceNone {
		log.Info("no startup configuration; starting with defaults", "path", f.Path)
		return rep, nil
	}
	rep.Lines = countLines(text)
	if enc := f.Encoding(); enc != "" {
		log.Warn("startup configuration read as "+enc+"; save writes UTF-8", "path", f.Path)
	}
	if !Complete([]byte(text)) {
		log.Warn("startup configuration does not end with 'return'; it may be incomplete", "path", f.Path)
	}
	lineErrs, err := replay(ctx, text)
	if err != nil {
		return rep, fmt.Errorf("load %s: %w", f.Path, err)
	}
	rep.Errors = lineErrs
	if len(lineErrs) > 0 {
		f.refMu.Lock()
		raw := f.raw
		f.refMu.Unlock()
		f.keepRefused(raw, lineErrs)
	}
	for i, le := range lineErrs {
		if i == MaxLoggedLines {
			log.Error("more startup configuration lines refused; not logged one by one", "path", f.Path, "count", len(lineErrs)-i)
			break
		}
		log.Error("startup configuration line refused", "path", f.Path, "line", le.Line, "text", clip(le.Text), "err", clip(le.Message))
	}
	log.Info("startup configuration loaded", "path", f.Path, "source", string(src), "lines", rep.Lines, "refused", len(lineErrs))
	return rep, nil
}

// Booted returns the outcome of loading the file at boot; ok is false
// before Boot ran.
func (f *File) Booted() (Report, bool) {
	f.bootMu.Lock()
	defer f.bootMu.Unlock()
	if f.boot == nil {
		return Report{}, false
	}
	return *f.boot, true
}

// MaxLoggedLines is how many refused startup lines are logged one by one; a
// file of junk must not fill the disk with its own log.
const MaxLoggedLines = 100

// maxLoggedText is how much of a refused line is logged.
const maxLoggedText = 200

// clip shortens text for the log, saying how long it was.
func clip(s string) string {
	if len(s) <= maxLoggedText {
		return s
	}
	cut := maxLoggedText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
}

// Service is the daemon service that loads the startup configuration once,
// at boot (see registry.RunFunc): it replays the file, then reports ready so
// that the services depending on it (the management socket) start with the
// configuration in place. A file that cannot be read is logged and the
// daemon starts with an empty configuration.
func Service(f *File, replay ReplayFunc, log *slog.Logger) func(ctx context.Context, ready func()) error {
	var once sync.Once
	return func(ctx context.Context, ready func()) error {
		once.Do(func() {
			if _, err := Boot(ctx, f, replay, log); err != nil {
				log.Error("startup configuration not loaded", "err", err)
			}
		})
		ready()
		<-ctx.Done()
		return nil
	}
}

func countLines(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			n++
		}
	}
	if len(s) > 0 && s[len(s)-1] != '\n' {
		n++
	}
	return n
}
