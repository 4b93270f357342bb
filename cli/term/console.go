package term

import (
	"errors"
	"sync"
	"time"

	prompt "github.com/c-bata/go-prompt"
	"golang.org/x/sys/unix"
)

// console is the terminal input: it implements go-prompt's ConsoleParser on
// the session's own stdin (no /dev/tty, no panics), and lets the front end
// read keys itself (pager, answers to questions).
//
// Input is cut into keys: an escape sequence, one control character, or a
// run of printable text. A run is inserted as text, so a `?` inside pasted
// text is just text; a `?` typed on its own is a key of its own and asks for
// help. After a key that ends the line (Enter) no more keys are handed
// to go-prompt until its next Setup: go-prompt's reader goroutine would
// otherwise swallow the keys of the next line when a paste arrives at once.
type console struct {
	fd int

	mu      sync.Mutex
	orig    *unix.Termios
	gated   bool // a line-ending key was handed over; wait for Setup
	held    bool // the front end is reading keys itself
	eof     bool // the terminal is gone
	gone    bool // the Escape standing for the end of input was handed over
	pending []byte

	rmu sync.Mutex // one reader at a time
}

var errNoInput = errors.New("no input")

func newConsole(fd int) (*console, error) {
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return nil, err
	}
	return &console{fd: fd}, nil
}

// makeRaw switches the terminal to raw input once per session. Output
// post-processing stays on, so "\n" still starts a new line.
func (c *console) makeRaw() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.orig != nil {
		return nil
	}
	t, err := unix.IoctlGetTermios(c.fd, unix.TCGETS)
	if err != nil {
		return err
	}
	orig := *t
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(c.fd, unix.TCSETS, t); err != nil {
		return err
	}
	c.orig = &orig
	return nil
}

// restore puts the terminal back as it was.
func (c *console) restore() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.orig != nil {
		_ = unix.IoctlSetTermios(c.fd, unix.TCSETS, c.orig)
		c.orig = nil
	}
}

// Setup is called by go-prompt when it starts reading a line.
func (c *console) Setup() error {
	if err := c.makeRaw(); err != nil {
		return err
	}
	c.mu.Lock()
	c.gated = false
	c.mu.Unlock()
	return nil
}

// TearDown is called by go-prompt after a line; the terminal stays raw for
// the whole session (so Ctrl+C and Ctrl+Z never become signals), and restore
// runs when the session ends.
func (c *console) TearDown() error { return nil }

// GetWinSize never fails: 80x24 when the terminal does not know its size
// (a fresh `docker exec -it` PTY reports 0x0 for a moment).
func (c *console) GetWinSize() *prompt.WinSize {
	ws := &prompt.WinSize{Row: 24, Col: 80}
	if w, err := unix.IoctlGetWinsize(c.fd, unix.TIOCGWINSZ); err == nil {
		if w.Row > 0 {
			ws.Row = w.Row
		}
		if w.Col > 0 {
			ws.Col = w.Col
		}
	}
	return ws
}

// size is the terminal's size, 0 for what it does not know.
func (c *console) size() (rows, cols int) {
	w, err := unix.IoctlGetWinsize(c.fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return int(w.Row), int(w.Col)
}

// Read hands one key to go-prompt, or errNoInput within ~20 ms.
func (c *console) Read() ([]byte, error) {
	c.mu.Lock()
	blocked := c.gated || c.held
	c.mu.Unlock()
	if blocked {
		return nil, errNoInput
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.mu.Lock()
	blocked = c.gated || c.held
	c.mu.Unlock()
	if blocked {
		return nil, errNoInput
	}
	k, ok := c.next(20 * time.Millisecond)
	if !ok {
		if c.isEOF() {
			// The terminal is gone: a lone Escape reaches go-prompt's exit
			// checker, which then ends the line (see goneKey).
			c.mu.Lock()
			c.gone = true
			c.mu.Unlock()
			return []byte{esc}, nil
		}
		return nil, errNoInput
	}
	if endsLine(k) {
		c.mu.Lock()
		c.gated = true
		c.mu.Unlock()
	}
	return k, nil
}

// readKey blocks until the next key; ok is false when the terminal is gone.
// It may run while go-prompt's reader is active (from a key binding).
func (c *console) readKey() ([]byte, bool) {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
	c.rmu.Lock()
	defer func() {
		c.rmu.Unlock()
		c.mu.Lock()
		c.held = false
		c.mu.Unlock()
	}()
	for {
		if k, ok := c.next(200 * time.Millisecond); ok {
			return k, true
		}
		if c.isEOF() {
			return nil, false
		}
	}
}

// watchInterrupt reads keys until done is closed and calls onCtrlC for
// each Ctrl+C; other keys typed meanwhile stay pending for the next line.
func (c *console) watchInterrupt(done <-chan struct{}, onCtrlC func()) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	var kept []byte
	defer func() {
		c.mu.Lock()
		c.pending = append(kept, c.pending...)
		c.mu.Unlock()
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		k, ok := c.next(30 * time.Millisecond)
		if !ok {
			if c.isEOF() {
				onCtrlC() // the terminal is gone: stop the command
				<-done
				return
			}
			continue
		}
		if len(k) == 1 && k[0] == 0x03 {
			onCtrlC()
			continue
		}
		kept = append(kept, k...)
	}
}

// goneKey reports whether go-prompt was handed the key that stands for the
// end of input (and not a line ended by Enter just before it).
func (c *console) goneKey() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gone
}

