package packet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"

	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// Options tell Decode what the session negotiated.
type Options struct {
	// AS4 is set when both sides announced the 4-octet AS capability:
	// AS_PATH and AGGREGATOR carry 4-octet AS numbers, and AS4_PATH and
	// AS4_AGGREGATOR are discarded.
	AS4 bool
	// EBGP is set for an external session: LOCAL_PREF, ORIGINATOR_ID and
	// CLUSTER_LIST are discarded (RFC 7606 §7.5, §7.9, §7.10) and an AS_PATH
	// with confederation segments is malformed.
	EBGP bool
	// MultiFamily is set when the session negotiated a family carried in
	// MP_REACH_NLRI: an attribute list that cannot be walked to its end
	// then resets the session, since the MP attributes cannot be found
	// (RFC 7606 §5.2).
	MultiFamily bool
}

var marker = bytes.Repeat([]byte{0xff}, 16)

// ParseHeader checks a message header (RFC 4271 §6.1) and returns the
// message length and type. Use it to frame a byte stream: read HeaderLen
// bytes, then length-HeaderLen more.
func ParseHeader(h []byte) (int, Type, error) {
	if len(h) < HeaderLen {
		return 0, 0, newErr(ErrHeader, SubBadMessageLength, nil, "header of %d bytes", len(h))
	}
	if !bytes.Equal(h[:16], marker) {
		return 0, 0, newErr(ErrHeader, SubConnNotSynchronized, nil, "marker is not all ones")
	}
	l := int(binary.BigEndian.Uint16(h[16:18]))
	t := Type(h[18])
	lenData := append([]byte(nil), h[16:18]...)
	if l < HeaderLen || l > MaxMsgLen {
		return 0, 0, newErr(ErrHeader, SubBadMessageLength, lenData, "length %d", l)
	}
	min, exact := 0, false
	switch t {
	case TypeOpen:
		min = 29
	case TypeUpdate:
		min = 23
	case TypeNotification:
		min = 21
	case TypeKeepalive:
		min, exact = 19, true
	case TypeRouteRefresh:
		min, exact = 23, true
	default:
		return 0, 0, newErr(ErrHeader, SubBadMessageType, []byte{byte(t)}, "type %d", t)
	}
	if l < min || (exact && l != min) {
		return 0, 0, newErr(ErrHeader, SubBadMessageLength, lenData, "%s of length %d", t, l)
	}
	return l, t, nil
}

// Decode decodes one whole message (header included). Errors are *Error:
// the NOTIFICATION to send before closing the session. RFC 7606 decisions
// that keep the session are reported in the Update's Issues.
func Decode(msg []byte, opt Options) (m Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, newErr(ErrUpdate, SubMalformedAttrList, nil, "undecodable message: %v", r)
		}
	}()
	l, t, err := ParseHeader(msg)
	if err != nil {
		return nil, err
	}
	if l != len(msg) {
		return nil, newErr(ErrHeader, SubBadMessageLength, append([]byte(nil), msg[16:18]...), "length field %d, message of %d bytes", l, len(msg))
	}
	body := msg[HeaderLen:]
	switch t {
	case TypeOpen:
		return decodeOpen(body)
	case TypeUpdate:
		return decodeUpdate(body, opt)
	case TypeNotification:
		var n gobgp.BGPNotification
		if err := n.DecodeFromBytes(body); err != nil {
			return nil, newErr(ErrHeader, SubBadMessageLength, nil, "notification: %v", err)
		}
		return &Notification{Code: n.ErrorCode, Subcode: n.ErrorSubcode, Data: append([]byte(nil), n.Data...)}, nil
	case TypeKeepalive:
		return &Keepalive{}, nil
	case TypeRouteRefresh:
		var r gobgp.BGPRouteRefresh
		if err := r.DecodeFromBytes(body); err != nil {
			return nil, newErr(ErrRouteRefresh, SubRouteRefreshMalformed, nil, "route refresh: %v", err)
		}
		return &RouteRefresh{Family: NewFamily(r.AFI, r.SAFI), Subtype: r.Demarcation}, nil
	}
	return nil, newErr(ErrHeader, SubBadMessageType, []byte{byte(t)}, "type %d", t)
}

