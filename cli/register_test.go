package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRegister(t *testing.T) {
	e := testEngine(t, "two-stage")
	err := e.Register(Command{
		Views:   "any",
		Syntax:  "display ip routing-table [vpn-instance {vrf:vpn-instance}] [{ip:ip} [{len:mask}]] [verbose]",
		Help:    map[string]string{"routing-table": "IP routing table", "vrf": "VPN instance name", "ip": "Destination", "verbose": "Detailed information"},
		Display: true,
		Run: func(_ context.Context, a *Args) (string, error) {
			vrf, _ := a.Value("vrf")
			ip, _ := a.Value("ip")
			l, _ := a.Value("len")
			return fmt.Sprintf("vrf=%q ip=%q len=%q verbose=%v\nsecond line\n", vrf, ip, l, a.Keyword("verbose")), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Register(Command{Views: "any", Syntax: "ping [-c {count:int<1-4294967295>}] {host:ip}", Help: map[string]string{"ping": "Send ICMP echo requests"},
		Run: func(_ context.Context, a *Args) (string, error) {
			if h, _ := a.Value("host"); h == "0.0.0.0" {
				return "", &ArgError{Name: "host"}
			}
			return "", errors.New("no route to host")
		}}); err != nil {
		t.Fatal(err)
	}
	got := runTranscript(t, e, strings.Join([]string{
		"system-view", "ip vpn-instance red", "commit", "return",
		"dis ip rou",
		"display ip routing-table vpn-instance red 10.0.0.0 255.0.0.0 verbose",
		"display ip routing-table vpn-instance blue",
		"display ip routing-table ?",
		"dis ip rou | include second",
		"ping 0.0.0.0",
		"ping -c 3 10.0.0.1",
		"system-view",
		"interface LoopBack0",
		"dis ip routing-table 1.2.3.4 24",
	}, "\n"))
	for _, want := range []string{
		`<HUAWEI> dis ip rou` + "\n" + `vrf="" ip="" len="" verbose=false`,
		`vrf="red" ip="10.0.0.0" len="8" verbose=true`,
		"<HUAWEI> display ip routing-table vpn-instance blue\n" + strings.Repeat(" ", len("<HUAWEI> display ip routing-table vpn-instance ")) + "^\nError: Wrong parameter found at '^' position.",
		"  vpn-instance              VPN instance\n",
		"  verbose                   Detailed information\n",
		"<HUAWEI> dis ip rou | include second\nsecond line\n<HUAWEI>",
		"<HUAWEI> ping 0.0.0.0\n              ^\nError: Wrong parameter found at '^' position.",
		"Error: No route to host.",
		`[*HUAWEI-LoopBack0] dis ip routing-table 1.2.3.4 24` + "\n" + `vrf="" ip="1.2.3.4" len="24"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
