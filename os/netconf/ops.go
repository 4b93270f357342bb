package netconf

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vpnos/yang/datastore"
)

// dispatch runs one operation.
func (ss *session) dispatch(ctx context.Context, op *Node) result {
	if op.Space == nsMonitoring && op.Local == "get-schema" {
		d, errs := ss.srv.getSchema(op)
		if errs != nil {
			return result{errs: errs}
		}
		return result{data: []*Node{d}}
	}
	if op.Space == nsCommit {
		return ss.commitLogOp(ctx, op)
	}
	if op.Space != nsBase {
		return errResult(rpcErr(TypeProtocol, TagUnknownNamespace, fmt.Sprintf("no operation %s in namespace %q", op.Local, op.Space),
			InfoItem{"bad-element", op.Local}, InfoItem{"bad-namespace", op.Space}))
	}
	switch op.Local {
	case "get":
		return ss.get(ctx, op)
	case "get-config":
		return ss.getConfig(op)
	case "edit-config":
		return ss.editConfig(ctx, op)
	case "copy-config":
		return ss.copyConfig(ctx, op)
	case "delete-config":
		return ss.deleteConfig(op)
	case "lock":
		return ss.lock(op, true)
	case "unlock":
		return ss.lock(op, false)
	case "commit":
		return ss.commit(ctx, op)
	case "cancel-commit":
		return ss.cancelCommit(ctx, op)
	case "discard-changes":
		ss.cand.Discard()
		return result{}
	case "validate":
		return ss.validate(op)
	case "close-session":
		return result{close: true}
	case "kill-session":
		return ss.killSession(ctx, op)
	}
	return errResult(rpcErr(TypeProtocol, TagOperationNotSupported, fmt.Sprintf("the operation %s is not supported", op.Local),
		InfoItem{"bad-element", op.Local}))
}

func errResult(es ...*RPCError) result { return result{errs: es} }

// datastoreRef reads <source> or <target>: one of the named datastores, or
// <config> when inline is allowed.
func datastoreRef(op *Node, which string, allowed ...string) (string, *Node, *RPCError) {
	w := op.Child(nsBase, which)
	if w == nil {
		return "", nil, rpcErr(TypeProtocol, TagMissingElement, fmt.Sprintf("%s needs a <%s>", op.Local, which), InfoItem{"bad-element", which})
	}
	if len(w.Children) != 1 {
		return "", nil, rpcErr(TypeProtocol, TagBadElement, fmt.Sprintf("<%s> names one datastore", which), InfoItem{"bad-element", which})
	}
	c := w.Children[0]
	if c.Space != nsBase {
		return "", nil, rpcErr(TypeProtocol, TagUnknownNamespace, fmt.Sprintf("%s is not a datastore", c.Local),
			InfoItem{"bad-element", c.Local}, InfoItem{"bad-namespace", c.Space})
	}
	for _, a := range allowed {
		if c.Local == a {
			return a, c, nil
		}
	}
	if c.Local == "url" || c.Local == "startup" {
		return "", nil, rpcErr(TypeProtocol, TagOperationNotSupported, fmt.Sprintf("the %s datastore is not supported", c.Local), InfoItem{"bad-element", c.Local})
	}
	return "", nil, rpcErr(TypeProtocol, TagBadElement, fmt.Sprintf("%s is not a %s of %s", c.Local, which, op.Local), InfoItem{"bad-element", c.Local})
}

// tree returns the named datastore's tree as this session sees it.
func (ss *session) tree(name string) *datastore.Tree {
	if name == datastore.DatastoreCandidate {
		ss.cand.Sync()
		return ss.cand.Tree()
	}
	return ss.srv.store.Running()
}

// filter reads a <filter> (nil: everything).
type filterSpec struct {
	subtree *Node
	xpath   string
	ns      map[string]string
}

func readFilter(op *Node) (*filterSpec, *RPCError) {
	f := op.Child(nsBase, "filter")
	if f == nil {
		return nil, nil
	}
	typ, _ := f.Attr("", "type")
	if typ == "" {
		typ, _ = f.Attr(nsBase, "type")
	}
	switch typ {
	case "", "subtree":
		return &filterSpec{subtree: f}, nil
	case "xpath":
		sel, ok := f.Attr("", "select")
		if !ok {
			sel, ok = f.Attr(nsBase, "select")
		}
		if !ok {
			return nil, rpcErr(TypeProtocol, TagMissingAttribute, "an xpath filter needs a select attribute",
				InfoItem{"bad-attribute", "select"}, InfoItem{"bad-element", "filter"})
		}
		return &filterSpec{xpath: sel, ns: f.Namespaces()}, nil
	}
	return nil, rpcErr(TypeProtocol, TagBadAttribute, fmt.Sprintf("filter type %q is not supported", typ),
		InfoItem{"bad-attribute", "type"}, InfoItem{"bad-element", "filter"})
}

