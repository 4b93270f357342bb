package netconf

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

// filterConfig is the configuration the filter tests read.
const filterConfig = `<system xmlns="` + nsSys + `"><sysname>PE1</sysname></system>` +
	`<vpn-instances xmlns="` + nsVI + `">` +
	`<vpn-instance><name>red</name><description>Red</description><ipv4-family><route-distinguisher>65000:1</route-distinguisher>` +
	`<vpn-target><value>65000:100</value><direction>export-extcommunity</direction></vpn-target>` +
	`<vpn-target><value>65000:100</value><direction>import-extcommunity</direction></vpn-target></ipv4-family></vpn-instance>` +
	`<vpn-instance><name>blue</name><description>Blue</description><ipv4-family><route-distinguisher>65000:2</route-distinguisher></ipv4-family></vpn-instance>` +
	`</vpn-instances>` +
	`<interfaces xmlns="` + nsIf + `"><interface><name>LoopBack0</name><ipv4><address><ip>10.0.0.1</ip><mask>255.255.255.255</mask></address></ipv4>` +
	`<mpls xmlns="` + nsMPLS + `"/></interface></interfaces>` +
	`<mpls xmlns="` + nsMPLS + `"><lsr-id>10.0.0.1</lsr-id><enable/></mpls>`

func TestSubtreeFilter(t *testing.T) {
	s := testServer(t, Config{})
	c := dial(t, s, "admin", true)
	c.ok(editCandidate(filterConfig))
	c.ok("<commit/>")
	vi := `<vpn-instances xmlns="` + nsVI + `">`
	tests := []struct {
		name, filter, want string
	}{
		{"empty filter selects nothing", `<filter/>`, `<data/>`},
		{"selection of a top container", `<filter><system xmlns="` + nsSys + `"/></filter>`,
			`<data><system xmlns="` + nsSys + `"><sysname>PE1</sysname></system></data>`},
		{"no namespace matches any", `<filter type="subtree"><system/></filter>`,
			`<data><system xmlns="` + nsSys + `"><sysname>PE1</sysname></system></data>`},
		{"empty namespace matches any", `<filter><system xmlns=""/></filter>`,
			`<data><system xmlns="` + nsSys + `"><sysname>PE1</sysname></system></data>`},
		{"wrong namespace matches nothing", `<filter><system xmlns="` + nsVI + `"/></filter>`, `<data/>`},
		{"content match selects one entry whole", `<filter>` + vi + `<vpn-instance><name>blue</name></vpn-instance></vpn-instances></filter>`,
			`<data>` + vi + `<vpn-instance><name>blue</name><description>Blue</description><ipv4-family><route-distinguisher>65000:2</route-distinguisher></ipv4-family></vpn-instance></vpn-instances></data>`},
		{"content match and selection keep the key", `<filter>` + vi + `<vpn-instance><name>red</name><description/></vpn-instance></vpn-instances></filter>`,
			`<data>` + vi + `<vpn-instance><name>red</name><description>Red</description></vpn-instance></vpn-instances></data>`},
		{"selection in every entry keeps keys", `<filter>` + vi + `<vpn-instance><ipv4-family><route-distinguisher/></ipv4-family></vpn-instance></vpn-instances></filter>`,
			`<data>` + vi + `<vpn-instance><name>red</name><ipv4-family><route-distinguisher>65000:1</route-distinguisher></ipv4-family></vpn-instance>` +
				`<vpn-instance><name>blue</name><ipv4-family><route-distinguisher>65000:2</route-distinguisher></ipv4-family></vpn-instance></vpn-instances></data>`},
		{"content match on a non-key leaf", `<filter>` + vi + `<vpn-instance><description>Red</description><name/></vpn-instance></vpn-instances></filter>`,
			`<data>` + vi + `<vpn-instance><name>red</name><description>Red</description></vpn-instance></vpn-instances></data>`},
		{"content match failing selects nothing", `<filter>` + vi + `<vpn-instance><name>green</name></vpn-instance></vpn-instances></filter>`, `<data/>`},
		{"deep content match in a list", `<filter>` + vi + `<vpn-instance><name>red</name><ipv4-family><vpn-target><direction>import-extcommunity</direction></vpn-target></ipv4-family></vpn-instance></vpn-instances></filter>`,
			`<data>` + vi + `<vpn-instance><name>red</name><ipv4-family><vpn-target><value>65000:100</value><direction>import-extcommunity</direction></vpn-target></ipv4-family></vpn-instance></vpn-instances></data>`},
		{"two filter entries select both", `<filter>` + vi + `<vpn-instance><name>red</name><description/></vpn-instance><vpn-instance><name>blue</name><description/></vpn-instance></vpn-instances></filter>`,
			`<data>` + vi + `<vpn-instance><name>red</name><description>Red</description></vpn-instance><vpn-instance><name>blue</name><description>Blue</description></vpn-instance></vpn-instances></data>`},
		{"augmented node in its own namespace", `<filter><interfaces xmlns="` + nsIf + `"><interface><mpls xmlns="` + nsMPLS + `"/></interface></interfaces></filter>`,
			`<data><interfaces xmlns="` + nsIf + `"><interface><name>LoopBack0</name><mpls xmlns="` + nsMPLS + `"/></interface></interfaces></data>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := dataText(c.config("running", tc.filter)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// fakeState is the state of a small PE.
type fakeState struct{ calls []string }

func (f *fakeState) Interfaces(context.Context) ([]InterfaceState, error) {
	f.calls = append(f.calls, "interfaces")
	return []InterfaceState{
		{Name: "GigabitEthernet0/1/0", Kernel: "eth1", Instance: "red", AdminUp: true, OperUp: true, MAC: "02:00:00:00:00:01", MTU: 1500,
			Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/30")}, Counters: &Counters{InPackets: 10, OutPackets: 7}},
		{Name: "LoopBack0", Instance: PublicInstance, AdminUp: true, OperUp: true, Addresses: []netip.Prefix{netip.MustParsePrefix("10.255.0.1/32")}},
	}, nil
}

func (f *fakeState) Instances(context.Context) ([]InstanceState, error) {
	f.calls = append(f.calls, "instances")
	return []InstanceState{{Name: "red", RD: "65000:1", Label: 18, Interfaces: []string{"GigabitEthernet0/1/0"}}}, nil
}

func (f *fakeState) Routes(_ context.Context, instance string) ([]RouteState, error) {
	f.calls = append(f.calls, "routes "+instance)
	if instance == "red" {
		return []RouteState{{Destination: netip.MustParsePrefix("192.0.2.0/30"), Protocol: "Direct", Flags: "D",
			NextHop: netip.MustParseAddr("192.0.2.1"), Interface: "GigabitEthernet0/1/0", Active: true}}, nil
	}
	return []RouteState{{Destination: netip.MustParsePrefix("10.255.0.3/32"), Protocol: "Static", Preference: 60, Flags: "RD",
		NextHop: netip.MustParseAddr("198.51.100.2"), Interface: "GigabitEthernet0/3/0", Active: true, Labels: []uint32{100}}}, nil
}

func TestGetState(t *testing.T) {
	st := &fakeState{}
	s := testServer(t, Config{State: st})
	c := dial(t, s, "admin", true)
	c.ok(editCandidate(filterConfig))
	c.ok("<commit/>")
	all := c.ok("<get/>").Child(nsBase, "data")
	for _, want := range []string{
		`<system xmlns="` + nsSys + `"><sysname>PE1</sysname></system>`,
		`<interface><name>GigabitEthernet0/1/0</name><kernel-name>eth1</kernel-name><vpn-instance>red</vpn-instance><admin-status>up</admin-status><oper-status>up</oper-status><mac-address>02:00:00:00:00:01</mac-address><mtu>1500</mtu><ipv4-address>192.0.2.1/30</ipv4-address><counters><in-packets>10</in-packets><in-bytes>0</in-bytes>`,
		`<vpn-instance><name>red</name><route-distinguisher>65000:1</route-distinguisher><label>18</label><interface>GigabitEthernet0/1/0</interface></vpn-instance>`,
		`<routing-table><instance>_public_</instance><route><destination>10.255.0.3/32</destination><protocol>Static</protocol><preference>60</preference><cost>0</cost><flags>RD</flags><next-hop>198.51.100.2</next-hop><interface>GigabitEthernet0/3/0</interface><active>true</active><label>100</label></route></routing-table>`,
		`<netconf-state xmlns="` + nsMonitoring + `">`,
	} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("get lacks %s", want)
		}
	}
	// A filter naming one part computes only that part.
	st.calls = nil
	got := dataText(c.ok(`<get><filter><state xmlns="`+nsState+`"><routing-tables><routing-table><instance>red</instance></routing-table></routing-tables></state></filter></get>`).Child(nsBase, "data"))
	want := `<data><state xmlns="` + nsState + `"><routing-tables><routing-table><instance>red</instance><route><destination>192.0.2.0/30</destination><protocol>Direct</protocol><preference>0</preference><cost>0</cost><flags>D</flags><next-hop>192.0.2.1</next-hop><interface>GigabitEthernet0/1/0</interface><active>true</active></route></routing-table></routing-tables></state></data>`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if strings.Join(st.calls, ",") != "instances,routes _public_,routes red" {
		t.Fatalf("state asked for %v", st.calls)
	}
	st.calls = nil
	c.ok(`<get><filter><system xmlns="` + nsSys + `"/></filter></get>`)
	if len(st.calls) != 0 {
		t.Fatalf("state asked for %v with a configuration filter", st.calls)
	}
}

// dataText is a <data> element as text, without its namespace declaration.
func dataText(d *Node) string {
	return strings.Replace(d.String(), `<data xmlns="`+nsBase+`"`, "<data", 1)
}

func TestXPathFilter(t *testing.T) {
	s := testServer(t, Config{State: &fakeState{}})
	c := dial(t, s, "admin", true)
	c.ok(editCandidate(filterConfig))
	c.ok("<commit/>")
	xp := func(sel string) string {
		return `<filter type="xpath" xmlns:vi="` + nsVI + `" xmlns:sys="` + nsSys + `" select="` + sel + `"/>`
	}
	vi := `<vpn-instances xmlns="` + nsVI + `">`
	tests := []struct {
		name, filter, want string
	}{
		{"a leaf with its ancestors and their keys", xp("/vi:vpn-instances/vi:vpn-instance[vi:name='blue']/vi:description"),
			`<data>` + vi + `<vpn-instance><name>blue</name><description>Blue</description></vpn-instance></vpn-instances></data>`},
		{"a whole entry", xp("/vi:vpn-instances/vi:vpn-instance[vi:name='red']/vi:ipv4-family/vi:vpn-target[vi:direction='import-extcommunity']"),
			`<data>` + vi + `<vpn-instance><name>red</name><ipv4-family><vpn-target><value>65000:100</value><direction>import-extcommunity</direction></vpn-target></ipv4-family></vpn-instance></vpn-instances></data>`},
		{"descendants by name, any namespace", xp("//route-distinguisher"),
			`<data>` + vi + `<vpn-instance><name>red</name><ipv4-family><route-distinguisher>65000:1</route-distinguisher></ipv4-family></vpn-instance>` +
				`<vpn-instance><name>blue</name><ipv4-family><route-distinguisher>65000:2</route-distinguisher></ipv4-family></vpn-instance></vpn-instances></data>`},
		{"a text node selects its leaf", xp("/sys:system/sys:sysname/text()"),
			`<data><system xmlns="` + nsSys + `"><sysname>PE1</sysname></system></data>`},
		{"a prefix of another namespace selects nothing", xp("/sys:vpn-instances"), `<data/>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := dataText(c.config("running", tc.filter)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// get: state too.
	got := dataText(c.ok(`<get><filter type="xpath" xmlns:s="`+nsState+`" select="/s:state/s:vpn-instances/s:vpn-instance/s:label"/></get>`).Child(nsBase, "data"))
	if want := `<data><state xmlns="` + nsState + `"><vpn-instances><vpn-instance><name>red</name><label>18</label></vpn-instance></vpn-instances></state></data>`; got != want {
		t.Fatalf("get: got  %s\nwant %s", got, want)
	}
	for _, bad := range []string{xp("count(//vi:name)"), xp("/undeclared:x"), xp("///"), `<filter type="xpath"/>`} {
		c.fail("<get-config><source><running/></source>"+bad+"</get-config>", map[bool]string{true: TagMissingAttribute, false: TagInvalidValue}[bad == `<filter type="xpath"/>`])
	}
}