func decodeOpen(body []byte) (*Open, error) {
	// The fixed part and the parameter framing are checked here; the
	// codec decodes the fields and the capabilities.
	var o gobgp.BGPOpen
	if err := o.DecodeFromBytes(body); err != nil {
		return nil, newErr(ErrOpen, 0, nil, "open: %v", err)
	}
	if o.Version != bgpVersion {
		return nil, newErr(ErrOpen, SubUnsupportedVersion, []byte{0, bgpVersion}, "version %d", o.Version)
	}
	optLen := int(body[9])
	if 10+optLen != len(body) {
		return nil, newErr(ErrOpen, 0, nil, "optional parameters length %d in a body of %d bytes", optLen, len(body))
	}
	id, _ := netip.AddrFromSlice(body[5:9])
	out := &Open{Version: o.Version, MyAS: o.MyAS, HoldTime: o.HoldTime, RouterID: id}
	params := body[10:]
	for len(params) > 0 {
		if len(params) < 2 || len(params) < 2+int(params[1]) {
			return nil, newErr(ErrOpen, 0, nil, "optional parameter overruns the message")
		}
		ptype, plen := params[0], int(params[1])
		val := params[2 : 2+plen]
		params = params[2+plen:]
		if ptype != 2 { // capabilities (RFC 5492)
			return nil, newErr(ErrOpen, SubUnsupportedOptParam, nil, "optional parameter type %d", ptype)
		}
		for len(val) > 0 {
			if len(val) < 2 || len(val) < 2+int(val[1]) {
				return nil, newErr(ErrOpen, 0, nil, "capability overruns its parameter")
			}
			raw := val[:2+int(val[1])]
			val = val[2+int(val[1]):]
			if err := addCapability(&out.Caps, raw); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func addCapability(c *Capabilities, raw []byte) error {
	code, clen := raw[0], int(raw[1])
	switch code {
	case CapMultiprotocol:
		if clen != 4 {
			return newErr(ErrOpen, 0, nil, "multiprotocol capability of length %d", clen)
		}
		var mp gobgp.CapMultiProtocol
		if err := mp.DecodeFromBytes(raw); err != nil {
			return newErr(ErrOpen, 0, nil, "multiprotocol capability: %v", err)
		}
		afi, safi := gobgp.RouteFamilyToAfiSafi(mp.CapValue)
		f := NewFamily(afi, safi)
		for _, g := range c.Families {
			if g == f {
				return nil
			}
		}
		c.Families = append(c.Families, f)
	case CapRouteRefresh, CapRouteRefreshCisco:
		c.RouteRefresh = true
	case CapFourOctetAS:
		if clen != 4 {
			return newErr(ErrOpen, 0, nil, "4-octet AS capability of length %d", clen)
		}
		var a gobgp.CapFourOctetASNumber
		if err := a.DecodeFromBytes(raw); err != nil {
			return newErr(ErrOpen, 0, nil, "4-octet AS capability: %v", err)
		}
		c.AS4, c.AS4Number = true, a.CapValue
	default:
		c.Other = append(c.Other, RawCapability{Code: code, Value: append([]byte(nil), raw[2:]...)})
	}
	return nil
}

// updateDecoder collects the RFC 7606 outcome of one UPDATE.
type updateDecoder struct {
	opt Options
	u   *Update
	a   *Attrs
	// as2Path / as4Path / agg4 are merged for 2-octet sessions.
	as4Path  ASPath
	hasAS4   bool
	agg4     *Aggregator
	sawAttr  [256]bool
	sawOther bool // any attribute besides MP_REACH/MP_UNREACH
}

func (d *updateDecoder) issue(h Handling, attr, sub uint8, format string, args ...any) {
	d.u.Issues = append(d.u.Issues, Issue{Handling: h, Attr: attr, Code: ErrUpdate, Subcode: sub, Reason: fmt.Sprintf(format, args...)})
	if h == TreatAsWithdraw {
		d.u.TreatAsWithdraw = true
	}
}

// Expected Optional/Transitive flags of the attributes known here.
var attrFlags = map[uint8]uint8{
	AttrOrigin: FlagTransitive, AttrASPath: FlagTransitive, AttrNextHop: FlagTransitive,
	AttrMED: FlagOptional, AttrLocalPref: FlagTransitive, AttrAtomicAggregate: FlagTransitive,
	AttrAggregator: FlagOptional | FlagTransitive, AttrCommunities: FlagOptional | FlagTransitive,
	AttrOriginatorID: FlagOptional, AttrClusterList: FlagOptional, AttrMPReach: FlagOptional,
	AttrMPUnreach: FlagOptional, AttrExtCommunities: FlagOptional | FlagTransitive,
	AttrAS4Path: FlagOptional | FlagTransitive, AttrAS4Aggregator: FlagOptional | FlagTransitive,
}

func decodeUpdate(body []byte, opt Options) (*Update, error) {
	u := &Update{}
	d := &updateDecoder{opt: opt, u: u, a: &Attrs{}}
	wlen := int(binary.BigEndian.Uint16(body[0:2]))
	if 2+wlen+2 > len(body) {
		return nil, newErr(ErrUpdate, SubMalformedAttrList, nil, "withdrawn routes length %d overruns the message", wlen)
	}
	var err error
	if u.Withdrawn, err = decodeIPv4NLRI(body[2 : 2+wlen]); err != nil {
		return nil, newErr(ErrUpdate, SubInvalidNetworkField, nil, "withdrawn routes: %v", err)
	}
	rest := body[2+wlen:]
	alen := int(binary.BigEndian.Uint16(rest[0:2]))
	if 2+alen > len(rest) {
		return nil, newErr(ErrUpdate, SubMalformedAttrList, nil, "total path attribute length %d overruns the message", alen)
	}
	if u.NLRI, err = decodeIPv4NLRI(rest[2+alen:]); err != nil {
		return nil, newErr(ErrUpdate, SubInvalidNetworkField, nil, "NLRI: %v", err)
	}
	if err := d.walk(rest[2 : 2+alen]); err != nil {
		return nil, err
	}
	d.finish()
	return u, nil
}

// walk decodes the attribute list.
func (d *updateDecoder) walk(data []byte) error {
	for len(data) > 0 {
		if len(data) < 3 || (data[0]&FlagExtLen != 0 && len(data) < 4) {
			return d.overrun(data, "attribute header truncated")
		}
		flags, typ := data[0], data[1]
		hl, l := 3, int(data[2])
		if flags&FlagExtLen != 0 {
			hl, l = 4, int(binary.BigEndian.Uint16(data[2:4]))
		}
		if hl+l > len(data) {
			return d.overrun(data, fmt.Sprintf("attribute %d of length %d overruns the attribute list", typ, l))
		}
		raw, val := data[:hl+l], data[hl:hl+l]
		data = data[hl+l:]
		if err := d.attr(flags, typ, raw, val); err != nil {
			return err
		}
	}
	return nil
}

// overrun handles an attribute list that cannot be walked to its end: the
// routes of the message body can still be withdrawn, but MP_REACH/MP_UNREACH
// may hide in the unreadable part (RFC 7606 §4, §5.2).
func (d *updateDecoder) overrun(rest []byte, reason string) error {
	if d.opt.MultiFamily && !(d.sawAttr[AttrMPReach] && d.sawAttr[AttrMPUnreach]) {
		return newErr(ErrUpdate, SubAttrLength, nil, "%s", reason)
	}
	d.issue(TreatAsWithdraw, 0, SubAttrLength, "%s", reason)
	return nil
}

func (d *updateDecoder) attr(flags, typ uint8, raw, val []byte) error {
	if d.sawAttr[typ] {
		if typ == AttrMPReach || typ == AttrMPUnreach {
			return newErr(ErrUpdate, SubMalformedAttrList, nil, "attribute %d appears twice", typ)
		}
		d.issue(AttributeDiscard, typ, SubMalformedAttrList, "attribute %d appears twice; the first is kept", typ)
		return nil
	}
	d.sawAttr[typ] = true
	if typ != AttrMPReach && typ != AttrMPUnreach {
		d.sawOther = true
	}
	want, known := attrFlags[typ]
	if !known {
		if flags&FlagOptional == 0 {
			return newErr(ErrUpdate, SubUnrecognizedWellKnown, append([]byte(nil), raw...), "unrecognized well-known attribute %d", typ)
		}
		if flags&FlagTransitive != 0 {
			d.a.Unknown = append(d.a.Unknown, RawAttr{Flags: flags &^ FlagExtLen, Type: typ, Value: append([]byte(nil), val...)})
		}
		return nil
	}
	if flags&(FlagOptional|FlagTransitive) != want {
		// RFC 7606 §3(c): flags in conflict make the attribute malformed.
		d.issue(TreatAsWithdraw, typ, SubAttrFlags, "attribute %d with flags 0x%02x", typ, flags)
		if typ != AttrMPReach && typ != AttrMPUnreach {
			return nil
		}
	}
	a := d.a
	switch typ {
	case AttrOrigin:
		if len(val) != 1 {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "ORIGIN of length %d", len(val))
			return nil
		}
		var o gobgp.PathAttributeOrigin
		if err := o.DecodeFromBytes(raw); err != nil {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "ORIGIN: %v", err)
			return nil
		}
		if o.Value > uint8(OriginIncomplete) {
			d.issue(TreatAsWithdraw, typ, SubInvalidOrigin, "ORIGIN value %d", o.Value)
			return nil
		}
		a.Origin = Origin(o.Value)
	case AttrASPath:
		p, err := decodeASPath(val, d.opt.AS4)
		if err != nil {
			d.issue(TreatAsWithdraw, typ, SubMalformedASPath, "AS_PATH: %v", err)
			return nil
		}
		if d.opt.EBGP {
			for _, s := range p {
				if s.Type == ConfedSeq || s.Type == ConfedSet {
					d.issue(TreatAsWithdraw, typ, SubMalformedASPath, "confederation segment from an external peer")
					return nil
				}
			}
		}
		a.ASPath = p
	case AttrNextHop:
		if len(val) != 4 {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "NEXT_HOP of length %d", len(val))
			return nil
		}
		var nh gobgp.PathAttributeNextHop
		if err := nh.DecodeFromBytes(raw); err != nil {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "NEXT_HOP: %v", err)
			return nil
		}
		addr, _ := netip.AddrFromSlice(nh.Value.To4())
		if !usableNextHop(addr) {
			d.issue(TreatAsWithdraw, typ, SubInvalidNextHop, "NEXT_HOP %s", addr)
			return nil
		}
		a.NextHop = addr
	case AttrMED:
		if len(val) != 4 {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "MULTI_EXIT_DISC of length %d", len(val))
			return nil
		}
		var m gobgp.PathAttributeMultiExitDisc
		if err := m.DecodeFromBytes(raw); err != nil {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "MULTI_EXIT_DISC: %v", err)
			return nil
		}
		a.MED, a.HasMED = m.Value, true
	case AttrLocalPref:
		if d.opt.EBGP {
			d.issue(AttributeDiscard, typ, SubMalformedAttrList, "LOCAL_PREF from an external peer")
			return nil
		}
		if len(val) != 4 {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "LOCAL_PREF of length %d", len(val))
			return nil
		}
		var lp gobgp.PathAttributeLocalPref
		if err := lp.DecodeFromBytes(raw); err != nil {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "LOCAL_PREF: %v", err)
			return nil
		}
		a.LocalPref, a.HasLocalPref = lp.Value, true
	case AttrAtomicAggregate:
		if len(val) != 0 {
			d.issue(AttributeDiscard, typ, SubAttrLength, "ATOMIC_AGGREGATE of length %d", len(val))
			return nil
		}
		a.AtomicAggregate = true
	case AttrAggregator:
		want := 6
		if d.opt.AS4 {
			want = 8
		}
		if len(val) != want {
			d.issue(AttributeDiscard, typ, SubAttrLength, "AGGREGATOR of length %d", len(val))
			return nil
		}
		var ag gobgp.PathAttributeAggregator
		if err := ag.DecodeFromBytes(raw); err != nil {
			d.issue(AttributeDiscard, typ, SubAttrLength, "AGGREGATOR: %v", err)
			return nil
		}
		addr, _ := netip.AddrFromSlice(ag.Value.Address.To4())
		a.Aggregator = &Aggregator{AS: ag.Value.AS, Addr: addr}
	case AttrCommunities:
		if len(val) == 0 || len(val)%4 != 0 {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "COMMUNITIES of length %d", len(val))
			return nil
		}
		var c gobgp.PathAttributeCommunities
		if err := c.DecodeFromBytes(raw); err != nil {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "COMMUNITIES: %v", err)
			return nil
		}
		a.Communities = c.Value
	case AttrOriginatorID:
		if d.opt.EBGP {
			d.issue(AttributeDiscard, typ, SubMalformedAttrList, "ORIGINATOR_ID from an external peer")
			return nil
		}
		if len(val) != 4 {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "ORIGINATOR_ID of length %d", len(val))
			return nil
		}
		var o gobgp.PathAttributeOriginatorId
		if err := o.DecodeFromBytes(raw); err != nil {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "ORIGINATOR_ID: %v", err)
			return nil
		}
		a.OriginatorID = binary.BigEndian.Uint32(o.Value.To4())
	case AttrClusterList:
		if d.opt.EBGP {
			d.issue(AttributeDiscard, typ, SubMalformedAttrList, "CLUSTER_LIST from an external peer")
			return nil
		}
		if len(val) == 0 || len(val)%4 != 0 {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "CLUSTER_LIST of length %d", len(val))
			return nil
		}
		var c gobgp.PathAttributeClusterList
		if err := c.DecodeFromBytes(raw); err != nil {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "CLUSTER_LIST: %v", err)
			return nil
		}
		a.ClusterList = make([]uint32, len(c.Value))
		for i, ip := range c.Value {
			a.ClusterList[i] = binary.BigEndian.Uint32(ip.To4())
		}
	case AttrExtCommunities:
		if len(val) == 0 || len(val)%8 != 0 {
			d.issue(TreatAsWithdraw, typ, SubAttrLength, "EXTENDED_COMMUNITIES of length %d", len(val))
			return nil
		}
		// Extended communities are opaque 8-byte values; they are kept as
		// such (the codec's per-type objects are only used for printing).
		a.ExtCommunities = make([]ExtCommunity, len(val)/8)
		for i := range a.ExtCommunities {
			a.ExtCommunities[i] = ExtCommunity(binary.BigEndian.Uint64(val[8*i:]))
		}
	case AttrAS4Path:
		if d.opt.AS4 {
			d.issue(AttributeDiscard, typ, SubMalformedAttrList, "AS4_PATH on a 4-octet session")
			return nil
		}
		p, err := decodeASPath(val, true)
		if err != nil {
			d.issue(AttributeDiscard, typ, SubMalformedASPath, "AS4_PATH: %v", err)
			return nil
		}
		d.as4Path, d.hasAS4 = p, true
	case AttrAS4Aggregator:
		if d.opt.AS4 {
			d.issue(AttributeDiscard, typ, SubMalformedAttrList, "AS4_AGGREGATOR on a 4-octet session")
			return nil
		}
		if len(val) != 8 {
			d.issue(AttributeDiscard, typ, SubAttrLength, "AS4_AGGREGATOR of length %d", len(val))
			return nil
		}
		var ag gobgp.PathAttributeAs4Aggregator
		if err := ag.DecodeFromBytes(raw); err != nil {
			d.issue(AttributeDiscard, typ, SubAttrLength, "AS4_AGGREGATOR: %v", err)
			return nil
		}
		addr, _ := netip.AddrFromSlice(ag.Value.Address.To4())
		d.agg4 = &Aggregator{AS: ag.Value.AS, Addr: addr}
	case AttrMPReach:
		r, err := decodeMPReach(val)
		if err != nil {
			return err
		}
		d.u.MPReach = r
	case AttrMPUnreach:
		r, err := decodeMPUnreach(val)
		if err != nil {
			return err
		}
		d.u.MPUnreach = r
	}
	return nil
}

