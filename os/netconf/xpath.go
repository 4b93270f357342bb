package netconf

// FilterXPath keeps the parts of data an XPath filter selects.
func FilterXPath(data []*Node, expr string, ns map[string]string) ([]*Node, *RPCError) {
	return nil, rpcErr(TypeProtocol, TagOperationNotSupported, "xpath filters are not supported (no :xpath capability)",
		InfoItem{"bad-attribute", "type"}, InfoItem{"bad-element", "filter"})
}
