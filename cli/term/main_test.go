package term

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the vpnos binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
