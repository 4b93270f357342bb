package diag

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// threadNS names the network namespace of the calling thread.
func threadNS() (string, error) { return os.Readlink("/proc/thread-self/ns/net") }

func TestNSHandleRejectsOtherFiles(t *testing.T) {
	tests := []struct {
		name, path, want string
	}{
		{"missing", "/nonexistent/ns", "open network namespace"},
		{"regular file", "/proc/self/status", "not a namespace file"},
		{"UTS namespace", "/proc/self/ns/uts", "namespace of another type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := OpenNS(tc.path)
			if err == nil {
				h.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NSFromFile(nil); err == nil {
		t.Fatal("nil file accepted")
	}
}

func TestHostNSDo(t *testing.T) {
	called := false
	want := errors.New("x")
	if err := (HostNS{}).Do(func() error { called = true; return want }); err != want || !called {
		t.Fatalf("err %v called %v", err, called)
	}
}

// Do switches a dedicated thread into the namespace and never lets another
// goroutine run on a thread in it: while many Do calls run, goroutines on
// unlocked threads keep checking their thread's namespace.
func TestNSDoDoesNotLeak(t *testing.T) {
	requireRoot(t)
	h := labNS(t, "leak", false)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))

	runtime.LockOSThread()
	host, err := threadNS()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := h.Do(func() error { inside, err = threadNS(); return err }); err != nil {
		t.Fatal(err)
	}
	if inside == host {
		t.Fatalf("Do ran in the host namespace %s", host)
	}

	stop := make(chan struct{})
	var leaks, checks atomic.Int64
	var watchers sync.WaitGroup
	for range 8 {
		watchers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if ns, err := threadNS(); err == nil && ns != host {
					leaks.Add(1)
				}
				checks.Add(1)
				runtime.Gosched()
			}
		})
	}
	var callers sync.WaitGroup
	var wrong atomic.Int64
	for range 8 {
		callers.Go(func() {
			for range 50 {
				err := h.Do(func() error {
					if ns, err := threadNS(); err != nil || ns != inside {
						wrong.Add(1)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				// The caller's own thread never moved.
				runtime.LockOSThread()
				ns, err := threadNS()
				runtime.UnlockOSThread()
				if err != nil || ns != host {
					leaks.Add(1)
				}
			}
		})
	}
	callers.Wait()
	// Let the watchers run a while on the threads Do has released.
	for c := checks.Load(); checks.Load() < c+2000; {
		runtime.Gosched()
	}
	close(stop)
	watchers.Wait()
	if leaks.Load() != 0 || wrong.Load() != 0 {
		t.Fatalf("%d checks on other goroutines saw a foreign namespace, %d Do calls ran outside it", leaks.Load(), wrong.Load())
	}
}

func TestNSDoPanicIsAnError(t *testing.T) {
	requireRoot(t)
	h := labNS(t, "panic", false)
	err := h.Do(func() error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "panic in namespace function: boom") {
		t.Fatalf("err = %v", err)
	}
	want := errors.New("fn failed")
	if err := h.Do(func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func TestNSFunc(t *testing.T) {
	var ran bool
	ns := NSFunc(func(fn func() error) error { ran = true; return fn() })
	want := errors.New("inner")
	if err := ns.Do(func() error { return want }); err != want || !ran {
		t.Fatalf("err %v ran %v", err, ran)
	}
}
