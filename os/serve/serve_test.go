package serve

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestConnsClosesEverythingOnCancel(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Conns(ctx, ln, func(ctx context.Context, c net.Conn) {
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				c.Write([]byte("echo " + line))
			}
		})
	}()
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("hi\n"))
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || got != "echo hi\n" {
			t.Fatalf("reply %q %v", got, err)
		}
		clients = append(clients, c)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Conns did not return after cancel")
	}
	// The server side of every connection is closed.
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("connection still open")
		}
	}
}
