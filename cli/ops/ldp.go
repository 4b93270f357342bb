package ops

// Renderers of the LDP displays: pure functions of an ldp.Snapshot in
// VRP8's layouts (display mpls ldp, ... session [verbose], ... peer,
// ... adjacency, ... lsp, display mpls interface, and the LDP section of
// display mpls lsp). The commands are registered when LDP is wired to the
// daemon.

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"vpnos/services/ldp"
)

var (
	ldpDashes78 = " " + strings.Repeat("-", 78) + "\n"
	ldpDashes79 = " " + strings.Repeat("-", 79) + "\n"
)

// ssnAge prints a duration as DDDD:HH:MM.
func ssnAge(d time.Duration) string {
	m := int64(max(d, 0) / time.Minute)
	return fmt.Sprintf("%04d:%02d:%02d", m/(24*60), m/60%24, m%60)
}

func onOff(b bool) string {
	if b {
		return "On"
	}
	return "Off"
}

// kv prints two "Key : value" pairs on one line (or one when k2 is empty).
func kv(b *strings.Builder, k1, v1, k2, v2 string) {
	line := " " + pad(k1, 24) + ": " + v1
	if k2 != "" {
		line = " " + pad(k1, 24) + ": " + pad(v1, 14) + pad(k2, 22) + ": " + v2
	}
	b.WriteString(strings.TrimRight(line, " ") + "\n")
}

func secs(d time.Duration) string { return fmt.Sprintf("%d Sec", int64(d/time.Second)) }

// RenderMPLSLDP prints `display mpls ldp`: the global and the public
// instance's LDP information.
func RenderMPLSLDP(s ldp.Snapshot) string {
	var b strings.Builder
	b.WriteString("\n LDP Global Information\n")
	b.WriteString(ldpDashes78)
	kv(&b, "Protocol Version", "V1", "Neighbor Liveness", "---")
	kv(&b, "Graceful Restart", "Off", "FT Reconnect Timer", "---")
	kv(&b, "MTU Signaling", "Off", "Recovery Timer", "---")
	kv(&b, "Capability-Announcement", "Off", "Longest-match", "Off")
	b.WriteString("\n LDP Instance Information\n")
	b.WriteString(ldpDashes78)
	status := "Inactive"
	if s.Enabled {
		status = "Active"
	}
	lsr := "--"
	if s.LSRID.IsValid() {
		lsr = s.LSRID.String()
	}
	kv(&b, "Instance ID", "0", "VPN-Instance", "")
	kv(&b, "Instance Status", status, "LSR ID", lsr)
	kv(&b, "Loop Detection", "Off", "Path Vector Limit", "---")
	kv(&b, "Label Distribution Mode", "Ordered", "Label Retention Mode", "Liberal")
	kv(&b, "Label Adv Mode", "Downstream Unsolicited", "", "")
	kv(&b, "Hello Hold Timer", secs(s.HelloHold), "Keepalive Hold Timer", secs(s.KeepaliveHold))
	kv(&b, "LSP Trigger", strings.ToUpper(s.Trigger.String()[:1])+s.Trigger.String()[1:], "Label Advertise", labelAdvertise(s.Advertise))
	b.WriteString(ldpDashes78)
	return b.String()
}

func labelAdvertise(a ldp.Advertise) string {
	switch a {
	case ldp.AdvertiseExplicitNull:
		return "Explicit-null"
	case ldp.AdvertiseNonNull:
		return "Non-null"
	}
	return "Implicit-null"
}

