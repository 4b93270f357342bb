package cli

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"vpnos/services/system"
	"vpnos/yang/datastore"
)

const (
	uncommittedQ = "Warning: Uncommitted configurations found, commit them before exiting? [Y(yes)/N(no)/C(cancel)]:"
	enterAloneQ  = "Error: Please choose 'YES', 'NO' or 'CANCEL' first before pressing 'Enter'. [Y/N/C]:"
)

func (e *Engine) builtins() []gospec {
	specs := append(e.commitLogCommands(), e.startupCommands()...)
	specs = append(specs, e.userCommands()...)
	return append(specs, []gospec{
		{views: "user", syntax: "system-view [immediately]", help: map[string]string{
			"system-view": "Enter the system view", "immediately": "Commit each command at once"},
			run: (*session).runSystemView},
		{views: "user", syntax: "quit", help: map[string]string{"quit": "Exit from the current mode"},
			run: func(s *session, _ *matchResult) *result { return &result{exit: true} }},
		{views: "user", syntax: "save", help: map[string]string{"save": "Save the current configuration"},
			run: (*session).runSave},
		{views: "user", syntax: "screen-length {lines:int<0-512>} temporary", help: map[string]string{
			"screen-length": "Set the number of lines displayed on a screen", "lines": "Number of lines; 0 disables paging",
			"temporary": "For this session only"},
			run: func(s *session, m *matchResult) *result {
				n, _ := m.value("lines")
				s.screen, _ = strconv.Atoi(n)
				return &result{}
			}},
		{views: "user", syntax: "undo screen-length temporary", help: map[string]string{
			"screen-length": "Set the number of lines displayed on a screen", "temporary": "For this session only"},
			run: func(s *session, _ *matchResult) *result {
				s.screen = s.defScreen
				if s.screen == 0 {
					s.screen = DefaultScreenLength
				}
				return &result{}
			}},
		{views: "config", syntax: "quit", help: map[string]string{"quit": "Exit from the current view"},
			run: func(s *session, _ *matchResult) *result { return s.leave(len(s.stack) - 1) }},
		{views: "config", syntax: "return", help: map[string]string{"return": "Return to the user view"},
			run: func(s *session, _ *matchResult) *result { return s.leave(0) }},
		{views: "config", syntax: "commit [trial [{secs:int<60-65535>}]] [label {lname:label}] [description {text:text}]", help: map[string]string{
			"commit": "Commit the candidate configuration", "description": "Describe this commit", "text": "Description",
			"label": "Give the rollback point a label", "lname": "Label",
			"trial": "Commit for a trial period: without a confirming commit, the configuration rolls back",
			"secs":  "Trial period in seconds, default 600"},
			run: (*session).runCommit},
		{views: "any", syntax: "abort trial", help: map[string]string{
			"abort": "Abort an operation", "trial": "Roll back the configuration of a pending commit trial now"},
			run: (*session).runAbortTrial},
		{views: "config", syntax: "clear configuration candidate", help: map[string]string{
			"clear": "Clear information", "candidate": "The uncommitted configuration"},
			run: func(s *session, _ *matchResult) *result { s.cand.Discard(); return &result{} }},
		{views: "config", syntax: "display this [include-default]", display: true, help: map[string]string{
			"this": "The configuration of the current view", "include-default": "Include default configuration"},
			run: (*session).runDisplayThis},
		{views: "any", syntax: "display clock", display: true, help: map[string]string{"clock": "System clock"},
			run: func(s *session, _ *matchResult) *result {
				r := &result{}
				now := s.e.deps.Now().UTC()
				r.printf("%s\n%s\nTime Zone(UTC) : UTC\n", now.Format("2006-01-02 15:04:05+00:00"), now.Weekday())
				return r
			}},
		{views: "any", syntax: "display router id", display: true, help: map[string]string{
			"router": "Router information", "id": "The router ID (configured, else the highest LoopBack or interface address)"},
			run: func(s *session, _ *matchResult) *result {
				r := &result{}
				id, _ := system.RouterID(s.e.store.Running())
				if !id.IsValid() {
					r.printf("RouterID:0.0.0.0\n")
					return r
				}
				r.printf("RouterID:%s\n", id)
				return r
			}},
		{views: "any", syntax: "display version", display: true, help: map[string]string{"version": "System version information"},
			run: func(s *session, _ *matchResult) *result {
				r := &result{}
				var si SystemInfo
				if s.e.deps.System != nil {
					si = s.e.deps.System()
				}
				r.out.WriteString(RenderVersion(s.e.sysname(), si, s.e.deps.Now()))
				return r
			}},
		{views: "any", syntax: "display interface brief [{type:iftype}] [main]", display: true, help: map[string]string{
			"interface": "Interface status and configuration", "brief": "Brief information of status and configuration",
			"main": "Main interfaces only (there are no sub-interfaces yet)"},
			run: func(s *session, m *matchResult) *result {
				r := &result{}
				var rows []InterfaceRow
				if s.e.deps.Ports != nil {
					rows = PortRows(s.e.deps.Ports())
				}
				rows = append(rows, s.e.loopbackRows()...)
				if typ, ok := m.value("type"); ok {
					rows = slices.DeleteFunc(rows, func(row InterfaceRow) bool { return !IsOfType(row.Name, typ) })
				}
				r.out.WriteString(RenderInterfaceBrief(rows))
				return r
			}},
		{views: "any", syntax: "display current-configuration [configuration {section:section} [{inst:word}]] [include-default]", display: true, help: map[string]string{
			"current-configuration": "Current configuration", "configuration": "A section of the configuration",
			"inst": "Instance name (a VPN instance, a static LSP ...)", "include-default": "Include default configuration"},
			run: func(s *session, m *matchResult) *result {
				r := &result{}
				sec, _ := m.value("section")
				inst, one := m.value("inst")
				r.out.WriteString(s.e.renderConfig(s.e.store.Running(), s.e.lastUpdate(), (&Args{m: m}).Keyword("include-default"),
					func(l *rline) bool {
						if sec != "" && sectionOf(l.cn) != sec {
							return false
						}
						return !one || len(l.inst) > 0 && slices.Contains(l.inst.Last().Keys, inst)
					}))
				return r
			}},
		{views: "any", syntax: "display current-configuration interface [ {name:interface} | {type:iftype} ] [include-default]", display: true, help: map[string]string{
			"current-configuration": "Current configuration", "interface": "Configuration of interfaces", "name": "Interface type and number",
			"include-default": "Include default configuration"},
			run: func(s *session, m *matchResult) *result {
				r := &result{}
				name, one := m.value("name")
				typ, ofType := m.value("type")
				r.out.WriteString(s.e.renderConfig(s.e.store.Running(), s.e.lastUpdate(), (&Args{m: m}).Keyword("include-default"), func(l *rline) bool {
					if l.cn.path != "/interfaces/interface" {
						return false
					}
					n := l.inst.Last().Keys[0]
					return (!one || n == name) && (!ofType || IsOfType(n, typ))
				}))
				return r
			}},
		{views: "any", syntax: "display configuration candidate [changes | merge]", display: true, help: map[string]string{
			"configuration": "Configuration", "candidate": "The uncommitted configuration", "changes": "Differences from the running configuration",
			"merge": "The running configuration with the uncommitted changes"},
			run: (*session).runDisplayCandidate},
	}...)
}

