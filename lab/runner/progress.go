package runner

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress reports one phase of up or down (nodes created, links wired,
// nodes ready ...) as containerlab does: on a terminal one line rewritten in
// place while the count grows; otherwise (a log, a pipe, a test) a single
// line when the phase ends, so that output stays short and diffable.
type progress struct {
	out   io.Writer
	tty   bool
	what  string
	total int
	start time.Time

	mu    sync.Mutex
	n     int
	drawn time.Time
}

// redraw is how often a terminal line is rewritten at most.
const redraw = 100 * time.Millisecond

func newProgress(out io.Writer, tty bool, what string, total int) *progress {
	p := &progress{out: out, tty: tty, what: what, total: total, start: time.Now()}
	if tty {
		p.draw()
	}
	return p
}

// add counts k more done.
func (p *progress) add(k int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += k
	if p.tty && (time.Since(p.drawn) >= redraw || p.n == p.total) {
		p.draw()
	}
}

// count is how many are done.
func (p *progress) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *progress) draw() {
	p.drawn = time.Now()
	fmt.Fprintf(p.out, "\r\033[K%s %d/%d (%.1fs)", p.what, p.n, p.total, time.Since(p.start).Seconds())
}

// done ends the phase with its line; note follows it ("" for none).
func (p *progress) done(note string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("%s %d/%d in %.1fs", p.what, p.n, p.total, time.Since(p.start).Seconds())
	if note != "" {
		line += " " + note
	}
	if p.tty {
		fmt.Fprintf(p.out, "\r\033[K%s\n", line)
		return
	}
	fmt.Fprintln(p.out, line)
}
