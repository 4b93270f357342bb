// Package packet holds pure codecs for the frames the userspace forwarder
// handles: Ethernet (with one 802.1Q tag), ARP, IPv4, MPLS label stack
// entries, ICMP (echo and error messages with RFC 4884/4950 extensions), the
// virtio-net header that AF_PACKET and tap devices prepend, checksum
// completion for CHECKSUM_PARTIAL packets and GSO segmentation.
//
// Parsers never panic on malformed input: they return an error.
package packet

import "errors"

// ErrShort means the buffer is shorter than the header being parsed.
var ErrShort = errors.New("packet: truncated")

// ErrMalformed means a header field holds an impossible value.
var ErrMalformed = errors.New("packet: malformed")
