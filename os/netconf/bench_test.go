package netconf_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"vpnos/os/netconf"
	"vpnos/yang/datastore"
	"vpnos/yang/schema"
)

// benchInstances is how many VPN instances the benchmarks configure.
const benchInstances = 1000

// pipeClient is a bare NETCONF client (base:1.1) on an in-memory
// connection to a server: framing, XML and the server's work, no SSH.
type pipeClient struct {
	r  *netconf.Reader
	w  *netconf.Writer
	id int
}

func newPipeClient(tb testing.TB, srv *netconf.Server) *pipeClient {
	a, b := net.Pipe()
	go func() { _ = srv.Serve(context.Background(), b, "admin", "bench") }()
	tb.Cleanup(func() { a.Close() })
	c := &pipeClient{r: netconf.NewReader(a, 64<<20), w: netconf.NewWriter(a)}
	errc := make(chan error, 1)
	go func() {
		errc <- c.w.WriteMessage([]byte(`<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>` + netconf.CapBase11 + `</capability></capabilities></hello>`))
	}()
	if _, err := c.r.ReadMessage(); err != nil {
		tb.Fatal(err)
	}
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
	c.r.SetChunked()
	c.w.SetChunked()
	return c
}

// rpc sends one operation and returns the reply; an rpc-error fails tb.
func (c *pipeClient) rpc(tb testing.TB, op string) []byte {
	c.id++
	msg := fmt.Sprintf(`<rpc message-id="%d" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">%s</rpc>`, c.id, op)
	errc := make(chan error, 1)
	go func() { errc <- c.w.WriteMessage([]byte(msg)) }()
	reply, err := c.r.ReadMessage()
	if err != nil {
		tb.Fatal(err)
	}
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
	if strings.Contains(string(reply[:min(len(reply), 300)]), "<rpc-error>") {
		tb.Fatalf("%.200s: %s", op, reply)
	}
	return reply
}

// bigEdit is one edit-config of n VPN instances, each with an RD and two
// route targets.
func bigEdit(n int) string {
	var b strings.Builder
	b.WriteString(`<edit-config><target><candidate/></target><config><vpn-instances xmlns="` + nsVI + `">`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `<vpn-instance><name>v%d</name><ipv4-family><route-distinguisher>65000:%d</route-distinguisher>`+
			`<vpn-target><value>65000:%d</value><direction>export-extcommunity</direction></vpn-target>`+
			`<vpn-target><value>65000:%d</value><direction>import-extcommunity</direction></vpn-target>`+
			`</ipv4-family></vpn-instance>`, i, i, i, i)
	}
	b.WriteString(`</vpn-instances></config></edit-config>`)
	return b.String()
}

// bigCLI is the same change as VRP configuration text.
func bigCLI(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "ip vpn-instance v%d\n ipv4-family\n  route-distinguisher 65000:%d\n"+
			"  vpn-target 65000:%d export-extcommunity\n  vpn-target 65000:%d import-extcommunity\n#\n", i, i, i, i)
	}
	return b.String() + "return\n"
}

// BenchmarkEditCommit1000 configures 1,000 VPN instances with one
// edit-config and a commit, then reads them back with get-config, beside
// the reference of the same change through the CLI: the VRP text loaded by
// the CLI engine as one commit (its fastest path: the grammar per line, one
// validation; the same datastore and no participants on either side).
func BenchmarkEditCommit1000(b *testing.B) {
	edit := bigEdit(benchInstances)
	text := bigCLI(benchInstances)
	sc, err := schema.Load()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var editT, getT, cliT time.Duration
	var replyBytes int
	for b.Loop() {
		srv, err := netconf.New(netconf.Config{Store: datastore.New(sc, nil), MaxMessage: 64 << 20})
		if err != nil {
			b.Fatal(err)
		}
		c := newPipeClient(b, srv)
		start := time.Now()
		c.rpc(b, edit)
		c.rpc(b, "<commit/>")
		mid := time.Now()
		reply := c.rpc(b, "<get-config><source><running/></source></get-config>")
		getT += time.Since(mid)
		editT += mid.Sub(start)
		replyBytes = len(reply)
		if n := strings.Count(string(reply), "<vpn-instance>"); n != benchInstances {
			b.Fatalf("get-config returned %d instances", n)
		}

		e := newEngine(b, "two-stage")
		start = time.Now()
		if errs, err := e.ReplayAs(ctx, text, "bench"); err != nil || len(errs) > 0 {
			b.Fatal(err, errs)
		}
		cliT += time.Since(start)
		if n := len(e.Store().Running().Entries(datastore.P("vpn-instances"), "vpn-instance")); n != benchInstances {
			b.Fatalf("the CLI committed %d instances", n)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(editT.Milliseconds())/n, "ms/edit+commit")
	b.ReportMetric(float64(getT.Milliseconds())/n, "ms/get-config")
	b.ReportMetric(float64(replyBytes), "reply-bytes")
	b.ReportMetric(float64(cliT.Milliseconds())/n, "ref-ms/cli")
	b.ReportMetric(float64(editT)/float64(cliT), "ratio")
}
