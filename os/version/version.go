// Package version holds build information, set with -ldflags -X.
package version

import "runtime/debug"

var (
	// Version is the release, e.g. "0.1.0".
	Version = "0.1.0-dev"
	// Commit is the source revision; filled from the build info when not set.
	Commit = ""
)

// Revision returns the commit, from -ldflags or the Go build info.
func Revision() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return "unknown"
}
