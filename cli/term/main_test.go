package term

import (
	"os"
	"testing"

	"vpnos/lab/labtest"
)

// TestMain removes the vpnos binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	labtest.RemoveBinary()
	os.Exit(code)
}
