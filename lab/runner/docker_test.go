package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"vpnos/lab/topology"
)

// fakeDocker answers the docker CLI calls the management network code makes.
type fakeDocker struct {
	nets     map[string]string // name -> inspect output "driver|label|containers|subnets"
	overlaps map[string]bool   // subnets whose creation fails as overlapping
	raceOn   string            // create of this network fails: another lab made it
	st       *State
	calls    []string
	// journalled is, for each create call, whether the state held the
	// network step when the network was created.
	journalled []bool
}

func (f *fakeDocker) run(ctx context.Context, args ...string) (string, error) {
	f.calls = append(f.calls, strings.Join(args, " "))
	switch {
	case len(args) >= 2 && args[0] == "network" && args[1] == "inspect":
		name := args[len(args)-1]
		out, ok := f.nets[name]
		if !ok {
			return "", fmt.Errorf("docker network: exit status 1: Error response from daemon: network %s not found", name)
		}
		return out + "\n", nil
	case len(args) >= 2 && args[0] == "network" && args[1] == "create":
		name := args[len(args)-1]
		f.journalled = append(f.journalled, f.st.hasStep(StepNetwork, name))
		if name == f.raceOn {
			f.nets[name] = "bridge|other-lab|1|172.20.20.0/24 "
			return "", fmt.Errorf("docker network: exit status 1: Error response from daemon: network with name %s already exists", name)
		}
		subnet, label := "172.18.0.0/16", ""
		for i := 2; i+1 < len(args); i++ {
			switch args[i] {
			case "--subnet":
				subnet = args[i+1]
			case "--label":
				label = strings.TrimPrefix(args[i+1], NetworkLabel+"=")
			}
		}
		if f.overlaps[subnet] {
			return "", errors.New("docker network: exit status 1: Error response from daemon: Pool overlaps with other one on this address space")
		}
		f.nets[name] = "bridge|" + label + "|0|" + subnet + " "
		return "x\n", nil
	case len(args) >= 2 && args[0] == "network" && args[1] == "rm":
		name := args[len(args)-1]
		if _, ok := f.nets[name]; !ok {
			return "", fmt.Errorf("docker network: exit status 1: Error response from daemon: network %s not found", name)
		}
		delete(f.nets, name)
		return name + "\n", nil
	}
	return "", fmt.Errorf("unexpected docker %q", args)
}

func (f *fakeDocker) creates() []string {
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, "network create") {
			out = append(out, c)
		}
	}
	return out
}

