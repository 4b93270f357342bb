package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// StateFile is the name of the lab's record inside its lab directory.
const StateFile = "state.json"

// Step kinds in the journal.
const (
	StepNetns     = "netns"     // a named network namespace (netns runtime)
	StepContainer = "container" // a docker container (docker runtime)
	// StepNetwork is the docker management network, journalled when up
	// creates it, or uses one another vpnos lab created (down removes it
	// only while it carries NetworkLabel and no container is attached).
	StepNetwork = "network"
)

// Step is one thing `up` creates. It is written to the state file before it
// is created, so `down` finds it even if `up` dies halfway.
type Step struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Node string `json:"node"`
}

// NodeState is what the runner knows about one node.
type NodeState struct {
	Name      string   `json:"name"`
	Runtime   string   `json:"runtime_name"` // namespace or container name
	Root      string   `json:"root,omitempty"`
	ConfigDir string   `json:"config_dir,omitempty"`
	Log       string   `json:"log,omitempty"`
	Env       []string `json:"env,omitempty"` // netns: the node process environment
	PID       int      `json:"pid,omitempty"` // netns: the vpnos boot process
	// Socket is the node's management socket: a host path on netns, the
	// path inside the container on Docker.
	Socket string   `json:"socket,omitempty"`
	Intfs  []string `json:"intfs,omitempty"`
}

// LinkState is one wired link.
type LinkState struct {
	A string `json:"a"` // node:ethN
	B string `json:"b"`
}

// State is the record of a lab, kept in <labdir>/state.json.
type State struct {
	Lab      string    `json:"lab"`
	Runtime  string    `json:"runtime"`
	Topology string    `json:"topology"`
	Dir      string    `json:"dir"`
	Created  time.Time `json:"created"`
	Complete bool      `json:"complete"` // up finished
	// MgmtNetwork is the docker network of the nodes' eth0 ("" on netns).
	MgmtNetwork string      `json:"mgmt_network,omitempty"`
	Steps       []Step      `json:"steps"`
	Nodes       []NodeState `json:"nodes"`
	Links       []LinkState `json:"links"`

	mu sync.Mutex // guards saving against concurrent node updates
}

// Node returns the state of one node.
func (s *State) Node(name string) (*NodeState, error) {
	for i := range s.Nodes {
		if s.Nodes[i].Name == name {
			return &s.Nodes[i], nil
		}
	}
	var names []string
	for _, n := range s.Nodes {
		names = append(names, n.Name)
	}
	return nil, fmt.Errorf("lab %s has no node %q (nodes: %v)", s.Lab, name, names)
}

func (s *State) path() string { return filepath.Join(s.Dir, StateFile) }

// save writes the state atomically and durably.
func (s *State) save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveLocked()
}

func (s *State) saveLocked() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, s.path()); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// record journals steps before they are carried out, in one write.
func (s *State) record(steps ...Step) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Steps = append(s.Steps, steps...)
	return s.saveLocked()
}

// hasStep tells whether the journal holds a step of this kind and name.
func (s *State) hasStep(kind, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.Steps {
		if st.Kind == kind && st.Name == name {
			return true
		}
	}
	return false
}

// ErrNotUp is returned when a lab has no state file.
var ErrNotUp = errors.New("lab is not up")

// LoadState reads the state of the lab in dir.
func LoadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s in %s)", ErrNotUp, StateFile, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("lab state %s: %w", filepath.Join(dir, StateFile), err)
	}
	s.Dir = dir
	return &s, nil
}
