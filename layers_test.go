package vpnos

import (
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// layers ranks the top-level directories: a package may import packages of
// its own layer and of the layers below it, never above. os/ (the binary,
// the supervisor, the daemon) sits on top and puts the rest together; the
// lab runner drives nodes through the CLI protocol; the CLI translates for
// the services; the services own what the datastore (yang/) holds.
var layers = map[string]int{"yang": 0, "services": 1, "cli": 2, "lab": 3, "os": 4, "image": 4}

// TestImportsRunOneWay checks the imports of every package that is built
// (test files may reach up for helpers and real servers: they are not part
// of the binary), so that nothing below os/ depends on it again. It reads
// the sources with go/build, so that the test cache sees every file.
func TestImportsRunOneWay(t *testing.T) {
	checked := 0
	err := filepath.WalkDir(".", func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); dir != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			var none *build.NoGoError
			if errors.As(err, &none) {
				return nil
			}
			return fmt.Errorf("%s: %w", dir, err)
		}
		from, ok := layerOf("vpnos/" + filepath.ToSlash(dir))
		if !ok {
			return nil
		}
		checked++
		for _, imp := range pkg.Imports {
			if to, ok := layerOf(imp); ok && layers[to] > layers[from] {
				t.Errorf("%s imports %s: %s/ may not depend on %s/", dir, imp, from, to)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d packages found", checked)
	}
}

// layerOf returns the top-level directory of a vpnos import path.
func layerOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "vpnos/")
	if !ok {
		return "", false
	}
	top, _, _ := strings.Cut(rest, "/")
	if _, known := layers[top]; !known {
		return "", false
	}
	return top, true
}

func TestLayerOf(t *testing.T) {
	for in, want := range map[string]string{"vpnos/os/mgmt": "os", "vpnos/cli": "cli", "vpnos/yang/datastore": "yang", "fmt": "", "vpnos/nowhere/x": ""} {
		if got, _ := layerOf(in); got != want {
			t.Errorf("%s: %q", in, got)
		}
	}
}