func TestDockerPrepare(t *testing.T) {
	mgmt := func(network, subnet string) *topology.Mgmt {
		m := &topology.Mgmt{Network: network}
		if subnet != "" {
			m.IPv4Subnet = netip.MustParsePrefix(subnet)
		}
		return m
	}
	tests := []struct {
		name     string
		mgmt     *topology.Mgmt
		nets     map[string]string
		overlaps []string
		raceOn   string
		creates  []string // network create calls
		steps    []Step
		out      string // substring of the progress output
		wantErr  string
	}{
		{
			name:    "default network created with the default subnet",
			creates: []string{"network create --driver bridge --subnet 172.20.20.0/24 --label vpnos-lab-network=lab clab"},
			steps:   []Step{{Kind: StepNetwork, Name: "clab"}},
			out:     "management network clab (172.20.20.0/24): created",
		},
		{
			name:     "default subnet taken: Docker chooses",
			overlaps: []string{"172.20.20.0/24"},
			creates: []string{
				"network create --driver bridge --subnet 172.20.20.0/24 --label vpnos-lab-network=lab clab",
				"network create --driver bridge --label vpnos-lab-network=lab clab",
			},
			steps: []Step{{Kind: StepNetwork, Name: "clab"}},
			out:   "the default subnet 172.20.20.0/24 overlaps an existing Docker network; letting Docker choose",
		},
		{
			name:     "explicit subnet taken: refused",
			mgmt:     mgmt("vt-m", "172.31.250.0/24"),
			overlaps: []string{"172.31.250.0/24"},
			creates:  []string{"network create --driver bridge --subnet 172.31.250.0/24 --label vpnos-lab-network=lab vt-m"},
			steps:    []Step{{Kind: StepNetwork, Name: "vt-m"}},
			wantErr:  "management network vt-m: mgmt.ipv4-subnet 172.31.250.0/24 overlaps a network Docker already has",
		},
		{
			name:  "existing network used as it is",
			mgmt:  mgmt("vt-m", "172.31.250.0/24"),
			nets:  map[string]string{"vt-m": "bridge||2|172.31.250.0/24 "},
			steps: nil,
			out:   "management network vt-m (172.31.250.0/24): exists, used as it is",
		},
		{
			name:  "existing network of another vpnos lab is journalled",
			nets:  map[string]string{"clab": "bridge|other|3|172.20.20.0/24 "},
			steps: []Step{{Kind: StepNetwork, Name: "clab"}},
			out:   "exists, used as it is",
		},
		{
			name:  "existing network with another subnet: warning",
			mgmt:  mgmt("", "10.9.0.0/16"),
			nets:  map[string]string{"clab": "bridge||0|172.20.20.0/24 "},
			steps: nil,
			out:   "warning: management network clab exists with subnet 172.20.20.0/24; mgmt.ipv4-subnet 10.9.0.0/16 is not applied",
		},
		{
			name:    "existing network that is no bridge",
			mgmt:    mgmt("host", ""),
			nets:    map[string]string{"host": "host||0|"},
			wantErr: "management network host: it exists with driver host; vpnos lab needs a bridge network",
		},
		{
			name:    "created meanwhile by another lab",
			raceOn:  "clab",
			creates: []string{"network create --driver bridge --subnet 172.20.20.0/24 --label vpnos-lab-network=lab clab"},
			steps:   []Step{{Kind: StepNetwork, Name: "clab"}},
			out:     "exists, used as it is",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &State{Lab: "lab", Runtime: RuntimeDocker, Dir: t.TempDir()}
			f := &fakeDocker{nets: map[string]string{}, overlaps: map[string]bool{}, raceOn: tc.raceOn, st: st}
			for k, v := range tc.nets {
				f.nets[k] = v
			}
			for _, s := range tc.overlaps {
				f.overlaps[s] = true
			}
			var out bytes.Buffer
			o := &Options{Out: &out}
			o.defaults()
			b := &dockerBackend{o: o, run: f.run}
			err := b.prepare(context.Background(), st, &topology.Topology{Name: "lab", Mgmt: tc.mgmt})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := f.creates(); !reflect.DeepEqual(got, tc.creates) {
				t.Errorf("creates:\n got %q\nwant %q", got, tc.creates)
			}
			for i, j := range f.journalled {
				if !j {
					t.Errorf("create %d ran before the network was journalled", i)
				}
			}
			if !reflect.DeepEqual(st.Steps, tc.steps) {
				t.Errorf("steps %+v, want %+v", st.Steps, tc.steps)
			}
			if st.MgmtNetwork != tc.mgmt.NetworkName() {
				t.Errorf("MgmtNetwork %q", st.MgmtNetwork)
			}
			saved, err := LoadState(st.Dir)
			if err != nil || saved.MgmtNetwork != st.MgmtNetwork || len(saved.Steps) != len(tc.steps) {
				t.Errorf("saved state %+v, %v", saved, err)
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output %q does not contain %q", out.String(), tc.out)
			}
		})
	}
}

func TestDockerRemoveNetwork(t *testing.T) {
	tests := []struct {
		name    string
		nets    map[string]string
		removed bool
		out     string
	}{
		{"created by vpnos lab, unused", map[string]string{"n": "bridge|lab|0|172.20.20.0/24 "}, true, "management network n: removed"},
		{"still used by another lab", map[string]string{"n": "bridge|lab|2|172.20.20.0/24 "}, false, "left in place (2 containers of other labs are attached)"},
		{"not created by vpnos lab", map[string]string{"n": "bridge||0|172.31.250.0/24 "}, false, "left in place (not created by vpnos lab)"},
		{"already gone", map[string]string{}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &State{Lab: "lab", Runtime: RuntimeDocker, Dir: t.TempDir()}
			f := &fakeDocker{nets: tc.nets, st: st}
			var out bytes.Buffer
			o := &Options{Out: &out}
			o.defaults()
			b := &dockerBackend{o: o, run: f.run}
			existed := len(tc.nets) > 0
			if err := b.remove(context.Background(), st, Step{Kind: StepNetwork, Name: "n"}); err != nil {
				t.Fatal(err)
			}
			_, still := f.nets["n"]
			if still != (existed && !tc.removed) {
				t.Errorf("network there after remove: %v", still)
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output %q does not contain %q", out.String(), tc.out)
			}
		})
	}
}

