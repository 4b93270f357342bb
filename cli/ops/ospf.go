package ops

import (
	"context"
	"errors"
	"strconv"

	"vpnos/cli"
	"vpnos/services/ospf"
)

// OSPF is what the OSPF displays and reset need (*ospf.Service implements
// it).
type OSPF interface {
	// Snapshots copies the state of process (0: every process, sorted);
	// ospf.ErrNoProcess when it is not configured.
	Snapshots(ctx context.Context, process uint32) ([]ospf.Snapshot, error)
	// Reset restarts a process.
	Reset(ctx context.Context, process uint32) error
}

var _ OSPF = (*ospf.Service)(nil)

var errNoOSPF = errors.New("The OSPF process does not exist")

// ospfCommands: display ospf [PROCESS] peer|interface|lsdb|routing|brief
// (ospfrender.go) and reset ospf PROCESS process.
func (o *ops) ospfCommands() []cli.Command {
	if o.d.OSPF == nil {
		return nil
	}
	help := map[string]string{
		"ospf": "OSPF (Open Shortest Path First)", "pid": "Process ID",
		"peer": "Neighbours", "brief": "Brief information", "interface": "Interfaces",
		"lsdb": "Link state database", "router": "Router LSAs", "network": "Network LSAs",
		"summary": "Network summary LSAs", "asbr": "ASBR summary LSAs", "ase": "AS-external LSAs",
		"routing": "Routing table", "reset": "Reset operations", "process": "Restart the process",
	}
	display := func(syntax string, render func(a *cli.Args, snaps []ospf.Snapshot) string) cli.Command {
		return cli.Command{
			Views:   "any",
			Syntax:  "display ospf [{pid:int<1-4294967295>}] " + syntax,
			Display: true,
			Help:    help,
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				snaps, err := o.ospfSnapshots(ctx, a)
				if err != nil {
					return "", err
				}
				return render(a, snaps), nil
			},
		}
	}
	return []cli.Command{
		display("peer [brief]", func(a *cli.Args, s []ospf.Snapshot) string {
			return RenderOSPFPeer(s, a.Keyword("brief"), o.d.VRP5)
		}),
		display("interface", func(_ *cli.Args, s []ospf.Snapshot) string { return RenderOSPFInterface(s) }),
		display("lsdb [router | network | summary | asbr | ase]", func(a *cli.Args, s []ospf.Snapshot) string {
			kind := ""
			for _, k := range []string{"router", "network", "summary", "asbr", "ase"} {
				if a.Keyword(k) {
					kind = k
				}
			}
			return RenderOSPFLSDB(s, kind)
		}),
		display("routing", func(_ *cli.Args, s []ospf.Snapshot) string { return RenderOSPFRouting(s) }),
		display("brief", func(_ *cli.Args, s []ospf.Snapshot) string { return RenderOSPFBrief(s) }),
		{
			Views:  "user",
			Syntax: "reset ospf {pid:int<1-4294967295>} process",
			Help:   help,
			Run: func(ctx context.Context, a *cli.Args) (string, error) {
				pid, err := ospfPID(a)
				if err != nil {
					return "", err
				}
				if err := o.d.OSPF.Reset(ctx, pid); err != nil {
					return "", ospfError(err)
				}
				return "", nil
			},
		},
	}
}

func ospfPID(a *cli.Args) (uint32, error) {
	v, ok := a.Value("pid")
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return 0, &cli.ArgError{Name: "pid"}
	}
	return uint32(n), nil
}

func (o *ops) ospfSnapshots(ctx context.Context, a *cli.Args) ([]ospf.Snapshot, error) {
	pid, err := ospfPID(a)
	if err != nil {
		return nil, err
	}
	snaps, err := o.d.OSPF.Snapshots(ctx, pid)
	if err != nil {
		return nil, ospfError(err)
	}
	return snaps, nil
}

func ospfError(err error) error {
	if errors.Is(err, ospf.ErrNoProcess) {
		return errNoOSPF
	}
	return err
}
