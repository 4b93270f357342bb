package cli

import (
	"fmt"
	"strings"
	"time"

	"vpnos/cli/proto"
	"vpnos/yang/datastore"
)

// The sessions of an engine: each holds a user interface line, as VRP
// numbers them (CON n for the console and scripts, VTY n for SSH), for
// display users and the commit records' User-Intf.

// vtyBase is the absolute number of VTY 0 (CON 0 is 0).
const vtyBase = 34

// historySize is how many commands display history-command shows.
const historySize = 10

// line is a session's user interface line.
type line struct {
	kind string // "CON" or "VTY"
	n    int
}

func (l line) String() string {
	if l.kind == "" {
		return ""
	}
	return fmt.Sprintf("%s %d", l.kind, l.n)
}

func (l line) abs() int {
	if l.kind == "VTY" {
		return vtyBase + l.n
	}
	return l.n
}

// activityNow is the clock of the sessions' activity (display users'
// Delay): the real one, unlike Deps.Now, which tests step per call.
func (e *Engine) activityNow() time.Time {
	if e.activity != nil {
		return e.activity()
	}
	return time.Now()
}

// register gives s the lowest free line of its kind and lists it.
func (e *Engine) register(s *session, req proto.Request) {
	kind := "CON"
	if req.Source == "ssh" {
		kind = "VTY"
	}
	e.sessMu.Lock()
	defer e.sessMu.Unlock()
	used := map[int]bool{}
	for _, o := range e.sessions {
		if o.line.kind == kind {
			used[o.line.n] = true
		}
	}
	n := 0
	for used[n] {
		n++
	}
	s.line = line{kind, n}
	s.source, s.remote = req.Source, req.Remote
	s.since = e.activityNow()
	s.last = s.since
	e.sessions = append(e.sessions, s)
}

func (e *Engine) unregister(s *session) {
	e.sessMu.Lock()
	defer e.sessMu.Unlock()
	for i, o := range e.sessions {
		if o == s {
			e.sessions = append(e.sessions[:i], e.sessions[i+1:]...)
			return
		}
	}
}

// origin is who commits from this session, for the datastore.
func (s *session) origin() datastore.Origin {
	return datastore.Origin{User: s.user, Terminal: s.line.String()}
}

// remember adds a command to the session's history.
func (s *session) remember(cmd string) {
	s.e.sessMu.Lock()
	defer s.e.sessMu.Unlock()
	s.history = append(s.history, strings.TrimSpace(cmd))
	if len(s.history) > historySize {
		s.history = s.history[len(s.history)-historySize:]
	}
}

func (e *Engine) userCommands() []gospec {
	return []gospec{
		{views: "any", syntax: "display history-command", display: true, help: map[string]string{
			"history-command": "The commands of this session"},
			run: func(s *session, _ *matchResult) *result {
				r := &result{}
				s.e.sessMu.Lock()
				defer s.e.sessMu.Unlock()
				for _, c := range s.history {
					r.printf("  %s\n", c)
				}
				return r
			}},
		{views: "any", syntax: "display users [all]", display: true, help: map[string]string{
			"users": "The users logged in", "all": "Every user interface"},
			run: (*session).runDisplayUsers},
	}
}

func (s *session) runDisplayUsers(_ *matchResult) *result {
	r := &result{}
	now := s.e.activityNow()
	s.e.sessMu.Lock()
	defer s.e.sessMu.Unlock()
	r.printf("  %-12s%-10s%-7s%-20s%-16s%s\n", "User-Intf", "Delay", "Type", "Network Address", "AuthenStatus", "AuthorcmdFlag")
	for _, o := range s.e.sessions {
		mark := " "
		if o == s {
			mark = "+"
		}
		idle := now.Sub(o.last)
		if o == s || idle < 0 {
			idle = 0
		}
		typ := ""
		if o.source == "ssh" {
			typ = "SSH"
		}
		r.printf("%s %-4d%-8s%-10s%-7s%-20s%-16s%s\n", mark, o.line.abs(), o.line, clockOf(idle), typ, o.remote, "pass", "no")
		r.printf("  Username : %s\n", o.user)
	}
	return r
}

// clockOf writes a duration as VRP's hh:mm:ss.
func clockOf(d time.Duration) string {
	t := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", t/3600, t/60%60, t%60)
}
