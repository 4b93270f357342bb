package labtest

import (
	"reflect"
	"strings"
	"testing"
)

const brief = `PHY: Physical
*down: administratively down
InUti/OutUti: input utility/output utility
Interface                   PHY   Protocol  InUti OutUti   inErrors  outErrors
GigabitEthernet0/1/0        up    up           0%      0%         0          0
GigabitEthernet0/3/1       *down  down         0%      0%         0          0
LoopBack0                   up    up(s)        0%      0%         0          0

trailing text
`

// A routing table where an equal-cost second path leaves the first columns blank.
const routes = `Route Flags: R - relay, D - download to fib
------------------------------------------------------------------------------
Routing Tables: Public
         Destinations : 3        Routes : 4

Destination/Mask    Proto   Pre  Cost        Flags NextHop         Interface

     10.255.0.3/32  OSPF    10   2             D   198.51.100.2    GigabitEthernet0/3/0
`

const routes2 = `Destination/Mask    Proto   Pre  Cost        Flags NextHop         Interface
     10.255.0.3/32  OSPF    10   2             D   198.51.100.2    GigabitEthernet0/3/0
                    OSPF    10   2             D   198.51.100.6    GigabitEthernet0/4/0
`

func TestParseTable(t *testing.T) {
	tests := []struct {
		name  string
		out   string
		first string
		want  []Row
	}{
		{"interface brief", brief, "Interface", []Row{
			{"Interface": "GigabitEthernet0/1/0", "PHY": "up", "Protocol": "up", "InUti": "0%", "OutUti": "0%", "inErrors": "0", "outErrors": "0"},
			{"Interface": "GigabitEthernet0/3/1", "PHY": "*down", "Protocol": "down", "InUti": "0%", "OutUti": "0%", "inErrors": "0", "outErrors": "0"},
			{"Interface": "LoopBack0", "PHY": "up", "Protocol": "up(s)", "InUti": "0%", "OutUti": "0%", "inErrors": "0", "outErrors": "0"},
		}},
		{"blank line under the header", routes, "Destination/Mask", []Row{
			{"Destination/Mask": "10.255.0.3/32", "Proto": "OSPF", "Pre": "10", "Cost": "2", "Flags": "D", "NextHop": "198.51.100.2", "Interface": "GigabitEthernet0/3/0"},
		}},
		{"blank leading cells", routes2, "Destination/Mask", []Row{
			{"Destination/Mask": "10.255.0.3/32", "Proto": "OSPF", "Pre": "10", "Cost": "2", "Flags": "D", "NextHop": "198.51.100.2", "Interface": "GigabitEthernet0/3/0"},
			{"Proto": "OSPF", "Pre": "10", "Cost": "2", "Flags": "D", "NextHop": "198.51.100.6", "Interface": "GigabitEthernet0/4/0"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTable(tc.out, tc.first)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
	if _, err := ParseTable(brief, "Peer"); err == nil {
		t.Error("found a table that is not there")
	}
}

func TestMatchers(t *testing.T) {
	tests := []struct {
		name string
		m    Matcher
		ok   bool
	}{
		{"rows subset", Rows("Interface", Row{"Interface": "GigabitEthernet0/1/0", "PHY": "up"}, Row{"Interface": "LoopBack0"}), true},
		{"rows regexp cell", Rows("Interface", Row{"Interface": "~^Gigabit.*3/1$", "PHY": "*down"}), true},
		{"rows wrong cell", Rows("Interface", Row{"Interface": "GigabitEthernet0/3/1", "PHY": "up"}), false},
		{"rows unknown column", Rows("Interface", Row{"Speed": "1G"}), false},
		{"rows no table", Rows("Peer", Row{}), false},
		{"contains", Contains("LoopBack0"), true},
		{"contains not", Contains("LoopBack1"), false},
		{"regexp", Regexp(`^GigabitEthernet0/1/0\s+up\s+up`), true},
		{"regexp not", Regexp(`^GigabitEthernet0/3/1\s+up`), false},
		{"all", All(Contains("PHY"), Regexp("LoopBack0")), true},
		{"all not", All(Contains("PHY"), Contains("nope")), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Match(brief)
			if (err == nil) != tc.ok {
				t.Errorf("Match = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestHasRowsMessage(t *testing.T) {
	rows, _ := ParseTable(brief, "Interface")
	err := HasRows(rows, Row{"Interface": "GigabitEthernet0/9/0"})
	if err == nil || !strings.Contains(err.Error(), `missing rows {Interface: "GigabitEthernet0/9/0"}`) ||
		!strings.Contains(err.Error(), "LoopBack0") {
		t.Errorf("message: %v", err)
	}
}