// loopbackRows adds the configured LoopBacks and NULL0 to interface tables.
func (e *Engine) loopbackRows() []InterfaceRow {
	var rows []InterfaceRow
	t := e.store.Running()
	for _, it := range t.Entries(datastore.P("interfaces"), "interface") {
		name := it.Path.Last().Keys[0]
		if !strings.HasPrefix(name, "LoopBack") {
			continue
		}
		down, _ := t.Get(it.Path.Child("shutdown"))
		rows = append(rows, InterfaceRow{Name: name, AdminDown: down == "true", PhyUp: down != "true", ProtoUp: down != "true", Spoofing: true})
	}
	rows = append(rows, InterfaceRow{Name: "NULL0", PhyUp: true, ProtoUp: true, Spoofing: true})
	return rows
}

func (s *session) runSystemView(m *matchResult) *result {
	r := &result{}
	s.immediate = s.immediateMode || len(m.cmd.seqs[m.seq]) > 1
	s.stack = []frame{{v: s.e.system}}
	if s.immediateMode {
		r.printf("Enter system view, return user view with Ctrl+Z.\n")
	} else {
		r.printf("Enter system view, return user view with return command.\n")
	}
	return r
}

// leave moves up to stack depth depth (0: user view), asking about
// uncommitted changes when it leaves the system view.
func (s *session) leave(depth int) *result {
	r := &result{}
	if depth > 0 || s.immediate || !s.cand.Dirty() {
		s.stack = s.stack[:depth]
		return r
	}
	var handle func(a string) *result
	handle = func(a string) *result {
		r := &result{}
		switch strings.ToLower(a) {
		case "y", "yes":
			// Committing on the way out is a commit: it confirms a trial.
			res, err := s.cand.CommitWith(s.ctx(), datastore.CommitOptions{User: s.user})
			if err != nil && !errors.Is(err, datastore.ErrNoChange) {
				s.printCommitError(r, err)
				return r
			}
			if res.Confirmed {
				r.printf("Info: The trial configuration is confirmed.\n")
			}
			recordWarning(r, res.ID, res.RecordErr)
			s.stack = nil
		case "n", "no":
			s.cand.Discard()
			s.stack = nil
		case "c", "cancel":
		default:
			return s.ask(r, enterAloneQ, handle)
		}
		return r
	}
	return s.ask(r, uncommittedQ, handle)
}

