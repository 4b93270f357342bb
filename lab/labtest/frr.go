package labtest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// FRRDir is where Debian's frr package installs the daemons.
const FRRDir = "/usr/lib/frr"

// FRR is a set of FRR daemons (zebra and protocol daemons) running in a
// network namespace, as a real peer of vpnos in tests.
type FRR struct {
	NS  string
	Dir string

	procs []*exec.Cmd
}

// StartFRR runs zebra and the daemons of confs (daemon name -> its
// configuration, e.g. "ospfd") inside the named network namespace, and
// registers their end with t.Cleanup (with their logs in the test log if
// the test failed). It fails the test when FRR is not installed.
func StartFRR(t testing.TB, ns string, confs map[string]string) *FRR {
	t.Helper()
	if _, err := os.Stat(filepath.Join(FRRDir, "zebra")); err != nil {
		t.Fatalf("labtest: FRR is not installed (apt-get install frr): %v", err)
	}
	dir, err := os.MkdirTemp("", "vo-frr-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777) // the daemons run as user frr
	f := &FRR{NS: ns, Dir: dir}
	t.Cleanup(func() {
		f.Stop()
		if t.Failed() {
			for _, d := range f.daemons(confs) {
				b, _ := os.ReadFile(filepath.Join(dir, d+".log"))
				t.Logf("FRR %s in %s, log:\n%s", d, ns, b)
			}
		}
		os.RemoveAll(dir)
	})
	for _, d := range f.daemons(confs) {
		if err := os.WriteFile(filepath.Join(dir, d+".conf"), []byte(confs[d]), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"netns", "exec", ns, filepath.Join(FRRDir, d), "-u", "frr", "-g", "frr", "-P", "0",
			"-f", filepath.Join(dir, d+".conf"), "--vty_socket", dir, "-i", filepath.Join(dir, d+".pid"),
			"-z", filepath.Join(dir, "zserv.api"), "--log", "file:" + filepath.Join(dir, d+".log")}
		if d == "ldpd" {
			// Its control socket in the folder too: two ldpd of one test
			// must not share /var/run/frr/ldpd.sock.
			args = append(args, "--ctl_socket", dir)
		}
		cmd := exec.Command("ip", args...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("labtest: start %s: %v", d, err)
		}
		f.procs = append(f.procs, cmd)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(dir, d+".vty")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("labtest: FRR %s in %s did not start", d, ns)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return f
}

// daemons: zebra first, then the others in name order.
func (f *FRR) daemons(confs map[string]string) []string {
	out := []string{"zebra"}
	for d := range confs {
		if d != "zebra" {
			out = append(out, d)
		}
	}
	slices.Sort(out[1:])
	return out
}

// Stop stops the daemons (later calls do nothing).
func (f *FRR) Stop() {
	for k := len(f.procs) - 1; k >= 0; k-- {
		if p := f.procs[k]; p.Process != nil {
			p.Process.Kill()
			p.Wait()
		}
	}
	f.procs = nil
}

// Vtysh runs a command in vtysh and returns its output.
func (f *FRR) Vtysh(cmd string) (string, error) {
	out, err := exec.Command("vtysh", "--vty_socket", f.Dir, "-c", cmd).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %q: %w: %s", cmd, err, out)
	}
	return string(out), nil
}

// OSPFNeighbors is `show ip ospf neighbor json`: neighbour router ID ->
// state ("Full/DR", "2-Way/DROther", "Full/-").
func (f *FRR) OSPFNeighbors() (map[string]string, error) {
	out, err := f.Vtysh("show ip ospf neighbor json")
	if err != nil {
		return nil, err
	}
	var v struct {
		Neighbors map[string][]struct {
			State string `json:"nbrState"`
		} `json:"neighbors"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return nil, fmt.Errorf("%w: %s", err, out)
	}
	m := map[string]string{}
	for id, ns := range v.Neighbors {
		for _, n := range ns {
			m[id] = n.State
		}
	}
	return m, nil
}

// KernelRoute is `ip route show PREFIX` in the FRR namespace (what zebra
// installed).
func (f *FRR) KernelRoute(prefix string) string {
	out, _ := exec.Command("ip", "-n", f.NS, "route", "show", prefix).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// LDPBinding is a row of `show mpls ldp binding json`.
type LDPBinding struct {
	Prefix      string `json:"prefix"`
	NeighborID  string `json:"neighborId"`
	LocalLabel  string `json:"localLabel"`
	RemoteLabel string `json:"remoteLabel"`
}

// LDPBinding returns ldpd's binding of prefix with neighbor (zero when
// there is none) and the command's output.
func (f *FRR) LDPBinding(prefix, neighbor string) (LDPBinding, string) {
	out, err := f.Vtysh("show mpls ldp binding json")
	if err != nil {
		return LDPBinding{}, out
	}
	var v struct {
		Bindings []LDPBinding `json:"bindings"`
	}
	if json.Unmarshal([]byte(out), &v) != nil {
		return LDPBinding{}, out
	}
	for _, b := range v.Bindings {
		if b.Prefix == prefix && b.NeighborID == neighbor {
			return b, out
		}
	}
	return LDPBinding{}, out
}

// LDPNeighborState returns the state ldpd gives the session with the LSR
// id ("OPERATIONAL"; "" when there is none) and the command's output.
func (f *FRR) LDPNeighborState(id string) (string, string) {
	out, err := f.Vtysh("show mpls ldp neighbor json")
	if err != nil {
		return "", out
	}
	var v struct {
		Neighbors []struct {
			NeighborID string `json:"neighborId"`
			State      string `json:"state"`
		} `json:"neighbors"`
	}
	if json.Unmarshal([]byte(out), &v) != nil {
		return "", out
	}
	for _, n := range v.Neighbors {
		if n.NeighborID == id {
			return n.State, out
		}
	}
	return "", out
}
