package netconf

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vpnos/yang/datastore"
)

// session is one NETCONF session: its own candidate, served by one
// goroutine, one request at a time (RFC 6241 §4.1: replies in order).
type session struct {
	srv    *Server
	id     uint32
	user   string
	remote string
	login  time.Time
	rw     io.ReadWriteCloser
	r      *Reader
	w      *Writer
	cand   *datastore.Candidate
	base11 bool
	stats  struct{ inRPCs, inBadRPCs, outErrors atomic.Uint32 }

	killed    atomic.Bool
	closeOnce sync.Once
	cancel    context.CancelFunc
}

func newSession(s *Server, id uint32, rw io.ReadWriteCloser, user, remote string) *session {
	return &session{srv: s, id: id, user: user, remote: remote, login: time.Now(), rw: rw,
		r: NewReader(rw, s.cfg.MaxMessage), w: NewWriter(rw)}
}

// origin is the session as the datastore knows it.
func (ss *session) origin() datastore.Origin {
	return datastore.Origin{Session: ss.id, User: ss.user, Interface: "netconf"}
}

// kill ends the session from outside (kill-session, idle timeout).
func (ss *session) kill(why string) {
	ss.killed.Store(true)
	ss.closeOnce.Do(func() {
		ss.srv.log.Info("netconf session killed", "session", ss.id, "why", why)
		if ss.cancel != nil {
			ss.cancel()
		}
		ss.rw.Close()
	})
}

func (ss *session) hello() []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	h := Elem(nsBase, "hello")
	caps := Elem(nsBase, "capabilities")
	for _, c := range ss.srv.caps {
		caps.Add(Leaf(nsBase, "capability", c))
	}
	h.Add(caps, Leaf(nsBase, "session-id", strconv.FormatUint(uint64(ss.id), 10)))
	h.Write(&b, "")
	return b.Bytes()
}

// readHello reads and checks the client's hello.
func (ss *session) readHello() error {
	msg, err := ss.r.ReadMessage()
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	x, err := Parse(msg)
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if x.Space != nsBase || x.Local != "hello" {
		return fmt.Errorf("hello: got <%s> in %q", x.Local, x.Space)
	}
	if x.Child(nsBase, "session-id") != nil {
		return errors.New("hello: a client hello carries no session-id")
	}
	caps := x.Child(nsBase, "capabilities")
	if caps == nil {
		return errors.New("hello: no capabilities")
	}
	var b10, b11 bool
	for _, c := range caps.Children {
		if c.Space != nsBase || c.Local != "capability" {
			continue
		}
		switch c.TrimText() {
		case CapBase10:
			b10 = true
		case CapBase11:
			b11 = true
		}
	}
	if !b10 && !b11 {
		return errors.New("hello: the client supports neither base:1.0 nor base:1.1")
	}
	ss.base11 = b11
	return nil
}

// run serves the session until it ends.
func (ss *session) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	ss.cancel = cancel
	defer cancel()
	// Closing the transport ends a blocked read when ctx ends.
	stop := context.AfterFunc(ctx, func() { ss.closeOnce.Do(func() { ss.rw.Close() }) })
	defer stop()
	ss.cand = ss.srv.store.NewCandidate()
	ss.cand.SetOrigin(ss.origin())
	defer func() {
		// What a session leaves behind: its locks, its confirmed commit
		// (unless persistent) and its candidate.
		bg := context.WithoutCancel(ctx)
		ss.srv.store.ReleaseLocks(ss.id)
		ss.srv.confirm.SessionEnded(bg, ss.id)
		ss.cand.Close()
	}()

	if err := ss.w.WriteMessage(ss.hello()); err != nil {
		return err
	}
	helloTimer := time.AfterFunc(ss.srv.cfg.HelloTimeout, func() { ss.kill("no hello in time") })
	err := ss.readHello()
	helloTimer.Stop()
	if err != nil {
		ss.srv.stats.badHellos.Add(1)
		ss.srv.log.Warn("netconf session without a valid hello", "session", ss.id, "remote", ss.remote, "err", err)
		return err
	}
	if ss.base11 {
		ss.r.SetChunked()
		ss.w.SetChunked()
	}
	ss.srv.log.Info("netconf session started", "session", ss.id, "user", ss.user, "remote", ss.remote, "base", map[bool]string{false: "1.0", true: "1.1"}[ss.base11])

	var idle *time.Timer
	if d := ss.srv.cfg.IdleTimeout; d > 0 {
		idle = time.AfterFunc(d, func() { ss.kill("idle timeout") })
		defer idle.Stop()
	}
	for {
		msg, err := ss.r.ReadMessage()
		if idle != nil {
			idle.Stop()
		}
		switch {
		case errors.Is(err, ErrTooBig):
			ss.countBad()
			e := rpcErr(TypeRPC, TagTooBig, fmt.Sprintf("the message is larger than %d bytes and was not read", ss.srv.cfg.MaxMessage))
			if werr := ss.reply(nil, nil, Errors{e}); werr != nil {
				return werr
			}
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			if ss.killed.Load() || ctx.Err() != nil {
				return nil
			}
			return err
		default:
			if err := ss.handle(ctx, msg); err != nil {
				return err
			}
		}
		if idle != nil {
			idle.Reset(ss.srv.cfg.IdleTimeout)
		}
	}
}