func TestRemovalPhases(t *testing.T) {
	steps := []Step{
		{Kind: StepNetwork, Name: "clab"},
		{Kind: StepContainer, Name: "c1"},
		{Kind: StepContainer, Name: "c2"},
	}
	got := removalPhases(steps)
	want := [][]Step{{steps[2], steps[1]}, {steps[0]}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}

func TestDockerStatusAddress(t *testing.T) {
	tests := []struct {
		network, answer, wantNet, state, addr string
	}{
		{"clab", "/c exited 0 172.20.20.3/24\n", "clab", "exited", "172.20.20.3/24"},
		{"vt-m", "/c exited 0 /0\n", "vt-m", "exited", "-"},
		{"", "/c exited 0 172.17.0.2/16\n", "bridge", "exited", "172.17.0.2/16"}, // a state from before management networks
		// Up has just seen it answer: running is ready without a probe.
		{"clab", "/c running 4242 172.20.20.5/24\n", "clab", "ready", "172.20.20.5/24"},
		{"clab", "", "clab", "missing", "-"},
	}
	for _, tc := range tests {
		var format string
		var calls int
		b := &dockerBackend{o: &Options{}, run: func(ctx context.Context, args ...string) (string, error) {
			calls++
			format = args[3]
			if tc.answer == "" {
				return "", errors.New("docker container: exit status 1: Error: No such container: c")
			}
			return tc.answer, nil
		}}
		st := &State{MgmtNetwork: tc.network, Nodes: []NodeState{{Name: "c", Runtime: "c"}, {Name: "d", Runtime: "d"}}}
		state, addr := b.status(context.Background(), st, &st.Nodes[0], false)
		if state != tc.state || addr != tc.addr {
			t.Errorf("%q: got %s %s, want %s %s", tc.answer, state, addr, tc.state, tc.addr)
		}
		if state, _ := b.status(context.Background(), st, &st.Nodes[1], false); state != "missing" || calls != 1 {
			t.Errorf("second node: %s after %d docker calls, want missing after one inspect of all", state, calls)
		}
		if !strings.Contains(format, `index .NetworkSettings.Networks "`+tc.wantNet+`"`) {
			t.Errorf("format %q does not read network %s", format, tc.wantNet)
		}
	}
}

func TestNetnsRefusesMgmt(t *testing.T) {
	b := &netnsBackend{o: &Options{Binary: "/nonexistent"}}
	topo := &topology.Topology{Name: "a", File: "/x/a.clab.yml", Mgmt: &topology.Mgmt{Network: "m", Line: 2}}
	err := b.check(context.Background(), topo)
	if err == nil || !errors.Is(err, topology.ErrUnsupported) ||
		!strings.HasPrefix(err.Error(), `/x/a.clab.yml:2: mgmt: key "mgmt" is not supported by the netns runtime: it has no management network`) {
		t.Errorf("got %v", err)
	}
}

func TestNetnsRefusesMgmtIPv4(t *testing.T) {
	b := &netnsBackend{o: &Options{Binary: "/nonexistent"}}
	topo := &topology.Topology{Name: "a", File: "/x/a.clab.yml", Nodes: []*topology.Node{
		{Name: "r1"}, {Name: "r2", MgmtIPv4: netip.MustParseAddr("172.20.20.7"), MgmtLine: 9},
	}}
	err := b.check(context.Background(), topo)
	if err == nil || !errors.Is(err, topology.ErrUnsupported) ||
		!strings.HasPrefix(err.Error(), `/x/a.clab.yml:9: topology.nodes.r2.mgmt-ipv4: key "mgmt-ipv4" is not supported by the netns runtime`) {
		t.Errorf("got %v", err)
	}
}
