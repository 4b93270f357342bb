package proto

import "context"

// Session is one CLI session inside the daemon.
type Session interface {
	// Handle answers one request. It must not block for long.
	Handle(ctx context.Context, req Request) Response
	// Close ends the session (discarding anything uncommitted).
	Close()
}

// Streamer is a session whose commands print as they run (ping, tracert):
// out is called with each piece of output before the final response, and
// ctx is cancelled when the user interrupts.
type Streamer interface {
	HandleStream(ctx context.Context, req Request, out func(string)) Response
}

// Engine creates sessions; the VRP language engine (package cli) implements
// it, the management socket serves it.
type Engine interface {
	Open(ctx context.Context, req Request) (Session, Response)
}
