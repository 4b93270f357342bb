package persist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vpnos/cli"
	"vpnos/cli/proto"
	"vpnos/yang/datastore"
)

var (
	vi = func(name string) datastore.Path {
		return datastore.P("vpn-instances", "vpn-instance", datastore.K(name))
	}
	ifc    = func(name string) datastore.Path { return datastore.P("interfaces", "interface", datastore.K(name)) }
	lsp    = func(kind, name string) datastore.Path { return datastore.P("static-lsps", kind, datastore.K(name)) }
	ipAddr = func(ifname, ip string) datastore.Path {
		return ifc(ifname).Child("ipv4").Child("address", ip)
	}
)

const (
	ge1     = "GigabitEthernet0/1/0"
	redRD   = "ip vpn-instance red\n ipv4-family\n  route-distinguisher 1:1\n"
	mplsOn  = "mpls lsr-id 10.255.0.1\nmpls\n"
	noSetup = ""
)

// refusals is one table for three front ends: each change is refused with
// the same sentence by a CLI session, by a line of a configuration file
// (os/persist, as at boot) and by a commit made directly on the datastore
// (as NETCONF will). The sentences come from the owners of the paths
// (services/vrf, static, mpls) or from the datastore's ownership check; the
// front ends only print them.
var refusals = []struct {
	name  string
	setup string // configuration text every front end has committed first
	lines string // the change as configuration text; its first failing line fails with msg
	edit  func(t *datastore.Tree)
	msg   string
}{
	{"VPN instance named _public_", noSetup, "ip vpn-instance _public_",
		func(t *datastore.Tree) { t.SetPresence(vi("_public_")) },
		"The name _public_ is reserved for the public instance"},
	{"management interface", noSetup, "interface MEth0/0/0\n description mgmt",
		func(t *datastore.Tree) { t.Set(ifc("MEth0/0/0").Child("description"), "mgmt") },
		"The management interface MEth0/0/0 cannot be configured"},
	{"mpls ldp without mpls", "mpls lsr-id 10.255.0.1\n", "mpls ldp",
		func(t *datastore.Tree) { t.SetPresence(datastore.P("mpls", "ldp")) },
		"MPLS must be enabled globally before LDP is enabled"},
	{"interface mpls ldp without global LDP", mplsOn + "interface " + ge1 + "\n mpls\n", "interface " + ge1 + "\n mpls ldp",
		func(t *datastore.Tree) { t.Set(ifc(ge1).Child("mpls-ldp"), "") },
		"LDP must be enabled globally before it is enabled on GigabitEthernet0/1/0"},
	{"LDP timer without interface mpls ldp", mplsOn + "mpls ldp\ninterface " + ge1 + "\n mpls\n", "interface " + ge1 + "\n mpls ldp timer hello-hold 30",
		func(t *datastore.Tree) { t.Set(ifc(ge1).Child("mpls-ldp-hello-hold"), "30") },
		"LDP must be enabled on GigabitEthernet0/1/0 before its LDP timers are set"},
	{"vpn-target before the RD", "ip vpn-instance red\n ipv4-family\n", "ip vpn-instance red\n ipv4-family\n  vpn-target 65000:1 export-extcommunity",
		func(t *datastore.Tree) {
			t.SetPresence(vi("red").Child("ipv4-family").Child("vpn-target", "65000:1", "export-extcommunity"))
		},
		"The route-distinguisher of VPN instance red must be configured before vpn-target"},
	{"RD used twice", redRD + "ip vpn-instance blue\n ipv4-family\n", "ip vpn-instance blue\n ipv4-family\n  route-distinguisher 1:1",
		func(t *datastore.Tree) { t.Set(vi("blue").Child("ipv4-family").Child("route-distinguisher"), "1:1") },
		"The route-distinguisher 1:1 of VPN instance blue is already used by VPN instance red"},
	{"RD used twice in another spelling", redRD + "ip vpn-instance blue\n ipv4-family\n", "ip vpn-instance blue\n ipv4-family\n  route-distinguisher 01:0001",
		func(t *datastore.Tree) { t.Set(vi("blue").Child("ipv4-family").Child("route-distinguisher"), "1:1") },
		"The route-distinguisher 1:1 of VPN instance blue is already used by VPN instance red"},
	{"RD changed in place", redRD, "ip vpn-instance red\n ipv4-family\n  route-distinguisher 1:2",
		func(t *datastore.Tree) { t.Set(vi("red").Child("ipv4-family").Child("route-distinguisher"), "1:2") },
		"The route-distinguisher of VPN instance red cannot be changed from 1:1 to 1:2; remove it and commit first"},
	{"/32 on a port", noSetup, "interface " + ge1 + "\n ip address 192.0.2.1 32",
		func(t *datastore.Tree) { t.Set(ipAddr(ge1, "192.0.2.1").Child("mask"), "255.255.255.255") },
		"The mask length 32 is allowed on LoopBack interfaces only (GigabitEthernet0/1/0)"},
	{"network address", noSetup, "interface " + ge1 + "\n ip address 192.0.2.0 30",
		func(t *datastore.Tree) { t.Set(ipAddr(ge1, "192.0.2.0").Child("mask"), "255.255.255.252") },
		"The address 192.0.2.0/30 on GigabitEthernet0/1/0 is a network or broadcast address"},
	{"LoopBack address 255.255.255.255", "interface LoopBack1\n", "interface LoopBack1\n ip address 255.255.255.255 32",
		func(t *datastore.Tree) {
			t.Set(ipAddr("LoopBack1", "255.255.255.255").Child("mask"), "255.255.255.255")
		},
		"The address 255.255.255.255 on LoopBack1 is not a valid host address"},
	{"LoopBack address 0.0.0.0", "interface LoopBack1\n", "interface LoopBack1\n ip address 0.0.0.0 32",
		func(t *datastore.Tree) { t.Set(ipAddr("LoopBack1", "0.0.0.0").Child("mask"), "255.255.255.255") },
		"The address 0.0.0.0 on LoopBack1 is not a valid host address"},
	{"LoopBack address 224.0.0.1", "interface LoopBack1\n", "interface LoopBack1\n ip address 224.0.0.1 32",
		func(t *datastore.Tree) { t.Set(ipAddr("LoopBack1", "224.0.0.1").Child("mask"), "255.255.255.255") },
		"The address 224.0.0.1 on LoopBack1 is not a valid host address"},
	{"LoopBack address 127.0.0.1", "interface LoopBack1\n", "interface LoopBack1\n ip address 127.0.0.1 32",
		func(t *datastore.Tree) { t.Set(ipAddr("LoopBack1", "127.0.0.1").Child("mask"), "255.255.255.255") },
		"The address 127.0.0.1 on LoopBack1 is not a valid host address"},
	{"LoopBack address 0.1.2.3", "interface LoopBack1\n", "interface LoopBack1\n ip address 0.1.2.3 32",
		func(t *datastore.Tree) { t.Set(ipAddr("LoopBack1", "0.1.2.3").Child("mask"), "255.255.255.255") },
		"The address 0.1.2.3 on LoopBack1 is not a valid host address"},
	{"LoopBack address 240.0.0.1", "interface LoopBack1\n", "interface LoopBack1\n ip address 240.0.0.1 32",
		func(t *datastore.Tree) { t.Set(ipAddr("LoopBack1", "240.0.0.1").Child("mask"), "255.255.255.255") },
		"The address 240.0.0.1 on LoopBack1 is not a valid host address"},
	{"port address 224.1.1.1/24", "interface " + ge1 + "\n", "interface " + ge1 + "\n ip address 224.1.1.1 24",
		func(t *datastore.Tree) { t.Set(ipAddr(ge1, "224.1.1.1").Child("mask"), "255.255.255.0") },
		"The address 224.1.1.1 on GigabitEthernet0/1/0 is not a valid host address"},
	{"static route next hop 0.0.0.0", noSetup, "ip route-static 10.0.0.0 8 0.0.0.0",
		func(t *datastore.Tree) {
			t.SetPresence(datastore.P("static-routes", "route", datastore.K("10.0.0.0", "255.0.0.0", "0.0.0.0")))
		},
		"The route 10.0.0.0 255.0.0.0: the next hop 0.0.0.0 is not a valid host address"},
	{"static route next hop 255.255.255.255", noSetup, "ip route-static 10.0.0.0 8 255.255.255.255",
		func(t *datastore.Tree) {
			t.SetPresence(datastore.P("static-routes", "route", datastore.K("10.0.0.0", "255.0.0.0", "255.255.255.255")))
		},
		"The route 10.0.0.0 255.0.0.0: the next hop 255.255.255.255 is not a valid host address"},
	{"static route next hop 127.0.0.1", noSetup, "ip route-static 10.0.0.0 8 127.0.0.1",
		func(t *datastore.Tree) {
			t.SetPresence(datastore.P("static-routes", "route", datastore.K("10.0.0.0", "255.0.0.0", "127.0.0.1")))
		},
		"The route 10.0.0.0 255.0.0.0: the next hop 127.0.0.1 is not a valid host address"},
	{"static route next hop 224.0.0.5", noSetup, "ip route-static 10.0.0.0 8 224.0.0.5",
		func(t *datastore.Tree) {
			t.SetPresence(datastore.P("static-routes", "route", datastore.K("10.0.0.0", "255.0.0.0", "224.0.0.5")))
		},
		"The route 10.0.0.0 255.0.0.0: the next hop 224.0.0.5 is not a valid host address"},
	{"static route next hop address 0.0.0.0 after an interface", noSetup, "ip route-static 10.0.0.0 8 " + ge1 + " 0.0.0.0",
		func(t *datastore.Tree) {
			t.Set(datastore.P("static-routes", "route", datastore.K("10.0.0.0", "255.0.0.0", ge1), "next-hop-address"), "0.0.0.0")
		},
		"The route 10.0.0.0 255.0.0.0: the next hop 0.0.0.0 is not a valid host address"},
	{"VPN static route next hop 0.0.0.0 in the public instance", redRD, "ip route-static vpn-instance red 10.0.0.0 8 0.0.0.0 public",
		func(t *datastore.Tree) {
			t.Set(datastore.P("static-routes", "vpn-route", datastore.K("red", "10.0.0.0", "255.0.0.0", "0.0.0.0"), "public"), "")
		},
		"The route 10.0.0.0 255.0.0.0: the next hop 0.0.0.0 is not a valid host address"},
	{"static LSP next hop 0.0.0.0", mplsOn, "static-lsp transit T1 in-label 100 nexthop 0.0.0.0 out-label 3",
		func(t *datastore.Tree) {
			t.Set(lsp("transit", "T1").Child("in-label"), "100")
			t.Set(lsp("transit", "T1").Child("nexthop"), "0.0.0.0")
			t.Set(lsp("transit", "T1").Child("out-label"), "3")
		},
		"The next hop 0.0.0.0 of static LSP T1 is not a valid host address"},
	{"overlapping addresses", "interface " + ge1 + "\n ip address 192.0.2.1 30\ninterface LoopBack1\n", "interface LoopBack1\n ip address 192.0.2.2 32",
		func(t *datastore.Tree) { t.Set(ipAddr("LoopBack1", "192.0.2.2").Child("mask"), "255.255.255.255") },
		"The address 192.0.2.2/32 on LoopBack1 conflicts with 192.0.2.1/30 on GigabitEthernet0/1/0"},
	{"secondary address alone", noSetup, "interface " + ge1 + "\n ip address 192.0.2.1 30 sub",
		func(t *datastore.Tree) {
			t.Set(ipAddr(ge1, "192.0.2.1").Child("mask"), "255.255.255.252")
			t.Set(ipAddr(ge1, "192.0.2.1").Child("sub"), "")
		},
		"The interface GigabitEthernet0/1/0 has a secondary address but no primary address"},
	{"static label per route", redRD, "ip vpn-instance red\n ipv4-family\n  apply-label per-route static 100",
		func(t *datastore.Tree) {
			t.Set(vi("red").Child("ipv4-family").Child("apply-label"), "per-route")
			t.Set(vi("red").Child("ipv4-family").Child("apply-label-static"), "100")
		},
		"A static label needs apply-label per-instance (VPN instance red)"},
	{"static label used twice", redRD + "  apply-label per-instance static 100\nip vpn-instance blue\n ipv4-family\n  route-distinguisher 1:2\n",
		"ip vpn-instance blue\n ipv4-family\n  apply-label per-instance static 100",
		func(t *datastore.Tree) {
			t.Set(vi("blue").Child("ipv4-family").Child("apply-label"), "per-instance")
			t.Set(vi("blue").Child("ipv4-family").Child("apply-label-static"), "100")
		},
		"VPN instance blue cannot use the static label 100: VPN instance red uses it"},
	{"mpls before the LSR ID", noSetup, "mpls",
		func(t *datastore.Tree) { t.SetPresence(datastore.P("mpls", "enable")) },
		"The MPLS LSR ID must be configured before MPLS is enabled"},
	{"interface mpls before global mpls", noSetup, "interface " + ge1 + "\n mpls",
		func(t *datastore.Tree) { t.Set(ifc(ge1).Child("mpls"), "") },
		"MPLS must be enabled globally before it is enabled on GigabitEthernet0/1/0"},
	{"LSR ID in a VPN instance", redRD + "interface LoopBack0\n ip binding vpn-instance red\nmpls lsr-id 10.255.0.1\n", "interface LoopBack0\n ip address 10.255.0.1 32",
		func(t *datastore.Tree) { t.Set(ipAddr("LoopBack0", "10.255.0.1").Child("mask"), "255.255.255.255") },
		"The interface LoopBack0 holds the MPLS LSR ID 10.255.0.1 and cannot be bound to a VPN instance"},
	{"static LSP without MPLS", noSetup, "static-lsp egress E1 in-label 100",
		func(t *datastore.Tree) { t.Set(lsp("egress", "E1").Child("in-label"), "100") },
		"MPLS must be enabled globally before static LSP E1"},
	{"static LSP in-label used twice", mplsOn + "static-lsp egress E1 in-label 100\n", "static-lsp transit T1 in-label 100 nexthop 10.0.0.2 out-label 3",
		func(t *datastore.Tree) {
			t.Set(lsp("transit", "T1").Child("in-label"), "100")
			t.Set(lsp("transit", "T1").Child("nexthop"), "10.0.0.2")
			t.Set(lsp("transit", "T1").Child("out-label"), "3")
		},
		"The in-label 100 of static LSP T1 is already used by static LSP E1"},
	{"static LSP destination used twice", mplsOn + "static-lsp ingress I1 destination 10.255.0.3 32 nexthop 10.0.0.2 out-label 200\n",
		"static-lsp ingress I2 destination 10.255.0.3 32 nexthop 10.0.0.6 out-label 300",
		func(t *datastore.Tree) {
			t.Set(lsp("ingress", "I2").Child("destination"), "10.255.0.3")
			t.Set(lsp("ingress", "I2").Child("mask"), "255.255.255.255")
			t.Set(lsp("ingress", "I2").Child("nexthop"), "10.0.0.6")
			t.Set(lsp("ingress", "I2").Child("out-label"), "300")
		},
		"The destination 10.255.0.3 255.255.255.255 of static LSP I2 is already used by static LSP I1"},
	{"static route destination and mask", noSetup, "ip route-static 10.0.0.1 255.0.0.0 192.0.2.1",
		func(t *datastore.Tree) {
			t.SetPresence(datastore.P("static-routes", "route", datastore.K("10.0.0.1", "255.0.0.0", "192.0.2.1")))
		},
		"The destination address 10.0.0.1 and mask 255.0.0.0 do not match"},
	{"static route next hop in its own instance", redRD, "ip route-static vpn-instance red 172.16.0.0 24 vpn-instance red 192.0.2.2",
		func(t *datastore.Tree) {
			t.Set(datastore.P("static-routes", "vpn-route", datastore.K("red", "172.16.0.0", "255.255.255.0", "192.0.2.2"), "next-hop-vpn"), "red")
		},
		"The route 172.16.0.0 255.255.255.0: the next hop is in the route's own VPN instance; give it without vpn-instance"},
}