func (s *session) runSave(_ *matchResult) *result {
	r := &result{}
	r.printf("Warning: all configuration will be written to the device.\n")
	if s.e.SaveWarning != nil {
		if w := s.e.SaveWarning(); w != "" {
			r.printf("%s\n", w)
		}
	}
	var handle func(a string) *result
	handle = func(a string) *result {
		r := &result{}
		switch strings.ToLower(a) {
		case "y", "yes":
			if s.e.SaveFunc == nil {
				r.printf("Error: Saving the configuration is not available.\n")
				r.failed = true
				return r
			}
			r.printf("Now saving all configuration to the device\n")
			if err := s.e.SaveFunc(s.ctx(), s.e.CurrentConfig()); err != nil {
				r.printf("Error: Failed to save the configuration: %s.\n", err)
				r.failed = true
				return r
			}
			r.printf("Info: Save the configuration successfully.\n")
		case "n", "no", "":
		default:
			return s.ask(r, "Are you sure to continue?[Y/N]", handle)
		}
		return r
	}
	return s.ask(r, "Are you sure to continue?[Y/N]", handle)
}

func (s *session) runDisplayThis(m *matchResult) *result {
	r := &result{}
	t := s.e.store.Running()
	defaults := (&Args{m: m}).Keyword("include-default")
	if len(s.stack) == 1 {
		var b strings.Builder
		writeBlocks(&b, s.e.renderViewWith(s.e.system, t, nil, defaults))
		r.out.WriteString(b.String())
		r.printf("return\n")
		return r
	}
	f := s.stack[len(s.stack)-1]
	opener := s.e.openerOf(f.v)
	if s.e.deps.CommitMode == "immediate" {
		r.printf("[%s]\n", VRPVersion)
	}
	r.printf("#\n")
	if opener != nil {
		if text, ok := renderTemplate(opener, t, f.path); ok && t.Exists(f.path) {
			var b strings.Builder
			writeLines(&b, []*rline{{text: text, kids: s.e.renderViewWith(f.v, t, f.path, defaults)}}, len(s.stack)-2)
			r.out.WriteString(b.String())
		}
	}
	r.printf("#\nreturn\n")
	return r
}