func usableNextHop(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsMulticast() && a.As4()[0] < 240 && a.As4()[0] != 0
}

// finish merges AS4 attributes and checks the mandatory attributes.
func (d *updateDecoder) finish() {
	a, u := d.a, d.u
	if d.hasAS4 {
		a.ASPath = mergeAS4Path(a.ASPath, d.as4Path)
	}
	if d.agg4 != nil && a.Aggregator != nil {
		if a.Aggregator.AS == AS_TRANS {
			a.Aggregator = d.agg4
		}
	}
	if d.sawOther {
		u.Attrs = a
	}
	announces := len(u.NLRI) > 0 || (u.MPReach != nil && !u.MPReach.Unsupported && len(u.MPReach.Prefixes)+len(u.MPReach.VPN) > 0)
	if !announces {
		return
	}
	missing := func(t uint8, name string) {
		d.u.Issues = append(d.u.Issues, Issue{Handling: TreatAsWithdraw, Attr: t, Code: ErrUpdate, Subcode: SubMissingWellKnown, Reason: "missing " + name})
		d.u.TreatAsWithdraw = true
	}
	if !d.sawAttr[AttrOrigin] {
		missing(AttrOrigin, "ORIGIN")
	}
	if !d.sawAttr[AttrASPath] {
		missing(AttrASPath, "AS_PATH")
	}
	if len(u.NLRI) > 0 && !d.sawAttr[AttrNextHop] {
		missing(AttrNextHop, "NEXT_HOP")
	}
	if !d.opt.EBGP && !d.sawAttr[AttrLocalPref] {
		missing(AttrLocalPref, "LOCAL_PREF")
	}
}

