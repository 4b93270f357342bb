package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"vpnos/yang/datastore"
)

// The commit log's commands: rollback, labels, and the displays of the
// commit points. The log and its rules are the datastore's; NETCONF
// reaches the same log.

func (e *Engine) commitLogCommands() []gospec {
	return []gospec{
		{views: "user system", syntax: "rollback configuration ( to ( commit-id {id:int<1-4294967295>} | label {lname:label} | file {cfgfile:cfgfile} ) | last {n:int<1-100>} )", help: map[string]string{
			"rollback": "Roll back the configuration", "to": "Roll back to the configuration of a rollback point",
			"commit-id": "The configuration as this commit made it", "id": "Commit ID",
			"label": "The configuration of the commit with this label", "lname": "Label",
			"file": "The configuration a configuration file describes", "cfgfile": "File name (*.cfg)",
			"last": "Undo the last commits", "n": "Number of commits to undo"},
			run: (*session).runRollback},
		{views: "user", syntax: "set configuration commit {id:int<1-4294967295>} label {lname:label}", help: map[string]string{
			"set": "Set information", "configuration": "Configuration", "commit": "A rollback point",
			"id": "Commit ID", "label": "Give the rollback point a label", "lname": "Label"},
			run: (*session).runSetLabel},
		{views: "user", syntax: "clear configuration commit {id:int<1-4294967295>} label", help: map[string]string{
			"clear": "Clear information", "configuration": "Configuration", "commit": "A rollback point",
			"id": "Commit ID", "label": "Remove the label of the rollback point"},
			run: (*session).runSetLabel},
		{views: "config", syntax: "refresh configuration candidate", help: map[string]string{
			"refresh": "Refresh information", "configuration": "Configuration",
			"candidate": "Rebase the uncommitted configuration on the running one, keeping this session's changes where other users changed the same configuration"},
			run: func(s *session, _ *matchResult) *result {
				r := &result{}
				for _, c := range s.cand.Refresh() {
					r.printf("Info: This session's change of %s is kept.\n", s.describe(c.Path))
				}
				return r
			}},
		{views: "any", syntax: "display configuration commit list [verbose] [ {count:int<1-100>} | label ]", display: true, help: map[string]string{
			"configuration": "Configuration", "commit": "Commit records", "list": "List the rollback points",
			"verbose": "Every field of each rollback point", "count": "Number of the newest rollback points",
			"label": "Only the rollback points with a label"},
			run: (*session).runCommitList},
		{views: "any", syntax: "display configuration commit changes [ at commit-id {id:int<1-4294967295>} | since commit-id {sid:int<1-4294967295>} | last {n:int<1-100>} ]", display: true, help: map[string]string{
			"configuration": "Configuration", "commit": "Commit records", "changes": "Configuration changes of rollback points",
			"at": "The changes one commit made", "since": "The changes since a commit, that commit included",
			"commit-id": "Commit ID", "id": "Commit ID", "sid": "Commit ID",
			"last": "The changes of the last commits", "n": "Number of commits"},
			run: (*session).runCommitChanges},
	}
}

