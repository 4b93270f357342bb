package netconf_test

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scrapli/scrapligo/driver/netconf"
	"github.com/scrapli/scrapligo/driver/opoptions"
	"github.com/scrapli/scrapligo/driver/options"
	"github.com/scrapli/scrapligo/response"
	"github.com/scrapli/scrapligo/transport"
)

const (
	nsVI   = "urn:vpnos:yang:vpnos-vpn-instance"
	nsBase = "urn:ietf:params:xml:ns:netconf:base:1.0"
	nsMon  = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
)

// scrapli opens scrapligo's NETCONF driver (its own SSH transport) on d.
func scrapli(t *testing.T, d *device) *netconf.Driver {
	t.Helper()
	host, port, _ := strings.Cut(d.addr, ":")
	p, _ := strconv.Atoi(port)
	drv, err := netconf.NewDriver(host,
		options.WithTransportType(transport.StandardTransport),
		options.WithPort(p),
		options.WithAuthUsername("admin"),
		options.WithAuthPassword("admin"),
		options.WithAuthNoStrictKey(),
		options.WithTimeoutOps(20*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := drv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close() })
	return drv
}

// ok checks a scrapligo response that must succeed: ok(t, what)(call).
func ok(t *testing.T, what string) func(*response.NetconfResponse, error) string {
	return func(r *response.NetconfResponse, err error) string {
		t.Helper()
		return okResult(t, what, r, err)
	}
}

func okResult(t *testing.T, what string, r *response.NetconfResponse, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.Failed != nil {
		t.Fatalf("%s failed: %v\n%s", what, r.Failed, r.Result)
	}
	return r.Result
}

// failed checks a response that must carry an rpc-error with tag:
// failed(t, what, tag)(call).
func failed(t *testing.T, what, tag string) func(*response.NetconfResponse, error) string {
	return func(r *response.NetconfResponse, err error) string {
		t.Helper()
		return failedResult(t, what, tag, r, err)
	}
}

func failedResult(t *testing.T, what, tag string, r *response.NetconfResponse, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.Failed == nil || !strings.Contains(r.Result, "<error-tag>"+tag+"</error-tag>") {
		t.Fatalf("%s: want error-tag %s, got\n%s", what, tag, r.Result)
	}
	return r.Result
}

func vpnConfig(name, rd string) string {
	return fmt.Sprintf(`<config><vpn-instances xmlns="%s"><vpn-instance><name>%s</name><ipv4-family>`+
		`<route-distinguisher>%s</route-distinguisher></ipv4-family></vpn-instance></vpn-instances></config>`, nsVI, name, rd)
}