func (c *console) isEOF() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eof && len(c.pending) == 0
}

// next returns the next key, reading the terminal when nothing is pending;
// ok is false after timeout or once the terminal is gone.
func (c *console) next(timeout time.Duration) ([]byte, bool) {
	c.mu.Lock()
	havePending := len(c.pending) > 0
	eof := c.eof
	c.mu.Unlock()
	if !havePending {
		if eof {
			return nil, false
		}
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(timeout/time.Millisecond))
		if err != nil || n == 0 {
			return nil, false
		}
		buf := make([]byte, 4096)
		m, err := unix.Read(c.fd, buf)
		c.mu.Lock()
		switch {
		case m > 0:
			c.pending = append(c.pending, buf[:m]...)
		case err == unix.EAGAIN || err == unix.EINTR:
		default: // 0 bytes (EOF) or EIO: the other side of the PTY closed
			c.eof = true
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return nil, false
	}
	k, rest := splitKey(c.pending)
	c.pending = rest
	return k, true
}

// endsLine tells keys after which go-prompt returns the line.
func endsLine(k []byte) bool {
	return len(k) == 1 && (k[0] == '\r' || k[0] == '\n')
}

const (
	ctrlC = 0x03
	ctrlD = 0x04
	ctrlE = 0x05
	ctrlZ = 0x1a
	esc   = 0x1b
)

// deleteKey is what Ctrl+D becomes: delete the character under the cursor.
// (go-prompt would end the input on Ctrl+D at an empty line.)
var deleteKey = []byte{esc, '[', '3', '~'}

// splitKey cuts the first key off b. b is not empty.
func splitKey(b []byte) (key, rest []byte) {
	switch c := b[0]; {
	case c == esc:
		return splitEscape(b)
	case c == '\r' && len(b) > 1 && b[1] == '\n':
		return b[:1], b[2:]
	case c == ctrlD:
		return deleteKey, b[1:]
	case c == ctrlZ:
		// Ctrl+Z is `return`: typed over the line (Ctrl+E, Ctrl+U), so the
		// screen shows it and go-prompt ends the line as usual.
		return []byte{ctrlE}, append([]byte("\x15return\r"), b[1:]...)
	case c < 0x20 || c == 0x7f:
		return b[:1], b[1:]
	}
	i := 0
	for i < len(b) && b[i] >= 0x20 && b[i] != 0x7f {
		i++
	}
	// A `?` that ends what has arrived was typed (a paste has more after
	// it): let it be a key of its own, so that help works for fast typists.
	if i == len(b) && i > 1 && b[i-1] == '?' {
		i--
	}
	return b[:i], b[i:]
}

// splitEscape cuts an escape sequence: CSI (ESC [ params final), SS3 (ESC O
// x), Alt+key (ESC x), or a lone ESC.
func splitEscape(b []byte) (key, rest []byte) {
	if len(b) == 1 {
		return b, nil
	}
	switch b[1] {
	case '[':
		for i := 2; i < len(b); i++ {
			if b[i] >= 0x40 && b[i] <= 0x7e {
				return b[:i+1], b[i+1:]
			}
			if b[i] < 0x20 {
				return b[:i], b[i:]
			}
		}
		return b, nil
	case 'O':
		if len(b) >= 3 {
			return b[:3], b[3:]
		}
		return b, nil
	case esc:
		return b[:1], b[1:]
	}
	return b[:2], b[2:]
}
