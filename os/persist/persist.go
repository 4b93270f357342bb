// Package persist keeps the device configuration on disk: `save` writes the
// running configuration to <config-dir>/startup.cfg, and the daemon loads it
// at boot.
//
// # Crash safety
//
// A crash (power loss, kill -9, container stop) at any moment during Save
// leaves either the old or the new configuration whole:
//
//  1. The normal path writes the new text to a temporary file in the same
//     directory, fsyncs it, renames it over startup.cfg and fsyncs the
//     directory. rename(2) is atomic, so readers see the old or the new file.
//  2. When startup.cfg is a bind mount (a lab binding one file into the
//     container), rename fails with EBUSY (or EXDEV). Then Save first writes a
//     whole copy of the new text to startup.cfg.bak with the atomic scheme
//     above, and only then rewrites startup.cfg in place (truncate, write,
//     fsync), and finally removes the copy.
//
// Load decides which file to trust. A VRP configuration as `display
// current-configuration` prints it ends with a line `return`; a file cut
// short by a crash during the in-place write lacks it. So Load takes
// startup.cfg when it ends with `return`; otherwise, when startup.cfg.bak
// exists and does end with `return`, it takes the copy and restores
// startup.cfg from it. A stale copy next to a complete startup.cfg is
// removed. A file written by hand without `return` still loads (there is no
// copy to prefer).
package persist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// File is the startup configuration file.
type File struct {
	// Path is startup.cfg; the in-place fallback keeps its copy at Path+".bak".
	Path string
	Log  *slog.Logger

	// What the last boot refused (refused.go), and how the file was read.
	refMu    sync.Mutex
	refusal  *Refusal
	encoding string
	raw      []byte // the file as Load read it
	// boot is the outcome of loading the file at boot (see Boot, Booted).
	bootMu sync.Mutex
	boot   *Report

	// Test hooks; nil means the real system call.
	rename func(oldpath, newpath string) error
	write  func(f *os.File, b []byte) (int, error)
	step   func(name string) error
}

// New returns the startup file at path.
func New(path string, log *slog.Logger) *File {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &File{Path: path, Log: log}
}

// BackupPath is where the in-place fallback keeps a whole copy.
func (f *File) BackupPath() string { return f.Path + ".bak" }

// Complete reports whether text is a whole VRP configuration: its last
// non-blank line is `return`, ended by a newline.
func Complete(text []byte) bool {
	if !bytes.HasSuffix(text, []byte("\n")) {
		return false
	}
	t := bytes.TrimRight(text, " \t\r\n")
	i := bytes.LastIndexByte(t, '\n')
	return string(bytes.TrimSpace(t[i+1:])) == "return"
}

// Save writes text as the new startup configuration. It returns after the
// data and the directory entry are on stable storage.
func (f *File) Save(ctx context.Context, text string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	data := []byte(text)
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	err := f.atomicWrite(f.Path, data)
	if err == nil {
		f.removeStaleBackup()
		f.savedOver()
		return nil
	}
	if !isMountPoint(err) {
		return fmt.Errorf("save %s: %w", f.Path, err)
	}
	f.Log.Info("startup file cannot be replaced (bind mount?); writing it in place", "path", f.Path, "err", err)
	if err := f.atomicWrite(f.BackupPath(), data); err != nil {
		return fmt.Errorf("save %s: copy: %w", f.BackupPath(), err)
	}
	if err := f.hook("backup-written"); err != nil {
		return err
	}
	if err := f.writeInPlace(f.Path, data); err != nil {
		return fmt.Errorf("save %s: %w", f.Path, err)
	}
	if err := f.hook("in-place-written"); err != nil {
		return err
	}
	f.savedOver()
	if err := os.Remove(f.BackupPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("save: remove %s: %w", f.BackupPath(), err)
	}
	return syncDir(filepath.Dir(f.BackupPath()))
}

// isMountPoint tells whether a rename failed because the target is a mount
// point (or lives on another file system).
func isMountPoint(err error) bool {
	return errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV)
}

func (f *File) hook(name string) error {
	if f.step != nil {
		return f.step(name)
	}
	return nil
}

