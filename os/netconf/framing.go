package netconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// RFC 6242 framing. A session starts with end-of-message framing (base:1.0:
// every message ends with "]]>]]>"); once both hellos advertise base:1.1,
// both sides switch to chunked framing (§4.2: "\n#<size>\n<data>" chunks,
// then "\n##\n").

const (
	endOfMessage = "]]>]]>"
	// DefaultMaxMessage bounds one received message; a larger one is
	// skipped and answered with too-big, and the session goes on.
	DefaultMaxMessage = 16 << 20
	// maxChunk is the largest chunk size RFC 6242 allows.
	maxChunk = 4294967295
	// writeChunk is the size of the chunks this side sends.
	writeChunk = 64 << 10
)

// ErrTooBig is a message larger than the reader's limit. Its bytes were
// read and dropped; the next message can be read.
var ErrTooBig = errors.New("message too big")

// FramingError is a violation of the framing: the session must end (RFC
// 6242 §4.2).
type FramingError struct{ Msg string }

func (e *FramingError) Error() string { return "framing: " + e.Msg }

// Reader reads framed messages.
type Reader struct {
	r       *bufio.Reader
	max     int
	chunked bool
}

// NewReader reads messages of at most max bytes (DefaultMaxMessage if max
// <= 0) from r, with end-of-message framing until SetChunked.
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// SetChunked switches to chunked framing (after a base:1.1 hello exchange).
func (r *Reader) SetChunked() { r.chunked = true }

// ReadMessage returns the next message. io.EOF means the peer ended the
// session between messages; ErrTooBig a skipped message; a *FramingError or
// io.ErrUnexpectedEOF a broken session.
func (r *Reader) ReadMessage() ([]byte, error) {
	if r.chunked {
		return r.readChunked()
	}
	return r.readEOM()
}

func (r *Reader) readEOM() ([]byte, error) {
	var msg []byte
	tooBig := false
	// tail keeps the last bytes of a skipped message, to find its end.
	var tail []byte
	for {
		frag, err := r.r.ReadSlice('>')
		if len(frag) > 0 {
			if tooBig {
				tail = append(tail, frag...)
				if bytes.HasSuffix(tail, []byte(endOfMessage)) {
					return nil, ErrTooBig
				}
				if len(tail) > len(endOfMessage) {
					tail = append(tail[:0], tail[len(tail)-len(endOfMessage):]...)
				}
			} else {
				msg = append(msg, frag...)
				if bytes.HasSuffix(msg, []byte(endOfMessage)) {
					return msg[:len(msg)-len(endOfMessage)], nil
				}
				if len(msg) > r.max+len(endOfMessage) {
					tooBig = true
					tail = append(tail, msg[len(msg)-len(endOfMessage):]...)
					msg = nil
				}
			}
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if !tooBig && len(bytes.TrimSpace(msg)) == 0 {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

func (r *Reader) readChunked() ([]byte, error) {
	var msg []byte
	total := 0
	tooBig := false
	first := true
	for {
		// "\n#" starts a chunk header or the end of chunks.
		b, err := r.r.ReadByte()
		if err != nil {
			if first && errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, unexpected(err)
		}
		if b != '\n' {
			return nil, &FramingError{Msg: fmt.Sprintf("expected a chunk header, got %q", b)}
		}
		if b, err = r.r.ReadByte(); err != nil {
			return nil, unexpected(err)
		}
		if b != '#' {
			return nil, &FramingError{Msg: fmt.Sprintf("expected '#' in a chunk header, got %q", b)}
		}
		if b, err = r.r.ReadByte(); err != nil {
			return nil, unexpected(err)
		}
		if b == '#' {
			if b, err = r.r.ReadByte(); err != nil {
				return nil, unexpected(err)
			}
			if b != '\n' {
				return nil, &FramingError{Msg: "end of chunks not followed by a newline"}
			}
			if first {
				return nil, &FramingError{Msg: "a message without chunks"}
			}
			if tooBig {
				return nil, ErrTooBig
			}
			return msg, nil
		}
		// chunk-size = [1-9][0-9]* up to 4294967295, then "\n".
		if b < '1' || b > '9' {
			return nil, &FramingError{Msg: fmt.Sprintf("bad chunk size starting with %q", b)}
		}
		size := uint64(b - '0')
		for {
			if b, err = r.r.ReadByte(); err != nil {
				return nil, unexpected(err)
			}
			if b == '\n' {
				break
			}
			if b < '0' || b > '9' {
				return nil, &FramingError{Msg: fmt.Sprintf("bad character %q in a chunk size", b)}
			}
			size = size*10 + uint64(b-'0')
			if size > maxChunk {
				return nil, &FramingError{Msg: "chunk size above 4294967295"}
			}
		}
		first = false
		total += int(size)
		if tooBig || total > r.max {
			tooBig = true
			msg = nil
			if _, err := io.CopyN(io.Discard, r.r, int64(size)); err != nil {
				return nil, unexpected(err)
			}
			continue
		}
		start := len(msg)
		msg = append(msg, make([]byte, size)...)
		if _, err := io.ReadFull(r.r, msg[start:]); err != nil {
			return nil, unexpected(err)
		}
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer writes framed messages; it is safe for concurrent use.
type Writer struct {
	mu      sync.Mutex
	w       *bufio.Writer
	chunked bool
}

// NewWriter writes end-of-message framed messages to w until SetChunked.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 64<<10)} }

// SetChunked switches to chunked framing.
func (w *Writer) SetChunked() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chunked = true
}

// WriteMessage frames and sends one message.
func (w *Writer) WriteMessage(msg []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.chunked {
		w.w.Write(msg)
		w.w.WriteString(endOfMessage)
		return w.w.Flush()
	}
	for len(msg) > 0 {
		n := min(len(msg), writeChunk)
		fmt.Fprintf(w.w, "\n#%d\n", n)
		w.w.Write(msg[:n])
		msg = msg[n:]
	}
	w.w.WriteString("\n##\n")
	return w.w.Flush()
}
