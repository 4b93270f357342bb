package netconf

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"

	"vpnos/yang/datastore"
)

// The commit log over NETCONF (module vpnos-commit): labels on <commit>,
// and the rollback and set-label operations. The log and its rules are the
// datastore's, shared with the CLI.

const nsCommit = "urn:vpnos:yang:vpnos-commit"

//go:embed yang/vpnos-commit.yang
var commitModule string

// CommitModule is the YANG module of the commit log operations.
var CommitModule = Module{Name: "vpnos-commit", Revision: "2026-12-03", Namespace: nsCommit, Prefix: "vcm", Text: commitModule}

// commitLogOp runs an operation of vpnos-commit.
func (ss *session) commitLogOp(ctx context.Context, op *Node) result {
	switch op.Local {
	case "rollback":
		return ss.rollback(ctx, op)
	case "set-label":
		return ss.setLabel(op)
	}
	return errResult(rpcErr(TypeProtocol, TagOperationNotSupported, fmt.Sprintf("the operation %s is not supported", op.Local),
		InfoItem{"bad-element", op.Local}))
}

func (ss *session) rollback(ctx context.Context, op *Node) result {
	var points []*Node
	for _, c := range op.Children {
		if c.Space == nsCommit && (c.Local == "commit-id" || c.Local == "label" || c.Local == "last") {
			points = append(points, c)
		} else {
			return errResult(rpcErr(TypeProtocol, TagUnknownElement, fmt.Sprintf("rollback has no element %s", c.Local), InfoItem{"bad-element", c.Local}))
		}
	}
	if len(points) != 1 {
		return errResult(rpcErr(TypeProtocol, TagMissingElement, "rollback needs one of commit-id, label and last", InfoItem{"bad-element", "commit-id"}))
	}
	if ss.cand.Dirty() {
		return errResult(rpcErr(TypeApplication, TagOperationFailed, "the candidate holds uncommitted changes: commit or discard them first"))
	}
	if re := ss.lockedByOther(datastore.DatastoreRunning); re != nil {
		return errResult(re)
	}
	p := points[0]
	v := p.TrimText()
	ctx = datastore.WithOrigin(ctx, ss.origin())
	st := ss.srv.store
	var id int
	var err error
	switch p.Local {
	case "commit-id", "last":
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil || n == 0 {
			return errResult(rpcErr(TypeProtocol, TagInvalidValue, fmt.Sprintf("%q is not a %s", v, p.Local), InfoItem{"bad-element", p.Local}))
		}
		if p.Local == "last" {
			id, err = st.RollbackLast(ctx, int(n), ss.user)
		} else {
			id, err = st.RollbackTo(ctx, int(n), ss.user)
		}
	default:
		id, err = st.RollbackLabel(ctx, v, ss.user)
	}
	var ce *datastore.CommitError
	switch {
	case errors.Is(err, datastore.ErrNoChange):
		return result{}
	case errors.As(err, &ce):
		return errResult(rpcErr(TypeApplication, TagInvalidValue, ce.Error(), InfoItem{"bad-element", p.Local}))
	case err != nil:
		return result{errs: ss.mapErr(err)}
	}
	ss.cand.Discard()
	return result{data: []*Node{Leaf(nsCommit, "commit-id", strconv.Itoa(id))}}
}

func (ss *session) setLabel(op *Node) result {
	idNode := op.Child(nsCommit, "commit-id")
	if idNode == nil {
		return errResult(rpcErr(TypeProtocol, TagMissingElement, "set-label needs a commit-id", InfoItem{"bad-element", "commit-id"}))
	}
	id, err := strconv.ParseUint(idNode.TrimText(), 10, 32)
	if err != nil || id == 0 {
		return errResult(rpcErr(TypeProtocol, TagInvalidValue, fmt.Sprintf("%q is not a commit-id", idNode.TrimText()), InfoItem{"bad-element", "commit-id"}))
	}
	label := ""
	if l := op.Child(nsCommit, "label"); l != nil {
		label = l.TrimText()
		if err := datastore.CheckLabel(label); err != nil {
			return errResult(rpcErr(TypeProtocol, TagInvalidValue, err.Error(), InfoItem{"bad-element", "label"}))
		}
	}
	if err := ss.srv.store.SetLabel(int(id), label); err != nil {
		return errResult(rpcErr(TypeApplication, TagInvalidValue, err.Error(), InfoItem{"bad-element", "label"}))
	}
	return result{}
}
