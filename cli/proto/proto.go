// Package proto is the wire format of the management socket between a CLI
// front end (the `vpnos cli` process, the SSH server, automation) and the
// daemon, which owns the session: its view, its candidate configuration and
// the VRP language engine.
//
// The transport is a unix stream socket carrying one JSON object per line.
// The client sends a Request and reads exactly one Response for it.
package proto

// SocketName is the management socket's file name in the daemon's state
// directory.
const SocketName = "mgmt.sock"

// MaxRequest is the longest request line the daemon reads (64 KiB): a
// command line has at most 3,100 characters, which JSON writes in at most
// six bytes each. A longer request is skipped without being read into
// memory and answered with an error; the session goes on.
const MaxRequest = 64 << 10

// Ops a client may send.
const (
	OpOpen     = "open"     // start a session; first request on a connection
	OpExec     = "exec"     // run one input line in the current view
	OpAnswer   = "answer"   // answer the question of the previous response
	OpComplete = "complete" // Tab / completion candidates for Line (cursor at end)
	OpHelp     = "help"     // `?` help for Line (cursor at end; Line excludes the `?`)
	OpPrompt   = "prompt"   // current prompt, no side effects
	OpClose    = "close"    // end the session (discarding its candidate)
	// OpInterrupt stops the exec request that is running (Ctrl+C during
	// ping). It may be sent while the client waits for that request's
	// responses, and gets no response of its own.
	OpInterrupt = "interrupt"
)

// Request is one client message.
type Request struct {
	Op   string `json:"op"`
	Line string `json:"line,omitempty"`
	// Open only. User is the name the session's commits are recorded
	// under; the daemon takes it only from a peer running as root (the
	// SSH server names the user who logged in), any other process is its
	// own login name (os/mgmt).
	User        string `json:"user,omitempty"`
	Interactive bool   `json:"interactive,omitempty"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	Source      string `json:"source,omitempty"` // "console", "ssh", "netconf", "script"
	// Remote is the address the user came from (an SSH client), for
	// display users.
	Remote string `json:"remote,omitempty"`
}

// Candidate is one completion candidate.
type Candidate struct {
	Text        string `json:"text"`
	Description string `json:"description,omitempty"`
}

// Response is one daemon message.
type Response struct {
	// Output is printed as is; lines end with "\n".
	Output string `json:"output,omitempty"`
	// Prompt is the prompt for the next line, including any separator after
	// it: "[~PE1] " and "<PE1> " in VRP8 style, "[PE1]" in VRP5 style. Front
	// ends print Prompt immediately followed by the typed line, so that error
	// carets (counted from column 0 of the prompt line) line up.
	Prompt string `json:"prompt,omitempty"`
	// Question, when set, is printed without newline and the client must send
	// the user's reply with OpAnswer before anything else.
	Question string `json:"question,omitempty"`
	// Candidates answers OpComplete.
	Candidates []Candidate `json:"candidates,omitempty"`
	// Replace is the number of characters at the end of the line that the
	// completion candidates replace (the partial word).
	Replace int `json:"replace,omitempty"`
	// ScreenLength is the session's page length; 0 means no paging.
	ScreenLength int `json:"screen_length,omitempty"`
	// Failed is set when the line was refused (parse or commit error).
	Failed bool `json:"failed,omitempty"`
	// Exit is set when the session has ended (quit in user view).
	Exit bool `json:"exit,omitempty"`
	// Uncommitted is set while the session's candidate holds changes it
	// has not committed (the prompt's '*'): a script that ends then loses
	// them.
	Uncommitted bool `json:"uncommitted,omitempty"`
	// More marks partial output of a command still running (ping prints a
	// line per reply): only Output is set, and further responses to the
	// same request follow, the last one without More.
	More bool `json:"more,omitempty"`
}