// commitTime is how the displays show a commit's time.
func commitTime(r datastore.Record) string {
	return r.Time.UTC().Format("2006-01-02 15:04:05+00:00")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (s *session) runCommitList(m *matchResult) *result {
	r := &result{}
	a := &Args{m: m}
	log := s.e.store.Commits()
	if a.Keyword("label") {
		var keep []datastore.Record
		for _, c := range log {
			if c.Label != "" {
				keep = append(keep, c)
			}
		}
		log = keep
	}
	if v, ok := m.value("count"); ok {
		n, _ := strconv.Atoi(v)
		if n < len(log) {
			log = log[:n]
		}
	}
	if len(log) == 0 {
		r.printf("Info: No commit record exists.\n")
		return r
	}
	r.printf("Max number of commit points: %d\n", datastore.MaxLog)
	r.printf("Number of commit points: %d\n", len(s.e.store.Commits()))
	if a.Keyword("verbose") {
		for i, c := range log {
			if i > 0 {
				r.printf("\n")
			}
			typ := "CLI"
			if c.Interface != "" {
				typ = strings.ToUpper(c.Interface)
			}
			r.printf("%d) CommitId: %d\n", i+1, c.ID)
			for _, f := range [][2]string{{"Label", dash(c.Label)}, {"User", c.User}, {"User-Intf", dash(c.Terminal)},
				{"Type", typ}, {"TimeStamp", commitTime(c)}, {"Description", dash(c.Description)}} {
				r.printf("%*s: %s\n", len(fmt.Sprintf("%d) CommitId", i+1)), f[0], f[1])
			}
		}
		return r
	}
	sep := strings.Repeat("-", 86)
	r.printf("%s\n", sep)
	r.printf("%-6s%-14s%-22s%-16s%s\n", "No.", "CommitId", "Label", "User", "TimeStamp")
	r.printf("%s\n", sep)
	for i, c := range log {
		r.printf("%-6d%-14d%-22s%-16s%s\n", i+1, c.ID, dash(c.Label), c.User, commitTime(c))
	}
	r.printf("%s\n", sep)
	return r
}

// runCommitChanges shows what commits changed, in the layout of
// display configuration candidate changes.
func (s *session) runCommitChanges(m *matchResult) *result {
	r := &result{}
	st := s.e.store
	log := st.Commits() // newest first
	if len(log) == 0 {
		r.printf("Info: No commit record exists.\n")
		return r
	}
	var before, after *datastore.Tree
	var err error
	switch {
	case m.has("id"):
		id, _ := strconv.Atoi(first(m.value("id")))
		before, after, err = st.TreesAround(id)
	case m.has("sid"):
		id, _ := strconv.Atoi(first(m.value("sid")))
		before, err = st.TreeBefore(id)
		after = st.LogTip()
	case m.has("n"):
		n, _ := strconv.Atoi(first(m.value("n")))
		if n > len(log) {
			err = &datastore.CommitError{Last: len(log)}
			break
		}
		before, err = st.TreeBefore(log[n-1].ID)
		after = st.LogTip()
	default:
		before, err = st.TreeBefore(log[len(log)-1].ID)
		after = st.LogTip()
	}
	if err != nil {
		r.printf("Error: %s.\n", capitalize(err.Error()))
		r.failed = true
		return r
	}
	lines := diffLines(s.e.renderView(s.e.system, before, nil), s.e.renderView(s.e.system, after, nil), 0)
	r.printf("Building configuration\n")
	for _, l := range lines {
		r.printf("%c %s%s\n", l.mark, strings.Repeat(" ", l.depth), l.text)
	}
	return r
}

func first(v string, _ bool) string { return v }

func (s *session) runRollback(m *matchResult) *result {
	r := &result{}
	if s.cand.Dirty() {
		r.printf("Error: Uncommitted configurations found; commit or clear them first.\n")
		r.failed = true
		return r
	}
	st := s.e.store
	ctx := s.ctx()
	var id int
	var err error
	var done, already string
	switch {
	case m.has("id"):
		to, _ := strconv.Atoi(first(m.value("id")))
		id, err = st.RollbackTo(ctx, to, s.user)
		done = fmt.Sprintf("Info: Rolled back the configuration to commit %d", to)
		already = fmt.Sprintf("Info: The configuration is already the one commit %d made.\n", to)
	case m.has("lname"):
		l, _ := m.value("lname")
		id, err = st.RollbackLabel(ctx, l, s.user)
		done = fmt.Sprintf("Info: Rolled back the configuration to label %s", l)
		already = fmt.Sprintf("Info: The configuration is already the one of label %s.\n", l)
	case m.has("n"):
		n, _ := strconv.Atoi(first(m.value("n")))
		id, err = st.RollbackLast(ctx, n, s.user)
		done = fmt.Sprintf("Info: Rolled back the last %d commits", n)
		if n == 1 {
			done = "Info: Rolled back the last commit"
		}
		already = "Info: The configuration is already the one before those commits.\n"
	default:
		name, _ := m.value("cfgfile")
		t, lerr := s.e.loadFile(ctx, name)
		var fe *fileError
		if errors.As(lerr, &fe) {
			fe.print(r)
			return r
		}
		if lerr != nil {
			r.printf("Error: %s.\n", capitalize(lerr.Error()))
			r.failed = true
			return r
		}
		id, err = st.RollbackTree(ctx, t, s.user, "rollback to file "+name)
		done = fmt.Sprintf("Info: Rolled back the configuration to the file %s", name)
		already = fmt.Sprintf("Info: The configuration is already the one of the file %s.\n", name)
	}
	switch {
	case errors.Is(err, datastore.ErrNoChange):
		r.printf("%s", already)
		return r
	case err != nil:
		var ce *datastore.CommitError
		if errors.As(err, &ce) {
			r.printf("Error: %s.\n", capitalize(ce.Error()))
			r.failed = true
			return r
		}
		s.printCommitError(r, err)
		return r
	}
	s.cand.Discard()
	r.printf("%s (commit %d).\n", done, id)
	recordWarning(r, id, st.RecordError(id))
	return r
}

func (s *session) runSetLabel(m *matchResult) *result {
	r := &result{}
	id, _ := strconv.Atoi(first(m.value("id")))
	l, _ := m.value("lname") // "" for clear ... label
	if err := s.e.store.SetLabel(id, l); err != nil {
		r.printf("Error: %s.\n", capitalize(err.Error()))
		r.failed = true
	}
	return r
}

// describe names a configuration node as a user knows it: the lines of the
// views that hold it and its own line ("interface LoopBack0 / description
// from two"), from running, or from the candidate when running no longer
// has it; a node without a line of its own is named in parentheses.
func (s *session) describe(p datastore.Path) string {
	for _, t := range []*datastore.Tree{s.e.store.Running(), s.cand.Tree()} {
		var chain []string
		exact := false
		ls := s.e.renderView(s.e.system, t, nil)
		for len(ls) > 0 {
			var next *rline
			for _, l := range ls {
				if l.inst != nil && p.HasPrefix(l.inst) && (next == nil || len(l.inst) > len(next.inst)) {
					next = l
				}
			}
			if next == nil {
				break
			}
			chain = append(chain, next.text)
			if next.inst.Equal(p) || next.cn.view == nil {
				exact = next.inst.Equal(p)
				break
			}
			ls = next.kids
		}
		if len(chain) == 0 {
			continue
		}
		if !exact {
			chain = append(chain, "("+p.Last().Name+")")
		}
		return strings.Join(chain, " / ")
	}
	return p.String()
}