// decodeASPath reads AS_PATH segments with 2- or 4-octet AS numbers, each
// segment through the codec after its framing is checked.
func decodeASPath(val []byte, as4 bool) (ASPath, error) {
	w := 2
	if as4 {
		w = 4
	}
	var p ASPath
	for len(val) > 0 {
		if len(val) < 2 {
			return nil, fmt.Errorf("segment header truncated")
		}
		st, n := SegmentType(val[0]), int(val[1])
		if st < ASSet || st > ConfedSet {
			return nil, fmt.Errorf("segment type %d", st)
		}
		if n == 0 {
			return nil, fmt.Errorf("empty segment")
		}
		if len(val) < 2+n*w {
			return nil, fmt.Errorf("segment of %d ASes overruns the attribute", n)
		}
		seg := Segment{Type: st, ASNs: make([]uint32, n)}
		if as4 {
			var s gobgp.As4PathParam
			if err := s.DecodeFromBytes(val[:2+n*w]); err != nil {
				return nil, err
			}
			copy(seg.ASNs, s.AS)
		} else {
			var s gobgp.AsPathParam
			if err := s.DecodeFromBytes(val[:2+n*w]); err != nil {
				return nil, err
			}
			for i, as := range s.AS {
				seg.ASNs[i] = uint32(as)
			}
		}
		p = append(p, seg)
		val = val[2+n*w:]
	}
	return p, nil
}