// apply filters data.
func (f *filterSpec) apply(data []*Node) ([]*Node, *RPCError) {
	switch {
	case f == nil:
		return data, nil
	case f.subtree != nil:
		return FilterSubtree(data, f.subtree), nil
	}
	return FilterXPath(data, f.xpath, f.ns)
}

// wants tells whether the filter may select top-level element ns:name
// (so that <get> computes only the state asked for).
func (f *filterSpec) wants(ns, name string) bool {
	if f == nil || f.subtree == nil {
		return true
	}
	for _, c := range f.subtree.Children {
		if c.Local == name && (c.Space == "" || c.Space == nsBase || c.Space == ns) {
			return true
		}
	}
	return false
}

func (ss *session) getConfig(op *Node) result {
	src, _, re := datastoreRef(op, "source", datastore.DatastoreRunning, datastore.DatastoreCandidate)
	if re != nil {
		return errResult(re)
	}
	f, re := readFilter(op)
	if re != nil {
		return errResult(re)
	}
	data, re := f.apply(ss.srv.model.Encode(ss.tree(src)))
	if re != nil {
		return errResult(re)
	}
	return result{data: []*Node{Elem(nsBase, "data", data...)}}
}

func (ss *session) get(ctx context.Context, op *Node) result {
	f, re := readFilter(op)
	if re != nil {
		return errResult(re)
	}
	data := ss.srv.model.Encode(ss.srv.store.Running())
	if st := ss.srv.cfg.State; st != nil && f.wants(nsState, "state") {
		want := stateParts{interfaces: true, instances: true, routes: true}
		if f != nil && f.subtree != nil {
			// Only the parts the filter names (all when it names none).
			var named []*Node
			for _, c := range f.subtree.Children {
				if c.Local == "state" && (c.Space == "" || c.Space == nsBase || c.Space == nsState) {
					named = append(named, c.Children...)
				}
			}
			if len(named) > 0 {
				want = stateParts{}
				for _, c := range named {
					switch c.Local {
					case "interfaces":
						want.interfaces = true
					case "vpn-instances":
						want.instances = true
					case "routing-tables":
						want.routes = true
					}
				}
			}
		}
		n, err := encodeState(ctx, st, want)
		if err != nil {
			return errResult(rpcErr(TypeApplication, TagOperationFailed, "state: "+err.Error()))
		}
		data = append(data, n)
	}
	if f.wants(nsMonitoring, "netconf-state") {
		data = append(data, ss.srv.netconfState())
	}
	data, re = f.apply(data)
	if re != nil {
		return errResult(re)
	}
	return result{data: []*Node{Elem(nsBase, "data", data...)}}
}

// editOptions reads default-operation and error-option.
func editOptions(op *Node) (EditOptions, *RPCError) {
	o := EditOptions{Default: OpMerge}
	if d := op.Child(nsBase, "default-operation"); d != nil {
		switch d.TrimText() {
		case "merge":
		case "replace":
			o.Default = OpReplace
		case "none":
			o.Default = OpNone
		default:
			return o, rpcErr(TypeProtocol, TagInvalidValue, fmt.Sprintf("default-operation %q is not merge, replace or none", d.TrimText()), InfoItem{"bad-element", "default-operation"})
		}
	}
	if e := op.Child(nsBase, "error-option"); e != nil {
		switch e.TrimText() {
		case "stop-on-error":
		case "continue-on-error":
			o.OnError = ContinueOnError
		case "rollback-on-error":
			o.OnError = RollbackOnError
		default:
			return o, rpcErr(TypeProtocol, TagInvalidValue, fmt.Sprintf("error-option %q is not stop-on-error, continue-on-error or rollback-on-error", e.TrimText()), InfoItem{"bad-element", "error-option"})
		}
	}
	return o, nil
}

// testOption reads test-option: test-then-set (default), set, test-only.
func testOption(op *Node) (string, *RPCError) {
	t := op.Child(nsBase, "test-option")
	if t == nil {
		return "test-then-set", nil
	}
	switch v := t.TrimText(); v {
	case "test-then-set", "set", "test-only":
		return v, nil
	default:
		return "", rpcErr(TypeProtocol, TagInvalidValue, fmt.Sprintf("test-option %q is not test-then-set, set or test-only", v), InfoItem{"bad-element", "test-option"})
	}
}

