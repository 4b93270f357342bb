// Package modules embeds the YANG modules of vpnos. Every configuration node
// lives in one of them; the CLI grammar, help and rendering are derived from
// them together with the vpnos-cli-extensions statements.
package modules

import "embed"

// FS holds every *.yang file of this directory.
//
//go:embed *.yang
var FS embed.FS