// mergeAS4Path rebuilds the 4-octet path of a route from a 2-octet peer
// (RFC 6793 §4.2.3): the leading ASes of AS_PATH that AS4_PATH does not
// cover, followed by AS4_PATH. An AS4_PATH longer than AS_PATH is ignored.
func mergeAS4Path(p, p4 ASPath) ASPath {
	// Confederation segments of AS4_PATH are dropped (§6).
	var clean ASPath
	for _, s := range p4 {
		if s.Type == ASSet || s.Type == ASSequence {
			clean = append(clean, s)
		}
	}
	n, n4 := p.Len(), clean.Len()
	if n < n4 {
		return p
	}
	keep := n - n4
	var out ASPath
	for _, s := range p {
		if keep == 0 {
			break
		}
		switch s.Type {
		case ASSequence:
			if len(s.ASNs) <= keep {
				out = append(out, s)
				keep -= len(s.ASNs)
			} else {
				out = append(out, Segment{Type: ASSequence, ASNs: s.ASNs[:keep]})
				keep = 0
			}
		case ASSet:
			out = append(out, s)
			keep--
		default:
			out = append(out, s)
		}
	}
	for _, s := range clean {
		if k := len(out) - 1; k >= 0 && s.Type == ASSequence && out[k].Type == ASSequence && len(out[k].ASNs)+len(s.ASNs) <= maxSegments {
			out[k] = Segment{Type: ASSequence, ASNs: append(append([]uint32(nil), out[k].ASNs...), s.ASNs...)}
			continue
		}
		out = append(out, s)
	}
	return out
}

