package netconf

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// bufConn is a transport that keeps what the server writes.
type bufConn struct{ bytes.Buffer }

func (*bufConn) Read([]byte) (int, error) { return 0, nil }
func (*bufConn) Close() error             { return nil }

// FuzzRPC hands arbitrary messages to a session: it never panics, always
// answers with one well-formed rpc-reply, and the running configuration
// only changes through a commit that validated.
func FuzzRPC(f *testing.F) {
	for _, seed := range []string{
		`<rpc message-id="1" xmlns="` + nsBase + `"><get-config><source><running/></source></get-config></rpc>`,
		`<rpc message-id="2" xmlns="` + nsBase + `">` + editCandidate(vpns(vpnXML("red", "65000:1", "65000:100"))) + `</rpc>`,
		`<rpc message-id="3" xmlns="` + nsBase + `"><edit-config><target><running/></target><default-operation>none</default-operation><config>` +
			vpns(`<vpn-instance xmlns:nc="`+nsBase+`" nc:operation="delete"><name>red</name></vpn-instance>`) + `</config></edit-config></rpc>`,
		`<rpc message-id="4" xmlns="` + nsBase + `"><commit><confirmed/><confirm-timeout>5</confirm-timeout></commit></rpc>`,
		`<rpc message-id="5" xmlns="` + nsBase + `"><get><filter type="xpath" select="//name"/></get></rpc>`,
		`<rpc message-id="6" xmlns="` + nsBase + `"><get-config><source><candidate/></source><filter>` + vpns(`<vpn-instance><name>red</name></vpn-instance>`) + `</filter></get-config></rpc>`,
		`<rpc message-id="7" xmlns="` + nsBase + `"><lock><target><candidate/></target></lock></rpc>`,
		`<rpc message-id="8" xmlns="` + nsBase + `"><get-schema xmlns="` + nsMonitoring + `"><identifier>vpnos-types</identifier></get-schema></rpc>`,
		`<rpc message-id="9" xmlns="` + nsBase + `"><copy-config><target><candidate/></target><source><config>` + filterConfig + `</config></source></copy-config></rpc>`,
		`<rpc message-id="10"`, `<hello/>`, `<x:rpc xmlns:x="urn:x"/>`,
	} {
		f.Add([]byte(seed))
	}
	s := testServer(f, Config{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		conn := &bufConn{}
		ss := newSession(s, s.store.NewSessionID(), conn, "fuzz", "")
		ss.base11 = true
		ss.w.SetChunked()
		ss.cand = s.store.NewCandidate()
		ss.cand.SetOrigin(ss.origin())
		defer func() {
			s.store.ReleaseLocks(ss.id)
			s.confirm.SessionEnded(context.Background(), ss.id)
			ss.cand.Close()
		}()
		before := s.store.Running()
		commits := len(s.store.Commits())
		if err := ss.handle(context.Background(), msg); err != nil && err != errClosed {
			if bytes.Contains(msg, []byte("hello")) {
				return // a second hello ends the session
			}
			t.Fatalf("session ended: %v", err)
		}
		r := NewReader(&conn.Buffer, 0)
		r.SetChunked()
		reply, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("no reply: %v", err)
		}
		x, err := Parse(reply)
		if err != nil || x.Local != "rpc-reply" {
			t.Fatalf("bad reply %q: %v", reply, err)
		}
		if len(s.store.Commits()) == commits && !s.store.Running().Equal(before) {
			t.Fatal("running changed without a commit")
		}
		if errs := s.store.Validate(nil, s.store.Running()); len(errs) > 0 && len(s.store.Commits()) != commits {
			t.Fatalf("a commit made running invalid: %v", errs)
		}
	})
}

// FuzzParse checks the XML parser: no panic, and a parsed document
// serializes to a document that parses to the same text again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`<a xmlns="urn:x" xmlns:p="urn:p" p:at="1"><b>t&amp;</b><p:c/></a>`))
	f.Add([]byte(`<?xml version="1.0"?><a><![CDATA[x]]><!-- c --></a>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := Parse(b)
		if err != nil {
			return
		}
		s1 := x.String()
		y, err := Parse([]byte(s1))
		if err != nil {
			t.Fatalf("reparse of %q: %v", s1, err)
		}
		if s2 := y.String(); s2 != s1 {
			t.Fatalf("not stable:\n%s\n%s", s1, s2)
		}
	})
}

// TestParseRefusesBadLocalNames: a prefixed name whose local part is no XML
// name (p:0) is refused, as the same name without its prefix is.
func TestParseRefusesBadLocalNames(t *testing.T) {
	for _, doc := range []string{
		`<a xmlns:p="urn:p"><p:0/></a>`,
		`<a xmlns:p="urn:p" p:1x="v"/>`,
		`<0/>`,
	} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want malformed XML", doc, err)
		}
	}
	if _, err := Parse([]byte(`<a xmlns:p="urn:p" p:_x="v"><p:b-1/></a>`)); err != nil {
		t.Errorf("valid names refused: %v", err)
	}
}
