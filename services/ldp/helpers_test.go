package ldp

import (
	"testing"

	"vpnos/services/ldp/packet"
)

// sentMessages decodes every PDU of the Send actions.
func sentMessages(t testing.TB, acts []Action) []packet.Message {
	t.Helper()
	var out []packet.Message
	for _, a := range acts {
		s, ok := a.(Send)
		if !ok {
			continue
		}
		for _, b := range s.PDUs {
			pdu, err := packet.DecodePDU(b, 0)
			if err != nil {
				t.Fatalf("core sent a PDU that does not decode: %v", err)
			}
			out = append(out, pdu.Messages...)
		}
	}
	return out
}

func filterType[T packet.Message](msgs []packet.Message) []T {
	var out []T
	for _, m := range msgs {
		if v, ok := m.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func hasClose(acts []Action) bool {
	for _, a := range acts {
		if _, ok := a.(Close); ok {
			return true
		}
	}
	return false
}
