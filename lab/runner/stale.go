package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// RemoveStale removes network namespaces (with their processes), docker
// containers (only those carrying the lab label) and then docker management
// networks (only those vpnos lab created, once nothing is attached) whose
// names start with prefix, whatever state files say. Tests use it to clean up after a run
// that crashed; give it a prefix only your labs use.
func RemoveStale(prefix string) error {
	if prefix == "" || prefix == "clab-" {
		return errors.New("refusing an empty prefix")
	}
	var errs []error
	ents, _ := os.ReadDir(netnsDir)
	var names []string
	var inodes []uint64
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		names = append(names, e.Name())
		if ino, err := netnsInode(filepath.Join(netnsDir, e.Name())); err == nil {
			inodes = append(inodes, ino)
		}
	}
	for ino, pids := range stopNetnsProcesses(inodes, 2*time.Second) {
		errs = append(errs, fmt.Errorf("netns inode %d: processes %v do not stop", ino, pids))
	}
	for _, name := range names {
		if err := deleteNamedNetns(name); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := exec.LookPath("docker"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "label="+LabLabel,
			"--filter", "name=^"+prefix, "--format", "{{.Names}}").Output()
		if err == nil {
			for _, name := range strings.Fields(string(out)) {
				if !strings.HasPrefix(name, prefix) {
					continue
				}
				if o, err := exec.CommandContext(ctx, "docker", "rm", "--force", "--volumes", name).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("docker rm %s: %w: %s", name, err, o))
				}
			}
		}
		out, err = exec.CommandContext(ctx, "docker", "network", "ls", "--filter", "label="+NetworkLabel,
			"--filter", "name="+prefix, "--format", "{{.Name}}").Output()
		if err == nil {
			for _, name := range strings.Fields(string(out)) {
				if !strings.HasPrefix(name, prefix) {
					continue // the name filter matches anywhere in the name
				}
				if o, err := exec.CommandContext(ctx, "docker", "network", "rm", name).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("docker network rm %s: %w: %s", name, err, o))
				}
			}
		}
	}
	return errors.Join(errs...)
}