func (ss *session) countBad() {
	ss.stats.inBadRPCs.Add(1)
	ss.srv.stats.inBadRPCs.Add(1)
}

// handle answers one message. It returns an error only to end the session.
func (ss *session) handle(ctx context.Context, msg []byte) error {
	if len(msg) > bigMessage {
		// One big document at a time: parsing one takes several times its
		// size in memory, and the daemon's memory is everyone's.
		select {
		case ss.srv.big <- struct{}{}:
			defer func() { <-ss.srv.big }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	x, err := Parse(msg)
	if err != nil {
		ss.countBad()
		tag := TagMalformedMessage
		if !ss.base11 {
			// malformed-message is new in base:1.1 (RFC 6241 Appendix A).
			tag = TagOperationFailed
		}
		// The client can match the error to its request when the rpc's
		// message-id can still be read.
		var rpc *Node
		if id, ok := scanMessageID(msg); ok {
			rpc = &Node{Attrs: []xml.Attr{{Name: xml.Name{Local: "message-id"}, Value: id}}}
		}
		return ss.reply(rpc, nil, Errors{rpcErr(TypeRPC, tag, err.Error())})
	}
	if x.Local != "rpc" || x.Space != nsBase {
		ss.countBad()
		if x.Local == "hello" && x.Space == nsBase {
			return errors.New("a second hello")
		}
		e := rpcErr(TypeRPC, TagUnknownElement, fmt.Sprintf("expected <rpc>, got <%s>", x.Local), InfoItem{"bad-element", x.Local})
		if x.Space != nsBase {
			e = rpcErr(TypeRPC, TagUnknownNamespace, fmt.Sprintf("expected <rpc> in %s", nsBase), InfoItem{"bad-element", x.Local}, InfoItem{"bad-namespace", x.Space})
		}
		return ss.reply(nil, nil, Errors{e})
	}
	if _, ok := x.Attr("", "message-id"); !ok {
		ss.countBad()
		return ss.reply(x, nil, Errors{rpcErr(TypeRPC, TagMissingAttribute, "an rpc needs a message-id",
			InfoItem{"bad-attribute", "message-id"}, InfoItem{"bad-element", "rpc"})})
	}
	if len(x.Children) != 1 || strings.TrimSpace(x.Text) != "" {
		ss.countBad()
		tag, msg := TagMissingElement, "an rpc holds one operation"
		if len(x.Children) > 1 {
			tag, msg = TagBadElement, "an rpc holds only one operation"
		}
		return ss.reply(x, nil, Errors{rpcErr(TypeRPC, tag, msg, InfoItem{"bad-element", "rpc"})})
	}
	ss.stats.inRPCs.Add(1)
	ss.srv.stats.inRPCs.Add(1)
	res := ss.dispatch(ctx, x.Children[0])
	if err := ss.reply(x, res.data, res.errs); err != nil {
		return err
	}
	if res.close {
		return errClosed
	}
	return nil
}

// result is what an operation answers.
type result struct {
	data  []*Node // children of rpc-reply; <ok/> when none and no errors
	errs  Errors
	close bool
}

// reply sends an rpc-reply with the rpc's attributes (RFC 6241 §4.2).
func (ss *session) reply(rpc *Node, data []*Node, errs Errors) error {
	var b bytes.Buffer
	r := Elem(nsBase, "rpc-reply")
	if rpc != nil {
		r.Attrs = rpc.Attrs
	}
	if len(errs) > 0 {
		ss.stats.outErrors.Add(1)
		ss.srv.stats.outErrors.Add(1)
		for _, e := range errs {
			r.Add(e.node())
		}
	} else if len(data) == 0 {
		r.Add(Elem(nsBase, "ok"))
	} else {
		r.Add(data...)
	}
	r.Write(&b, "")
	return ss.w.WriteMessage(b.Bytes())
}

// messageIDRe finds the message-id of an rpc start tag in a document that
// does not parse.
var messageIDRe = regexp.MustCompile(`^\s*(?:<\?xml[^>]*\?>\s*)?<(?:[A-Za-z_][-.\w]*:)?rpc\s[^<>]*?\bmessage-id\s*=\s*(?:"([^"<&]*)"|'([^'<&]*)')`)

func scanMessageID(msg []byte) (string, bool) {
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	m := messageIDRe.FindSubmatch(msg)
	if m == nil {
		return "", false
	}
	if m[1] != nil {
		return string(m[1]), true
	}
	return string(m[2]), true
}