// decodeIPv4NLRI reads a list of (length, prefix) IPv4 NLRI.
func decodeIPv4NLRI(b []byte) ([]Prefix, error) {
	if len(b) == 0 {
		return nil, nil
	}
	out := make([]Prefix, 0, len(b)/4+1)
	for len(b) > 0 {
		l := b[0]
		if l > 32 {
			return nil, fmt.Errorf("prefix length %d", l)
		}
		n := int(l+7) / 8
		if len(b) < 1+n {
			return nil, fmt.Errorf("prefix of length %d truncated", l)
		}
		out = append(out, Prefix{Addr: readAddr(b[1 : 1+n]), Len: l})
		b = b[1+n:]
	}
	return out, nil
}

func readAddr(b []byte) uint32 {
	var v uint32
	for i := 0; i < 4; i++ {
		v <<= 8
		if i < len(b) {
			v |= uint32(b[i])
		}
	}
	return v
}

// decodeVPNNLRI reads labelled VPN-IPv4 NLRI (RFC 8277 §2: length in bits,
// one 3-byte label, 8-byte RD, prefix). Host bits are cleared.
func decodeVPNNLRI(b []byte, withdraw bool) ([]VPNRoute, error) {
	out := make([]VPNRoute, 0, len(b)/15+1)
	for len(b) > 0 {
		bits := int(b[0])
		if bits < 88 || bits > 88+32 {
			return nil, fmt.Errorf("VPN-IPv4 NLRI length %d bits", bits)
		}
		n := (bits + 7) / 8
		if len(b) < 1+n {
			return nil, fmt.Errorf("VPN-IPv4 NLRI of %d bits truncated", bits)
		}
		plen := uint8(bits - 88)
		lf := uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		r := VPNRoute{
			VPNPrefix: VPNPrefix{RD: RD(binary.BigEndian.Uint64(b[4:12])), Prefix: Prefix{Addr: readAddr(b[12 : 1+n]), Len: plen}},
			Label:     lf >> 4,
		}
		r.Prefix.Addr &= mask(plen)
		if withdraw {
			r.Label = 0
		}
		out = append(out, r)
		b = b[1+n:]
	}
	return out, nil
}

