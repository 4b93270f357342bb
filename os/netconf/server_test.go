package netconf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

const (
	nsVI   = "urn:vpnos:yang:vpnos-vpn-instance"
	nsIf   = "urn:vpnos:yang:vpnos-interfaces"
	nsMPLS = "urn:vpnos:yang:vpnos-mpls"
	nsSys  = "urn:vpnos:yang:vpnos-system"
)

func vpnXML(name, rd string, rts ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<vpn-instance><name>%s</name><ipv4-family>`, name)
	if rd != "" {
		fmt.Fprintf(&b, `<route-distinguisher>%s</route-distinguisher>`, rd)
	}
	for _, rt := range rts {
		fmt.Fprintf(&b, `<vpn-target><value>%s</value><direction>export-extcommunity</direction></vpn-target>`, rt)
	}
	b.WriteString(`</ipv4-family></vpn-instance>`)
	return b.String()
}

func editCandidate(body string) string {
	return `<edit-config><target><candidate/></target><config>` + body + `</config></edit-config>`
}

func vpns(items ...string) string {
	return `<vpn-instances xmlns="` + nsVI + `">` + strings.Join(items, "") + `</vpn-instances>`
}

func TestHelloAndCapabilities(t *testing.T) {
	s := testServer(t, Config{})
	for _, base11 := range []bool{false, true} {
		c := dial(t, s, "admin", base11)
		var caps []string
		for _, x := range c.hello.Child(nsBase, "capabilities").Children {
			caps = append(caps, x.TrimText())
		}
		for _, want := range []string{CapBase10, CapBase11, CapCandidate, CapConfirmed11, CapValidate11, CapRollbackOnError, CapWritableRunning,
			"urn:vpnos:yang:vpnos-vpn-instance?module=vpnos-vpn-instance&revision=2026-11-22",
			"urn:vpnos:yang:vpnos-mpls?module=vpnos-mpls&revision=2026-11-22",
			"urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring?module=ietf-netconf-monitoring&revision=2010-10-04",
			"urn:vpnos:yang:vpnos-state?module=vpnos-state&revision=2026-11-22"} {
			found := false
			for _, c := range caps {
				found = found || c == want
			}
			if !found {
				t.Errorf("base11=%v: capability %s missing from %v", base11, want, caps)
			}
		}
		if c.id == 0 {
			t.Fatal("no session id")
		}
		c.ok("<get-config><source><running/></source></get-config>")
		c.close()
	}
}

func TestEditCommit(t *testing.T) {
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	c.ok(editCandidate(vpns(vpnXML("red", "65000:1", "65000:100"), vpnXML("blue", "65000:2"))))
	if got := c.config("running", "").String(); strings.Contains(got, "red") {
		t.Fatalf("running before commit: %s", got)
	}
	cand := c.config("candidate", "").String()
	if !strings.Contains(cand, "<name>red</name>") || !strings.Contains(cand, "<name>blue</name>") {
		t.Fatalf("candidate: %s", cand)
	}
	if strings.Index(cand, "red") > strings.Index(cand, "blue") {
		t.Fatalf("entries out of creation order: %s", cand)
	}
	c.ok("<validate><source><candidate/></source></validate>")
	c.ok("<commit/>")
	run := s.store.Running()
	if v, _ := run.Get(datastore.P("vpn-instances", "vpn-instance", datastore.K("red"), "ipv4-family", "route-distinguisher")); v != "65000:1" {
		t.Fatalf("running RD %q", v)
	}
	if _, ok := run.Get(datastore.P("vpn-instances", "vpn-instance", datastore.K("red"), "ipv4-family", "vpn-target", datastore.K("65000:100", "export-extcommunity"))); !ok {
		t.Fatal("vpn-target not in running")
	}
	rec := s.store.Commits()[0]
	if rec.User != "admin" || rec.Interface != "netconf" {
		t.Fatalf("commit record %+v", rec)
	}
	// A change made elsewhere (the CLI) is seen at once, in both datastores.
	cli := s.store.NewCandidate()
	cli.Tree().Set(datastore.P("system", "sysname"), "PE9")
	if _, err := cli.Commit(context.Background(), "alice", ""); err != nil {
		t.Fatal(err)
	}
	for _, ds := range []string{"running", "candidate"} {
		if got := c.config(ds, `<filter><system xmlns="`+nsSys+`"/></filter>`).String(); !strings.Contains(got, "<sysname>PE9</sysname>") {
			t.Fatalf("%s after a CLI commit: %s", ds, got)
		}
	}
	// Delete and merge in one edit; discard-changes drops an edit.
	c.ok(editCandidate(vpns(`<vpn-instance xmlns:nc="` + nsBase + `" nc:operation="delete"><name>blue</name></vpn-instance>`)))
	c.ok("<discard-changes/>")
	if got := c.config("candidate", "").String(); !strings.Contains(got, "blue") {
		t.Fatalf("discard-changes lost blue: %s", got)
	}
}

func TestEditErrors(t *testing.T) {
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	c.ok(editCandidate(vpns(vpnXML("red", "65000:1"))))
	c.ok("<commit/>")
	nc := `xmlns:nc="` + nsBase + `"`
	tests := []struct {
		name string
		body string
		want string // errText
	}{
		{"unknown element", vpns(`<vpn-instance><name>red</name><colour>blue</colour></vpn-instance>`),
			"error-type=application error-tag=unknown-element error-path=/vi:vpn-instances/vi:vpn-instance[vi:name='red'] error-message=colour is not a configuration node here bad-element=colour"},
		{"unknown namespace", `<vpn-instances xmlns="urn:example:nope"/>`,
			`error-type=application error-tag=unknown-namespace error-path=/ error-message=the namespace "urn:example:nope" is not one of a module of this server bad-element=vpn-instances bad-namespace=urn:example:nope`},
		{"element in another module's namespace", `<vpn-instances xmlns="` + nsIf + `"/>`,
			"error-type=application error-tag=unknown-element error-path=/ error-message=vpn-instances is not a configuration node here bad-element=vpn-instances"},
		{"bad value", vpns(`<vpn-instance><name>red</name><ipv4-family><apply-label>per-everything</apply-label></ipv4-family></vpn-instance>`),
			`error-type=application error-tag=invalid-value error-path=/vi:vpn-instances/vi:vpn-instance[vi:name='red']/vi:ipv4-family/vi:apply-label error-message="per-everything" is not a valid value bad-element=apply-label`},
		{"missing key", vpns(`<vpn-instance><description>x</description></vpn-instance>`),
			"error-type=application error-tag=missing-element error-path=/vi:vpn-instances/vi:vpn-instance error-message=the key name of vpn-instance is missing bad-element=name"},
		{"create existing", vpns(`<vpn-instance ` + nc + ` nc:operation="create"><name>red</name></vpn-instance>`),
			"error-type=application error-tag=data-exists error-path=/vi:vpn-instances/vi:vpn-instance[vi:name='red'] error-message=the node already exists"},
		{"delete missing", vpns(`<vpn-instance ` + nc + ` nc:operation="delete"><name>green</name></vpn-instance>`),
			"error-type=application error-tag=data-missing error-path=/vi:vpn-instances/vi:vpn-instance[vi:name='green'] error-message=the node does not exist"},
		{"bad operation", vpns(`<vpn-instance ` + nc + ` nc:operation="frobnicate"><name>red</name></vpn-instance>`),
			`error-type=application error-tag=bad-attribute error-path=/vi:vpn-instances/vi:vpn-instance[vi:name='red'] error-message="frobnicate" is not an edit operation bad-attribute=operation bad-element=vpn-instance`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.rpc(editCandidate(tc.body))
			e := r.Child(nsBase, "rpc-error")
			if e == nil {
				t.Fatalf("no error: %s", r)
			}
			if got := errText(e); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// The error-path's prefixes are declared on it.
	e := c.fail(editCandidate(vpns(`<vpn-instance><name>red</name><colour/></vpn-instance>`)), TagUnknownElement)
	if p := e.Child(nsBase, "error-path"); p.Namespaces()["vi"] != nsVI {
		t.Fatalf("error-path namespaces %v", p.Namespaces())
	}
	// Nothing of the refused edits reached the candidate.
	c.ok("<discard-changes/>")
	if c.config("candidate", "").String() != c.config("running", "").String() {
		t.Fatal("candidate differs from running")
	}
}

func TestErrorOptions(t *testing.T) {
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	bad := `<vpn-instance><name>bad</name><ipv4-family><apply-label>nope</apply-label></ipv4-family></vpn-instance>`
	edit := func(opt string) string {
		return `<edit-config><target><candidate/></target><error-option>` + opt + `</error-option><config>` +
			vpns(vpnXML("a", ""), bad, vpnXML("b", "")) + `</config></edit-config>`
	}
	has := func(name string) bool {
		return strings.Contains(c.config("candidate", "").String(), "<name>"+name+"</name>")
	}
	c.fail(edit("rollback-on-error"), TagInvalidValue)
	if has("a") || has("bad") || has("b") {
		t.Fatal("rollback-on-error kept changes")
	}
	c.fail(edit("stop-on-error"), TagInvalidValue)
	if !has("a") || has("b") {
		t.Fatal("stop-on-error: the edits before the error stay, none after")
	}
	c.ok("<discard-changes/>")
	c.fail(edit("continue-on-error"), TagInvalidValue)
	if !has("a") || !has("b") {
		t.Fatal("continue-on-error skipped good edits")
	}
	c.fail(`<edit-config><target><candidate/></target><error-option>whatever</error-option><config/></edit-config>`, TagInvalidValue)
}

func TestDefaultOperationAndReplace(t *testing.T) {
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	c.ok(editCandidate(vpns(vpnXML("red", "65000:1", "65000:100", "65000:101"), vpnXML("blue", "65000:2"))))
	// none: only the nodes with an operation change; a missing level is an error.
	c.ok(`<edit-config><target><candidate/></target><default-operation>none</default-operation><config>` +
		vpns(`<vpn-instance><name>red</name><description xmlns:nc="`+nsBase+`" nc:operation="merge">Red VPN</description><ipv4-family><route-distinguisher>65000:99</route-distinguisher></ipv4-family></vpn-instance>`) +
		`</config></edit-config>`)
	got := c.config("candidate", "").String()
	if !strings.Contains(got, "<description>Red VPN</description>") || !strings.Contains(got, "65000:1<") {
		t.Fatalf("default-operation none: %s", got)
	}
	c.fail(`<edit-config><target><candidate/></target><default-operation>none</default-operation><config>`+
		vpns(`<vpn-instance><name>green</name><description xmlns:nc="`+nsBase+`" nc:operation="merge">x</description></vpn-instance>`)+
		`</config></edit-config>`, TagDataMissing)
	// replace of one entry drops what the new content does not have.
	c.ok(editCandidate(vpns(`<vpn-instance xmlns:nc="` + nsBase + `" nc:operation="replace"><name>red</name><ipv4-family><route-distinguisher>65000:1</route-distinguisher></ipv4-family></vpn-instance>`)))
	got = c.config("candidate", "").String()
	if strings.Contains(got, "65000:100") || strings.Contains(got, "Red VPN") || !strings.Contains(got, "blue") {
		t.Fatalf("replace of red: %s", got)
	}
	// default-operation replace: the config is the whole new datastore.
	c.ok(`<edit-config><target><candidate/></target><default-operation>replace</default-operation><config><system xmlns="` + nsSys + `"><sysname>ONLY</sysname></system></config></edit-config>`)
	got = c.config("candidate", "").String()
	if strings.Contains(got, "vpn-instance") || !strings.Contains(got, "ONLY") {
		t.Fatalf("default-operation replace: %s", got)
	}
	// remove of something absent is fine; delete is not.
	c.ok(editCandidate(`<system xmlns="` + nsSys + `"><sysname xmlns:nc="` + nsBase + `" nc:operation="remove"/></system>`))
	c.ok(editCandidate(`<system xmlns="` + nsSys + `"><sysname xmlns:nc="` + nsBase + `" nc:operation="remove"/></system>`))
	c.fail(editCandidate(`<system xmlns="`+nsSys+`"><sysname xmlns:nc="`+nsBase+`" nc:operation="delete"/></system>`), TagDataMissing)
}

func TestWritableRunningAndCopyConfig(t *testing.T) {
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	c.ok(`<edit-config><target><running/></target><config>` + vpns(vpnXML("red", "65000:1")) + `</config></edit-config>`)
	if _, ok := s.store.Running().Get(datastore.P("vpn-instances", "vpn-instance", datastore.K("red"))); !ok {
		t.Fatal("edit-config on running did not commit")
	}
	// A refused running edit commits nothing.
	c.fail(`<edit-config><target><running/></target><config>`+vpns(vpnXML("blue", "65000:1"))+`</config></edit-config>`, TagOperationFailed)
	if _, ok := s.store.Running().Get(datastore.P("vpn-instances", "vpn-instance", datastore.K("blue"))); ok {
		t.Fatal("refused edit reached running")
	}
	// test-only validates and changes nothing.
	e := c.fail(`<edit-config><target><candidate/></target><test-option>test-only</test-option><config>`+vpns(vpnXML("blue", "65000:1"))+`</config></edit-config>`, TagOperationFailed)
	if !strings.Contains(errText(e), "already used by VPN instance red") {
		t.Fatalf("test-only error: %s", errText(e))
	}
	if strings.Contains(c.config("candidate", "").String(), "blue") {
		t.Fatal("test-only changed the candidate")
	}
	// copy-config: inline config to candidate, candidate to running.
	c.ok(`<copy-config><target><candidate/></target><source><config><system xmlns="` + nsSys + `"><sysname>COPIED</sysname></system></config></source></copy-config>`)
	if got := c.config("candidate", "").String(); strings.Contains(got, "red") || !strings.Contains(got, "COPIED") {
		t.Fatalf("candidate after copy-config: %s", got)
	}
	c.ok(`<copy-config><target><running/></target><source><candidate/></source></copy-config>`)
	if v, _ := s.store.Running().Get(datastore.P("system", "sysname")); v != "COPIED" {
		t.Fatalf("running sysname %q", v)
	}
	c.fail(`<copy-config><target><running/></target><source><running/></source></copy-config>`, TagInvalidValue)
	c.fail(`<copy-config><target><running/></target><source><url>file:///x</url></source></copy-config>`, TagOperationNotSupported)
	c.fail(`<copy-config><target><candidate/></target><source><config><system xmlns="`+nsSys+`"><sysname xmlns:nc="`+nsBase+`" nc:operation="merge">X</sysname></system></config></source></copy-config>`, TagBadAttribute)
	c.fail(`<delete-config><target><running/></target></delete-config>`, TagInvalidValue)
	c.fail(`<delete-config><target><startup/></target></delete-config>`, TagOperationNotSupported)
}