// lockedByOther refuses a change to a datastore another session locked.
func (ss *session) lockedByOther(ds string) *RPCError {
	for _, l := range ss.srv.store.Locks() {
		if l.Datastore == ds && l.Holder.Session != ss.id {
			return lockedError(&datastore.LockError{Datastore: ds, Holder: l.Holder})
		}
	}
	return nil
}

func (ss *session) editConfig(ctx context.Context, op *Node) result {
	target, _, re := datastoreRef(op, "target", datastore.DatastoreRunning, datastore.DatastoreCandidate)
	if re != nil {
		return errResult(re)
	}
	o, re := editOptions(op)
	if re != nil {
		return errResult(re)
	}
	test, re := testOption(op)
	if re != nil {
		return errResult(re)
	}
	config := op.Child(nsBase, "config")
	if config == nil {
		if op.Child(nsBase, "url") != nil {
			return errResult(rpcErr(TypeProtocol, TagOperationNotSupported, "edit-config from a URL is not supported", InfoItem{"bad-element", "url"}))
		}
		return errResult(rpcErr(TypeProtocol, TagMissingElement, "edit-config needs a <config>", InfoItem{"bad-element", "config"}))
	}
	if re := ss.lockedByOther(target); re != nil {
		return errResult(re)
	}
	if target == datastore.DatastoreCandidate && test != "test-only" {
		errs := ss.srv.model.Edit(ss.tree(target), config, o)
		ss.cand.Dirty()
		return result{errs: errs}
	}
	// On a copy: test-only, or running (committed at once).
	tmp := ss.srv.store.NewCandidate()
	defer tmp.Close()
	if target == datastore.DatastoreCandidate {
		tmp.Replace(ss.tree(target).Clone())
	}
	errs := ss.srv.model.Edit(tmp.Tree(), config, o)
	if len(errs) > 0 && o.OnError != ContinueOnError {
		return result{errs: errs}
	}
	if test == "test-only" {
		if verrs := ss.srv.store.Validate(ss.srv.store.Running(), tmp.Tree()); len(verrs) > 0 {
			errs = append(errs, ss.mapErr(&datastore.ValidationError{Errs: verrs})...)
		}
		return result{errs: errs}
	}
	if _, err := tmp.Commit(datastore.WithOrigin(ctx, ss.origin()), ss.user, ""); err != nil && !errors.Is(err, datastore.ErrNoChange) {
		errs = append(errs, ss.mapErr(err)...)
	}
	return result{errs: errs}
}

func (ss *session) copyConfig(ctx context.Context, op *Node) result {
	target, _, re := datastoreRef(op, "target", datastore.DatastoreRunning, datastore.DatastoreCandidate)
	if re != nil {
		return errResult(re)
	}
	src, srcNode, re := datastoreRef(op, "source", datastore.DatastoreRunning, datastore.DatastoreCandidate, "config")
	if re != nil {
		return errResult(re)
	}
	if src == target {
		return errResult(rpcErr(TypeProtocol, TagInvalidValue, "source and target are the same datastore", InfoItem{"bad-element", "target"}))
	}
	var t *datastore.Tree
	if src == "config" {
		var errs Errors
		if t, errs = ss.srv.model.Decode(srcNode); len(errs) > 0 {
			return result{errs: errs}
		}
	} else {
		t = ss.tree(src).Clone()
	}
	if re := ss.lockedByOther(target); re != nil {
		return errResult(re)
	}
	if target == datastore.DatastoreCandidate {
		ss.cand.Sync()
		ss.cand.Replace(t)
		ss.cand.Dirty()
		return result{}
	}
	tmp := ss.srv.store.NewCandidate()
	defer tmp.Close()
	tmp.Replace(t)
	if _, err := tmp.Commit(datastore.WithOrigin(ctx, ss.origin()), ss.user, ""); err != nil && !errors.Is(err, datastore.ErrNoChange) {
		return result{errs: ss.mapErr(err)}
	}
	return result{}
}

func (ss *session) deleteConfig(op *Node) result {
	target, _, re := datastoreRef(op, "target", datastore.DatastoreRunning, datastore.DatastoreCandidate)
	if re != nil {
		return errResult(re)
	}
	return errResult(rpcErr(TypeProtocol, TagInvalidValue,
		fmt.Sprintf("the %s configuration cannot be deleted (delete-config takes startup or url, which this server does not have)", target),
		InfoItem{"bad-element", target}))
}