func mpErr(format string, args ...any) *Error {
	// RFC 4760 §7 / RFC 7606 §7.11: a malformed MP attribute resets the
	// session (this speaker does not implement AFI/SAFI disable).
	return newErr(ErrUpdate, SubOptionalAttr, nil, format, args...)
}

func decodeMPReach(val []byte) (*MPReach, error) {
	if len(val) < 5 {
		return nil, mpErr("MP_REACH_NLRI of length %d", len(val))
	}
	f := NewFamily(binary.BigEndian.Uint16(val[0:2]), val[2])
	r := &MPReach{Family: f}
	nhl := int(val[3])
	if len(val) < 4+nhl+1 {
		return nil, mpErr("MP_REACH_NLRI next hop of length %d overruns the attribute", nhl)
	}
	nh := val[4 : 4+nhl]
	nlri := val[4+nhl+1:] // one reserved byte
	switch f {
	case IPv4Unicast:
		if nhl != 4 {
			return nil, mpErr("IPv4 unicast next hop of length %d", nhl)
		}
		r.NextHop = netip.AddrFrom4([4]byte(nh))
		p, err := decodeIPv4NLRI(nlri)
		if err != nil {
			return nil, mpErr("MP_REACH_NLRI: %v", err)
		}
		r.Prefixes = p
	case VPNv4:
		if nhl != 12 {
			return nil, mpErr("VPN-IPv4 next hop of length %d", nhl)
		}
		r.NextHop = netip.AddrFrom4([4]byte(nh[8:12]))
		v, err := decodeVPNNLRI(nlri, false)
		if err != nil {
			return nil, mpErr("MP_REACH_NLRI: %v", err)
		}
		r.VPN = v
	default:
		r.Unsupported = true
	}
	return r, nil
}

func decodeMPUnreach(val []byte) (*MPUnreach, error) {
	if len(val) < 3 {
		return nil, mpErr("MP_UNREACH_NLRI of length %d", len(val))
	}
	f := NewFamily(binary.BigEndian.Uint16(val[0:2]), val[2])
	r := &MPUnreach{Family: f}
	switch f {
	case IPv4Unicast:
		p, err := decodeIPv4NLRI(val[3:])
		if err != nil {
			return nil, mpErr("MP_UNREACH_NLRI: %v", err)
		}
		r.Prefixes = p
	case VPNv4:
		v, err := decodeVPNNLRI(val[3:], true)
		if err != nil {
			return nil, mpErr("MP_UNREACH_NLRI: %v", err)
		}
		if len(v) > 0 {
			r.VPN = make([]VPNPrefix, len(v))
			for i := range v {
				r.VPN[i] = v[i].VPNPrefix
			}
		}
	default:
		r.Unsupported = true
	}
	return r, nil
}