// refuser is a participant that refuses every change.
type refuser struct{}

func (refuser) Prepare(context.Context, *datastore.Change) error {
	return errors.New("no labels left for VPN instance red")
}
func (refuser) Apply(context.Context, *datastore.Change)          {}
func (refuser) Validate(*datastore.Change) []*datastore.RuleError { return nil }
func (refuser) Abort(context.Context, *datastore.Change)          {}

func TestRefusedCommitChangesNothing(t *testing.T) {
	s := testServer(t, Config{})
	s.store.Register(refuser{}, "/vpn-instances/vpn-instance")
	c := dial(t, s, "admin", true)
	before := s.store.Running()
	commits := len(s.store.Commits())
	c.ok(editCandidate(vpns(vpnXML("red", "65000:1"))))
	e := c.fail("<commit/>", TagOperationFailed)
	if got := e.Child(nsBase, "error-message").TrimText(); got != "no labels left for VPN instance red" {
		t.Fatalf("message %q", got)
	}
	if !s.store.Running().Equal(before) || len(s.store.Commits()) != commits {
		t.Fatal("a refused commit changed running")
	}
	// The candidate keeps the change.
	if !strings.Contains(c.config("candidate", "").String(), "red") {
		t.Fatal("the candidate lost its change")
	}
	// Validation problems come back one rpc-error each, with their paths.
	c.ok("<discard-changes/>")
	c.ok(editCandidate(`<interfaces xmlns="` + nsIf + `"><interface><name>LoopBack1</name><vpn-instance>nowhere</vpn-instance><ipv4><address><ip>10.0.0.1</ip></address></ipv4></interface></interfaces>`))
	r := c.rpc("<validate><source><candidate/></source></validate>")
	var got []string
	for _, e := range r.Children {
		got = append(got, errText(e))
	}
	want := []string{
		"error-type=application error-tag=data-missing error-path=/if:interfaces/if:interface[if:name='LoopBack1']/if:ipv4/if:address[if:ip='10.0.0.1']/if:mask error-message=mandatory mask is missing",
		"error-type=application error-tag=data-missing error-app-tag=instance-required error-path=/if:interfaces/if:interface[if:name='LoopBack1']/if:vpn-instance error-message=the vpn instance nowhere does not exist",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("validate:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r2 := c.rpc("<commit/>"); len(r2.Children) != 2 {
		t.Fatalf("commit errors: %s", r2)
	}
}

func TestLocks(t *testing.T) {
	s := testServer(t, Config{})
	a := dial(t, s, "admin", true)
	b := dial(t, s, "bob", false)
	a.ok("<lock><target><running/></target></lock>")
	e := b.fail("<lock><target><running/></target></lock>", TagLockDenied)
	if got := e.Child(nsBase, "error-info").Child(nsBase, "session-id").TrimText(); got != fmt.Sprint(a.id) {
		t.Fatalf("lock-denied names session %s, want %d", got, a.id)
	}
	// b cannot change running, through edit or commit.
	b.fail(`<edit-config><target><running/></target><config>`+vpns(vpnXML("x", ""))+`</config></edit-config>`, TagInUse)
	b.ok(editCandidate(vpns(vpnXML("x", ""))))
	e = b.fail("<commit/>", TagInUse)
	if got := e.Child(nsBase, "error-info").Child(nsBase, "session-id").TrimText(); got != fmt.Sprint(a.id) {
		t.Fatalf("in-use names session %s", got)
	}
	// Nor can the CLI (a candidate without a session).
	cli := s.store.NewCandidate()
	cli.Tree().Set(datastore.P("system", "sysname"), "CLI")
	if _, err := cli.Commit(context.Background(), "alice", ""); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("locked by NETCONF session %d (user admin)", a.id)) {
		t.Fatalf("CLI commit under a NETCONF lock: %v", err)
	}
	// The candidate lock is refused while b has uncommitted changes.
	e = a.fail("<lock><target><candidate/></target></lock>", TagLockDenied)
	if got := e.Child(nsBase, "error-info").Child(nsBase, "session-id").TrimText(); got != fmt.Sprint(b.id) {
		t.Fatalf("candidate lock-denied names session %s, want %d", got, b.id)
	}
	// And while the CLI session has (its last prompt reported them).
	b.ok("<discard-changes/>")
	cli.Dirty()
	e = a.fail("<lock><target><candidate/></target></lock>", TagLockDenied)
	if got := e.Child(nsBase, "error-info").Child(nsBase, "session-id").TrimText(); got != "0" {
		t.Fatalf("lock-denied for a CLI session names %s, want 0", got)
	}
	cli.Discard()
	a.ok("<lock><target><candidate/></target></lock>")
	// The monitoring data shows the locks.
	st := a.ok(`<get><filter><netconf-state xmlns="` + nsMonitoring + `"><datastores/></netconf-state></filter></get>`).String()
	if !strings.Contains(st, fmt.Sprintf("<locked-by-session>%d</locked-by-session>", a.id)) {
		t.Fatalf("netconf-state: %s", st)
	}
	b.fail("<unlock><target><running/></target></unlock>", TagLockDenied)
	// Killing the holder releases its locks.
	b.ok(fmt.Sprintf("<kill-session><session-id>%d</session-id></kill-session>", a.id))
	if l := s.store.Locks(); len(l) != 0 {
		t.Fatalf("locks after kill-session: %+v", l)
	}
	b.ok("<lock><target><running/></target></lock>")
	b.fail(fmt.Sprintf("<kill-session><session-id>%d</session-id></kill-session>", b.id), TagInvalidValue)
	b.fail("<kill-session><session-id>4242</session-id></kill-session>", TagInvalidValue)
	b.ok("<unlock><target><running/></target></unlock>")
	b.fail("<unlock><target><running/></target></unlock>", TagOperationFailed)
}

