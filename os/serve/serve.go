// Package serve runs an accept loop: one goroutine per connection, and every
// connection closed when the context ends.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Conns accepts connections on ln and runs handle for each until ctx ends;
// then it closes the listener and every open connection, waits for the
// handlers and returns nil. An accept error other than a timeout is returned.
func Conns(ctx context.Context, ln net.Listener, handle func(context.Context, net.Conn)) error {
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			handle(ctx, c)
		}()
	}
}
