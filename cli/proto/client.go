package proto

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
)

// Client is one session seen from a front end.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
	wmu  sync.Mutex
	enc  *json.Encoder
}

// Dial connects to the daemon and opens a session.
func Dial(ctx context.Context, path string, open Request) (*Client, Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, Response{}, fmt.Errorf("connect to vpnos daemon at %s: %w", path, err)
	}
	cl := &Client{conn: c, r: bufio.NewReaderSize(c, 64<<10), enc: json.NewEncoder(c)}
	open.Op = OpOpen
	resp, err := cl.Do(open)
	if err != nil {
		c.Close()
		return nil, resp, err
	}
	return cl, resp, nil
}

// Do sends one request and waits for its response; partial output of a
// running command is gathered into the response's Output.
func (c *Client) Do(req Request) (Response, error) {
	var early strings.Builder
	resp, err := c.DoStream(req, func(out string) { early.WriteString(out) })
	resp.Output = early.String() + resp.Output
	return resp, err
}

// DoStream sends one request; partial output is handed to out as it
// arrives, and the final response is returned.
func (c *Client) DoStream(req Request, out func(string)) (Response, error) {
	if err := c.send(req); err != nil {
		return Response{}, err
	}
	for {
		line, err := c.r.ReadBytes('\n')
		if err != nil {
			return Response{}, fmt.Errorf("management socket: receive: %w", err)
		}
		var resp Response
		if err := json.Unmarshal(line, &resp); err != nil {
			return Response{}, fmt.Errorf("management socket: decode: %w", err)
		}
		if !resp.More {
			return resp, nil
		}
		if out != nil {
			out(resp.Output)
		}
	}
}

// Interrupt stops the command running on the session (Ctrl+C). It is safe
// to call while another goroutine waits in DoStream.
func (c *Client) Interrupt() error { return c.send(Request{Op: OpInterrupt}) }

func (c *Client) send(req Request) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.enc.Encode(req); err != nil {
		return fmt.Errorf("management socket: send: %w", err)
	}
	return nil
}

// Close ends the session.
func (c *Client) Close() error {
	_, _ = c.Do(Request{Op: OpClose})
	return c.conn.Close()
}