// fakeAfter fires timers when the test says so.
type fakeAfter struct {
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (fa *fakeAfter) after(d time.Duration, f func()) func() bool {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	t := &fakeTimer{d: d, f: f}
	fa.timers = append(fa.timers, t)
	return func() bool {
		fa.mu.Lock()
		defer fa.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// fire runs the live timers; it returns their durations.
func (fa *fakeAfter) fire() []time.Duration {
	fa.mu.Lock()
	var live []*fakeTimer
	for _, t := range fa.timers {
		if !t.stopped {
			t.stopped = true
			live = append(live, t)
		}
	}
	fa.mu.Unlock()
	var ds []time.Duration
	for _, t := range live {
		ds = append(ds, t.d)
		t.f()
	}
	return ds
}

func TestConfirmedCommit(t *testing.T) {
	// The confirmed commit is the datastore's commit trial: its timer is
	// the store's.
	store := ownedStore(t)
	fa := &fakeAfter{}
	store.AfterFunc = fa.after
	s := testServer(t, Config{Store: store})
	has := func(name string) bool {
		_, ok := store.Running().Get(datastore.P("vpn-instances", "vpn-instance", datastore.K(name)))
		return ok
	}
	a := dial(t, s, "admin", true)
	b := dial(t, s, "bob", true)

	// Not confirmed: rolled back when the time runs out.
	a.ok(editCandidate(vpns(vpnXML("red", "65000:1"))))
	a.ok("<commit><confirmed/><confirm-timeout>30</confirm-timeout></commit>")
	if !has("red") {
		t.Fatal("confirmed commit not applied")
	}
	// Another session cannot confirm it.
	b.fail("<commit/>", TagInUse)
	if ds := fa.fire(); len(ds) != 1 || ds[0] != 30*time.Second {
		t.Fatalf("timers %v", ds)
	}
	if has("red") {
		t.Fatal("unconfirmed commit not rolled back")
	}
	rec := store.Commits()[0]
	if rec.Description != fmt.Sprintf("rollback of commit trial %d", store.Commits()[1].ID) || rec.Interface != "netconf" {
		t.Fatalf("rollback record %+v", rec)
	}

	// Confirmed by a plain commit of the same session, extended before.
	a.ok(editCandidate(vpns(vpnXML("red", "65000:1"))))
	a.ok("<commit><confirmed/></commit>")
	a.ok(editCandidate(vpns(vpnXML("blue", "65000:2"))))
	a.ok("<commit><confirmed/><confirm-timeout>60</confirm-timeout></commit>")
	a.ok("<commit/>")
	if ds := fa.fire(); len(ds) != 0 {
		t.Fatalf("timers left after confirming: %v", ds)
	}
	if !has("red") || !has("blue") {
		t.Fatal("confirmed configuration lost")
	}

	// cancel-commit rolls back at once (both commits of the window).
	a.ok(editCandidate(vpns(vpnXML("green", "65000:3"))))
	a.ok("<commit><confirmed/></commit>")
	a.ok(editCandidate(vpns(vpnXML("white", "65000:4"))))
	a.ok("<commit><confirmed/></commit>")
	b.fail("<cancel-commit/>", TagInUse)
	a.ok("<cancel-commit/>")
	if has("green") || has("white") || !has("red") {
		t.Fatal("cancel-commit did not roll back the window")
	}
	a.fail("<cancel-commit/>", TagOperationFailed)

	// A session that ends rolls its confirmed commit back...
	c := dial(t, s, "carol", true)
	c.ok(editCandidate(vpns(vpnXML("green", "65000:3"))))
	c.ok("<commit><confirmed/></commit>")
	c.close()
	if has("green") {
		t.Fatal("confirmed commit of a closed session not rolled back")
	}
	// ...unless it persists; then another session confirms with the token.
	d := dial(t, s, "dave", true)
	d.ok(editCandidate(vpns(vpnXML("green", "65000:3"))))
	d.ok("<commit><confirmed/><persist>tok-1</persist></commit>")
	d.close()
	if !has("green") {
		t.Fatal("persistent confirmed commit rolled back with its session")
	}
	b.fail("<commit/>", TagInUse)
	b.fail("<commit><persist-id>wrong</persist-id></commit>", TagInvalidValue)
	b.ok("<commit><persist-id>tok-1</persist-id></commit>")
	if ds := fa.fire(); len(ds) != 0 || !has("green") {
		t.Fatal("persistent confirmed commit not confirmed")
	}
	b.fail("<commit><confirm-timeout>0</confirm-timeout><confirmed/></commit>", TagInvalidValue)
	b.fail("<commit><persist>x</persist></commit>", TagBadElement)
}

func TestMalformedAndProtocolErrors(t *testing.T) {
	s := testServer(t, Config{MaxMessage: 4096})
	c := dial(t, s, "admin", true)
	r := c.raw(`<rpc message-id="1" xmlns="` + nsBase + `"><get-config><source><running/></source></get-config>`)
	e := r.Child(nsBase, "rpc-error")
	if e == nil || e.Child(nsBase, "error-tag").TrimText() != TagMalformedMessage || e.Child(nsBase, "error-type").TrimText() != TypeRPC {
		t.Fatalf("unclosed rpc: %s", r)
	}
	// The message-id is read back from the broken text.
	if id, _ := r.Attr("", "message-id"); id != "1" {
		t.Fatalf("reply to malformed XML without the rpc's message-id: %s", r)
	}
	for _, bad := range []string{"<rpc", "not xml", "<a></b>", `<!DOCTYPE x [<!ENTITY y "z">]><rpc/>`, `<rpc message-id="1" xmlns="` + nsBase + `"><x:get/></rpc>`, "\x00\xff"} {
		r := c.raw(bad)
		if e := r.Child(nsBase, "rpc-error"); e == nil || e.Child(nsBase, "error-tag").TrimText() != TagMalformedMessage {
			t.Fatalf("%q: %s", bad, r)
		}
	}
	// The session goes on.
	c.ok("<get-config><source><running/></source></get-config>")
	// A message over the limit is skipped and answered.
	r = c.raw(`<rpc message-id="9" xmlns="` + nsBase + `">` + strings.Repeat("<x/>", 2000) + `</rpc>`)
	if e := r.Child(nsBase, "rpc-error"); e == nil || e.Child(nsBase, "error-tag").TrimText() != TagTooBig {
		t.Fatalf("too big: %s", r)
	}
	c.ok("<get-config><source><running/></source></get-config>")
	r = c.raw(`<rpc xmlns="` + nsBase + `"><get/></rpc>`)
	if e := r.Child(nsBase, "rpc-error"); e == nil || e.Child(nsBase, "error-tag").TrimText() != TagMissingAttribute {
		t.Fatalf("no message-id: %s", r)
	}
	c.fail("<frobnicate/>", TagOperationNotSupported)
	c.fail(`<get xmlns="urn:example:x"/>`, TagUnknownNamespace)
	c.fail(`<get-config><source><startup/></source></get-config>`, TagOperationNotSupported)
	c.fail(`<get-config/>`, TagMissingElement)
	c.fail(`<get-config><source><running/></source><filter type="regex"/></get-config>`, TagBadAttribute)
	// Attributes of the rpc come back on the reply.
	r = c.raw(`<rpc message-id="77" xmlns="` + nsBase + `" xmlns:ex="urn:example" ex:user="me"><get-config><source><running/></source></get-config></rpc>`)
	if v, _ := r.Attr("urn:example", "user"); v != "me" {
		t.Fatalf("attributes not echoed: %s", r)
	}
	// A base:1.0 session gets operation-failed (malformed-message is 1.1).
	old := dial(t, s, "admin", false)
	r = old.raw("<rpc")
	if e := r.Child(nsBase, "rpc-error"); e == nil || e.Child(nsBase, "error-tag").TrimText() != TagOperationFailed {
		t.Fatalf("base:1.0 malformed: %s", r)
	}
	old.ok("<get-config><source><running/></source></get-config>")
}

func TestGetSchema(t *testing.T) {
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	for _, m := range s.model.Modules {
		r := c.ok(`<get-schema xmlns="` + nsMonitoring + `"><identifier>` + m.Name + `</identifier><version>` + m.Revision + `</version><format>yang</format></get-schema>`)
		if got := r.Child(nsMonitoring, "data").Text; got != m.Text || !strings.HasPrefix(strings.TrimSpace(got), "module "+m.Name) {
			t.Fatalf("get-schema %s: %.100q", m.Name, got)
		}
	}
	c.fail(`<get-schema xmlns="`+nsMonitoring+`"><identifier>ietf-nothing</identifier></get-schema>`, TagInvalidValue)
	c.fail(`<get-schema xmlns="`+nsMonitoring+`"><identifier>vpnos-types</identifier><version>1999-01-01</version></get-schema>`, TagInvalidValue)
	c.fail(`<get-schema xmlns="`+nsMonitoring+`"><identifier>vpnos-types</identifier><format>yin</format></get-schema>`, TagInvalidValue)
	// netconf-state/schemas lists every module.
	r := c.ok(`<get><filter><netconf-state xmlns="` + nsMonitoring + `"><schemas/></netconf-state></filter></get>`)
	n := len(r.Child(nsBase, "data").Child(nsMonitoring, "netconf-state").Child(nsMonitoring, "schemas").Children)
	if n != len(s.model.Modules) {
		t.Fatalf("%d schemas listed, %d modules", n, len(s.model.Modules))
	}
}

// Big documents are served one at a time, and each is served.
func TestBigDocuments(t *testing.T) {
	s := testServer(t, Config{})
	var b strings.Builder
	for i := 0; i < 8000; i++ {
		fmt.Fprintf(&b, `<vpn-instance><name>big%d</name><description>%s</description></vpn-instance>`, i, strings.Repeat("x", 100))
	}
	edit := editCandidate(vpns(b.String()))
	if len(edit) <= bigMessage {
		t.Fatalf("the document is only %d bytes", len(edit))
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		c := dial(t, s, "admin", true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.rpc(edit)
			if r.Child(nsBase, "ok") == nil {
				t.Errorf("big edit: %.300s", r)
			}
			if got := strings.Count(c.config("candidate", "").String(), "<vpn-instance>"); got != 8000 {
				t.Errorf("%d instances in the candidate", got)
			}
		}()
	}
	wg.Wait()
}

// The owners' refusals reach a NETCONF client with the node they are
// about: a rule of the vrf service at commit, one of LDP at validate.
func TestOwnersRefusals(t *testing.T) {
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	c.ok(editCandidate(vpns(vpnXML("red", "65000:1"))))
	c.ok("<commit/>")
	c.ok(editCandidate(vpns(vpnXML("blue", "65000:1"))))
	e := c.fail("<commit/>", TagOperationFailed)
	want := "error-type=application error-tag=operation-failed error-path=/vi:vpn-instances/vi:vpn-instance[vi:name='blue']/vi:ipv4-family/vi:route-distinguisher error-message=The route-distinguisher 65000:1 of VPN instance blue is already used by VPN instance red"
	if got := errText(e); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	c.ok("<discard-changes/>")
	c.ok(editCandidate(`<mpls xmlns="` + nsMPLS + `"><lsr-id>10.255.0.1</lsr-id><ldp/></mpls>`))
	e = c.fail("<validate><source><candidate/></source></validate>", TagOperationFailed)
	want = "error-type=application error-tag=operation-failed error-path=/mpls:mpls/mpls:ldp error-message=MPLS must be enabled globally before LDP is enabled"
	if got := errText(e); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestRDSpellings: route distinguishers and targets are stored in their
// canonical spelling, so that 065000:01 is the RD 65000:1 another instance
// already holds, and a route target written two ways is one target.
func TestRDSpellings(t *testing.T) {
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	c.ok(editCandidate(vpns(vpnXML("red", "65000:1", "65000:100", "65000:0100"))))
	c.ok("<commit/>")
	af := datastore.P("vpn-instances", "vpn-instance", datastore.K("red"), "ipv4-family")
	if n := len(s.store.Running().Entries(af, "vpn-target")); n != 1 {
		t.Fatalf("%d route targets, want one", n)
	}
	c.ok(editCandidate(vpns(vpnXML("blue", "065000:01"))))
	e := c.fail("<commit/>", TagOperationFailed)
	if got := errText(e); !strings.Contains(got, "error-message=The route-distinguisher 65000:1 of VPN instance blue is already used by VPN instance red") {
		t.Fatalf("got %s", got)
	}
	c.ok("<discard-changes/>")
	c.fail(editCandidate(vpns(vpnXML("blue", "0.0.0.0:0"))), TagInvalidValue)
}

// OSPF over NETCONF: an area given as an integer is stored dotted and a
// password in cipher form, as the CLI stores them; the OSPF owner's
// refusals come back with their paths.
func TestOSPFConfig(t *testing.T) {
	const nsOSPF = "urn:vpnos:yang:vpnos-ospf"
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	c.ok(editCandidate(`<ospf xmlns="` + nsOSPF + `"><process><id>1</id><router-id>10.255.0.1</router-id>` +
		`<area><id>1</id><network><address>10.1.0.0</address><wildcard>0.0.255.255</wildcard></network></area></process></ospf>` +
		`<interfaces xmlns="urn:vpnos:yang:vpnos-interfaces"><interface><name>LoopBack0</name>` +
		`<ospf xmlns="` + nsOSPF + `"><authentication-mode><cipher>huawei</cipher></authentication-mode></ospf></interface></interfaces>`))
	c.ok("<commit/>")
	run := s.store.Running()
	if !run.Exists(datastore.P("ospf", "process", datastore.K("1"), "area", datastore.K("0.0.0.1"))) {
		t.Fatalf("area 1 is not 0.0.0.1 in running: %v", run.Items())
	}
	cipher, _ := run.Get(datastore.P("interfaces", "interface", datastore.K("LoopBack0"), "ospf", "authentication-mode", "cipher"))
	if pw, err := schema.PlainPassword(cipher); err != nil || pw != "huawei" {
		t.Fatalf("password stored as %q (%q, %v)", cipher, pw, err)
	}
	c.ok(editCandidate(`<ospf xmlns="` + nsOSPF + `"><process><id>1</id>` +
		`<area><id>0.0.0.2</id><network><address>10.1.0.0</address><wildcard>0.0.255.255</wildcard></network></area></process></ospf>`))
	e := c.fail("<commit/>", TagOperationFailed)
	want := "error-type=application error-tag=operation-failed error-path=/ospf:ospf/ospf:process[ospf:id='1']/ospf:area[ospf:id='0.0.0.2']/ospf:network[ospf:address='10.1.0.0'][ospf:wildcard='0.0.255.255'] error-message=The network 10.1.0.0 0.0.255.255 of OSPF process 1 is already in area 0.0.0.1"
	if got := errText(e); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