func (f *File) doWrite(fh *os.File, b []byte) error {
	w := f.write
	if w == nil {
		w = (*os.File).Write
	}
	n, err := w(fh, b)
	if err == nil && n != len(b) {
		err = fmt.Errorf("short write (%d of %d bytes)", n, len(b))
	}
	return err
}

// atomicWrite replaces path with data through a temporary file and rename.
func (f *File) atomicWrite(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := f.doWrite(tmp, data); err != nil {
		return err
	}
	if err := f.hook("tmp-written"); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	rename := f.rename
	if rename == nil {
		rename = os.Rename
	}
	if err := rename(name, path); err != nil {
		return err
	}
	ok = true
	if err := f.hook("renamed"); err != nil {
		return err
	}
	return syncDir(dir)
}

// writeInPlace rewrites an existing file: truncate, write, fsync. A crash in
// between leaves a prefix of data, which lacks the final `return` line.
func (f *File) writeInPlace(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer fh.Close()
	if err := fh.Truncate(0); err != nil {
		return err
	}
	if err := f.hook("truncated"); err != nil {
		return err
	}
	if err := f.doWrite(fh, data); err != nil {
		return err
	}
	if err := fh.Sync(); err != nil {
		return err
	}
	return fh.Close()
}

func (f *File) removeStaleBackup() {
	if err := os.Remove(f.BackupPath()); err == nil {
		_ = syncDir(filepath.Dir(f.BackupPath()))
	}
}

// removeTemps removes the temporary files of a save that was killed before
// its rename (.startup.cfg.tmp-*, .startup.cfg.bak.tmp-*): nothing refers to
// them, and they would stay forever. Load calls it; only one daemon uses a
// configuration folder at a time (the state lock), so no save is under way.
func (f *File) removeTemps() {
	for _, target := range []string{f.Path, f.BackupPath()} {
		pat := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
		names, _ := filepath.Glob(pat)
		for _, n := range names {
			if err := os.Remove(n); err == nil {
				f.Log.Info("removed the temporary file of an interrupted save", "path", n)
			}
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// Source says where loaded text came from.
type Source string

const (
	SourceNone   Source = ""       // no startup file: factory defaults
	SourceMain   Source = "main"   // startup.cfg
	SourceBackup Source = "backup" // the in-place copy; startup.cfg was cut short
)

// Load reads the startup configuration, choosing between startup.cfg and the
// copy left by an interrupted in-place save (see the package comment). A
// missing file returns "" and SourceNone.
func (f *File) Load(ctx context.Context) (string, Source, error) {
	if err := ctx.Err(); err != nil {
		return "", SourceNone, err
	}
	f.removeTemps()
	rawMain, mainErr := os.ReadFile(f.Path)
	if mainErr != nil && !errors.Is(mainErr, fs.ErrNotExist) {
		return "", SourceNone, fmt.Errorf("load %s: %w", f.Path, mainErr)
	}
	rawBak, bakErr := os.ReadFile(f.BackupPath())
	haveBak := bakErr == nil
	mainText, mainEnc := decode(rawMain)
	main := []byte(mainText)
	bakText, bakEnc := decode(rawBak)
	bak := []byte(bakText)
	read := func(raw []byte, enc string) {
		f.refMu.Lock()
		f.raw, f.encoding = raw, enc
		f.refMu.Unlock()
	}
	switch {
	case mainErr == nil && Complete(main):
		if haveBak {
			f.Log.Info("removing stale startup copy", "path", f.BackupPath())
			f.removeStaleBackup()
		}
		read(rawMain, mainEnc)
		return string(main), SourceMain, nil
	case haveBak && Complete(bak):
		read(rawBak, bakEnc)
		f.Log.Warn("startup file is incomplete (interrupted save); loading its copy and restoring it",
			"path", f.Path, "copy", f.BackupPath())
		if err := f.writeInPlace(f.Path, bak); err != nil {
			f.Log.Error("cannot restore startup file from its copy", "err", err)
		} else if err := os.Remove(f.BackupPath()); err == nil {
			_ = syncDir(filepath.Dir(f.BackupPath()))
		}
		return string(bak), SourceBackup, nil
	case mainErr == nil:
		read(rawMain, mainEnc)
		return string(main), SourceMain, nil
	}
	read(nil, "")
	return "", SourceNone, nil
}
