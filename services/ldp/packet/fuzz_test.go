package packet

import (
	"reflect"
	"testing"
)

// FuzzDecodePDU: decoding never panics, and whatever decodes survives an
// encode/decode round trip unchanged.
func FuzzDecodePDU(f *testing.F) {
	for _, v := range vectors {
		f.Add(unhex(f, v.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pdu, err := DecodePDU(b, 0)
		if err != nil {
			if AsError(err).Code == 0 {
				t.Fatalf("error without status: %v", err)
			}
			return
		}
		enc := AppendPDU(nil, pdu.ID, pdu.Messages...)
		again, err := DecodePDU(enc, 0)
		if err != nil {
			t.Fatalf("re-encoded PDU does not decode: %v\n%x", err, enc)
		}
		if again.ID != pdu.ID || !reflect.DeepEqual(again.Messages, pdu.Messages) {
			t.Fatalf("round trip changed the PDU:\n%#v\n%#v", pdu.Messages, again.Messages)
		}
	})
}
