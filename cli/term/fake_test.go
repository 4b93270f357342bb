package term

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"vpnos/cli/proto"
)

// fakeEngine is a small, deterministic stand-in for the VRP engine behind the
// management socket, so that the terminal front end can be driven through
// every kind of response (completions, help, long output, questions).
type fakeEngine struct{}

type kw struct {
	name, desc string
	sub        []*kw
	run        func(s *fakeSession, args []string) proto.Response // nil: incomplete
	param      string                                             // a value follows, with this hint
}

func (e fakeEngine) Open(ctx context.Context, req proto.Request) (proto.Session, proto.Response) {
	s := &fakeSession{sysname: "HUAWEI"}
	return s, s.resp("")
}

type fakeSession struct {
	sysname  string
	system   bool
	dirty    bool
	question string
}

func (s *fakeSession) Close() {}

func (s *fakeSession) prompt() string {
	if !s.system {
		return "<" + s.sysname + "> "
	}
	if s.dirty {
		return "[*" + s.sysname + "] "
	}
	return "[~" + s.sysname + "] "
}

func (s *fakeSession) resp(out string) proto.Response {
	return proto.Response{Output: out, Prompt: s.prompt(), ScreenLength: 24}
}

func (s *fakeSession) view() []*kw {
	display := &kw{name: "display", desc: "Display information", sub: []*kw{
		{name: "version", desc: "Display version information", run: func(s *fakeSession, _ []string) proto.Response {
			return s.resp("vpnos Versatile Routing Platform Software\n")
		}},
		{name: "current-configuration", desc: "Current configuration", run: func(s *fakeSession, _ []string) proto.Response {
			var b strings.Builder
			for i := 1; i <= 60; i++ {
				fmt.Fprintf(&b, "config-line-%02d\n", i)
			}
			return s.resp(b.String())
		}},
		{name: "interface", desc: "Interface status and configuration information", run: func(s *fakeSession, _ []string) proto.Response {
			return s.resp("Interface                   PHY   Protocol\n")
		}},
		{name: "interface-group", desc: "Interface group", run: func(s *fakeSession, _ []string) proto.Response {
			return s.resp("")
		}},
	}}
	if !s.system {
		return []*kw{display,
			{name: "save", desc: "Save current configuration", run: func(s *fakeSession, _ []string) proto.Response {
				s.question = "save"
				r := s.resp("")
				r.Question = "Warning: All configurations will be written to the device.\nAre you sure to continue?[Y/N]:"
				return r
			}},
			{name: "screen-length", desc: "Set the number of lines per screen", param: "INTEGER<0-512>", run: func(s *fakeSession, _ []string) proto.Response {
				return s.resp("")
			}},
			{name: "system-view", desc: "Enter the system view", run: func(s *fakeSession, _ []string) proto.Response {
				s.system = true
				return s.resp("")
			}},
			{name: "quit", desc: "Exit from the current mode", run: func(s *fakeSession, _ []string) proto.Response {
				r := s.resp("")
				r.Exit = true
				return r
			}},
		}
	}
	leave := func(s *fakeSession, _ []string) proto.Response {
		if s.dirty {
			s.question = "leave"
			r := s.resp("")
			r.Question = "Warning: Uncommitted configurations found, commit them before exiting? [Y(yes)/N(no)/C(cancel)]:"
			return r
		}
		s.system = false
		return s.resp("")
	}
	return []*kw{display,
		{name: "sysname", desc: "Set the host name", param: "STRING<1-246>", run: func(s *fakeSession, _ []string) proto.Response {
			s.dirty = true
			return s.resp("")
		}},
		{name: "commit", desc: "Commit configuration", run: func(s *fakeSession, _ []string) proto.Response {
			s.dirty = false
			return s.resp("")
		}},
		{name: "quit", desc: "Exit from the current mode", run: leave},
		{name: "return", desc: "Return to the user view", run: leave},
	}
}

