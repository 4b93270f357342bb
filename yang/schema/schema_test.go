package schema

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func names(s *Schema, path ...string) string {
	var out []string
	for _, c := range s.Children(s.Find(path...)) {
		out = append(out, c.Name)
	}
	return strings.Join(out, " ")
}

func TestLoadAndOrder(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []string
		want string
	}{
		{nil, "system vpn-instances mpls interfaces ospf ip-prefixes community-filters extcommunity-filters as-path-filters route-policies static-routes static-lsps user-interface"},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family"}, "route-distinguisher apply-label apply-label-static import-route-policy export-route-policy tnl-policy vpn-target"},
		{[]string{"interfaces", "interface"}, "name shutdown description vpn-instance ipv4 mpls mpls-ldp mpls-ldp-hello-hold mpls-ldp-keepalive-hold ospf"},
		{[]string{"static-routes", "vpn-route"}, "vpn-instance next-hop-vpn public prefix mask next-hop next-hop-address preference tag description"},
	}
	for _, tc := range tests {
		if got := names(s, tc.path...); got != tc.want {
			t.Errorf("%v: got %q want %q", tc.path, got, tc.want)
		}
	}
	if !HasExt(s.Find("static-routes", "route", "mask"), "mask") {
		t.Error("grouping leaf lost its vcli:mask")
	}
	if got := names(s, "interfaces", "interface", "ospf"); got != "cost network-type timer-hello timer-dead dr-priority enable authentication-mode" {
		t.Errorf("interface ospf children %q", got)
	}
	if c, _ := Ext(s.Find("interfaces", "interface", "mpls-ldp"), "command"); c != "mpls ldp" {
		t.Errorf("augmented leaf command %q", c)
	}
}

func TestCheckValue(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []string
		in   string
		want string
		ok   bool
	}{
		{[]string{"interfaces", "interface", "name"}, "GigabitEthernet0/1/0", "GigabitEthernet0/1/0", true},
		{[]string{"interfaces", "interface", "name"}, "Gig0/1/0", "", false},
		{[]string{"mpls", "lsr-id"}, "10.255.0.1", "10.255.0.1", true},
		{[]string{"mpls", "lsr-id"}, "10.255.0.256", "", false},
		{[]string{"static-lsps", "transit", "in-label"}, "0100", "100", true},
		{[]string{"static-lsps", "transit", "in-label"}, "32784", "", false},
		{[]string{"static-lsps", "ingress", "out-label"}, "3", "3", true},
		{[]string{"static-lsps", "ingress", "out-label"}, "5", "", false},
		{[]string{"static-routes", "route", "next-hop"}, "LoopBack0", "LoopBack0", true},
		{[]string{"static-routes", "route", "next-hop"}, "1.2.3.4", "1.2.3.4", true},
		{[]string{"static-routes", "route", "preference"}, "0", "", false},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "apply-label"}, "per-route", "per-route", true},
		{[]string{"vpn-instances", "vpn-instance", "name"}, strings.Repeat("a", 32), "", false},
		{[]string{"ospf", "process", "area", "id"}, "0", "0.0.0.0", true},
		{[]string{"ospf", "process", "area", "id"}, "4294967295", "255.255.255.255", true},
		{[]string{"ospf", "process", "area", "id"}, "258", "0.0.1.2", true},
		{[]string{"ospf", "process", "area", "id"}, "0.0.0.1", "0.0.0.1", true},
		{[]string{"ospf", "process", "area", "id"}, "4294967296", "", false},
		{[]string{"ospf", "process", "area", "id"}, "1.2.3", "", false},
		{[]string{"interfaces", "interface", "ospf", "enable", "area"}, "1", "0.0.0.1", true},
		{[]string{"interfaces", "interface", "ospf", "authentication-mode", "cipher"}, "abc", CipherPassword("abc"), true},
		{[]string{"interfaces", "interface", "ospf", "authentication-mode", "cipher"}, CipherPassword("abc"), CipherPassword("abc"), true},
		{[]string{"interfaces", "interface", "ospf", "authentication-mode", "cipher"}, "%^%#!!%^%#", "", false},
		{[]string{"interfaces", "interface", "ospf", "authentication-mode", "cipher"}, strings.Repeat("x", 17), "", false},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "65000:1", "65000:1", true},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "0:0", "", false},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "70000:70000", "", false},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "vpn-target", "value"}, "10.0.0.1:7", "10.0.0.1:7", true},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "vpn-target", "value"}, "0:0", "", false},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "vpn-target", "value"}, "10.0.0.1:70000", "", false},
	}
	for _, tc := range tests {
		got, err := s.CheckValue(s.Find(tc.path...), tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%v %q: got %q, %v", tc.path, tc.in, got, err)
		}
	}
}

// TestYanglint checks every module with libyang's yanglint.
func TestYanglint(t *testing.T) {
	bin, err := exec.LookPath("yanglint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("yanglint not installed; CI installs libyang2-tools")
		}
		t.Skip("yanglint not installed (apt-get install libyang2-tools)")
	}
	dir, _ := filepath.Abs("../modules")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yang"))
	if len(files) == 0 {
		t.Fatal("no modules")
	}
	for _, f := range files {
		out, err := exec.Command(bin, "-p", dir, f).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("yanglint %s: %v\n%s", filepath.Base(f), err, out)
		}
	}
}

func TestCipherPassword(t *testing.T) {
	for _, pw := range []string{"a", "huawei", "12345678", "sixteen-chars-pw"} {
		c := CipherPassword(pw)
		if !strings.HasPrefix(c, "%^%#") || !strings.HasSuffix(c, "%^%#") || strings.Contains(c, pw) {
			t.Errorf("%q: cipher form %q", pw, c)
		}
		got, err := PlainPassword(c)
		if err != nil || got != pw {
			t.Errorf("%q: back %q, %v", pw, got, err)
		}
	}
	for _, bad := range []string{"", "%^%#", "%^%#%^%#", "%^%#abc", "plain", "%^%#" + strings.Repeat("QUJD", 10) + "%^%#"} {
		if _, err := PlainPassword(bad); err == nil {
			t.Errorf("%q: taken as a cipher password", bad)
		}
	}
}

func TestCheckRD(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"65000:100", true}, {"10.255.0.1:1", true}, {"4200000000:1", true}, {"4200000000:70000", false},
		{"1.2:3", true}, {"0:0", false}, {"0.0:0", false}, {"1:", false}, {"a:1", false}, {"1.2.3:4", false},
		{"65535:4294967295", true}, {"65535:4294967296", false},
	} {
		if err := CheckRD(tc.in); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.in, err)
		}
	}
}
