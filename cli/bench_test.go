package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// bigConfig is a large PE: 40 VPN instances, 100 LoopBacks, 300 static routes.
func bigConfig() string {
	var b strings.Builder
	b.WriteString("sysname BIG\n#\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "ip vpn-instance v%d\n ipv4-family\n  route-distinguisher 65000:%d\n  vpn-target 65000:%d export-extcommunity\n  vpn-target 65000:%d import-extcommunity\n#\n", i, i, i, i)
	}
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "interface LoopBack%d\n ip binding vpn-instance v%d\n ip address 10.%d.%d.1 255.255.255.255\n#\n", i, i%40, i/200, i%200)
	}
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "ip route-static vpn-instance v%d 172.%d.%d.0 255.255.255.0 192.0.2.2\n", i%40, 16+i/250, i%250)
	}
	b.WriteString("#\nreturn\n")
	return b.String()
}

// BenchmarkReplayBig loads a large configuration; compare with
// BenchmarkRenderBig, measured in the same run, for the cost per line.
func BenchmarkReplayBig(b *testing.B) {
	text := bigConfig()
	for i := 0; i < b.N; i++ {
		e := testEngine(b, "two-stage")
		errs, err := e.Replay(context.Background(), text)
		if err != nil || len(errs) > 0 {
			b.Fatal(err, errs)
		}
	}
}

func BenchmarkRenderBig(b *testing.B) {
	e := testEngine(b, "two-stage")
	if errs, _ := e.Replay(context.Background(), bigConfig()); len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = e.CurrentConfig()
	}
}