// walk matches the complete words of fields; it returns the keywords the next
// word may be, whether the command can end here, the value hint if a value is
// expected, and the error position (-1 when fine).
func (s *fakeSession) walk(fields []string) (next []*kw, end func(*fakeSession, []string) proto.Response, param string, bad int) {
	next = s.view()
	for i, f := range fields {
		if param != "" {
			param, next = "", nil
			continue
		}
		var m []*kw
		for _, k := range next {
			if strings.HasPrefix(k.name, strings.ToLower(f)) {
				m = append(m, k)
				if k.name == strings.ToLower(f) {
					m = []*kw{k}
					break
				}
			}
		}
		if len(m) != 1 {
			return nil, nil, "", i
		}
		next, end, param = m[0].sub, m[0].run, m[0].param
		if param != "" {
			end = nil
			next = nil
			if i+1 < len(fields) {
				end = m[0].run
			}
		}
	}
	return next, end, param, -1
}

func (s *fakeSession) Handle(ctx context.Context, req proto.Request) proto.Response {
	switch req.Op {
	case proto.OpAnswer:
		q := s.question
		s.question = ""
		a := strings.ToUpper(strings.TrimSpace(req.Line))
		switch {
		case q == "save" && a == "Y":
			return s.resp("Info: Save the configuration successfully.\n")
		case q == "save":
			return s.resp("")
		case a == "Y" || a == "N":
			s.dirty, s.system = false, false
			return s.resp("")
		case a == "C":
			return s.resp("")
		}
		s.question = q
		r := s.resp("")
		r.Question = "Error: Please choose 'YES', 'NO' or 'CANCEL' first before pressing 'Enter'. [Y/N/C]:"
		return r
	case proto.OpComplete:
		fields := strings.Fields(req.Line)
		partial := ""
		if len(fields) > 0 && !strings.HasSuffix(req.Line, " ") {
			partial, fields = fields[len(fields)-1], fields[:len(fields)-1]
		}
		next, _, _, bad := s.walk(fields)
		r := s.resp("")
		if bad >= 0 {
			return r
		}
		for _, k := range next {
			if strings.HasPrefix(k.name, strings.ToLower(partial)) {
				r.Candidates = append(r.Candidates, proto.Candidate{Text: k.name, Description: k.desc})
			}
		}
		r.Replace = len(partial)
		return r
	case proto.OpHelp:
		return s.help(req.Line)
	case proto.OpExec:
		fields := strings.Fields(req.Line)
		if len(fields) == 0 {
			return s.resp("")
		}
		_, end, _, bad := s.walk(fields)
		if bad >= 0 || end == nil {
			r := s.resp(strings.Repeat(" ", len(s.prompt())) + "^\nError: Unrecognized command found at '^' position.\n")
			r.Failed = true
			return r
		}
		return end(s, fields)
	}
	return s.resp("")
}

func (s *fakeSession) help(line string) proto.Response {
	fields := strings.Fields(line)
	if line != "" && !strings.HasSuffix(line, " ") {
		// "dis?": the keywords starting with the word, two per row.
		partial := fields[len(fields)-1]
		next, _, _, bad := s.walk(fields[:len(fields)-1])
		var names []string
		for _, k := range next {
			if bad < 0 && strings.HasPrefix(k.name, strings.ToLower(partial)) {
				names = append(names, k.name)
			}
		}
		sort.Strings(names)
		var b strings.Builder
		for i, n := range names {
			if i%2 == 0 {
				fmt.Fprintf(&b, "  %-40s", n)
			} else {
				fmt.Fprintf(&b, "%s\n", n)
			}
		}
		if len(names)%2 == 1 {
			b.WriteString("\n")
		}
		return s.resp(b.String())
	}
	next, end, param, bad := s.walk(fields)
	if bad >= 0 {
		return s.resp("Error: Unrecognized command found at '^' position.\n")
	}
	var b strings.Builder
	for _, k := range next {
		fmt.Fprintf(&b, "  %-24s%s\n", k.name, k.desc)
	}
	if param != "" {
		fmt.Fprintf(&b, "  %-24s%s\n", param, "Value")
	}
	if end != nil {
		b.WriteString("  <cr>\n")
	}
	return s.resp(b.String())
}