// RenderLDPSessions prints `display mpls ldp session [verbose]`; peer, when
// valid, keeps that peer's session only (`display mpls ldp session
// PEER-ID`).
func RenderLDPSessions(s ldp.Snapshot, verbose bool, peer netip.Addr) string {
	var sessions []ldp.SessionState
	for _, ss := range s.Sessions {
		if !peer.IsValid() || ss.Peer.LSRID == peer {
			sessions = append(sessions, ss)
		}
	}
	var b strings.Builder
	b.WriteString("\n LDP Session(s) in Public Network\n")
	if verbose {
		for _, ss := range sessions {
			renderSessionVerbose(&b, s, ss)
		}
		b.WriteString(ldpDashes78)
		fmt.Fprintf(&b, " TOTAL: %d session(s) Found.\n", len(sessions))
		return b.String()
	}
	b.WriteString(" Codes: LAM(Label Advertisement Mode), SsnAge Unit(DDDD:HH:MM)\n")
	b.WriteString(" An asterisk (*) before a session means the session is being deleted.\n")
	b.WriteString(ldpDashes78)
	b.WriteString(" PeerID             Status      LAM  SsnRole  SsnAge      KASent/Rcv\n")
	b.WriteString(ldpDashes78)
	for _, ss := range sessions {
		line := " " + pad(ss.Peer.String(), 19) + pad(ss.State.String(), 12) + pad("DU", 5) + pad(ss.Role(), 9) +
			pad(ssnAge(ss.Age), 12) + fmt.Sprintf("%d/%d", ss.KeepAliveSent, ss.KeepAliveReceived)
		b.WriteString(line + "\n")
	}
	b.WriteString(ldpDashes78)
	fmt.Fprintf(&b, " TOTAL: %d session(s) Found.\n", len(sessions))
	return b.String()
}

