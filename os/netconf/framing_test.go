package netconf

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadEOM(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string // messages; "!toobig" for ErrTooBig
		end  error    // the error after them
	}{
		{"two", "<a/>]]>]]><b/>]]>]]>", 0, []string{"<a/>", "<b/>"}, io.EOF},
		{"trailing whitespace", "<a/>]]>]]>\n", 0, []string{"<a/>"}, io.EOF},
		{"brackets inside", "<a>]]></a>]]]>]]>", 0, []string{"<a>]]></a>]"}, io.EOF},
		{"cut", "<a/>]]>]]><b/>", 0, []string{"<a/>"}, io.ErrUnexpectedEOF},
		{"too big then fine", strings.Repeat("x", 100) + "]]>]]><ok/>]]>]]>", 10, []string{"!toobig", "<ok/>"}, io.EOF},
		{"too big across reads", strings.Repeat(">", 200000) + "]]>]]><ok/>]]>]]>", 100, []string{"!toobig", "<ok/>"}, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkMessages(t, NewReader(strings.NewReader(tc.in), tc.max), tc.want, tc.end)
		})
	}
}

func TestReadChunked(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
		end  error
	}{
		// RFC 6242 §4.2's example, split in two chunks.
		{"rfc", "\n#4\n<rpc\n#18\n message-id=\"102\"\n\n#79\n     xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">\n  <close-session/>\n</rpc>\n##\n",
			0, []string{"<rpc message-id=\"102\"\n     xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">\n  <close-session/>\n</rpc>"}, io.EOF},
		{"two", "\n#3\n<a>\n#4\n</a>\n##\n\n#4\n<b/>\n##\n", 0, []string{"<a></a>", "<b/>"}, io.EOF},
		{"too big then fine", "\n#6\n123456\n#6\n123456\n##\n\n#4\n<b/>\n##\n", 10, []string{"!toobig", "<b/>"}, io.EOF},
		{"leading zero", "\n#04\n<b/>\n##\n", 0, nil, &FramingError{}},
		{"zero size", "\n#0\n\n##\n", 0, nil, &FramingError{}},
		{"no chunks", "\n##\n", 0, nil, &FramingError{}},
		{"size too large", "\n#4294967296\n", 0, nil, &FramingError{}},
		{"eom in chunked mode", "<a/>]]>]]>", 0, nil, &FramingError{}},
		{"letters in size", "\n#1a\n", 0, nil, &FramingError{}},
		{"cut in data", "\n#10\n<a/>", 0, nil, io.ErrUnexpectedEOF},
		{"cut in header", "\n#1", 0, nil, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.in), tc.max)
			r.SetChunked()
			checkMessages(t, r, tc.want, tc.end)
		})
	}
}

func checkMessages(t *testing.T, r *Reader, want []string, end error) {
	t.Helper()
	for i, w := range want {
		got, err := r.ReadMessage()
		if w == "!toobig" {
			if !errors.Is(err, ErrTooBig) {
				t.Fatalf("message %d: got %q, %v; want ErrTooBig", i, got, err)
			}
			continue
		}
		if err != nil || string(got) != w {
			t.Fatalf("message %d: got %q, %v; want %q", i, got, err, w)
		}
	}
	_, err := r.ReadMessage()
	var fe *FramingError
	if _, wantFraming := end.(*FramingError); wantFraming {
		if !errors.As(err, &fe) {
			t.Fatalf("end: got %v, want a framing error", err)
		}
		return
	}
	if !errors.Is(err, end) {
		t.Fatalf("end: got %v, want %v", err, end)
	}
}

func TestWriteRead(t *testing.T) {
	big := bytes.Repeat([]byte("<x>0123456789</x>"), 10000) // several chunks
	for _, chunked := range []bool{false, true} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if chunked {
			w.SetChunked()
		}
		msgs := [][]byte{[]byte("<hello/>"), big, []byte("<a>]]&gt;]]&gt;</a>")}
		for _, m := range msgs {
			if err := w.WriteMessage(m); err != nil {
				t.Fatal(err)
			}
		}
		r := NewReader(&buf, 0)
		if chunked {
			r.SetChunked()
		}
		for i, m := range msgs {
			got, err := r.ReadMessage()
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("chunked=%v message %d: %v (len %d, want %d)", chunked, i, err, len(got), len(m))
			}
		}
		if _, err := r.ReadMessage(); !errors.Is(err, io.EOF) {
			t.Fatalf("chunked=%v end: %v", chunked, err)
		}
	}
}

// FuzzFraming feeds arbitrary bytes to both framings: the reader never
// panics, never returns more than its limit, and a message it returns
// survives being written and read again.
func FuzzFraming(f *testing.F) {
	f.Add([]byte("<a/>]]>]]><b/>]]>]]>"), false)
	f.Add([]byte("\n#4\n<a/>\n##\n\n#2\nxy\n#1\nz\n##\n"), true)
	f.Add([]byte("\n#99999999999\n"), true)
	f.Add([]byte("]]>]]]]>]]>"), false)
	f.Fuzz(func(t *testing.T, in []byte, chunked bool) {
		const max = 1 << 12
		r := NewReader(bytes.NewReader(in), max)
		if chunked {
			r.SetChunked()
		}
		for i := 0; i < 1000; i++ {
			msg, err := r.ReadMessage()
			if errors.Is(err, ErrTooBig) {
				continue
			}
			if err != nil {
				return
			}
			if len(msg) > max {
				t.Fatalf("message of %d bytes above the limit", len(msg))
			}
			if chunked && len(msg) == 0 {
				t.Fatal("empty chunked message")
			}
			if !chunked && bytes.Contains(msg, []byte(endOfMessage)) {
				t.Fatal("message contains the end-of-message marker")
			}
			var buf bytes.Buffer
			w := NewWriter(&buf)
			r2 := NewReader(&buf, max)
			if chunked {
				w.SetChunked()
				r2.SetChunked()
			}
			if err := w.WriteMessage(msg); err != nil {
				t.Fatal(err)
			}
			again, err := r2.ReadMessage()
			if err != nil || !bytes.Equal(again, msg) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
