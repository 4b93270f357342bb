package schema

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openconfig/goyang/pkg/yang"
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
		{nil, "system vpn-instances mpls interfaces bgp ospf ip-prefixes community-filters extcommunity-filters as-path-filters route-policies static-routes static-lsps user-interface"},
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
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "0100:01", "100:1", true},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "100:0001", "100:1", true},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "00100:1", "100:1", true},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "01.02:03", "1.2:3", true},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "0000065536:0001", "65536:1", true},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "0.0.0.0:0", "", false},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "0.0.0.0:1", "0.0.0.0:1", true},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "route-distinguisher"}, "00:00", "", false},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "vpn-target", "value"}, "111:01", "111:1", true},
		{[]string{"vpn-instances", "vpn-instance", "ipv4-family", "vpn-target", "value"}, "010.0.0.1:1", "", false},
		{[]string{"interfaces", "interface", "name"}, "LoopBack4294967296", "", false},
		{[]string{"interfaces", "interface", "name"}, "LoopBack1023", "LoopBack1023", true},
		{[]string{"interfaces", "interface", "name"}, "LoopBack1024", "", false},
		{[]string{"interfaces", "interface", "name"}, "LoopBack01", "", false},
		{[]string{"interfaces", "interface", "name"}, "GigabitEthernet0/1/0.99999", "", false},
		{[]string{"interfaces", "interface", "name"}, "GigabitEthernet0/1/0.4094", "GigabitEthernet0/1/0.4094", true},
		{[]string{"interfaces", "interface", "name"}, "GigabitEthernet0/1/0.0", "", false},
		{[]string{"interfaces", "interface", "name"}, "GigabitEthernet0/63/0", "GigabitEthernet0/63/0", true},
		{[]string{"interfaces", "interface", "name"}, "GigabitEthernet0/64/0", "", false},
		{[]string{"interfaces", "interface", "name"}, "GigabitEthernet0/01/0", "", false},
		{[]string{"interfaces", "interface", "name"}, "NULL0", "NULL0", true},
		{[]string{"interfaces", "interface", "name"}, "MEth0/0/0", "MEth0/0/0", true},
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

// TestCipherPasswordChars: a password given in its cipher form takes the
// characters a plain one takes: the cipher form of a password with a line
// break or an escape is refused like the plain password.
func TestCipherPasswordChars(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	leaf := s.Find(strings.Split("interfaces/interface/ospf/authentication-mode/cipher", "/")...)
	if leaf == nil {
		t.Fatal("no OSPF cipher password leaf")
	}
	for _, tc := range []struct {
		pw string
		ok bool
	}{{"huawei", true}, {"a\nb", false}, {"a\x1b]0;x\x07", false}, {"a b", false}, {"a?", false}, {"\xff\xfe", false}, {"a\u2028", false}} {
		for _, v := range []string{tc.pw, CipherPassword(tc.pw)} {
			if _, err := s.CheckValue(leaf, v); (err == nil) != tc.ok {
				t.Errorf("%q: %v", v, err)
			}
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
		{"65535:4294967295", true}, {"65535:4294967296", false}, {"0.0.0.0:0", false}, {"0.0.0.0:1", true},
	} {
		if err := CheckRD(tc.in); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.in, err)
		}
	}
}

// stringLeaves returns every leaf (and leaf-list) of the schema whose type
// is a string or a union with a string member, with its path.
func stringLeaves(s *Schema) map[string]*yang.Entry {
	out := map[string]*yang.Entry{}
	var walk func(e *yang.Entry)
	walk = func(e *yang.Entry) {
		for _, c := range s.Children(e) {
			if (c.IsLeaf() || c.IsLeafList()) && hasString(c.Type) {
				out[strings.Join(SchemaPath(c), "/")] = c
			}
			walk(c)
		}
	}
	walk(s.Root)
	return out
}

func hasString(t *yang.YangType) bool {
	if t == nil {
		return false
	}
	if t.Kind == yang.Ystring {
		return true
	}
	for _, u := range t.Type {
		if hasString(u) {
			return true
		}
	}
	return false
}

// TestStringsRefuseControlCharacters: no string value of any leaf carries a
// line break, ESC, BEL, NUL, DEL, a C1 control, a Unicode line or paragraph
// separator, or bytes that are not UTF-8. A value saved into the startup
// file is one line of it, and it is echoed to terminals: the types refuse
// these characters (as VRP's string parameters do), so that the CLI, the
// startup file and NETCONF all meet the rule. Free text keeps no space at
// either end (the CLI cannot type one, and a saved line would lose it).
func TestStringsRefuseControlCharacters(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	leaves := stringLeaves(s)
	if len(leaves) < 10 {
		t.Fatalf("only %d string leaves found", len(leaves))
	}
	bad := []string{"\n", "\r", "\t", "\x00", "\x07", "\x1b", "\x1b]0;pwned\x07", "\x7f", "\u0085", "\u2028", "\u2029", "\xff", "\xc3"}
	for path, e := range leaves {
		// A value the leaf accepts, to put the bad characters into.
		var good string
		for _, v := range []string{"a", "GigabitEthernet0/1/0", "10.0.0.1", "65000:1"} {
			if _, err := s.CheckValue(e, v); err == nil {
				good = v
				break
			}
		}
		if good == "" {
			continue // no string member takes plain values (none today)
		}
		for _, b := range bad {
			for _, v := range []string{good + b, b + good, good[:1] + b + good[1:]} {
				if c, err := s.CheckValue(e, v); err == nil {
					t.Errorf("%s accepts %q (as %q)", path, v, c)
				}
			}
		}
		if HasExt(e, "text") {
			for _, v := range []string{" " + good, good + " ", "a  b"} {
				_, err := s.CheckValue(e, v)
				if want := v == "a  b"; (err == nil) != want {
					t.Errorf("%s: %q: %v", path, v, err)
				}
			}
		}
	}
}

func TestCheckText(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"before the change window", true}, {"a", true}, {"東京", true},
		{"x\ny", false}, {"\x1b[2J", false}, {"", false}, {" x", false}, {"\xff", false},
	} {
		if err := s.CheckText(tc.in); (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.in, err)
		}
	}
}