func (e *Engine) openerOf(v *view) *cnode {
	if v.parent == nil {
		return nil
	}
	for _, cn := range v.parent.cnodes {
		if cn.view == v {
			return cn
		}
	}
	return nil
}

func (s *session) runDisplayCandidate(m *matchResult) *result {
	r := &result{}
	old := s.e.renderView(s.e.system, s.cand.Base(), nil)
	cur := s.e.renderView(s.e.system, s.cand.Tree(), nil)
	lines := diffLines(old, cur, 0)
	a := &Args{m: m}
	if a.Keyword("merge") {
		var b strings.Builder
		writeBlocks(&b, cur)
		r.out.WriteString(b.String())
		r.printf("return\n")
		return r
	}
	if a.Keyword("changes") {
		r.printf("Building configuration\n")
		for _, l := range lines {
			r.printf("%c %s%s\n", l.mark, strings.Repeat(" ", l.depth), l.text)
		}
		return r
	}
	added := map[string]bool{}
	for _, l := range lines {
		if l.mark == '+' {
			added[l.node] = true
		}
	}
	for _, l := range lines {
		text := l.text
		if l.mark == '-' {
			if added[l.node] {
				continue // replaced by the new value
			}
			text = "undo " + text
		}
		r.printf("%s%s\n", strings.Repeat(" ", l.depth), text)
	}
	return r
}

// runCommit commits the candidate. A plain commit also confirms a pending
// commit trial; commit trial starts (or extends) one. The trial and its
// timer are the datastore's (NETCONF's confirmed commit shares them).
func (s *session) runCommit(m *matchResult) *result {
	r := &result{}
	o := datastore.CommitOptions{User: s.user}
	o.Description, _ = m.value("text")
	o.Label, _ = m.value("lname")
	if (&Args{m: m}).Keyword("trial") {
		if o.Description == "" {
			o.Description = "commit trial" // so that the commit list tells it apart
		}
		o.Trial = datastore.DefaultTrial
		if v, ok := m.value("secs"); ok {
			secs, _ := strconv.Atoi(v)
			o.Trial = time.Duration(secs) * time.Second
		}
	}
	res, err := s.cand.CommitWith(s.ctx(), o)
	switch {
	case o.Trial > 0 && errors.Is(err, datastore.ErrNoChange):
		r.printf("Error: No configuration changes to commit for a trial.\n")
		r.failed = true
	case err != nil && !errors.Is(err, datastore.ErrNoChange):
		s.printCommitError(r, err)
	case o.Trial > 0:
		r.printf("Info: The configuration rolls back in %d seconds unless a commit confirms it.\n", int(o.Trial/time.Second))
	case res.Confirmed:
		r.printf("Info: The trial configuration is confirmed.\n")
	}
	recordWarning(r, res.ID, res.RecordErr)
	return r
}

// recordWarning says that commit id took effect but its rollback point was
// not saved (a full disk): it is kept until the daemon restarts.
func recordWarning(r *result, id int, err error) {
	if id == 0 || err == nil {
		return
	}
	r.printf("Warning: The configuration is committed, but its rollback point (commit %d) could not be saved: %s. It is lost when the device restarts.\n", id, err)
}

// runAbortTrial rolls back a pending commit trial at once.
func (s *session) runAbortTrial(_ *matchResult) *result {
	r := &result{}
	err := s.e.store.AbortTrial(s.ctx(), s.user, nil)
	switch {
	case errors.Is(err, datastore.ErrNoTrial):
		r.printf("Error: No commit trial is pending.\n")
		r.failed = true
	case err != nil:
		s.printCommitError(r, err)
	default:
		r.printf("Info: The trial configuration is rolled back.\n")
	}
	return r
}
