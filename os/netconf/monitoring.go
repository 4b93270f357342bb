package netconf

import (
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"vpnos/yang/datastore"
)

//go:embed yang/ietf-netconf-monitoring.yang
var monitoringModule string

// MonitoringModule is ietf-netconf-monitoring (RFC 6022): the server's
// capabilities, datastores and locks, schemas, sessions and counters, and
// get-schema.
var MonitoringModule = Module{Name: "ietf-netconf-monitoring", Revision: "2010-10-04", Namespace: nsMonitoring, Prefix: "ncm", Text: monitoringModule}

// yangTime formats a date-and-time.
func yangTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func counter(name string, v uint32) *Node {
	return Leaf(nsMonitoring, name, strconv.FormatUint(uint64(v), 10))
}

// netconfState renders the netconf-state container.
func (s *Server) netconfState() *Node {
	caps := Elem(nsMonitoring, "capabilities")
	for _, c := range s.caps {
		caps.Add(Leaf(nsMonitoring, "capability", c))
	}
	locks := map[string]datastore.LockInfo{}
	for _, l := range s.store.Locks() {
		locks[l.Datastore] = l
	}
	dss := Elem(nsMonitoring, "datastores")
	for _, name := range []string{datastore.DatastoreRunning, datastore.DatastoreCandidate} {
		d := Elem(nsMonitoring, "datastore", keyLeaf(nsMonitoring, "name", name))
		if l, ok := locks[name]; ok {
			d.Add(Elem(nsMonitoring, "locks", Elem(nsMonitoring, "global-lock",
				Leaf(nsMonitoring, "locked-by-session", strconv.FormatUint(uint64(l.Holder.Session), 10)),
				Leaf(nsMonitoring, "locked-time", yangTime(l.Since)))))
		}
		dss.Add(d)
	}
	schemas := Elem(nsMonitoring, "schemas")
	for _, m := range s.model.Modules {
		schemas.Add(Elem(nsMonitoring, "schema",
			keyLeaf(nsMonitoring, "identifier", m.Name),
			keyLeaf(nsMonitoring, "version", m.Revision),
			formatYang(),
			Leaf(nsMonitoring, "namespace", m.Namespace),
			Leaf(nsMonitoring, "location", "NETCONF")))
	}
	sessions := Elem(nsMonitoring, "sessions")
	for _, ss := range s.sessionList() {
		x := Elem(nsMonitoring, "session",
			keyLeaf(nsMonitoring, "session-id", strconv.FormatUint(uint64(ss.id), 10)),
			Leaf(nsMonitoring, "transport", "ncm:netconf-ssh"),
			Leaf(nsMonitoring, "username", ss.user))
		x.Children[1].prefixes = map[string]string{"ncm": nsMonitoring}
		if ss.remote != "" {
			x.Add(Leaf(nsMonitoring, "source-host", ss.remote))
		}
		x.Add(Leaf(nsMonitoring, "login-time", yangTime(ss.login)),
			counter("in-rpcs", ss.stats.inRPCs.Load()), counter("in-bad-rpcs", ss.stats.inBadRPCs.Load()),
			counter("out-rpc-errors", ss.stats.outErrors.Load()), counter("out-notifications", 0))
		sessions.Add(x)
	}
	st := &s.stats
	stats := Elem(nsMonitoring, "statistics",
		Leaf(nsMonitoring, "netconf-start-time", yangTime(s.started)),
		counter("in-bad-hellos", st.badHellos.Load()),
		counter("in-sessions", st.sessions.Load()),
		counter("dropped-sessions", st.dropped.Load()),
		counter("in-rpcs", st.inRPCs.Load()), counter("in-bad-rpcs", st.inBadRPCs.Load()),
		counter("out-rpc-errors", st.outErrors.Load()), counter("out-notifications", 0))
	return Elem(nsMonitoring, "netconf-state", caps, dss, schemas, sessions, stats)
}

func formatYang() *Node {
	n := keyLeaf(nsMonitoring, "format", "ncm:yang")
	n.prefixes = map[string]string{"ncm": nsMonitoring}
	return n
}

// getSchema answers <get-schema>.
func (s *Server) getSchema(x *Node) (*Node, Errors) {
	id := x.Child(nsMonitoring, "identifier")
	if id == nil {
		return nil, Errors{rpcErr(TypeProtocol, TagMissingElement, "get-schema needs an identifier", InfoItem{"bad-element", "identifier"})}
	}
	m, ok := s.model.Module(id.TrimText())
	if !ok {
		return nil, Errors{rpcErr(TypeApplication, TagInvalidValue, fmt.Sprintf("no schema %q", id.TrimText()), InfoItem{"bad-element", "identifier"})}
	}
	if v := x.Child(nsMonitoring, "version"); v != nil && v.TrimText() != "" && v.TrimText() != m.Revision {
		return nil, Errors{rpcErr(TypeApplication, TagInvalidValue, fmt.Sprintf("no revision %s of %s (this server has %s)", v.TrimText(), m.Name, m.Revision), InfoItem{"bad-element", "version"})}
	}
	if f := x.Child(nsMonitoring, "format"); f != nil {
		// An identityref: the prefix may be any bound to the module.
		v := f.TrimText()
		if i := len(v) - len("yang"); i < 0 || v[i:] != "yang" || (i > 0 && v[i-1] != ':') {
			return nil, Errors{rpcErr(TypeApplication, TagInvalidValue, fmt.Sprintf("format %s is not served: only yang", v), InfoItem{"bad-element", "format"})}
		}
	}
	return Leaf(nsMonitoring, "data", m.Text), nil
}
