package netconf

import (
	"bytes"
	"strings"
)

// Namespaces of the protocol.
const (
	nsBase       = "urn:ietf:params:xml:ns:netconf:base:1.0"
	nsMonitoring = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
	nsYang       = "urn:ietf:params:xml:ns:yang:1"
)

// error-type values (RFC 6241 §4.3).
const (
	TypeTransport   = "transport"
	TypeRPC         = "rpc"
	TypeProtocol    = "protocol"
	TypeApplication = "application"
)

// error-tag values (RFC 6241 Appendix A).
const (
	TagInUse                 = "in-use"
	TagInvalidValue          = "invalid-value"
	TagTooBig                = "too-big"
	TagMissingAttribute      = "missing-attribute"
	TagBadAttribute          = "bad-attribute"
	TagUnknownAttribute      = "unknown-attribute"
	TagMissingElement        = "missing-element"
	TagBadElement            = "bad-element"
	TagUnknownElement        = "unknown-element"
	TagUnknownNamespace      = "unknown-namespace"
	TagAccessDenied          = "access-denied"
	TagLockDenied            = "lock-denied"
	TagResourceDenied        = "resource-denied"
	TagRollbackFailed        = "rollback-failed"
	TagDataExists            = "data-exists"
	TagDataMissing           = "data-missing"
	TagOperationNotSupported = "operation-not-supported"
	TagOperationFailed       = "operation-failed"
	TagMalformedMessage      = "malformed-message"
)

// RPCError is one <rpc-error>.
type RPCError struct {
	Type     string
	Tag      string
	Severity string // "error" when empty
	AppTag   string
	// Path is an XPath to the node in error; PathNS declares its prefixes.
	Path    string
	PathNS  map[string]string
	Message string
	// Info are <error-info> children (bad-element, bad-attribute,
	// bad-namespace, session-id, ...), in order.
	Info []InfoItem
}

// InfoItem is one child of <error-info>.
type InfoItem struct{ Name, Value string }

func (e *RPCError) Error() string {
	var b strings.Builder
	b.WriteString(e.Tag)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Path != "" {
		b.WriteString(" (" + e.Path + ")")
	}
	return b.String()
}

// node builds the <rpc-error> element.
func (e *RPCError) node() *Node {
	n := Elem(nsBase, "rpc-error",
		Leaf(nsBase, "error-type", e.Type),
		Leaf(nsBase, "error-tag", e.Tag),
		Leaf(nsBase, "error-severity", cmpOr(e.Severity, "error")))
	if e.AppTag != "" {
		n.Add(Leaf(nsBase, "error-app-tag", e.AppTag))
	}
	if e.Path != "" {
		p := Leaf(nsBase, "error-path", e.Path)
		p.prefixes = e.PathNS
		n.Add(p)
	}
	if e.Message != "" {
		m := Leaf(nsBase, "error-message", e.Message)
		m.Attrs = append(m.Attrs, xmlLang)
		n.Add(m)
	}
	if len(e.Info) > 0 {
		info := Elem(nsBase, "error-info")
		for _, it := range e.Info {
			info.Add(Leaf(nsBase, it.Name, it.Value))
		}
		n.Add(info)
	}
	return n
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Errors is the <rpc-error>s of one reply.
type Errors []*RPCError

func (es Errors) Error() string {
	var s []string
	for _, e := range es {
		s = append(s, e.Error())
	}
	return strings.Join(s, "; ")
}

// write serializes the errors as children of an rpc-reply.
func (es Errors) write(b *bytes.Buffer) {
	for _, e := range es {
		e.node().Write(b, nsBase)
	}
}

func rpcErr(typ, tag, msg string, info ...InfoItem) *RPCError {
	return &RPCError{Type: typ, Tag: tag, Message: msg, Info: info}
}