func (ss *session) lock(op *Node, take bool) result {
	target, _, re := datastoreRef(op, "target", datastore.DatastoreRunning, datastore.DatastoreCandidate)
	if re != nil {
		return errResult(re)
	}
	var err error
	if take {
		err = ss.srv.store.Lock(target, ss.origin())
	} else {
		err = ss.srv.store.Unlock(target, ss.id)
	}
	var le *datastore.LockError
	switch {
	case err == nil:
		return result{}
	case errors.As(err, &le) && take:
		e := rpcErr(TypeProtocol, TagLockDenied, err.Error(), InfoItem{"session-id", strconv.FormatUint(uint64(le.Holder.Session), 10)})
		return errResult(e)
	case errors.As(err, &le):
		return errResult(rpcErr(TypeProtocol, TagLockDenied, err.Error(), InfoItem{"session-id", strconv.FormatUint(uint64(le.Holder.Session), 10)}))
	}
	return errResult(rpcErr(TypeProtocol, TagOperationFailed, err.Error()))
}

func (ss *session) commit(ctx context.Context, op *Node) result {
	o := CommitOptions{Origin: ss.origin()}
	if op.Child(nsBase, "confirmed") != nil {
		o.Confirmed = true
	}
	if t := op.Child(nsBase, "confirm-timeout"); t != nil {
		n, err := strconv.ParseUint(t.TrimText(), 10, 32)
		if err != nil || n == 0 {
			return errResult(rpcErr(TypeProtocol, TagInvalidValue, fmt.Sprintf("confirm-timeout %q is not a number of seconds from 1 to 4294967295", t.TrimText()), InfoItem{"bad-element", "confirm-timeout"}))
		}
		o.Timeout = time.Duration(n) * time.Second
	}
	if p := op.Child(nsBase, "persist"); p != nil {
		o.Persist = p.TrimText()
	}
	if p := op.Child(nsBase, "persist-id"); p != nil {
		id := p.TrimText()
		o.PersistID = &id
	}
	// vpnos-commit: the rollback point's label and description.
	if l := op.Child(nsCommit, "label"); l != nil {
		o.Label = l.TrimText()
		if err := datastore.CheckLabel(o.Label); err != nil {
			return errResult(rpcErr(TypeProtocol, TagInvalidValue, err.Error(), InfoItem{"bad-element", "label"}))
		}
	}
	if d := op.Child(nsCommit, "description"); d != nil {
		o.Description = d.TrimText()
	}
	if !o.Confirmed && (o.Persist != "" || op.Child(nsBase, "confirm-timeout") != nil) {
		return errResult(rpcErr(TypeProtocol, TagBadElement, "confirm-timeout and persist go with <confirmed/>", InfoItem{"bad-element", "confirmed"}))
	}
	if re := ss.lockedByOther(datastore.DatastoreRunning); re != nil {
		return errResult(re)
	}
	ss.cand.Sync()
	if _, err := ss.srv.confirm.Commit(ctx, ss.cand, o); err != nil {
		return result{errs: ss.mapErr(err)}
	}
	return result{}
}

func (ss *session) cancelCommit(ctx context.Context, op *Node) result {
	var pid *string
	if p := op.Child(nsBase, "persist-id"); p != nil {
		id := p.TrimText()
		pid = &id
	}
	if err := ss.srv.confirm.Cancel(ctx, ss.origin(), pid); err != nil {
		return result{errs: ss.mapErr(err)}
	}
	return result{}
}

func (ss *session) validate(op *Node) result {
	src, srcNode, re := datastoreRef(op, "source", datastore.DatastoreRunning, datastore.DatastoreCandidate, "config")
	if re != nil {
		return errResult(re)
	}
	var t *datastore.Tree
	if src == "config" {
		var errs Errors
		if t, errs = ss.srv.model.Decode(srcNode); len(errs) > 0 {
			return result{errs: errs}
		}
	} else {
		t = ss.tree(src)
	}
	if errs := ss.srv.store.Validate(ss.srv.store.Running(), t); len(errs) > 0 {
		return result{errs: ss.mapErr(&datastore.ValidationError{Errs: errs})}
	}
	return result{}
}

