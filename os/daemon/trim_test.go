package daemon

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"
)

var sink [][]byte

// TestTrimAfterStart: once the start is over, the garbage it left is
// collected and its memory goes back to the kernel; before, nothing.
func TestTrimAfterStart(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ready := make(chan struct{})
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A start's transient heap: 32 MB, dropped.
	for range 512 {
		sink = append(sink, make([]byte, 64<<10))
	}
	sink = nil
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	go func() { trimAfterStart(ctx, ready, 10*time.Millisecond, log); close(done) }()
	select {
	case <-done:
		t.Fatal("trimmed before the start was over")
	case <-time.After(50 * time.Millisecond):
	}
	close(ready)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no trim after the start")
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.HeapInuse > before.HeapInuse-16<<20 {
		t.Errorf("heap in use %d MB before, %d MB after: the start's garbage was not collected", before.HeapInuse>>20, after.HeapInuse>>20)
	}
	if after.HeapReleased < before.HeapReleased+16<<20 {
		t.Errorf("released %d MB before, %d MB after: the memory did not go back", before.HeapReleased>>20, after.HeapReleased>>20)
	}

	// A daemon stopped before it was ready does not wait for ever.
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { trimAfterStart(ctx2, make(chan struct{}), time.Hour, log); close(done2) }()
	cancel2()
	select {
	case <-done2:
	case <-time.After(5 * time.Second):
		t.Fatal("trimAfterStart outlived its context")
	}
}
