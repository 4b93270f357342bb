package cli

import (
	"errors"
	"io/fs"
	"strings"
)

// StartupInfo is what display startup shows about the startup
// configuration; the daemon fills it in (Engine.Startup).
type StartupInfo struct {
	// Software is the running system software (the vpnos binary and its
	// version).
	Software string
	// File is the startup configuration file: loaded at boot, written by
	// save.
	File string
	// Loaded tells whether File was loaded at this boot (false: it was not
	// there, the device started with an empty configuration).
	Loaded bool
	// Notes are printed after the fields, one per line, as they are
	// (warnings about the startup file: lines it held that were refused).
	Notes []string
}

func (e *Engine) startupCommands() []gospec {
	return []gospec{
		{views: "any", syntax: "display startup", display: true, help: map[string]string{
			"startup": "The system software and configuration file used at startup"},
			run: (*session).runDisplayStartup},
		{views: "any", syntax: "display saved-configuration", display: true, help: map[string]string{
			"saved-configuration": "The configuration saved for the next startup"},
			run: (*session).runDisplaySaved},
	}
}

func (s *session) runDisplayStartup(_ *matchResult) *result {
	r := &result{}
	if s.e.Startup == nil {
		r.printf("Error: The startup information is not available.\n")
		r.failed = true
		return r
	}
	si := s.e.Startup()
	booted := "NULL"
	if si.Loaded {
		booted = si.File
	}
	r.printf("MainBoard:\n")
	for _, f := range [][2]string{
		{"Configured startup system software", si.Software},
		{"Startup system software", si.Software},
		{"Next startup system software", si.Software},
		{"Startup saved-configuration file", booted},
		{"Next startup saved-configuration file", si.File},
	} {
		r.printf("  %-40s%s\n", f[0]+":", dash(f[1]))
	}
	for _, n := range si.Notes {
		r.printf("%s\n", n)
	}
	return r
}

func (s *session) runDisplaySaved(_ *matchResult) *result {
	r := &result{}
	if s.e.ReadFile == nil {
		r.printf("Error: The saved configuration is not available.\n")
		r.failed = true
		return r
	}
	text, err := s.e.ReadFile(s.ctx(), "")
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && strings.TrimSpace(text) == "":
		r.printf("Info: No configuration is saved; the device starts with an empty configuration.\n")
		return r
	case err != nil:
		r.printf("Error: Cannot read the saved configuration: %s.\n", err)
		r.failed = true
		return r
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	r.out.WriteString(text)
	if !strings.HasSuffix(text, "\n") {
		r.out.WriteByte('\n')
	}
	return r
}