// replyData returns the children of an rpc-reply's <data> as text.
func replyData(t *testing.T, reply string) string {
	t.Helper()
	var r struct {
		Data struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"data"`
	}
	if err := xml.Unmarshal([]byte(reply), &r); err != nil {
		t.Fatalf("reply %q: %v", reply, err)
	}
	return string(r.Data.Inner)
}

// TestScrapligo drives the server with scrapligo's NETCONF driver.
func TestScrapligo(t *testing.T) {
	d := newDevice(t)
	a := scrapli(t, d)
	for _, c := range []string{
		"urn:ietf:params:netconf:base:1.1",
		"urn:ietf:params:netconf:capability:candidate:1.0",
		"urn:ietf:params:netconf:capability:confirmed-commit:1.1",
		"urn:ietf:params:netconf:capability:validate:1.1",
		"urn:ietf:params:netconf:capability:rollback-on-error:1.0",
	} {
		if !a.ServerHasCapability(c) {
			t.Errorf("capability %s missing: %v", c, a.ServerCapabilities())
		}
	}
	if a.SessionID() == 0 {
		t.Fatal("no session id")
	}

	// Every announced module, fetched with get-schema.
	dir := t.TempDir()
	modRe := regexp.MustCompile(`\?module=([^&]+)&(?:amp;)?revision=([0-9-]+)`)
	n := 0
	for _, c := range a.ServerCapabilities() {
		m := modRe.FindStringSubmatch(c)
		if m == nil {
			continue
		}
		res := ok(t, "get-schema "+m[1])(a.RPC(opoptions.WithFilter(fmt.Sprintf(`<get-schema xmlns="%s"><identifier>%s</identifier><version>%s</version></get-schema>`, nsMon, m[1], m[2]))))
		var r struct {
			Data string `xml:"data"`
		}
		if err := xml.Unmarshal([]byte(res), &r); err != nil || !strings.HasPrefix(strings.TrimSpace(r.Data), "module "+m[1]) {
			t.Fatalf("get-schema %s: %v\n%.300s", m[1], err, res)
		}
		if err := os.WriteFile(filepath.Join(dir, m[1]+".yang"), []byte(r.Data), 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n < 8 {
		t.Fatalf("%d modules announced", n)
	}

	// edit-config + validate + commit, seen in the CLI.
	ok(t, "edit-config")(a.EditConfig("candidate", vpnConfig("sc-red", "65100:1")))
	ok(t, "validate")(a.Validate("candidate"))
	ok(t, "commit")(a.Commit())
	if cfg := d.cli(t, "display current-configuration"); !strings.Contains(cfg, "ip vpn-instance sc-red\n ipv4-family\n  route-distinguisher 65100:1") {
		t.Fatalf("the CLI does not show the commit:\n%s", cfg)
	}
	// And a CLI commit is seen at once by NETCONF.
	d.cli(t, "system-view", "sysname SCRAPLI", "commit", "return")
	if got := ok(t, "get-config")(a.GetConfig("running")); !strings.Contains(got, "<sysname>SCRAPLI</sysname>") {
		t.Fatalf("a CLI commit is not in running:\n%s", got)
	}

	// get-config, checked by yanglint against the fetched modules.
	running := replyData(t, ok(t, "get-config")(a.GetConfig("running")))
	f := filepath.Join(dir, "running.xml")
	if err := os.WriteFile(f, []byte(running), 0o644); err != nil {
		t.Fatal(err)
	}
	mods, _ := filepath.Glob(filepath.Join(dir, "*.yang"))
	args := append(append([]string{"-p", dir, "-t", "config"}, mods...), f)
	if out, err := exec.Command("yanglint", args...).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("yanglint: %v\n%s\n%s", err, out, running)
	}

	// A refused commit changes nothing.
	ok(t, "edit-config")(a.EditConfig("candidate", vpnConfig("sc-dup", "65100:1")))
	res := failed(t, "commit", TagOperationFailed)(a.Commit())
	if !strings.Contains(res, "The route-distinguisher 65100:1 of VPN instance sc-dup is already used by VPN instance sc-red") {
		t.Fatalf("refused commit:\n%s", res)
	}
	if after := replyData(t, ok(t, "get-config")(a.GetConfig("running"))); after != running {
		t.Fatalf("a refused commit changed running:\n%s", after)
	}
	ok(t, "discard")(a.Discard())

	// lock-denied names the holder.
	b := scrapli(t, d)
	ok(t, "lock")(a.Lock("running"))
	res = failed(t, "second lock", "lock-denied")(b.Lock("running"))
	if !strings.Contains(res, fmt.Sprintf("<session-id>%d</session-id>", a.SessionID())) {
		t.Fatalf("lock-denied without the holder's session id %d:\n%s", a.SessionID(), res)
	}
	// The CLI meets the lock too.
	if out := d.cli(t, "system-view", "sysname OTHER", "commit"); !strings.Contains(out, fmt.Sprintf("Error: The running configuration is locked by NETCONF session %d (user admin).", a.SessionID())) {
		t.Fatalf("CLI commit under a NETCONF lock:\n%s", out)
	}
	ok(t, "unlock")(a.Unlock("running"))

	// A confirmed commit nobody confirms rolls back.
	ok(t, "edit-config")(b.EditConfig("candidate", vpnConfig("sc-trial", "65100:9")))
	ok(t, "confirmed commit")(b.Commit(opoptions.WithCommitConfirmed(), opoptions.WithCommitConfirmTimeout(1)))
	if got := ok(t, "get-config")(a.GetConfig("running")); !strings.Contains(got, "sc-trial") {
		t.Fatal("confirmed commit not applied")
	}
	deadline := time.Now().Add(20 * time.Second)
	for strings.Contains(ok(t, "get-config")(a.GetConfig("running")), "sc-trial") {
		if time.Now().After(deadline) {
			t.Fatal("the confirmed commit was not rolled back")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Malformed XML: malformed-message, and the session goes on.
	res = failed(t, "malformed rpc", TagMalformedMessage)(a.RPC(opoptions.WithFilter(`<get-config><source><running/></source></get-conf>`)))
	if !strings.Contains(res, "<error-type>rpc</error-type>") {
		t.Fatalf("malformed: %s", res)
	}
	ok(t, "get-config after malformed XML")(a.GetConfig("running"))
}

const (
	TagOperationFailed  = "operation-failed"
	TagMalformedMessage = "malformed-message"
)