func renderSessionVerbose(b *strings.Builder, s ldp.Snapshot, ss ldp.SessionState) {
	field := func(k, v string) { b.WriteString(strings.TrimRight(" "+pad(k, 35)+": "+v, " ") + "\n") }
	pair := func(k1, v1, k2, v2 string) {
		line := " " + pad(k1, 16) + ": " + v1
		if k2 != "" {
			line = " " + pad(k1, 16) + ": " + pad(v1, 23) + pad(k2, 15) + ": " + v2
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	b.WriteString(ldpDashes78)
	pair("Peer LDP ID", ss.Peer.String(), "Local LDP ID", s.LDPID().String())
	tcp := "---"
	if ss.Local.IsValid() && ss.Remote.IsValid() {
		arrow := "<-"
		if ss.Active {
			arrow = "->"
		}
		tcp = fmt.Sprintf("%s %s %s", ss.Local.Addr(), arrow, ss.Remote.Addr())
	}
	pair("TCP Connection", tcp, "", "")
	pair("Session State", ss.State.String(), "Session Role", ss.Role())
	pair("Session FT Flag", "Off", "MD5 Flag", "Off")
	retry := "---"
	if ss.Retry > 0 {
		retry = secs(ss.Retry.Round(time.Second))
	}
	pair("Reconnect Timer", retry, "Recovery Timer", "---")
	ka := "---"
	if ss.KeepaliveHold > 0 {
		ka = secs(ss.KeepaliveHold)
	}
	field("Negotiated Keepalive Hold Timer", ka)
	field("Keepalive Message Sent/Rcvd", fmt.Sprintf("%d/%d (Message Count)", ss.KeepAliveSent, ss.KeepAliveReceived))
	field("Label Advertisement Mode", "Downstream Unsolicited")
	field("Label Resource Status(Peer/Local)", "Available/Available")
	field("Session Age", ssnAge(ss.Age)+"  (DDDD:HH:MM)")
	field("Session Deletion Status", "No")
	field("Discovery Source", strings.Join(ss.Discovery, ", "))
	field("Addresses received from peer", addrList(ss.Addresses))
	field("Label Mappings Received/Sent", fmt.Sprintf("%d/%d", ss.LabelsReceived, ss.LabelsSent))
	if ss.LastNotification != "" {
		field("Last Notification Received", ss.LastNotification)
	}
	b.WriteString("\n Capability:\n")
	b.WriteString("   Capability-Announcement           : Off\n")
}

func addrList(as []netip.Addr) string {
	if len(as) == 0 {
		return "---"
	}
	var parts []string
	for _, a := range as {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, " ")
}

// RenderLDPPeers prints `display mpls ldp peer`.
func RenderLDPPeers(s ldp.Snapshot) string {
	var b strings.Builder
	b.WriteString("\n LDP Peer Information in Public network\n")
	b.WriteString(" An asterisk (*) before a peer means the peer is being deleted.\n")
	b.WriteString(ldpDashes78)
	b.WriteString(" PeerID                 TransportAddress   DiscoverySource\n")
	b.WriteString(ldpDashes78)
	for _, ss := range s.Sessions {
		for i, d := range ss.Discovery {
			id, tr := "", ""
			if i == 0 {
				id, tr = ss.Peer.String(), ss.Transport.String()
			}
			b.WriteString(strings.TrimRight(" "+pad(id, 23)+pad(tr, 19)+d, " ") + "\n")
		}
	}
	b.WriteString(ldpDashes78)
	fmt.Fprintf(&b, " TOTAL: %d Peer(s) Found.\n", len(s.Sessions))
	return b.String()
}

// RenderLDPAdjacencies prints `display mpls ldp adjacency`.
func RenderLDPAdjacencies(s ldp.Snapshot) string {
	var b strings.Builder
	b.WriteString("\n LDP Adjacency Information in Public Network\n")
	b.WriteString(" Codes: R: Remote Adjacency, L: Local Adjacency\n")
	b.WriteString(" An asterisk (*) before an adjacency means the adjacency is being deleted.\n")
	b.WriteString(ldpDashes78)
	b.WriteString(" SN    SourceAddr      PeerID          VrfID  AdjAge(DDDD:HH:MM)  RcvHello  Type\n")
	b.WriteString(ldpDashes78)
	for i, a := range s.Adjacencies {
		b.WriteString(" " + pad(fmt.Sprint(i+1), 6) + pad(a.Source.String(), 16) + pad(a.Peer.LSRID.String(), 16) +
			pad("0", 7) + pad(ssnAge(a.Age), 20) + pad(fmt.Sprint(a.HellosReceived), 10) + "L\n")
	}
	b.WriteString(ldpDashes78)
	fmt.Fprintf(&b, " TOTAL: %d Adjacency(s) Found.\n", len(s.Adjacencies))
	return b.String()
}

func labelText(l uint32) string {
	if l == ldp.NoLabel {
		return "NULL"
	}
	return fmt.Sprint(l)
}

// RenderLDPLSPs prints `display mpls ldp lsp [IP LEN]` (only, when valid,
// keeps one FEC). Each remote FEC has an ingress row (NULL/out, upstream
// "-") when lsp-trigger selects it and a transit row per upstream peer;
// the router's own FECs show their label towards InLoop0; labels retained
// but unused show as Liberal.
func RenderLDPLSPs(s ldp.Snapshot, only netip.Prefix) string {
	var b strings.Builder
	b.WriteString("\n LDP LSP Information\n")
	b.WriteString(ldpDashes79)
	b.WriteString(" Flag after Out IF: (I) - RLFA Iterated LSP, (I*) - Normal and RLFA Iterated LSP\n")
	b.WriteString(ldpDashes79)
	b.WriteString(" DestAddress/Mask   In/OutLabel    UpstreamPeer    NextHop          OutInterface\n")
	b.WriteString(ldpDashes79)
	normal, liberal := 0, 0
	row := func(mark, fec, labels, up, nh, out string) {
		b.WriteString(strings.TrimRight(mark+pad(fec, 19)+pad(labels, 15)+pad(up, 16)+pad(nh, 17)+out, " ") + "\n")
	}
	for _, f := range s.FECs {
		if only.IsValid() && f.FEC != only.Masked() {
			continue
		}
		fec := f.FEC.String()
		switch {
		case f.Egress:
			ups := f.Upstream
			if len(ups) == 0 {
				ups = []netip.Addr{{}}
			}
			for _, u := range ups {
				up := "-"
				if u.IsValid() {
					up = u.String()
				}
				row(" ", fec, labelText(f.Local)+"/NULL", up, "127.0.0.1", "InLoop0")
				normal++
			}
		default:
			for _, h := range f.NextHops {
				out := compactIfName(h.VRPName)
				if f.Ingress {
					row(" ", fec, "NULL/"+fmt.Sprint(h.Out), "-", h.Gateway.String(), out)
					normal++
				}
				if f.Local != ldp.NoLabel {
					for _, u := range f.Upstream {
						row(" ", fec, fmt.Sprintf("%d/%d", f.Local, h.Out), u.String(), h.Gateway.String(), out)
						normal++
					}
				}
			}
		}
		for _, r := range f.Received {
			if !r.InUse {
				row("*", fec, fmt.Sprintf("Liberal/%d", r.Label), "", "DS/"+r.Peer.String(), "")
				liberal++
			}
		}
	}
	b.WriteString(ldpDashes79)
	fmt.Fprintf(&b, " TOTAL: %d Normal LSP(s) Found.\n", normal)
	fmt.Fprintf(&b, " TOTAL: %d Liberal LSP(s) Found.\n", liberal)
	b.WriteString(" TOTAL: 0 Frr LSP(s) Found.\n")
	b.WriteString(" An asterisk (*) before an LSP means the LSP is not established\n")
	b.WriteString(" An asterisk (*) before a Label means the USCB or DSCB is stale\n")
	b.WriteString(" An asterisk (*) before an UpstreamPeer means the session is stale\n")
	b.WriteString(" An asterisk (*) before a DS means the session is stale\n")
	b.WriteString(" An asterisk (*) before a NextHop means the LSP is FRR LSP\n")
	return b.String()
}

// ldpLSPSection turns LDP's state into the `LDP LSP` section of `display
// mpls lsp` as VRP prints it: the egress of own FECs (3/NULL, which the
// RIB's LSPs do not hold: implicit null programs nothing), ingress rows
// (NULL/out) and transit rows (in/out), one per next hop. lspSections
// builds the same rows from the RIB's programmed LSPs, without the egress.
func ldpLSPSection(s ldp.Snapshot) lspSection {
	sec := lspSection{Title: "LDP LSP"}
	for _, f := range s.FECs {
		fec := f.FEC.String()
		if f.Egress {
			sec.Rows = append(sec.Rows, lspRow{FEC: fec, InLabel: labelText(f.Local), OutLabel: "NULL",
				InIf: "-", OutIf: "-", LSRType: "Egress", Operation: "POP"})
			continue
		}
		for _, h := range f.NextHops {
			r := lspRow{FEC: fec, OutLabel: fmt.Sprint(h.Out), InIf: "-", OutIf: compactIfName(h.VRPName),
				NextHop: h.Gateway.String(), OutIfName: h.VRPName}
			if f.Ingress {
				in := r
				in.InLabel, in.LSRType, in.Operation = "NULL", "Ingress", "PUSH"
				sec.Rows = append(sec.Rows, in)
			}
			if f.Local != ldp.NoLabel {
				tr := r
				tr.InLabel, tr.LSRType, tr.Operation = fmt.Sprint(f.Local), "Transit", "SWAP"
				if h.Out == 3 {
					tr.Operation = "POP"
				}
				sec.Rows = append(sec.Rows, tr)
			}
		}
	}
	return sec
}

// MPLSInterface is one row of `display mpls interface`.
type MPLSInterface struct {
	Name string // VRP name
	Up   bool
	LSPs int
	MTU  int
}

// MPLSInterfacesFromLDP lists the LDP interfaces with their LDP LSP
// counts.
func MPLSInterfacesFromLDP(s ldp.Snapshot) []MPLSInterface {
	var out []MPLSInterface
	for _, i := range s.Interfaces {
		out = append(out, MPLSInterface{Name: i.VRPName, Up: i.Up, LSPs: i.LSPs, MTU: i.MTU})
	}
	return out
}

// RenderMPLSInterfaces prints `display mpls interface`.
func RenderMPLSInterfaces(ifs []MPLSInterface) string {
	var b strings.Builder
	b.WriteString(" Interface                Status    TE Attr   LSP Count  CRLSP Count  Effective MTU\n")
	for _, i := range ifs {
		st := "Down"
		if i.Up {
			st = "Up"
		}
		b.WriteString(" " + pad(compactIfName(i.Name), 25) + pad(st, 10) + pad("Dis", 10) + pad(fmt.Sprint(i.LSPs), 11) +
			pad("0", 13) + fmt.Sprint(i.MTU) + "\n")
	}
	return b.String()
}