func newEngine(t *testing.T) *cli.Engine {
	t.Helper()
	e, err := cli.New(cli.Deps{Store: testStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func textLines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// cliSession types lines into an interactive session; it returns the
// output of the first refused line.
func cliSession(t *testing.T, e *cli.Engine, setup, lines string) string {
	ctx := context.Background()
	s, _ := e.Open(ctx, proto.Request{User: "admin", Interactive: true})
	defer s.Close()
	do := func(l string) proto.Response { return s.Handle(ctx, proto.Request{Op: proto.OpExec, Line: l}) }
	do("system-view")
	if setup != "" {
		for _, l := range append(textLines(setup), "commit") {
			if r := do(l); r.Failed {
				t.Fatalf("setup %q: %s", l, r.Output)
			}
		}
	}
	for _, l := range textLines(lines) {
		if r := do(l); r.Failed {
			return strings.TrimSpace(r.Output)
		}
	}
	return ""
}

// startupFile loads setup, then lines, as configuration files; it returns
// the message of the first refused line of the second.
func startupFile(t *testing.T, e *cli.Engine, setup, lines string) string {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	load := func(text string) Report {
		path := filepath.Join(t.TempDir(), "startup.cfg")
		if err := os.WriteFile(path, []byte(text+"return\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := Boot(ctx, New(path, log), replayInto(e), log)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if setup != "" {
		if rep := load(setup); len(rep.Errors) > 0 {
			t.Fatalf("setup file: %+v", rep.Errors)
		}
	}
	before := e.CurrentConfig()
	rep := load(lines + "\n")
	if e.CurrentConfig() != before {
		t.Errorf("a refused file changed running:\n%s", e.CurrentConfig())
	}
	if len(rep.Errors) == 0 {
		return ""
	}
	return rep.Errors[0].Message
}

// datastoreCommit commits the edit on a candidate of the datastore itself;
// it returns the sentence of the one refusal.
func datastoreCommit(t *testing.T, e *cli.Engine, setup string, edit func(*datastore.Tree)) string {
	ctx := context.Background()
	if setup != "" {
		if errs, err := e.Replay(ctx, setup); err != nil || len(errs) > 0 {
			t.Fatalf("setup: %v %+v", err, errs)
		}
	}
	st := e.Store()
	before := st.Running()
	c := st.NewCandidate()
	edit(c.Tree())
	_, err := c.Commit(ctx, "netconf", "")
	if st.Running() != before {
		t.Error("a refused commit changed running")
	}
	var ve *datastore.ValidationError
	if !errors.As(err, &ve) {
		return "commit: " + errString(err)
	}
	var re *datastore.RuleError
	if len(ve.Errs) != 1 || !errors.As(ve.Errs[0], &re) {
		return "refusals: " + err.Error()
	}
	return re.Msg
}

func errString(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}

func TestSameRefusalEveryFrontEnd(t *testing.T) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			want := "Error: " + tc.msg + "."
			if got := cliSession(t, newEngine(t), tc.setup, tc.lines); got != want {
				t.Errorf("CLI session:   %q\nwant           %q", got, want)
			}
			if got := startupFile(t, newEngine(t), tc.setup, tc.lines); got != want {
				t.Errorf("startup file:  %q\nwant           %q", got, want)
			}
			if got := datastoreCommit(t, newEngine(t), tc.setup, tc.edit); got != tc.msg {
				t.Errorf("datastore:     %q\nwant           %q", got, tc.msg)
			}
		})
	}
}

// TestOneSpellingPerValue: a route distinguisher, a route target and an
// interface name have one spelling in running, whatever spelling a CLI line
// or a startup file used, so that no two instances hold the same RD
// written differently and a target is not configured twice.
func TestOneSpellingPerValue(t *testing.T) {
	const text = `ip vpn-instance red
 ipv4-family
  route-distinguisher 0100:01
  vpn-target 111:01 export-extcommunity
  vpn-target 111:1 export-extcommunity
  vpn-target 00111:0001 import-extcommunity
ip vpn-instance blue
 ipv4-family
  route-distinguisher 00100:1
ip vpn-instance green
 ipv4-family
  route-distinguisher 100:0001
ip vpn-instance white
 ipv4-family
  route-distinguisher 0.0.0.0:0
`
	e := newEngine(t)
	errs, err := e.Replay(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, le := range errs {
		got = append(got, fmt.Sprintf("%d %s", le.Line, le.Message))
	}
	want := []string{
		"9 Error: The route-distinguisher 100:1 of VPN instance blue is already used by VPN instance red.",
		"12 Error: The route-distinguisher 100:1 of VPN instance green is already used by VPN instance red.",
		"15 Error: Wrong parameter found at '^' position.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("refused:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cfg := e.CurrentConfig()
	if !strings.Contains(cfg, "  route-distinguisher 100:1\n  apply-label per-instance\n  vpn-target 111:1 export-extcommunity\n  vpn-target 111:1 import-extcommunity\n") {
		t.Fatalf("configuration:\n%s", cfg)
	}
	if got := cliSession(t, e, "", "ip vpn-instance blue\n ipv4-family\n  route-distinguisher 100:00001"); got != "Error: The route-distinguisher 100:1 of VPN instance blue is already used by VPN instance red." {
		t.Errorf("CLI: %q", got)
	}
}

// TestInterfaceNumbersOutOfRange: interface numbers VRP refuses are refused
// by the type of the interface name, so a startup file (and NETCONF) meets
// the ranges the CLI's parser knows.
func TestInterfaceNumbersOutOfRange(t *testing.T) {
	e := newEngine(t)
	errs, err := e.Replay(context.Background(), "interface LoopBack4294967296\n description a\ninterface GigabitEthernet0/1/0.99999\ninterface LoopBack01\ninterface LoopBack1023\n")
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, le := range errs {
		lines = append(lines, le.Line)
	}
	if !equalInts(lines, []int{1, 2, 3, 4}) {
		t.Fatalf("refused %+v", errs)
	}
	if got := body(e.CurrentConfig()); got != "#\ninterface LoopBack1023\n#\nreturn\n" {
		t.Fatalf("configuration %q", got)
	}
	c := e.Store().NewCandidate()
	c.Tree().Set(ifc("LoopBack4294967296").Child("description"), "a")
	if _, err := c.Commit(context.Background(), "netconf", ""); err == nil {
		t.Fatal("the datastore took LoopBack4294967296")
	}
}
