package datastore

import (
	"fmt"
	"strings"
)

// Concurrent sessions. Each candidate is rebased when running moves on
// (Sync): its own changes are replayed on the new running tree. When
// another session's commit changed a node this candidate changed too (to
// another value, or deleted it or an ancestor of it), that is a conflict:
// the candidate remembers it, and its commit is refused until the session
// refreshes its candidate (Refresh: its own values stand) or discards it.
// A commit whose changes break a rule only because of what others
// committed meanwhile is refused as a conflict as well, with the rules it
// breaks.

// Conflict is a node changed both by this candidate and by another
// session's commit since the candidate's changes began.
type Conflict struct {
	Path Path
	// ID and User are the other session's commit (0, "" when that commit
	// fell out of the log).
	ID   int
	User string
}

// ConflictError refuses a commit that conflicts with other sessions'
// commits: Conflicts lists the nodes both changed; Errs the rules the
// commit breaks only because of the others' changes.
type ConflictError struct {
	Conflicts []Conflict
	Errs      []error
}

func (e *ConflictError) Error() string {
	var parts []string
	for _, c := range e.Conflicts {
		if c.ID != 0 {
			parts = append(parts, fmt.Sprintf("%s was changed by %s in commit %d", c.Path, c.User, c.ID))
		} else {
			parts = append(parts, fmt.Sprintf("%s was changed by another session", c.Path))
		}
	}
	for _, x := range e.Errs {
		parts = append(parts, x.Error())
	}
	return "the configuration conflicted with other users: " + strings.Join(parts, "; ")
}

// Conflicts lists the nodes this candidate and other sessions' commits
// both changed since the candidate's changes began.
func (c *Candidate) Conflicts() []Conflict { return append([]Conflict(nil), c.conflicts...) }

// addConflict records n, found by a later rebase than the conflicts
// already recorded: a node is one conflict, named with the newest commit
// that changed it. A conflict on an ancestor of recorded ones replaces
// them; one below a recorded conflict renews that conflict's commit.
func (c *Candidate) addConflict(n Conflict) {
	keep := c.conflicts[:0]
	covered := false
	for _, o := range c.conflicts {
		switch {
		case n.Path.HasPrefix(o.Path):
			if n.ID != 0 {
				o.ID, o.User = n.ID, n.User
			}
			covered = true
		case o.Path.HasPrefix(n.Path):
			continue
		}
		keep = append(keep, o)
	}
	c.conflicts = keep
	if !covered {
		c.conflicts = append(c.conflicts, n)
	}
}

// liveConflicts drops the conflicts the candidate no longer takes part
// in (its session set the node back to running's value) and returns the
// others.
func (c *Candidate) liveConflicts() []Conflict {
	if len(c.conflicts) == 0 {
		return nil
	}
	mine := c.Changes()
	keep := c.conflicts[:0]
	for _, cf := range c.conflicts {
		for _, m := range mine {
			if m.Path.HasPrefix(cf.Path) || cf.Path.HasPrefix(m.Path) {
				keep = append(keep, cf)
				break
			}
		}
	}
	c.conflicts = keep
	return c.Conflicts()
}

// Refresh rebases the candidate on running and accepts its conflicts: its
// own values stand, and its next commit may go through (VRP's refresh
// configuration candidate). It returns the conflicts it accepted.
func (c *Candidate) Refresh() []Conflict {
	c.Sync()
	out := c.conflicts
	c.conflicts = nil
	c.since = c.base
	return out
}

// findConflicts compares the candidate's own changes (mine, from base)
// with running's since base (theirs) and returns the nodes both changed
// differently.
func findConflicts(mine, theirs []Op) []Path {
	if len(mine) == 0 || len(theirs) == 0 {
		return nil
	}
	type change struct {
		del bool
		val string
	}
	th := make(map[string]change, len(theirs))
	var theirDels []Op
	for _, o := range theirs {
		th[o.Path.String()] = change{o.Delete, o.New}
		if o.Delete {
			theirDels = append(theirDels, o)
		}
	}
	var out []Path
	seen := map[string]bool{}
	add := func(p Path) {
		if k := p.String(); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	for _, m := range mine {
		k := m.Path.String()
		if o, ok := th[k]; ok {
			if o.del != m.Delete || !m.Delete && o.val != m.New {
				add(m.Path)
			}
			continue
		}
		if !m.Delete {
			// They deleted an ancestor of a node this candidate sets.
			for _, d := range theirDels {
				if m.Path.HasPrefix(d.Path) {
					add(m.Path)
					break
				}
			}
			continue
		}
		// This candidate deletes a node below which they changed something.
		for _, o := range theirs {
			if !o.Delete && o.Path.HasPrefix(m.Path) {
				add(o.Path)
			}
		}
	}
	// A node below another conflicting node is part of that conflict.
	keep := out[:0]
	for _, p := range out {
		covered := false
		for _, q := range out {
			if len(q) < len(p) && p.HasPrefix(q) {
				covered = true
				break
			}
		}
		if !covered {
			keep = append(keep, p)
		}
	}
	return keep
}

// whoChanged names the newest commit after version that changed p.
func (s *Store) whoChanged(p Path, version int) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.log) - 1; i >= 0 && s.log[i].version > version; i-- {
		for _, n := range s.log[i].changes.nodes {
			if n.Path.HasPrefix(p) || p.HasPrefix(n.Path) {
				return s.log[i].ID, s.log[i].User
			}
		}
	}
	return 0, ""
}