func (ss *session) killSession(ctx context.Context, op *Node) result {
	x := op.Child(nsBase, "session-id")
	if x == nil {
		return errResult(rpcErr(TypeProtocol, TagMissingElement, "kill-session needs a session-id", InfoItem{"bad-element", "session-id"}))
	}
	id, err := strconv.ParseUint(x.TrimText(), 10, 32)
	if err != nil || id == 0 {
		return errResult(rpcErr(TypeProtocol, TagInvalidValue, fmt.Sprintf("%q is not a session id", x.TrimText()), InfoItem{"bad-element", "session-id"}))
	}
	if uint32(id) == ss.id {
		return errResult(rpcErr(TypeProtocol, TagInvalidValue, "a session cannot kill itself: use close-session", InfoItem{"bad-element", "session-id"}))
	}
	target := ss.srv.session(uint32(id))
	if target == nil {
		return errResult(rpcErr(TypeProtocol, TagInvalidValue, fmt.Sprintf("no session %d", id), InfoItem{"bad-element", "session-id"}))
	}
	target.kill(fmt.Sprintf("kill-session by session %d", ss.id))
	// What the killed session held is released before the reply.
	ss.srv.store.ReleaseLocks(target.id)
	ss.srv.confirm.SessionEnded(context.WithoutCancel(ctx), target.id)
	return result{}
}

// lockedError is a change refused by another session's lock.
func lockedError(le *datastore.LockError) *RPCError {
	return rpcErr(TypeProtocol, TagInUse, le.Error(), InfoItem{"session-id", strconv.FormatUint(uint64(le.Holder.Session), 10)})
}

// mapErr turns a datastore error into rpc-errors: one per validation
// problem, with the path of the node in error when the message has one.
func (ss *session) mapErr(err error) Errors {
	var le *datastore.LockError
	var ve *datastore.ValidationError
	var ce *ConfirmError
	var lbe *datastore.LabelError
	var cfe *datastore.ConflictError
	switch {
	case errors.As(err, &cfe):
		// Another session committed changes to what this session changed.
		var out Errors
		for _, x := range cfe.Errs {
			out = append(out, ss.srv.model.validationError(x))
		}
		for _, c := range cfe.Conflicts {
			msg := "another session changed this node after this session did; discard-changes drops this session's changes"
			if c.ID != 0 {
				msg = fmt.Sprintf("user %s changed this node in commit %d after this session did; discard-changes drops this session's changes", c.User, c.ID)
			}
			e := rpcErr(TypeApplication, TagOperationFailed, msg)
			ss.srv.model.setPath(e, c.Path)
			out = append(out, e)
		}
		return out
	case errors.As(err, &le):
		return Errors{lockedError(le)}
	case errors.As(err, &lbe):
		return Errors{rpcErr(TypeApplication, TagInvalidValue, lbe.Error(), InfoItem{"bad-element", "label"})}
	case errors.As(err, &ce):
		e := rpcErr(TypeProtocol, ce.Tag, ce.Msg)
		if ce.Session != 0 && ce.Tag == TagInUse {
			e.Info = append(e.Info, InfoItem{"session-id", strconv.FormatUint(uint64(ce.Session), 10)})
		}
		return Errors{e}
	case errors.As(err, &ve):
		var out Errors
		for _, x := range ve.Errs {
			out = append(out, ss.srv.model.validationError(x))
		}
		return out
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "commit refused: ")
	return Errors{ss.srv.model.validationError(errors.New(msg))}
}

// validationError is one problem the datastore found.
func (m *Model) validationError(err error) *RPCError {
	e := rpcErr(TypeApplication, TagOperationFailed, err.Error())
	var re *datastore.RuleError
	if errors.As(err, &re) {
		// An owner's refusal (or the datastore's, of a node nobody
		// supports): its node and its sentence.
		if re.Unsupported {
			e.Tag = TagOperationNotSupported
		}
		m.setPath(e, re.Path)
		e.Message = re.Msg
		return e
	}
	var mr *datastore.MissingRef
	if errors.As(err, &mr) {
		e.Tag, e.AppTag = TagDataMissing, "instance-required"
	} else if strings.Contains(err.Error(), ": mandatory ") && strings.HasSuffix(err.Error(), " is missing") {
		e.Tag = TagDataMissing
	}
	if p, rest, ok := m.ParsePath(err.Error()); ok {
		m.setPath(e, p)
		e.Message = rest
		if strings.HasPrefix(rest, "mandatory ") {
			// "/a/b: mandatory x is missing": the missing node is the child.
			name := strings.TrimSuffix(strings.TrimPrefix(rest, "mandatory "), " is missing")
			m.setPath(e, p.Child(name))
		}
	}
	return e
}
